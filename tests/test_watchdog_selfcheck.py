"""`policy.watchdog_self`: the watchdog's own health as findings (pure)."""

from __future__ import annotations

import pytest

from ecauto.config import WatchdogSettings
from watchdog.findings import Kind, Severity
from watchdog.incidents import incidents
from watchdog.policy import SelfView, watchdog_self
from watchdog.state import Incident

NOW = 1_000_000.0
S = WatchdogSettings(interval_s=5.0, min_free_mb=100.0)
MB = 1024 * 1024


@pytest.mark.parametrize(
    ("me", "expected"),
    [
        (SelfView(free_bytes=500 * MB), set()),
        (SelfView(free_bytes=None), set()),
        (SelfView(free_bytes=50 * MB), {(Kind.DISK_FULL, Severity.CRITICAL)}),
        # One failed pass just now: it may be a moment; said, not alerted (info).
        (
            SelfView(failures=1, failing_since=NOW, error="boom", free_bytes=500 * MB),
            {(Kind.WATCHDOG_FAILING, Severity.INFO)},
        ),
        # Two in a row, or failing for two intervals (what a report sees): critical.
        (
            SelfView(failures=2, failing_since=NOW - 5, error="boom"),
            {(Kind.WATCHDOG_FAILING, Severity.CRITICAL)},
        ),
        (
            SelfView(failures=1, failing_since=NOW - 10, error="boom"),
            {(Kind.WATCHDOG_FAILING, Severity.CRITICAL)},
        ),
        # ENOSPC is a full disk, not a generic failure, even above the threshold.
        (
            SelfView(failures=1, failing_since=NOW, error="[Errno 28] No space", disk_full=True),
            {(Kind.DISK_FULL, Severity.CRITICAL)},
        ),
        (
            SelfView(config_error="ecauto.toml: unknown key 'sync.hourly_cpa'"),
            {(Kind.CONFIG_ERROR, Severity.CRITICAL)},
        ),
    ],
)
def test_self_findings(me: SelfView, expected: set[tuple[Kind, Severity]]) -> None:
    assert {(f.kind, f.severity) for f in watchdog_self(me, S, NOW)} == expected


def test_the_config_error_quotes_the_line_and_what_runs() -> None:
    me = SelfView(
        config_error="/x/ecauto.toml: unknown key 'sync.hourly_cpa'", config_from="the defaults"
    )
    (f,) = watchdog_self(me, S, NOW)
    assert f.summary.startswith("/x/ecauto.toml: unknown key 'sync.hourly_cpa'")
    assert "the defaults" in f.summary and f.daemon is None


def test_a_failing_watchdog_is_one_alert_critical_from_the_start_then_one_recovery() -> None:
    # Failed passes 1, 2, 3 a second apart, then passes that work: what a person hears.
    said: list[tuple[str, str]] = []
    open_: dict[str, Incident] = {}
    for i, failures in enumerate([1, 2, 3, 0, 0, 0]):
        now = NOW + i
        me = SelfView(failures=failures, failing_since=NOW if failures else None, error="boom")
        notices, open_ = incidents(watchdog_self(me, S, now), open_, 1.0, now)
        said += [(n.kind, n.severity) for n in notices]
    assert said == [("incident", "critical"), ("recovery", "critical")]
