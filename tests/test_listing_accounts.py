"""Several eBay and Yahoo seller accounts (`[ebay.accounts]`, `[yahoo.accounts]`): upload-ebay and
upload-yahoo each serve every account's queue, each account with its own credentials, token
store, daily and hourly cap; a refused account is named and the others are served; a config
without accounts keeps today's names. Real sandbox process over HTTP, real SQLite, real daemons.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import requests
from support import Reaper, Rig, read_hb, sandbox_headers

from ecauto import config, redact
from ecauto.apis import Apis
from ecauto.clients.ebay import EbayClient, OfferTerms
from ecauto.clients.yahoo import YahooClient
from ecauto.config import ConfigError
from ecauto.credentials import StaticToken
from ecauto.daemons.upload import stopped_line
from ecauto.home import Home
from ecauto.quota import sleep_wait
from ecauto.store import Store
from ecauto.words.errors import translate

PLATFORMS = ["ebay", "yahoo"]


def accounts(platform: str, second: str = "") -> str:
    return f"[{platform}.accounts.main]\n\n[{platform}.accounts.second]\n{second}\n"


def rig_with(
    tmp_path: Path, reaper: Reaper, platform: str, second: str = "", listings: int = 0
) -> Rig:
    extra = accounts(platform, second)
    return Rig(tmp_path, reaper, products=10, listings=listings, config_extra=extra)


def enqueue(rig: Rig, platform: str, per_account: int) -> None:
    store = Store(rig.home / "ecauto.db")
    try:
        for account in ("main", "second"):
            for i in range(per_account):
                sku = f"SKU-{i}"  # the same SKU in both accounts: each its own listing
                store.enqueue(
                    platform, sku, {"title": sku, "price": 1000, "stock": 1}, 1.0, account=account
                )
    finally:
        store.close()


def listing_states(rig: Rig, platform: str) -> list[tuple[str, str, int]]:
    with rig.db() as db:
        rows = db.execute(
            "SELECT account, state, COUNT(*) FROM listings WHERE platform = ? GROUP BY 1, 2",
            (platform,),
        ).fetchall()
    return sorted(rows)


def quota_days(home: Path, platform: str) -> dict[str, int]:
    """What the daemon counted in each account's day (the instance's quota.db)."""
    db = sqlite3.connect(home / "quota.db")
    try:
        rows = db.execute("SELECT key, state FROM limiter").fetchall()
    finally:
        db.close()
    return {k: json.loads(v)["day"][1] for k, v in rows if k.startswith(f"{platform}/")}


def once(rig: Rig, platform: str) -> str:
    res = rig.run("ecauto.daemons.upload", "--platform", platform, "--once", "--interval", "3600")
    assert "Traceback" not in res.stderr, res.stderr
    return f"{res.returncode}\n{res.stderr}"


@pytest.mark.process
@pytest.mark.timeout(120)
@pytest.mark.parametrize("platform", PLATFORMS)
def test_one_daemon_lists_for_every_account_with_its_own_token_and_quota(
    tmp_path: Path, reaper: Reaper, platform: str
) -> None:
    # Given two accounts with 3 listings queued each, the same SKUs in both
    rig = rig_with(tmp_path, reaper, platform)
    enqueue(rig, platform, 3)

    # When upload-<platform> runs one cycle
    said = once(rig, platform)

    # Then each account's listings are listed in that account, once each
    assert said.startswith("0\n"), said
    assert listing_states(rig, platform) == [("main", "uploaded", 3), ("second", "uploaded", 3)]
    stats = rig.stats()
    by_account = stats[f"{platform}_accounts"]
    for name in ("main", "second"):
        assert by_account[name]["listings"] == {"created": 3, "duplicates": 0, "failed": 0}
        assert by_account[name]["refreshes"] == 1  # its own token, refreshed once
    assert by_account["default"]["listings"]["created"] == 0
    # with a token store and a daily count of its own
    secrets = sorted(p.name for p in (rig.home / "secrets").glob(f"{platform}*.json"))
    assert secrets == [f"{platform}-main.json", f"{platform}-second.json"]
    days = quota_days(rig.home, platform)
    assert set(days) == {f"{platform}/listing/main", f"{platform}/listing/second"}
    assert days[f"{platform}/listing/main"] == days[f"{platform}/listing/second"] >= 3


@pytest.mark.process
@pytest.mark.timeout(120)
@pytest.mark.parametrize("platform", PLATFORMS)
def test_each_account_keeps_its_own_hourly_and_daily_cap(
    tmp_path: Path, reaper: Reaper, platform: str
) -> None:
    # Given "second" may list 2 an hour, and 4 listings queued in each account
    rig = rig_with(tmp_path, reaper, platform, second="hourly_cap = 2")
    enqueue(rig, platform, 4)

    # When one cycle runs
    said = once(rig, platform)

    # Then main listed all of its own, second 2 only
    assert said.startswith("0\n"), said
    assert listing_states(rig, platform) == [
        ("main", "uploaded", 4),
        ("second", "queued", 2),
        ("second", "uploaded", 2),
    ]

    # Given then a daily cap of 5 for main, whose day has counted 4 calls, and 2 more listings
    rig.config.write_text(
        rig.config.read_text().replace(
            f"[{platform}.accounts.main]\n", f"[{platform}.accounts.main]\ndaily_cap = 5\n"
        )
    )
    store = Store(rig.home / "ecauto.db")
    for account in ("main", "second"):
        for sku in ("NEW-1", "NEW-2"):
            store.enqueue(
                platform, sku, {"title": sku, "price": 1, "stock": 1}, 2.0, account=account
            )
    store.close()

    # When the next cycle runs: main lists one more and is passed over (not waited for)
    said = once(rig, platform)
    assert said.startswith("0\n"), said
    assert "uploads waiting account=main" in said
    states = dict(((a, s), n) for a, s, n in listing_states(rig, platform))
    assert states[("main", "uploaded")] == 5 and states[("main", "queued")] == 1

    # Given one more call in main's day, and main's listing tried once before (so it is looked
    # up first, which takes that call)
    rig.config.write_text(rig.config.read_text().replace("daily_cap = 5\n", "daily_cap = 6\n"))
    with rig.db() as db:
        db.execute("UPDATE listings SET attempts = 1 WHERE account = 'main' AND state = 'queued'")

    # When the next cycle runs: its upload finds the day spent, and the daemon does not wait
    # for the next day: the listing goes back to the queue as it was, and the cycle ends
    said = once(rig, platform)
    assert said.startswith("0\n"), said
    assert said.count("uploads waiting account=main") == 1, said
    states = dict(((a, s), n) for a, s, n in listing_states(rig, platform))
    assert states[("main", "uploaded")] == 5 and states[("main", "queued")] == 1


REFUSED = {
    "ebay": "eBay account second: the refresh token was refused (the refresh token is invalid or"
    " revoked); authorise again and set a new refresh token (EBAY_SECOND_REFRESH_TOKEN in the"
    " environment)",
    "yahoo": "Yahoo account second: the refresh token was refused (the refresh token is invalid"
    " or revoked); authorise again and set a new refresh token (YAHOO_SECOND_REFRESH_TOKEN in"
    " the environment)",
}


def revoke(rig: Rig, platform: str, account: str | None = None) -> None:
    body = {"platform": platform} | ({"shop": account} if account else {})
    requests.post(
        f"{rig.url}/_sandbox/revoke", json=body, headers=sandbox_headers(rig.home), timeout=5
    ).raise_for_status()


@pytest.mark.process
@pytest.mark.timeout(120)
@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_refused_account_is_named_and_the_other_is_served(
    tmp_path: Path, reaper: Reaper, platform: str
) -> None:
    # Given two accounts with 3 listings each, and "second" no longer authorised
    rig = rig_with(tmp_path, reaper, platform)
    enqueue(rig, platform, 3)
    revoke(rig, platform, "second")

    # When one cycle runs
    said = once(rig, platform)

    # Then main's listings are listed, second's wait, and the cycle fails in one line naming
    # second and where its new refresh token goes (the heartbeat's last error says it too)
    assert said.startswith("1\n"), said
    failed = [x for x in said.splitlines() if "cycle failed" in x]
    assert len(failed) == 1 and REFUSED[platform] in failed[0], said
    hb = read_hb(rig.home, f"upload-{platform}")
    assert hb is not None and hb.last_error == REFUSED[platform]
    assert listing_states(rig, platform) == [
        ("main", "uploaded", 3),
        ("second", "queued", 2),
        ("second", "uploading", 1),  # looked up first at the next start, as with one account
    ]
    # and an operator reading Japanese reads it in Japanese
    assert translate(REFUSED[platform], "ja").startswith(
        f"{'eBay' if platform == 'ebay' else 'Yahoo'} のアカウント second: "
    )


@pytest.mark.process
@pytest.mark.timeout(120)
def test_a_config_without_accounts_keeps_todays_token_store_and_quota(
    tmp_path: Path, reaper: Reaper
) -> None:
    # Given a config without [ebay.accounts], as every home had before, and 3 demo listings
    rig = Rig(tmp_path, reaper, products=10, listings=3)

    said = once(rig, "ebay")

    assert said.startswith("0\n"), said
    assert listing_states(rig, "ebay") == [("default", "uploaded", 3)]
    assert sorted(p.name for p in (rig.home / "secrets").glob("ebay*.json")) == ["ebay.json"]
    assert set(quota_days(rig.home, "ebay")) == {"ebay/listing"}
    (line,) = [x for x in said.splitlines() if " uploads platform=" in x]
    assert "account=" not in line  # one account: its log lines as before


@pytest.mark.process
@pytest.mark.timeout(120)
def test_demo_listings_go_to_the_first_account(tmp_path: Path, reaper: Reaper) -> None:
    # Given a new sandbox home with eBay accounts main and second, and 3 demo listings
    rig = rig_with(tmp_path, reaper, "ebay", listings=3)

    # When upload-ebay runs its first cycle (seeding the demo data)
    said = once(rig, "ebay")

    # Then the demo's eBay listings were main's, and are listed there
    assert said.startswith("0\n"), said
    assert listing_states(rig, "ebay") == [("main", "uploaded", 3)]
    assert listing_states(rig, "yahoo") == [("default", "queued", 3)]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_config_without_accounts_keeps_todays_names(platform: str) -> None:
    (only,) = config.parse({}).listing_accounts(platform)
    got = (only.name, only.env_prefix, only.token_name, only.quota_key)
    assert got == ("default", platform.upper(), platform, f"{platform}/listing")
    assert (only.hourly_cap, only.daily_cap) == (120, 5000)


def test_accounts_are_named_with_names_caps_and_policies_of_their_own(tmp_path: Path) -> None:
    policies = {
        k: "p"
        for k in ("fulfillment_policy_id", "payment_policy_id", "return_policy_id")
        + ("merchant_location_key",)
    }
    cfg = config.parse(
        {
            "mode": "live",
            "upload": {"ebay": {"daily_cap": 900}},
            "ebay": {
                **policies,
                "category_id": "1",
                "accounts": {
                    "main": {},
                    "us-2": {"env_prefix": "EBAY2", "hourly_cap": 10, "category_id": "7"},
                    "default": {},
                },
            },
        }
    )
    got = [
        (a.name, a.env_prefix, a.token_name, a.quota_key, a.hourly_cap, a.daily_cap)
        for a in cfg.listing_accounts("ebay")
    ]
    assert got == [
        ("main", "EBAY_MAIN", "ebay-main", "ebay/listing/main", 120, 900),
        ("us-2", "EBAY2", "ebay-us-2", "ebay/listing/us-2", 10, 900),
        ("default", "EBAY", "ebay", "ebay/listing", 120, 900),  # today's, kept for a home
    ]
    apis = Apis(cfg, Home.resolve(tmp_path / "home").ensure(), sleep_wait)
    try:
        assert apis._offer_terms("us-2").category_id == "7"
        assert apis._offer_terms("main").category_id == "1"
    finally:
        apis.close()


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ({"ebay": {"accounts": {"Main": {}}}}, "ebay.accounts.Main: an account's name must be"),
        (
            {"yahoo": {"accounts": {"a": {"env_prefix": "YAHOO"}, "default": {}}}},
            "yahoo.accounts.default: its credentials' prefix YAHOO is also yahoo.accounts.a's",
        ),
        ({"yahoo": {"accounts": {"a": {"daily_cap": 0}}}}, "yahoo.accounts.a.daily_cap must be"),
        ({"yahoo": {"accounts": {"a": {"category_id": "1"}}}}, "unknown key"),
    ],
)
def test_a_bad_account_stops_with_one_line(data: dict[str, object], said: str) -> None:
    with pytest.raises(ConfigError) as e:
        config.parse(data)
    assert said in str(e.value)


def test_live_credentials_and_store_are_read_per_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = config.parse({"mode": "live", "yahoo": {"accounts": {"main": {}, "second": {}}}})
    main, second = cfg.listing_accounts("yahoo")
    apis = Apis(cfg, Home.resolve(tmp_path / "home").ensure(), sleep_wait)
    for var in ("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN"):
        monkeypatch.setenv(f"YAHOO_SECOND_{var}", f"second-{var.lower()}-value")
    monkeypatch.setenv("YAHOO_SECOND_SELLER_ID", "shop-two")
    # main's variables are missing: its start names the first one
    with pytest.raises(ConfigError, match="YAHOO_MAIN_CLIENT_ID"):
        apis.listing("yahoo", main)
    client = apis.listing("yahoo", second)
    assert isinstance(client, YahooClient) and client.seller_id == "shop-two"
    assert client.seller_variable == "YAHOO_SECOND_SELLER_ID"
    # and its secrets, not among today's variable names, are masked in whatever is written
    assert redact.scrub("sent second-client_secret-value") == "sent ***"
    apis.close()


def test_another_reason_to_stop_names_the_account_without_a_token_hint() -> None:
    (a, _) = config.parse({"yahoo": {"accounts": {"x": {}, "y": {}}}}).listing_accounts("yahoo")
    line = stopped_line(a, ConfigError("Yahoo editItem: the store account 'q' does not exist"))
    assert line == "Yahoo account x: Yahoo editItem: the store account 'q' does not exist"


TERMS = OfferTerms("EBAY_US", "USD", "cat-1", "ful-1", "pay-1", "ret-1", "loc-1")
PRODUCT = {"title": "Green tea", "price": 1200, "stock": 3}


@pytest.mark.process
@pytest.mark.timeout(60)
def test_the_sandboxs_sellers_keep_their_listings_apart(tmp_path: Path, reaper: Reaper) -> None:
    # Given the sandbox, and clients holding tokens of two eBay and two Yahoo accounts
    rig = Rig(tmp_path, reaper, products=0, listings=0)

    def ebay(account: str) -> EbayClient:
        return EbayClient(rig.url, StaticToken(f"some-token:{account}"), 5.0, TERMS)

    def yahoo(account: str, store: str) -> YahooClient:
        return YahooClient(rig.url, StaticToken(f"some-token:{account}"), 5.0, seller_id=store)

    # When main lists an SKU on eBay, then second lists the same SKU
    listed = ebay("main").upload("SKU-1", PRODUCT)

    # Then second does not see main's listing, and its own is another listing
    assert ebay("second").find("SKU-1") is None
    assert ebay("second").upload("SKU-1", PRODUCT) != listed
    assert ebay("main").find("SKU-1") == listed
    # and on Yahoo, each account has its own store, and another's does not exist for it
    assert yahoo("main", "sandbox-store-main").upload("SKU-1", PRODUCT) == "SKU-1"
    assert yahoo("second", "sandbox-store-second").find("SKU-1") is None
    with pytest.raises(ConfigError, match="ed-00004"):
        yahoo("second", "sandbox-store-main").find("SKU-1")
    stats = rig.stats()
    assert stats["ebay_accounts"]["main"]["listings"]["created"] == 1
    assert stats["ebay_accounts"]["second"]["listings"]["created"] == 1
    assert stats["listings"]["ebay"] == {"created": 2, "duplicates": 0, "failed": 0}
    assert stats["yahoo_accounts"]["main"]["items"] == {"saved": 1, "published": 1}
    assert stats["yahoo_accounts"]["second"]["items"] == {"saved": 0, "published": 0}


def test_the_watchdog_masks_every_accounts_token_store(tmp_path: Path) -> None:
    # Given the token stores of an eBay and a BASE account, as the daemons left them
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name, token in (("ebay-main", "v^1.1#i^1#main-access-1"), ("base-second", "2nd-access-1")):
        (secrets / f"{name}.json").write_text(json.dumps({"access_token": token}))

    # When a process that never read them (the watchdog) registers the home's token stores
    redact.register_token_files(secrets)

    # Then what it shows masks them as it masks today's
    assert redact.scrub("v^1.1#i^1#main-access-1 and 2nd-access-1") == "*** and ***"
