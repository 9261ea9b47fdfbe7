"""The soak's hands: a seeded schedule of faults, each carried out by a thread of its own.

Every kind gets its count of faults at stratified random times (the run cut into equal slots per
kind, one fault at a random moment of each slot), so a seed gives the same schedule and every
kind is spread over the whole run. Faults overlap; a few rules keep each one meaningful:
  - one daemon-targeted fault at a time per daemon (its "slot", held until the fault is lifted),
    aimed at a daemon that is healthy (waited for, up to `target_wait_s`); a target that is gone
    by the time it is hit (circusd replacing it) is let go and another one taken;
  - a circusd kill waits for a healthy instance (unless `harsh`), and excludes, from the kill
    until the new circusd runs every watcher, what needs circusd (finding the managed pid,
    stopping and starting a watcher);
  - one Chatwork outage and one circusd kill at a time; at most three sandbox faults at once.
Every wait is a poll with a deadline; every process started is tracked by pid for reaping.

The kinds, and what "lifted" means for each (recovery runs from injection to the first healthy
sample after that, see soak_watch.Scope):
  kill-daemon   SIGKILL the managed copy of a daemon; lifted at once
  kill-circusd  SIGKILL circusd, wait as an operator would (--operator-delay), start it again
                with the same command; lifted when it is started again; recovered when every
                process of the old circusd has gone and everything is healthy again
  sigstop       SIGSTOP the managed copy for its grace plus 1-3 s, then SIGCONT if it is still
                there (the watchdog normally restarts it first); lifted when it is gone or resumed
  dup-exact     start a copy with the watcher's exact command line (the managed copy's, as an
                operator copies it from `ps`): the lock must refuse it (exit 75, or ended by the
                watchdog while leaving); taking the lock while the same managed copy lived on is
                a violation
  dup-lockless  start the daemon's old-system script (a configured watchdog pattern; it sleeps
                and takes no lock): the watchdog must end it; lifted when it is gone
  stale-lock    stop the watcher through circusd, leave a lock file naming a dead pid (or, one
                time in three, an innocent live process), start the watcher again at once or
                once the watchdog removed the file; lifted when it is started again
  heartbeat     overwrite the managed copy's heartbeat in place: garbage, empty, cut in half, or
                naming a dead pid or an innocent process; lifted at once
  sandbox-*     a fault on the sandbox's API endpoints (429, 500, slow but within the clients'
                timeout, hang, dropped connections, lost answers) for 1-5 s on one platform or all of them;
                lifted when it expires; recovered when the daemons using it completed a cycle;
                `lost` (the request carried out, its answer dropped) on eBay or Yahoo only
  chatwork-down a fault on the Chatwork stand-in (down, hang, 500 or 429) for 1-5 s; recovered
                when every alert queued by the time it was lifted has been delivered
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import psutil
import requests
from soak_env import DAEMONS, LEGACY, Lab, Timings
from soak_watch import Fault, Monitor, Scope, alive

from ecauto.circusd import CircusError, Control

DAEMON_KINDS = ("kill-daemon", "sigstop", "dup-exact", "dup-lockless", "stale-lock", "heartbeat")
SANDBOX_MODES = {
    "sandbox-429": "429",
    "sandbox-500": "500",
    "sandbox-slow": "slow",
    "sandbox-hang": "hang",
    "sandbox-down": "down",
    "sandbox-lost": "lost",
}
# Answers lost after the request took effect: on the platforms whose listing is idempotent by
# SKU through their own look-up (eBay offers, Yahoo item codes). BASE's recovery from a lost
# items/add answer rests on its search, which lags (issue 10, item 2), so it is not chosen here.
LOST_ENDPOINTS = ("ebay", "yahoo")
KINDS = (
    "kill-daemon",
    "kill-circusd",
    "sigstop",
    "dup-exact",
    "dup-lockless",
    "stale-lock",
    "heartbeat",
    *SANDBOX_MODES,
    "chatwork-down",
)

# Endpoint patterns of the sandbox faults, and the daemons that call them. "[!c]*" is every
# endpoint but Chatwork's (a fault of its own kind).
ENDPOINTS = {
    "spapi": ("sync-inventory",),
    "lwa": ("sync-inventory",),
    "base": ("upload-base", "sync-inventory"),
    "ebay": ("upload-ebay",),
    "yahoo": ("upload-yahoo",),
    "[!c]*": DAEMONS,
}


class RWLock:
    """Many readers or one writer; a waiting writer keeps new readers out."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._waiting = 0

    @contextlib.contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._waiting:
                self._cond.wait(0.5)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._waiting += 1
            while self._writer or self._readers:
                self._cond.wait(0.5)
            self._waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class Skip(Exception):
    """The fault could not be set up (its target never became available): not injected."""


def schedule(
    kinds: tuple[str, ...], per_kind: int, start: float, span: float, seed: int
) -> list[tuple[float, str, int]]:
    """(offset in seconds, kind, index) for every fault, sorted by time."""
    rng = random.Random(f"schedule:{seed}")
    out = []
    for kind in kinds:
        slot = span / per_kind
        for i in range(per_kind):
            out.append((start + i * slot + rng.uniform(0.0, slot), kind, i))
    return sorted(out)


class Injector:
    def __init__(
        self,
        lab: Lab,
        monitor: Monitor,
        t: Timings,
        seed: int,
        halt: threading.Event,
        operator_delay: tuple[float, float],
        target_wait_s: float = 30.0,
        harsh: bool = False,
    ) -> None:
        self.lab, self.mon, self.t, self.seed, self.halt = lab, monitor, t, seed, halt
        self.operator_delay = operator_delay
        self.target_wait_s = target_wait_s
        self.harsh = harsh
        self.slots = {d: threading.Lock() for d in DAEMONS}
        self.circus = RWLock()
        self.chatwork = threading.Lock()
        self.circusd_kill = threading.Lock()
        self.sandbox_faults = threading.Semaphore(3)
        # Commands that may wait for a graceful stop get a longer fuse than support's 2 s.
        self.ctl = Control(lab.inst.endpoint, timeout_s=5.0, tries=10)
        self.faults: list[Fault] = []
        self.threads: list[threading.Thread] = []
        self.frozen: dict[tuple[int, float], psutil.Process] = {}
        self.started: list[subprocess.Popen[bytes]] = []
        self.log_path = lab.root / "soak-faults.log"
        self._log_lock = threading.Lock()
        self.legacy_dir = lab.root / "legacy"
        for pattern in LEGACY.values():
            script = self.legacy_dir / pattern
            script.parent.mkdir(parents=True, exist_ok=True)
            script.write_text("import time\ntime.sleep(3600)\n")

    # -- running the schedule -----------------------------------------------------------------
    def run(self, plan: list[tuple[float, str, int]], t0: float) -> None:
        """Start each fault at its time (monotonic, from t0); return once all are started."""
        for offset, kind, i in plan:
            if self.halt.wait(max(0.0, t0 + offset - time.monotonic())):
                return
            f = Fault(kind, "", scheduled_at=time.time())
            self.faults.append(f)
            self.mon.watch(f)
            th = threading.Thread(
                target=self._one, args=(f, i), name=f"fault-{kind}-{i}", daemon=True
            )
            self.threads.append(th)
            th.start()

    def join(self, timeout: float) -> list[str]:
        """Wait for every fault to be lifted; the names of those still running at the deadline."""
        deadline = time.monotonic() + timeout
        for th in self.threads:
            th.join(max(0.0, deadline - time.monotonic()))
        return [th.name for th in self.threads if th.is_alive()]

    def _one(self, f: Fault, i: int) -> None:
        rng = random.Random(f"{self.seed}:{f.kind}:{i}")
        try:
            if f.kind in DAEMON_KINDS:
                self._daemon_fault(f, rng)
            elif f.kind == "kill-circusd":
                self.kill_circusd(f, rng)
            elif f.kind in SANDBOX_MODES:
                self.sandbox(f, rng, SANDBOX_MODES[f.kind])
            elif f.kind == "chatwork-down":
                self.chatwork_down(f, rng)
            else:  # pragma: no cover - a kind without a handler is a bug of this file
                raise ValueError(f.kind)
        except Skip as e:
            f.notes.append(f"not injected: {e}")
        except Exception as e:  # noqa: BLE001 - one broken fault is reported, the soak goes on
            f.violations.append(f"the soak's fault failed: {type(e).__name__}: {e}")
        finally:
            if f.injected_at is not None and f.lifted_at is None:
                f.lifted_at = time.time()
            self.record(f)

    def record(self, f: Fault) -> None:
        line = json.dumps(
            {
                "kind": f.kind,
                "target": f.target,
                "detail": f.detail,
                "injected_at": f.injected_at,
                "lifted_at": f.lifted_at,
                "notes": f.notes,
                "violations": f.violations,
            }
        )
        with self._log_lock, open(self.log_path, "a", encoding="utf-8") as out:
            out.write(line + "\n")

    def _wait(self, probe: Callable[[], Any], timeout: float, step: float = 0.1) -> Any:
        """Poll `probe` until truthy; None at the deadline or when the soak is stopping."""
        deadline = time.monotonic() + timeout
        while True:
            v = probe()
            if v:
                return v
            if time.monotonic() >= deadline or self.halt.wait(step):
                return None

    # -- daemons --------------------------------------------------------------------------------
    def _daemon_fault(self, f: Fault, rng: random.Random) -> None:
        """Take a free daemon, wait for it to be healthy, inject; a target that turns out not
        to be there (circusd restarting it) is released and another try made."""
        handler = getattr(self, f.kind.replace("-", "_"))
        deadline = time.monotonic() + 300
        while True:
            daemon = self._take_slot(rng, deadline)
            try:
                f.target = daemon
                f.scope = Scope(daemons=(daemon,))
                healthy = self._wait(partial(self._healthy, daemon), self.target_wait_s)
                try:
                    handler(f, rng, daemon)
                except Skip as e:
                    if time.monotonic() >= deadline or self.halt.is_set():
                        raise
                    f.notes.append(f"retried: {e}")
                    continue
                if not healthy:
                    f.notes.append("target not healthy when injected")
                return
            finally:
                self.slots[daemon].release()
                if f.injected_at is None:
                    self.halt.wait(0.5)

    def _healthy(self, daemon: str) -> bool:
        s = self.mon.sample()
        return s is not None and s.healthy.get(daemon, False)

    def _take_slot(self, rng: random.Random, deadline: float) -> str:
        order = list(DAEMONS)
        rng.shuffle(order)
        while time.monotonic() < deadline and not self.halt.is_set():
            for d in order:
                if self.slots[d].acquire(blocking=False):
                    return d
            self.halt.wait(0.1)
        raise Skip("no daemon free")

    def _managed(self, daemon: str) -> psutil.Process:
        """The copy circusd manages now (asked afresh), verified alive and of this instance."""
        pids = self.ctl.pids(daemon)
        if len(pids) != 1:
            raise Skip(f"circusd manages {len(pids)} copies of {daemon}")
        p = psutil.Process(pids[0])
        if "ecauto.daemons" not in " ".join(p.cmdline()) or str(self.lab.home) not in p.cmdline():
            raise Skip(f"pid {p.pid} is not {daemon} of this home")
        return p

    def kill_daemon(self, f: Fault, rng: random.Random, daemon: str) -> None:
        with self.circus.read():
            p = self._managed(daemon)
            f.detail = f"pid {p.pid}"
            p.send_signal(signal.SIGKILL)  # psutil checks the pid is still this process
            f.injected_at = f.lifted_at = time.time()

    def sigstop(self, f: Fault, rng: random.Random, daemon: str) -> None:
        hold = self.t.grace_s + rng.uniform(1.0, 3.0)
        with self.circus.read():
            p = self._managed(daemon)
            p.send_signal(signal.SIGSTOP)
            f.injected_at = time.time()
            ident = (p.pid, p.create_time())
            self.frozen[ident] = p
        f.detail = f"pid {p.pid} for {hold:.1f} s"
        f.scope = Scope(daemons=(daemon,), gone=())
        try:
            gone = self._wait(lambda: not alive(*ident), hold)
            if gone:
                f.notes.append(f"ended by the watchdog after {time.time() - f.injected_at:.1f} s")
            else:
                f.notes.append("resumed by the soak")
        finally:
            self._resume(ident)
        f.lifted_at = time.time()

    def _resume(self, ident: tuple[int, float]) -> None:
        p = self.frozen.pop(ident, None)
        if p is not None and alive(*ident):
            with contextlib.suppress(psutil.NoSuchProcess):
                p.send_signal(signal.SIGCONT)

    def dup_exact(self, f: Fault, rng: random.Random, daemon: str) -> None:
        with self.circus.read():
            managed = self._managed(daemon)
            ident = (managed.pid, managed.create_time())
            cmdline = managed.cmdline()
            proc = self._start(cmdline, self.lab.inst.env, self.lab.root, capture=True)
            f.injected_at = time.time()
            f.detail = f"pid {proc.pid}"
            try:
                _, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate(timeout=10)
                f.violations.append("the exact copy did not leave within 30 s")
            # Still the same managed copy after the copy is gone: it held its lock all along.
            same = alive(*ident) and self.ctl.pids(daemon) == [ident[0]]
        f.lifted_at = time.time()
        text = err.decode("utf-8", "replace").strip()
        with self._log_lock, open(self.lab.root / "soak-dups.log", "a", encoding="utf-8") as out:
            out.write(f"{daemon} pid {proc.pid} exit {proc.returncode}: {text}\n")
        if "not started:" in text:
            # Refused by the lock. A copy slow to leave may be ended by the watchdog first (it
            # judges copies older than copy_settle_s), which is as good.
            f.notes.append(f"refused by the lock, exit {proc.returncode}")
            if proc.returncode not in (75, -signal.SIGTERM):
                f.violations.append(f"refused by the lock but exited {proc.returncode}")
        elif " started " in text:
            if same:
                f.violations.append(f"took the lock of pid {ident[0]}, which held it all along")
            else:
                f.notes.append("took the lock while circusd's copy was being replaced")
        else:
            f.notes.append(f"ended before it looked at the lock, exit {proc.returncode}")

    def dup_lockless(self, f: Fault, rng: random.Random, daemon: str) -> None:
        script = self.legacy_dir / LEGACY[daemon]
        env = {k: v for k, v in self.lab.inst.env.items() if k != "ECAUTO_HOME"}
        proc = self._start(
            [sys.executable, str(script), "--interval", "10800"], env, self.legacy_dir
        )
        f.injected_at = time.time()
        f.detail = f"pid {proc.pid}"
        ended = self._wait(lambda: proc.poll() is not None, 60)
        f.lifted_at = time.time()
        if ended:
            f.notes.append(
                f"ended after {f.lifted_at - f.injected_at:.1f} s, code {proc.returncode}"
            )
        elif not self.halt.is_set():
            f.violations.append("the copy that ignores the lock was not ended within 60 s")
            proc.kill()
            proc.wait(10)

    def stale_lock(self, f: Fault, rng: random.Random, daemon: str) -> None:
        innocent = rng.random() < 1 / 3
        wait_removal = rng.random() < 0.5
        lock = self.lab.home / "locks" / f"{daemon}.lock"
        with self.circus.read():
            old = self._managed(daemon)
            self.ctl.call("stop", name=daemon, waiting=False)
            f.injected_at = time.time()
            if not self._wait(lambda: not alive(old.pid, old.create_time()), 40):
                raise RuntimeError(f"{daemon} did not stop within 40 s")
            if innocent:
                assert self.lab.innocent is not None
                pid, ct = self.lab.innocent.pid, self.lab.innocent.create_time()
            else:
                pid, ct = self.lab.dead_pids[rng.randrange(len(self.lab.dead_pids))]
            owner = {
                "schema": 1,
                "name": daemon,
                "pid": pid,
                "create_time": ct,
                "hostname": socket.gethostname(),
                "cmdline": ["python", "-m", "old"],
                "started_at": time.time() - 3600,
                "home": str(self.lab.home),
            }
            lock.write_text(json.dumps(owner))
            f.detail = f"naming {'innocent' if innocent else 'dead'} pid {pid}"
            if wait_removal:
                removed = self._wait(lambda: not lock.exists(), 20)
                f.notes.append("removed by the watchdog" if removed else "not removed in 20 s")
            self.ctl.call("start", name=daemon, waiting=False)
            f.lifted_at = time.time()

    def heartbeat(self, f: Fault, rng: random.Random, daemon: str) -> None:
        path = self.lab.home / "heartbeats" / f"{daemon}.json"
        how = rng.choice(("garbage", "empty", "half", "dead pid", "innocent pid"))
        try:
            # Not read_text(): an earlier fault of this kind may have left garbage bytes there.
            good = path.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            good = "{}"
        if how == "garbage":
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 600)))
        elif how == "empty":
            data = b""
        elif how == "half":
            data = good[: len(good) // 2].encode()
        else:
            try:
                record = json.loads(good)
            except ValueError:
                record = {}
            if not isinstance(record, dict):  # a corrupt file may hold any JSON value
                record = {}
            if how == "dead pid":
                record["pid"], record["create_time"] = self.lab.dead_pids[0]
            else:
                assert self.lab.innocent is not None
                record["pid"] = self.lab.innocent.pid
                record["create_time"] = self.lab.innocent.create_time()
            record["beat_at"] = time.time()
            data = json.dumps(record).encode()
        with open(path, "wb") as out:  # in place, not atomically: as a bad write leaves it
            out.write(data)
        f.injected_at = f.lifted_at = time.time()
        f.detail = how

    # -- circusd ------------------------------------------------------------------------------
    def kill_circusd(self, f: Fault, rng: random.Random) -> None:
        f.target = "circusd"
        delay = rng.uniform(*self.operator_delay)
        with self.circusd_kill:
            if not self.harsh and not self._wait(
                lambda: (s := self.mon.sample()) and s.all_healthy, self.target_wait_s
            ):
                f.notes.append("instance not healthy when injected")
            with self.circus.write():
                self._kill_circusd(f, delay)
        self._wait_old_gone(f)

    def _kill_circusd(self, f: Fault, delay: float) -> None:
        inst = self.lab.inst
        s = self.mon.wait_sample(time.time(), 10)
        old_gen = tuple(
            x for n, lst in (s.copies.items() if s else ()) if n != "circusd" for x in lst
        )
        assert inst.circusd is not None
        old = inst.circusd
        os.kill(old.pid, signal.SIGKILL)
        f.injected_at = time.time()
        old.wait(timeout=10)
        f.detail = f"pid {old.pid}; started again after {delay:.1f} s"
        f.scope = Scope(everything=True, gone=old_gen)
        # Stopping meanwhile: start it all the same, so that the stop is an ordinary quit.
        self.halt.wait(delay)
        inst.start(wait=[])  # the same command, from the same folder, as an operator would
        f.lifted_at = time.time()
        if not self._wait(lambda: self._all_active(), 60, 0.2):
            f.violations.append("the new circusd did not run every watcher within 60 s")

    def _wait_old_gone(self, f: Fault) -> None:
        old_gen = f.scope.gone
        if not old_gen or f.injected_at is None:
            return
        if self._wait(lambda: not any(alive(*x) for x in old_gen), 60, 0.1):
            f.old_gone_s = time.time() - f.injected_at
            f.notes.append(f"old processes gone {f.old_gone_s:.1f} s after the kill")
        else:
            f.notes.append("old processes still there 60 s after the restart")

    def _all_active(self) -> bool:
        try:
            statuses = self.ctl.statuses()
        except CircusError:
            return False
        return all(statuses.get(n) == "active" for n in (*DAEMONS, "watchdog"))

    # -- the sandbox ----------------------------------------------------------------------------
    def sandbox(self, f: Fault, rng: random.Random, mode: str) -> None:
        endpoint = rng.choice(LOST_ENDPOINTS if mode == "lost" else sorted(ENDPOINTS))
        seconds = rng.uniform(1.0, 5.0)
        body: dict[str, Any] = {"endpoint": endpoint, "mode": mode, "seconds": seconds}
        if mode == "slow":
            # Slower than usual, but answered within the clients' timeout: a slow answer that
            # arrives after the caller gave up is a lost answer, another fault.
            body["delay_s"] = rng.uniform(0.2, 0.7 * self.t.http_timeout_s)
        users = ENDPOINTS[endpoint]
        f.target = endpoint
        f.detail = f"{seconds:.1f} s" + (f", +{body['delay_s']:.2f} s" if mode == "slow" else "")
        f.scope = Scope(daemons=users, succeeded_after=users)
        with self.sandbox_faults:
            self._post_fault(body)
            f.injected_at = time.time()
            f.lifted_at = f.injected_at + seconds
            self._wait(lambda: time.time() >= (f.lifted_at or 0), seconds + 1)

    def chatwork_down(self, f: Fault, rng: random.Random) -> None:
        mode = rng.choice(("down", "hang", "500", "429"))
        seconds = rng.uniform(1.0, 5.0)
        f.target = "chatwork"
        f.detail = f"{mode} for {seconds:.1f} s"
        with self.chatwork:
            self._post_fault({"endpoint": "chatwork", "mode": mode, "seconds": seconds})
            f.injected_at = time.time()
            end = f.injected_at + seconds
            most = 0
            while time.time() < end and not self.halt.wait(0.2):
                s = self.mon.sample()
                most = max(most, s.outbox if s else 0)
            # Recovered once what waited when Chatwork came back has all been delivered.
            f.scope = Scope(outbox_entries=self.mon.outbox_entries())
            f.lifted_at = end
            f.notes.append(f"alerts queued while down: up to {most}")

    def _post_fault(self, body: dict[str, Any]) -> None:
        r = requests.post(
            f"{self.lab.sandbox_url}/_sandbox/faults", json=body, headers=self.lab.key, timeout=5
        )
        if r.status_code != 200:
            raise RuntimeError(f"the sandbox refused the fault {body}: {r.text}")

    # -- processes the soak starts --------------------------------------------------------------
    def _start(
        self, args: list[str], env: dict[str, str], cwd: Path, capture: bool = False
    ) -> subprocess.Popen[bytes]:
        out = subprocess.PIPE if capture else subprocess.DEVNULL
        proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=out)
        self.lab.reaper.track(proc.pid)
        self.started.append(proc)
        return proc

    def cleanup(self) -> None:
        """Undo what may still be in force: frozen processes resumed, sandbox faults cleared."""
        for ident in list(self.frozen):
            self._resume(ident)
        with contextlib.suppress(requests.RequestException):
            requests.delete(
                f"{self.lab.sandbox_url}/_sandbox/faults", headers=self.lab.key, timeout=5
            )
