"""The executor against real processes and files: identity re-checked before every signal,
terminate -> wait -> kill with children, only unheld regular files in locks/ removed."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest
from support import (
    Reaper,
    as_user,
    start_process,
    unprivileged_user,
    venv_launcher,
    wait_for,
)

from ecauto.daemon.owner import Owner
from ecauto.home import Home
from watchdog.events import EventLog
from watchdog.execute import Executor, Processes
from watchdog.findings import Action, Assessment, Do, Finding, Kind, Severity, Target
from watchdog.identify import VenvLaunchers
from watchdog.state import State

pytestmark = [pytest.mark.process, pytest.mark.timeout(60)]

STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"])
print(child.pid, flush=True)
time.sleep(300)
"""


def target(p: psutil.Process, **over: object) -> Target:
    t = Target(p.pid, p.create_time(), tuple(p.cmdline()), p.uids().effective)
    return Target(**{**t.__dict__, **over})  # type: ignore[arg-type]


def executor(home: Home, timeout_s: float = 1.0) -> Executor:
    return Executor(home, None, EventLog(home.watchdog / "events.jsonl"), term_timeout_s=timeout_s)


def ending(*targets: Target) -> Action:
    return Action(Do.TERMINATE, Kind.DUPLICATE, "sync-inventory", targets=targets, ref=0)


def sleeper(reaper: Reaper, tmp_path: Path) -> subprocess.Popen[str]:
    """`sleep 300`, once it shows as such (between fork and exec a command line is in flux)."""
    proc = start_process(reaper, ["sleep", "300"], dict(os.environ), tmp_path)
    wait_for(lambda: psutil.Process(proc.pid).cmdline() == ["sleep", "300"], 5, "its exec")
    return proc


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home").ensure()


def test_a_changed_identity_is_never_signalled(home: Home, reaper: Reaper, tmp_path: Path) -> None:
    proc = sleeper(reaper, tmp_path)
    p = psutil.Process(proc.pid)
    ex = executor(home)
    cases = {
        "gone (its pid now names another process)": target(p, create_time=p.create_time() - 5),
        "its command line changed": target(p, cmdline=("sleep", "301")),
        # The uid recorded for the target, not the watchdog's own (as root both are 0 here).
        "its user changed": target(p, uid=12345),
        "its working folder changed": target(p, cwd="/"),
        "no longer carries the mark": target(p, owner=Owner("upload-base", 4242, 1.0, str(home))),
    }
    for why, t in cases.items():
        out = ex.terminate(ending(t))
        assert why in out.result and proc.poll() is None


def test_a_daemon_whose_home_changed_is_never_signalled(
    home: Home, reaper: Reaper, tmp_path: Path
) -> None:
    fake = tmp_path / "ecauto" / "daemons" / "sync.py"  # runs as the sync daemon's file
    fake.parent.mkdir(parents=True)
    fake.write_text("import time\ntime.sleep(300)\n")
    cmd = [sys.executable, str(fake), "--home", str(home.root)]
    proc = start_process(reaper, cmd, dict(os.environ), tmp_path)
    p = wait_for(lambda: (x := psutil.Process(proc.pid)).cmdline() == cmd and x, 10, "its exec")
    ex = executor(home)
    out = ex.terminate(ending(target(p, home="/srv/another/var")))
    assert "its home changed" in out.result and proc.poll() is None
    out = ex.terminate(ending(target(p, home=str(home.root), cwd=str(tmp_path))))
    assert out.result == f"ended pid {proc.pid}"


@pytest.mark.parametrize("pid", [1, os.getpid(), os.getppid()])
def test_pid_1_the_watchdog_and_its_parent_are_never_signalled(home: Home, pid: int) -> None:
    p = psutil.Process(pid)
    out = executor(home).terminate(ending(target(p)))
    assert out.result.startswith("not signalled") and "never signalled" in out.result
    assert p.is_running()


def test_a_circusd_is_never_signalled(home: Home, reaper: Reaper, tmp_path: Path) -> None:
    fake = tmp_path / "circusd"
    fake.write_text("import time\ntime.sleep(300)\n")
    proc = start_process(
        reaper, [sys.executable, str(fake), "circus.ini"], dict(os.environ), tmp_path
    )
    p = wait_for(
        lambda: (x := psutil.Process(proc.pid)).cmdline()[1:2] == [str(fake)] and x,
        10,
        "it to start",
    )
    out = executor(home).terminate(ending(target(p)))
    assert "never signalled (a circusd)" in out.result and proc.poll() is None


def other_instance_ini(tmp_path: Path, sock: Path) -> Path:
    ini = tmp_path / "other.ini"
    ini.write_text(
        f"[circus]\nendpoint = ipc://{sock}/c.sock\npubsub_endpoint = ipc://{sock}/p.sock\n"
        "multicast_endpoint =\nstatsd = False\n"
    )
    return ini


def test_a_circusd_started_as_a_module_of_another_instance_is_never_signalled(
    home: Home, reaper: Reaper, tmp_path: Path
) -> None:
    # A real circusd of another instance: `python -m circus.circusd other.ini`.
    sock = Path(tempfile.mkdtemp(prefix="ecc-"))
    cmd = [
        sys.executable,
        "-X",
        "dev",
        "-m",
        "circus.circusd",
        str(other_instance_ini(tmp_path, sock)),
    ]
    proc = start_process(
        reaper,
        cmd,
        dict(os.environ),
        tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        p = wait_for(lambda: (x := psutil.Process(proc.pid)).cmdline() == cmd and x, 10, "it")
        out = executor(home).terminate(ending(target(p)))
        assert "never signalled (a circusd)" in out.result and proc.poll() is None
    finally:
        shutil.rmtree(sock, ignore_errors=True)


def test_a_circusd_child_of_an_ended_process_is_left_running(
    home: Home, reaper: Reaper, tmp_path: Path
) -> None:
    sock = Path(tempfile.mkdtemp(prefix="ecc-"))
    child_cmd = [sys.executable, "-m", "circus.circusd", str(other_instance_ini(tmp_path, sock))]
    code = f"import subprocess, time; subprocess.Popen({child_cmd!r}); time.sleep(300)"
    parent = start_process(reaper, [sys.executable, "-c", code], dict(os.environ), tmp_path)
    try:
        circusd = wait_for(
            lambda: [c for c in psutil.Process(parent.pid).children() if c.cmdline() == child_cmd],
            10,
            "its circusd child",
        )[0]
        reaper.track(circusd.pid)
        out = executor(home).terminate(ending(target(psutil.Process(parent.pid))))
        assert out.result == f"ended pid {parent.pid}"
        parent.wait(timeout=10)
        assert circusd.is_running() and circusd.status() != psutil.STATUS_ZOMBIE
    finally:
        shutil.rmtree(sock, ignore_errors=True)


def test_as_root_a_process_of_another_user_is_never_signalled(
    home: Home, reaper: Reaper, tmp_path: Path
) -> None:
    uid, gid = unprivileged_user(root_too=True)
    proc = start_process(reaper, ["sleep", "300"], dict(os.environ), Path("/"), user=uid, group=gid)
    p = wait_for(
        lambda: (x := psutil.Process(proc.pid)).cmdline() == ["sleep", "300"] and x, 5, "it"
    )
    assert p.uids().effective == uid
    out = executor(home).terminate(ending(target(p)))  # recorded as it is: that user's
    assert "another user's process" in out.result and proc.poll() is None


def test_as_an_unprivileged_user_only_its_own_unchanged_processes_are_signalled(
    home: Home, reaper: Reaper, tmp_path: Path
) -> None:
    uid, gid = unprivileged_user()
    root_sleeper = sleeper(reaper, tmp_path) if os.geteuid() == 0 else None
    theirs = target(psutil.Process(root_sleeper.pid)) if root_sleeper else None

    def as_that_user() -> dict[str, str]:
        mine = subprocess.Popen(["sleep", "300"], cwd="/")
        wait_for(lambda: psutil.Process(mine.pid).cmdline() == ["sleep", "300"], 5, "its exec")
        me = psutil.Process(mine.pid)
        ex = Processes()
        res = {
            "changed": ex.verify(target(me, uid=0 if uid else 1))[1],
            "root's": ex.verify(theirs)[1] if theirs else "another user's process",
        }
        p, _ = ex.verify(target(me))
        res["own"] = ex.end([p], 5.0) if p else "refused"
        mine.wait(timeout=5)
        return res

    res = as_user(uid, gid, as_that_user)
    assert res["changed"].startswith("its user changed")
    assert res["root's"] == "another user's process"
    assert res["own"].startswith("ended pid")
    if root_sleeper is not None:
        assert root_sleeper.poll() is None


def test_terminate_then_kill_the_survivors_children_included(
    home: Home, reaper: Reaper, tmp_path: Path
) -> None:
    parent = start_process(
        reaper, [sys.executable, "-c", STUBBORN], dict(os.environ), tmp_path, stdout=subprocess.PIPE
    )
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    reaper.track(child_pid)
    p = psutil.Process(parent.pid)
    out = executor(home, timeout_s=1.0).terminate(ending(target(p)))
    killed = out.result.split("killed ", 1)[1].split(" after")[0].split(", ")
    assert out.ok and sorted(killed) == sorted([str(parent.pid), str(child_pid)])
    parent.wait(timeout=10)  # (its status went to psutil, which reaped it: it is our child)
    wait_for(
        lambda: (
            not psutil.pid_exists(child_pid)
            or psutil.Process(child_pid).status() == psutil.STATUS_ZOMBIE
        ),
        10,
        "the child gone",
    )


def test_a_process_that_ends_on_sigterm_is_not_killed(
    home: Home, reaper: Reaper, tmp_path: Path
) -> None:
    proc = sleeper(reaper, tmp_path)
    out = executor(home, timeout_s=30).terminate(ending(target(psutil.Process(proc.pid))))
    assert out.result == f"ended pid {proc.pid}"  # not killed: it did end, no 30 s wait
    proc.wait(timeout=5)


def test_only_unheld_regular_files_inside_locks_are_removed(home: Home, tmp_path: Path) -> None:
    ex = executor(home)

    def remove(path: Path) -> str:
        return ex.remove_lock(Action(Do.REMOVE_LOCK, Kind.STALE_LOCK, "x", path=str(path))).result

    outside = tmp_path / "x.lock"
    outside.write_text("{}")
    assert remove(outside).startswith("not removed") and outside.exists()
    link = home.locks / "link.lock"
    link.symlink_to(outside)
    assert remove(link) == "not removed: not a regular file" and outside.exists()
    folder = home.locks / "dir.lock"
    folder.mkdir()
    assert remove(folder) == "not removed: not a regular file" and folder.is_dir()
    held = home.locks / "held.lock"
    held.write_text("{}")
    fd = os.open(held, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert remove(held) == "not removed: a process holds it now" and held.exists()
    finally:
        os.close(fd)
    assert remove(held) == "removed" and not held.exists()
    assert remove(held) == "already gone"


def test_events_hold_each_new_finding_once_with_its_result(home: Home) -> None:
    ex = executor(home)
    f = Finding(
        Kind.STALE_LOCK, Severity.INFO, "x", "lock file x.lock is left over", Do.REMOVE_LOCK, (42,)
    )
    lock = home.locks / "x.lock"
    lock.write_text("{}")
    act = Action(Do.REMOVE_LOCK, Kind.STALE_LOCK, "x", path=str(lock), ref=0)
    note = Finding(
        Kind.DOWN, Severity.WARNING, "y", "circusd reports it stopped", Do.ALERT, repeat=True
    )
    ex.run(Assessment((f, note), (act,), (), State()))
    lines = (home.watchdog / "events.jsonl").read_text().splitlines()
    assert len(lines) == 1  # the repeat is not written again
    rec = json.loads(lines[0])
    assert (rec["kind"], rec["daemon"], rec["pid"], rec["action"], rec["result"]) == (
        "stale_lock",
        "x",
        42,
        "remove_lock",
        "removed",
    )
    assert isinstance(rec["at"], float)


def test_processes_verify_accepts_the_same_process(reaper: Reaper, tmp_path: Path) -> None:
    proc = sleeper(reaper, tmp_path)
    p, why = Processes().verify(target(psutil.Process(proc.pid)))
    assert p is not None and p.pid == proc.pid and why == ""


# A daemon's shape: SIGTERM lets it finish (it says so in a file) and exit 0.
GRACEFUL = """
import pathlib, signal, sys, time
def stop(*_):
    pathlib.Path(sys.argv[1]).write_text("finished")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
print("ready", flush=True)
time.sleep(300)
"""


@pytest.mark.parametrize("frozen", [False, True])
def test_a_venv_launcher_pair_is_ended_through_its_interpreter(
    home: Home, reaper: Reaper, tmp_path: Path, frozen: bool
) -> None:
    """The interpreter is signalled and finishes; its launcher leaves by itself once it has (not
    signalled: its job object, on Windows, would kill the interpreter at once)."""
    exe = venv_launcher(tmp_path / ".venv")
    done = tmp_path / "done"
    launcher = start_process(
        reaper,
        [str(exe), "-c", GRACEFUL, str(done)],
        dict(os.environ),
        tmp_path,
        stdout=subprocess.PIPE,
    )
    assert launcher.stdout is not None and launcher.stdout.readline() == "ready\n"
    lp = psutil.Process(launcher.pid)
    (child,) = lp.children()
    reaper.track(child.pid)
    if frozen:  # both stopped (SIGSTOP): a hung copy
        for p in (lp, child):
            p.suspend()
        wait_for(lambda: child.status() == lp.status() == psutil.STATUS_STOPPED, 5, "stopped")
    ex = Executor(
        home,
        None,
        EventLog(home.watchdog / "events.jsonl"),
        term_timeout_s=10.0,
        processes=Processes(launchers=VenvLaunchers((str(tmp_path / ".venv"),))),
    )
    out = ex.terminate(ending(target(lp), target(child)))
    assert out.ok and out.result == f"ended pid {', '.join(sorted([str(lp.pid), str(child.pid)]))}"
    launcher.wait(timeout=10)  # (its exit status went to psutil, which reaped it)
    assert done.read_text() == "finished"  # the interpreter was not cut short
    assert not child.is_running()
