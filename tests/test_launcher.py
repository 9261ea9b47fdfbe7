"""The launcher (`python -m ecauto`, `./ecauto.sh`): its Windows branch through the platform seam,
with the commands it would run recorded; and real instances started, refused, looked at and
stopped from a clone, as an operator does."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
from support import (
    BIN,
    DAEMONS,
    REPO,
    WATCHERS,
    Reaper,
    free_port,
    instance_env,
    wait_for,
    write_config,
)

from ecauto import launcher
from ecauto.circusd import CircusError, Control
from ecauto.config import ConfigError
from ecauto.home import Home, HomeError
from ecauto.launcher import Holder, verdict
from ecauto.platform import (
    CREATE_NEW_PROCESS_GROUP,
    CREATE_NO_WINDOW,
    Commands,
    Posix,
    Windows,
)

# -- the Windows branch, through the seam ---------------------------------------------------


class Recorder(Commands):
    """The seam's far side: records each program the platform would run, answers as Windows
    would (`whoami`'s CSV line, icacls's exit code), starts nothing."""

    def __init__(self, icacls_rc: int = 0) -> None:
        self.ran: list[list[str]] = []
        self.opened: list[tuple[list[str], dict[str, Any]]] = []
        self.icacls_rc = icacls_rc

    def run(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.ran.append(list(argv))
        if argv[0] == "whoami":
            return subprocess.CompletedProcess(
                argv, 0, '"shop-pc\\taro","S-1-5-21-1004336348-1177238915-682003330-1001"\n', ""
            )
        if self.icacls_rc:
            return subprocess.CompletedProcess(argv, self.icacls_rc, "", "Access is denied.\n")
        return subprocess.CompletedProcess(argv, 0, "processed file: x\n", "")

    def popen(self, argv: Sequence[str], **kw: Any) -> Any:
        self.opened.append((list(argv), kw))
        return subprocess.Popen([sys.executable, "-c", "pass"])  # a process that is done at once


HOME = Path("C:/ecauto/var") if os.name == "nt" else Path("/srv/ecauto/var")
CIRCUSD = [r"C:\ecauto\.venv\Scripts\python.exe", "-m", "circus.circusd", r"C:\ecauto\circus.ini"]


def test_windows_endpoints_are_loopback_tcp_on_a_port_the_operator_can_choose() -> None:
    win = Windows(Recorder())
    ends = win.endpoints(HOME, {})
    assert (ends.control, ends.pubsub) == ("tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556")
    ends = win.endpoints(HOME, {"ECAUTO_CIRCUS_PORT": "27100"})
    assert (ends.control, ends.pubsub) == ("tcp://127.0.0.1:27100", "tcp://127.0.0.1:27101")
    for bad in ("http", "80", "65535"):
        with pytest.raises(ConfigError, match="ECAUTO_CIRCUS_PORT"):
            win.endpoints(HOME, {"ECAUTO_CIRCUS_PORT": bad})
    posix = Posix(Recorder()).endpoints(HOME, {"ECAUTO_CIRCUS_PORT": "27100"})
    assert posix.control == f"ipc://{HOME}/circus/ctl.sock"
    assert posix.pubsub == f"ipc://{HOME}/circus/pub.sock"


def test_windows_home_gets_an_acl_for_this_user_only() -> None:
    rec = Recorder()
    Windows(rec).protect(HOME)
    assert rec.ran == [
        ["whoami", "/user", "/fo", "csv", "/nh"],
        [
            "icacls",
            str(HOME),
            "/inheritance:r",
            "/grant:r",
            "*S-1-5-21-1004336348-1177238915-682003330-1001:(OI)(CI)F",
        ],
    ]
    # What Windows runs: the argv joined by subprocess's rules (no quoting needed here).
    assert subprocess.list2cmdline(rec.ran[1]).endswith(
        "/grant:r *S-1-5-21-1004336348-1177238915-682003330-1001:(OI)(CI)F"
    )
    assert rec.opened == []


def test_windows_acl_refused_is_one_line() -> None:
    with pytest.raises(HomeError) as e:
        Windows(Recorder(icacls_rc=5)).protect(HOME)
    assert str(e.value) == f"cannot make {HOME} private to this user with icacls: Access is denied."


@pytest.mark.parametrize(
    ("detach", "flags", "quiet"),
    [
        (True, CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW, True),
        (False, CREATE_NEW_PROCESS_GROUP, False),
    ],
)
def test_windows_start_is_a_process_with_creation_flags_never_daemonize(
    detach: bool, flags: int, quiet: bool
) -> None:
    rec = Recorder()
    env = {"ECAUTO_HOME": str(HOME)}
    proc = Windows(rec).start(CIRCUSD, env, Path(r"C:\ecauto"), detach=detach)
    assert proc is not None  # circusd itself: the launcher watches it while it starts
    ((argv, kw),) = rec.opened
    assert argv == CIRCUSD  # no --daemon: "Daemonizing is not available on this platform"
    assert kw["creationflags"] == flags
    assert kw["creationflags"] == (0x08000200 if detach else 0x200)  # the Win32 values
    assert kw["env"] == env and kw["cwd"] == Path(r"C:\ecauto") and kw["close_fds"]
    assert "start_new_session" not in kw  # POSIX only
    quiet_fds = {k: kw.get(k) for k in ("stdin", "stdout", "stderr")}
    devnull = subprocess.DEVNULL
    want = {
        "stdin": devnull,
        "stdout": devnull if quiet else None,
        "stderr": devnull if quiet else None,
    }
    assert quiet_fds == want
    proc.wait()


def test_posix_detach_is_circusd_daemon_and_waits_for_its_first_process() -> None:
    rec = Recorder()
    assert Posix(rec).start(["circusd", "circus.ini"], {}, Path("/"), detach=True) is None
    ((argv, kw),) = rec.opened
    assert argv == ["circusd", "circus.ini", "--daemon"] and "creationflags" not in kw
    Posix(rec).start(["circusd", "circus.ini"], {}, Path("/"), detach=False)
    assert rec.opened[1][0] == ["circusd", "circus.ini"] and rec.opened[1][1]["start_new_session"]


def test_the_environment_names_the_interpreter_and_the_windows_endpoints(tmp_path: Path) -> None:
    environ = {"ECAUTO_HOME": "var", "ECAUTO_CONFIG": "shop.toml", "PATH": "/usr/bin"}
    inst = launcher.instance(Windows(Recorder()), environ, str(tmp_path))
    assert inst.home.root == tmp_path / "var"
    assert inst.ini == REPO / "circus.ini" and inst.root == REPO
    env = inst.env
    assert env["ECAUTO_HOME"] == str(tmp_path / "var")
    assert env["ECAUTO_CONFIG"] == str(tmp_path / "shop.toml")
    assert env["ECAUTO_PYTHON"] == sys.executable
    assert env["ECAUTO_ENDPOINT"] == env["CIRCUSCTL_ENDPOINT"] == "tcp://127.0.0.1:5555"
    assert env["ECAUTO_PUBSUB_ENDPOINT"] == "tcp://127.0.0.1:5556"
    assert environ == {"ECAUTO_HOME": "var", "ECAUTO_CONFIG": "shop.toml", "PATH": "/usr/bin"}


def test_an_ipc_endpoint_on_windows_is_one_line_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ini = tmp_path / "circus.ini"
    ini.write_text(
        "[circus]\nendpoint = ipc://$(circus.env.ECAUTO_HOME)/ctl.sock\n"
        "[watcher:sandbox]\ncmd = python -m ecauto.sandbox\n"
    )
    rec = Recorder()
    inst = launcher.instance(Windows(rec), {"ECAUTO_HOME": "var"}, str(tmp_path), str(ini))
    monkeypatch.setenv(
        "ECAUTO_HOME", str(inst.home.root)
    )  # what circus.ini's $(circus.env.X) reads
    with pytest.raises(CircusError) as e:
        launcher.run(inst, detach=True, timeout_s=1.0)
    assert str(e.value) == (
        f"{ini} names ipc://{tmp_path}/var/ctl.sock, which cannot work on windows: name "
        "$(circus.env.ECAUTO_ENDPOINT) and $(circus.env.ECAUTO_PUBSUB_ENDPOINT) there"
    )
    assert rec.ran == [] and rec.opened == [] and not (tmp_path / "var").exists()


H = Path("/srv/ecauto/var")

# (pid in the pidfile, what that pid is now, the verdict): only a live circusd of this home runs.
PIDFILES = [
    (None, None, "none"),
    (4242, None, "stale"),  # no such process (it died, the machine rebooted)
    (4242, Holder(4242, circusd=False, home=None), "stale"),  # the pid reused by a stranger
    (4242, Holder(4242, circusd=True, home="/srv/other/var"), "stale"),  # another instance's
    (4242, Holder(4242, circusd=True, home=None), "stale"),  # a circusd we cannot place
    (4242, Holder(4242, circusd=True, home="/srv/ecauto/var/"), "ours"),
]


@pytest.mark.parametrize(("pid", "holder", "want"), PIDFILES)
def test_pidfile_verdicts(pid: int | None, holder: Holder | None, want: str) -> None:
    assert verdict(pid, holder, H) == want


# -- real instances from the clone ----------------------------------------------------------


@pytest.fixture
def home(reaper: Reaper) -> Iterator[Path]:
    """A home in a short folder of its own (a unix socket path), with a space in its path;
    whatever a test left running there is stopped after, by pid."""
    where = Path(tempfile.mkdtemp(prefix="el "))
    try:
        yield where / "home"
    finally:
        _stop_left(where / "home", reaper)
        shutil.rmtree(where, ignore_errors=True)


def _stop_left(home: Path, reaper: Reaper) -> None:
    """Whatever a test left running in `home`: our circusd (its pidfile's pid, checked to be a
    circusd of this home) gets SIGTERM, Circus's quit; then all it started is reaped by pid."""
    pid = launcher.our_circusd(launcher.instance(Posix(), {"ECAUTO_HOME": str(home)}, "/"))
    if pid is None:
        return
    reaper.track_tree(pid)
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: launcher.holder(pid) is None, 60, "circusd gone")
    reaper.reap()


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    cfg = write_config(home.parent / "ecauto.toml", free_port(), products=100, listings=10)
    e = instance_env(home, cfg)
    # As a fresh shell has it: no venv on PATH, nothing activated.
    e["PATH"] = os.defpath
    for k in ("VIRTUAL_ENV", "ECAUTO_ENDPOINT", "ECAUTO_PUBSUB_ENDPOINT", "ECAUTO_PYTHON"):
        e.pop(k, None)
    return e


def ecauto(
    env: dict[str, str], cwd: Path, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`./ecauto.sh <args>` from the clone's shim, as the operator types it."""
    return subprocess.run(
        [str(REPO / "ecauto.sh"), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def errors(res: subprocess.CompletedProcess[str]) -> list[str]:
    return [
        ln
        for ln in res.stderr.splitlines()
        if ln.strip() and not ln.startswith("ecauto: installing")
    ]


def children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


@pytest.mark.process
@pytest.mark.timeout(240)
def test_run_status_restart_refuse_stop_as_the_operator_types_them(
    home: Path, env: dict[str, str], reaper: Reaper
) -> None:
    res = ecauto(env, home.parent, "run", "--daemon")
    assert res.returncode == 0, res.stderr
    assert errors(res) == []
    out = res.stdout.splitlines()
    assert out[0].endswith("each daemon beating") and f"ipc://{home}/circus/ctl.sock" in out[0]
    assert out[-1].startswith("ecauto: next: `./ecauto.sh status`")
    assert "alerts go to the sandbox's Chatwork" in out[-1]
    # the dashboard's address, and the link with its secret (README "Dashboard")
    page = next(ln for ln in out if ln.startswith("ecauto: dashboard at http://127.0.0.1:"))
    assert page.split("?key=")[1] == (home / "secrets" / "dashboard.key").read_text().strip()
    link = ecauto(env, home.parent, "dashboard", "--print")
    assert link.returncode == 0 and link.stdout.strip() == page.split("with its secret: ")[1]
    # and the page answers there, the link signing the browser in
    url = page.split("dashboard at ")[1].split(";")[0]
    wait_for(lambda: requests.get(f"{url}metrics", timeout=5).ok, 30, "the dashboard")
    signed = requests.get(link.stdout.strip(), timeout=10, allow_redirects=False)
    assert signed.status_code == 303 and "ecauto_dashboard=" in signed.headers["set-cookie"]
    circusd = launcher.read_pid(home / "circusd.pid")
    assert circusd is not None
    reaper.track_tree(circusd)
    kids = children(circusd)
    assert len(kids) >= len(WATCHERS)
    daemon = psutil.Process(Control(f"ipc://{home}/circus/ctl.sock").pids("upload-base")[0])
    assert daemon.environ()["ECAUTO_PYTHON"] == sys.executable
    assert daemon.environ()["ECAUTO_ENDPOINT"] == f"ipc://{home}/circus/ctl.sock"

    # A second start is refused in one line, and the first instance runs on untouched.
    again = ecauto(env, home.parent, "run", "--daemon")
    assert again.returncode == 1
    assert errors(again) == [
        f"ecauto: already running: circusd pid {circusd} of this home "
        "(`./ecauto.sh status`; `./ecauto.sh stop` first to restart it)"
    ]
    assert launcher.read_pid(home / "circusd.pid") == circusd

    status = ecauto(env, home.parent, "status")
    assert status.returncode == 0, status.stderr
    assert sorted(ln.split()[0] for ln in status.stdout.splitlines()) == sorted(WATCHERS)
    assert all(ln.split()[1] == "active" for ln in status.stdout.splitlines())

    ctl = Control(f"ipc://{home}/circus/ctl.sock", timeout_s=2.0)
    (old,) = ctl.pids("upload-ebay")
    res = ecauto(env, home.parent, "restart", "upload-ebay")
    assert res.returncode == 0, res.stderr
    (new,) = ctl.pids("upload-ebay")
    assert (
        new != old and res.stdout.strip() == f"ecauto: restarted upload-ebay (pid {old} -> {new})"
    )
    assert not psutil.pid_exists(old)
    bad = ecauto(env, home.parent, "restart", "upload-amazon")
    assert bad.returncode == 1 and len(errors(bad)) == 1 and "no watcher named" in bad.stderr

    report = ecauto(env, home.parent, "report", "--json")
    assert report.returncode in (0, 1), report.stderr  # ok, or a warning while it settles
    assert '"circusd"' in report.stdout

    kids = children(circusd)
    res = ecauto(env, home.parent, "stop")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"ecauto: stopped (circusd pid {circusd} gone after")
    assert not psutil.pid_exists(circusd) or launcher.holder(circusd) is None
    wait_for(lambda: not any(k.is_running() for k in kids), 10, "every daemon gone with circusd")

    # After the stop the pidfile is gone and the socket files stay: status knows at once.
    started = time.monotonic()
    res = ecauto(env, home.parent, "status")
    took = time.monotonic() - started
    assert res.returncode == 3
    assert res.stdout.strip() == f"ecauto: not running (home {home}; `./ecauto.sh run` starts it)"
    assert took < 3.0, (
        took
    )  # the python start-up (slow on a loaded machine), not Circus's 5 s "Timed out"
    assert ecauto(env, home.parent, "stop").returncode == 0  # nothing to stop is no error


@pytest.mark.process
@pytest.mark.timeout(240)
def test_a_restart_whose_new_process_ends_at_once_says_so_and_fails(
    home: Path, env: dict[str, str], reaper: Reaper
) -> None:
    # Given a running instance whose operator reads Japanese
    cfg = Path(env["ECAUTO_CONFIG"])
    cfg.write_text(cfg.read_text() + '[ui]\nlanguage = "ja"\n')
    res = ecauto(env, home.parent, "run", "--daemon")
    assert res.returncode == 0, res.stderr
    circusd = launcher.read_pid(home / "circusd.pid")
    assert circusd is not None
    reaper.track_tree(circusd)
    ctl = Control(f"ipc://{home}/circus/ctl.sock", timeout_s=2.0)
    (old,) = ctl.pids("upload-base")

    # When ecauto.toml gets a wrong value (the daemon exits 78 at its start) and it is restarted
    good = cfg.read_text()
    right = "[upload.base]\nhourly_cap = 3600\n"
    assert good.count(right) == 1
    cfg.write_text(good.replace(right, '[upload.base]\nhourly_cap = "x"\n'))
    res = ecauto(env, home.parent, "restart", "upload-base")

    # Then it says in one line that the new process ended at once, with its exit code, and
    # what to type next, and exits non-zero
    assert res.returncode == launcher.ENDED_AT_ONCE, (res.stdout, res.stderr)
    assert res.stdout == ""
    said = re.fullmatch(
        rf"ecauto: upload-base を再起動しました（pid {old} → (\d+)）が、新しいプロセスはすぐに"
        r"止まりました（終了コード 78 で終了）。原因は `./ecauto.sh report` で確認してください",
        "\n".join(errors(res)),
    )
    assert said and int(said[1]) != old, res.stderr

    # and once the value is right again a restart says it restarted, SETTLE_S later at most
    cfg.write_text(good)
    started = time.monotonic()
    res = ecauto(env, home.parent, "restart", "upload-base")
    took = time.monotonic() - started
    assert res.returncode == 0, (res.stdout, res.stderr)
    assert res.stdout.startswith("ecauto: upload-base を再起動しました（pid "), res.stdout
    (now,) = ctl.pids("upload-base")
    assert psutil.Process(now).is_running()
    print(f"healthy restart after the fix: {took:.2f}s")


@pytest.mark.process
@pytest.mark.timeout(240)
def test_a_pidfile_naming_a_dead_pid_or_a_live_stranger_is_cleared_and_the_stranger_untouched(
    home: Path, env: dict[str, str], reaper: Reaper
) -> None:
    # Given a home whose pidfile names a dead pid: it is removed.
    Home(home).ensure()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (home / "circusd.pid").write_text(f"{dead.pid}\n")
    inst = launcher.instance(Posix(), env, str(home.parent))
    assert launcher.clear_stale_pidfile(inst) == dead.pid
    assert not (home / "circusd.pid").exists()

    # Given a pidfile naming a live process that is no circusd (its pid reused, say).
    stranger = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, sys, time\n"
            "for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1):\n"
            "    signal.signal(s, lambda n, f: sys.exit(100 + n))\n"
            "time.sleep(600)",
        ],
    )
    reaper.track(stranger.pid)
    born = psutil.Process(stranger.pid).create_time()
    (home / "circusd.pid").write_text(f"{stranger.pid}\n")
    # When the instance is started: the stale pidfile goes, the start succeeds.
    res = ecauto(env, home.parent, "run", "--daemon")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0] == (
        f"ecauto: removed a stale circusd.pid (pid {stranger.pid} is no circusd of this home)"
    )
    circusd = launcher.read_pid(home / "circusd.pid")
    assert circusd is not None and circusd != stranger.pid
    reaper.track_tree(circusd)
    # Then the stranger runs on, never signalled (any signal would have ended it).
    assert stranger.poll() is None
    assert psutil.Process(stranger.pid).create_time() == born
    # And the pidfile of our live circusd is never taken for stale.
    assert launcher.clear_stale_pidfile(inst) is None
    assert launcher.read_pid(home / "circusd.pid") == circusd

    # When circusd dies hard, its pidfile and sockets stay: status still knows at once.
    os.kill(circusd, signal.SIGKILL)
    wait_for(lambda: launcher.holder(circusd) is None, 10, "circusd gone")
    assert launcher.read_pid(home / "circusd.pid") == circusd
    started = time.monotonic()
    res = ecauto(env, home.parent, "status")
    assert res.returncode == 3 and res.stdout.startswith("ecauto: not running"), res.stderr
    assert (
        time.monotonic() - started < 3.0
    )  # not a zmq timeout (5 s); python start-ups on a loaded machine
    assert stranger.poll() is None


@pytest.mark.process
@pytest.mark.timeout(240)
def test_the_foreground_launcher_stops_everything_on_sigterm(
    home: Path, env: dict[str, str], reaper: Reaper
) -> None:
    # As systemd and the Task Scheduler run it: `ecauto run` in the foreground.
    proc = subprocess.Popen(
        [str(REPO / "ecauto.sh"), "run"],
        env=env,
        cwd=home.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reaper.track(proc.pid)
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(2)]
    assert "each daemon beating" in lines[0], lines + [proc.stderr.read() if proc.stderr else ""]
    circusd = launcher.read_pid(home / "circusd.pid")
    assert circusd is not None and psutil.Process(circusd).ppid() == proc.pid
    reaper.track_tree(circusd)
    kids = children(circusd)
    assert len(kids) >= len(WATCHERS)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=90) == 0
    assert not psutil.pid_exists(circusd) or launcher.holder(circusd) is None
    wait_for(lambda: not any(k.is_running() for k in kids), 10, "every daemon gone")
    for name in DAEMONS:
        log = (home / "log" / f"{name}.log").read_text()
        assert "Traceback" not in log, name


@pytest.mark.process
@pytest.mark.timeout(240)
def test_bare_circusd_and_circusctl_from_the_clone_behave_as_the_readme_says(
    home: Path, env: dict[str, str], reaper: Reaper
) -> None:
    activate = REPO / ".venv" / "bin" / "activate"
    if "ecauto-instance-2" not in (activate.read_text() if activate.exists() else ""):
        pytest.skip("the venv was not made by scripts/run or scripts/test (no activate additions)")
    # In a fresh shell they are not there: `./ecauto.sh` is the way.
    res = subprocess.run(
        ["sh", "-c", "circusctl status"], env=env, cwd=REPO, capture_output=True, text=True
    )
    assert res.returncode == 127 and "not found" in res.stderr

    # In an activated shell, once the home is made, they reach this instance as typed.
    Home(home).ensure()

    def activated(command: str, **kw: Any) -> Any:
        line = f". {activate} && {command}"
        return subprocess.Popen(["bash", "-c", line], env=env, cwd=REPO, text=True, **kw)

    circusd = activated("exec circusd circus.ini", stdout=subprocess.DEVNULL)
    reaper.track(circusd.pid)
    names = set(WATCHERS)

    def listed() -> bool:
        out, _ = activated("circusctl status", stdout=subprocess.PIPE).communicate(timeout=30)
        return {ln.split(":")[0] for ln in out.splitlines() if ln.endswith(": active")} == names

    wait_for(listed, 60, "circusctl status listing every watcher active", interval=0.5)
    reaper.track_tree(circusd.pid)
    assert ecauto(env, home.parent, "status").returncode == 0  # the same instance
    assert ecauto(env, home.parent, "stop").returncode == 0
    assert circusd.wait(timeout=30) == 0
    # After the stop, circusctl says so at once instead of waiting for Circus's timeout.
    t0 = time.monotonic()
    out, err = activated(
        "circusctl status", stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ).communicate(timeout=30)
    assert time.monotonic() - t0 < 3.0
    assert err.startswith("ecauto: not running (no circusd at ipc://") and out == ""


@pytest.mark.process
@pytest.mark.timeout(240)
def test_bare_circusd_and_circusctl_without_activate_run_the_launcher_or_say_what_to_type(
    home: Path, env: dict[str, str], reaper: Reaper
) -> None:
    """`.venv/bin` on PATH but nothing activated: no ECAUTO_* variable, no CIRCUSCTL_ENDPOINT.
    Circus alone would die on `$(circus.env.ECAUTO_HOME)/log/circusd.log`."""
    env = dict(env, PATH=f"{BIN}{os.pathsep}{os.defpath}")
    env.pop("CIRCUSCTL_ENDPOINT", None)
    run = functools.partial(subprocess.run, env=env, cwd=REPO, capture_output=True, text=True)

    res = run(["circusctl", "status"], timeout=30)
    assert (res.returncode, res.stdout) == (3, "")
    assert res.stderr == (
        f"ecauto: not running (no circusd at ipc://{home}/circus/ctl.sock; `./ecauto.sh run` starts it)\n"
    )
    # With the shipped ecauto.toml (ui.language "ja"), in the operator's language
    shipped = {k: v for k, v in env.items() if k != "ECAUTO_CONFIG"}
    res = run(["circusctl", "status"], env=shipped, timeout=30)
    assert (res.returncode, res.stdout) == (3, "")
    assert res.stderr == (
        f"ecauto: 動いていません（ipc://{home}/circus/ctl.sock に circusd がいません。"
        "`./ecauto.sh run` で起動します）\n"
    )
    res = run(["circusd", "--log-level", "debug", "circus.ini"], timeout=30)
    assert res.returncode == 2 and len(res.stderr.splitlines()) == 1, res.stderr
    assert "runs through the launcher, which takes only --daemon" in res.stderr
    assert not home.exists()  # refused before anything was made

    circusd = subprocess.Popen(
        ["circusd", "circus.ini"], env=env, cwd=REPO, text=True, stdout=subprocess.PIPE
    )
    reaper.track(circusd.pid)
    assert circusd.stdout is not None
    first = circusd.stdout.readline()  # the launcher's line, once every daemon beats
    assert first.startswith(f"ecauto: circusd is running {len(WATCHERS)} watchers at ipc://{home}/")
    assert circusd.stdout.readline().startswith("ecauto: dashboard at http://127.0.0.1:")
    assert circusd.stdout.readline().startswith("ecauto: next: `./ecauto.sh status`")
    reaper.track_tree(circusd.pid)
    res = run(["circusctl", "status"], timeout=30)
    assert res.returncode == 0
    assert {ln.split(":")[0] for ln in res.stdout.splitlines() if ln.endswith(": active")} == set(
        WATCHERS
    )
    assert ecauto(env, home.parent, "stop").returncode == 0
    assert circusd.wait(timeout=30) == 0


# The launcher's Windows branch end to end on Linux: the seam records each command and starts
# circusd for real (without the Win32 creation flags Linux has no use for), on 127.0.0.1 TCP.
WINDOWS_SEAM = """
import json, subprocess, sys
from ecauto.launcher import main
from ecauto.platform import Commands, Windows

class Seam(Commands):
    def note(self, **what):
        with open(sys.argv[1], "a") as f:
            f.write(json.dumps(what) + "\\n")

    def run(self, argv):
        self.note(run=list(argv))
        sid = '"shop-pc\\\\taro","S-1-5-21-1-2-3-1001"' if argv[0] == "whoami" else ""
        return subprocess.CompletedProcess(argv, 0, sid, "")

    def popen(self, argv, **kw):
        self.note(popen=list(argv), creationflags=kw.pop("creationflags"))
        return subprocess.Popen(argv, start_new_session=True, **kw)

raise SystemExit(main(sys.argv[2:], platform=Windows(Seam())))
"""


@pytest.mark.process
@pytest.mark.timeout(240)
def test_the_windows_branch_runs_an_instance_on_loopback_tcp(
    home: Path, env: dict[str, str], reaper: Reaper
) -> None:
    # circus.ini with the endpoints from the launcher's environment, as on Windows.
    ini = home.parent / "circus.ini"
    text = (REPO / "circus.ini").read_text()
    text = re.sub(r"(?m)^endpoint = .*$", "endpoint = $(circus.env.ECAUTO_ENDPOINT)", text)
    text = re.sub(
        r"(?m)^pubsub_endpoint = .*$",
        "pubsub_endpoint = $(circus.env.ECAUTO_PUBSUB_ENDPOINT)",
        text,
    )
    ini.write_text(text)
    port = free_port()
    env = {**env, "ECAUTO_CIRCUS_PORT": str(port)}
    log = home.parent / "seam.jsonl"
    script = home.parent / "seam.py"
    script.write_text(WINDOWS_SEAM)

    def windows(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, str(script), str(log), "--ini", str(ini), *args]
        return subprocess.run(
            argv, env=env, cwd=home.parent, capture_output=True, text=True, timeout=120
        )

    res = windows("run", "--daemon")
    assert res.returncode == 0, res.stderr
    assert f"at tcp://127.0.0.1:{port}, each daemon beating" in res.stdout
    assert res.stdout.strip().splitlines()[-1].startswith("ecauto: next: `.\\ecauto.cmd status`")
    seen = [json.loads(line) for line in log.read_text().splitlines()]
    assert seen == [
        {"run": ["whoami", "/user", "/fo", "csv", "/nh"]},
        {
            "run": [
                "icacls",
                str(home),
                "/inheritance:r",
                "/grant:r",
                "*S-1-5-21-1-2-3-1001:(OI)(CI)F",
            ]
        },
        {
            "popen": [sys.executable, "-m", "circus.circusd", str(ini)],
            "creationflags": CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW,
        },
    ]
    circusd = launcher.read_pid(home / "circusd.pid")
    assert circusd is not None
    reaper.track_tree(circusd)
    listening = {
        c.laddr.port
        for c in psutil.Process(circusd).net_connections("tcp")
        if c.status == psutil.CONN_LISTEN
    }
    assert listening >= {port, port + 1}
    assert not (home / "circus" / "ctl.sock").exists()  # no unix socket on this branch

    status = windows("status")
    assert status.returncode == 0, status.stderr
    assert len(status.stdout.splitlines()) == len(WATCHERS)
    assert windows("stop").returncode == 0
    started = time.monotonic()
    res = windows("status")
    assert res.returncode == 3 and res.stdout.startswith("ecauto: not running")
    assert time.monotonic() - started < 3.0  # a refused connect, not a zmq timeout (5 s)


# -- start at boot: what the Task Scheduler and systemd are given ----------------------------

TASK = "{http://schemas.microsoft.com/windows/2004/02/mit/task}"


def test_the_task_scheduler_runs_the_launcher_in_the_foreground_and_restarts_it() -> None:
    import xml.etree.ElementTree as ET

    task = ET.parse(REPO / "scripts" / "windows" / "ecauto-circusd-task.xml").getroot()
    command = task.findtext(f"{TASK}Actions/{TASK}Exec/{TASK}Command")
    args = (task.findtext(f"{TASK}Actions/{TASK}Exec/{TASK}Arguments") or "").split()
    assert command is not None and command.endswith(r"\.venv\Scripts\python.exe")
    assert args[:2] == ["-m", "ecauto"] and args[-1] == "run"  # no --daemon: the foreground
    launcher.parser().parse_args(args[2:])  # the launcher takes these arguments
    settings = task.find(f"{TASK}Settings")
    assert settings is not None
    assert settings.findtext(f"{TASK}ExecutionTimeLimit") == "PT0S"
    assert settings.find(f"{TASK}RestartOnFailure") is not None
    assert task.find(f"{TASK}Triggers/{TASK}BootTrigger") is not None
    unit = (REPO / "scripts" / "systemd" / "ecauto-circusd.service").read_text()
    assert "\nExecStart=%h/ecauto/scripts/run\n" in unit  # which execs `python -m ecauto run`
    assert "exec python -m ecauto --ini" in (REPO / "scripts" / "run").read_text()


def test_the_daily_commands_speak_the_configured_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "ecauto.toml"
    cfg.write_text('[ui]\nlanguage = "ja"\n')
    monkeypatch.setenv("ECAUTO_CONFIG", str(cfg))
    home = tmp_path / "home"

    def status() -> str:
        cwd, environ = os.getcwd(), dict(os.environ)
        try:
            assert launcher.main(["--home", str(home), "status"], platform=Posix()) == 3
        finally:  # main() sets circusd's environment and stands where circusd would run
            os.chdir(cwd)
            os.environ.clear()
            os.environ.update(environ)
        return capsys.readouterr().out

    assert status() == f"ecauto: 動いていません（ホーム {home}。`./ecauto.sh run` で起動します）\n"
    cfg.write_text('[ui]\nlanguage = "en"\n')
    assert status().startswith("ecauto: not running (home ")


def test_a_bad_config_is_said_in_the_language_it_names(tmp_path: Path) -> None:
    cfg = tmp_path / "ecauto.toml"
    cfg.write_text('[ui]\nlanguage = "ja"\n[sync]\ninterval_sec = 5\n')
    env = dict(os.environ, ECAUTO_CONFIG=str(cfg), ECAUTO_HOME=str(tmp_path / "home"))
    res = subprocess.run(
        [str(BIN / "watchdog"), "report"], env=env, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 3 and len(res.stderr.splitlines()) == 1
    assert "不明な設定キー 'sync.interval_sec'" in res.stderr, res.stderr
    # The daily commands that need no config still speak the language the file names.
    res = subprocess.run(
        [str(BIN / "ecauto"), "status"], env=env, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 3 and res.stdout.startswith("ecauto: 動いていません"), res.stdout
