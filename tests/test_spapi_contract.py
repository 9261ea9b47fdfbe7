"""Contract: every sandbox answer the sync relies on has what Amazon's published schema requires.

SCHEMAS is derived by hand from the `definitions` of amzn/selling-partner-api-models
`models/product-pricing-api-model/productPricingV0.json`: for each schema the sync's answers pass
through, its required fields and the types of the properties it declares (names are the
model's). `problems()` walks an answer through them. Amazon's own SDK (`amzn-sp-api`) was
weighed as the checker instead: README "Dependencies" says why it was not taken. The spec's own
example answers pass the checker (tests/spapi_examples.py), so the table is no stricter than
Amazon.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from spapi_examples import (
    COMPETITIVE_B00V5DG6IQ,
    COMPETITIVE_B00551Q3CS,
    OFFERS_B00KFRNZY6,
    OFFERS_B001Q3KU9Q,
    PRICING_B00V5DG6IQ,
)

from ecauto.config import Limit, SandboxSettings
from ecauto.sandbox import market
from ecauto.sandbox.server import SandboxServer

# A field's type: a Python type for a primitive, a schema's name, ("array", item, max items) or
# ("enum", values).
Type = Any
CONDITION = ("enum", ("New", "Used", "Collectible", "Refurbished", "Club"))  # ConditionType
MONEY = "MoneyType"
SCHEMAS: dict[str, tuple[tuple[str, ...], dict[str, Type]]] = {
    # GetPricingResponse (getPricing, getCompetitivePricing)
    "GetPricingResponse": ((), {"payload": ("array", "Price", 20), "errors": ("array", "Error")}),
    "Price": (
        ("status",),
        {"status": str, "SellerSKU": str, "ASIN": str, "Product": "Product"},
    ),
    "Product": (
        ("Identifiers",),
        {
            "Identifiers": "IdentifierType",
            "CompetitivePricing": "CompetitivePricingType",
            "Offers": ("array", "OfferType"),
        },
    ),
    "IdentifierType": (("MarketplaceASIN",), {"MarketplaceASIN": "ASINIdentifier"}),
    "ASINIdentifier": (("ASIN", "MarketplaceId"), {"MarketplaceId": str, "ASIN": str}),
    "CompetitivePricingType": (
        ("CompetitivePrices", "NumberOfOfferListings"),
        {
            "CompetitivePrices": ("array", "CompetitivePriceType"),
            "NumberOfOfferListings": ("array", "OfferListingCountType"),
            "TradeInValue": MONEY,
        },
    ),
    "CompetitivePriceType": (
        ("CompetitivePriceId", "Price"),
        {
            "CompetitivePriceId": str,
            "Price": "PriceType",
            "condition": str,
            "subcondition": str,
            "offerType": ("enum", ("B2C", "B2B")),
            "quantityTier": int,
            "sellerId": str,
            "belongsToRequester": bool,
        },
    ),
    "OfferListingCountType": (("Count", "condition"), {"Count": int, "condition": str}),
    "PriceType": (
        ("ListingPrice",),
        {"LandedPrice": MONEY, "ListingPrice": MONEY, "Shipping": MONEY, "Points": "Points"},
    ),
    "Points": ((), {"PointsNumber": int, "PointsMonetaryValue": MONEY}),
    "MoneyType": ((), {"CurrencyCode": str, "Amount": float}),
    "OfferType": (
        (
            "BuyingPrice",
            "FulfillmentChannel",
            "ItemCondition",
            "ItemSubCondition",
            "RegularPrice",
            "SellerSKU",
        ),
        {
            "BuyingPrice": "PriceType",
            "RegularPrice": MONEY,
            "FulfillmentChannel": str,
            "ItemCondition": str,
            "ItemSubCondition": str,
            "SellerSKU": str,
        },
    ),
    # GetItemOffersBatchResponse
    "GetItemOffersBatchResponse": ((), {"responses": ("array", "ItemOffersResponse", 20)}),
    # ItemOffersResponse = allOf(BatchOffersResponse, {required: [request]})
    "ItemOffersResponse": (
        ("body", "request"),
        {
            "headers": "HttpResponseHeaders",
            "status": "GetOffersHttpStatusLine",
            "body": "GetOffersResponse",
            "request": "ItemOffersRequestParams",
        },
    ),
    "HttpResponseHeaders": ((), {"Date": str, "x-amzn-RequestId": str}),
    "GetOffersHttpStatusLine": ((), {"statusCode": int, "reasonPhrase": str}),
    # ItemOffersRequestParams = allOf(BatchOffersRequestParams, {Asin})
    "ItemOffersRequestParams": (
        ("MarketplaceId", "ItemCondition"),
        {
            "MarketplaceId": str,
            "ItemCondition": CONDITION,
            "CustomerType": ("enum", ("Consumer", "Business")),
            "Asin": str,
        },
    ),
    "GetOffersResponse": ((), {"payload": "GetOffersResult", "errors": ("array", "Error")}),
    "GetOffersResult": (
        ("Identifier", "ItemCondition", "Offers", "Summary", "status", "marketplaceId"),
        {
            "marketplaceId": str,
            "ASIN": str,
            "SKU": str,
            "ItemCondition": CONDITION,
            "status": str,
            "Identifier": "ItemIdentifier",
            "Summary": "Summary",
            "Offers": ("array", "OfferDetail", 20),
        },
    ),
    "ItemIdentifier": (
        ("ItemCondition", "MarketplaceId"),
        {"MarketplaceId": str, "ASIN": str, "SellerSKU": str, "ItemCondition": CONDITION},
    ),
    "Summary": (
        ("TotalOfferCount",),
        {
            "TotalOfferCount": int,
            "NumberOfOffers": ("array", "OfferCountType"),
            "LowestPrices": ("array", "LowestPriceType"),
            "BuyBoxPrices": ("array", "BuyBoxPriceType"),
            "ListPrice": MONEY,
            "BuyBoxEligibleOffers": ("array", "OfferCountType"),
        },
    ),
    "OfferCountType": (
        (),
        {
            "condition": str,
            "fulfillmentChannel": ("enum", ("Amazon", "Merchant")),
            "OfferCount": int,
        },
    ),
    "LowestPriceType": (
        ("ListingPrice", "condition", "fulfillmentChannel"),
        {
            "condition": str,
            "fulfillmentChannel": str,
            "LandedPrice": MONEY,
            "ListingPrice": MONEY,
            "Shipping": MONEY,
        },
    ),
    "BuyBoxPriceType": (
        ("LandedPrice", "ListingPrice", "Shipping", "condition"),
        {"condition": str, "LandedPrice": MONEY, "ListingPrice": MONEY, "Shipping": MONEY},
    ),
    "OfferDetail": (
        ("IsFulfilledByAmazon", "ListingPrice", "Shipping", "ShippingTime", "SubCondition"),
        {
            "MyOffer": bool,
            "SubCondition": str,
            "SellerId": str,
            "ShippingTime": "DetailedShippingTimeType",
            "ListingPrice": MONEY,
            "Shipping": MONEY,
            "ShipsFrom": "ShipsFromType",
            "IsFulfilledByAmazon": bool,
            "PrimeInformation": "PrimeInformationType",
            "IsBuyBoxWinner": bool,
            "IsFeaturedMerchant": bool,
        },
    ),
    "DetailedShippingTimeType": (
        (),
        {
            "minimumHours": int,
            "maximumHours": int,
            "availableDate": str,
            "availabilityType": ("enum", ("NOW", "FUTURE_WITHOUT_DATE", "FUTURE_WITH_DATE")),
        },
    ),
    "ShipsFromType": ((), {"State": str, "Country": str}),
    "PrimeInformationType": (
        ("IsPrime", "IsNationalPrime"),
        {"IsPrime": bool, "IsNationalPrime": bool},
    ),
    # Errors (every non-2xx answer of getItemOffersBatch; GetPricingResponse.errors for the others)
    "Errors": (("errors",), {"errors": ("array", "Error")}),
    "Error": (("code", "message"), {"code": str, "message": str, "details": str}),
}


def problems(value: object, kind: Type, where: str = "$") -> list[str]:
    """Each way `value` breaks `kind`, as "path: what"; [] when it conforms."""
    if isinstance(kind, tuple) and kind[0] == "array":
        if not isinstance(value, list):
            return [f"{where}: not an array"]
        limit = kind[2] if len(kind) > 2 else None
        out = (
            [f"{where}: {len(value)} items, at most {limit}"]
            if limit and len(value) > limit
            else []
        )
        for i, item in enumerate(value):
            out += problems(item, kind[1], f"{where}[{i}]")
        return out
    if isinstance(kind, tuple) and kind[0] == "enum":
        return [] if value in kind[1] else [f"{where}: {value!r} not one of {kind[1]}"]
    if isinstance(kind, type):
        # JSON numbers: an integer is a number too; a bool is never an integer or a number.
        ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
        if kind is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{where}: {value!r} is not {kind.__name__}"]
    required, props = SCHEMAS[kind]
    if not isinstance(value, dict):
        return [f"{where}: not an object ({kind})"]
    out = [f"{where}: {kind} requires {name}" for name in required if name not in value]
    for name, sub in props.items():
        if name in value:
            out += problems(value[name], sub, f"{where}.{name}")
    return out


# -- the checker itself ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ({"payload": [COMPETITIVE_B00V5DG6IQ, COMPETITIVE_B00551Q3CS]}, "GetPricingResponse"),
        ({"payload": [PRICING_B00V5DG6IQ]}, "GetPricingResponse"),
        ({"responses": [OFFERS_B001Q3KU9Q, OFFERS_B00KFRNZY6]}, "GetItemOffersBatchResponse"),
        ({"errors": [{"code": "InvalidInput", "message": "Invalid Input"}]}, "Errors"),
    ],
    ids=["competitive", "pricing", "item offers", "errors"],
)
def test_the_specs_own_examples_conform(value: object, kind: str) -> None:
    assert problems(value, kind) == []


def test_the_checker_finds_what_the_old_sandbox_left_out() -> None:
    # The answer the sandbox gave before: no Identifier, offers without ShippingTime, a Buy Box
    # price without Shipping, and getPricing offers without SellerSKU.
    money = {"CurrencyCode": "JPY", "Amount": 1000.0}
    old_offers = {
        "status": {"statusCode": 200, "reasonPhrase": "OK"},
        "body": {
            "payload": {
                "ASIN": "B1",
                "marketplaceId": "M",
                "ItemCondition": "New",
                "status": "Success",
                "Summary": {
                    "TotalOfferCount": 1,
                    "BuyBoxPrices": [
                        {"condition": "New", "ListingPrice": money, "LandedPrice": money}
                    ],
                },
                "Offers": [
                    {
                        "ListingPrice": money,
                        "Shipping": money,
                        "IsFulfilledByAmazon": True,
                        "SubCondition": "new",
                    }
                ],
            }
        },
        "request": {"MarketplaceId": "M", "Asin": "B1", "ItemCondition": "New"},
    }
    old_pricing = {
        "status": "Success",
        "ASIN": "B1",
        "Product": {
            "Identifiers": {"MarketplaceASIN": {"MarketplaceId": "M", "ASIN": "B1"}},
            "Offers": [
                {
                    "BuyingPrice": {"ListingPrice": money},
                    "RegularPrice": money,
                    "FulfillmentChannel": "AMAZON",
                    "ItemCondition": "New",
                    "ItemSubCondition": "New",
                }
            ],
        },
    }
    found = problems({"responses": [old_offers]}, "GetItemOffersBatchResponse")
    found += problems({"payload": [old_pricing]}, "GetPricingResponse")
    assert found == [
        "$.responses[0].body.payload: GetOffersResult requires Identifier",
        "$.responses[0].body.payload.Summary.BuyBoxPrices[0]: BuyBoxPriceType requires Shipping",
        "$.responses[0].body.payload.Offers[0]: OfferDetail requires ShippingTime",
        "$.payload[0].Product.Offers[0]: OfferType requires SellerSKU",
    ]


# -- the sandbox's answers, over real HTTP -----------------------------------------------------

MARKETPLACE = "A1VC38T7YXB528"
TOKEN = {"x-amz-access-token": "Atza|test"}
FAST = {
    op: Limit(1000.0, 1000) for op in ("getPricing", "getItemOffersBatch", "getListingOffersBatch")
}


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[str]:
    settings = SandboxSettings(
        host="127.0.0.1", port=0, spapi_rate=1000.0, spapi_burst=1000, op_limits=FAST
    )
    server = SandboxServer(settings, tmp_path / "home").start()
    try:
        yield server.url
    finally:
        server.stop()


def asins_for_every_case() -> list[str]:
    """An ASIN on the market, one nobody ever offers, one out of stock now, one invalid."""
    now = time.time()
    candidates = [f"B0{i:08d}" for i in range(5000)]
    offered = next(a for a in candidates if market.quote(7, a, now, 600.0).in_stock)
    never = next(a for a in candidates if not market.has_market(7, a))
    return [offered, never, "BADASIN01", "OWN0000001"]


def test_pricing_answers_conform(sandbox: str) -> None:
    asins = ",".join(asins_for_every_case())
    for path in ("competitivePrice", "price"):
        r = requests.get(
            f"{sandbox}/products/pricing/v0/{path}",
            params={"MarketplaceId": MARKETPLACE, "ItemType": "Asin", "Asins": asins},
            headers=TOKEN,
            timeout=10,
        )
        assert r.status_code == 200
        assert problems(r.json(), "GetPricingResponse") == [], path


@pytest.mark.parametrize("condition", ["New", "Used"])
def test_item_offers_batch_answer_conforms(sandbox: str, condition: str) -> None:
    body = {
        "requests": [
            {
                "uri": f"/products/pricing/v0/items/{a}/offers",
                "method": "GET",
                "MarketplaceId": MARKETPLACE,
                "ItemCondition": condition,
            }
            for a in asins_for_every_case()
        ]
    }
    r = requests.post(
        f"{sandbox}/batches/products/pricing/v0/itemOffers", json=body, headers=TOKEN, timeout=10
    )
    assert r.status_code == 200
    answer = r.json()
    assert problems(answer, "GetItemOffersBatchResponse") == []
    statuses = sorted(x["status"]["statusCode"] for x in answer["responses"])
    assert statuses == [200, 200, 200, 400]  # the invalid ASIN's status is its own


def test_error_answers_conform(sandbox: str) -> None:
    url = f"{sandbox}/products/pricing/v0/competitivePrice"
    params = {"MarketplaceId": MARKETPLACE, "ItemType": "Asin", "Asins": ""}
    bad = requests.get(url, params=params, headers=TOKEN, timeout=10)
    denied = requests.get(url, params={**params, "Asins": "B1"}, timeout=10)
    batch = requests.post(
        f"{sandbox}/batches/products/pricing/v0/itemOffers",
        json={"requests": [{"uri": "/products/pricing/v0/items/B1/offers", "method": "GET"}]},
        headers=TOKEN,
        timeout=10,
    )
    assert (bad.status_code, denied.status_code, batch.status_code) == (400, 403, 400)
    for r in (bad, denied, batch):
        assert problems(r.json(), "Errors") == []
