"""The store on real SQLite: concurrent first opens, claims that count once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ecauto.config import PLATFORMS
from ecauto.store import _MIGRATIONS, PriceUpdate, Store

OPENER = """
import sys, time
from pathlib import Path
from ecauto.store import Store
from ecauto.config import PLATFORMS
p = Path(sys.argv[1])
while not (p.parent / "go").exists():
    time.sleep(0.001)
s = Store(p)
print("seeded" if s.seed_demo(50, 5, PLATFORMS, time.time()) else "found")
s.close()
"""


@pytest.mark.process
@pytest.mark.timeout(60)
def test_four_processes_opening_a_new_home_at_once_all_succeed(tmp_path: Path) -> None:
    # the daemons all start together on a fresh home; WAL setup must not fail any of them
    for round_ in range(3):
        db = tmp_path / f"r{round_}" / "ecauto.db"
        db.parent.mkdir()
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", OPENER, str(db)],
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for _ in range(4)
        ]
        try:
            (db.parent / "go").write_text("")
            outs = [p.communicate(timeout=30) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        assert [p.returncode for p in procs] == [0, 0, 0, 0], [e for _, e in outs]
        assert sorted(o.strip() for o, _ in outs) == ["found", "found", "found", "seeded"]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "ecauto.db")
    s.seed_demo(45, 3, PLATFORMS, now=0.0)
    return s


def test_a_listing_is_claimed_once(store: Store) -> None:
    listing = store.due("ebay", now=1.0, limit=1)[0]
    assert store.mark_uploading(listing.id, now=1.0)
    assert not store.mark_uploading(listing.id, now=1.0)
    assert [x.id for x in store.in_flight("ebay")] == [listing.id]
    store.mark_failed(listing.id, "HTTP 500", retry_at=100.0, now=2.0)
    assert store.due("ebay", now=50.0, limit=5)[0].id != listing.id
    assert listing.id in [x.id for x in store.due("ebay", now=100.0, limit=5)]
    store.mark_failed(listing.id, "HTTP 400", retry_at=None, now=3.0)
    assert store.listing_counts()["ebay"] == {"queued": 2, "failed": 1}


def test_a_sync_cycle_is_shared_batch_by_batch(store: Store) -> None:
    run, started = store.join_or_start_run(now=10.0, max_age_s=3600, batch_size=20)
    again, started2 = store.join_or_start_run(now=11.0, max_age_s=3600, batch_size=20)
    assert started and not started2 and again == run
    a = store.claim_batch(run, "1:1.0", now=12.0)
    b = store.claim_batch(run, "2:2.0", now=12.0)
    c = store.claim_batch(run, "2:2.0", now=12.0)
    assert a and b and c and {a[1], b[1], c[1]} == {0, 1, 2}
    assert store.claim_batch(run, "1:1.0", now=12.0) is None
    assert not store.claim_push(run, "1:1.0")  # batches still out
    # the first claimer dies: its batch goes back and is done by the other
    assert store.release_claims(run, "1:1.0") == 1
    redo = store.claim_batch(run, "2:2.0", now=13.0)
    assert redo and redo[1] == a[1]
    assert store.finish_batch(a[0], "1:1.0", [], [], now=13.0) is None  # lost claim: no effect
    for batch in (b, c, redo):
        ups = [PriceUpdate(x, 1000, 1) for x in batch[2]]
        assert store.finish_batch(batch[0], "2:2.0", ups, [], now=14.0) is not None
    assert store.claim_push(run, "2:2.0") and not store.claim_push(run, "1:1.0")
    store.finish_run(run, "complete", now=15.0, pushed=0)
    row = store.run_row(run)
    assert row["state"] == "complete" and row["items"] == 45 and row["batches"] == 3
    # an unfinished cycle older than the interval is abandoned, not joined
    run2, _ = store.join_or_start_run(now=20.0, max_age_s=3600, batch_size=20)
    run3, started3 = store.join_or_start_run(now=20.0 + 7200, max_age_s=3600, batch_size=20)
    assert started3 and run3 != run2 and store.run_row(run2)["state"] == "abandoned"


def test_prices_move_timestamps_only_when_they_change(store: Store) -> None:
    asin = store.all_asins()[0]
    assert store.apply_prices([PriceUpdate(asin, 1500, 1)], now=100.0) == 1
    assert store.apply_prices([PriceUpdate(asin, 1500, 0)], now=200.0) == 0
    row = store.db.execute(
        "SELECT price, price_updated_at, stock, stock_updated_at, synced_at"
        " FROM products WHERE asin = ?",
        (asin,),
    ).fetchone()
    assert tuple(row) == (1500, 100.0, 0, 200.0, 200.0)
    assert [p.asin for p in store.prices_to_push()] == [asin]
    store.mark_pushed(asin, 1500, 0, now=time.time())
    assert store.prices_to_push() == []


def test_a_product_nobody_offers_is_pushed_as_stock_0_and_back(store: Store) -> None:
    asin = store.all_asins()[0]
    store.db.execute("UPDATE products SET base_item_id = 'b1' WHERE asin = ?", (asin,))
    store.apply_prices([PriceUpdate(asin, 1500, 1)], now=100.0)
    [p] = store.prices_to_push()
    assert (p.price, p.stock) == (1500, 1)
    store.mark_pushed(asin, p.price, p.stock, now=101.0)
    assert store.prices_to_push() == []
    # no market offer: the price stays, the stock goes to 0, and BASE must be told so
    store.apply_prices([PriceUpdate(asin, None, 0)], now=200.0)
    [p] = store.prices_to_push()
    assert (p.price, p.stock) == (1500, 0)
    store.mark_pushed(asin, p.price, p.stock, now=201.0)
    assert store.prices_to_push() == []
    # the offer is back at the same price: in stock again on BASE
    store.apply_prices([PriceUpdate(asin, 1500, 1)], now=300.0)
    assert [(p.price, p.stock) for p in store.prices_to_push()] == [(1500, 1)]


def test_an_older_store_learns_what_stock_base_was_told(tmp_path: Path) -> None:
    # Given a store of schema 2 (before base_stock) with three products pushed to BASE
    path = tmp_path / "ecauto.db"
    db = sqlite3.connect(path)
    for migration in _MIGRATIONS[:2]:
        db.executescript(migration)
    db.execute("PRAGMA user_version = 2")
    db.executemany(
        "INSERT INTO products (asin, sku, price, stock, base_item_id, base_price)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [
            ("A1", "S1", 1500, 1, "b1", 1500),  # in stock, told: taken as told
            ("A2", "S2", 1500, 0, "b2", 1500),  # out of stock: told once more, to be sure
            ("A3", "S3", 1500, 1, "b3", None),  # never pushed
        ],
    )
    db.commit()
    db.close()
    # When this ecauto opens it
    store = Store(path)
    # Then only what BASE may not know yet is pushed: nothing is pushed twice for nothing
    assert [(p.asin, p.stock) for p in store.prices_to_push()] == [("A2", 0), ("A3", 1)]
    store.close()
