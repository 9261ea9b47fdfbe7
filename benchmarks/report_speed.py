"""`watchdog report` beside `circusctl status`: wall time of each, against one running instance.

    .venv/bin/python benchmarks/report_speed.py [--runs 15]

A real instance (circusd running a temp copy of the repo's circus.ini, all six watchers, in a
temp home). The two commands are run as an operator runs them (the venv's console scripts, a
fresh interpreter each time), interleaved so that a busy moment of the machine costs both alike,
--runs times each, after one warm-up run of each (so both read a warm page cache and compiled
bytecode). Bytecode is written to a temp folder (PYTHONPYCACHEPREFIX) for both, whatever
PYTHONDONTWRITEBYTECODE says: an installed ecauto has its bytecode compiled, as circus has.
Prints the median wall time of each and the ratio report / status. Target: <= 1.0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from support import BIN, Instance, Reaper  # noqa: E402


def timed(cmd: list[str], inst: Instance, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=inst.root, env=env, capture_output=True, text=True, timeout=60)
    dt = time.perf_counter() - t0
    if not res.stdout.strip():
        raise SystemExit(f"{cmd[0]} printed nothing (exit {res.returncode}): {res.stderr.strip()}")
    return dt


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    reaper = Reaper()
    inst = Instance(Path(tempfile.mkdtemp(prefix="wdspeed-")), reaper)
    pycache = tempfile.mkdtemp(prefix="wdspeed-pyc-")
    env = dict(inst.env, CIRCUSCTL_ENDPOINT=inst.endpoint, PYTHONPYCACHEPREFIX=pycache)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for k in ("CHATWORK_API_TOKEN", "CHATWORK_ROOM_ID"):
        env.pop(k, None)
    report = [str(BIN / "watchdog"), "report", "--ini", str(inst.ini)]
    status = [str(BIN / "circusctl"), "status"]
    times: dict[str, list[float]] = {"report": [], "status": []}
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    try:
        inst.start()
        timed(report, inst, env)
        timed(status, inst, env)
        for i in range(args.runs):
            # Alternate which goes first, so neither always follows the other's page faults.
            order = (("report", report), ("status", status))
            for name, cmd in order if i % 2 == 0 else order[::-1]:
                times[name].append(timed(cmd, inst, env))
    finally:
        inst.stop()
        shutil.rmtree(pycache, ignore_errors=True)
    rep, st = statistics.median(times["report"]), statistics.median(times["status"])
    print(
        f"{args.runs} runs each, interleaved, against one running instance "
        f"({os.cpu_count()} cores, Python {sys.version.split()[0]})"
    )
    if load_before is not None:  # the machine's other work slows both, not always alike
        after = os.getloadavg()
        print(f"  load average (1 min) before {load_before[0]:.2f}, after {after[0]:.2f}")
    for name, xs in times.items():
        label = "watchdog report" if name == "report" else "circusctl status"
        print(
            f"  {label:<16} median {statistics.median(xs) * 1000:.0f} ms "
            f"(min {min(xs) * 1000:.0f}, max {max(xs) * 1000:.0f})"
        )
    print(f"  ratio report / status: {rep / st:.2f} (target <= 1.0)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
