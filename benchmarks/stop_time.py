"""How long `circusctl stop` takes now that it is a stop request, not a signal.

    .venv/bin/python benchmarks/stop_time.py [--samples 7] [--delay 2]

A real instance (circusd running the repo's circus.ini, no watchdog loop, in a temp home).
Per sample:
  idle: `circusctl stop sync-inventory` while it sleeps between cycles, then `start` again.
  mid-unit: the sandbox holds every SP-API answer `--delay` s; the sync is started into its
    calls, stopped at a random point of one (delay/2 + 0-1 s after its first heartbeat), and
    finishes that call before it leaves.
Two figures each: as the operator sees it (from typing the command to the process gone,
circusctl's own start-up included) and as circusd sees it (its stop request to its reap, from
the journal). Also: the CPU an idle daemon spends, and what its look-ups for a request (a
stat per wait slice) cost alone.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import requests

from ecauto.daemon import stoprequest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from support import Instance, Reaper, read_hb, sandbox_headers, wait_for  # noqa: E402

NAME = "sync-inventory"


def stats(xs: list[float]) -> str:
    return (
        f"median {statistics.median(xs):.2f} s, min {min(xs):.2f}, max {max(xs):.2f} (n={len(xs)})"
    )


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def journal(inst: Instance) -> list[dict[str, Any]]:
    text = (inst.home / "circus" / "journal.jsonl").read_text()
    return [e for e in map(json.loads, text.splitlines()) if e["watcher"] == NAME]


def asked_to_reaped(inst: Instance, pid: int) -> float:
    def both() -> tuple[float, float] | None:
        es = journal(inst)
        ask = [e["at"] for e in es if e["event"] == "stop_request" and e.get("pid") == pid]
        reap = [e for e in es if e["event"] == "reap" and e.get("pid") == pid]
        if not (ask and reap):
            return None
        assert reap[0]["exit_code"] == 0, reap[0]
        return ask[0], reap[0]["at"]

    ask, reap = wait_for(both, 20, "the request and the reap in the journal")
    return reap - ask


def idle_sync(inst: Instance) -> int:
    pid = inst.pid(NAME)
    wait_for(
        lambda: (hb := read_hb(inst.home, NAME)) and hb.pid == pid and hb.phase == "sleeping",
        120,
        "the sync asleep between cycles",
    )
    return pid


def stop(inst: Instance, pid: int) -> tuple[float, float]:
    started = time.monotonic()
    assert inst.circusctl("stop", NAME).returncode == 0
    wait_for(lambda: gone(pid), 60, "the sync to exit")
    took = time.monotonic() - started
    wait_for(lambda: inst.status(NAME) == "stopped", 10, "stopped")
    return took, asked_to_reaped(inst, pid)


def start(inst: Instance) -> int:
    assert inst.circusctl("start", NAME).returncode == 0
    pid = wait_for(lambda: (p := inst.ctl.pids(NAME)) and p[0], 30, "a new sync")
    inst.reaper.track(pid)
    return int(pid)


def lookups_cpu(home: Path, seconds: float = 10.0) -> float:
    """CPU share of the look-ups alone: a listener asked once per wait slice, as `wait` does."""
    me = psutil.Process()
    listener = stoprequest.Listener(home, "bench", me.pid, me.create_time()).arm(time.time())
    stop = threading.Event()
    before, t0 = time.process_time(), time.monotonic()
    while time.monotonic() - t0 < seconds:
        if stop.wait(stoprequest.POLL_S) or listener.asked():
            break
    listener.close()
    return (time.process_time() - before) / (time.monotonic() - t0)


def on_cpu_s(pid: int) -> float:
    """Seconds `pid` has run, to the nanosecond (psutil's cpu_times count 10 ms ticks)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=7)
    ap.add_argument("--delay", type=float, default=2.0, help="seconds the sandbox holds a call")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ecauto-stop-"))
    reaper = Reaper()
    # A small catalogue, so that a sync cycle is over in a second and the sync then sleeps.
    inst = Instance(root, reaper, watchdog=False, products=40, listings=10)
    try:
        inst.start()
        pid = idle_sync(inst)
        before, t0 = on_cpu_s(pid), time.monotonic()
        time.sleep(20)
        cpu = (on_cpu_s(pid) - before) / (time.monotonic() - t0)
        print(f"idle daemon CPU (beats every 1 s, look-ups): {cpu * 100:.3f}% of a core")
        alone = lookups_cpu(inst.home)
        print(f"the look-ups alone (one per {stoprequest.POLL_S} s): {alone * 100:.3f}% of a core")

        idle_cmd, idle_hook = [], []
        for _ in range(args.samples):
            a, b = stop(inst, pid)
            idle_cmd.append(a)
            idle_hook.append(b)
            start(inst)
            pid = idle_sync(inst)
        print(f"idle, circusctl stop to exit:   {stats(idle_cmd)}")
        print(f"idle, request to reap (circusd): {stats(idle_hook)}")

        stop(inst, pid)  # not a sample: the held calls begin with a stopped sync
        requests.post(
            f"{inst.sandbox_url}/_sandbox/faults",
            json={"endpoint": "spapi", "mode": "slow", "seconds": 3600, "delay_s": args.delay},
            headers=sandbox_headers(inst.home),
            timeout=5,
        ).raise_for_status()
        busy_cmd, busy_hook = [], []
        for _ in range(args.samples):
            pid = start(inst)
            wait_for(
                lambda pid=pid: (hb := read_hb(inst.home, NAME)) and hb.pid == pid,
                30,
                "the sync's first heartbeat",
            )
            time.sleep(args.delay / 2 + random.random())  # somewhere inside its first call
            a, b = stop(inst, pid)
            busy_cmd.append(a)
            busy_hook.append(b)
        print(f"mid-unit ({args.delay:.0f} s calls), circusctl stop to exit:   {stats(busy_cmd)}")
        print(f"mid-unit ({args.delay:.0f} s calls), request to reap (circusd): {stats(busy_hook)}")
    finally:
        inst.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
