"""BASE's side of the sync against the sandbox (real processes, real HTTP, real SQLite): a
product nobody offers on Amazon any more is set to stock 0 on BASE, and listings keep their
share of BASE's hour while the sync pushes prices.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from support import BIN, Reaper, Rig, read_hb, send_signal, wait_for

from ecauto.sandbox import market

PRODUCTS = 200
STEADY = ("--market-period-s", "86400")  # prices that do not move during the test
SEED = 7  # the sandbox's default seed


@pytest.mark.process
@pytest.mark.timeout(120)
def test_a_product_nobody_offers_is_set_to_stock_0_on_base(tmp_path: Path, reaper: Reaper) -> None:
    rig = Rig(tmp_path, reaper, *STEADY, products=PRODUCTS)
    first = rig.sync_once()
    assert first.returncode == 0, first.stderr
    db = rig.db()
    rows = db.execute("SELECT asin, base_item_id FROM products").fetchall()
    now = time.time()
    gone = {
        asin: item
        for asin, item in rows
        if not market.quote(SEED, asin, now, 86400.0).offers and not market.has_market(SEED, asin)
    }
    assert gone  # the case is in the data
    # Given products BASE was told about while they had an offer (price 999, in stock) ...
    told = "base_price = 999, base_pushed_at = 1"
    if "base_stock" in [r[1] for r in db.execute("PRAGMA table_info(products)")]:
        told += ", base_stock = 1"
    db.executemany(
        f"UPDATE products SET price = 999, stock = 1, {told} WHERE asin = ?",
        [(a,) for a in gone],
    )
    db.commit()

    # ... when a cycle finds that nobody offers them on Amazon any more
    second = rig.sync_once()

    # Then their BASE items cannot be bought (stock 0), at the price they had
    assert second.returncode == 0, second.stderr
    out = set(rig.stats()["base_out_of_stock"])
    assert set(gone.values()) <= out
    got = db.execute(
        f"SELECT asin, price, stock, base_price, base_stock FROM products"
        f" WHERE asin IN ({','.join('?' * len(gone))})",
        list(gone),
    ).fetchall()
    db.close()
    assert all(r[1:] == (999, 0, 999, 0) for r in got), got


def detail(rig: Rig, name: str) -> str:
    hb = read_hb(rig.home, name)
    return hb.detail if hb else ""


@pytest.mark.process
@pytest.mark.timeout(240)
def test_listings_keep_their_share_of_bases_hour_while_the_sync_pushes(
    tmp_path: Path, reaper: Reaper
) -> None:
    # Given BASE allowing 50 calls an hour, 20 % of them kept for listings, and a sync with
    # about 180 prices to push (far more than the hour holds)
    cap, kept, listings = 50, 10, 15
    rig = Rig(
        tmp_path,
        reaper,
        *STEADY,
        "--base-hourly-cap",
        str(cap),
        products=PRODUCTS,
        listings=listings,
    )
    rig.config.write_text(
        rig.config.read_text().replace(
            "[base]\ntimeout_s = 5.0",
            f"[base]\ntimeout_s = 5.0\nhourly_limit = {cap}\nlisting_share = 0.2",
        )
    )
    # (the test needs one clock hour: not its last minute)
    wait_for(lambda: time.time() % 3600 < 3480, 125, "a clock hour with 2 minutes to spare")
    hour_end = time.strftime("%H:00 UTC", time.gmtime((time.time() // 3600 + 1) * 3600))
    sync = rig.daemon("ecauto.daemons.sync")
    try:
        # When the sync has spent the pushes' part of the hour
        wait_for(
            lambda: "waiting for BASE's hourly quota" in detail(rig, "sync-inventory"),
            60,
            "the sync waiting for BASE's hour",
        )
        assert detail(rig, "sync-inventory") == (
            f"waiting for BASE's hourly quota until {hour_end} ({kept} of {cap} kept for listings)"
        )
        assert rig.stats()["base_quota"]["hour"] == cap - kept
        # Then upload-base still lists in the same hour, with the calls kept for it
        upload = rig.upload("base", "--interval", "0.3")
        try:
            wait_for(
                lambda: "waiting for BASE's hourly quota" in detail(rig, "upload-base"),
                60,
                "upload-base waiting for BASE's hour",
            )
            assert detail(rig, "upload-base") == f"waiting for BASE's hourly quota until {hour_end}"
            # and `watchdog report` shows both waits, as the operator reads it
            report = subprocess.run(
                [str(BIN / "watchdog"), "report"],
                env=rig.env,
                capture_output=True,
                text=True,
                timeout=60,
            ).stdout
            assert (
                f"  sync-inventory: waiting for BASE's hourly quota until {hour_end} "
                f"({kept} of {cap} kept for listings)"
            ) in report.splitlines()
            assert (
                f"  upload-base: waiting for BASE's hourly quota until {hour_end}"
            ) in report.splitlines()
            stats = rig.stats()
            assert stats["listings"]["base"]["created"] == kept
            assert stats["base_quota"]["hour"] == cap
            assert stats["endpoints"]["base.items_edit"]["ok"] == cap - kept
        finally:
            send_signal(upload.pid, signal.SIGTERM)
            upload.wait(20)
    finally:
        send_signal(sync.pid, signal.SIGTERM)
        sync.wait(20)
