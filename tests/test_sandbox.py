"""The marketplace sandbox over real HTTP on 127.0.0.1, plus its pure parts (market, faults, CLI).

Most tests start the server in-process on port 0; those about quotas give it a hand-driven clock
so that "exactly 1/rate later" and "the next clock hour" are exact. One test runs the real
`python -m ecauto.sandbox` process and stops it with SIGTERM.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from support import ManualClock

from ecauto.config import ConfigError, Limit, SandboxSettings
from ecauto.sandbox import market
from ecauto.sandbox.__main__ import build_parser, settings_from
from ecauto.sandbox.faults import FaultMode, parse_fault
from ecauto.sandbox.key import HEADER
from ecauto.sandbox.server import SandboxServer

REPO = Path(__file__).resolve().parents[1]
HOUR = 3600.0
SPAPI = {"x-amz-access-token": "Atza|test"}
BEARER = {"Authorization": "Bearer test-token"}
# The sync's default operation, whose bucket is `spapi_rate`/`spapi_burst`.
PRICE_PATH = "/products/pricing/v0/competitivePrice"
OWN_PRICE_PATH = "/products/pricing/v0/price"
OFFERS_PATH = "/batches/products/pricing/v0/itemOffers"
FAST = {"getItemOffersBatch": Limit(1000.0, 1000), "getCompetitivePricing": Limit(1000.0, 1000)}


@dataclasses.dataclass
class Running:
    server: SandboxServer
    url: str
    http: requests.Session
    home: Path

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.http.get(self.url + path, timeout=10, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.http.post(self.url + path, timeout=10, **kw)

    def put(self, path: str, **kw: Any) -> requests.Response:
        return self.http.put(self.url + path, timeout=10, **kw)

    def stats(self) -> dict[str, Any]:
        return self.get("/_sandbox/stats").json()

    def endpoint(self, key: str) -> dict[str, int]:
        return self.stats()["endpoints"][key]

    def fault(self, **spec: Any) -> None:
        r = self.post("/_sandbox/faults", json=spec)
        assert r.status_code == 200, r.text

    def pricing(self, asins: str, headers: dict[str, str] | None = None) -> requests.Response:
        params = {"MarketplaceId": "A1VC38T7YXB528", "ItemType": "Asin", "Asins": asins}
        return self.get(PRICE_PATH, params=params, headers=SPAPI if headers is None else headers)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    """Start a sandbox on a free port; fast limits and no failures unless the test says so."""
    started: list[Running] = []

    def _start(clock: ManualClock | None = None, **settings: Any) -> Running:
        defaults: dict[str, Any] = dict(
            host="127.0.0.1",
            port=0,
            spapi_rate=1000.0,
            spapi_burst=1000,
            op_limits=FAST,
            listing_failure_rate=0.0,
        )
        home = tmp_path / f"home{len(started)}"
        server = SandboxServer(SandboxSettings(**{**defaults, **settings}), home, clock).start()
        running = Running(server, server.url, requests.Session(), home)
        running.http.headers[HEADER] = server.sandbox.key  # the control endpoints want it
        started.append(running)
        return running

    yield _start
    for running in started:
        running.http.close()
        running.server.stop()


@pytest.fixture
def sandbox(start: Callable[..., Running]) -> Running:
    return start()


def wait_for(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {check}")
        time.sleep(0.01)


def asin_where(predicate: Callable[[str], bool]) -> str:
    return next(a for a in (f"B0{i:08d}" for i in range(100_000)) if predicate(a))


# -- control endpoints -------------------------------------------------------------------------


def test_health_and_stats_shape(sandbox: Running) -> None:
    assert sandbox.get("/_sandbox/health").json() == {"ok": True}
    stats = sandbox.stats()
    assert set(stats) >= {"endpoints", "throttled_total", "listings", "started_at"}
    assert stats["endpoints"]["spapi.getCompetitivePricing"] == {
        "requests": 0,
        "ok": 0,
        "throttled": 0,
        "errors": 0,
        "injected": 0,
    }
    assert set(stats["endpoints"]) == {
        "spapi.getPricing",
        "spapi.getCompetitivePricing",
        "spapi.getItemOffersBatch",
        "lwa.token",
        "base.token",
        "base.items_edit",
        "base.items_add",
        "base.items_search",
        "ebay.token",
        "base.items_list",
        "ebay.put_item",
        "ebay.get_item",
        "ebay.create_offer",
        "ebay.get_offers",
        "ebay.publish_offer",
        "yahoo.token",
        "yahoo.edit_item",
        "yahoo.reserve_publish",
        "yahoo.get_item",
        "chatwork.post",
    }
    assert stats["listings"]["base"] == {"created": 0, "duplicates": 0, "failed": 0}
    assert abs(stats["started_at"] - time.time()) < 60
    assert sandbox.get("/nowhere").status_code == 404
    assert sandbox.http.delete(sandbox.url + PRICE_PATH, timeout=5).status_code == 405


# -- SP-API and LWA ----------------------------------------------------------------------------


def test_competitive_pricing_answers_from_the_market(start: Callable[..., Running]) -> None:
    clock = ManualClock()
    sb = start(clock, spapi_rate=5.0, spapi_burst=5)
    gone = asin_where(lambda a: not market.quote(7, a, clock.wall, 600.0).in_stock)

    r = sb.pricing(f"B000000001,BADASIN01,{gone}")

    assert r.status_code == 200
    assert r.headers["x-amzn-RateLimit-Limit"] == "5"
    items = r.json()["payload"]
    assert [i["ASIN"] for i in items] != ["B000000001", "BADASIN01", gone]  # never in order
    by_asin = {i["ASIN"]: i for i in items}
    first, bad, out = by_asin["B000000001"], by_asin["BADASIN01"], by_asin[gone]
    q = market.quote(7, "B000000001", clock.wall, 600.0)
    assert first["status"] == "Success"
    assert first["Product"]["Identifiers"]["MarketplaceASIN"] == {
        "MarketplaceId": "A1VC38T7YXB528",
        "ASIN": "B000000001",
    }
    pricing = first["Product"]["CompetitivePricing"]
    (box,) = pricing["CompetitivePrices"]
    assert box["CompetitivePriceId"] == "1"  # New Buy Box
    assert box["Price"]["ListingPrice"] == {"CurrencyCode": "JPY", "Amount": q.price}
    assert pricing["NumberOfOfferListings"] == [{"Count": len(q.offers), "condition": "New"}]
    assert bad == {"status": "ClientError", "ASIN": "BADASIN01"}  # Price declares no error body
    assert out["Product"]["CompetitivePricing"] == {
        "CompetitivePrices": [],
        "NumberOfOfferListings": [],
    }


def test_get_pricing_answers_only_the_sellers_own_offers(sandbox: Running) -> None:
    params = {"MarketplaceId": "A1VC38T7YXB528", "ItemType": "Asin", "Asins": "B000000001,OWN01"}

    r = sandbox.get(OWN_PRICE_PATH, params=params, headers=SPAPI)

    assert r.status_code == 200
    by_asin = {i["ASIN"]: i for i in r.json()["payload"]}
    assert by_asin["B000000001"]["Product"]["Offers"] == []  # on the market, not the seller's
    (own,) = by_asin["OWN01"]["Product"]["Offers"]
    assert own["SellerSKU"] == "SKU-OWN01"  # OfferType requires SellerSKU


def test_get_pricing_rejects_bad_input_and_missing_token(sandbox: Running) -> None:
    too_many = ",".join(f"B{i:09d}" for i in range(21))
    for asins in (too_many, ""):
        r = sandbox.pricing(asins)
        assert r.status_code == 400
        assert r.json()["errors"][0]["code"] == "InvalidInput"
    r = sandbox.pricing("B000000001", headers={})
    assert r.status_code == 403
    assert r.json()["errors"][0]["code"] == "Unauthorized"
    assert sandbox.endpoint("spapi.getCompetitivePricing") == {
        "requests": 3,
        "ok": 0,
        "throttled": 0,
        "errors": 3,
        "injected": 0,
    }


def test_quota_exceeded_then_a_request_exactly_one_interval_later_passes(
    start: Callable[..., Running],
) -> None:
    clock = ManualClock()
    sb = start(clock, spapi_rate=2.0, spapi_burst=1)
    assert sb.pricing("B000000001").status_code == 200

    refused = sb.pricing("B000000001")
    clock.advance(0.499)
    still_refused = sb.pricing("B000000001")
    clock.advance(0.001)  # exactly 1/rate after the accepted request
    passed = sb.pricing("B000000001")

    assert refused.status_code == 429
    assert refused.json() == {
        "errors": [
            {
                "code": "QuotaExceeded",
                "message": "You exceeded your quota for the requested resource.",
                "details": "",
            }
        ]
    }
    assert "x-amzn-RateLimit-Limit" not in refused.headers
    assert still_refused.status_code == 429
    assert passed.status_code == 200
    stats = sb.stats()
    assert stats["endpoints"]["spapi.getCompetitivePricing"]["throttled"] == 2
    assert stats["endpoints"]["spapi.getCompetitivePricing"]["ok"] == 2
    assert stats["throttled_total"] == 2


def test_each_operation_has_its_own_bucket(start: Callable[..., Running]) -> None:
    clock = ManualClock()
    sb = start(
        clock, spapi_rate=1.0, spapi_burst=1, op_limits={"getItemOffersBatch": Limit(0.1, 1)}
    )
    batch = {"requests": [offers_request("B000000001")]}
    assert sb.pricing("B000000001").status_code == 200
    assert sb.post(OFFERS_PATH, json=batch, headers=SPAPI).status_code == 200
    assert sb.pricing("B000000001").status_code == 429
    clock.advance(1.0)
    assert sb.pricing("B000000001").status_code == 200
    assert sb.post(OFFERS_PATH, json=batch, headers=SPAPI).status_code == 429
    clock.advance(9.0)
    ok = sb.post(OFFERS_PATH, json=batch, headers=SPAPI)
    assert ok.status_code == 200
    assert ok.headers["x-amzn-RateLimit-Limit"] == "0.1"


def offers_request(asin: str) -> dict[str, str]:
    return {
        "uri": f"/products/pricing/v0/items/{asin}/offers",
        "method": "GET",
        "MarketplaceId": "A1VC38T7YXB528",
        "ItemCondition": "New",
    }


def test_item_offers_batch(start: Callable[..., Running]) -> None:
    clock = ManualClock()
    sb = start(clock)
    gone = asin_where(lambda a: not market.quote(7, a, clock.wall, 600.0).in_stock)
    asked = ("B000000002", "BADX", gone)
    body = {"requests": [offers_request(a) for a in asked]}

    r = sb.post(OFFERS_PATH, json=body, headers=SPAPI)

    assert r.status_code == 200
    responses = r.json()["responses"]
    assert [x["request"]["Asin"] for x in responses] != list(asked)  # never in order
    good, bad, out = (next(x for x in responses if x["request"]["Asin"] == a) for a in asked)
    assert good["status"] == {"statusCode": 200, "reasonPhrase": "OK"}
    payload = good["body"]["payload"]
    assert (payload["ASIN"], payload["marketplaceId"]) == ("B000000002", "A1VC38T7YXB528")
    assert payload["Identifier"] == {
        "MarketplaceId": "A1VC38T7YXB528",
        "ItemCondition": "New",
        "ASIN": "B000000002",
    }
    winner = [o for o in payload["Offers"] if o["IsBuyBoxWinner"]]
    price = market.quote(7, "B000000002", clock.wall, 600.0).price
    assert [o["ListingPrice"]["Amount"] for o in winner] == [price]
    assert min(o["ListingPrice"]["Amount"] for o in payload["Offers"]) == price
    assert all(o["ShippingTime"]["availabilityType"] == "NOW" for o in payload["Offers"])
    assert payload["Summary"]["BuyBoxPrices"][0]["Shipping"] == {"CurrencyCode": "JPY", "Amount": 0}
    assert bad["status"]["statusCode"] == 400
    assert bad["body"]["errors"][0]["code"] == "InvalidInput"
    assert out["body"]["payload"]["status"] == "NoBuyableOffers"
    assert out["body"]["payload"]["Offers"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"requests": [offers_request("B000000001"), offers_request("B000000001")]},
        {"requests": [offers_request(f"B{i:09d}") for i in range(21)]},
        {"requests": []},
        {"requests": [{"uri": "/elsewhere", "method": "GET", "MarketplaceId": "M"}]},
        {"requests": [{**offers_request("B000000001"), "ItemCondition": None}]},
        {"requests": [{**offers_request("B000000001"), "ItemCondition": "Mint"}]},
    ],
    ids=["duplicate ASIN", "21 items", "empty", "bad uri", "no ItemCondition", "bad condition"],
)
def test_item_offers_batch_rejects_bad_batches(sandbox: Running, body: dict[str, Any]) -> None:
    r = sandbox.post(OFFERS_PATH, json=body, headers=SPAPI)
    assert r.status_code == 400
    assert r.json()["errors"][0]["code"] == "InvalidInput"


def test_lwa_token_expires(start: Callable[..., Running]) -> None:
    clock = ManualClock()
    sb = start(clock, lwa_expires_in=60)
    form = {
        "grant_type": "refresh_token",
        "refresh_token": "Atzr|refresh",
        "client_id": "id",
        "client_secret": "secret",
    }
    token = sb.post("/auth/o2/token", data=form).json()
    assert token["access_token"].startswith("Atza|")
    assert (token["token_type"], token["expires_in"]) == ("bearer", 60)
    assert token["refresh_token"] == "Atzr|refresh"
    with_token = {"x-amz-access-token": token["access_token"]}
    assert sb.pricing("B000000001", headers=with_token).status_code == 200

    clock.advance(60)
    r = sb.pricing("B000000001", headers=with_token)

    assert r.status_code == 403
    error = r.json()["errors"][0]
    assert error["code"] == "Unauthorized" and "expired" in error["message"]
    missing = sb.post("/auth/o2/token", data={**form, "client_secret": ""})
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


# -- BASE --------------------------------------------------------------------------------------


def base_refresh(sb: Running, refresh_token: str) -> requests.Response:
    form = {
        "grant_type": "refresh_token",
        "client_id": "cid",
        "client_secret": "secret",
        "refresh_token": refresh_token,
        "redirect_uri": "http://localhost/cb",
    }
    return sb.post("/1/oauth/token", data=form)


def test_base_refresh_tokens_rotate(sandbox: Running) -> None:
    first = base_refresh(sandbox, "kept-from-last-run")
    assert first.status_code == 200
    rotated = first.json()["refresh_token"]
    assert rotated != "kept-from-last-run"
    assert first.json()["token_type"] == "bearer" and first.json()["expires_in"] == 3600

    reused = base_refresh(sandbox, "kept-from-last-run")
    # BASE's code for a refused refresh token (base_api_v1_oauth_refresh_token.md)
    assert reused.status_code == 400 and reused.json() == {
        "error": "invalid_request",
        "error_description": "不正なリフレッシュトークンです。",
    }
    assert base_refresh(sandbox, rotated).status_code == 200
    assert base_refresh(sandbox, rotated).json()["error"] == "invalid_request"


def test_base_items_edit_auth(start: Callable[..., Running]) -> None:
    clock = ManualClock()
    sb = start(clock, base_expires_in=100)
    token = base_refresh(sb, "r0").json()["access_token"]
    edit = {"item_id": "100042", "price": "1980", "stock": "3"}

    ok = sb.post("/1/items/edit", data=edit, headers={"Authorization": f"Bearer {token}"})
    unknown = sb.post("/1/items/edit", data=edit, headers=BEARER)
    missing = sb.post("/1/items/edit", data=edit)
    clock.advance(100)
    expired = sb.post("/1/items/edit", data=edit, headers={"Authorization": f"Bearer {token}"})

    assert ok.status_code == 200
    item = ok.json()["item"]
    assert (item["item_id"], item["price"], item["stock"]) == (100042, 1980, 3)
    assert unknown.status_code == 200
    # BASE answers a missing or expired token with README.md's own example, a 400
    refused = {"error": "invalid_request", "error_description": "アクセストークンが無効です。"}
    assert missing.status_code == 400 and missing.json() == refused
    assert expired.status_code == 400 and expired.json() == refused


def test_base_hour_and_day_limits(start: Callable[..., Running]) -> None:
    # Given a shop allowed 3 calls an hour and 4 a day, 60 s into a UTC hour
    clock = ManualClock(wall=1_800_000_000.0 - 1_800_000_000.0 % 86400 + 60)
    sb = start(clock, base_hourly_cap=3, base_daily_cap=4)
    edit = {"item_id": "100001", "price": "500", "stock": "1"}
    calls = [
        lambda: sb.post("/1/items/edit", data=edit, headers=BEARER),
        lambda: sb.post("/1/items/add", data=new_item("S1"), headers=BEARER),
        lambda: sb.get("/1/items/search", params={"q": "S1"}, headers=BEARER),
    ]
    # When every kind of BASE call is made, the three share one quota
    assert [call().status_code for call in calls] == [200, 200, 200]
    over = sb.post("/1/items/edit", data=edit, headers=BEARER)
    assert over.status_code == 400 and over.json()["error"] == "hour_api_limit"
    assert "error_description" in over.json()
    # Then the next clock hour allows calls again, until the day's cap
    clock.advance(HOUR - 60)
    assert sb.post("/1/items/edit", data=edit, headers=BEARER).status_code == 200
    day = sb.post("/1/items/edit", data=edit, headers=BEARER)
    assert day.status_code == 400 and day.json()["error"] == "day_api_limit"
    # The token endpoint is outside the quota
    assert base_refresh(sb, "r1").status_code == 200
    stats = sb.stats()
    assert stats["endpoints"]["base.items_edit"]["throttled"] == 2
    assert stats["throttled_total"] == 2


def new_item(sku: str) -> dict[str, str]:
    return {"title": f"Item {sku}", "price": "2500", "stock": "2", "identifier": sku, "detail": "d"}


def test_base_add_search_and_duplicates(start: Callable[..., Running]) -> None:
    clock = ManualClock()
    sb = start(clock, base_search_lag_s=600)
    first = sb.post("/1/items/add", data=new_item("SKU-1"), headers=BEARER)
    assert first.status_code == 200
    item = first.json()["item"]
    assert item["identifier"] == "SKU-1" and isinstance(item["item_id"], int)
    # A new item is not searchable until the index has it (BASE: up to an hour)
    assert sb.get("/1/items/search", params={"q": "SKU-1"}, headers=BEARER).json() == {"items": []}
    clock.advance(600)
    found = sb.get("/1/items/search", params={"q": "SKU-1"}, headers=BEARER).json()
    assert [i["item_id"] for i in found["items"]] == [item["item_id"]]
    assert sb.get("/1/items/search", params={"q": "SKU-2"}, headers=BEARER).json() == {"items": []}

    again = sb.post("/1/items/add", data=new_item("SKU-1"), headers=BEARER)

    assert again.status_code == 200
    clock.advance(600)
    found = sb.get("/1/items/search", params={"q": "SKU-1"}, headers=BEARER).json()
    assert len(found["items"]) == 2
    assert sb.stats()["listings"]["base"] == {"created": 1, "duplicates": 1, "failed": 0}


EBAY_OFFER = {
    "sku": "F1",
    "marketplaceId": "EBAY_US",
    "format": "FIXED_PRICE",
    "availableQuantity": 1,
    "categoryId": "c",
    "listingPolicies": {"fulfillmentPolicyId": "f", "paymentPolicyId": "p", "returnPolicyId": "r"},
    "merchantLocationKey": "loc",
    "pricingSummary": {"price": {"value": "10", "currency": "USD"}},
}


def test_listing_failures_at_the_failure_rate(start: Callable[..., Running]) -> None:
    sb = start(listing_failure_rate=1.0)
    base = [sb.post("/1/items/add", data=new_item(f"F{i}"), headers=BEARER) for i in range(8)]
    sb.put("/sell/inventory/v1/inventory_item/F1", json={"product": {}}, headers=BEARER)
    sb.post("/sell/inventory/v1/offer", json=EBAY_OFFER, headers=BEARER)
    ebay = sb.post("/sell/inventory/v1/offer/1/publish", headers=BEARER)  # made just below
    yahoo_form = {"seller_id": "sandbox-store", "item_code": "F1", "name": "n", "price": "100"}
    yahoo = sb.post("/ShoppingWebService/V1/editItem", data=yahoo_form, headers=BEARER)

    for r in base:
        assert (r.status_code, r.json()["error"]) in {
            (500, "server_error"),
            (400, "validation_error"),
        }
    assert ebay.status_code == 500 and ebay.json()["errors"][0]["errorId"] == 25001
    assert yahoo.status_code == 500 and "<Error><Message>" in yahoo.text
    stats = sb.stats()
    assert stats["listings"]["base"] == {"created": 0, "duplicates": 0, "failed": 8}
    assert stats["listings"]["ebay"]["failed"] == stats["listings"]["yahoo"]["failed"] == 1
    assert stats["endpoints"]["base.items_add"]["errors"] == 8
    assert stats["throttled_total"] == 0


def test_listing_failures_are_reproducible_for_a_seed(start: Callable[..., Running]) -> None:
    def outcomes(sb: Running) -> list[int]:
        return [
            sb.post("/1/items/add", data=new_item(f"R{i}"), headers=BEARER).status_code
            for i in range(40)
        ]

    a = outcomes(start(listing_failure_rate=0.3, seed=11))
    b = outcomes(start(listing_failure_rate=0.3, seed=11))
    assert a == b
    assert 200 in a and set(a) - {200}


# -- eBay and Yahoo ----------------------------------------------------------------------------


def test_ebay_inventory_item_put_and_get(sandbox: Running) -> None:
    path = "/sell/inventory/v1/inventory_item/SKU%2F7"  # an SKU with a slash, URL-encoded
    item = {"product": {"title": "Tea"}, "availability": {"shipToLocationAvailability": {}}}
    assert sandbox.get(path, headers=BEARER).status_code == 404
    assert sandbox.get(path, headers=BEARER).json()["errors"][0]["errorId"] == 25710
    assert sandbox.put(path, json=item, headers=BEARER).status_code == 204
    got = sandbox.get(path, headers=BEARER)
    assert got.status_code == 200 and got.json()["product"] == {"title": "Tea"}
    assert got.json()["sku"] == "SKU/7"
    assert sandbox.put(path, json=item).status_code == 401
    # an upsert, and not a listing (tests/test_sandbox_listings.py: offers and publishing)
    assert sandbox.put(path, json=item, headers=BEARER).status_code == 204
    assert sandbox.stats()["listings"]["ebay"] == {"created": 0, "duplicates": 0, "failed": 0}


# -- Chatwork ----------------------------------------------------------------------------------


def test_chatwork_records_messages_and_does_not_limit_a_room(
    start: Callable[..., Running],
) -> None:
    clock = ManualClock()
    sb = start(clock)
    token = {"X-ChatWorkToken": "secret-token-123"}
    path = "/v2/rooms/4242/messages"
    assert sb.post(path, data={"body": "x"}).status_code == 401
    assert sb.post(path, data={"body": "x"}).json() == {"errors": ["Invalid API token"]}
    assert sb.post(path, data={}, headers=token).status_code == 400

    sent = [sb.post(path, data={"body": f"alert {i}"}, headers=token) for i in range(10)]
    # No per-room limit is documented (only the token's 300 per 5 minutes): the 11th goes too.
    eleventh = sb.post(path, data={"body": "an eleventh"}, headers=token)
    other_room = sb.post("/v2/rooms/1/messages", data={"body": "elsewhere"}, headers=token)
    clock.advance(10.0)
    later = sb.post(path, data={"body": "after the window"}, headers=token)

    assert [r.status_code for r in sent] == [200] * 10
    assert sent[0].json()["message_id"] != sent[1].json()["message_id"]
    assert eleventh.status_code == 200
    # The token's window counts requests, the one refused for its missing body too.
    assert sent[0].headers["x-ratelimit-limit"] == "300"
    assert sent[0].headers["x-ratelimit-remaining"] == "298"
    assert other_room.status_code == 200 and later.status_code == 200
    assert sb.endpoint("chatwork.post")["throttled"] == 0
    journal = sb.home / "sandbox" / "chatwork.jsonl"
    assert stat.S_IMODE(journal.parent.stat().st_mode) == 0o700
    text = journal.read_text()
    assert "secret-token-123" not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert [m["body"] for m in lines] == [f"alert {i}" for i in range(10)] + [
        "an eleventh",
        "elsewhere",
        "after the window",
    ]
    assert set(lines[0]) == {"at", "room", "body", "token_sha256", "message_id"}
    assert lines[0]["room"] == "4242" and lines[0]["at"] == pytest.approx(clock.wall - 10)
    assert len(lines[0]["token_sha256"]) == 64
    assert sb.get("/_sandbox/chatwork").json() == lines


def test_chatwork_limits_a_token_to_300_requests_in_5_minutes(sandbox: Running) -> None:
    token = {"X-ChatWorkToken": "busy"}
    answers = [
        sandbox.post(f"/v2/rooms/{i % 40}/messages", data={"body": "m"}, headers=token)
        for i in range(301)
    ]
    codes = [a.status_code for a in answers]
    assert codes[:300] == [200] * 300 and codes[300] == 429
    assert answers[299].headers["x-ratelimit-remaining"] == "0"
    refused = answers[300]
    assert refused.json() == {"errors": ["Rate limit exceeded"]}
    assert refused.headers["x-ratelimit-limit"] == "300"
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert 0 < int(refused.headers["x-ratelimit-reset"]) - time.time() <= 301
    other = sandbox.post(
        "/v2/rooms/1/messages", data={"body": "m"}, headers={"X-ChatWorkToken": "x"}
    )
    assert other.status_code == 200


# -- faults and latency ------------------------------------------------------------------------


def test_injected_429_is_not_counted_as_throttled(start: Callable[..., Running]) -> None:
    clock = ManualClock()
    sb = start(clock)
    sb.fault(endpoint="spapi", mode="429", seconds=5)

    pricing = sb.pricing("B000000001")
    offers = sb.post(OFFERS_PATH, json={"requests": [offers_request("B1")]}, headers=SPAPI)
    lwa = sb.post("/auth/o2/token", data={"grant_type": "refresh_token"})
    clock.advance(5)
    after = sb.pricing("B000000001")

    assert pricing.status_code == offers.status_code == 429
    assert pricing.json()["errors"][0]["code"] == "QuotaExceeded"
    assert lwa.status_code == 400  # "spapi" does not cover Login with Amazon
    assert after.status_code == 200
    stats = sb.stats()
    assert stats["endpoints"]["spapi.getCompetitivePricing"] == {
        "requests": 2,
        "ok": 1,
        "throttled": 0,
        "errors": 0,
        "injected": 1,
    }
    assert stats["throttled_total"] == 0 and stats["injected_total"] == 2


def test_injected_500_until_cleared_and_control_endpoints_never_faulted(sandbox: Running) -> None:
    sandbox.fault(endpoint="*", mode="500")
    assert sandbox.get("/_sandbox/faults").json()["faults"][0]["mode"] == "500"
    edit = sandbox.post("/1/items/edit", data={"item_id": "100001"}, headers=BEARER)
    chat = sandbox.post(
        "/v2/rooms/1/messages", data={"body": "b"}, headers={"X-ChatWorkToken": "t"}
    )
    assert edit.status_code == chat.status_code == 500
    assert sandbox.get("/_sandbox/health").status_code == 200

    cleared = sandbox.http.delete(sandbox.url + "/_sandbox/faults", timeout=5)

    assert cleared.json() == {"cleared": 1}
    again = sandbox.post("/1/items/edit", data={"item_id": "100001"}, headers=BEARER)
    assert again.status_code == 200
    assert sandbox.endpoint("base.items_edit")["injected"] == 1


def test_a_fault_of_n_times_hits_the_first_n_matching_requests_only(sandbox: Running) -> None:
    sandbox.fault(endpoint="base.items_edit", mode="500", times=2)
    codes = [
        sandbox.post("/1/items/edit", data={"item_id": "100001"}, headers=BEARER).status_code
        for _ in range(3)
    ]
    assert codes == [500, 500, 200]
    assert sandbox.endpoint("base.items_edit")["injected"] == 2
    assert sandbox.get("/_sandbox/faults").json()["faults"] == []


def test_slow_fault_delays_then_answers(sandbox: Running) -> None:
    sandbox.fault(endpoint="base.items_search", mode="slow", delay_s=0.3, seconds=30)
    began = time.monotonic()
    r = sandbox.get("/1/items/search", params={"q": "x"}, headers=BEARER)
    assert r.status_code == 200 and time.monotonic() - began >= 0.3
    assert sandbox.endpoint("base.items_search")["ok"] == 1


def test_hang_holds_the_request_then_closes(sandbox: Running) -> None:
    item = sandbox.url + "/sell/inventory/v1/inventory_item/S"
    sandbox.fault(endpoint="ebay.get_item", mode="hang", seconds=0.4)
    began = time.monotonic()
    # A client patient enough sees the connection closed, unanswered, when the fault ends.
    with pytest.raises(requests.ConnectionError):
        sandbox.http.get(item, headers=BEARER, timeout=10)
    assert time.monotonic() - began >= 0.35
    # A client with a shorter timeout gives up first.
    sandbox.fault(endpoint="ebay.get_item", mode="hang", seconds=30)
    with pytest.raises(requests.ReadTimeout):
        sandbox.http.get(item, headers=BEARER, timeout=0.2)
    assert sandbox.endpoint("ebay.get_item") == {
        "requests": 2,
        "ok": 0,
        "throttled": 0,
        "errors": 0,
        "injected": 2,
    }


def test_clearing_faults_releases_a_hung_request(sandbox: Running) -> None:
    sandbox.fault(endpoint="yahoo", mode="hang")  # no seconds: until cleared
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            requests.get(sandbox.url + "/ShoppingWebService/V1/getItem", timeout=30)
        except requests.RequestException as e:
            outcome.append(e)

    caller = threading.Thread(target=call)
    caller.start()
    wait_for(lambda: sandbox.endpoint("yahoo.get_item")["requests"] == 1)
    sandbox.http.delete(sandbox.url + "/_sandbox/faults", timeout=5)
    caller.join(timeout=5)
    assert not caller.is_alive()
    assert isinstance(outcome[0], requests.ConnectionError)


def test_down_closes_at_once(sandbox: Running) -> None:
    sandbox.fault(endpoint="base.token", mode="down", seconds=30)
    with pytest.raises(requests.ConnectionError):
        base_refresh(sandbox, "r")
    assert sandbox.endpoint("base.token")["injected"] == 1
    assert sandbox.get("/_sandbox/health").json() == {"ok": True}


@pytest.mark.parametrize(
    "spec",
    [
        {"endpoint": "spapi.nope", "mode": "500"},
        {"endpoint": "spapi", "mode": "503"},
        {"endpoint": "*", "mode": "500", "seconds": 0},
        {"endpoint": "*", "mode": "slow", "delay_s": "1"},
        {"endpoint": "*", "mode": "500", "times": 0},
        {"endpoint": "*", "mode": "500", "times": 1.5},
        {"mode": "500"},
    ],
)
def test_bad_fault_is_refused(sandbox: Running, spec: dict[str, Any]) -> None:
    r = sandbox.post("/_sandbox/faults", json=spec)
    assert r.status_code == 400 and r.json()["error"]


def test_latency_is_added_to_api_answers(start: Callable[..., Running]) -> None:
    sb = start(latency_ms=200)
    began = time.monotonic()
    assert sb.pricing("B000000001").status_code == 200
    assert time.monotonic() - began >= 0.2


def test_stop_releases_held_requests(start: Callable[..., Running]) -> None:
    sb = start()
    sb.fault(endpoint="*", mode="hang")
    errors: list[BaseException] = []

    def call() -> None:
        try:
            requests.get(sb.url + PRICE_PATH, timeout=30)
        except requests.RequestException as e:
            errors.append(e)

    caller = threading.Thread(target=call)
    caller.start()
    wait_for(lambda: sb.endpoint("spapi.getCompetitivePricing")["requests"] == 1)
    sb.server.stop()
    caller.join(timeout=5)
    assert not caller.is_alive() and isinstance(errors[0], requests.ConnectionError)


def test_a_sync_cycle_of_a_thousand_products(sandbox: Running) -> None:
    # Fifty getCompetitivePricing batches and a thousand BASE edits, as one price-sync cycle makes.
    asins = [f"B{i:09d}" for i in range(1000)]
    for k in range(0, 1000, 20):
        assert sandbox.pricing(",".join(asins[k : k + 20])).status_code == 200
    for i in range(1000):
        edit = {"item_id": str(100000 + i), "price": "1000", "stock": "1"}
        assert sandbox.post("/1/items/edit", data=edit, headers=BEARER).status_code == 200
    stats = sandbox.stats()
    assert stats["endpoints"]["spapi.getCompetitivePricing"]["ok"] == 50
    assert stats["endpoints"]["base.items_edit"]["ok"] == 1000


# -- pure parts --------------------------------------------------------------------------------


def test_market_is_deterministic_and_bounded() -> None:
    asins = [f"B{i:09d}" for i in range(2000)]
    now = 1_800_000_000.0
    quotes = [market.quote(7, a, now, 600.0) for a in asins]
    assert quotes == [market.quote(7, a, now, 600.0) for a in asins]
    assert all(market.PRICE_MIN <= q.price <= market.PRICE_MAX for q in quotes)
    other_seed = [market.quote(8, a, now, 600.0).price for a in asins]
    assert sum(q.price != p for q, p in zip(quotes, other_seed, strict=True)) > 1900
    assert all(q.offers == () for q in quotes if not q.in_stock)
    assert all(
        q.offers[0] == q.price and list(q.offers) == sorted(q.offers) for q in quotes if q.in_stock
    )
    # The same epoch gives the same quote whatever the moment inside it.
    assert market.quote(7, "B1", now, 600.0) == market.quote(
        7, "B1", now + 599.0 - now % 600, 600.0
    )


def test_market_moves_about_a_tenth_of_prices_per_epoch() -> None:
    asins = [f"B{i:09d}" for i in range(4000)]
    e = market.epoch_of(1_800_000_000.0, 600.0)
    before = [market.price_at(7, a, e) for a in asins]
    after = [market.price_at(7, a, e + 1) for a in asins]
    moved = [(b, a) for b, a in zip(before, after, strict=True) if b != a]
    assert 0.07 < len(moved) / len(asins) < 0.13
    assert all(abs(a - b) / b <= 2 * market.DRIFT / (1 - market.DRIFT) + 0.01 for b, a in moved)
    out = sum(not market.in_stock_at(7, a, e) for a in asins) / len(asins)
    assert 0.015 < out < 0.045


def test_market_asin_validity() -> None:
    assert market.is_valid_asin("B000000001")
    assert not market.is_valid_asin("BAD0000001")
    assert not market.is_valid_asin("")


def test_fault_matching_and_parsing() -> None:
    keys = ["spapi.getPricing", "spapi.getItemOffersBatch", "lwa.token", "base.items_add"]
    fault = parse_fault({"endpoint": "spapi", "mode": "429", "seconds": 10}, keys, 1, 100.0)
    assert fault.mode is FaultMode.QUOTA and fault.until == 110.0
    assert [k for k in keys if fault.matches(k)] == ["spapi.getPricing", "spapi.getItemOffersBatch"]
    glob = parse_fault({"endpoint": "base.items_*", "mode": "slow"}, keys, 2, 0.0)
    assert glob.matches("base.items_add") and glob.delay_s == 1.0 and not glob.active(float("inf"))
    with pytest.raises(ValueError, match="matches no endpoint"):
        parse_fault({"endpoint": "spap", "mode": "500"}, keys, 3, 0.0)


def test_flags_override_the_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "ecauto.toml"
    cfg.write_text(
        "[sandbox]\nspapi_rate = 3.0\nseed = 5\n"
        "[sandbox.op_limits.getListingOffersBatch]\nrate = 2.0\nburst = 2\n"
    )
    args = build_parser().parse_args(
        [
            "--config",
            str(cfg),
            "--spapi-burst",
            "4",
            "--op-limit",
            "getItemOffersBatch=1.5:3",
            "--latency-ms",
            "5",
        ]
    )
    s = settings_from(args)
    assert (s.spapi_rate, s.spapi_burst, s.seed, s.latency_ms) == (3.0, 4, 5, 5.0)
    assert s.op_limits["getItemOffersBatch"] == Limit(1.5, 3)
    assert s.op_limits["getListingOffersBatch"] == Limit(2.0, 2)
    assert s.op_limits["getPricing"] == Limit(0.5, 1)
    pricing = settings_from(
        build_parser().parse_args(["--config", str(cfg), "--op-limit", "getCompetitivePricing=9:8"])
    )
    assert (pricing.spapi_rate, pricing.spapi_burst) == (9.0, 8)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--spapi-rate", "-3"],
            "--spapi-rate must be a number greater than 0 and at most 1000, got -3.0",
        ),
        (["--listing-failure-rate", "2"], "--listing-failure-rate must be a number from 0 to 1"),
        (["--op-limit", "getItemOffersBatch=0:1"], "--op-limit getItemOffersBatch rate must be"),
        (["--op-limit", "getItemOffersBatch=1"], "must look like OP=RATE:BURST"),
        (["--op-limit", "nope=1:1"], "the operation must be one of"),
    ],
)
def test_bad_flag_values_name_the_flag(tmp_path: Path, argv: list[str], message: str) -> None:
    (tmp_path / "empty.toml").write_text("")
    args = build_parser().parse_args(["--config", str(tmp_path / "empty.toml"), *argv])
    with pytest.raises(ConfigError) as e:
        settings_from(args)
    assert message in str(e.value)


# -- the real process --------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ECAUTO_CONFIG", "ECAUTO_HOME")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _sandbox_process(cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ecauto.sandbox", "--port", "0", *args],
        cwd=cwd,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.process
@pytest.mark.timeout(60)
def test_process_serves_until_sigterm_and_exits_0(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    home = tmp_path / "home"
    proc = _sandbox_process(tmp_path, "--port-file", str(port_file), "--home", str(home))
    try:
        port = int(wait_for(lambda: port_file.exists() and port_file.read_text().strip(), 20))
        health = requests.get(f"http://127.0.0.1:{port}/_sandbox/health", timeout=5)
        assert health.json() == {"ok": True}
        r = requests.post(
            f"http://127.0.0.1:{port}/v2/rooms/9/messages",
            data={"body": "hello"},
            headers={"X-ChatWorkToken": "t"},
            timeout=5,
        )
        assert r.status_code == 200

        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)

        assert proc.returncode == 0, err
        assert f"sandbox listening url=http://127.0.0.1:{port}" in err
        assert "sandbox stopped signal=SIGTERM" in err
        assert "Traceback" not in err
        assert (home / "sandbox" / "chatwork.jsonl").read_text().count("\n") == 1
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


@pytest.mark.process
@pytest.mark.timeout(60)
def test_process_exits_78_on_bad_config(tmp_path: Path) -> None:
    cfg = tmp_path / "ecauto.toml"
    cfg.write_text("[sandbox]\nspapi_rate = -1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "ecauto.sandbox", "--config", str(cfg), "--port", "0"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 78
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "sandbox.spapi_rate" in lines[0]


@pytest.mark.process
@pytest.mark.timeout(60)
@pytest.mark.parametrize("unsafe", ["open to others", "a symlink"])
def test_process_exits_78_on_an_unsafe_home(tmp_path: Path, unsafe: str) -> None:
    """The sandbox keeps the key the daemons prove it by: its home is checked as theirs is."""
    home = tmp_path / "home"
    if unsafe == "a symlink":
        (tmp_path / "real").mkdir(mode=0o700)
        home.symlink_to(tmp_path / "real")
    else:
        home.mkdir()
        home.chmod(0o777)
    proc = _sandbox_process(tmp_path, "--home", str(home))
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:  # it started: the home was not checked
        proc.kill()
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 78, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"sandbox: unsafe home: {home}"), err
    assert not (tmp_path / "real" / "secrets").exists()
