"""SP-API pacing over a network: send-time pacing vs counting each token from its answer.

    .venv/bin/python benchmarks/pacing.py [--rate 5] [--rtts 0,50,150] [--jitter-ms 2]
                                          [--calls 30] [--warmup 2] [--learn 40] [--repeat 3]

Each run: a real sandbox process whose getCompetitivePricing bucket (rate R, burst 1) judges each request
when it arrives, after an inbound delay of rtt/2 + U(0, jitter); answers take rtt/2 + U(0,
jitter) back. A fresh home; one or two real processes calling getCompetitivePricing through the home's
shared gate (`ecauto.quota.TokenGate`) with one schedule or the other:
  send:   booked by send time + a margin learnt from the round trips (the default);
  answer: one call in flight, the next token counted from the answer (before December 2026).
A running instance has learnt its path (the margin is kept in quota.db): so for each round
trip one process first makes --learn calls, and every run's fresh home starts from the margin
it learnt. Each process of a run then makes --warmup calls (its first leaves a slot free after
it, for its connection set-up), and the --calls are shared among the processes. Printed, medians over
--repeat runs: utilization = accepted calls per second at the bucket, over the timed calls,
divided by R; the 429s (warm-up included); and the same utilization projected to Amazon's
0.5/s. Scaling: what a schedule loses is a time per call (a round trip, or a margin), so a run
at R shows R/0.5 times the loss it has at 0.5/s; the projection is 1 / (1 + 0.5 x loss).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
from support import Reaper, free_port, start_sandbox  # noqa: E402  (the tests' helpers)

from ecauto.sandbox.key import HEADER, key_path, load_or_create  # noqa: E402

REAL_RATE = 0.5  # getCompetitivePricing's documented rate


def worker(home: str, url: str, rate: float, warmup: int, calls: int, pacing: str) -> None:
    """One process: `warmup` + `calls` getCompetitivePricing calls through the home's shared gate."""
    from ecauto.clients.http import Throttled
    from ecauto.clients.spapi import SpApiClient
    from ecauto.credentials import StaticToken
    from ecauto.quota import QuotaStore, TokenGate, sleep_wait
    from ecauto.quota.rules import Pacing

    store = QuotaStore(Path(home) / "quota.db")
    gate = TokenGate(store, KEY, rate, 1, sleep_wait, 10, pacing=Pacing(pacing))
    client = SpApiClient(url, "A1", StaticToken("t"), 10.0, {"getCompetitivePricing": gate})
    done = 0
    while done < warmup + calls:
        try:
            client.get_competitive_pricing([f"B0{done:08d}"])
            done += 1
        except Throttled:
            pass  # counted by the sandbox; the same call goes again


KEY = "spapi/getCompetitivePricing/A1"


def one_run(
    pacing: str,
    procs: int,
    rate: float,
    rtt_ms: float,
    jitter_ms: float,
    a: Any,
    learnt: dict[str, Any] | None = None,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Run the case; its figures, and the margin its home has learnt."""
    from ecauto.quota import QuotaStore

    root = Path(tempfile.mkdtemp(prefix="ecp-"))
    home, port = root / "home", free_port()
    config = root / "ecauto.toml"
    config.write_text(f'mode = "sandbox"\n[sandbox]\nport = {port}\nlisting_failure_rate = 0.0\n')
    env = dict(os.environ, ECAUTO_CONFIG=str(config), ECAUTO_HOME=str(home), PYTHONPATH=str(REPO))
    half = f"{rtt_ms / 2:g}"
    url, reaper = f"http://127.0.0.1:{port}", Reaper()
    try:
        start_sandbox(
            reaper,
            root,
            env,
            port,
            root / "sb",
            *("--key-file", str(key_path(home)), "--spapi-rate", f"{rate:g}", "--spapi-burst"),
            *("1", "--latency-in-ms", half, "--latency-ms", half, "--jitter-ms", f"{jitter_ms:g}"),
        )
        store = QuotaStore(home / "quota.db")
        if learnt is not None:
            store.update(KEY, lambda d: ({"margin": learnt}, None))
        share = a.calls // procs
        cmd = [sys.executable, __file__, "worker", str(home), url, f"{rate:g}"]
        cmd += [str(a.warmup), str(share), pacing]
        workers = [subprocess.Popen(cmd, env=env) for _ in range(procs)]
        for w in workers:
            reaper.track(w.pid)
        for w in workers:
            if w.wait(timeout=600) != 0:
                raise RuntimeError(f"worker exited {w.returncode}")
        key = {HEADER: load_or_create(key_path(home))}
        stats = requests.get(f"{url}/_sandbox/stats", headers=key, timeout=5).json()
        margin = store.read(KEY).get("margin", {})
        store.close()
    finally:
        reaper.reap()
    # The first procs x warmup accepted calls are the warm-up.
    timed = stats["arrivals"]["getCompetitivePricing"][procs * a.warmup :]
    used = (len(timed) - 1) / ((timed[-1] - timed[0]) * rate) if len(timed) > 1 else 0.0
    loss = 1 / (used * rate) - 1 / rate if used else 0.0  # seconds lost per call
    figures = {
        "utilization": used,
        "throttled": stats["endpoints"]["spapi.getCompetitivePricing"]["throttled"],
        "projected": 1 / (1 + REAL_RATE * loss),
        "margin_ms": 4000 * float(margin.get("rttvar", 0.0)),
    }
    return figures, margin


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        w = sys.argv[2:]
        worker(w[0], w[1], float(w[2]), int(w[3]), int(w[4]), w[5])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--rate", type=float, default=5.0, help="the sandbox's getCompetitivePricing rate (/s)"
    )
    ap.add_argument("--rtts", default="0,50,150", help="round trips to run at (ms, commas)")
    ap.add_argument("--jitter-ms", type=float, default=2.0, help="up to this more, each way")
    ap.add_argument("--calls", type=int, default=30, help="timed calls a run (all processes)")
    ap.add_argument("--warmup", type=int, default=2, help="calls each process makes first")
    ap.add_argument("--learn", type=int, default=40, help="calls that learn the path first")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    cases = [(p, n) for n in (1, 2) for p in ("send", "answer")]
    print(
        f"getCompetitivePricing at the sandbox: rate {a.rate:g}/s, burst 1; jitter up to {a.jitter_ms:g} ms"
        f" each way; {a.calls} timed calls a run after {a.warmup} per process, from the margin"
        f" {a.learn} calls learnt; medians of {a.repeat} runs"
    )
    print(
        f"{'round trip':>10}  {'processes':>9}  {'pacing':<7}{'utilization':>12}{'429s':>6}"
        f"{'at 0.5/s':>10}{'margin ms':>11}"
    )
    for rtt in (float(r) for r in a.rtts.split(",")):
        learning = argparse.Namespace(calls=a.learn, warmup=0)
        _, learnt = one_run("send", 1, a.rate, rtt, a.jitter_ms, learning)
        results: dict[tuple[str, int], list[dict[str, float]]] = {c: [] for c in cases}
        for _ in range(a.repeat):  # interleaved, so machine noise hits every case alike
            for pacing, procs in cases:
                got, _ = one_run(pacing, procs, a.rate, rtt, a.jitter_ms, a, learnt)
                results[pacing, procs].append(got)
        for (pacing, procs), r in results.items():
            keys = ("utilization", "projected", "margin_ms")
            med = {k: statistics.median(x[k] for x in r) for k in keys}
            margin = f"{med['margin_ms']:.1f}" if pacing == "send" else "-"
            print(
                f"{rtt:>7g} ms  {procs:>9}  {pacing:<7}{med['utilization']:>12.3f}"
                f"{max(int(x['throttled']) for x in r):>6}{med['projected']:>10.4f}{margin:>11}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
