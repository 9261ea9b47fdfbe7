"""The `watchdog run` loop's own cost: CPU and memory at its default interval.

    .venv/bin/python benchmarks/watchdog_footprint.py [--seconds 120] [--warmup 15]

A real instance (circusd running the repo's circus.ini with its `watchdog` watcher, default
watchdog settings, in a temp home; heartbeats every --beat seconds: 10 is ecauto's default, the
tests use 1, which makes the watchdog write its own heartbeat ten times as often). After
--warmup seconds, the
watchdog process's CPU time (user + system) is read at the start and the end of --seconds; its
RSS and USS are sampled every second. Targets: at most 0.5% of a core, at most 40 MB RSS.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from support import Instance, Reaper  # noqa: E402

MB = 1024 * 1024


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--warmup", type=float, default=15.0)
    ap.add_argument("--beat", type=float, default=10.0)
    args = ap.parse_args()
    reaper = Reaper()
    inst = Instance(Path(tempfile.mkdtemp(prefix="wdfoot-")), reaper)
    text = inst.config.read_text()
    assert "[daemon]\nbeat_s = 1\n" in text, "the test config changed: adapt this benchmark"
    inst.config.write_text(
        text.replace("[daemon]\nbeat_s = 1\n", f"[daemon]\nbeat_s = {args.beat}\n")
    )
    try:
        inst.start()
        dog = psutil.Process(inst.pid("watchdog"))
        time.sleep(args.warmup)
        c0, t0 = dog.cpu_times(), time.monotonic()
        rss, uss = [], []
        while time.monotonic() - t0 < args.seconds:
            info = dog.memory_full_info()
            rss.append(info.rss / MB)
            uss.append(info.uss / MB)
            time.sleep(1.0)
        c1, t1 = dog.cpu_times(), time.monotonic()
        passes = sum(
            1
            for line in (inst.home / "log" / "watchdog.log").read_text().splitlines()
            if "cycle done" in line
        )
    finally:
        inst.stop()
    cpu = (c1.user + c1.system) - (c0.user + c0.system)
    share = cpu / (t1 - t0) * 100
    print(
        f"watchdog footprint over {t1 - t0:.0f} s at the default interval (5 s), heartbeat "
        f"every {args.beat:g} s, {os.cpu_count()} cores, {passes} passes in all"
    )
    print(
        f"  CPU: {cpu * 1000:.0f} ms = {share:.3f}% of a core "
        f"({cpu * 1000 / max(1.0, (t1 - t0) / 5):.1f} ms a pass); target <= 0.5%"
    )
    print(
        f"  RSS: median {statistics.median(rss):.1f} MB, max {max(rss):.1f} MB; "
        f"USS median {statistics.median(uss):.1f} MB; target <= 40 MB RSS"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
