"""Chaos soak: a whole instance under faults, and the promises it must keep while they happen.

    .venv/bin/python benchmarks/soak.py --minutes 10 --seed 1 [--interval-s 10] [--keep]

A whole instance from the repo's circus.ini (circusd, the four daemons, the watchdog; timings
scaled down, see soak_env.py) runs against the sandbox (beside it, see soak_market.py) while a
seeded injector (soak_faults.py) throws at it, at random times: kill -9 of a daemon and of
circusd (started again as an operator would), SIGSTOP past the grace, copies started by hand
(exact command line, and an old-system script that ignores the lock), stale locks, broken
heartbeats, the sandbox answering 429, 500, slowly, not at all, or hanging up, and Chatwork
down. A listing feeder keeps every upload daemon busy. When the faults are done, everything is
lifted, the instance is given time to recover, and then it is stopped.

Invariants, each printed with its count of violations (all must be 0; exit code 1 otherwise):
  - at most one live copy of each daemon, and of circusd, except for less than --settle-s
    (episodes of two copies are measured from the second copy's start; the longest is shown);
  - no request refused for quota at the sandbox (its `throttled` counts only real refusals;
    injected 429s are counted apart);
  - no listing lost, none listed twice, none listed but not recorded, none left 'uploading';
  - every completed sync cycle read every product (checked as each completes, in the DB);
  - PRAGMA integrity_check of ecauto.db and quota.db;
  - every incident alerted once and its recovery once, none lost while Chatwork was down
    (soak_checks.py says how alerts are matched);
  - every fault recovered within --recovery-deadline-s of being lifted; exact copies refused by
    the lock; copies that ignore the lock ended;
  - `watchdog report --json` says ok once everything has recovered;
  - nothing of the instance left running once circusd has quit (by pid and create_time);
  - the innocent process named in bad files is never signalled;
  - no configured or issued token in any file the instance wrote (but secrets/), in any report,
    or in any alert received.
Recovery of a fault: from its injection to the first sample after it was lifted at which what it
touched is healthy again (the right number of copies, circusd's own, a fresh heartbeat naming it,
nothing above "info" in the watchdog's report; per kind in soak_faults.py).

`--interval-s` is the mean time between two faults of one kind (so --minutes 10 --interval-s 10
is 60 faults of each kind); `--faults-per-kind` sets the count directly. circusd is killed only
when the instance is healthy and started again 1.5-4 s later; `--harsh` kills it whatever the
state and starts it again within a second, which finds two races of the watchdog's (an orphaned
watchdog that never leaves). Every process the soak starts is ended by pid when it ends, on
success, failure, Ctrl+C or SIGTERM; the temp folder is kept when something failed (or --keep).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from soak_checks import Check, alerts, integrity, listings, quota, secrets_check, sync_cycles  # noqa: E402
from soak_env import (  # noqa: E402
    MANAGED,
    PLATFORMS,
    Lab,
    Timings,
    make_lab,
    short_tmp,
    start_bystanders,
    start_market,
)
from soak_faults import KINDS, Injector, schedule  # noqa: E402
from soak_watch import Monitor, alive  # noqa: E402
from support import BIN, Reaper  # noqa: E402

from ecauto.store import Store  # noqa: E402


@dataclass
class Options:
    minutes: float = 3.0
    seed: int = 1
    interval_s: float = 10.0
    faults_per_kind: int | None = None
    settle_s: float = 10.0
    # Several of the alerts' longest back-offs after Chatwork failures (30 s).
    recovery_deadline_s: float = 150.0
    operator_delay: tuple[float, float] = (1.5, 4.0)
    watchdog_interval_s: float = 0.5
    tick_s: float = 0.25
    products: int = 200
    keep: bool = False
    progress: bool = True
    harsh: bool = False
    settle_timeout_s: float = 240.0  # after the last fault, for recoveries and the alert backlog

    @property
    def per_kind(self) -> int:
        if self.faults_per_kind:
            return self.faults_per_kind
        return max(1, math.floor(self.minutes * 60 / self.interval_s))


@dataclass
class Result:
    opts: Options
    faults: list[Any] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    root: str = ""

    @property
    def violations(self) -> int:
        return sum(c.violations for c in self.checks)

    def table(self) -> str:
        o = self.opts
        out = [
            f"ecauto soak: {o.minutes:g} min of faults, seed {o.seed}, {len(self.faults)} faults, "
            f"{self.seconds:.0f} s in all (home {self.root})",
            f"circusd started again {o.operator_delay[0]:g}-{o.operator_delay[1]:g} s after its "
            f"kill" + (", harsh: circusd killed whatever the instance's state" if o.harsh else ""),
            "",
        ]
        out.append(
            f"{'fault kind':<15} {'injected':>8} {'recovered':>9} {'longest':>9} "
            f"{'median':>8}  longest on"
        )
        for kind in KINDS:
            mine = [f for f in self.faults if f.kind == kind and f.injected_at is not None]
            rec = [f for f in mine if f.recovery_s is not None]
            worst = max(rec, key=lambda f: f.recovery_s, default=None)
            longest = f"{worst.recovery_s:.1f} s" if worst else "-"
            median = f"{statistics.median(f.recovery_s for f in rec):.1f} s" if rec else "-"
            where = f"{worst.target} {worst.detail}"[:40] if worst else ""
            out.append(f"{kind:<15} {len(mine):>8} {len(rec):>9} {longest:>9} {median:>8}  {where}")
        total = [f for f in self.faults if f.injected_at is not None]
        out.append(f"{'all':<15} {len(total):>8} {sum(f.recovery_s is not None for f in total):>9}")
        out += ["", f"{'invariant':<72} {'violations':>10}"]
        for c in self.checks:
            out.append(f"{c.name[:72]:<72} {c.violations:>10}")
            if c.detail:
                out.append(f"    {c.detail}")
            for e in c.examples:
                out.append(f"    ! {e}")
        out.append(f"{'TOTAL':<72} {self.violations:>10}")
        if self.notes:
            out += ["", *self.notes]
        return "\n".join(out)


class Feeder(threading.Thread):
    """Queues one new listing per platform every `every_s`, as the shop's operator would."""

    def __init__(self, lab: Lab, every_s: float, halt: threading.Event) -> None:
        super().__init__(name="soak-feeder", daemon=True)
        self.lab, self.every_s, self.halt = lab, every_s, halt
        self.queued = 0
        self.errors = 0

    def run(self) -> None:
        store = Store(self.lab.home / "ecauto.db")
        try:
            n = 0
            while not self.halt.wait(self.every_s):
                for platform in PLATFORMS:
                    sku = f"SOAK-{n:06d}"
                    payload = {
                        "sku": sku,
                        "title": f"Soak item {n}",
                        "price": 1000 + n % 900,
                        "stock": 1 + n % 4,
                    }
                    try:
                        store.enqueue(platform, sku, payload, time.time())
                        self.queued += 1
                    except Exception:  # noqa: BLE001 - a busy database: the next one
                        self.errors += 1
                n += 1
        finally:
            store.close()


def _say(opts: Options, text: str) -> None:
    if opts.progress:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def run_soak(opts: Options) -> Result:
    res = Result(opts)
    started = time.monotonic()
    t = Timings(watchdog_interval_s=opts.watchdog_interval_s)
    reaper = Reaper()
    halt = threading.Event()
    feeding = threading.Event()
    root = short_tmp()
    res.root = str(root)
    span_s = opts.minutes * 60
    listings_per_platform = 20
    lab = make_lab(root, reaper, opts.seed, t, opts.products, listings_per_platform)
    mon: Monitor | None = None
    inj: Injector | None = None
    feeder: Feeder | None = None
    stopped_cleanly = False
    try:
        start_market(lab)
        start_bystanders(lab)
        lab.inst.start(wait=MANAGED, timeout=90)
        mon = Monitor(lab, opts.tick_s, t.grace_s + 1.0, opts.recovery_deadline_s, halt)
        mon.start()
        if not _until(lambda: (s := mon.sample()) and s.all_healthy, 60):
            raise RuntimeError("the instance never became healthy before the first fault")
        feeder = Feeder(lab, t.upload_interval_s, feeding)
        feeder.start()
        inj = Injector(lab, mon, t, opts.seed, halt, opts.operator_delay, harsh=opts.harsh)
        plan = schedule(KINDS, opts.per_kind, 3.0, max(1.0, span_s - 6.0), opts.seed)
        _say(opts, f"soak started: {len(plan)} faults over {span_s:.0f} s, home {lab.home}")
        ticker = threading.Thread(
            target=_progress, args=(opts, mon, inj, halt, started), daemon=True
        )
        ticker.start()
        inj.run(plan, time.monotonic())
        unfinished = inj.join(timeout=240)
        if unfinished:
            res.notes.append(f"faults still running at the end: {unfinished}")
        feeding.set()
        inj.cleanup()
        _say(opts, "faults done; waiting for the instance to recover and settle")
        settled = _until(lambda: _settled(lab, mon), opts.settle_timeout_s, 0.5)
        if not settled:
            res.notes.append(
                f"the instance did not settle within {opts.settle_timeout_s:g} s after the last "
                "fault: " + _why_unsettled(lab, mon)
            )
        cutoff = time.time()
        res.checks.append(_final_report(lab))
        stats = lab.get("/_sandbox/stats")
        held = lab.holdings()
        res.checks.append(_copies_check(mon, opts.settle_s))
        res.checks.append(quota(stats))
        res.checks += listings(lab, stats, held)
        sync_check, _ = sync_cycles(lab, mon.sync_checked)
        res.checks.append(sync_check)
        res.checks.append(integrity(lab))
        with mon.lock:  # its incidents thread goes on meanwhile
            seen = dict(mon.incidents)
        alert_checks, _ = alerts(lab, seen, cutoff, opts.tick_s)
        res.checks += alert_checks
        res.faults = list(inj.faults)
        res.checks.append(_fault_check(res.faults))
        # Stop it as an operator would, then look for anything of it still running.
        halt.set()
        mon.join(10)
        leftovers = _stop_and_look(lab, mon)
        stopped_cleanly = True
        res.checks.append(leftovers)
        res.checks.append(_bystander_check(lab))
        reports = root / "soak-reports.json"
        reports.write_text(json.dumps(mon.reports))
        res.checks.append(
            secrets_check(
                lab,
                [
                    reports,
                    root / "soak-final-report.json",
                    root / "soak-dups.log",
                    root / "soak-faults.log",
                    root / "market.log",
                    lab.market_home / "sandbox" / "chatwork.jsonl",
                ],
                mon.issued,
            )
        )
        res.notes += _figures(lab, mon, feeder, stats, res.faults)
    finally:
        halt.set()
        feeding.set()
        if inj is not None:
            inj.cleanup()
        if mon is not None:
            mon.join(10)
        if not stopped_cleanly:
            try:
                lab.inst.stop()
            except Exception as e:  # noqa: BLE001 - reaping by pid follows regardless
                res.notes.append(f"stopping the instance failed: {e!r}")
        reaper.reap()
        shutil.rmtree(lab.inst.sockdir, ignore_errors=True)
        res.seconds = time.monotonic() - started
        if not opts.keep and stopped_cleanly and res.violations == 0:
            shutil.rmtree(root, ignore_errors=True)
            res.root = f"{root} (removed)"
    return res


def _until(probe: Any, timeout: float, step: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        v = probe()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


def _settled(lab: Lab, mon: Monitor) -> bool:
    s = mon.sample()
    if s is None or not s.all_healthy or s.outbox:  # everything delivered, too
        return False
    if any(i.closed_seen is None for i in mon.incidents.values()):
        return False
    if any(
        f.lifted_at is not None and f.recovered_at is None and not f.given_up for f in mon.faults
    ):
        return False
    return _listings_pending(lab) == 0


def _listings_pending(lab: Lab) -> int:
    import sqlite3

    db = sqlite3.connect(f"file:{lab.home / 'ecauto.db'}?mode=ro", uri=True, timeout=10)
    try:
        return int(
            db.execute(
                "SELECT COUNT(*) FROM listings WHERE state IN ('queued', 'uploading')"
            ).fetchone()[0]
        )
    finally:
        db.close()


def _why_unsettled(lab: Lab, mon: Monitor) -> str:
    s = mon.sample()
    parts = []
    if s is not None:
        parts.append(
            f"report {s.report_status}; " + ", ".join(f"{d}: {w}" for d, w in s.why.items() if w)
        )
        parts.append(f"{s.outbox} alerts queued")
    parts.append(f"{sum(i.closed_seen is None for i in mon.incidents.values())} incidents open")
    parts.append(f"{_listings_pending(lab)} listings queued or uploading")
    return "; ".join(parts)


def _final_report(lab: Lab) -> Check:
    """`watchdog report --json`, the operator's command, once everything has recovered."""
    c = Check("`watchdog report` says ok once everything has recovered")
    out = lab.root / "soak-final-report.json"
    try:
        r = subprocess.run(
            [str(BIN / "watchdog"), "report", "--json", "--ini", str(lab.inst.ini)],
            env=lab.inst.env,
            cwd=lab.root,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        c.add(1, "watchdog report did not answer within 60 s")
        return c
    out.write_text(r.stdout + r.stderr)
    try:
        rep = json.loads(r.stdout)
    except ValueError:
        rep = {}
    status = rep.get("status")
    if r.returncode != 0 or status != "ok":
        found = [
            f"{f.get('kind')} {f.get('daemon')}: {f.get('summary')}"[:160]
            for f in rep.get("findings", [])
            if f.get("severity") != "info"
        ]
        c.add(1, f"exit {r.returncode}, status {status}: " + ("; ".join(found) or r.stderr[-200:]))
    c.detail = f"exit {r.returncode}, status {status}"
    return c


def _copies_check(mon: Monitor, settle_s: float) -> Check:
    c = Check(f"at most one live copy of each daemon and of circusd beyond {settle_s:g} s")
    longest: dict[str, float] = {}
    for ep in mon.episodes:
        longest[ep.daemon] = max(longest.get(ep.daemon, 0.0), ep.length)
        if ep.length > settle_s:
            c.add(
                1,
                f"{ep.daemon}: pids {sorted(ep.pids)} together for {ep.length:.1f} s "
                f"(after: {ep.causes})",
            )
    top = sorted(mon.episodes, key=lambda e: e.length, reverse=True)[:3]
    c.detail = (
        f"{len(mon.episodes)} episodes of two copies; longest: "
        + "; ".join(f"{e.daemon} {e.length:.1f} s (after {e.causes})" for e in top)
        + "\n    longest per daemon: "
        + ", ".join(f"{d} {v:.1f} s" for d, v in sorted(longest.items()))
    )
    return c


def _fault_check(faults: list[Any]) -> Check:
    c = Check("faults recovered in time; exact copies refused; lock-ignoring ones ended")
    for f in faults:
        for v in f.violations:
            c.add(1, f"{f.kind} {f.target} {f.detail}: {v}")
    skipped = [f for f in faults if f.injected_at is None]
    c.detail = f"{len(faults) - len(skipped)} injected, {len(skipped)} could not be set up"
    for f in skipped[:3]:
        c.examples.append(f"not injected: {f.kind}: {'; '.join(f.notes)}")
    return c


def _stop_and_look(lab: Lab, mon: Monitor) -> Check:
    c = Check("nothing of the instance left running once circusd has quit")
    inst = lab.inst
    try:
        inst.ctl.call("quit", waiting=False)
    except Exception as e:  # noqa: BLE001
        c.add(1, f"circusd did not take quit: {e!r}")
    if inst.circusd is not None:
        try:
            inst.circusd.wait(timeout=60)
        except Exception:  # noqa: BLE001
            c.add(1, f"circusd pid {inst.circusd.pid} still there 60 s after quit")
    seen = list(mon.seen.items())
    _until(lambda: not any(alive(*ident) for ident, _ in seen), 30, 0.2)
    for ident, (name, cmdline) in seen:
        if alive(*ident):
            c.add(1, f"{name} pid {ident[0]}: {' '.join(cmdline)[:120]}")
    c.detail = f"{len(seen)} processes of the instance seen over the run"
    return c


def _bystander_check(lab: Lab) -> Check:
    c = Check("the innocent process named in bad files was never signalled")
    p = lab.innocent
    if p is None or not p.is_running() or p.status() == "zombie":
        c.add(1, "the innocent process is gone")
    return c


def _figures(
    lab: Lab, mon: Monitor, feeder: Feeder | None, stats: dict[str, Any], faults: list[Any]
) -> list[str]:
    import sqlite3

    db = sqlite3.connect(f"file:{lab.home / 'ecauto.db'}?mode=ro", uri=True, timeout=10)
    try:
        up = dict(
            db.execute(
                "SELECT platform, COUNT(*) FROM listings WHERE state = 'uploaded' GROUP BY platform"
            ).fetchall()
        )
        runs = db.execute("SELECT COUNT(*) FROM sync_runs WHERE state = 'complete'").fetchone()[0]
    finally:
        db.close()
    created = {p: stats["listings"][p]["created"] for p in PLATFORMS}
    kills = [f.old_gone_s for f in faults if f.kind == "kill-circusd" and f.old_gone_s]
    dups = [
        n.split(",")[0]
        for f in faults
        if f.kind == "dup-exact"
        for n in f.notes
        if not n.startswith("retried")
    ]
    queued = [
        int(n.rsplit(" ", 1)[1])
        for f in faults
        if f.kind == "chatwork-down"
        for n in f.notes
        if n.startswith("alerts queued while down")
    ]
    out = [
        f"work done: listings uploaded {up} (platforms hold {created}); "
        f"{runs} sync cycles complete; {feeder.queued if feeder else 0} listings queued by the "
        f"feeder",
        f"circusd kills: every process of the old circusd gone within "
        f"{max(kills, default=0):.1f} s of the kill (median "
        f"{statistics.median(kills) if kills else 0:.1f} s), duplicates meanwhile as above",
        "exact copies: " + ", ".join(f"{k} {v}" for k, v in sorted(Counter(dups).items())),
        f"Chatwork outages: {len(queued)}, {sum(1 for q in queued if q)} with alerts waiting "
        f"(up to {max(queued, default=0)} at once)",
        f"samples: {mon.samples}; monitor errors: {len(mon.errors)}"
        + (f" (first: {mon.errors[0]})" if mon.errors else ""),
    ]
    return out


def _progress(
    opts: Options, mon: Monitor, inj: Injector, halt: threading.Event, started: float
) -> None:
    while not halt.wait(30):
        done = [f for f in inj.faults if f.injected_at is not None]
        bad = sum(len(f.violations) for f in inj.faults)
        s = mon.sample()
        longest = max((e.length for e in mon.episodes), default=0.0)
        _say(
            opts,
            f"{time.monotonic() - started:.0f} s: {len(done)} faults injected, "
            f"{bad} fault violations, longest two-copy episode {longest:.1f} s, "
            f"report {s.report_status if s else '?'}",
        )


def parse_args(argv: list[str] | None) -> Options:
    p = argparse.ArgumentParser(prog="soak.py", description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=3.0, help="length of the fault phase")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--interval-s",
        type=float,
        default=10.0,
        help="mean seconds between two faults of one kind (default 10)",
    )
    p.add_argument(
        "--faults-per-kind", type=int, help="the count per kind (overrides --interval-s)"
    )
    p.add_argument(
        "--settle-s",
        type=float,
        default=10.0,
        help="longest two copies of a daemon may live together (default 10)",
    )
    p.add_argument(
        "--recovery-deadline-s",
        type=float,
        default=150.0,
        help="longest a fault may take to recover once lifted (default 150)",
    )
    p.add_argument(
        "--operator-delay",
        default=None,
        help="MIN,MAX seconds before circusd is started again after its kill "
        "(default 1.5,4; with --harsh 0,1)",
    )
    p.add_argument(
        "--harsh",
        action="store_true",
        help="kill circusd whatever state the instance is in, and start it again "
        "within a second (finds the races the README's issue lists)",
    )
    p.add_argument("--watchdog-interval-s", type=float, default=0.5)
    p.add_argument("--keep", action="store_true", help="keep the temp folder (kept on failure)")
    a = p.parse_args(argv)
    delay = a.operator_delay or ("0,1" if a.harsh else "1.5,4")
    try:
        lo, hi = (float(x) for x in delay.split(","))
    except ValueError:
        p.error("--operator-delay must be MIN,MAX in seconds")
    if a.minutes <= 0 or a.interval_s <= 0 or not 0 <= lo <= hi:
        p.error("--minutes and --interval-s must be > 0, --operator-delay 0 <= MIN <= MAX")
    return Options(
        minutes=a.minutes,
        seed=a.seed,
        interval_s=a.interval_s,
        faults_per_kind=a.faults_per_kind,
        settle_s=a.settle_s,
        recovery_deadline_s=a.recovery_deadline_s,
        operator_delay=(lo, hi),
        watchdog_interval_s=a.watchdog_interval_s,
        keep=a.keep,
        harsh=a.harsh,
    )


def _interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    # Ctrl+C or a SIGTERM (a CI timeout) unwinds run_soak's finally: every process it started
    # is ended by pid. (SIGINT is restored in case the shell started us with it ignored.)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupted)
    try:
        res = run_soak(opts)
    except KeyboardInterrupt:
        print("soak interrupted; everything it started has been ended", file=sys.stderr)
        return 130
    print(res.table(), flush=True)
    return 0 if res.violations == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
