"""How fast the `watchdog run` loop acts: a duplicate's death, a frozen daemon's restart.

    .venv/bin/python benchmarks/watchdog_latency.py [--interval 5] [--grace 5] [--samples 5]

A real instance (circusd running the repo's circus.ini, with its `watchdog` watcher, in a temp
home). Per sample:
  duplicate: the old system's sync script (a declared pattern) is started by hand; measured from
    its start to its death. Target: at most one interval + 1 s.
  frozen: upload-base gets SIGSTOP; measured from the signal to circusd running a new pid, and
    to that pid's first heartbeat. Target: at most grace + one interval.
Samples start at random points of the watchdog's cycle. The restart budget and back-off are
lifted for the run (every sample restarts the same daemon); upload-base alone gets --grace, the
other daemons the default (they may wait on the database behind the frozen one).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from support import Instance, Reaper, start_process, wait_for  # noqa: E402

CONFIG = """
[watchdog]
interval_s = {interval}
restart_budget = 1000
restart_backoff_s = 0

[watchdog.daemons.upload-base]
grace_s = {grace}

[watchdog.daemons.sync-inventory]
patterns = ["scheduled_tasks/sync_inventory_daemon.py"]
"""


def stats(xs: list[float]) -> str:
    return (
        f"median {statistics.median(xs):.2f} s, min {min(xs):.2f}, max {max(xs):.2f} (n={len(xs)})"
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--interval", type=float, default=5.0)
    ap.add_argument("--grace", type=float, default=5.0)
    ap.add_argument("--samples", type=int, default=5)
    args = ap.parse_args()
    reaper = Reaper()
    root = Path(tempfile.mkdtemp(prefix="wdlat-"))
    inst = Instance(
        root, reaper, config_extra=CONFIG.format(interval=args.interval, grace=args.grace)
    )
    rnd = random.Random(1)
    script = root / "old" / "scheduled_tasks" / "sync_inventory_daemon.py"
    script.parent.mkdir(parents=True)
    script.write_text("import time\ntime.sleep(600)\n")
    dup_s: list[float] = []
    restart_s: list[float] = []
    beat_s: list[float] = []
    frozen: list[int] = []
    try:
        inst.start()
        for _ in range(args.samples):
            time.sleep(rnd.uniform(0, args.interval))
            t0 = time.monotonic()
            p = start_process(reaper, [sys.executable, str(script)], inst.env, script.parent)
            p.wait(timeout=args.interval * 4 + 10)
            dup_s.append(time.monotonic() - t0)
        for _ in range(args.samples):
            time.sleep(rnd.uniform(0, args.interval))
            old = inst.pid("upload-base")
            wait_for(
                lambda o=old: inst.fresh_heartbeat("upload-base", pid=o, max_age=1.5),
                20,
                "a fresh heartbeat before freezing",
            )
            t0 = time.monotonic()
            os.kill(old, signal.SIGSTOP)
            frozen.append(old)
            new = wait_for(
                lambda o=old: (ps := inst.ctl.pids("upload-base")) and ps[0] != o and ps[0],
                args.grace + args.interval * 4 + 30,
                "a new pid",
                interval=0.02,
            )
            restart_s.append(time.monotonic() - t0)
            reaper.track(new)
            wait_for(
                lambda n=new: inst.fresh_heartbeat("upload-base", pid=n, max_age=1.0),
                30,
                "its heartbeat",
                interval=0.02,
            )
            beat_s.append(time.monotonic() - t0)
    finally:
        for pid in frozen:
            try:
                psutil.Process(pid).send_signal(signal.SIGCONT)
            except psutil.Error:
                pass
        inst.stop()
    print(
        f"watchdog latency: interval {args.interval:g} s, upload-base grace {args.grace:g} s, "
        f"copy settle 3 s (default); {os.cpu_count()} cores"
    )
    print(
        f"  duplicate started -> dead:            {stats(dup_s)}; target <= {args.interval + 1:g} s"
    )
    print(
        f"  SIGSTOP -> new pid under circusd:     {stats(restart_s)}; "
        f"target <= {args.grace + args.interval:g} s"
    )
    print(f"  SIGSTOP -> new pid's first heartbeat: {stats(beat_s)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
