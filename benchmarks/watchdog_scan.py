"""What one watchdog scan costs, against a naive psutil scan and the floor, side by side.

    .venv/bin/python benchmarks/watchdog_scan.py [--extra 1000] [--repeat 30]

A real instance runs (circusd, sandbox, four daemons, in a temp home) so the scan finds and reads
what it would in production. Measured, interleaved, at the machine's own process count and
again with --extra idle processes (`sleep`, started and reaped by pid):
  (a) naive: psutil.process_iter reading, for every process, every attribute the watchdog uses
      (name, ppid, status, create_time, uids, cmdline, cwd, environ);
  (b) floor: listing /proc and reading each process's comm;
  (c) the watchdog's process table: `list_processes` plus the full read of its candidates,
      cold (a new collector, as `watchdog scan` does) and warm (as the `watchdog run` loop does,
      candidates remembered by pid and start tick);
  (d) a whole snapshot, warm: (c) plus circusd's answers, lock files and heartbeats.
Medians of wall time and of CPU time (this process), and each one's ratio to the floor.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from support import Instance, Reaper  # noqa: E402

from ecauto import config as config_mod  # noqa: E402
from ecauto.circusd import Control, read_ini  # noqa: E402
from ecauto.home import Home  # noqa: E402
from watchdog.collect import Collector, list_processes  # noqa: E402

ATTRS = ["name", "ppid", "status", "create_time", "uids", "cmdline", "cwd", "environ"]


def naive() -> int:
    n = 0
    for p in psutil.process_iter(ATTRS):
        n += p.info["ppid"] is not None
    return n


def floor() -> int:
    n = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm", "rb") as f:
                    f.read()
                n += 1
            except OSError:
                pass
    return n


def measure(cases: dict[str, Callable[[], object]], repeat: int) -> dict[str, tuple[float, float]]:
    """Median (wall ms, cpu ms) per case; the cases take turns so drift hits them alike."""
    wall: dict[str, list[float]] = {k: [] for k in cases}
    cpu: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(repeat):
        for name, fn in cases.items():
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall[name].append((time.perf_counter() - w0) * 1000)
            cpu[name].append((time.process_time() - c0) * 1000)
    return {k: (statistics.median(wall[k]), statistics.median(cpu[k])) for k in cases}


def table(title: str, res: dict[str, tuple[float, float]]) -> None:
    base_w, base_c = res["(b) floor: /proc + comm"]
    print(f"\n{title}")
    print(f"  {'case':<44} {'wall ms':>8} {'x floor':>8} {'cpu ms':>8} {'x floor':>8}")
    for name, (w, c) in res.items():
        print(f"  {name:<44} {w:8.2f} {w / base_w:8.2f} {c:8.2f} {c / base_c:8.2f}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--extra", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    reaper = Reaper()
    root = Path(tempfile.mkdtemp(prefix="wdbench-"))
    inst = Instance(root, reaper, watchdog=False)
    idle: list[subprocess.Popen[bytes]] = []
    try:
        inst.start()
        os.environ["ECAUTO_HOME"] = str(inst.home)
        os.environ.update(inst.circus_env)  # its endpoints, as circusd read them
        cfg = config_mod.load(inst.config)
        setup = read_ini(inst.ini)
        home = Home(inst.home)
        settings = cfg.watchdog

        def collector() -> Collector:
            ctl = Control(setup.endpoint, timeout_s=settings.circus_timeout_s, tries=3)
            return Collector(home, setup, settings, cfg.mode, ctl)

        warm = collector()
        warm.snapshot()
        table_warm = collector()
        managed = warm.circus().managed()
        groups = set(managed)  # as the state would give after a first pass
        table_warm.processes(managed, groups)
        cases: dict[str, Callable[[], object]] = {
            "(a) naive: process_iter, every attribute": naive,
            "(b) floor: /proc + comm": floor,
            "(c) watchdog process table, cold": lambda: collector().processes(managed, groups),
            "(c) watchdog process table, warm": lambda: table_warm.processes(managed, groups),
            "(d) whole snapshot, warm (with circusd)": warm.snapshot,
        }
        n = len(list_processes()[0])
        snap = warm.snapshot()
        print(
            f"watchdog scan cost: {args.repeat} rounds, medians; {os.cpu_count()} cores, "
            f"Python {sys.version.split()[0]}, psutil {psutil.__version__}"
        )
        print(f"candidates read in full: {len(snap.procs)} of {snap.scanned} processes")
        table(f"own process count: {n} processes", measure(cases, args.repeat))
        for _ in range(args.extra):
            idle.append(subprocess.Popen(["sleep", "3600"], stdin=subprocess.DEVNULL))
            reaper.track(idle[-1].pid)
        n = len(list_processes()[0])
        table(f"with {args.extra} extra idle processes: {n} processes", measure(cases, args.repeat))
    finally:
        for p in idle:
            p.kill()
        for p in idle:
            p.wait()
        inst.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
