"""Real-process test support: polling with deadlines, reaping by pid, whole instances under circusd.

Every process a test starts is recorded here with its create_time and ended by pid (children
included) when the test ends; nothing is ever matched by name.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import psutil
import requests

from ecauto import roster
from ecauto.circusd import Control, python_word
from ecauto.config import AlertSettings, SandboxSettings
from ecauto.daemon.heartbeat import Heartbeat, read_heartbeat
from ecauto.sandbox.key import HEADER, key_path, load_or_create
from ecauto.sandbox.server import SandboxServer
from watchdog.alerts import Alerter, ChatworkTarget
from watchdog.notices import Notice

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
T = TypeVar("T")


# Debian's chromium for the browser tests and benchmarks/dashboard.py (never Playwright's own
# download); without the background-networking flags it keeps calling out of this closed network.
CHROMIUM = os.environ.get("ECAUTO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def wait_for(probe: Callable[[], T], timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - a probe may fail until the thing is up
            last_exc = e
        if time.monotonic() >= deadline:
            extra = f" (last error: {last_exc!r})" if last_exc else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{extra}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Reaper:
    """Remembers (pid, create_time) of what a test started; `reap` ends them and their children."""

    def __init__(self) -> None:
        self.procs: dict[int, psutil.Process] = {}

    def track(self, pid: int) -> psutil.Process:
        try:
            p = psutil.Process(pid)
        except psutil.NoSuchProcess:
            return None  # type: ignore[return-value]
        self.procs.setdefault(pid, p)
        return p

    def track_tree(self, pid: int) -> None:
        p = self.track(pid)
        if p is None:
            return
        try:
            for c in p.children(recursive=True):
                self.procs.setdefault(c.pid, c)
        except psutil.NoSuchProcess:
            pass

    def reap(self, timeout: float = 10.0) -> None:
        alive: list[psutil.Process] = []
        for p in list(self.procs.values()):
            try:
                if not p.is_running():  # psutil compares create_time: a reused pid is not ours
                    continue
                for c in p.children(recursive=True):
                    alive.append(c)
                alive.append(p)
            except psutil.NoSuchProcess:
                continue
        for p in alive:
            try:
                p.terminate()
            except psutil.NoSuchProcess:
                pass
        _, survivors = psutil.wait_procs(alive, timeout=timeout)
        for p in survivors:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(survivors, timeout=5)


def instance_env(home: Path, config: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ECAUTO_HOME=str(home),
        ECAUTO_CONFIG=str(config),
        PYTHONUNBUFFERED="1",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(BIN.parent),
    )
    env.pop("CIRCUSCTL_ENDPOINT", None)
    return env


FAST_CONFIG = """\
mode = "sandbox"

[sandbox]
port = {port}
spapi_rate = {spapi_rate}
spapi_burst = 1
market_period_s = 5
listing_failure_rate = 0.0

[spapi]
timeout_s = 5.0

[spapi.limits.getCompetitivePricing]
rate = {spapi_rate}
burst = 1

[base]
timeout_s = 5.0

[upload.base]
hourly_cap = 3600
interval_s = 2
retry_base_s = 1

[upload.ebay]
hourly_cap = 3600
interval_s = 2
retry_base_s = 1

[upload.yahoo]
hourly_cap = 3600
interval_s = 2
retry_base_s = 1

[sync]
interval_s = 3600

[daemon]
beat_s = 1

[dashboard]
port = {dashboard_port}
refresh_s = 1
died_red_s = 8

[demo]
products = {products}
listings = {listings}
"""


def write_config(
    path: Path,
    port: int,
    spapi_rate: float = 50.0,
    products: int = 1000,
    listings: int = 100,
    extra: str = "",
    dashboard_port: int | None = None,
) -> Path:
    path.write_text(
        FAST_CONFIG.format(
            port=port,
            spapi_rate=spapi_rate,
            products=products,
            listings=listings,
            dashboard_port=dashboard_port or free_port(),
        )
        + extra
    )
    return path


def sandbox_headers(home: Path) -> dict[str, str]:
    """What the sandbox's control endpoints want: the key of the instance whose home is `home`
    (made now if the sandbox has not made it yet)."""
    return {HEADER: load_or_create(key_path(home))}


def read_hb(home: Path, name: str) -> Heartbeat | None:
    try:
        return read_heartbeat(home / "heartbeats" / f"{name}.json")
    except (OSError, ValueError):
        return None


def read_lock(home: Path, name: str) -> dict[str, Any] | None:
    try:
        return json.loads((home / "locks" / f"{name}.lock").read_text())
    except (OSError, ValueError):
        return None


DAEMONS = ("upload-base", "upload-ebay", "upload-yahoo", "sync-inventory")
WATCHERS = ("sandbox", *DAEMONS, "dashboard", "watchdog")


class Instance:
    """A whole ecauto instance: the repo's circus.ini under a real circusd, in a temp folder.

    Its own home, config, sandbox port and circus endpoints (ipc sockets in a short private
    folder), so two runs on one machine never meet.
    """

    def __init__(
        self,
        root: Path,
        reaper: Reaper,
        config_extra: str = "",
        ini_edit: Callable[[str], str] | None = None,
        watchdog: bool = True,
        **config: Any,
    ) -> None:
        self.root = root
        self.reaper = reaper
        self.home = root / "home"
        self.port = free_port()
        self.dashboard_port = free_port()
        self.config = write_config(
            root / "ecauto.toml",
            self.port,
            extra=config_extra,
            dashboard_port=self.dashboard_port,
            **config,
        )
        # unix socket paths are limited to ~100 bytes: keep them short
        self.sockdir = Path(tempfile.mkdtemp(prefix="ecc-"))
        self.endpoint = f"ipc://{self.sockdir}/ctl.sock"
        text = (REPO / "circus.ini").read_text()
        self.watchers = WATCHERS
        if not watchdog:  # a test that drives `watchdog scan` itself, with no loop racing it
            text = re.sub(r"(?ms)^\[watcher:watchdog\].*?(?=^\[|\Z)", "", text)
            self.watchers = tuple(w for w in WATCHERS if w != "watchdog")
        if ini_edit:
            text = ini_edit(text)
        self.ini = root / "circus.ini"
        self.ini.write_text(text)
        # What the launcher sets for circusd (circus.ini reads them): the venv's interpreter by
        # absolute path, as one word of Circus's cmd, and the endpoints.
        self.circus_env = {
            "ECAUTO_PYTHON": python_word(sys.executable),
            "ECAUTO_ENDPOINT": self.endpoint,
            "ECAUTO_PUBSUB_ENDPOINT": f"ipc://{self.sockdir}/pub.sock",
        }
        self.env = dict(instance_env(self.home, self.config), **self.circus_env)
        self.ctl = Control(self.endpoint, timeout_s=2.0)
        self.circusd: subprocess.Popen[bytes] | None = None

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    def start(self, wait: Iterable[str] | None = None, timeout: float = 45.0) -> Instance:
        for d in ("log", "heartbeats", "locks"):
            (self.home / d).mkdir(parents=True, exist_ok=True)
        self.circusd = subprocess.Popen(
            [str(BIN / "circusd"), str(self.ini)],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            umask=0o077,  # as scripts/run starts it
        )
        self.reaper.track(self.circusd.pid)
        names = list(self.watchers if wait is None else wait)
        wait_for(
            lambda: all(self.status(n) == "active" for n in names),
            timeout,
            f"watchers {names} active",
        )
        for n in names:
            if n in roster.BEATING:
                wait_for(lambda n=n: self.fresh_heartbeat(n), timeout, f"fresh heartbeat of {n}")
        self.track_children()
        return self

    def track_children(self) -> None:
        if self.circusd is not None:
            self.reaper.track_tree(self.circusd.pid)

    def status(self, name: str) -> str:
        return str(self.ctl.call("status", name=name).get("status"))

    def pid(self, name: str) -> int:
        pids = self.ctl.pids(name)
        assert len(pids) == 1, f"{name} has pids {pids}"
        self.reaper.track(pids[0])
        return pids[0]

    def fresh_heartbeat(self, name: str, pid: int | None = None, max_age: float = 3.0) -> bool:
        hb = read_hb(self.home, name)
        if hb is None or time.time() - hb.beat_at > max_age:
            return False
        return pid is None or hb.pid == pid

    def replaced(self, name: str, old: int, timeout: float = 30) -> int:
        """The pid circusd runs `name` under instead of `old`, tracked, once it has beaten."""
        new = wait_for(
            lambda: (p := self.ctl.pids(name)) and p[0] != old and p[0], timeout, f"a new {name}"
        )
        self.reaper.track(new)
        wait_for(lambda: self.fresh_heartbeat(name, pid=new), 20, f"the new {name}'s heartbeat")
        return new

    def stats(self) -> dict[str, Any]:
        return dict(
            requests.get(
                f"{self.sandbox_url}/_sandbox/stats", headers=sandbox_headers(self.home), timeout=5
            ).json()
        )

    def circusctl(self, *args: str, busy_s: float = 20.0) -> subprocess.CompletedProcess[str]:
        """`circusctl <args>` as an operator types it, typed again while circusd refuses it for
        being busy with another command (CIRCUS_NOTES: "arbiter is already running ...": while
        any watcher stops or starts, circusd refuses every other start, stop and restart)."""
        env = dict(self.env, CIRCUSCTL_ENDPOINT=self.endpoint)
        deadline = time.monotonic() + busy_s
        while True:
            res = subprocess.run(
                [str(BIN / "circusctl"), *args],
                env=env,
                cwd=self.root,
                capture_output=True,
                text=True,
                timeout=30,
            )
            if "arbiter is already running" not in res.stderr or time.monotonic() > deadline:
                return res
            time.sleep(0.2)  # circusd's busy spell is over within a watcher's stop

    def watchdog(self, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        """`watchdog <args> --json` as an operator runs it here: (exit code, its JSON)."""
        res = subprocess.run(
            [str(BIN / "watchdog"), *args, "--json"],
            env=env or self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert res.stdout.strip(), res.stderr
        return res.returncode, json.loads(res.stdout)

    def watchdog_text(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`watchdog <args>` as an operator types it here: its exit code, lines and complaint."""
        return subprocess.run(
            [str(BIN / "watchdog"), *args],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def watcher_cmdline(self, name: str) -> list[str]:
        """The command line circusd runs for `name`, as an operator would copy it from `ps`."""
        return psutil.Process(self.pid(name)).cmdline()

    def __enter__(self) -> Instance:
        """Started (all watchers active, heartbeats fresh); stopped and reaped on leaving."""
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.track_children()
        if self.circusd is not None and self.circusd.poll() is None:
            try:
                self.ctl.quit()
            except Exception:  # noqa: BLE001 - it may already be gone; reaping follows anyway
                pass
            try:
                self.circusd.wait(timeout=40)
            except subprocess.TimeoutExpired:
                pass
        self.reaper.reap()
        shutil.rmtree(self.sockdir, ignore_errors=True)


def start_process(
    reaper: Reaper, args: list[str], env: dict[str, str], cwd: Path, **kw: Any
) -> subprocess.Popen[str]:
    p = subprocess.Popen(args, env=env, cwd=cwd, text=True, **kw)
    reaper.track(p.pid)
    return p


def send_signal(pid: int, sig: signal.Signals) -> None:
    os.kill(pid, sig)


# -- a sandbox process and daemons started by hand -------------------------------------------------


def start_sandbox(
    reaper: Reaper, root: Path, env: dict[str, str], port: int, home: Path, *flags: str
) -> subprocess.Popen[str]:
    """The sandbox as a real subprocess on `port` with its own home, once it answers."""
    p = start_process(
        reaper,
        [sys.executable, "-m", "ecauto.sandbox", "--port", str(port), "--home", str(home), *flags],
        env,
        root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: requests.get(f"{url}/_sandbox/health", timeout=2).ok, 20, "the sandbox")
    return p


class Rig:
    """A home, a fast config and a sandbox process (started with `flags`); daemons by hand."""

    def __init__(
        self,
        root: Path,
        reaper: Reaper,
        *flags: str,
        spapi_rate: float = 50.0,
        products: int = 1000,
        config_extra: str = "",
        listings: int = 100,
    ) -> None:
        self.root, self.reaper = root, reaper
        self.home = root / "home"
        self.port = free_port()
        self.config = write_config(
            root / "ecauto.toml",
            self.port,
            spapi_rate=spapi_rate,
            products=products,
            listings=listings,
            extra=config_extra,
        )
        self.env = instance_env(self.home, self.config)
        self.url = f"http://127.0.0.1:{self.port}"
        # The sandbox has a home of its own; the daemons' key is the one it must prove.
        key = ("--key-file", str(key_path(self.home)))
        start_sandbox(reaper, root, self.env, self.port, root / "sandbox-home", *key, *flags)

    def daemon(self, *args: str) -> subprocess.Popen[str]:
        """`python -m <args>` in the rig's environment, its output piped."""
        return start_process(
            self.reaper,
            [sys.executable, "-m", *args],
            self.env,
            self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def upload(self, platform: str = "base", *extra: str) -> subprocess.Popen[str]:
        return self.daemon("ecauto.daemons.upload", "--platform", platform, *extra)

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        p = self.daemon(*args)
        out, err = p.communicate(timeout=timeout)
        return subprocess.CompletedProcess(p.args, p.returncode, out, err)

    def sync_once(self) -> subprocess.CompletedProcess[str]:
        return self.run("ecauto.daemons.sync", "--once", timeout=90)

    def stats(self) -> dict[str, Any]:
        got = requests.get(
            f"{self.url}/_sandbox/stats", headers=sandbox_headers(self.home), timeout=5
        )
        return dict(got.json())

    def fault(self, **spec: object) -> None:
        requests.post(
            f"{self.url}/_sandbox/faults", json=spec, headers=sandbox_headers(self.home), timeout=5
        ).raise_for_status()

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.home / "ecauto.db", timeout=10)


class ManualClock:
    """Wall and monotonic time that move only when a test says so."""

    def __init__(self, wall: float = 1_800_000_000.0 + 60.0, mono: float = 5_000.0) -> None:
        self.wall = wall
        self.mono = mono

    def time(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


# -- alerts: an in-process sandbox for Chatwork, a hand-moved clock, an alerter -------------------

TOKEN = "cw-test-token-6f1d2c"  # distinctive, so a leak anywhere is found by a plain search
HOST = "shop-pc"


class Clock:
    """The alerter's wall clock; starts at the real time, moves only when told."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Sandbox:
    """The sandbox in this process on a free port (the `sandbox` fixture), seen as Chatwork."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.server = SandboxServer(SandboxSettings(host="127.0.0.1", port=0), home).start()
        self.url = self.server.url
        self.key = {HEADER: self.server.sandbox.key}  # the control endpoints want it

    def messages(self, room: str | None = None) -> list[dict[str, Any]]:
        got = requests.get(f"{self.url}/_sandbox/chatwork", headers=self.key, timeout=5).json()
        return [m for m in got if room is None or m["room"] == room]

    def requests_made(self) -> int:
        stats = requests.get(f"{self.url}/_sandbox/stats", headers=self.key, timeout=5).json()
        return int(stats["endpoints"]["chatwork.post"]["requests"])

    def fault(self, mode: str, seconds: float = 60.0) -> None:
        r = requests.post(
            f"{self.url}/_sandbox/faults",
            headers=self.key,
            timeout=5,
            json={"endpoint": "chatwork", "mode": mode, "seconds": seconds},
        )
        assert r.status_code == 200, r.text

    def clear(self) -> None:
        requests.delete(
            f"{self.url}/_sandbox/faults", headers=self.key, timeout=5
        ).raise_for_status()


def make(folder: Path, url: str, clock: Clock, room: str = "7", **settings: Any) -> Alerter:
    """An alerter with its outbox in `folder`, sending to the Chatwork at `url`."""
    target = ChatworkTarget(f"{url}/v2", room, TOKEN)
    return Alerter(folder, AlertSettings(**settings), HOST, target, clock)


def incident(
    key: str,
    clock: Clock,
    summary: str = "",
    daemon: str | None = "upload-base",
    kind: str = "incident",
    **details: str,
) -> Notice:
    return Notice(
        key, kind, "critical", daemon, summary or f"found {key}", "", dict(details), clock.now
    )


def deliver_all(alerter: Alerter, clock: Clock, step_s: float = 11.0, timeout: float = 10.0) -> int:
    """Deliver until nothing is pending, moving the clock past waits; returns messages sent."""
    sent = 0
    deadline = time.monotonic() + timeout
    while alerter.pending():
        assert time.monotonic() < deadline, "alerts still pending at the deadline"
        sent += alerter.deliver().sent
        clock.advance(step_s)
    return sent


def first_lines(messages: list[dict[str, Any]]) -> list[str]:
    return [m["body"].splitlines()[0] for m in messages]


UNPRIVILEGED = "ecauto-test"  # the system user identity tests drop to when they run as root


def unprivileged_user(*, root_too: bool = False) -> tuple[int, int]:
    """(uid, gid) of a user that is not root: this one, or (as root, as CI runs) a system user
    made once for the tests. Skips the test when there is none, or (`root_too`: the test needs
    root as well, to run one side as each) when this is not root."""
    import pwd

    import pytest

    if os.geteuid() != 0:
        if root_too:
            pytest.skip("needs root: one side runs as root, the other as another user")
        return os.geteuid(), os.getegid()
    try:
        pw = pwd.getpwnam(UNPRIVILEGED)
    except KeyError:
        res = subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                UNPRIVILEGED,
            ],
            capture_output=True,
            text=True,
        )
        try:
            pw = pwd.getpwnam(UNPRIVILEGED)
        except KeyError:
            pytest.skip(
                f"cannot create an unprivileged user ({res.stderr.strip() or res.returncode})"
            )
    return pw.pw_uid, pw.pw_gid


def as_user(uid: int, gid: int, fn: Callable[[], Any]) -> Any:
    """Run `fn` in a forked child that has dropped to (uid, gid); its JSON result comes back.

    A fork, not a new interpreter: the venv's Python may sit where that user cannot read
    (/root), and what is tested is this code running with a user's rights, not its start-up.
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            os.close(r)
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)
            out = json.dumps({"ok": fn()})
        except BaseException as e:  # noqa: BLE001 - everything goes back to the test
            out, code = json.dumps({"error": repr(e)}), 1
        os.write(w, out.encode())
        os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()  # until the child exits (the test's pytest-timeout bounds it)
    os.waitpid(pid, 0)
    answer = json.loads(data or b'{"error": "no answer"}')
    assert "error" not in answer, answer["error"]
    return answer["ok"]


def fill(path: Path) -> None:
    with open(path, "wb", buffering=0) as f:  # unbuffered: closing it has nothing left to fail
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
    # What is left is less than a page: one more byte in a new file must fail.
    probe = path.with_name("probe")
    try:
        with open(probe, "wb") as f:
            f.write(b"x" * 8192)
            f.flush()
            os.fsync(f.fileno())
    except OSError:
        pass
    finally:
        probe.unlink(missing_ok=True)


# What the test launcher does at startup, from its venv's site-packages (a .pth line runs it
# before Python reads its own command line): what CPython's venvlauncher.exe does on Windows.
_LAUNCH = """\
import ctypes, os, signal, subprocess, sys, site


def _tied() -> None:
    # The Windows launcher's job object kills its child when it dies: PR_SET_PDEATHSIG here.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


if os.environ.get("ECAUTO_TEST_LAUNCHED") == sys.executable:
    # The interpreter it started, which takes the launcher for its executable (as on Windows:
    # Python reads and clears __PYVENV_LAUNCHER__ at its start): the project's packages are
    # those of the venv the tests run from.
    site.addsitedir({packages!r})
else:
    _env = dict(os.environ, __PYVENV_LAUNCHER__=sys.executable, ECAUTO_TEST_LAUNCHED=sys.executable)
    _child = subprocess.Popen([{python!r}, *sys.orig_argv[1:]], env=_env, preexec_fn=_tied)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # it ignores Ctrl events; its child gets them
    _rc = _child.wait()
    os._exit(_rc if _rc >= 0 else 128 - _rc)
"""


def venv_launcher(venv: Path, python: str = sys.executable) -> Path:
    """A Windows venv launcher's shape on Linux: `<venv>/Scripts/python.exe`, a real executable
    of its own (a copy of the interpreter, so the OS names it as its image) that runs nothing
    itself: it starts `python` as its child with the same arguments, `__PYVENV_LAUNCHER__` set
    to its own path, waits, and exits with the child's code. The child, as on Windows, takes the
    launcher for its executable and the launcher's venv for its own."""
    base = os.path.realpath(python)
    exe = venv / "Scripts" / "python.exe"
    exe.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(base, exe)
    (venv / "pyvenv.cfg").write_text(
        f"home = {os.path.dirname(base)}\ninclude-system-site-packages = false\n"
    )
    v = sys.version_info
    site = venv / "lib" / f"python{v.major}.{v.minor}" / "site-packages"
    site.mkdir(parents=True, exist_ok=True)
    packages = next(p for p in sys.path if p.endswith("site-packages") and p.startswith(sys.prefix))
    (site / "_ecauto_launch.py").write_text(_LAUNCH.format(python=python, packages=packages))
    (site / "_ecauto_launch.pth").write_text("import _ecauto_launch\n")
    return exe
