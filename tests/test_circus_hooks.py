"""circusd's journal hooks, called as circusd calls them (keyword arguments, a watcher object),
writing a real journal in a temp home: what they record, when before_spawn refuses, and that
they never raise (circusd stops a watcher whose before_spawn hook raises).
"""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ecauto import circus_hooks as hooks


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cfg = tmp_path / "ecauto.toml"
    cfg.write_text("[watchdog]\ncrash_loop_deaths = 3\ncrash_loop_young_s = 5\n")
    monkeypatch.setenv("ECAUTO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ECAUTO_CONFIG", str(cfg))
    monkeypatch.setattr(hooks, "_J", hooks._Journal())  # what one circusd remembers
    return tmp_path / "home"


def lines(home: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (home / "circus" / "journal.jsonl").read_text().splitlines()]


W = SimpleNamespace(name="upload-ebay")
ARB = SimpleNamespace(_stopping=False)


def live_and_die(pid: int, code: int = 2) -> None:
    assert hooks.after_spawn(watcher=W, arbiter=ARB, hook_name="after_spawn", pid=pid) is True
    assert hooks.after_reap(
        watcher=W, arbiter=ARB, hook_name="after_reap", process_pid=pid, exit_code=code, time=None
    )


def spawn_allowed() -> bool:
    return hooks.before_spawn(watcher=W, arbiter=ARB, hook_name="before_spawn")


def test_young_deaths_make_before_spawn_refuse_and_a_requested_start_begins_again(
    home: Path,
) -> None:
    assert hooks.before_start(watcher=W, arbiter=ARB, hook_name="before_start")
    for pid in (11, 12):
        live_and_die(pid)
        assert spawn_allowed()
    live_and_die(13)
    assert not spawn_allowed()  # the third young death: Circus stops the watcher
    hooks.before_stop(watcher=W, arbiter=ARB, hook_name="before_stop")
    hooks.after_stop(watcher=W, arbiter=ARB, hook_name="after_stop")
    got = [(e["event"], e.get("pid"), e.get("exit_code"), e.get("by")) for e in lines(home)]
    assert got[-4:] == [
        ("reap", 13, 2, None),
        ("refused", None, None, None),
        ("stop", None, None, "crash_loop"),
        ("stopped", None, None, "crash_loop"),
    ]
    assert all(e["life_s"] < 1 for e in lines(home) if e["event"] == "reap")
    assert stat.S_IMODE((home / "circus" / "journal.jsonl").stat().st_mode) == 0o600
    # A person starts it again: the count begins again.
    hooks.before_start(watcher=W, arbiter=ARB, hook_name="before_start")
    assert spawn_allowed()


def test_a_copy_refused_by_the_lock_is_not_a_crash(home: Path) -> None:
    """A copy started by hand holds the lock: circusd's copies exit 75 until the watchdog ends
    it. Counted as crashes, they would stop the watcher, and then nothing of it would run."""
    assert hooks.before_start(watcher=W, arbiter=ARB, hook_name="before_start")
    for pid in range(31, 41):
        live_and_die(pid, code=75)
        assert spawn_allowed()
    live_and_die(41)  # a real crash still counts
    assert spawn_allowed()


def test_a_requested_stop_and_a_quit_are_told_apart_from_deaths(home: Path) -> None:
    hooks.after_spawn(watcher=W, arbiter=ARB, hook_name="after_spawn", pid=21)
    hooks.before_stop(watcher=W, arbiter=ARB, hook_name="before_stop")
    live_and_die(21, code=-15)
    hooks.after_stop(watcher=W, arbiter=ARB, hook_name="after_stop")
    quitting = SimpleNamespace(_stopping=True)
    hooks.before_stop(watcher=W, arbiter=quitting, hook_name="before_stop")
    reaps = [e for e in lines(home) if e["event"] == "reap"]
    assert [(e["exit_code"], e["by"]) for e in reaps] == [(-15, "request")]
    assert lines(home)[-1]["by"] == "quit"
    for _ in range(5):
        live_and_die(30)
    assert spawn_allowed(), "deaths during a stop are not counted"  # still stopping


def test_the_count_survives_a_fresh_load_of_the_hooks(home: Path) -> None:
    # Given two young deaths journaled by one circusd's hooks
    hooks.before_start(watcher=W, arbiter=ARB, hook_name="before_start")
    for pid in (41, 42):
        live_and_die(pid)
    # When the hook module starts afresh (nothing in memory), the third death still stops it
    hooks._J = hooks._Journal()
    assert spawn_allowed()
    hooks.after_spawn(watcher=W, arbiter=ARB, hook_name="after_spawn", pid=43)
    hooks._J = hooks._Journal()  # the spawn time too is read back: the death is young
    hooks.after_reap(watcher=W, arbiter=ARB, hook_name="after_reap", process_pid=43, exit_code=2)
    assert not spawn_allowed()


def test_a_death_after_circusctl_signal_is_requested(home: Path) -> None:
    # Circus calls before_signal straight from its `signal` command (not from kill_process)
    hooks.after_spawn(watcher=W, arbiter=ARB, hook_name="after_spawn", pid=51)
    sent = hooks.before_signal(watcher=W, arbiter=ARB, hook_name="before_signal", pid=51, signum=9)
    assert sent is True  # the signal goes as asked
    hooks.after_reap(watcher=W, arbiter=ARB, hook_name="after_reap", process_pid=51, exit_code=-9)
    reap = lines(home)[-1]
    assert (reap["event"], reap["exit_code"], reap["by"]) == ("reap", -9, "request")
    # A signal long past is not why a process dies much later
    hooks.after_spawn(watcher=W, arbiter=ARB, hook_name="after_spawn", pid=52)
    hooks.before_signal(watcher=W, arbiter=ARB, hook_name="before_signal", pid=52, signum=1)
    later = time.time() + 3600
    hooks.after_reap(
        watcher=W, arbiter=ARB, hook_name="after_reap", process_pid=52, exit_code=2, time=later
    )
    assert "by" not in lines(home)[-1]


@pytest.mark.parametrize(
    ("hook", "kw"),
    [
        (hooks.after_spawn, {}),
        (hooks.after_reap, {"process_pid": "x"}),
        (hooks.before_stop, {}),
        (hooks.after_stop, {}),
        (hooks.before_start, {}),
        (hooks.before_spawn, {}),
        (hooks.before_signal, {"pid": 1}),
    ],
)
def test_hooks_never_raise_and_never_refuse_by_accident(
    home: Path, hook: Any, kw: dict[str, Any]
) -> None:
    (home.parent / "ecauto.toml").write_text("this is not toml [")
    assert hook(watcher=None, arbiter=None, hook_name="x", **kw) is True
