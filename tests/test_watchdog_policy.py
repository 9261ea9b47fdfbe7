"""The watchdog's judgement, table-driven: snapshots in, findings/actions/notices/state out.

Every row also checks the safety invariants: nothing planned for pid 0/1, the watchdog, its
parents, circusd, or another user's process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from ecauto.config import WatchdogDaemonSettings, WatchdogSettings, _watched
from ecauto.daemon.heartbeat import Heartbeat, Phase
from ecauto.daemon.lock import LockOwner
from ecauto.daemon.owner import Owner
from watchdog import deaths, policy
from watchdog.deaths import Entry
from watchdog.findings import Assessment, Do
from watchdog.identify import is_circusd
from watchdog.policy import assess
from watchdog.snapshot import (
    CircusView,
    HeartbeatView,
    LockView,
    ProcInfo,
    Role,
    Snapshot,
    WatcherView,
)
from watchdog.state import DaemonState, Incident, Seen, State

HOME = "/srv/ecauto/var"
UID = 1000
NOW = 1_800_000_000.0
CIRCUSD = 100
ME = 50
SHELL = 40  # the watchdog's parent
DAEMONS = ("upload-base", "upload-ebay", "upload-yahoo", "sync-inventory")
MANAGED = {
    "sandbox": 201,
    "upload-base": 202,
    "upload-ebay": 203,
    "upload-yahoo": 204,
    "sync-inventory": 205,
}
SETTINGS = WatchdogSettings()


# -- builders -----------------------------------------------------------------------------------


def cmd_for(daemon: str, home: str = HOME) -> tuple[str, ...]:
    if daemon.startswith("upload-"):
        return ("python", "-m", "ecauto.daemons.upload", "--platform", daemon[7:], "--home", home)
    if daemon == "sync-inventory":
        return ("python", "-m", "ecauto.daemons.sync", "--home", home)
    if daemon == "watchdog":
        return ("python", "-m", "watchdog", "run", "--home", home)
    return ("python", "-m", "ecauto.sandbox", "--home", home)


def proc(
    pid: int,
    daemon: str | None,
    *,
    ct: float = NOW - 600,
    ppid: int = CIRCUSD,
    uid: int = UID,
    home: str | None = HOME,
    pgid: int | None = None,
    status: str = "sleeping",
    name: str = "python",
    role: Role | None = None,
    by_pattern: bool = False,
    launcher: bool = False,
    cmdline: tuple[str, ...] | None = None,
) -> ProcInfo:
    if role is None:
        role = Role.DAEMON if daemon else Role.OTHER
    return ProcInfo(
        pid=pid,
        create_time=ct,
        ppid=ppid,
        uid=uid,
        pgid=pid if pgid is None else pgid,
        status=status,
        name=name,
        cmdline=cmdline or (cmd_for(daemon, home or HOME) if daemon else (name,)),
        cwd="/srv/ecauto",
        home=home,
        daemon=daemon,
        role=role,
        by_pattern=by_pattern,
        launcher=launcher,
        parent_gone=ppid == 1,
    )


def circusd_proc() -> ProcInfo:
    return proc(
        CIRCUSD,
        None,
        ppid=1,
        role=Role.CIRCUSD,
        name="circusd",
        cmdline=("python", "/venv/bin/circusd", "circus.ini"),
    )


def beat(
    name: str,
    pid: int,
    *,
    age: float = 1.0,
    ct: float = NOW - 600,
    beat_s: float = 1.0,
    phase: Phase = Phase.SLEEPING,
    error: str | None = None,
) -> Heartbeat:
    return Heartbeat(
        name=name,
        pid=pid,
        create_time=ct,
        beat_at=NOW - age,
        beat_s=beat_s,
        phase=phase,
        home=HOME,
        watcher=name,
        last_error=error,
    )


def held_lock(
    name: str,
    pid: int,
    *,
    owner_pid: int | None = None,
    error: str | None = None,
    held: bool = True,
    regular: bool = True,
    path: str | None = None,
) -> LockView:
    owner = (
        None
        if error
        else LockOwner(name, owner_pid or pid, NOW - 600, "host", ["python"], NOW - 600, HOME)
    )
    return LockView(
        name,
        path or f"{HOME}/locks/{name}.lock",
        regular,
        held,
        pid if held else None,
        owner,
        error,
    )


def hbv(
    name: str, hb: Heartbeat | None = None, error: str | None = None, mtime: float | None = None
) -> HeartbeatView:
    """A heartbeat file as read: written when its beat says, or (unreadable) two seconds ago."""
    if mtime is None and error != "missing":
        mtime = hb.beat_at if hb is not None else NOW - 2
    return HeartbeatView(name, hb, error, mtime)


WATCHERS = {n: WatcherView(n, n) for n in ("sandbox", *DAEMONS)}


@dataclass
class World:
    """A healthy instance, to be broken one way per row."""

    procs: dict[int, ProcInfo] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=lambda: {n: "active" for n in WATCHERS})
    pids: dict[str, tuple[int, ...]] = field(
        default_factory=lambda: {n: (p,) for n, p in MANAGED.items()}
    )
    answered: bool = True
    reason: str = ""
    heartbeats: dict[str, HeartbeatView] = field(default_factory=dict)
    locks: dict[str, LockView] = field(default_factory=dict)
    mode: str = "sandbox"
    now: float = NOW
    journal: list[Entry] = field(default_factory=list)  # circusd's hooks' journal

    def __post_init__(self) -> None:
        self.procs[CIRCUSD] = circusd_proc()
        self.procs[ME] = proc(ME, None, ppid=SHELL, cmdline=("watchdog", "scan"))
        for name, pid in MANAGED.items():
            self.procs[pid] = proc(pid, name)
            if name != "sandbox":
                self.heartbeats[name] = hbv(name, beat(name, pid))
                self.locks[name] = held_lock(name, pid)

    def advance(self, dt: float, *, frozen: tuple[str, ...] = ()) -> World:
        """Time passes; every good heartbeat but those of `frozen` daemons stays fresh."""
        self.now += dt
        for name, view in list(self.heartbeats.items()):
            if view.heartbeat is not None and name not in frozen:
                self.heartbeats[name] = hbv(name, replace(view.heartbeat, beat_at=self.now - 1))
        return self

    def snapshot(self) -> Snapshot:
        return Snapshot(
            now=self.now,
            home=HOME,
            mode=self.mode,
            my_pid=ME,
            my_uid=UID,
            my_ancestors=(SHELL, 1),
            watchers=WATCHERS,
            procs=tuple(self.procs.values()),
            circus=CircusView(
                self.answered,
                self.reason,
                CIRCUSD if self.answered else None,
                self.statuses if self.answered else {},
                self.pids if self.answered else {},
            ),
            locks=tuple(self.locks.values()),
            heartbeats=self.heartbeats,
            scanned=200,
            journal=tuple(self.journal),
        )


def run(w: World, state: State | None = None, settings: WatchdogSettings = SETTINGS) -> Assessment:
    a = assess(w.snapshot(), settings, state or State(), w.now)
    check_invariants(w.snapshot(), a)
    return a


def check_invariants(snap: Snapshot, a: Assessment) -> None:
    never = {0, 1, snap.my_pid, *snap.my_ancestors, CIRCUSD}
    by_pid = {p.pid: p for p in snap.procs}
    for act in a.actions:
        for t in act.targets:
            assert t.pid not in never, act
            assert by_pid[t.pid].uid == snap.my_uid, act
            assert by_pid[t.pid].role is not Role.CIRCUSD, act
            assert not is_circusd(t.cmdline, by_pid[t.pid].name), act
            assert t.uid == by_pid[t.pid].uid and t.home == by_pid[t.pid].home, act
        if act.do is Do.REMOVE_LOCK:
            assert act.path and act.path.startswith(f"{HOME}/locks/"), act
        assert 0 <= act.ref < len(a.findings) and a.findings[act.ref].action is act.do


def summary(a: Assessment) -> list[tuple[str, str | None, str]]:
    return sorted((f.kind.value, f.daemon, f.action.value) for f in a.findings)


def targets(a: Assessment) -> list[list[int]]:
    return sorted(sorted(t.pid for t in act.targets) for act in a.actions if act.targets)


# -- rows ---------------------------------------------------------------------------------------


def _healthy(w: World) -> None:
    pass


def _dup(w: World) -> None:
    w.procs[300] = proc(300, "sync-inventory", ppid=SHELL + 1, ct=NOW - 10)


def _dup_young(w: World) -> None:
    w.procs[300] = proc(300, "sync-inventory", ppid=SHELL + 1, ct=NOW - 0.5)


def _dup_other_home(w: World) -> None:
    w.procs[300] = proc(300, "sync-inventory", ppid=SHELL + 1, home="/home/other/var")


def _dup_other_user(w: World) -> None:
    w.procs[300] = proc(300, "sync-inventory", ppid=SHELL + 1, uid=UID + 1)


def _old_script(w: World) -> None:
    w.procs[300] = proc(
        300,
        "sync-inventory",
        ppid=1,
        home=HOME,  # it named no home, but runs from the instance's folder: claimed
        by_pattern=True,
        cmdline=("python.exe", r"C:\ecauto\scheduled_tasks\sync_inventory_daemon.py"),
    )


def _old_script_unclaimed(w: World) -> None:
    w.procs[300] = proc(300, "sync-inventory", ppid=1, home=None, by_pattern=True)


def _old_script_elsewhere(w: World) -> None:
    w.procs[300] = proc(300, "sync-inventory", ppid=1, home="/elsewhere/var", by_pattern=True)


def _launcher_pair(w: World) -> None:
    w.procs[300] = proc(300, "sync-inventory", ppid=SHELL + 1, launcher=True)
    w.procs[301] = proc(301, "sync-inventory", ppid=300)


def _managed_launcher_pair(w: World) -> None:
    w.procs[205] = proc(205, "sync-inventory", launcher=True)
    w.procs[206] = proc(206, "sync-inventory", ppid=205)
    w.heartbeats["sync-inventory"] = hbv("sync-inventory", beat("sync-inventory", 206))
    w.locks["sync-inventory"] = held_lock("sync-inventory", 206)


def _reload_overlap(w: World) -> None:
    w.procs[305] = proc(305, "sync-inventory", ct=NOW - 1)
    w.pids["sync-inventory"] = (205, 305)


def _circusd_gone(w: World) -> None:
    w.answered, w.reason = False, "no circusd listens"
    del w.procs[CIRCUSD]
    for pid in MANAGED.values():
        w.procs[pid] = replace(w.procs[pid], ppid=1, parent_gone=True)
    w.procs[300] = proc(300, "sync-inventory", ppid=SHELL + 1)


def _circusd_silent(w: World) -> None:
    w.answered, w.reason = False, "circusd does not answer (Timed out.)"


def _missing(w: World) -> None:
    del w.statuses["upload-ebay"]
    del w.pids["upload-ebay"]
    del w.procs[203]
    del w.heartbeats["upload-ebay"]
    del w.locks["upload-ebay"]


def _down(w: World) -> None:
    w.statuses["upload-ebay"] = "stopped"
    w.pids["upload-ebay"] = ()
    del w.procs[203]
    del w.locks["upload-ebay"]


def _sandbox_off_live(w: World) -> None:
    w.mode = "live"
    w.statuses["sandbox"] = "stopped"
    w.pids["sandbox"] = ()
    del w.procs[201]


def _hung(w: World) -> None:
    w.heartbeats["upload-base"] = hbv("upload-base", beat("upload-base", 202, age=45))
    w.procs[202] = replace(w.procs[202], status="stopped")


def _hung_circusd_silent(w: World) -> None:
    _hung(w)
    w.answered, w.reason = False, "circusd does not answer (Timed out.)"


def _hb_corrupt(w: World) -> None:
    w.heartbeats["upload-base"] = hbv("upload-base", None, "not valid JSON")


def _hb_empty(w: World) -> None:
    w.heartbeats["upload-base"] = hbv("upload-base", None, "empty")


def _hb_innocent(w: World) -> None:
    w.heartbeats["upload-base"] = hbv("upload-base", beat("upload-base", 1))


def _no_beat_started_long_ago(w: World) -> None:
    w.heartbeats["upload-base"] = hbv("upload-base", None, "missing")
    w.procs[202] = replace(w.procs[202], create_time=NOW - 120)


def _no_beat_young(w: World) -> None:
    w.heartbeats["upload-base"] = hbv("upload-base", None, "missing")
    w.procs[202] = replace(w.procs[202], create_time=NOW - 5)


def _stale_lock(w: World) -> None:
    w.locks["old"] = held_lock("old", 4242, held=False)


def _stale_lock_innocent(w: World) -> None:
    w.locks["old"] = held_lock("old", 1, held=False)


def _lock_corrupt_held(w: World) -> None:
    w.locks["upload-base"] = held_lock("upload-base", 202, error="not valid JSON")


def _lock_innocent_held(w: World) -> None:
    w.locks["upload-base"] = held_lock("upload-base", 202, owner_pid=1)


def _lock_not_regular(w: World) -> None:
    w.locks["odd"] = held_lock("odd", 7, held=False, regular=False)


def _lock_outside(w: World) -> None:
    w.locks["odd"] = held_lock("odd", 7, held=False, path="/etc/odd.lock")


MARK = Owner("upload-yahoo", 500, NOW - 700, HOME)


def _leftover(w: World, mark: Owner | None = MARK, **kw: Any) -> None:
    kw = {"ppid": 1, "pgid": 500, "name": "sleep", "ct": NOW - 300, **kw}
    w.procs[600] = replace(proc(600, None, **kw), owner=mark)


def _stranger_in_old_group(w: World) -> None:
    # A stranger whose process group happens to be a remembered daemon's old pid: no mark.
    _leftover(w, None)


def _leftover_mark_of_a_reused_pid(w: World) -> None:
    _leftover(w, replace(MARK, create_time=NOW - 650))  # the pid, but another process's


def _leftover_mark_of_another_home(w: World) -> None:
    _leftover(w, replace(MARK, home="/srv/other/var"))


def _leftover_mark_of_another_daemon(w: World) -> None:
    _leftover(w, replace(MARK, daemon="upload-base"))


def _leftover_is_a_circusd(w: World) -> None:
    # Another instance's circusd (not ours by its ini), started from a shell a daemon left.
    _leftover(w, name="python", cmdline=("python", "-X", "dev", "-m", "circus.circusd", "o.ini"))


def _leftover_leader_alive(w: World) -> None:
    _leftover(w)
    w.procs[500] = proc(500, "upload-yahoo", ppid=SHELL + 1, ct=NOW - 700)


def _leftover_other_user(w: World) -> None:
    _leftover(w, uid=0)


def _dup_is_my_parent(w: World) -> None:
    w.procs[SHELL] = proc(SHELL, "sync-inventory", ppid=1)


def _another_watchdog(w: World) -> None:
    w.procs[ME] = proc(ME, "watchdog", ppid=SHELL)
    w.procs[310] = proc(310, "watchdog", ppid=SHELL + 2)


SEEN_500 = State(seen={500: Seen("upload-yahoo", 500, NOW - 700, NOW - 60)})


def _respawns(n: int, **kw: Any) -> Callable[[], State]:
    def make() -> State:
        ds = DaemonState(
            pid=203,
            create_time=NOW - 600,
            respawns=tuple(NOW - 10 * (i + 1) for i in range(n)),
            **kw,
        )
        return State(daemons={"upload-ebay": ds})

    return make


def _restarted(ago: float, n: int = 1) -> Callable[[], State]:
    def make() -> State:
        return State(
            daemons={
                "upload-base": DaemonState(
                    pid=202, create_time=NOW - 600, restarts=tuple(NOW - ago - i for i in range(n))
                )
            }
        )

    return make


def _orphan_holder(w: World) -> None:
    w.procs[300] = proc(300, "upload-ebay", ppid=SHELL + 1, ct=NOW - 100)
    w.locks["upload-ebay"] = held_lock("upload-ebay", 300)
    w.pids["upload-ebay"] = (350,)
    del w.procs[203]


ROWS: list[
    tuple[
        str,
        Callable[[World], None],
        Callable[[], State] | None,
        list[tuple[str, str | None, str]],
        list[list[int]],
    ]
] = [
    ("healthy", _healthy, None, [], []),
    ("duplicate by hand", _dup, None, [("duplicate", "sync-inventory", "terminate")], [[300]]),
    ("young copy waits", _dup_young, None, [], []),
    ("other home untouched", _dup_other_home, None, [], []),
    ("other user untouched", _dup_other_user, None, [], []),
    (
        "old system's script",
        _old_script,
        None,
        [("duplicate", "sync-inventory", "terminate")],
        [[300]],
    ),
    ("old script of another home", _old_script_elsewhere, None, [], []),
    ("old script of nobody's folder", _old_script_unclaimed, None, [], []),
    (
        "venv launcher pair is one copy",
        _launcher_pair,
        None,
        [("duplicate", "sync-inventory", "terminate")],
        [[300, 301]],
    ),
    ("managed launcher pair is healthy", _managed_launcher_pair, None, [], []),
    ("reload overlap within settle", _reload_overlap, None, [], []),
    (
        "circusd gone: orphans",
        _circusd_gone,
        None,
        [
            ("circusd_down", None, "alert"),
            *[
                ("orphan", d, "terminate")
                for d in ("sandbox", "upload-base", "upload-ebay", "upload-yahoo")
            ],
            ("duplicate", "sync-inventory", "terminate"),
            ("orphan", "sync-inventory", "terminate"),
        ],
        [[201], [202], [203], [204], [205], [300]],
    ),
    (
        "circusd silent: its children left alone",
        _circusd_silent,
        None,
        [("circusd_down", None, "alert")],
        [],
    ),
    ("missing watcher", _missing, None, [("missing", "upload-ebay", "alert")], []),
    ("down watcher", _down, None, [("down", "upload-ebay", "alert")], []),
    ("sandbox off in live mode", _sandbox_off_live, None, [], []),
    ("hung is restarted", _hung, None, [("hung", "upload-base", "restart")], [[202]]),
    ("hung waits for backoff", _hung, _restarted(10), [("hung", "upload-base", "none")], []),
    ("hung after backoff", _hung, _restarted(40), [("hung", "upload-base", "restart")], [[202]]),
    ("hung, budget spent", _hung, _restarted(100, n=5), [("hung", "upload-base", "alert")], []),
    (
        "hung, circusd silent",
        _hung_circusd_silent,
        None,
        [("circusd_down", None, "alert"), ("hung", "upload-base", "restart")],
        [[202]],
    ),
    ("heartbeat corrupt", _hb_corrupt, None, [("hung", "upload-base", "none")], []),
    ("heartbeat empty", _hb_empty, None, [("hung", "upload-base", "none")], []),
    ("heartbeat names pid 1", _hb_innocent, None, [("hung", "upload-base", "none")], []),
    (
        "no heartbeat after start grace",
        _no_beat_started_long_ago,
        None,
        [("hung", "upload-base", "restart")],
        [[202]],
    ),
    ("no heartbeat yet", _no_beat_young, None, [], []),
    ("stale lock", _stale_lock, None, [("stale_lock", "old", "remove_lock")], []),
    (
        "stale lock naming pid 1",
        _stale_lock_innocent,
        None,
        [("stale_lock", "old", "remove_lock")],
        [],
    ),
    ("held lock, corrupt", _lock_corrupt_held, None, [("stale_lock", "upload-base", "none")], []),
    (
        "held lock naming pid 1",
        _lock_innocent_held,
        None,
        [("stale_lock", "upload-base", "none")],
        [],
    ),
    ("lock not a file", _lock_not_regular, None, [("stale_lock", "odd", "none")], []),
    ("lock outside locks/", _lock_outside, None, [("stale_lock", "odd", "none")], []),
    (
        "leftovers",
        _leftover,
        lambda: SEEN_500,
        [("leftovers", "upload-yahoo", "terminate")],
        [[600]],
    ),
    (
        "leftovers of a living daemon are its children",
        _leftover_leader_alive,
        lambda: SEEN_500,
        [("duplicate", "upload-yahoo", "terminate")],
        [[500]],
    ),
    ("leftovers of another user", _leftover_other_user, lambda: SEEN_500, [], []),
    ("unknown group is no leftover", _leftover, None, [], []),
    ("a stranger in a remembered group", _stranger_in_old_group, lambda: SEEN_500, [], []),
    ("a mark of a reused pid", _leftover_mark_of_a_reused_pid, lambda: SEEN_500, [], []),
    ("a mark of another home", _leftover_mark_of_another_home, lambda: SEEN_500, [], []),
    ("a mark of another daemon", _leftover_mark_of_another_daemon, lambda: SEEN_500, [], []),
    ("a leftover circusd is never ended", _leftover_is_a_circusd, lambda: SEEN_500, [], []),
    (
        "a copy that is my parent",
        _dup_is_my_parent,
        None,
        [("duplicate", "sync-inventory", "alert")],
        [],
    ),
    (
        "another watchdog run",
        _another_watchdog,
        None,
        [("orphan", "watchdog", "terminate")],
        [[310]],
    ),
    ("crash loop", _healthy, _respawns(3), [("crash_loop", "upload-ebay", "alert")], []),
    (
        "crash loop, budget spent",
        _healthy,
        _respawns(5),
        [("crash_loop", "upload-ebay", "stop_watcher")],
        [],
    ),
    (
        "crash loop caused by an unmanaged holder",
        _orphan_holder,
        _respawns(3),
        [("crash_loop", "upload-ebay", "none"), ("orphan", "upload-ebay", "terminate")],
        [[300]],
    ),
    (
        "slow crashes are no loop",
        _healthy,
        lambda: State(
            daemons={
                "upload-ebay": DaemonState(
                    pid=203, create_time=NOW - 600, respawns=(NOW - 1000, NOW - 2000, NOW - 3000)
                )
            }
        ),
        [],
        [],
    ),
]


@pytest.mark.parametrize(
    ("name", "make", "state", "want", "want_targets"), ROWS, ids=[r[0] for r in ROWS]
)
def test_policy_table(
    name: str,
    make: Callable[[World], None],
    state: Callable[[], State] | None,
    want: list[tuple[str, str | None, str]],
    want_targets: list[list[int]],
) -> None:
    w = World()
    make(w)
    a = run(w, state() if state else None)
    assert summary(a) == sorted(want)
    assert targets(a) == want_targets


# -- behaviour over several passes ----------------------------------------------------------------


def test_young_copy_asks_for_an_early_look() -> None:
    w = World()
    _dup_young(w)
    a = run(w)
    assert a.recheck_in_s == pytest.approx(SETTINGS.copy_settle_s - 0.5)


def test_reload_overlap_becomes_a_duplicate_after_settle() -> None:
    w = World()
    _reload_overlap(w)
    a1 = run(w)
    assert a1.findings == () and a1.new_state.daemon("sync-inventory").overlap_since == NOW
    w.now = NOW + SETTINGS.reload_settle_s + 1
    a2 = run(w, a1.new_state)
    assert summary(a2) == [("duplicate", "sync-inventory", "terminate")]
    assert targets(a2) == [[305]]  # the one that does not hold the lock


def test_a_restart_is_remembered_and_its_new_pid_is_not_a_respawn() -> None:
    w = World()
    _hung(w)
    a1 = run(w)
    ds = a1.new_state.daemon("upload-base")
    assert ds.restarts == (NOW,) and ds.expect_new_pid
    w2 = World(now=NOW + 5)
    w2.procs[202] = replace(w2.procs[202], pid=402)
    del w2.procs[202]
    w2.procs[402] = proc(402, "upload-base", ct=NOW + 1)
    w2.pids["upload-base"] = (402,)
    w2.heartbeats["upload-base"] = hbv("upload-base", beat("upload-base", 402, ct=NOW + 1))
    w2.locks["upload-base"] = held_lock("upload-base", 402)
    a2 = run(w2, a1.new_state)
    ds2 = a2.new_state.daemon("upload-base")
    assert ds2.pid == 402 and not ds2.expect_new_pid and ds2.respawns == ()


def test_a_new_pid_not_caused_by_the_watchdog_is_a_respawn() -> None:
    w = World()
    state = State(daemons={"upload-ebay": DaemonState(pid=999, create_time=NOW - 900)})
    a = run(w, state)
    assert a.new_state.daemon("upload-ebay").respawns == (NOW,)


def test_budget_spent_sends_one_critical_notice_then_nothing() -> None:
    w = World()
    _hung(w)
    state = _restarted(1000, n=4)()  # one restart left, backoff long over
    a1 = run(w, state)
    assert summary(a1) == [("hung", "upload-base", "restart")]
    assert [(n.key, n.kind, n.severity) for n in a1.notices] == [
        ("hung/upload-base", "incident", "warning")
    ]
    w.advance(60, frozen=("upload-base",))
    a2 = run(w, a1.new_state)
    assert summary(a2) == [("hung", "upload-base", "alert")]
    assert a2.findings[0].severity.value == "critical"
    assert [(n.key, n.severity) for n in a2.notices] == [("hung/upload-base/critical", "critical")]
    assert a2.new_state.daemon("upload-base").gave_up
    a3 = run(w.advance(5, frozen=("upload-base",)), a2.new_state)
    assert a3.notices == () and a3.actions == ()


def test_incident_opens_once_and_recovers_after_recovery_time() -> None:
    w = World()
    _down(w)
    a1 = run(w)
    assert [(n.key, n.kind) for n in a1.notices] == [("down/upload-ebay", "incident")]
    a2 = run(w, a1.new_state)
    assert a2.notices == ()
    healthy = World().advance(10)
    a3 = run(healthy, a2.new_state)
    assert a3.notices == ()  # not yet: recovery_s has not passed
    a4 = run(healthy.advance(SETTINGS.recovery_s), a3.new_state)
    assert [(n.key, n.kind) for n in a4.notices] == [("down/upload-ebay", "recovery")]
    assert a4.new_state.incidents == {}


def test_no_recovery_while_the_daemon_has_another_problem() -> None:
    state = State(
        incidents={
            "crash_loop/upload-ebay": Incident(
                "crash_loop", "upload-ebay", "critical", NOW - 600, NOW - 300, "loop"
            )
        },
        daemons={"upload-ebay": DaemonState(stopped=True, gave_up=True)},
    )
    w = World()
    _down(w)
    a = run(w, state)
    assert [(n.key, n.kind) for n in a.notices] == [("down/upload-ebay/critical", "incident")]
    assert "crash_loop/upload-ebay" in a.new_state.incidents
    assert summary(a) == [("down", "upload-ebay", "alert")]
    assert a.findings[0].severity.value == "critical"  # stopped by the watchdog


def test_restarting_a_stopped_watcher_clears_stopped_and_health_resets_the_budget() -> None:
    state = State(
        daemons={
            "upload-base": DaemonState(
                pid=202,
                create_time=NOW - 600,
                stopped=True,
                gave_up=True,
                restarts=(NOW - 100,) * 5,
            )
        }
    )
    w = World()
    a1 = run(w, state)
    ds = a1.new_state.daemon("upload-base")
    assert not ds.stopped and ds.gave_up and ds.healthy_since == NOW
    a2 = run(w.advance(SETTINGS.healthy_reset_s), a1.new_state)
    ds2 = a2.new_state.daemon("upload-base")
    assert not ds2.gave_up and ds2.restarts == ()


def test_per_daemon_grace_override() -> None:
    w = World()
    w.heartbeats["upload-base"] = hbv("upload-base", beat("upload-base", 202, age=12))
    assert run(w).findings == ()
    daemons = dict(_watched())
    daemons["upload-base"] = WatchdogDaemonSettings(grace_s=10)
    a = run(w, settings=replace(SETTINGS, daemons=daemons))
    assert summary(a) == [("hung", "upload-base", "restart")]


def test_grace_follows_the_daemons_own_beat() -> None:
    w = World()
    w.heartbeats["upload-base"] = hbv("upload-base", beat("upload-base", 202, age=40, beat_s=20))
    assert run(w).findings == ()  # 3 beats of 20 s = 60 s of grace
    w.heartbeats["upload-base"] = hbv("upload-base", beat("upload-base", 202, age=61, beat_s=20))
    assert summary(run(w)) == [("hung", "upload-base", "restart")]


def test_a_bad_heartbeat_file_becomes_hung_only_after_the_last_good_beat_ages() -> None:
    w = World()
    a1 = run(w)  # remembers the good beat
    w.advance(20)
    w.heartbeats["upload-base"] = hbv("upload-base", None, "not valid JSON", mtime=w.now - 1)
    a2 = run(w, a1.new_state)
    assert summary(a2) == [("hung", "upload-base", "none")]
    a3 = run(w.advance(20, frozen=("upload-base",)), a2.new_state)
    assert summary(a3) == [("hung", "upload-base", "restart")]


def test_managed_processes_are_remembered_for_leftovers() -> None:
    a = run(World())
    assert set(a.new_state.seen) == set(MANAGED.values())
    w = World()
    del w.procs[204]
    w.pids["upload-yahoo"] = ()
    a2 = run(w, a.new_state)
    assert 204 not in a2.new_state.seen  # gone, and nothing left in its group


def test_snapshot_and_state_round_trip_through_json() -> None:
    w = World()
    _circusd_gone(w)
    _leftover(w)
    snap = w.snapshot()
    assert Snapshot.from_json(snap.to_json()) == snap
    a = assess(snap, SETTINGS, SEEN_500, NOW)
    assert State.from_json(a.new_state.to_json()) == a.new_state
    from watchdog.findings import Action, Finding

    for f in a.findings:
        assert Finding.from_json(f.to_json()) == f
    for act in a.actions:
        assert Action.from_json(act.to_json()) == act


def test_a_finding_that_only_goes_on_is_marked_as_a_repeat_an_action_never_is() -> None:
    w = World()
    _down(w)
    _dup(w)
    a1 = run(w)
    assert not any(f.repeat for f in a1.findings)
    a2 = run(w, a1.new_state)
    assert {(f.kind.value, f.repeat) for f in a2.findings} == {("down", True), ("duplicate", False)}


# -- deaths from circusd's journal (its hooks: every spawn, reap, stop, start) --------------------


def _died(w: World, watcher: str, n: int, *, life: float = 1.0, code: int = 2) -> None:
    """`n` deaths nobody asked for, a second apart, the last one 5 s ago."""
    for i in range(n):
        at = w.now - 5 - (n - 1 - i)
        pid = 900 + len(w.journal)
        w.journal += [
            Entry(at - life, watcher, deaths.SPAWN, pid=pid),
            Entry(at, watcher, deaths.REAP, pid=pid, exit_code=code, life_s=life),
        ]


def _stop(w: World, watcher: str, by: str, *, at: float | None = None, pid: int = 0) -> None:
    at = w.now - 3 if at is None else at
    w.journal += [Entry(at, watcher, deaths.STOP, by=by)]
    if pid:
        w.journal += [Entry(at + 0.1, watcher, deaths.REAP, pid=pid, exit_code=0, by=by)]
    w.journal += [Entry(at + 0.2, watcher, deaths.STOPPED, by=by)]


def _gone(w: World, watcher: str) -> None:
    """circusd stopped the watcher: its process is gone, its lock free."""
    w.statuses[watcher], w.pids[watcher] = "stopped", ()
    del w.procs[MANAGED[watcher]]
    w.locks.pop(watcher, None)


def _start(w: World, watcher: str, at: float) -> None:
    w.journal += [Entry(at, watcher, deaths.START)]


def _loop_stopped_by_circusd(w: World) -> None:
    _start(w, "upload-ebay", w.now - 60)
    _died(w, "upload-ebay", 5)
    _stop(w, "upload-ebay", deaths.BY_CRASH_LOOP)
    _gone(w, "upload-ebay")


def _loop_still_active(w: World) -> None:
    _died(w, "upload-ebay", 5)


def _four_young_deaths(w: World) -> None:
    _died(w, "upload-ebay", 4)


def _five_slow_deaths(w: World) -> None:
    _died(w, "upload-ebay", 5, life=SETTINGS.crash_loop_young_s + 1)


def _young_deaths_then_a_requested_start(w: World) -> None:
    _died(w, "upload-ebay", 5)
    _start(w, "upload-ebay", w.now - 1)


def _six_requested_restarts(w: World) -> None:
    for i in range(6):
        at = w.now - 30 + 4 * i
        _stop(w, "upload-ebay", deaths.BY_REQUEST, at=at, pid=800 + i)
        _start(w, "upload-ebay", at + 0.5)


def _stopped_on_request(w: World) -> None:
    _stop(w, "sync-inventory", deaths.BY_REQUEST, pid=205)
    _gone(w, "sync-inventory")


def _stopped_with_no_journal(w: World) -> None:
    _start(w, "upload-base", w.now - 600)  # hooks on other watchers only
    _gone(w, "sync-inventory")


def _circusd_gone(w: World) -> None:
    w.answered, w.reason = False, "no circusd listens"
    for pid in (CIRCUSD, *MANAGED.values()):
        del w.procs[pid]


def _circusd_quit(w: World) -> None:
    _circusd_gone(w)
    for name, pid in MANAGED.items():
        _stop(w, name, deaths.BY_QUIT, pid=pid)


def _circusd_killed(w: World) -> None:
    _circusd_gone(w)
    for name in MANAGED:
        _start(w, name, w.now - 60)


JOURNAL_ROWS = [
    (
        "crash loop stopped by circusd",
        _loop_stopped_by_circusd,
        [("crash_loop", "upload-ebay", "alert", "critical")],
    ),
    (
        "crash loop still active",
        _loop_still_active,
        [("crash_loop", "upload-ebay", "stop_watcher", "critical")],
    ),
    ("four young deaths", _four_young_deaths, []),
    ("five deaths of long lives", _five_slow_deaths, []),
    ("young deaths, then a requested start", _young_deaths_then_a_requested_start, []),
    ("six requested restarts", _six_requested_restarts, []),
    (
        "stopped on request",
        _stopped_on_request,
        [("down", "sync-inventory", "none", "info")],
    ),
    (
        "stopped, no journal for it",
        _stopped_with_no_journal,
        [("down", "sync-inventory", "alert", "warning")],
    ),
    ("circusd quit on request", _circusd_quit, [("circusd_down", None, "none", "info")]),
    (
        "circusd killed",
        _circusd_killed,
        [("circusd_down", None, "alert", "critical")],
    ),
]


@pytest.mark.parametrize(("name", "make", "want"), JOURNAL_ROWS, ids=[r[0] for r in JOURNAL_ROWS])
def test_deaths_from_the_journal(
    name: str, make: Callable[[World], None], want: list[tuple[str, str | None, str, str]]
) -> None:
    w = World()
    make(w)
    a = run(w)
    got = sorted((f.kind.value, f.daemon, f.action.value, f.severity.value) for f in a.findings)
    assert got == sorted(want)


def test_a_crash_loop_says_how_often_how_it_died_and_why_and_needs_a_person() -> None:
    w = World()
    _loop_stopped_by_circusd(w)
    snap = replace(w.snapshot(), last_words={"upload-ebay": "upload: error: bad --platform"})
    a = assess(snap, SETTINGS, State(), w.now)
    (f,) = a.findings
    assert f.summary.startswith("needs a person: it died 5 times, each under 10 s")
    assert "(last death: exit 2)" in f.summary and "bad --platform" in f.summary
    assert a.new_state.daemon("upload-ebay").stopped
    assert len(a.new_state.daemon("upload-ebay").respawns) == 5
    # The next pass finds the same incident (one alert), not a second kind of trouble.
    a2 = assess(snap, SETTINGS, a.new_state, w.now + 1)
    assert [(f.kind.value, f.severity.value) for f in a2.findings] == [("crash_loop", "critical")]
    assert a2.notices == ()


def test_requested_restarts_are_not_respawns_and_deaths_are() -> None:
    w = World()
    _six_requested_restarts(w)
    w.pids["upload-ebay"] = (310,)
    w.procs[310] = proc(310, "upload-ebay", ct=NOW - 2)
    before = State(daemons={"upload-ebay": DaemonState(pid=203, create_time=NOW - 600)})
    a = run(w, before)
    assert a.new_state.daemon("upload-ebay").respawns == ()
    _died(w, "upload-ebay", 1, code=-9)
    a2 = run(w, before)
    assert a2.new_state.daemon("upload-ebay").respawns == (w.now - 5,)


def test_each_death_is_an_event_once() -> None:
    w = World()
    _died(w, "upload-base", 1, code=-9, life=30)
    _stop(w, "sync-inventory", deaths.BY_REQUEST, pid=205)
    _gone(w, "sync-inventory")
    a = run(w)
    got = [(r["kind"], r["daemon"], r["signal"], r["exit_code"], r["requested"]) for r in a.records]
    assert got == [
        ("died", "upload-base", 9, None, None),
        ("died", "sync-inventory", None, 0, "request"),
    ]
    assert "killed by SIGKILL after 30.0 s (died)" in a.records[0]["summary"]
    assert run(w, a.new_state).records == ()


@pytest.mark.parametrize(
    ("code", "how"),
    [
        (2, "exit 2"),
        (0, "exit 0"),
        (-9, "killed by SIGKILL"),
        (-15, "killed by SIGTERM"),
        (None, "exit ?"),
        (-200, "killed by signal 200"),
    ],
)
def test_how_a_death_is_told(code: int | None, how: str) -> None:
    assert deaths.Death("w", 1, NOW, code, 1.0, None).how() == how


@pytest.mark.parametrize(
    "line",
    [
        [],
        "x",
        {"at": "soon", "watcher": "w", "event": "reap"},
        {"watcher": "w", "event": "reap"},
        {"at": 1, "watcher": "w", "event": "reap", "pid": [1]},
        {"at": 1, "watcher": "w", "event": "reap", "pid": True},
    ],
)
def test_a_bad_journal_line_is_refused(line: Any) -> None:
    with pytest.raises(ValueError):
        Entry.from_json(line)


def test_a_crash_loop_the_watchdog_stops_still_needs_a_person_while_circusd_stops_it() -> None:
    w = World()
    _loop_still_active(w)
    a = run(w)
    assert [f.action.value for f in a.findings] == ["stop_watcher"]
    # Next pass: circusd is still stopping it (its journal has the stop, no start since).
    w.journal += [Entry(w.now + 0.5, "upload-ebay", deaths.STOP, by=deaths.BY_REQUEST)]
    w.statuses["upload-ebay"] = "stopping"
    w.now += 1
    a2 = run(w, a.new_state)
    assert a2.new_state.daemon("upload-ebay").stopped
    # Then stopped: the same crash loop, alerted, not "stopped on request".
    _gone(w, "upload-ebay")
    w.journal += [Entry(w.now + 0.5, "upload-ebay", deaths.STOPPED, by=deaths.BY_REQUEST)]
    w.now += 1
    a3 = run(w, a2.new_state)
    assert [(f.kind.value, f.severity.value, f.action.value) for f in a3.findings] == [
        ("crash_loop", "critical", "alert")
    ]
    assert "the watchdog stopped its watcher" in a3.findings[0].summary


# -- each check by itself: the View in, its Step out ------------------------------------------------


def look(w: World, state: State | None = None) -> tuple[policy.View, policy.Pass]:
    """The view of `w` and a pass that starts from `state`, as `assess` gives every check."""
    st = state or State()
    return policy.view(w.snapshot(), SETTINGS, st, w.now), policy.Pass(st)


def _circusd_quit(w: World) -> None:
    _circusd_gone(w)
    w.journal = [Entry(NOW - 30, "upload-ebay", deaths.STOPPED, by=deaths.BY_QUIT)]


@pytest.mark.parametrize(
    ("make", "want"),
    [
        (_healthy, []),
        (_circusd_silent, [("critical", "alert", (CIRCUSD,), "runs but does not answer")]),
        (_circusd_gone, [("critical", "alert", (), "no circusd runs for this instance")]),
        (_circusd_quit, [("info", "none", (), "stopped on request (circusctl quit)")]),
    ],
    ids=["answers", "silent", "gone", "quit on request"],
)
def test_check_circusd(
    make: Callable[[World], None], want: list[tuple[str, str, tuple[int, ...], str]]
) -> None:
    w = World()
    make(w)
    step = policy.check_circusd(*look(w))
    got = [(f.severity.value, f.action.value, f.pids) for f in step.findings]
    assert got == [x[:3] for x in want]
    assert all(x[3] in f.summary for x, f in zip(want, step.findings, strict=True))
    assert step.actions == () and step.state is None


@pytest.mark.parametrize(
    ("make", "want"),
    [
        (_healthy, []),
        (_stale_lock, [("old", "remove_lock", (4242,), f"{HOME}/locks/old.lock")]),
        (_stale_lock_innocent, [("old", "remove_lock", (1,), f"{HOME}/locks/old.lock")]),
        (_lock_corrupt_held, [("upload-base", "none", (202,), None)]),
        (_lock_innocent_held, [("upload-base", "none", (202,), None)]),
        (_lock_not_regular, [("odd", "none", (), None)]),
        (_lock_outside, [("odd", "none", (), None)]),
    ],
    ids=[
        "held by its owner",
        "stale",
        "stale naming pid 1",
        "held, corrupt",
        "held, names pid 1",
        "not a file",
        "outside locks/",
    ],
)
def test_check_locks(
    make: Callable[[World], None], want: list[tuple[str, str, tuple[int, ...], str | None]]
) -> None:
    w = World()
    make(w)
    step = policy.check_locks(*look(w))
    assert [(f.daemon, f.action.value, f.pids) for f in step.findings] == [x[:3] for x in want]
    # Only a lock nobody holds, in locks/, is planned for removal; it names its own path.
    assert [a.path for a in step.actions] == [x[3] for x in want if x[3] is not None]


@pytest.mark.parametrize(
    ("make", "state", "want"),
    [
        (_leftover, SEEN_500, [("upload-yahoo", [600])]),
        (_leftover, State(), []),
        (_leftover_leader_alive, SEEN_500, []),  # the copies check judges it
        (_leftover_other_user, SEEN_500, []),
        (_stranger_in_old_group, SEEN_500, []),
        (_leftover_mark_of_a_reused_pid, SEEN_500, []),
        (_leftover_mark_of_another_home, SEEN_500, []),
        (_leftover_mark_of_another_daemon, SEEN_500, []),
        (_leftover_is_a_circusd, SEEN_500, []),
    ],
    ids=[
        "leftover",
        "nothing remembered",
        "its daemon lives",
        "another user",
        "no mark",
        "reused pid",
        "another home",
        "another daemon",
        "a circusd",
    ],
)
def test_check_leftovers(
    make: Callable[[World], None], state: State, want: list[tuple[str, list[int]]]
) -> None:
    w = World()
    make(w)
    step = policy.check_leftovers(*look(w, state))
    assert [(a.daemon, [t.pid for t in a.targets]) for a in step.actions] == want
    assert [f.daemon for f in step.findings] == [d for d, _ in want]


@pytest.mark.parametrize(
    ("make", "state", "ending", "recheck"),
    [
        (_healthy, None, set(), False),
        (_dup, None, {"sync-inventory"}, False),
        (_dup_young, None, set(), True),
        (_reload_overlap, None, set(), True),
        (_orphan_holder, None, {"upload-ebay"}, False),
    ],
    ids=["healthy", "duplicate", "young copy", "reload overlap", "orphan holder"],
)
def test_check_copies_tells_the_later_checks_what_it_judged(
    make: Callable[[World], None], state: State | None, ending: set[str], recheck: bool
) -> None:
    w = World()
    make(w)
    step = policy.check_copies(*look(w, state))
    assert {d for d, j in step.judged.items() if j.ending} == ending
    assert (step.recheck is not None) is recheck
    legit = {d: [[x.pid for x in g] for g in j.legit] for d, j in step.judged.items()}
    managed = {d: [[p] for p in w.pids[d] if p in w.procs] for d in w.pids}
    assert legit == {d: managed[d] for d in legit}


def test_check_copies_judges_nothing_while_circusd_is_busy() -> None:
    w = World()
    _dup(w)
    w.reason = "circusd is busy: no pids"  # answered, but without its lists
    assert policy.check_copies(*look(w)) == policy.Step(state=State())


def test_remember_seen_keeps_what_circusd_manages_and_forgets_the_gone() -> None:
    w = World()
    gone = Seen("upload-base", 4000, NOW - 900, NOW - 60)  # neither it nor its group lives
    group = Seen("upload-yahoo", 500, NOW - 700, NOW - 60)  # gone, but its group lives
    _leftover(w)
    v, p = look(w, State(seen={4000: gone, 500: group}))
    step = policy.remember_seen(v, p)
    assert step.state is not None and step.findings == ()
    assert sorted(step.state.seen) == sorted([500, *MANAGED.values()])
    assert step.state.seen[202] == Seen("upload-base", 202, NOW - 600, NOW)


def test_a_managed_launchers_interpreter_is_remembered_and_its_leftovers_found() -> None:
    """The daemon runs in the interpreter a venv launcher started: its children carry the
    interpreter's mark, so it is remembered with the launcher circusd manages."""
    w = World()
    w.procs[205] = proc(205, "sync-inventory", launcher=True)
    w.procs[206] = proc(206, "sync-inventory", ppid=205, pgid=205)
    w.pids["sync-inventory"] = (205,)
    v, p = look(w)
    step = policy.remember_seen(v, p)
    assert step.state is not None
    assert {205, 206} <= set(step.state.seen)
    # The pair is gone; what the interpreter started lives on in the launcher's group.
    w = World()
    w.pids["sync-inventory"] = (207,)
    w.procs[207] = proc(207, "sync-inventory", ct=NOW - 5)
    mark = Owner("sync-inventory", 206, NOW - 600, HOME)
    _leftover(w, mark, pgid=205)
    v, p = look(w, step.state)
    found = policy.check_leftovers(v, p).found
    assert [(f.kind.value, f.pids) for f, _ in found] == [("leftovers", (600,))]


def test_a_pass_numbers_each_action_by_its_finding() -> None:
    w = World()
    _stale_lock(w)
    _leftover(w)
    v, p = look(w, SEEN_500)
    p = p.then(policy.check_locks(v, p)).then(policy.check_leftovers(v, p))
    assert [p.findings[a.ref].kind.value for a in p.actions] == ["stale_lock", "leftovers"]
    assert [a.ref for a in p.actions] == [0, 1]


@pytest.mark.parametrize(
    ("ending", "want"),
    [(False, ("warning", "alert")), (True, ("warning", "none"))],
    ids=["nothing else is ended", "its lock holder is being ended"],
)
def test_check_daemons_reads_what_the_copies_check_is_ending(
    ending: bool, want: tuple[str, str]
) -> None:
    w = World()
    v, p = look(w, _respawns(3)())
    p = replace(p, judged={"upload-ebay": policy.Judged(legit=(), ending=ending)})
    loops = [f for f in policy.check_daemons(v, p).findings if f.kind.value == "crash_loop"]
    assert [(f.daemon, f.severity.value, f.action.value) for f in loops] == [("upload-ebay", *want)]
