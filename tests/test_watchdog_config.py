"""The [watchdog] table of ecauto.toml, including its lists of command-line patterns."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecauto import config
from ecauto.config import ConfigError


def test_defaults() -> None:
    w = config.parse({}).watchdog
    assert (w.interval_s, w.grace_beats, w.min_grace_s, w.start_grace_s) == (5.0, 3.0, 30.0, 60.0)
    assert (w.restart_backoff_s, w.restart_budget, w.restart_window_s) == (30.0, 5, 3600.0)
    assert set(w.daemons) == {
        "sandbox",
        "dashboard",
        "upload-base",
        "upload-ebay",
        "upload-yahoo",
        "sync-inventory",
        "watchdog",
    }
    assert w.daemons["sync-inventory"].patterns == ()


def test_per_daemon_overrides_and_patterns() -> None:
    cfg = config.parse(
        {
            "watchdog": {
                "interval_s": 2,
                "daemons": {
                    "sync-inventory": {
                        "grace_s": 90,
                        "patterns": [
                            "scheduled_tasks/sync_inventory_daemon.py",
                            "inventory/scripts/sync_inventory.py",
                        ],
                    }
                },
            }
        }
    )
    w = cfg.watchdog
    assert w.interval_s == 2.0
    s = w.daemons["sync-inventory"]
    assert s.grace_s == 90.0 and s.patterns == (
        "scheduled_tasks/sync_inventory_daemon.py",
        "inventory/scripts/sync_inventory.py",
    )
    assert w.daemons["upload-base"].patterns == ()
    hash(s)  # a tuple, so the settings stay frozen all the way down


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"watchdog": {"daemons": {"sync-inventory": {"patterns": "x.py"}}}},
            "watchdog.daemons.sync-inventory.patterns must be a list of non-empty strings, got 'x.py'",
        ),
        (
            {"watchdog": {"daemons": {"sync-inventory": {"patterns": ["x.py", 3]}}}},
            "must be a list of non-empty strings",
        ),
        (
            {"watchdog": {"daemons": {"sync-inventory": {"patterns": [" "]}}}},
            "must be a list of non-empty strings",
        ),
        (
            {"watchdog": {"daemons": {"sync-inventry": {}}}},
            "unknown key 'watchdog.daemons.sync-inventry'",
        ),
        ({"watchdog": {"interval_s": 0}}, "watchdog.interval_s must be a number greater than 0"),
        ({"watchdog": {"restart_budget": 1.5}}, "watchdog.restart_budget must be a whole number"),
        ({"watchdog": {"grace": 3}}, "unknown key 'watchdog.grace'"),
    ],
)
def test_bad_values_are_one_line(data: dict, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        config.parse(data)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_the_repo_config_declares_the_old_system_scripts() -> None:
    cfg = config.load(Path(__file__).parent.parent / "ecauto.toml")
    assert "scheduled_tasks/sync_inventory_daemon.py" in (
        cfg.watchdog.daemons["sync-inventory"].patterns
    )
