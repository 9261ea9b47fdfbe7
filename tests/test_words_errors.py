"""The daemons' one-line errors: the English they raise comes from ecauto/words/errors.py, and
what a person reads says them in the operator's language."""

from __future__ import annotations

import os
import string
import subprocess
from pathlib import Path

import pytest
from support import BIN

from ecauto import config
from ecauto.config import ConfigError
from ecauto.credentials import require_env
from ecauto.home import Home, HomeError
from ecauto.words import LANGUAGES
from ecauto.words.errors import ERRORS, translate


def test_a_config_error_is_raised_in_the_catalogs_english(tmp_path: Path) -> None:
    bad = tmp_path / "ecauto.toml"
    bad.write_text("[sync]\nintervl_s = 5\n")
    with pytest.raises(ConfigError) as e:
        config.load(bad)
    assert "unknown key 'sync.intervl_s' (known: " in str(e.value)
    bad.write_text("[sync]\ninterval_s = -1\n")
    with pytest.raises(ConfigError, match=r"sync.interval_s must be a number .*, got -1"):
        config.load(bad)
    with pytest.raises(ConfigError, match="config file not found"):
        config.load(tmp_path / "missing.toml")


def test_a_missing_variable_and_a_missing_home_are_one_english_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ECAUTO_TEST_NOT_SET", raising=False)
    with pytest.raises(ConfigError) as e:
        require_env("ECAUTO_TEST_NOT_SET")
    assert (
        str(e.value) == "environment variable ECAUTO_TEST_NOT_SET is not set (needed in live mode)"
    )
    with pytest.raises(HomeError) as h:
        Home(tmp_path / "nowhere").check()
    assert str(h.value) == f"no ecauto home at {tmp_path / 'nowhere'} (set --home or ECAUTO_HOME)"


@pytest.mark.parametrize(
    ("english", "japanese"),
    [
        (
            "cycle failed: upload-ebay: the refresh token was refused (expired); "
            "authorise again and set a new refresh token",
            "処理に失敗: upload-ebay: リフレッシュトークンが拒否されました（expired）。"
            "認可をやり直し、新しいリフレッシュトークンを設定してください",
        ),
        (
            "environment variable BASE_REFRESH_TOKEN is not set (needed in live mode)",
            "環境変数 BASE_REFRESH_TOKEN が設定されていません（live モードで必要）",
        ),
        (
            "ecauto.toml: unknown key 'sync.intervl_s' (known: interval_s)",
            "ecauto.toml: 不明な設定キー 'sync.intervl_s'（使えるキー: interval_s）",
        ),
        ("unsafe home: /h is a symlink", "ホームが安全ではありません: /h is a symlink"),
        ("BASE: HTTP 500", "BASE: HTTP 500"),  # not one of ours: as it is
    ],
)
def test_errors_read_in_japanese_and_stay_as_they_are_in_english(
    english: str, japanese: str
) -> None:
    assert translate(english, "ja") == japanese
    assert translate(english, "en") == english


@pytest.mark.parametrize("key", sorted(ERRORS.entries))
def test_every_error_template_is_recognised_from_its_own_english(key: str) -> None:
    forms = ERRORS.entries[key]
    names = {n for _, n, _, _ in string.Formatter().parse(forms["en"]) if n}
    params = {n: f"<{n}>" for n in names}
    for lang in LANGUAGES:
        assert translate(ERRORS.say("en", key, **params), lang) == ERRORS.say(lang, key, **params)


@pytest.mark.process
@pytest.mark.timeout(60)
def test_a_daemon_says_its_one_line_in_the_configured_language(tmp_path: Path) -> None:
    cfg = tmp_path / "ecauto.toml"
    cfg.write_text('mode = "live"\n[ui]\nlanguage = "ja"\n')
    home = tmp_path / "home"
    Home(home).ensure()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BASE_", "ECAUTO_"))}
    env["ECAUTO_CONFIG"] = str(cfg)
    res = subprocess.run(
        [str(BIN / "python"), "-m", "ecauto.daemons.upload", "--platform", "base"]
        + ["--home", str(home)],
        env=env,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert res.returncode == 78, res.stderr
    [line] = res.stderr.splitlines()
    assert line.startswith("upload-base: ") and "が設定されていません（live モードで必要）" in line
