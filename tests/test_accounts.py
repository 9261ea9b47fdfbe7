"""Several BASE shops (`[base.accounts]`): one sync cycle reads every shop's products through the
one SP-API bucket and pushes each shop's prices with its own token and quota; upload-base serves
every shop's queue; a shop whose authorisation is refused is named; an existing single-shop
database and config keep working. Real sandbox process over HTTP, real SQLite, real daemons.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import requests
from support import BIN, Reaper, Rig, read_hb, sandbox_headers, send_signal, wait_for

from ecauto import config
from ecauto.apis import Apis
from ecauto.config import ConfigError
from ecauto.daemons.sync import accounts_line
from ecauto.home import Home
from ecauto.quota import sleep_wait
from ecauto.store import _MIGRATIONS, PriceUpdate, Store

STEADY = ("--market-period-s", "86400")  # prices that do not move during the test
MAIN, SECOND = 120, 51
ACCOUNTS = f"""
[base.accounts.main]
demo_products = {MAIN}

[base.accounts.second]
demo_products = {SECOND}
"""


def two_shops(tmp_path: Path, reaper: Reaper, extra: str = "", listings: int = 0) -> Rig:
    return Rig(
        tmp_path,
        reaper,
        *STEADY,
        spapi_rate=5.0,
        products=10,
        listings=listings,
        config_extra=ACCOUNTS + extra,
    )


def per_account(db: sqlite3.Connection, sql: str) -> dict[str, int]:
    return dict(db.execute(f"SELECT account, COUNT(*) FROM products WHERE {sql} GROUP BY account"))


def quota_counts(home: Path) -> dict[str, int]:
    """What the daemons counted in each BASE shop's hour (the instance's quota.db)."""
    db = sqlite3.connect(home / "quota.db")
    try:
        rows = db.execute("SELECT key, state FROM limiter").fetchall()
    finally:
        db.close()
    out = {}
    for key, value in rows:
        if key.startswith("base/"):
            out[key] = json.loads(value)["hour"][1]
    return out


@pytest.mark.process
@pytest.mark.timeout(180)
def test_two_shops_are_synced_in_one_cycle_each_with_its_own_token_and_quota(
    tmp_path: Path, reaper: Reaper
) -> None:
    # Given two BASE shops of 120 and 51 products, and an SP-API limit of 5 calls a second
    rig = two_shops(tmp_path, reaper)

    # When one sync cycle runs
    res = rig.sync_once()

    # Then every product of both shops was read once, and Amazon refused no call
    assert res.returncode == 0, res.stderr
    db = rig.db()
    assert per_account(db, "synced_at IS NOT NULL") == {"main": MAIN, "second": SECOND}
    stats = rig.stats()
    assert stats["endpoints"]["spapi.getCompetitivePricing"]["throttled"] == 0
    assert stats["spapi"]["asins_by_times"] == {"1": MAIN + SECOND}
    assert db.execute("SELECT COUNT(DISTINCT account) FROM sync_batches").fetchone()[0] == 2
    # and each shop's prices went to its own shop, counted in its own quota, with its own token
    pushed = per_account(db, "base_price IS NOT NULL")
    assert 0 < pushed["second"] < pushed["main"]
    shops = stats["base_shops"]
    assert shops["main"]["quota"]["hour"] == pushed["main"]
    assert shops["second"]["quota"]["hour"] == pushed["second"]
    assert shops["default"]["quota"]["hour"] == 0
    assert quota_counts(rig.home) == {
        "base/shop/main": pushed["main"],
        "base/shop/second": pushed["second"],
    }
    secrets = sorted(p.name for p in (rig.home / "secrets").glob("base*.json"))
    assert secrets == ["base-main.json", "base-second.json"]
    db.close()


@pytest.mark.process
@pytest.mark.timeout(120)
def test_upload_base_serves_every_shops_queue(tmp_path: Path, reaper: Reaper) -> None:
    # Given two shops with 4 listings queued each (and eBay's queue, of the one eBay account)
    rig = two_shops(tmp_path, reaper, listings=4)

    # When upload-base runs one cycle
    res = rig.run("ecauto.daemons.upload", "--platform", "base", "--once", "--interval", "60")

    # Then each shop has its own 4 listings, listed in that shop
    assert res.returncode == 0, res.stderr
    db = rig.db()
    rows = db.execute(
        "SELECT platform, account, state, COUNT(*) FROM listings GROUP BY 1, 2, 3"
    ).fetchall()
    db.close()
    assert ("base", "main", "uploaded", 4) in rows
    assert ("base", "second", "uploaded", 4) in rows
    assert ("ebay", "default", "queued", 4) in rows
    shops = rig.stats()["base_shops"]
    assert shops["main"]["listings"] == {"created": 4, "duplicates": 0, "failed": 0}
    assert shops["second"]["listings"] == {"created": 4, "duplicates": 0, "failed": 0}


def detail(rig: Rig) -> str:
    hb = read_hb(rig.home, "sync-inventory")
    return hb.detail if hb else ""


@pytest.mark.process
@pytest.mark.timeout(180)
def test_a_shop_waiting_for_its_hour_does_not_hold_the_other_back(
    tmp_path: Path, reaper: Reaper
) -> None:
    # Given shop "main" allowing 30 calls an hour (6 of them kept for listings), "second" 5,000
    rig = two_shops(tmp_path, reaper, extra="")
    rig.config.write_text(
        rig.config.read_text().replace(
            f"[base.accounts.main]\ndemo_products = {MAIN}",
            f"[base.accounts.main]\ndemo_products = {MAIN}\nhourly_limit = 30",
        )
    )
    wait_for(lambda: time.time() % 3600 < 3480, 125, "a clock hour with 2 minutes to spare")
    sync = rig.daemon("ecauto.daemons.sync")
    try:
        # When main has spent its pushes' part of the hour
        wait_for(
            lambda: "waiting for BASE main's hourly quota" in detail(rig),
            90,
            "the sync waiting for main's hour",
        )
        # Then all of second's prices are pushed meanwhile, and main's 24 only
        db = rig.db()
        pushable = per_account(db, "price IS NOT NULL AND base_item_id IS NOT NULL")
        pushed = per_account(db, "base_price IS NOT NULL")
        db.close()
        assert pushed == {"main": 24, "second": pushable["second"]}
        assert "(6 of 30 kept for listings)" in detail(rig)
        shops = rig.stats()["base_shops"]
        assert shops["main"]["quota"]["hour"] == 24
        assert shops["second"]["quota"]["hour"] == pushable["second"]
    finally:
        send_signal(sync.pid, signal.SIGTERM)
        sync.wait(20)


REFUSED_SECOND = (
    "BASE account second: the refresh token was refused (不正なリフレッシュトークンです。);"
    " authorise again and set a new refresh token (BASE_SECOND_REFRESH_TOKEN in the environment)"
)


def revoke(rig: Rig, shop: str) -> None:
    """The shop withdraws the app's authorisation: its refresh token is refused from now on."""
    requests.post(
        f"{rig.url}/_sandbox/revoke",
        json={"platform": "base", "shop": shop},
        headers=sandbox_headers(rig.home),
        timeout=5,
    ).raise_for_status()


def runs(rig: Rig) -> list[tuple[str, int]]:
    db = rig.db()
    try:
        return db.execute("SELECT state, items FROM sync_runs ORDER BY id").fetchall()
    finally:
        db.close()


@pytest.mark.process
@pytest.mark.timeout(120)
def test_a_refused_shop_is_named_and_the_other_keeps_being_synced(
    tmp_path: Path, reaper: Reaper
) -> None:
    # Given shop "second" has withdrawn the app's authorisation
    rig = two_shops(tmp_path, reaper)
    revoke(rig, "second")

    # When the sync runs, a cycle every 2 s
    sync = rig.daemon("ecauto.daemons.sync", "--interval", "2")
    try:
        # (a cycle still pushing its prices has not ended either)
        wait_for(lambda: len(runs(rig)) >= 2 and runs(rig)[1][0] == "partial", 60, "two cycles")

        # Then it keeps running, each cycle reading both shops and failing in one line that
        # names the shop and what to do (the watchdog's `failing` finding quotes it) ...
        assert sync.poll() is None
        assert runs(rig)[:2] == [("partial", MAIN + SECOND), ("partial", MAIN + SECOND)]
        hb = read_hb(rig.home, "sync-inventory")
        assert hb is not None and hb.last_error == REFUSED_SECOND and hb.failures >= 2
        # ... and shop main's prices were all pushed; second's none
        db = rig.db()
        pushable = per_account(db, "price IS NOT NULL AND base_item_id IS NOT NULL")
        pushed = per_account(db, "base_price IS NOT NULL")
        db.close()
        assert pushed == {"main": pushable["main"]}
        # and `watchdog report` names the shop in the sync's last error
        report = subprocess.run(
            [str(BIN / "watchdog"), "report"],
            env=rig.env,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
        (row,) = [x for x in report.splitlines() if x.startswith("sync-inventory ")]
        assert "BASE account second: the refresh token was refused" in row, report
    finally:
        send_signal(sync.pid, signal.SIGTERM)
        _, err = sync.communicate(timeout=20)
    assert "Traceback" not in err


@pytest.mark.process
@pytest.mark.timeout(120)
def test_upload_base_lists_for_the_other_shop_when_one_is_refused(
    tmp_path: Path, reaper: Reaper
) -> None:
    # Given two shops with 3 listings queued each, and shop "main" no longer authorised
    rig = two_shops(tmp_path, reaper, listings=3)
    revoke(rig, "main")

    # When upload-base runs one cycle
    res = rig.run("ecauto.daemons.upload", "--platform", "base", "--once", "--interval", "60")

    # Then second's listings are listed, main's wait, and the cycle fails naming main
    assert res.returncode == 1, res.stderr
    said = [x for x in res.stderr.splitlines() if "cycle failed" in x]
    assert len(said) == 1 and 'error="BASE account main: ' in said[0], res.stderr
    assert "BASE_MAIN_REFRESH_TOKEN" in said[0] and "Traceback" not in res.stderr
    db = rig.db()
    rows = db.execute(
        "SELECT account, state, attempts, COUNT(*) FROM listings WHERE platform = 'base'"
        " GROUP BY 1, 2, 3"
    ).fetchall()
    db.close()
    # (the one main had claimed is looked up first at the next start, as with one shop)
    assert sorted(rows) == [
        ("main", "queued", 0, 2),
        ("main", "uploading", 0, 1),
        ("second", "uploaded", 0, 3),
    ]


def test_a_cycle_reads_the_shops_one_after_the_other_and_says_how_far_each_is(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "ecauto.db")
    for index, (account, n) in enumerate((("main", 45), ("second", 21))):
        store.seed_demo(n, 0, ["base"], 1.0, account, index)
    run, _ = store.join_or_start_run(1.0, 3600, 20, ["main", "second"])
    assert store.account_progress(run) == {"main": (0, 45), "second": (0, 21)}
    seen = []
    while (batch := store.claim_batch(run, "1:1.0", 2.0)) is not None:
        seen.append((batch.account, len(batch.asins)))
        ups = [PriceUpdate(a, 100, 1) for a in batch.asins]
        store.finish_batch(batch.id, "1:1.0", ups, [], 3.0)
        if batch.idx == 1:
            assert accounts_line(store.account_progress(run)) == "main 40/45 · second 0/21"
    assert seen == [("main", 20), ("main", 20), ("main", 5), ("second", 20), ("second", 1)]
    assert [len(store.prices_to_push(a)) for a in ("main", "second", "default")] == [45, 21, 0]
    store.close()


def v3_database(path: Path) -> None:
    """A database as the single-shop ecauto left it (schema 3)."""
    db = sqlite3.connect(path)
    for script in _MIGRATIONS[:3]:
        db.executescript(script)
    db.execute("PRAGMA user_version = 3")
    db.executemany(
        "INSERT INTO products (asin, sku, base_item_id, price, stock, base_price, base_stock)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            ("B000000001", "SKU-1", "100001", 1200, 1, 1100, 1),
            ("B000000002", "SKU-2", None, 5, 0, None, None),
        ],
    )
    db.execute(
        "INSERT INTO listings (id, platform, sku, payload, state, created_at, updated_at)"
        " VALUES (7, 'base', 'SKU-1', '{}', 'uploaded', 1, 1)"
    )
    db.execute("INSERT INTO sync_runs (started_at, state) VALUES (1, 'complete')")
    db.commit()
    db.close()


def test_an_existing_single_shop_database_moves_to_the_default_account(tmp_path: Path) -> None:
    # Given a database of the single-shop ecauto
    path = tmp_path / "ecauto.db"
    v3_database(path)

    # When this ecauto opens it
    store = Store(path)

    # Then what was there is the default account's, as it was
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == 4
    rows = store.db.execute("SELECT account, asin, price, base_price FROM products").fetchall()
    assert [tuple(r) for r in rows] == [
        ("default", "B000000001", 1200, 1100),
        ("default", "B000000002", 5, None),
    ]
    assert [p.asin for p in store.prices_to_push()] == ["B000000001"]
    listing = store.db.execute("SELECT id, account, state FROM listings").fetchone()
    assert tuple(listing) == (7, "default", "uploaded")
    # and another shop may hold the same ASIN and SKU, its rows its own
    store.db.execute(
        "INSERT INTO products (account, asin, sku, base_item_id, price) VALUES"
        " ('second', 'B000000001', 'SKU-1', '5', 10)"
    )
    new_id = store.enqueue("base", "SKU-1", {"title": "x"}, 2.0, account="second")
    assert new_id > 7  # AUTOINCREMENT kept its sequence
    assert store.apply_prices([PriceUpdate("B000000001", 1300, 1)], 3.0) == 1
    prices = dict(store.db.execute("SELECT account, price FROM products WHERE asin = 'B000000001'"))
    assert prices == {"default": 1300, "second": 10}
    store.close()


@pytest.mark.process
@pytest.mark.timeout(120)
def test_a_home_without_accounts_keeps_its_token_store_and_quota(
    tmp_path: Path, reaper: Reaper
) -> None:
    # Given a config without [base.accounts], as every home had before
    rig = Rig(tmp_path, reaper, *STEADY, products=60, listings=0)

    # When a sync cycle runs
    res = rig.sync_once()

    # Then it uses today's token store and quota key, and the one shop of before
    assert res.returncode == 0, res.stderr
    db = rig.db()
    pushed = per_account(db, "base_price IS NOT NULL")
    db.close()
    assert list(pushed) == ["default"]
    assert sorted(p.name for p in (rig.home / "secrets").glob("base*.json")) == ["base.json"]
    assert quota_counts(rig.home) == {"base/shop": pushed["default"]}
    shops = rig.stats()["base_shops"]
    assert list(shops) == ["default"] and shops["default"]["quota"]["hour"] == pushed["default"]
    assert " · " not in res.stderr  # no per-shop progress for one shop


def test_a_config_without_accounts_keeps_todays_names() -> None:
    (only,) = config.parse({}).base_accounts()
    assert (only.name, only.env_prefix, only.token_name, only.quota_key) == (
        "default",
        "BASE",
        "base",
        "base/shop",
    )
    assert (only.hourly_limit, only.daily_limit) == (5000, 100000)


def test_accounts_are_named_in_the_config_with_names_of_their_own() -> None:
    cfg = config.parse(
        {
            "base": {
                "hourly_limit": 4000,
                "accounts": {
                    "main": {},
                    "second-shop": {"hourly_limit": 100, "env_prefix": "SHOP2"},
                    "default": {},
                },
            }
        }
    )
    got = [
        (a.name, a.env_prefix, a.token_name, a.quota_key, a.hourly_limit)
        for a in cfg.base_accounts()
    ]
    assert got == [
        ("main", "BASE_MAIN", "base-main", "base/shop/main", 4000),
        ("second-shop", "SHOP2", "base-second-shop", "base/shop/second-shop", 100),
        ("default", "BASE", "base", "base/shop", 4000),  # today's, kept for an existing home
    ]


@pytest.mark.parametrize(
    ("accounts", "message"),
    [
        ({"Main": {}}, "base.accounts.Main: an account's name must be"),
        ({"main": {"hourly_limt": 1}}, "unknown key 'base.accounts.main.hourly_limt'"),
        ({"main": {"env_prefix": "base-x"}}, "base.accounts.main.env_prefix must be upper-case"),
        ({"main": {}, "x": {"env_prefix": "BASE_MAIN"}}, "prefix BASE_MAIN is also"),
        ({"main": {"hourly_limit": 0}}, "base.accounts.main.hourly_limit must be"),
    ],
)
def test_a_bad_account_is_one_line(accounts: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as e:
        config.parse({"base": {"accounts": accounts}})
    assert message in str(e.value) and "\n" not in str(e.value)


def test_live_credentials_are_read_per_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = config.parse({"mode": "live", "base": {"accounts": {"main": {}, "second": {}}}})
    main, second = cfg.base_accounts()
    for n in ("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN", "REDIRECT_URI"):
        monkeypatch.setenv(f"BASE_MAIN_{n}", f"main-{n.lower()}")
        monkeypatch.delenv(f"BASE_SECOND_{n}", raising=False)
    apis = Apis(cfg, Home.resolve(tmp_path / "home").ensure(), sleep_wait)
    try:
        client = apis.base(account=main)
        assert client.tokens.creds.client_id == "main-client_id"  # type: ignore[attr-defined]
        with pytest.raises(ConfigError, match="BASE_SECOND_CLIENT_ID is not set"):
            apis.base(account=second)
    finally:
        apis.close()
