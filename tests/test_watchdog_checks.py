"""Each check of `watchdog/checks/` by itself: a small snapshot in, its Step out (pure).

The checks with a table in test_watchdog_policy.py (circusd, copies, locks, leftovers,
remember_seen, daemons reading the copies check) keep it there; this module gives the others
theirs, and pins the pipeline's declared order and its purity.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from ecauto.config import WatchdogSettings
from ecauto.daemon.heartbeat import Heartbeat, Phase
from watchdog import deaths, policy
from watchdog.checks import circus, home, sandbox, selfwatch, work
from watchdog.checks.daemons import check_daemons
from watchdog.checks.selfwatch import SelfView
from watchdog.checks.step import Judged, Pass, Step
from watchdog.checks.view import view
from watchdog.deaths import Entry
from watchdog.policy import assess
from watchdog.snapshot import (
    CircusView,
    DbView,
    HeartbeatView,
    LockView,
    PortView,
    ProcInfo,
    Role,
    Snapshot,
    WatcherView,
)
from watchdog.state import DaemonState, State

HOME = "/srv/ecauto/var"
NOW = 1_800_000_000.0
UID = 1000
CIRCUSD, ME, EBAY = 100, 50, 203
S = WatchdogSettings()


def _proc(
    pid: int, daemon: str | None, *, role: Role = Role.DAEMON, ct: float = NOW - 600
) -> ProcInfo:
    cmd = ("python", "-m", "ecauto.daemons.upload", "--platform", "ebay", "--home", HOME)
    return ProcInfo(
        pid=pid,
        create_time=ct,
        ppid=CIRCUSD if daemon else 1,
        uid=UID,
        pgid=pid,
        status="sleeping",
        name="python",
        cmdline=cmd if daemon else ("circusd", "circus.ini"),
        cwd="/srv/ecauto",
        home=HOME,
        daemon=daemon,
        role=role,
    )


def _beat(*, age: float = 1.0, failures: int = 0, error: str | None = None) -> HeartbeatView:
    hb = Heartbeat(
        name="upload-ebay",
        pid=EBAY,
        create_time=NOW - 600,
        beat_at=NOW - age,
        beat_s=1.0,
        phase=Phase.SLEEPING,
        home=HOME,
        watcher="upload-ebay",
        started_at=NOW - 600,
        last_error=error,
        last_error_at=NOW - 2 if error else None,
        cycles=failures,
        failures=failures,
    )
    return HeartbeatView(name="upload-ebay", heartbeat=hb, error=None, mtime=hb.beat_at)


def snap(
    *,
    status: str | None = "active",
    journal: tuple[Entry, ...] = (),
    mode: str = "sandbox",
    watcher: str = "upload-ebay",
    hb: HeartbeatView | None = None,
    databases: tuple[DbView, ...] = (),
    port: PortView | None = None,
    home_problem: str = "",
) -> Snapshot:
    daemon = "sandbox" if watcher == "sandbox" else "upload-ebay"
    running = status == "active"
    procs = [_proc(CIRCUSD, None, role=Role.CIRCUSD)] + ([_proc(EBAY, daemon)] if running else [])
    return Snapshot(
        now=NOW,
        home=HOME,
        mode=mode,
        my_pid=ME,
        my_uid=UID,
        my_ancestors=(1,),
        watchers={watcher: WatcherView(name=watcher, daemon=daemon)},
        procs=tuple(procs),
        circus=CircusView(
            answered=True,
            circusd_pid=CIRCUSD,
            statuses={} if status is None else {watcher: status},
            pids={watcher: (EBAY,) if running else ()},
        ),
        heartbeats={"upload-ebay": hb or _beat()},
        journal=journal,
        databases=databases,
        sandbox_port=port,
        home_problem=home_problem,
    )


def run(check: policy.Check, s: Snapshot, state: State | None = None) -> Step:
    st = state or State()
    return check(view(s, S, st, NOW), Pass(st))


def said(step: Step) -> list[tuple[str, str, str]]:
    return [(f.kind.value, f.severity.value, f.action.value) for f in step.findings]


STOPPED = State(daemons={"upload-ebay": DaemonState(stopped=True)})
BY_REQUEST = (
    Entry(NOW - 3, "upload-ebay", deaths.STOP, by=deaths.BY_REQUEST),
    Entry(NOW - 2, "upload-ebay", deaths.STOPPED, by=deaths.BY_REQUEST),
)
STARTED = (Entry(NOW - 60, "upload-ebay", deaths.START),)


@pytest.mark.parametrize(
    ("make", "state", "want", "stopped_after"),
    [
        (lambda: snap(), None, [], False),
        (lambda: snap(status=None), None, [("missing", "critical", "alert")], False),
        (lambda: snap(status="stopped"), None, [("down", "warning", "alert")], False),
        (lambda: snap(status="stopped"), STOPPED, [("down", "critical", "alert")], True),
        (
            lambda: snap(status="stopped", journal=BY_REQUEST),
            None,
            [("down", "info", "none")],
            False,
        ),
        (lambda: snap(status="stopped", mode="live", watcher="sandbox"), None, [], False),
        (lambda: snap(), STOPPED, [], False),  # a person started it again
        (lambda: snap(journal=STARTED), STOPPED, [], False),
    ],
    ids=[
        "active",
        "missing",
        "stopped, no journal",
        "stopped by the watchdog",
        "stopped on request",
        "sandbox off in live mode",
        "started again by a person",
        "started again, journal",
    ],
)
def test_check_watchers(
    make: Callable[[], Snapshot],
    state: State | None,
    want: list[tuple[str, str, str]],
    stopped_after: bool,
) -> None:
    step = run(circus.check_watchers, make(), state)
    assert said(step) == want and step.actions == ()
    assert step.state is not None and step.state.daemon("upload-ebay").stopped is stopped_after


def test_check_watchers_says_nothing_while_circusd_is_silent() -> None:
    s = snap(status=None)
    silent = Snapshot(**{**s.__dict__, "circus": CircusView(answered=False, reason="timeout")})
    assert run(circus.check_watchers, silent) == Step()


BAD_DB = DbView(
    name="ecauto.db", ok=False, message="database disk image is malformed", checked_at=NOW
)


@pytest.mark.parametrize(
    ("make", "want"),
    [
        (lambda: snap(), []),
        (lambda: snap(hb=_beat(failures=3, error="boom")), [("failing", "warning", "alert")]),
        (lambda: snap(hb=_beat(failures=10, error="boom")), [("failing", "critical", "alert")]),
        (lambda: snap(databases=(BAD_DB,)), [("db_corrupt", "critical", "alert")]),
    ],
    ids=["healthy", "failing", "failing for long", "corrupt database"],
)
def test_check_work(make: Callable[[], Snapshot], want: list[tuple[str, str, str]]) -> None:
    step = run(work.check_work, make())
    assert said(step) == want and step.actions == () and step.state is None


STRANGER = PortView(port=8765, stranger=True, holder="pid 77 (nc)", why="no proof")


@pytest.mark.parametrize(
    ("port", "mode", "want"),
    [
        (None, "sandbox", []),
        (PortView(port=8765, stranger=False), "sandbox", []),
        (STRANGER, "sandbox", [("sandbox_port", "critical", "alert")]),
        (STRANGER, "live", []),
    ],
    ids=["never started", "ours", "a stranger", "live mode"],
)
def test_check_sandbox_port(
    port: PortView | None, mode: str, want: list[tuple[str, str, str]]
) -> None:
    step = run(sandbox.check_sandbox_port, snap(port=port, mode=mode))
    assert said(step) == want and step.actions == ()


@pytest.mark.parametrize(
    ("me", "want"),
    [
        (SelfView(), []),
        (
            SelfView(failures=1, failing_since=NOW, error="x"),
            [("watchdog_failing", "info", "none")],
        ),
        (
            SelfView(failures=2, failing_since=NOW - 5, error="x"),
            [("watchdog_failing", "critical", "alert")],
        ),
        (SelfView(free_bytes=1), [("disk_full", "critical", "alert")]),
        (SelfView(config_error="ecauto.toml: bad"), [("config_error", "critical", "alert")]),
    ],
    ids=["healthy", "one failed pass", "failing", "disk full", "bad configuration"],
)
def test_check_self(me: SelfView, want: list[tuple[str, str, str]]) -> None:
    st = State()
    step = selfwatch.check_self(view(snap(), S, st, NOW, me), Pass(st))
    assert said(step) == want and step.actions == ()


def _hung_state(restarts: tuple[float, ...] = ()) -> State:
    ds = DaemonState(pid=EBAY, create_time=NOW - 600, restarts=restarts)
    return State(daemons={"upload-ebay": ds})


@pytest.mark.parametrize(
    ("age", "state", "want", "restarts"),
    [
        (1.0, _hung_state(), [], False),
        (600.0, _hung_state(), [("hung", "warning", "restart")], True),
        (600.0, _hung_state(restarts=(NOW - 1,)), [("hung", "warning", "none")], False),
        (
            600.0,
            _hung_state(restarts=tuple(NOW - 10 * i for i in range(1, 20))),
            [("hung", "critical", "alert")],
            False,
        ),
    ],
    ids=["fresh", "hung", "in back-off", "budget spent"],
)
def test_the_hung_check_of_the_legitimate_copy(
    age: float, state: State, want: list[tuple[str, str, str]], restarts: bool
) -> None:
    s = snap(hb=_beat(age=age))
    v = view(s, S, state, NOW)
    p = Pass(state, judged={"upload-ebay": Judged(legit=v.copies["upload-ebay"])})
    step = check_daemons(v, p)
    assert said(step) == want
    assert [(a.do.value, [t.pid for t in a.targets]) for a in step.actions] == (
        [("restart", [EBAY])] if restarts else []
    )


def test_the_pipeline_runs_in_the_declared_order() -> None:
    # The order is a contract (policy's docstring says why): leftovers read what the last pass
    # remembered, so they run before remember_seen; daemons read what copies judged.
    assert [c.__name__ for c in policy.CHECKS] == [
        "check_home",
        "check_circusd",
        "check_watchers",
        "check_copies",
        "check_daemons",
        "check_work",
        "check_locks",
        "check_leftovers",
        "check_sandbox_port",
        "remember_seen",
        "check_self",
    ]


IMPURE = {"psutil", "subprocess", "socket", "time", "urllib", "sqlite3", "random"}


def test_the_checks_touch_no_process_clock_or_network() -> None:
    checks = Path(policy.__file__).parent / "checks"
    for path in sorted(checks.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            assert not {n.split(".")[0] for n in names} & IMPURE, (path.name, names)


LINK = f"{HOME}/locks is a symlink (name the real folder, or remove the link)"


@pytest.mark.parametrize(
    ("problem", "want"),
    [("", []), (LINK, [("home_unsafe", "critical", "alert")])],
    ids=["safe", "locks/ is a link"],
)
def test_check_home(problem: str, want: list[tuple[str, str, str]]) -> None:
    step = run(home.check_home, snap(home_problem=problem))
    assert said(step) == want and step.actions == ()
    assert all(f.summary.startswith(f"unsafe home: {problem};") for f in step.findings)


@pytest.mark.parametrize("problem", ["", LINK], ids=["safe", "unsafe"])
def test_an_unsafe_home_plans_nothing_destructive_and_still_alerts(problem: str) -> None:
    # Given a hung daemon (a restart is due) and a stale lock (a removal is due)
    stale = LockView(
        name="old",
        path=f"{HOME}/locks/old.lock",
        regular=True,
        held=False,
        holder_pid=None,
        owner=None,
        error="empty",
    )
    s = replace(snap(hb=_beat(age=600.0), home_problem=problem), locks=(stale,))
    state = _hung_state()
    a = assess(s, S, state, NOW)
    kinds = [(f.kind.value, f.action.value) for f in a.findings]
    if not problem:
        assert [x.do.value for x in a.actions] == ["restart", "remove_lock"]
        assert a.new_state.daemon("upload-ebay").restarts == (NOW,)
        return
    # Then nothing is signalled, restarted or removed; each finding says why, and alerts
    assert a.actions == ()
    assert kinds == [("home_unsafe", "alert"), ("hung", "alert"), ("stale_lock", "alert")]
    assert all(f.summary.endswith("not done: the home is unsafe") for f in a.findings[1:])
    # And the restart not made is not counted against the budget
    assert a.new_state.daemon("upload-ebay").restarts == ()
    assert [n.severity for n in a.notices if "home_unsafe" in n.key] == ["critical"]


def test_a_daemon_just_restarted_is_not_hung_until_its_start_grace_has_passed() -> None:
    # Given upload-ebay restarted `age` s ago: the heartbeat file is still the old pid's last
    # word, written 1 s before the new one started (it looks 0.5 s newer: psutil's create_time
    # runs behind the clock), and the last pass remembered the old pid beating
    def look(age: float) -> Step:
        last = _beat(age=age + 1).heartbeat
        assert last is not None
        old = replace(last, pid=EBAY - 1, phase=Phase.STOPPING)
        s = snap(hb=HeartbeatView(name="upload-ebay", heartbeat=old, mtime=NOW - age + 0.5))
        s = replace(s, procs=(s.procs[0], _proc(EBAY, "upload-ebay", ct=NOW - age)))
        ds = DaemonState(pid=EBAY - 1, create_time=NOW - 600, last_beat_at=NOW - age - 5)
        state = State(daemons={"upload-ebay": ds})
        v = view(s, S, state, NOW)
        return check_daemons(
            v, Pass(state, judged={"upload-ebay": Judged(legit=v.copies["upload-ebay"])})
        )

    # Then within it (60 s), past the heartbeat's grace (30 s) too: no finding, so no event
    for age in (0.5, 5.0, 45.0):
        step = look(age)
        assert (step.findings, step.actions) == ((), ()), age
    # And one that never beats is hung once it has passed, and restarted as before
    step = look(120.0)
    assert said(step) == [("hung", "warning", "restart")]
    assert [(a.do.value, [t.pid for t in a.targets]) for a in step.actions] == [("restart", [EBAY])]
