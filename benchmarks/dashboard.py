"""The dashboard's cost: the page's response time with 30 days of history, and the dashboard
process's CPU and memory while a page is open and updating itself.

    .venv/bin/python benchmarks/dashboard.py [--requests 20] [--seconds 60]

A real instance (circusd running the repo's circus.ini, every daemon, the dashboard watcher at
its default refresh of 2 s) in a temp home seeded before the start with 30 days of history:
quota history for every limiter every minute (6 keys x 43,200 minutes), a sync cycle every 3 h
(240), 3,000 events. Then:
- response time of `GET /` (range 6h, 24h, 30d) and `GET /live`, each --requests times, cold
  (the 1.5 s cache expired: every figure read again) and warm (from the cache);
- Debian's chromium opens the page (live updates on) for --seconds: the dashboard process's CPU
  time (user + system) over that span, its RSS and USS sampled every second; and the same span
  with no page open.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil
import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from support import CHROMIUM, CHROMIUM_ARGS, Instance, Reaper, wait_for  # noqa: E402

from ecauto.dashboard import guard  # noqa: E402
from ecauto.quota import QuotaStore  # noqa: E402
from ecauto.store import Store  # noqa: E402

MB = 1024 * 1024
DAY = 86400
KEYS = [  # (limiter, its limit in the history's measure, the window's minutes or 0 for a bucket)
    ("spapi/getCompetitivePricing/A1VC38T7YXB528", 30.0, 0),
    ("base/shop/hour", 5000.0, 60),
    ("base/shop/day", 100000.0, 1440),
    ("ebay/listing/day", 5000.0, 1440),
    ("yahoo/listing/day", 5000.0, 1440),
    ("spapi/getItemOffersBatch/A1VC38T7YXB528", 6.0, 0),
]


def calls(key: str, m: int, rnd: random.Random) -> tuple[int, int]:
    """A shop of 20,000 products: a sync every 3 h reads them in 33 minutes at the full 0.5/s
    and pushes about 300 prices; 2 listings a minute to each platform (4 calls each on eBay and
    Yahoo's daily caps: one upload); one bad hour of 429s on the 12th day."""
    in_cycle = m % 180
    bad = (m // 1440) % 30 == 12 and 900 <= m % 1440 < 960
    if key.startswith("spapi/getCompetitivePricing"):
        return (30, int(bad and rnd.random() < 0.3)) if in_cycle < 33 else (0, 0)
    if key.startswith("spapi/"):
        return 0, 0
    listing = 2 if rnd.random() < 0.95 else 0
    if key.startswith("base/"):
        return listing + (10 if 33 <= in_cycle < 63 else 0), int(bad and rnd.random() < 0.1)
    return listing, 0


def seed(home: Path, now: float) -> None:
    home.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(7)
    q = QuotaStore(home / "quota.db")
    first = int((now - 30 * DAY) // 60)
    rows = []
    for key, limit, window in KEYS:
        used = 0
        for m in range(first, int(now // 60)):
            g, t = calls(key, m, rnd)
            if window:
                used = g if m % window == 0 else used + g
            rows.append((key, m, g, t, limit, used if window else None))
    q.db.execute("BEGIN")
    q.db.executemany(
        "INSERT INTO quota_history (key, minute, granted, throttled, quota, used)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    q.db.execute(
        "INSERT INTO quota_hourly SELECT key, minute / 60 * 60, SUM(granted), SUM(throttled),"
        " MAX(quota), MAX(used) FROM quota_history GROUP BY key, minute / 60"
    )
    q.db.execute("COMMIT")
    q.close()
    store = Store(home / "ecauto.db")
    with store.tx() as db:
        for i in range(240):
            start = now - 30 * DAY + i * 3 * 3600
            db.execute(
                "INSERT INTO sync_runs (started_at, finished_at, state, items, changed, pushed,"
                " batches) VALUES (?, ?, 'done', 1000, ?, ?, 50)",
                (start, start + rnd.uniform(300, 900), rnd.randint(0, 80), rnd.randint(0, 80)),
            )
    store.close()
    events = home / "watchdog" / "events.jsonl"
    events.parent.mkdir(mode=0o700, exist_ok=True)
    with events.open("w") as f:
        for i in range(3000):
            rec = {
                "at": now - 30 * DAY + i * 860,
                "kind": rnd.choice(["hung", "down", "orphan", "stale_lock"]),
                "severity": "warning",
                "daemon": rnd.choice(["upload-base", "sync-inventory"]),
                "action": "restart",
                "result": "done",
                "summary": "seeded event for the benchmark",
            }
            f.write(json.dumps(rec) + "\n")


def timed(url: str, n: int, wait_s: float) -> list[float]:
    out = []
    for _ in range(n):
        time.sleep(wait_s)
        t = time.perf_counter()
        r = requests.get(url, timeout=30)
        out.append((time.perf_counter() - t) * 1000)
        assert r.ok, r.status_code
    return out


def footprint(proc: psutil.Process, seconds: float) -> tuple[float, float, float]:
    c0, t0 = proc.cpu_times(), time.monotonic()
    rss, uss = [], []
    while time.monotonic() - t0 < seconds:
        info = proc.memory_full_info()
        rss.append(info.rss / MB)
        uss.append(info.uss / MB)
        time.sleep(1.0)
    c1, t1 = proc.cpu_times(), time.monotonic()
    cpu = (c1.user + c1.system - c0.user - c0.system) / (t1 - t0) * 100
    return cpu, max(rss), max(uss)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--screenshot", help="also save the 30 days' quota graphs here (a PNG)")
    args = ap.parse_args()
    reaper = Reaper()
    # SP-API at Amazon's documented 0.5/s, as the seeded history has it; in Japanese, as the
    # shipped ecauto.toml has it
    inst = Instance(
        Path(tempfile.mkdtemp(prefix="dashbench-")),
        reaper,
        spapi_rate=0.5,
        config_extra='\n[ui]\nlanguage = "ja"\n',
    )
    text = inst.config.read_text()
    # the dashboard at its defaults; the tests' fast daemons otherwise
    inst.config.write_text(text.replace("refresh_s = 1\n", "refresh_s = 2\n"))
    seed(inst.home, time.time())
    try:
        inst.start()
        url = inst.dashboard_url
        wait_for(lambda: requests.get(f"{url}/metrics", timeout=10).ok, 30, "the dashboard")
        dash = psutil.Process(inst.pid("dashboard"))
        print(f"seeded: {len(KEYS)} limiters x 30 days a minute, 240 sync cycles, 3000 events")
        for path in ("/?range=6h", "/?range=24h", "/?range=30d", "/live?range=30d"):
            cold = timed(url + path, args.requests, 1.7)
            warm = timed(url + path, args.requests, 0.0)
            print(
                f"GET {path:<16} cold median {statistics.median(cold):6.0f} ms"
                f" (max {max(cold):5.0f}); warm median {statistics.median(warm):5.1f} ms"
            )
        idle = footprint(dash, args.seconds)
        print(f"no page open: {idle[0]:.2f}% of a core, RSS {idle[1]:.0f} MB, USS {idle[2]:.0f} MB")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(
                tempfile.mkdtemp(prefix="dashbench-chromium-"),
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
            )
            page = ctx.new_page()
            page.goto(f"{url}/login?key={guard.load_secret(inst.home)}")
            page.wait_for_selector("tr[data-daemon]")
            busy = footprint(dash, args.seconds)
            if args.screenshot:
                page.set_viewport_size({"width": 1280, "height": 900})
                page.goto(f"{url}/?range=30d#quotas")
                page.locator("#quotas").screenshot(path=args.screenshot)
            ctx.close()
        print(
            f"one page open, live (every 2 s): {busy[0]:.2f}% of a core, RSS {busy[1]:.0f} MB,"
            f" USS {busy[2]:.0f} MB"
        )
    finally:
        inst.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
