"""The snapshot as taken from the OS: real processes, real lock files and heartbeats."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil
import pytest
from support import Reaper, as_user, start_process, unprivileged_user, wait_for

from ecauto.circusd import read_ini
from ecauto.config import WatchdogDaemonSettings, WatchdogSettings, _watched
from ecauto.daemon.owner import Owner, export
from ecauto.home import Home
from watchdog.collect import Collector, home_problem, list_processes
from watchdog.events import EventLog
from watchdog.execute import Executor
from watchdog.policy import assess
from watchdog.snapshot import ProcInfo, Snapshot
from watchdog.state import State

pytestmark = [pytest.mark.process, pytest.mark.timeout(60)]

INI = """\
[circus]
endpoint = ipc://{sock}
check_delay = 1

[watcher:sync-inventory]
cmd = python -m ecauto.daemons.sync --home {home} --wid $(circus.wid)
singleton = True
"""


def collector(tmp_path: Path) -> Collector:
    home = Home(tmp_path / "home").ensure()
    ini = tmp_path / "circus.ini"
    ini.write_text(INI.format(sock=tmp_path / "ctl.sock", home=home.root))
    daemons = dict(_watched())
    daemons["sync-inventory"] = WatchdogDaemonSettings(
        patterns=("scheduled_tasks/sync_inventory_daemon.py",)
    )
    settings = replace(WatchdogSettings(), daemons=daemons)
    return Collector(home, read_ini(ini), settings, "sandbox")


def test_a_dead_circusd_costs_no_wait_and_the_snapshot_round_trips(tmp_path: Path) -> None:
    c = collector(tmp_path)
    t = time.monotonic()
    snap = c.snapshot()
    assert time.monotonic() - t < 1.0  # no zmq call waiting out its timeout
    assert not snap.circus.answered and "socket" in snap.circus.reason
    assert snap.watchers["sync-inventory"].daemon == "sync-inventory"
    assert snap.my_pid == os.getpid() and os.getppid() in snap.my_ancestors
    assert any(p.pid == os.getpid() for p in snap.procs)  # itself, listed (and protected)
    assert Snapshot.from_json(json.loads(json.dumps(snap.to_json()))) == snap
    assert snap.scanned == len(list_processes()[0]) or snap.scanned > 0


def test_old_system_copies_are_ours_by_home_or_by_folder(tmp_path: Path, reaper: Reaper) -> None:
    c = collector(tmp_path)  # the instance's folder: tmp_path (where its circus.ini is)
    elsewhere = Path(tempfile.mkdtemp(prefix="wdc-"))
    try:
        for root in (tmp_path / "old", elsewhere):
            script = root / "scheduled_tasks" / "sync_inventory_daemon.py"
            script.parent.mkdir(parents=True)
            script.write_text("import time\ntime.sleep(300)\n")
        env = {k: v for k, v in os.environ.items() if k != "ECAUTO_HOME"}
        relative = [sys.executable, "scheduled_tasks/sync_inventory_daemon.py"]
        # named our home, from anywhere
        by_home = start_process(
            reaper, relative, dict(env, ECAUTO_HOME=str(c.home.root)), elsewhere
        )
        # named none, from our folder
        by_folder = start_process(reaper, relative, env, tmp_path / "old")
        # named none, from another folder: somebody else's
        other = start_process(reaper, relative, env, elsewhere)
        sleeper = start_process(reaper, ["sleep", "300"], env, tmp_path)
        pids = (by_home.pid, by_folder.pid, other.pid)

        def found() -> dict[int, ProcInfo] | None:
            procs = {p.pid: p for p in c.snapshot().procs}
            return procs if all(pid in procs and procs[pid].daemon for pid in pids) else None

        procs = wait_for(found, 10, "the three copies")
        homes = [(procs[pid].daemon, procs[pid].by_pattern, procs[pid].home) for pid in pids]
        ours = ("sync-inventory", True, str(c.home.root))
        assert homes == [ours, ours, ("sync-inventory", True, None)]
        assert procs[by_folder.pid].cwd == str(tmp_path / "old")
        assert sleeper.pid not in procs  # not python-like, not circusd's, not in a known group
    finally:
        shutil.rmtree(elsewhere, ignore_errors=True)


def test_a_process_that_execs_is_read_again(tmp_path: Path, reaper: Reaper) -> None:
    c = collector(tmp_path)
    script = tmp_path / "scheduled_tasks" / "sync_inventory_daemon.py"
    script.parent.mkdir(parents=True)
    script.write_text("import time\ntime.sleep(300)\n")
    go = tmp_path / "go"
    # (the script's name is put together at run time: as text it would match the pattern)
    code = (
        f"import os, sys, time\nwhile not os.path.exists({str(go)!r}): time.sleep(0.02)\n"
        f"os.execv(sys.executable, [sys.executable, os.path.join({str(script.parent)!r}, "
        f"'sync_inventory' + '_daemon.py')])\n"
    )
    proc = start_process(reaper, [sys.executable, "-c", code], dict(os.environ), tmp_path)
    first = wait_for(
        lambda: next((p for p in c.snapshot().procs if p.pid == proc.pid), None), 10, "it listed"
    )
    assert first.daemon is None
    go.touch()
    later = wait_for(
        lambda: next((p for p in c.snapshot().procs if p.pid == proc.pid and p.daemon), None),
        10,
        "it re-read",
    )
    assert later.daemon == "sync-inventory" and later.create_time == first.create_time


def test_locks_held_unheld_and_unreadable(tmp_path: Path) -> None:
    c = collector(tmp_path)
    owner = {
        "schema": 1,
        "name": "a",
        "pid": os.getpid(),
        "create_time": 1.0,
        "hostname": "h",
        "cmdline": ["x"],
        "started_at": 1.0,
    }
    held = c.home.lock_path("a")
    held.write_text(json.dumps(owner))
    fd = os.open(held, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    c.home.lock_path("b").write_text(json.dumps(dict(owner, name="b", pid=1)))
    # "e" names a live process that does not hold it (our parent): the holder is still found.
    named_wrong = c.home.lock_path("e")
    named_wrong.write_text(json.dumps(dict(owner, name="e", pid=os.getppid())))
    fd_e = os.open(named_wrong, os.O_RDWR)
    fcntl.flock(fd_e, fcntl.LOCK_EX)
    c.home.lock_path("c").write_text("")
    (c.home.locks / "d.lock").mkdir()
    (c.home.locks / "notes.txt").write_text("not a lock")
    try:
        views = {v.name: v for v in c.snapshot().locks}
    finally:
        os.close(fd)
        os.close(fd_e)
    assert set(views) == {"a", "b", "c", "d", "e"}
    assert (views["e"].held, views["e"].holder_pid) == (True, os.getpid())
    assert (views["a"].held, views["a"].holder_pid, views["a"].owner.pid) == (  # type: ignore[union-attr]
        True,
        os.getpid(),
        os.getpid(),
    )
    assert (views["b"].held, views["b"].holder_pid, views["b"].owner.pid) == (  # type: ignore[union-attr]
        False,
        None,
        1,
    )
    assert (views["c"].held, views["c"].owner, views["c"].error) == (False, None, "empty")
    assert views["d"].regular is False


def test_heartbeat_views(tmp_path: Path) -> None:
    c = collector(tmp_path)
    path = c.home.heartbeat_path("sync-inventory")
    assert c.snapshot().heartbeats["sync-inventory"].error == "missing"
    path.write_text("{not json")
    v = c.snapshot().heartbeats["sync-inventory"]
    assert v.heartbeat is None and v.error == "not valid JSON"
    assert v.mtime is not None and abs(v.mtime - time.time()) < 5


def test_the_daemon_mark_is_read_for_members_of_remembered_groups_only(
    tmp_path: Path, reaper: Reaper
) -> None:
    c = collector(tmp_path)
    mark = Owner("upload-base", 4242, 1234.5, str(c.home.root))
    env = dict(os.environ)
    export(mark, env)
    # Two python processes (read in full for their name): a group's leader and its child.
    sleep = "import time; time.sleep(300)"
    code = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {sleep!r}]); "
    leader = start_process(
        reaper, [sys.executable, "-c", code + sleep], env, tmp_path, start_new_session=True
    )
    child = wait_for(lambda: psutil.Process(leader.pid).children(), 10, "its child")[0]
    reaper.track(child.pid)
    wait_for(lambda: child.cmdline()[-1] == sleep, 10, "its exec")

    def seen(groups: set[int]) -> dict[int, ProcInfo]:
        return {p.pid: p for p in c.processes(set(), groups)[1]}

    first = seen(set())  # no group remembered: no environment read
    assert first[leader.pid].owner is None and first[child.pid].owner is None
    later = seen({leader.pid})  # remembered now: the child (read before) is read again
    assert later[child.pid].owner == mark
    assert later[leader.pid].owner is None  # the group's leader is no leftover of it
    assert seen({leader.pid})[child.pid].owner == mark  # and remembered so


@pytest.mark.parametrize("watchdog_as", ["root", "unprivileged"])
def test_a_copy_of_another_user_is_a_stranger_and_only_our_own_is_ended(
    watchdog_as: str, tmp_path: Path, reaper: Reaper
) -> None:
    """The whole pass (collect, assess, execute) with two copies of a daemon in one home: one
    of the watchdog's user, one of another user. Both directions: the watchdog as root (as CI
    runs) against an unprivileged user's copy, and the watchdog as an unprivileged user."""
    uid, gid = unprivileged_user(root_too=True)
    base = Path(tempfile.mkdtemp(prefix="wdu-"))  # not under tmp_path: that user must reach it
    try:
        home = Home(base / "home").ensure()
        # A copy of sync-inventory by its command line: an interpreter named python running the
        # module's file (a shell: the venv's Python may sit where that user cannot read).
        prog = base / "bin" / "python"
        prog.parent.mkdir()
        shutil.copy("/bin/sh", prog)
        script = base / "ecauto" / "daemons" / "sync.py"
        script.parent.mkdir(parents=True)
        script.write_text("sleep 300; exit 0\n")
        cmd = [str(prog), str(script)]
        ini = base / "circus.ini"
        ini.write_text(INI.format(sock=base / "ctl.sock", home=home.root))
        watchdog_uid = 0 if watchdog_as == "root" else uid
        for p in [base, *base.rglob("*")]:
            # The home is the watchdog's own (one of another user is unsafe: nothing is done).
            owner = watchdog_uid if p == home.root or home.root in p.parents else uid
            os.chown(p, owner, gid if owner else 0)
        setup = read_ini(ini)
        env = dict(os.environ, ECAUTO_HOME=str(home.root))
        other_uid = uid if watchdog_as == "root" else 0

        def copy(as_uid: int) -> int:
            kw = {"user": uid, "group": gid} if as_uid else {}
            proc = start_process(reaper, cmd, env, Path("/"), **kw)
            wait_for(lambda: psutil.Process(proc.pid).cmdline() == cmd, 5, "its exec")
            return proc.pid

        theirs = copy(other_uid)

        def one_pass() -> dict[str, Any]:
            mine = subprocess.Popen(cmd, env=env, cwd="/")
            wait_for(lambda: psutil.Process(mine.pid).cmdline() == cmd, 5, "its exec")
            c = Collector(home, setup, WatchdogSettings(), "sandbox")
            snap = c.snapshot()
            a = assess(snap, WatchdogSettings(), State(), snap.now + 10)
            planned = sorted(t.pid for act in a.actions for t in act.targets)
            done = Executor(home, None, EventLog(home.watchdog / "events.jsonl")).run(a)
            mine.wait(timeout=10)
            return {"mine": mine.pid, "planned": planned, "results": [o.result for o in done]}

        if watchdog_as == "root":
            res = one_pass()
        else:
            res = as_user(uid, gid, one_pass)
        assert res["planned"] == [res["mine"]], res
        assert [r.split(",")[0] for r in res["results"]] == [f"ended pid {res['mine']}"], res
        assert psutil.Process(theirs).uids().effective == other_uid
        assert psutil.Process(theirs).status() != psutil.STATUS_ZOMBIE, "the other user's copy"
        assert watchdog_uid != other_uid
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _link_locks(home: Home) -> None:
    other = home.root.parent / "elsewhere"
    other.mkdir()
    home.locks.rmdir()
    home.locks.symlink_to(other)


def _chown_heartbeats(home: Home) -> None:
    uid, gid = unprivileged_user(root_too=True)
    os.chown(home.heartbeats, uid, gid)


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda h: None, ""),
        (_link_locks, "locks is a symlink"),
        (lambda h: os.chmod(h.log, 0o720), "log is writable by group (mode 720)"),
        (lambda h: os.chmod(h.root, 0o703), "home is writable by others (mode 703)"),
        (lambda h: (h.root / "ecauto.db").mkdir(), "ecauto.db is not a regular file"),
        (_chown_heartbeats, "heartbeats belongs to uid"),
    ],
    ids=[
        "safe",
        "locks/ a link",
        "log/ group-writable",
        "home others-writable",
        "db a folder",
        "heartbeats/ another user's",
    ],
)
def test_every_snapshot_says_what_makes_the_home_unsafe_now(
    tmp_path: Path, make: Any, says: str
) -> None:
    c = collector(tmp_path)
    make(c.home)
    problem = home_problem(c.home)
    assert (problem == "") if not says else (says in problem), problem
    assert c.snapshot().home_problem == problem
