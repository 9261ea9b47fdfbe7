"""The daemons' one-line errors: the English they raise comes from ecauto/words/errors.py, and
what a person reads says them in the operator's language."""

from __future__ import annotations

import os
import re
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
from ecauto.words.errors import ERRORS, FORMS, translate


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


def _formed(cls: type, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    """Every scalar setting of the schema that has a form, as its path, with the form's key."""
    import dataclasses
    import typing

    out = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint, path = hints[f.name], (*prefix, f.name)
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            out += _formed(hint, path)
        elif typing.get_origin(hint) is dict:
            defaults = f.default_factory() if f.default_factory is not dataclasses.MISSING else {}
            out += _formed(typing.get_args(hint)[1], (*path, next(iter(defaults), "a")))
        elif f.metadata.get("form"):
            out.append((path, f.metadata["form"]))
    return out


FORMED = _formed(config.Config)
# What stays in its own letters in Japanese: the values to type, names of keys and sections.
_KEPT = re.compile(
    r'"[^"]*"|\[[^\]]*\]|\'[^\']*\'|[a-z_]+\.[a-z_.]+|getPricing|README(?:\.ja\.md)?|LAN|HH|MM'
)


def test_every_form_of_the_schema_is_one_setting_away() -> None:
    assert {form for _, form in FORMED} >= set(FORMS.entries) - {
        "number",
        "whole_number",
        "string",
        "string_list",
        "kept_base",
        "kept_demo",
        "kept_upload",
    }


@pytest.mark.parametrize(("path", "form"), FORMED, ids=[".".join(p) for p, _ in FORMED])
def test_every_form_reads_whole_in_both_languages(path: tuple[str, ...], form: str) -> None:
    data: dict[str, object] = {path[-1]: "x" if form in ("above", "from_to") else [0]}
    for part in reversed(path[:-1]):
        data = {part: data}
    with pytest.raises(ConfigError) as e:
        config.parse(data)
    english = str(e.value)
    assert english.startswith(f"{'.'.join(path)} must be ")  # the logs' line, as it was
    assert not re.search(r"\{\w+\}", english)
    japanese = translate(english, "ja")
    assert japanese.startswith(f"{'.'.join(path)} の値が不正です: ")
    assert translate(english, "en") == english
    words = _KEPT.sub("", japanese.split(": ", 1)[1])
    assert not re.findall(r"[A-Za-z]{2,}", words), japanese


def test_the_tryouts_line_reads_whole_in_japanese(tmp_path: Path) -> None:
    bad = tmp_path / "ecauto.toml"
    bad.write_text('[ui]\nlanguage = "ja"\n[watchdog]\ninterval_s = "x"\n')
    with pytest.raises(ConfigError) as e:
        config.load(bad)
    assert str(e.value) == (
        f"{bad}: watchdog.interval_s must be a number greater than 0 and at most 3600, got 'x'"
    )
    assert e.value.said() == (
        f"{bad}: watchdog.interval_s の値が不正です: 'x'（正しい値: 0 より大きく 3600 以下の数値）"
    )


@pytest.mark.parametrize(
    ("line", "key"),
    [
        (
            "/a/ecauto.toml: watchdog.interval_s must be a number greater than 0 and at most"
            " 3600, got 'x'",
            "watchdog.interval_s",
        ),
        (  # a daemon says its error in the file's language
            "upload-base: /a b/ecauto.toml: base.accounts.shop-2.hourly_limit の値が不正です: 0"
            "（正しい値: ...）",
            "base.accounts.shop-2.hourly_limit",
        ),
        (
            "/a/ecauto.toml: unknown key 'upload.base.hourly_cpa' (known: x)",
            "upload.base.hourly_cpa",
        ),
        (
            "ecauto.toml: 不明な設定キー 'sync.intervl_s'（使えるキー: interval_s）",
            "sync.intervl_s",
        ),
        ("environment variable BASE_REFRESH_TOKEN is not set (needed in live mode)", None),
        ("", None),
    ],
)
def test_the_key_a_config_error_names_is_found_in_either_language(
    line: str, key: str | None
) -> None:
    from ecauto.words.errors import config_key

    assert config_key(line) == key


@pytest.mark.parametrize(
    ("data", "japanese"),
    [
        ({"sync": 5}, "sync はテーブル（[...] の節）にしてください"),
        (
            {"watchdog": {"daemons": {"sync-inventory": {"patterns": "x"}}}},
            "watchdog.daemons.sync-inventory.patterns の値が不正です: 'x'"
            "（正しい値: 空でない文字列のリスト）",
        ),
        ({"base": {"accounts": {"Shop 2": {}}}}, "base.accounts.Shop 2: アカウント名は a-z、"),
        (
            {"base": {"accounts": {"a": {"env_prefix": "x"}}}},
            "base.accounts.a.env_prefix の値が不正です: 'x'（正しい値: 英大文字、数字、_）",
        ),
        (
            {"base": {"accounts": {"a": {"env_prefix": "BASE_B"}, "b": {}}}},
            "base.accounts.b: 認証情報の接頭辞 BASE_B は base.accounts.a と同じです",
        ),
    ],
)
def test_the_schemas_other_errors_read_in_japanese(data: dict[str, object], japanese: str) -> None:
    with pytest.raises(ConfigError) as e:
        config.parse(data)
    assert japanese in translate(str(e.value), "ja"), translate(str(e.value), "ja")


def test_a_file_that_is_not_toml_reads_in_japanese(tmp_path: Path) -> None:
    bad = tmp_path / "ecauto.toml"
    bad.write_text("x = \n")
    with pytest.raises(ConfigError) as e:
        config.load(bad)
    assert str(e.value).startswith(f"{bad}: cannot read config: ")
    assert translate(str(e.value), "ja").startswith(f"{bad}: 設定ファイルを読めません: ")
