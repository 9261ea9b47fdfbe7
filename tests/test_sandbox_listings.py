"""eBay and Yahoo as their contracts say, the clients against the sandbox over real HTTP.

eBay: an inventory item is not a listing; an offer published is, and a retry after a lost answer
reuses the offer and the listing. Yahoo: editItem saves, reservePublish publishes; it-05002 is
"not found", ed-00004 a store that does not exist. Tokens expire, are refreshed once on a 401,
and a refused refresh asks for a new authorisation.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from support import ManualClock

from ecauto.auth import Credentials, OAuthTokens
from ecauto.clients.ebay import EbayClient, OfferTerms
from ecauto.clients.http import ApiError
from ecauto.clients.yahoo import YahooClient
from ecauto.config import ConfigError, SandboxSettings
from ecauto.credentials import StaticToken
from ecauto.sandbox.key import HEADER
from ecauto.sandbox.server import SandboxServer

TERMS = OfferTerms("EBAY_US", "USD", "cat-1", "ful-1", "pay-1", "ret-1", "loc-1")
CREDS = Credentials("client-id-1", "client-secret-1", "refresh-token-1")
PRODUCT = {"title": "Green tea", "price": 1200, "stock": 3}


class Running:
    def __init__(self, server: SandboxServer) -> None:
        self.server, self.url = server, server.url
        self.http = requests.Session()
        self.http.headers[HEADER] = server.sandbox.key

    def stats(self) -> dict[str, Any]:
        return dict(self.http.get(f"{self.url}/_sandbox/stats", timeout=5).json())

    def requests_to(self, key: str) -> int:
        return int(self.stats()["endpoints"][key]["requests"])

    def fault(self, **spec: Any) -> None:
        self.http.post(f"{self.url}/_sandbox/faults", json=spec, timeout=5).raise_for_status()

    def clear(self) -> None:
        self.http.delete(f"{self.url}/_sandbox/faults", timeout=5).raise_for_status()


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def _start(clock: ManualClock | None = None, **settings: Any) -> Running:
        s = SandboxSettings(host="127.0.0.1", port=0, listing_failure_rate=0.0, **settings)
        running = Running(SandboxServer(s, tmp_path / f"sb{len(started)}", clock).start())
        started.append(running)
        return running

    yield _start
    for running in started:
        running.http.close()
        running.server.stop()


def ebay(sb: Running) -> EbayClient:
    return EbayClient(sb.url, StaticToken("test-token"), 5.0, TERMS)


def yahoo(sb: Running, seller: str = "sandbox-store") -> YahooClient:
    return YahooClient(sb.url, StaticToken("test-token"), 5.0, seller_id=seller)


# -- eBay ---------------------------------------------------------------------------------------


def test_ebay_listing_is_an_offer_published_and_answers_its_listing_id(
    start: Callable[..., Running],
) -> None:
    sb = start()
    client = ebay(sb)
    assert client.find("SKU-1") is None

    listing_id = client.upload("SKU-1", PRODUCT)

    assert listing_id.isdigit()
    assert client.find("SKU-1") == listing_id
    assert client.upload("SKU-1", PRODUCT) == listing_id  # the same offer, the same listing
    assert sb.stats()["listings"]["ebay"] == {"created": 1, "duplicates": 0, "failed": 0}
    assert sb.requests_to("ebay.create_offer") == 1
    offers = sb.http.get(
        f"{sb.url}/sell/inventory/v1/offer",
        params={"sku": "SKU-1"},
        headers={"Authorization": "Bearer t"},
        timeout=5,
    ).json()["offers"]
    assert [o["pricingSummary"]["price"] for o in offers] == [{"value": "1200", "currency": "USD"}]
    assert offers[0]["listingPolicies"]["paymentPolicyId"] == "pay-1"


def test_ebay_offer_without_what_publishing_needs_is_refused(start: Callable[..., Running]) -> None:
    sb = start()
    client = EbayClient(
        sb.url, StaticToken("t"), 5.0, TERMS.__class__(**{**vars(TERMS), "category_id": ""})
    )

    with pytest.raises(ApiError, match="categoryId is missing"):
        client.upload("SKU-1", PRODUCT)

    assert sb.stats()["listings"]["ebay"]["created"] == 0


@pytest.mark.parametrize("step", ["ebay.create_offer", "ebay.publish_offer"])
def test_ebay_retry_after_a_lost_answer_lists_once(
    start: Callable[..., Running], step: str
) -> None:
    # Given the answer to createOffer or publishOffer lost after the sandbox acted on it
    sb = start()
    client = ebay(sb)
    sb.fault(endpoint=step, mode="lost")
    with pytest.raises(ApiError) as lost:
        client.upload("SKU-1", PRODUCT)
    assert lost.value.retryable
    sb.clear()

    # When the upload is tried again
    listing_id = client.upload("SKU-1", PRODUCT)

    # Then the existing offer was reused: one offer, one listing
    assert client.find("SKU-1") == listing_id
    assert sb.requests_to("ebay.create_offer") == 1
    assert sb.stats()["listings"]["ebay"] == {"created": 1, "duplicates": 0, "failed": 0}


# -- Yahoo --------------------------------------------------------------------------------------


def test_yahoo_saved_is_not_published(start: Callable[..., Running]) -> None:
    sb = start()
    client = yahoo(sb)
    sb.fault(endpoint="yahoo.reserve_publish", mode="500")

    with pytest.raises(ApiError, match="reservePublish"):
        client.upload("Y-1", PRODUCT)

    assert sb.stats()["yahoo_items"] == {"saved": 1, "published": 0}
    assert sb.stats()["listings"]["yahoo"]["created"] == 0
    sb.clear()
    # the look-up of the failed try finds the saved item and publishes it
    assert client.find("Y-1") == "Y-1"
    assert sb.stats()["yahoo_items"] == {"saved": 1, "published": 1}
    assert sb.stats()["listings"]["yahoo"] == {"created": 1, "duplicates": 0, "failed": 0}


def test_yahoo_item_not_found_is_it_05002_and_means_send_it(start: Callable[..., Running]) -> None:
    sb = start()
    r = sb.http.get(
        f"{sb.url}/ShoppingWebService/V1/getItem",
        params={"seller_id": "sandbox-store", "item_code": "nope"},
        headers={"Authorization": "Bearer t"},
        timeout=5,
    )
    assert r.status_code == 400 and "<Code>it-05002</Code>" in r.text
    client = yahoo(sb)
    assert client.find("nope") is None
    assert client.upload("nope", PRODUCT) == "nope"
    assert sb.stats()["yahoo_items"] == {"saved": 1, "published": 1}


def test_yahoo_unknown_store_is_a_configuration_error(start: Callable[..., Running]) -> None:
    sb = start()
    with pytest.raises(ConfigError, match="store account 'no-such-store' does not exist") as e:
        yahoo(sb, "no-such-store").upload("Y-1", PRODUCT)
    assert "\n" not in str(e.value)
    assert sb.stats()["yahoo_items"] == {"saved": 0, "published": 0}


# -- tokens -------------------------------------------------------------------------------------


PLATFORMS = {
    "ebay": ("/identity/v1/oauth2/token", "ebay_expires_in", "ebay.token"),
    "yahoo": ("/yconnect/v2/token", "yahoo_expires_in", "yahoo.token"),
}


def tokens(sb: Running, platform: str, secrets: Path) -> OAuthTokens:
    path = PLATFORMS[platform][0]
    return OAuthTokens(platform, secrets, sb.url + path, CREDS, 5.0, basic_auth=True)


def client_for(sb: Running, platform: str, source: OAuthTokens) -> EbayClient | YahooClient:
    if platform == "ebay":
        return EbayClient(sb.url, source, 5.0, TERMS)
    return YahooClient(sb.url, source, 5.0)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_token_endpoint_wants_basic_client_auth(
    start: Callable[..., Running], platform: str
) -> None:
    sb = start()
    url = sb.url + PLATFORMS[platform][0]
    form = {"grant_type": "refresh_token", "refresh_token": "r"}
    assert requests.post(url, data=form, timeout=5).json()["error"] == "invalid_client"
    basic = "Basic " + base64.b64encode(b"id:secret").decode()
    got = requests.post(url, data=form, headers={"Authorization": basic}, timeout=5).json()
    default = {"ebay": 7200, "yahoo": 3600}[platform]  # as the real services
    assert got["expires_in"] == default and got["token_type"] == "Bearer"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_an_expired_token_is_refreshed_once_on_the_401(
    start: Callable[..., Running], platform: str, tmp_path: Path
) -> None:
    # Given a token the client still believes valid (its clock stands still) but the API expired
    clock = ManualClock()
    _path, lifetime, endpoint = PLATFORMS[platform]
    sb = start(clock, **{lifetime: 60})
    source = tokens(sb, platform, tmp_path / "secrets")
    source.clock = lambda: 1_000.0
    client = client_for(sb, platform, source)
    client.upload("SKU-1", PRODUCT)
    clock.advance(61)

    # When the next call is sent
    client.upload("SKU-2", PRODUCT)

    # Then the 401 made one refresh, and the call went through with the new token
    assert sb.requests_to(endpoint) == 2
    assert sb.stats()["refreshes"][platform] == 2


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_refused_refresh_asks_to_authorise_again(
    start: Callable[..., Running], platform: str, tmp_path: Path
) -> None:
    sb = start()
    sb.http.post(f"{sb.url}/_sandbox/revoke", json={"platform": platform}, timeout=5)
    client = client_for(sb, platform, tokens(sb, platform, tmp_path / "secrets"))

    with pytest.raises(ConfigError, match="authorise again") as e:
        client.upload("SKU-1", PRODUCT)

    assert "\n" not in str(e.value)


# The properties eBay's Sell Inventory OpenAPI contract (sell_inventory_v1_oas3.json, v1.13.0)
# gives the answers the client reads; the sandbox may say less, never something else.
CONTRACT = {
    "Offers": {"href", "limit", "next", "offers", "prev", "size", "total"},
    "EbayOfferDetailsWithAll": {
        "availableQuantity", "categoryId", "charity", "format", "hideBuyerDetails",
        "includeCatalogProductDetails", "listing", "listingDescription", "listingDuration",
        "listingPolicies", "listingStartDate", "lotSize", "marketplaceId", "merchantLocationKey",
        "offerId", "pricingSummary", "quantityLimitPerBuyer", "secondaryCategoryId", "sku",
        "status", "storeCategoryNames", "tax",
    },
    "ListingDetails": {"listingId", "listingStatus", "soldQuantity"},
    "OfferResponse": {"offerId", "warnings"},
    "PublishResponse": {"listingId", "warnings"},
}  # fmt: skip


def test_ebay_answers_use_the_contracts_fields(start: Callable[..., Running]) -> None:
    sb = start()
    auth = {"Authorization": "Bearer t"}
    base = f"{sb.url}/sell/inventory/v1"
    requests.put(f"{base}/inventory_item/C-1", json={"product": {}}, headers=auth, timeout=5)
    body = {
        "sku": "C-1",
        "marketplaceId": "EBAY_US",
        "format": "FIXED_PRICE",
        "availableQuantity": 2,
        "categoryId": "1",
        "listingPolicies": {
            "fulfillmentPolicyId": "f",
            "paymentPolicyId": "p",
            "returnPolicyId": "r",
        },
        "merchantLocationKey": "l",
        "pricingSummary": {"price": {"value": "9.50", "currency": "USD"}},
    }
    created = requests.post(f"{base}/offer", json=body, headers=auth, timeout=5)
    assert created.status_code == 201 and set(created.json()) <= CONTRACT["OfferResponse"]
    offer_id = created.json()["offerId"]
    # the contract's path ends in a slash, eBay's method page's does not: both are served
    published = requests.post(f"{base}/offer/{offer_id}/publish/", headers=auth, timeout=5)
    assert published.status_code == 200 and set(published.json()) <= CONTRACT["PublishResponse"]
    offers = requests.get(f"{base}/offer", params={"sku": "C-1"}, headers=auth, timeout=5).json()
    assert set(offers) <= CONTRACT["Offers"]
    (offer,) = offers["offers"]
    assert set(offer) <= CONTRACT["EbayOfferDetailsWithAll"]
    assert set(offer["listing"]) <= CONTRACT["ListingDetails"]
    assert offer["listing"]["listingId"] == published.json()["listingId"]
    again = requests.post(f"{base}/offer", json=body, headers=auth, timeout=5)
    assert again.status_code == 400  # one offer per SKU, marketplace and format
