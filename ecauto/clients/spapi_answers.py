"""What Product Pricing v0 answers mean, read from the answer alone (pure: no I/O).

Read against `models/product-pricing-api-model/productPricingV0.json` in
amzn/selling-partner-api-models: only fields that model declares are read; items are matched to
the ASINs asked by the ASIN they carry, never by position (Amazon promises no order, and the
sandbox never keeps it); an ASIN with no offer is "no market price", never a price of 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class Malformed(ValueError):
    """The answer lacks what its schema requires for the reading to mean anything."""


@dataclass(frozen=True)
class Offer:
    """The market for one ASIN. No market offer is `price None, in_stock False`, never 0."""

    asin: str
    price: int | None  # JPY, the New Buy Box (or lowest New offer); None when there is none
    in_stock: bool  # someone offers it New
    error: str | None = None  # a per-item error; the rest of the batch is still good
    offers: int | None = None  # New offers counted by Amazon, when the answer says


@dataclass(frozen=True)
class OwnOffer:
    """getPricing's answer: the seller's own offer for an ASIN, if it has one."""

    asin: str
    seller_sku: str | None
    price: int | None
    error: str | None = None


def competitive_pricing(body: object, asins: Sequence[str]) -> list[Offer]:
    """getCompetitivePricing (GetPricingResponse > Price > Product > CompetitivePricingType)."""
    by_asin = _price_list(body)
    out = []
    for asin in asins:
        item = by_asin.get(asin)
        if item is None:
            out.append(Offer(asin, None, False, "not in the answer"))
        elif item.get("status") != "Success":
            # Price declares only `status` for a failed item: there is no error body to read.
            out.append(Offer(asin, None, False, f"item status {item.get('status')}"))
        else:
            out.append(_competitive(asin, item))
    return out


def own_offers(body: object, asins: Sequence[str]) -> list[OwnOffer]:
    """getPricing (GetPricingResponse > Price > Product > OffersList of OfferType, each of which
    requires SellerSKU: the seller's own listings)."""
    by_asin = _price_list(body)
    out = []
    for asin in asins:
        item = by_asin.get(asin)
        status = item.get("status") if item else "missing"
        if item is None or status != "Success":
            out.append(OwnOffer(asin, None, None, f"item status {status}"))
            continue
        offers = _dicts(_dict(item.get("Product")).get("Offers"))
        own = offers[0] if offers else {}
        sku = own.get("SellerSKU")
        price = _price(_dict(own.get("BuyingPrice"))) if own else None
        out.append(OwnOffer(asin, str(sku) if sku else None, price))
    return out


def item_offers_batch(body: object, asins: Sequence[str]) -> list[Offer]:
    """getItemOffersBatch (GetItemOffersBatchResponse > ItemOffersResponse, which requires
    `request`: its `Asin` says which request an answer is for). A per-item status other than
    200 is that item's error only."""
    responses = body.get("responses") if isinstance(body, dict) else None
    if not isinstance(responses, list):
        raise Malformed("answer without responses")
    by_asin: dict[str, dict[str, Any]] = {}
    for each in _dicts(responses):
        payload = _dict(_dict(each.get("body")).get("payload"))
        asin = _dict(each.get("request")).get("Asin") or payload.get("ASIN")
        if isinstance(asin, str) and asin:
            by_asin[asin] = each
    out = []
    for asin in asins:
        r = by_asin.get(asin)
        if r is None:
            out.append(Offer(asin, None, False, "not in the answer"))
            continue
        status = _dict(r.get("status")).get("statusCode")
        if status != 200:
            errors = _dicts(_dict(r.get("body")).get("errors"))
            why = f"{errors[0].get('code')}: {errors[0].get('message')}" if errors else ""
            out.append(Offer(asin, None, False, f"item status {status} {why}".strip()))
            continue
        out.append(_item_offers(asin, _dict(_dict(r.get("body")).get("payload"))))
    return out


def _price_list(body: object) -> dict[str, dict[str, Any]]:
    payload = body.get("payload") if isinstance(body, dict) else None
    if not isinstance(payload, list):
        raise Malformed("answer without a payload list")
    by_asin: dict[str, dict[str, Any]] = {}
    for item in _dicts(payload):
        asin = item.get("ASIN") or _identified(item.get("Product"))
        if isinstance(asin, str) and asin:
            by_asin[asin] = item
    return by_asin


def _competitive(asin: str, item: dict[str, Any]) -> Offer:
    pricing = _dict(_dict(item.get("Product")).get("CompetitivePricing"))
    counts = [
        c
        for c in _dicts(pricing.get("NumberOfOfferListings"))
        if str(c.get("condition", "")).lower() == "new"
    ]
    new_offers = sum(int(c.get("Count") or 0) for c in counts if isinstance(c.get("Count"), int))
    # CompetitivePriceId "1" is the New Buy Box price ("2" the Used one); a consumer's price is
    # the B2C one without a quantity tier (B2B tiers come as further "1" entries).
    buy_box = next(
        (
            c
            for c in _dicts(pricing.get("CompetitivePrices"))
            if str(c.get("CompetitivePriceId")) == "1"
            and c.get("offerType", "B2C") == "B2C"
            and c.get("quantityTier") in (None, 1)
        ),
        None,
    )
    price = _price(_dict(buy_box.get("Price"))) if buy_box else None
    return Offer(asin, price, new_offers > 0 or price is not None, offers=new_offers)


def _item_offers(asin: str, payload: dict[str, Any]) -> Offer:
    # Offers are those of the ItemCondition asked (New); the Summary counts every condition.
    summary = _dict(payload.get("Summary"))
    offers = _dicts(payload.get("Offers"))
    counts = [
        c.get("OfferCount")
        for c in _dicts(summary.get("NumberOfOffers"))
        if str(c.get("condition", "")).lower() == "new"
    ]
    count = sum(c for c in counts if isinstance(c, int)) if counts else len(offers)
    new_box = [
        b for b in _dicts(summary.get("BuyBoxPrices")) if str(b.get("condition")).lower() == "new"
    ]
    winner = next((o for o in offers if o.get("IsBuyBoxWinner")), None)
    lowest = [
        b for b in _dicts(summary.get("LowestPrices")) if str(b.get("condition")).lower() == "new"
    ]
    source = new_box[0] if new_box else winner or (min(lowest, key=_price_key) if lowest else None)
    price = _price(source) if source else None
    return Offer(asin, price, bool(offers) or count > 0, offers=count)


def _price(p: dict[str, Any]) -> int | None:
    """What a buyer pays before points: ListingPrice plus Shipping where given (PriceType,
    BuyBoxPriceType, OfferDetail all carry both as MoneyType)."""
    listing = _amount(p.get("ListingPrice"))
    if listing is None:
        return None
    return listing + (_amount(p.get("Shipping")) or 0)


def _price_key(p: dict[str, Any]) -> int:
    value = _price(p)
    return value if value is not None else 1 << 62


def _identified(product: object) -> object:
    return _dict(_dict(_dict(product).get("Identifiers")).get("MarketplaceASIN")).get("ASIN")


def _dict(v: object) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _dicts(v: object) -> list[dict[str, Any]]:
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


def _amount(money: object) -> int | None:
    if not isinstance(money, dict):
        return None
    try:
        return int(round(float(money.get("Amount"))))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
