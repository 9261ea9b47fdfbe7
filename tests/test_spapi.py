"""SP-API's pure parts: reading Product Pricing v0 answers (the spec's own examples, in
tests/spapi_examples.py), the User-Agent, the operation setting and what the sync does with an
ASIN nobody offers.
"""

from __future__ import annotations

import platform
import re

import pytest
from spapi_examples import (
    COMPETITIVE_B00V5DG6IQ,
    COMPETITIVE_B00551Q3CS,
    OFFERS_B00KFRNZY6,
    OFFERS_B001Q3KU9Q,
    PRICING_B00V5DG6IQ,
)

from ecauto import config
from ecauto.clients import spapi_answers as answers
from ecauto.clients.spapi import Offer, user_agent
from ecauto.daemons.sync import market_updates
from ecauto.store import PriceUpdate


def test_item_offers_batch_example_is_read_by_the_asin_each_answer_carries() -> None:
    # Given the spec's answers in the reverse of the order asked
    body = {"responses": [OFFERS_B00KFRNZY6, OFFERS_B001Q3KU9Q]}

    got = answers.item_offers_batch(body, ["B001Q3KU9Q", "B00KFRNZY6"])

    assert got == [
        Offer("B001Q3KU9Q", 25, True, offers=1),  # the New Buy Box, 24.99 + 0 shipping
        Offer("B00KFRNZY6", None, False, offers=0),  # NoBuyableOffers: no price, not 0
    ]


def test_item_offers_batch_item_error_and_missing_item_stay_that_items_own() -> None:
    failed = {
        "status": {"statusCode": 400, "reasonPhrase": "Bad Request"},
        "body": {"errors": [{"code": "InvalidInput", "message": "Invalid ASIN"}]},
        "request": {"MarketplaceId": "M", "Asin": "BAD1", "ItemCondition": "New"},
    }
    got = answers.item_offers_batch(
        {"responses": [failed, OFFERS_B001Q3KU9Q]}, ["BAD1", "B001Q3KU9Q", "B0MISSING1"]
    )
    assert got[0] == Offer("BAD1", None, False, "item status 400 InvalidInput: Invalid ASIN")
    assert got[1].price == 25
    assert got[2] == Offer("B0MISSING1", None, False, "not in the answer")


def test_competitive_pricing_examples() -> None:
    body = {"payload": [COMPETITIVE_B00551Q3CS, COMPETITIVE_B00V5DG6IQ]}

    got = answers.competitive_pricing(body, ["B00V5DG6IQ", "B00551Q3CS"])

    assert got == [
        # the B2C New Buy Box: ListingPrice 130 + Shipping 10 (not a B2B tier)
        Offer("B00V5DG6IQ", 140, True, offers=3),
        # offered New, but no price named the New Buy Box: in stock, no market price
        Offer("B00551Q3CS", None, True, offers=1),
    ]


def test_competitive_pricing_failed_item_is_read_from_its_status_alone() -> None:
    # Price declares status, SellerSKU, ASIN, Product: a failed item carries no error body.
    body = {"payload": [{"status": "ClientError", "ASIN": "BAD1"}]}
    assert answers.competitive_pricing(body, ["BAD1"]) == [
        Offer("BAD1", None, False, "item status ClientError")
    ]


def test_get_pricing_example_is_the_sellers_own_offer() -> None:
    got = answers.own_offers({"payload": [PRICING_B00V5DG6IQ]}, ["B00V5DG6IQ"])
    assert got == [answers.OwnOffer("B00V5DG6IQ", "NABetaASINB00V5DG6IQ", 10)]


@pytest.mark.parametrize("body", [None, {}, {"payload": {}}, []])
def test_an_answer_without_its_list_is_malformed(body: object) -> None:
    with pytest.raises(answers.Malformed):
        answers.competitive_pricing(body, ["B1"])
    with pytest.raises(answers.Malformed):
        answers.item_offers_batch(body, ["B1"])


def test_user_agent_has_the_developer_guides_form() -> None:
    ua = user_agent()
    # AppName/Version (Language=Python/x.y.z; Platform=...), under the 500 characters SP-API takes
    assert re.fullmatch(r"ecauto/\S+ \(Language=Python/[\d.]+\w*; Platform=[^()]+\)", ua), ua
    assert f"Language=Python/{platform.python_version()}" in ua
    assert len(ua) <= 500


def test_get_pricing_is_refused_as_the_sync_operation_with_one_line() -> None:
    with pytest.raises(config.ConfigError) as e:
        config.parse({"spapi": {"operation": "getPricing"}})
    line = str(e.value)
    assert "\n" not in line
    assert "spapi.operation" in line and "getCompetitivePricing" in line and "own" in line
    assert config.parse({}).spapi.operation == "getCompetitivePricing"
    assert config.parse({"spapi": {"operation": "getItemOffersBatch"}}).spapi.operation == (
        "getItemOffersBatch"
    )


@pytest.mark.parametrize(
    ("offer", "update", "error", "unoffered"),
    [
        (Offer("A", 1200, True), PriceUpdate("A", 1200, 1), None, False),
        # nobody offers it: the price stays (None is "keep"), stock 0, never price 0
        (Offer("A", None, False, offers=0), PriceUpdate("A", None, 0), None, True),
        # offered, but no Buy Box price: keep the price, it is in stock
        (Offer("A", None, True, offers=2), PriceUpdate("A", None, 1), None, False),
        # an item error changes nothing but its last_error
        (Offer("A", None, False, "item status 400"), None, ("A", "item status 400"), False),
    ],
    ids=["priced", "no market offer", "no buy box", "item error"],
)
def test_what_a_batch_answer_changes(
    offer: Offer,
    update: PriceUpdate | None,
    error: tuple[str, str] | None,
    unoffered: bool,
) -> None:
    updates, errors, none = market_updates([offer])
    assert updates == ([update] if update else [])
    assert errors == ([error] if error else [])
    assert none == (["A"] if unoffered else [])


def test_the_default_limits_are_the_models_usage_plans() -> None:
    # productPricingV0.json, each operation's description, "Usage Plan: Rate | Burst".
    assert config.parse({}).spapi.limits == {
        "getPricing": config.Limit(0.5, 1),
        "getCompetitivePricing": config.Limit(0.5, 1),
        "getItemOffersBatch": config.Limit(0.1, 1),
        "getListingOffersBatch": config.Limit(0.5, 1),
    }
