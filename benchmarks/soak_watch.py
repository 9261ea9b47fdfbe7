"""The soak's eyes: what runs, whether it is healthy, what the watchdog opened, sampled every tick.

One thread samples the instance every `tick_s` and keeps:
  - the live copies of each daemon and of circusd, identified here from command lines on our own
    (not with the watchdog's code, which is under test): `--home <our home>` and the module, or
    the path of an old-system script the soak started; episodes of two or more copies alive at
    once, with their length (the second copy's start to the first sample with one left);
  - health, per daemon: circusd answers and runs its watcher; exactly one copy, the one circusd
    manages; its heartbeat names that pid and is younger than the grace; the watchdog's own
    judgement (an in-process `watchdog report`: read-only) finds nothing above "info" about it;
  - the watchdog's incidents, from `<home>/watchdog/state.json`, with when each opened and
    closed: read by a thread of their own every 0.1 s, as a tick (an in-process report, a
    process scan) can take longer than `watchdog.recovery_s` (2 s) on a loaded machine, and an
    incident of a circusd killed twice in a row may last little more than that;
  - completed sync cycles, each checked once when first seen complete: every product's
    synced_at is at or after the cycle's start;
  - the sandbox's throttled counters, so a quota refusal is dated.
Faults register here; a fault has recovered at the first tick after it was lifted at which its
scope is healthy (see `Scope`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from soak_env import LEGACY, MANAGED, Lab

from ecauto.circusd import read_ini
from ecauto.home import Home
from watchdog import report as report_mod
from watchdog.service import Watchdog


@dataclass
class Scope:
    """What must be true again for a fault to count as recovered."""

    daemons: tuple[str, ...] = ()  # each healthy
    everything: bool = False  # every daemon healthy and the watchdog's report "ok"
    succeeded_after: tuple[str, ...] = ()  # these completed a cycle after the fault was lifted
    # Outbox entries (name, inode, mtime) queued when the fault was lifted: all delivered. (Not
    # "the outbox is empty": new incidents keep coming while other faults go on.)
    outbox_entries: frozenset[tuple[str, int, int]] | None = None
    gone: tuple[tuple[int, float], ...] = ()  # these processes (pid, create_time) have exited


@dataclass
class Fault:
    kind: str
    target: str
    detail: str = ""
    scheduled_at: float = 0.0
    injected_at: float | None = None
    lifted_at: float | None = None
    recovered_at: float | None = None
    scope: Scope = field(default_factory=Scope)
    notes: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    given_up: bool = False  # not recovered within the deadline
    old_gone_s: float | None = None  # circusd kills: when the last process of the old one went

    @property
    def recovery_s(self) -> float | None:
        if self.recovered_at is None or self.injected_at is None:
            return None
        return self.recovered_at - self.injected_at


@dataclass
class Episode:
    daemon: str
    start: float
    end: float | None = None
    pids: set[int] = field(default_factory=set)

    causes: str = ""  # the faults on this daemon (or circusd) in the 15 s before it began

    @property
    def length(self) -> float:
        return (self.end or time.time()) - self.start


@dataclass
class IncidentSeen:
    key: str
    kind: str
    daemon: str | None
    opened_at: float
    severity: str
    summaries: list[str]
    escalated: bool = False
    closed_seen: float | None = None


@dataclass
class Sample:
    t: float
    copies: dict[str, list[tuple[int, float]]]
    healthy: dict[str, bool]
    all_healthy: bool
    report_status: str
    circus_ok: bool
    managed: dict[str, tuple[int, ...]]
    last_success: dict[str, float]
    outbox: int
    why: dict[str, str]


def classify(cmdline: list[str], home: str, ini: str) -> str | None:
    """Which of the instance's programs `cmdline` runs, or None."""
    if not cmdline:
        return None
    joined = " ".join(cmdline)
    for daemon, pattern in LEGACY.items():
        if pattern in joined:
            return daemon
    if len(cmdline) >= 2 and os.path.basename(cmdline[1]) == "circusd" and ini in cmdline:
        return "circusd"
    try:
        i = cmdline.index("--home")
        if cmdline[i + 1] != home:
            return None
    except (ValueError, IndexError):
        return None
    if "ecauto.daemons.upload" in cmdline and "--platform" in cmdline:
        j = cmdline.index("--platform")
        return f"upload-{cmdline[j + 1]}" if j + 1 < len(cmdline) else None
    if "ecauto.daemons.sync" in cmdline:
        return "sync-inventory"
    if "-m" in cmdline and "watchdog" in cmdline and "run" in cmdline:
        return "watchdog"
    return None


class Monitor(threading.Thread):
    def __init__(
        self, lab: Lab, tick_s: float, fresh_s: float, deadline_s: float, stop: threading.Event
    ) -> None:
        super().__init__(name="soak-monitor", daemon=True)
        self.lab = lab
        self.tick_s = tick_s
        self.fresh_s = fresh_s
        self.deadline_s = deadline_s
        self.halt = stop
        self.home = str(lab.home)
        self.ini = str(lab.inst.ini)
        os.environ["ECAUTO_HOME"] = self.home  # as `watchdog report` reads the ini
        os.environ.update(lab.inst.circus_env)  # its endpoints
        self.dog = Watchdog(Home(lab.home), lab.cfg, read_ini(lab.inst.ini), None)
        self.lock = threading.Lock()
        self.latest: Sample | None = None
        self.samples = 0
        self.seen: dict[tuple[int, float], tuple[str, list[str]]] = {}  # every process ever seen
        self.episodes: list[Episode] = []
        self._open: dict[str, Episode] = {}
        self.incidents: dict[tuple[str, float], IncidentSeen] = {}
        self.sync_checked: dict[int, int] = {}  # run id -> products not synced in it
        self.sync_last_id = 0
        self.throttled: dict[str, int] = {}
        self.throttle_events: list[tuple[float, str, int]] = []
        self.faults: list[Fault] = []
        self.errors: list[str] = []
        self.reports: list[dict[str, Any]] = []  # a few of the reports, for the secrets check
        self._last_db = 0.0
        self._last_stats = 0.0
        self.issued: set[tuple[str, str]] = set()  # tokens the sandbox issued, as they rotate
        self.changed = threading.Condition(self.lock)

    # -- what faults use ----------------------------------------------------------------------
    def watch(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def sample(self) -> Sample | None:
        with self.lock:
            return self.latest

    def wait_sample(self, after: float, timeout: float) -> Sample | None:
        """The first sample taken after `after` (time.time), or None at the deadline."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while self.latest is None or self.latest.t <= after:
                left = deadline - time.monotonic()
                if left <= 0 or self.halt.is_set():
                    return None
                self.changed.wait(left)
            return self.latest

    # -- the loop -------------------------------------------------------------------------------
    def run(self) -> None:
        threading.Thread(target=self._watch_incidents, name="soak-incidents", daemon=True).start()
        while not self.halt.is_set():
            started = time.monotonic()
            try:
                self.tick()
            except Exception as e:  # noqa: BLE001 - the soak reports it; sampling goes on
                self.errors.append(f"{time.strftime('%H:%M:%S')} {type(e).__name__}: {e}")
            self.halt.wait(max(0.0, self.tick_s - (time.monotonic() - started)))

    def _watch_incidents(self) -> None:
        while not self.halt.is_set():
            self.incidents_tick(time.time())
            self.halt.wait(0.1)

    def tick(self) -> None:
        now = time.time()
        copies = self.scan()
        look = self.dog.look()
        snap, a = look.snapshot, look.assessment
        rep = report_mod.build(snap, a, look.state_before, self.lab.cfg.watchdog, [], None)
        if self.samples % 200 == 0:
            self.reports.append(rep.to_json())
        c = snap.circus
        circus_ok = c.answered and not c.reason and len(copies.get("circusd", [])) == 1
        managed = {n: tuple(c.pids.get(n, ())) for n in MANAGED} if circus_ok else {}
        bad = {f.daemon for f in a.findings if f.severity.value != "info"}
        healthy: dict[str, bool] = {}
        why: dict[str, str] = {}
        last_success: dict[str, float] = {}
        for name in MANAGED:
            live = copies.get(name, [])
            view = snap.heartbeats.get(name)
            hb = view.heartbeat if view else None
            if hb is not None and hb.last_success_at:
                last_success[name] = hb.last_success_at
            problem = ""
            if not circus_ok or c.statuses.get(name) != "active":
                problem = "circusd does not run it"
            elif len(live) != 1:
                problem = f"{len(live)} copies"
            elif managed.get(name) != (live[0][0],):
                problem = f"pid {live[0][0]} is not the managed one {managed.get(name)}"
            elif hb is None or hb.pid != live[0][0]:
                problem = "heartbeat unreadable or of another pid"
            elif now - hb.beat_at > self.fresh_s:
                problem = f"heartbeat {now - hb.beat_at:.1f} s old"
            elif name in bad:
                problem = "the watchdog finds something wrong"
            healthy[name] = not problem
            why[name] = problem
        all_healthy = all(healthy.values()) and rep.status == "ok"
        outbox = self.outbox_pending()
        s = Sample(
            now,
            copies,
            healthy,
            all_healthy,
            rep.status,
            bool(circus_ok),
            managed,
            last_success,
            outbox,
            why,
        )
        if now - self._last_db >= 1.0:
            self._last_db = now
            self.sync_tick()
        if now - self._last_stats >= 2.0:
            self._last_stats = now
            self.issued |= issued_tokens(self.lab.home / "secrets")
            self.stats_tick(now)
        with self.changed:
            self.latest = s
            self.samples += 1
            self.resolve(s)
            self.changed.notify_all()

    def scan(self) -> dict[str, list[tuple[int, float]]]:
        now = time.time()
        out: dict[str, list[tuple[int, float]]] = {}
        for p in psutil.process_iter(["pid", "cmdline", "create_time", "status"]):
            info = p.info
            if info["status"] == psutil.STATUS_ZOMBIE:
                continue
            name = classify(info["cmdline"] or [], self.home, self.ini)
            if name is None:
                continue
            ident = (info["pid"], info["create_time"])
            if ident not in self.seen:
                self.seen[ident] = (name, list(info["cmdline"] or []))
                known = self.lab.reaper.procs.get(info["pid"])
                if known is None or not known.is_running():  # a reused pid: track the new one
                    self.lab.reaper.procs[info["pid"]] = p  # reaped by pid at the end
            out.setdefault(name, []).append(ident)
        for name in set(out) | set(self._open):
            live = sorted(out.get(name, []), key=lambda x: x[1])
            ep = self._open.get(name)
            if len(live) >= 2:
                if ep is None:
                    ep = Episode(name, live[1][1])
                    ep.causes = self.causes(name, ep.start)
                    self._open[name] = ep
                    self.episodes.append(ep)
                ep.pids |= {pid for pid, _ in live}
            elif ep is not None:
                ep.end = now
                del self._open[name]
        return out

    def causes(self, daemon: str, start: float) -> str:
        with self.lock:
            faults = list(self.faults)
        near = sorted(
            {
                f.kind
                for f in faults
                if f.injected_at is not None
                and start - 15.0 <= f.injected_at <= start + 1.0
                and f.target in (daemon, "circusd")
            }
        )
        return ", ".join(near) or "none of the soak's"

    def outbox_entries(self) -> frozenset[tuple[str, int, int]]:
        """The alert entries waiting in the outbox, each as (name, inode, mtime_ns)."""
        folder = self.lab.home / "watchdog" / "outbox"
        out = set()
        try:
            names = os.listdir(folder)
        except OSError:
            return frozenset()
        for n in names:
            if n.startswith("n-") and n.endswith(".json"):
                try:
                    st = os.stat(folder / n)
                except OSError:
                    continue
                out.add((n, st.st_ino, st.st_mtime_ns))
        return frozenset(out)

    def outbox_pending(self) -> int:
        try:
            names = os.listdir(self.lab.home / "watchdog" / "outbox")
        except OSError:
            return 0
        return sum(1 for n in names if n.startswith("n-") and n.endswith(".json"))

    def incidents_tick(self, now: float) -> None:
        path = self.lab.home / "watchdog" / "state.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        with self.lock:
            self._incidents_seen(data, now)

    def _incidents_seen(self, data: dict[str, Any], now: float) -> None:
        current = set()
        for key, inc in (data.get("incidents") or {}).items():
            ident = (key, float(inc["opened_at"]))
            current.add(ident)
            seen = self.incidents.get(ident)
            if seen is None:
                self.incidents[ident] = IncidentSeen(
                    key, inc["kind"], inc.get("daemon"), ident[1], inc["severity"], [inc["summary"]]
                )
            elif inc["severity"] != seen.severity and inc["severity"] == "critical":
                seen.escalated = True
                seen.severity = "critical"
                seen.summaries.append(inc["summary"])
        for ident, seen in self.incidents.items():
            if seen.closed_seen is None and ident not in current:
                seen.closed_seen = now

    def sync_tick(self) -> None:
        db = sqlite3.connect(f"file:{self.lab.home / 'ecauto.db'}?mode=ro", uri=True, timeout=5)
        try:
            runs = db.execute(
                "SELECT id, started_at FROM sync_runs WHERE state = 'complete'"
                " AND id > ? ORDER BY id",
                (self.sync_last_id,),
            ).fetchall()
            for run_id, started in runs:
                behind = db.execute(
                    "SELECT COUNT(*) FROM products WHERE synced_at IS NULL OR synced_at < ?",
                    (started,),
                ).fetchone()[0]
                self.sync_checked[run_id] = int(behind)
                self.sync_last_id = max(self.sync_last_id, run_id)
        except sqlite3.OperationalError:
            pass  # the file does not exist yet, or is busy: next time
        finally:
            db.close()

    def stats_tick(self, now: float) -> None:
        try:
            stats = self.lab.get("/_sandbox/stats", timeout=3)
        except Exception:  # noqa: BLE001 - the sandbox may be slow under a fault; next time
            return
        for key, c in stats["endpoints"].items():
            n = int(c.get("throttled", 0))
            if n > self.throttled.get(key, 0):
                self.throttle_events.append((now, key, n))
            self.throttled[key] = n

    # -- recoveries ---------------------------------------------------------------------------
    def resolve(self, s: Sample) -> None:
        for f in self.faults:
            if f.recovered_at is not None or f.given_up or f.lifted_at is None:
                continue
            if s.t < f.lifted_at:
                continue
            if self.in_scope_healthy(f, s):
                f.recovered_at = s.t
            elif s.t - f.lifted_at > self.deadline_s:
                f.given_up = True
                bad = {d: s.why.get(d, "") for d in (f.scope.daemons or MANAGED) if s.why.get(d)}
                f.violations.append(
                    f"not recovered {self.deadline_s:g} s after it was lifted: {bad or s.report_status}"
                    + (f", {s.outbox} alerts queued" if f.scope.outbox_entries else "")
                )

    def in_scope_healthy(self, f: Fault, s: Sample) -> bool:
        sc = f.scope
        if not s.circus_ok:
            return False
        if sc.everything and not s.all_healthy:
            return False
        if not all(s.healthy.get(d, False) for d in sc.daemons):
            return False
        assert f.lifted_at is not None
        if any(s.last_success.get(d, 0.0) <= f.lifted_at for d in sc.succeeded_after):
            return False
        if sc.outbox_entries and self.outbox_entries() & sc.outbox_entries:
            return False
        return not any(alive(pid, ct) for pid, ct in sc.gone)


def alive(pid: int, create_time: float) -> bool:
    try:
        p = psutil.Process(pid)
        return abs(p.create_time() - create_time) < 0.05 and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def issued_tokens(folder: Path) -> set[tuple[str, str]]:
    """Access and refresh tokens the sandbox issued (kept, as they should be, in secrets/)."""
    out = set()
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for key in ("access_token", "refresh_token"):
            v = data.get(key) if isinstance(data, dict) else None
            if isinstance(v, str) and len(v) >= 12:
                out.add((f"{path.stem} {key}", v))
    return out


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return out
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out
