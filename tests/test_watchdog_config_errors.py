"""A mistake in ecauto.toml while the instance runs, as a Japanese operator meets it: the report
still comes (on the last good configuration the watchdog runs on), and a daemon restarted meanwhile,
which exits 78 at each start, is a crash loop whose todo names the key to fix, not its log.
Real circusd, real daemons, the real `watchdog run`, `watchdog report` as the operator types it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from support import Instance, Reaper, sandbox_headers, wait_for

from ecauto.daemon.base import EXIT_CONFIG
from ecauto.words.common import shim
from watchdog.checks import crashloops

# The operator's language, a watchdog quick to see, alerts sent at once.
SETTINGS = '[ui]\nlanguage = "ja"\n[alerts]\ncoalesce_s = 0\n[watchdog]\ninterval_s = 1\n'
MISTAKE = ("[watchdog]\ninterval_s = 1\n", '[watchdog]\ninterval_s = "x"\n')  # the tryout's


def test_the_crash_loop_check_knows_the_daemons_config_exit_code() -> None:
    assert crashloops.EXIT_CONFIG == EXIT_CONFIG


@pytest.mark.process
@pytest.mark.timeout(240)
def test_a_daemon_restarted_while_ecauto_toml_is_wrong_is_told_to_fix_the_key(
    tmp_path: Path, reaper: Reaper
) -> None:
    inst = Instance(tmp_path, reaper, config_extra=SETTINGS)
    try:
        inst.start()
        kept = inst.home / "watchdog" / "config.last-good.toml"
        wait_for(kept.exists, 20, "the last good configuration kept")
        # Given the tryout's mistake in ecauto.toml, and upload-base restarted meanwhile
        good = inst.config.read_text()
        assert good.count(MISTAKE[0]) == 1
        inst.config.write_text(good.replace(*MISTAKE))
        inst.ctl.restart("upload-base")
        wait_for(lambda: inst.status("upload-base") == "stopped", 90, "circusd to stop upload-base")

        # Then the report still comes, in Japanese, on the last good configuration
        res = inst.watchdog_text("report")
        assert res.returncode == 2, (res.stdout, res.stderr)
        assert res.stderr.count("\n") == 1 and f"最後に正しく読めた設定（{kept}）" in res.stderr
        lines = res.stdout.splitlines()
        error = next(x for x in lines if x.startswith("  ") and "config_error" in x)
        assert (
            "watchdog.interval_s の値が不正です: 'x'（正しい値: 0 より大きく 3600 以下の数値）"
            in error
        )
        loop = next(x for x in lines if x.startswith("  ") and "crash_loop" in x)
        assert "終了コード 78" in loop, res.stdout
        todo = lines[lines.index(loop) + 1].strip()
        assert todo == (
            f"対処: ecauto.toml の watchdog.interval_s を直してから `{shim()} restart upload-base`"
            " と入力"
        ), res.stdout

        # and a scan too looks with it: the error one of its findings, critical
        rc, scan = inst.watchdog("scan", "--dry-run")
        assert rc == 2 and "config_error" in {f["kind"] for f in scan["findings"]}, scan

        # and the alert says the same: what to fix is in ecauto.toml, not in the log
        def alert() -> list[str]:
            got = requests.get(
                f"{inst.sandbox_url}/_sandbox/chatwork",
                headers=sandbox_headers(inst.home),
                timeout=5,
            ).json()
            return [str(m["body"]) for m in got if "upload-base" in str(m["body"])]

        wait_for(alert, 30, "the crash loop's alert")
        box = alert()[-1].removesuffix("[/info]").splitlines()
        assert "ecauto.toml の watchdog.interval_s を直してから" in box[-1], box
        assert "log/upload-base.log で原因を直して" not in box[-1], box
    finally:
        inst.stop()
