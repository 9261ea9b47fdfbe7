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
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import psutil
import requests

from ecauto.daemon.heartbeat import Heartbeat, read_heartbeat
from ecauto.supervisor import Control

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
T = TypeVar("T")


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

[spapi.limits.getPricing]
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
) -> Path:
    path.write_text(
        FAST_CONFIG.format(port=port, spapi_rate=spapi_rate, products=products, listings=listings)
        + extra
    )
    return path


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
WATCHERS = ("sandbox", *DAEMONS, "watchdog")


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
        self.config = write_config(root / "ecauto.toml", self.port, extra=config_extra, **config)
        # unix socket paths are limited to ~100 bytes: keep them short
        self.sockdir = Path(tempfile.mkdtemp(prefix="ecc-"))
        self.endpoint = f"ipc://{self.sockdir}/ctl.sock"
        text = (REPO / "circus.ini").read_text()
        text = re.sub(r"(?m)^endpoint = .*$", f"endpoint = {self.endpoint}", text)
        text = re.sub(
            r"(?m)^pubsub_endpoint = .*$", f"pubsub_endpoint = ipc://{self.sockdir}/pub.sock", text
        )
        self.watchers = WATCHERS
        if not watchdog:  # a test that drives `watchdog scan` itself, with no loop racing it
            text = re.sub(r"(?ms)^\[watcher:watchdog\].*?(?=^\[|\Z)", "", text)
            self.watchers = tuple(w for w in WATCHERS if w != "watchdog")
        if ini_edit:
            text = ini_edit(text)
        self.ini = root / "circus.ini"
        self.ini.write_text(text)
        self.env = instance_env(self.home, self.config)
        self.ctl = Control(self.endpoint, timeout_s=2.0)
        self.circusd: subprocess.Popen[bytes] | None = None

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

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
            if n != "sandbox":
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

    def stats(self) -> dict[str, Any]:
        return dict(requests.get(f"{self.sandbox_url}/_sandbox/stats", timeout=5).json())

    def circusctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = dict(self.env, CIRCUSCTL_ENDPOINT=self.endpoint)
        return subprocess.run(
            [str(BIN / "circusctl"), *args],
            env=env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=30,
        )

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

    def watcher_cmdline(self, name: str) -> list[str]:
        """The command line circusd runs for `name`, as an operator would copy it from `ps`."""
        return psutil.Process(self.pid(name)).cmdline()

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


def start_sandbox(reaper: Reaper, root: Path, env: dict[str, str]) -> str:
    """A sandbox as a real subprocess on a free port; returns its base URL."""
    port_file = root / "sandbox.port"
    start_process(
        reaper,
        [sys.executable, "-m", "ecauto.sandbox", "--port", "0", "--port-file", str(port_file)],
        env,
        root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    port = wait_for(
        lambda: port_file.exists() and port_file.read_text().strip(), 20, "sandbox port file"
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: requests.get(f"{url}/_sandbox/health", timeout=2).ok, 20, "sandbox health")
    return url


def send_signal(pid: int, sig: signal.Signals) -> None:
    os.kill(pid, sig)
