"""ecauto.toml turned wrong while the instance runs: the dashboard's 監視の判定 is `watchdog
report`'s own, so it carries the same config_error finding (on the last good configuration the
watchdog runs on), and the dashboard goes on serving meanwhile. Real circusd, the real dashboard
and watchdog, `watchdog report --json` as the operator types it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from support import Instance, Reaper, wait_for

SETTINGS = '[ui]\nlanguage = "ja"\n[watchdog]\ninterval_s = 1\n'
MISTAKE = ("[watchdog]\ninterval_s = 1\n", '[watchdog]\ninterval_s = "x"\n')  # the tryout's


def kinds(report: dict[str, Any]) -> set[str]:
    return {str(f["kind"]) for f in report["findings"]}


@pytest.mark.process
@pytest.mark.timeout(180)
def test_the_dashboard_judges_a_wrong_ecauto_toml_as_watchdog_report_does(
    tmp_path: Path, reaper: Reaper
) -> None:
    inst = Instance(tmp_path, reaper, config_extra=SETTINGS)
    try:
        inst.start()
        wait_for((inst.home / "watchdog" / "config.last-good.toml").exists, 20, "a last good kept")
        dashboard = inst.pid("dashboard")

        def shown() -> dict[str, Any]:
            got = requests.get(f"{inst.dashboard_url}/api/report", timeout=10)
            assert got.status_code == 200, got.text
            return dict(got.json())

        wait_for(
            lambda: requests.get(f"{inst.dashboard_url}/metrics", timeout=5).ok, 30, "the page"
        )
        assert "config_error" not in kinds(shown())

        # Given the tryout's mistake in ecauto.toml
        good = inst.config.read_text()
        assert good.count(MISTAKE[0]) == 1
        inst.config.write_text(good.replace(*MISTAKE))

        # Then `watchdog report` finds it, and the dashboard's judgement is the same
        rc, said = inst.watchdog("report")
        assert rc == 2 and "config_error" in kinds(said), said
        wait_for(lambda: "config_error" in kinds(shown()), 10, "the dashboard's config_error")
        page = shown()
        # (`repeat` is left out: the watchdog loop may open the incident between the two looks)
        error, told = (
            next(dict(f, repeat=None) for f in r["findings"] if f["kind"] == "config_error")
            for r in (page, said)
        )
        assert error == told
        assert page["status"] == said["status"] == "critical"

        # in the 監視の判定 part, in the operator's words, by the same process, still serving
        now = requests.get(f"{inst.dashboard_url}/live", timeout=10).json()["parts"]["now"]
        assert "watchdog.interval_s の値が不正です" in now, now
        assert inst.pid("dashboard") == dashboard

        # and once the file is fixed, gone from both
        inst.config.write_text(good)
        wait_for(lambda: "config_error" not in kinds(shown()), 10, "the config_error gone")
        assert "config_error" not in kinds(inst.watchdog("report")[1])
    finally:
        inst.stop()


@pytest.mark.process
@pytest.mark.timeout(180)
def test_with_no_good_configuration_kept_the_dashboard_goes_on_and_shows_the_error(
    tmp_path: Path, reaper: Reaper
) -> None:
    # No watchdog loop: nothing ever kept a last good configuration.
    inst = Instance(tmp_path, reaper, config_extra=SETTINGS, watchdog=False)
    try:
        inst.start()
        url = inst.dashboard_url
        wait_for(lambda: requests.get(f"{url}/metrics", timeout=5).ok, 30, "the page")
        dashboard = inst.pid("dashboard")
        inst.config.write_text(inst.config.read_text().replace(*MISTAKE))

        # `watchdog report` cannot tell (exit 3, one line); the page goes on with what it has
        res = inst.watchdog_text("report")
        assert res.returncode == 3 and res.stderr.count("\n") == 1, (res.stdout, res.stderr)

        def error() -> dict[str, Any] | None:
            got = requests.get(f"{url}/api/report", timeout=10).json()["findings"]
            return next((f for f in got if f["kind"] == "config_error"), None)

        found = wait_for(error, 10, "the dashboard's config_error")
        assert "dashboard started with" in found["summary"], found
        now = requests.get(f"{url}/live", timeout=10).json()["parts"]["now"]
        assert "watchdog.interval_s の値が不正です" in now, now
        assert inst.pid("dashboard") == dashboard
        assert not (inst.home / "watchdog" / "config.last-good.toml").exists()
    finally:
        inst.stop()
