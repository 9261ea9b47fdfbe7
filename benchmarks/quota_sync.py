"""How much of the SP-API quota one sync cycle uses, alone and with a duplicate, vs a fixed gap.

    .venv/bin/python benchmarks/quota_sync.py [--rates 5,10] [--products 1000] [--repeat 3]
        [--operation getCompetitivePricing|getItemOffersBatch] [--accounts 2]

Each run: a fresh home with the demo products, a real sandbox process enforcing an exact token
bucket (rate R, burst 1) for the sync's operation (default: the sync's own default), and real
sync processes:
  (a) one sync process, the real daemon code (its cycle, without the loop);
  (b) two sync processes at once, forced past the singleton lock (the old disaster);
  (c) the old way: one process calling with a fixed gap of 1.2/R (12 s for a 10 s limit).
Printed per case (medians over --repeat runs): utilization = accepted calls per second, measured
at the sandbox between its first and last accepted call, divided by R; the 429s the sandbox
counted; items synced; ASINs served other than exactly once; wall time. With `--accounts N` the
products are N BASE shops' (`[base.accounts]`), read in one cycle through the one SP-API bucket. Then the projected real
cycle time for 10,000 ASINs with each SP-API operation at Amazon's documented rates.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
from support import free_port  # noqa: E402  (the tests' helper: one way to pick a port)

from ecauto.config import DEFAULT_OPERATION, MARKET_OPERATIONS  # noqa: E402
from ecauto.sandbox.key import HEADER, key_path, load_or_create  # noqa: E402

CONFIG = """\
mode = "sandbox"
[sandbox]
port = {port}
listing_failure_rate = 0.0
[spapi]
operation = "{op}"
[spapi.limits.{op}]
rate = {rate}
burst = 1
[demo]
products = {products}
listings = 0
[daemon]
beat_s = 5
"""


def worker(home: str, config: str, mode: str, rate: float, op: str) -> None:
    """One sync process: the daemon's own cycle (mode "gcra") or a fixed-gap loop ("gap")."""
    from ecauto import config as config_mod
    from ecauto import logsetup
    from ecauto.daemons.sync import SyncDaemon, parser
    from ecauto.home import Home

    logsetup.configure("bench", "WARNING")
    cfg = config_mod.load(config)
    args = parser().parse_args(["--home", home, "--config", config, "--once"])
    d = SyncDaemon(args, cfg, Home.resolve(home).ensure())
    started = time.monotonic()
    d.setup()
    if mode == "gap":
        assert d.store is not None
        d.spapi.gates = {}  # no shared bucket: the old fixed pause between calls
        asins = d.store.all_asins()
        for i in range(0, len(asins), 20):
            d.spapi.fetch(op, asins[i : i + 20])
            time.sleep(1.2 / rate)
    else:
        d.run_once()
    d.teardown()
    print(json.dumps({"wall_s": time.monotonic() - started}))


def shops(products: int, accounts: int) -> list[tuple[str, int]]:
    """`accounts` shops sharing `products` (none: the one shop of a config without accounts)."""
    if accounts <= 1:
        return [("default", products)]
    return [(f"shop{k}", products // accounts + (k < products % accounts)) for k in range(accounts)]


def one_run(case: str, rate: float, products: int, op: str, accounts: int = 1) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="ecq-"))
    home, port = root / "home", free_port()
    config = root / "ecauto.toml"
    text = CONFIG.format(port=port, rate=rate, products=products, op=op)
    if accounts > 1:
        text += "".join(
            f"[base.accounts.{name}]\ndemo_products = {n}\n"
            for name, n in shops(products, accounts)
        )
    config.write_text(text)
    env = dict(os.environ, ECAUTO_CONFIG=str(config), ECAUTO_HOME=str(home), PYTHONPATH=str(REPO))
    sandbox = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ecauto.sandbox",
            "--home",
            str(root / "sb"),
            "--key-file",  # the workers' home holds the instance's key
            str(key_path(home)),
            "--op-limit",
            f"{op}={rate:g}:1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    procs: list[subprocess.Popen[str]] = []
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(f"{url}/_sandbox/health", timeout=1)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        # seed before timing, as a running instance would have its products already
        from ecauto.config import PLATFORMS
        from ecauto.store import Store

        home.mkdir(parents=True, exist_ok=True)  # the sandbox made it for the key
        st = Store(home / "ecauto.db")
        for index, (name, n) in enumerate(shops(products, accounts)):
            st.seed_demo(n, 0, PLATFORMS, time.time(), name, index)
        st.close()
        n = 2 if case == "b" else 1
        mode = "gap" if case == "c" else "gcra"
        cmd = [sys.executable, __file__, "worker", str(home), str(config), mode, str(rate), op]
        started = time.monotonic()
        procs = [
            subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True) for _ in range(n)
        ]
        for p in procs:
            p.wait(timeout=600)
            if p.returncode != 0:
                raise RuntimeError(f"worker exited {p.returncode}")
        wall = time.monotonic() - started
        key = {HEADER: load_or_create(key_path(home))}
        stats = requests.get(f"{url}/_sandbox/stats", headers=key, timeout=5).json()
    finally:
        for p in [*procs, sandbox]:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
    import sqlite3

    db = sqlite3.connect(home / "ecauto.db")
    synced = db.execute("SELECT COUNT(*) FROM products WHERE synced_at IS NOT NULL").fetchone()[0]
    db.close()
    span = stats["spapi"]["accepted"].get(op, {"calls": 0, "first_to_last_s": 0})
    calls, seconds = span["calls"], span["first_to_last_s"]
    by_times = stats["spapi"]["asins_by_times"]
    return {
        "utilization": (calls - 1) / (seconds * rate) if seconds else 0.0,
        "throttled": stats["endpoints"][f"spapi.{op}"]["throttled"],
        "synced": synced,
        "not_once": sum(v for k, v in by_times.items() if k != "1")
        + (products - sum(by_times.values())),
        "wall_s": wall,
        "per_call_overhead_s": (seconds / (calls - 1) - 1 / rate) if calls > 1 else 0.0,
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), sys.argv[6])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--rates",
        default="5,10",
        help="the sandbox's rates for the operation to run at (/s, comma-separated)",
    )
    ap.add_argument("--operation", choices=MARKET_OPERATIONS, default=DEFAULT_OPERATION)
    ap.add_argument("--products", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--accounts", type=int, default=1, help="BASE shops sharing the products")
    a = ap.parse_args()
    overheads = []
    for rate in (float(r) for r in a.rates.split(",")):
        overheads.append(report(rate, a.products, a.repeat, a.operation, a.accounts))
    overhead = statistics.median(overheads)
    print(f"\nper-call overhead measured here (round trip + scheduling): {overhead * 1000:.1f} ms")
    print("projected real cycle for 10,000 ASINs (500 calls of 20), burst 1:")
    print(
        f"{'operation':<24}{'rate':>6}{'at the quota':>14}{'+150 ms RTT':>13}{'old 1.2x gap':>14}"
    )
    for op, rate in (
        ("getPricing", 0.5),
        ("getCompetitivePricing", 0.5),
        ("getItemOffersBatch", 0.1),
        ("getListingOffersBatch", 0.5),
    ):
        t = 1 / rate
        print(
            f"{op:<24}{rate:>6g}{_mins(499 * t):>14}{_mins(499 * (t + 0.15)):>13}"
            f"{_mins(500 * 1.2 * t):>14}"
        )
    return 0


def report(rate: float, products: int, repeat: int, op: str, accounts: int = 1) -> float:
    """Run the three cases `repeat` times, print their medians, return the per-call overhead."""
    cases = {
        "a": "one sync process",
        "b": "two sync processes at once",
        "c": "old fixed gap (1.2/rate)",
    }
    results: dict[str, list[dict[str, Any]]] = {k: [] for k in cases}
    for _ in range(repeat):  # interleaved, so machine noise hits every case alike
        for k in cases:
            results[k].append(one_run(k, rate, products, op, accounts))
    calls = sum(-(-n // 20) for _, n in shops(products, accounts))
    print(
        f"\n{op} at the sandbox: rate {rate:g}/s, burst 1; {products} products "
        f"of {accounts} shop(s) ({calls} calls a cycle); medians of {repeat} runs"
    )
    print(f"{'case':<32}{'utilization':>12}{'429s':>6}{'synced':>8}{'not once':>10}{'wall s':>8}")
    for k, label in cases.items():
        r = results[k]

        def med(f: str, r: list[dict[str, Any]] = r) -> float:
            return statistics.median(x[f] for x in r)

        print(
            f"({k}) {label:<28}{med('utilization'):>12.3f}{max(x['throttled'] for x in r):>6}"
            f"{min(x['synced'] for x in r):>8}{max(x['not_once'] for x in r):>10}"
            f"{med('wall_s'):>8.1f}"
        )
    return statistics.median(x["per_call_overhead_s"] for x in results["a"])


def _mins(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


if __name__ == "__main__":
    raise SystemExit(main())
