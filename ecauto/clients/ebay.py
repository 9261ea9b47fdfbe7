"""eBay Sell Inventory API: an inventory item, its offer, and the offer published as a listing.

An inventory item (`PUT /inventory_item/{sku}`) is not a listing and has no price: the price,
marketplace, category, policies and location belong to an offer (`POST /offer`), and only
`POST /offer/{offerId}/publish` makes it a live listing, answering its `listingId`
(developer.ebay.com/api-docs/sell/static/inventory/inventory-item-to-offer.html,
.../inventory/resources/offer/methods/createOffer, .../publishOffer, .../getOffers; the fields
and errorIds as in eBay's OpenAPI contract sell_inventory_v1_oas3.json, v1.13.0).

Every step is idempotent by SKU, so a retry after a lost answer never lists twice: the PUT is an
upsert, an offer already made for the SKU (`GET /offer?sku=`) is reused instead of created, and
an offer already published answers its listing id without being published again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from ecauto.clients.http import ApiError, call, http_error, json_body, session
from ecauto.clients.tokens import TokenSource, with_token
from ecauto.quota.gates import WindowGate

API = "eBay"
INVENTORY = "/sell/inventory/v1"
# The OAuth scope the Inventory API's calls need (each method's "OAuth scope" section).
SCOPE = "https://api.ebay.com/oauth/api_scope/sell.inventory"


@dataclass(frozen=True)
class OfferTerms:
    """What createOffer needs besides the SKU, price and quantity (config `[ebay]`)."""

    marketplace_id: str
    currency: str
    category_id: str
    fulfillment_policy_id: str
    payment_policy_id: str
    return_policy_id: str
    merchant_location_key: str
    content_language: str = "en-US"


@dataclass(frozen=True)
class Offer:
    offer_id: str
    listing_id: str | None  # set once the offer is published


class EbayClient:
    platform = "ebay"

    def __init__(
        self,
        base_url: str,
        tokens: TokenSource,
        timeout_s: float,
        terms: OfferTerms,
        gate: WindowGate | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.terms = terms
        self.gate = gate  # the platform's daily cap of listing operations, shared by the instance
        self.timeout_s = timeout_s
        self.http = session()

    def _call(self, op: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        def send(token: str) -> requests.Response:
            headers = {
                "Authorization": f"Bearer {token}",
                "Content-Language": self.terms.content_language,
            }
            return call(
                self.http,
                f"{API} {op}",
                method,
                f"{self.base_url}{INVENTORY}{path}",
                self.timeout_s,
                headers=headers,
                **kwargs,
            )

        return with_token(self.tokens, send)

    def upload(self, sku: str, payload: dict[str, Any]) -> str:
        """The listing id of `sku`'s published offer, making what is missing on the way."""
        if self.gate:
            self.gate.acquire()
        quantity = int(payload.get("stock", 0))
        item = {
            "product": {"title": str(payload.get("title", sku))},
            "availability": {"shipToLocationAvailability": {"quantity": quantity}},
            "condition": "NEW",
        }
        resp = self._call("createOrReplaceInventoryItem", "PUT", _item_path(sku), json=item)
        _check("createOrReplaceInventoryItem", resp)
        offer = self._offer(sku)
        if offer is None:
            offer = self._create_offer(sku, payload, quantity)
        if offer.listing_id:
            return offer.listing_id
        return self._publish(offer.offer_id)

    def find(self, sku: str) -> str | None:
        """The listing id if `sku` is listed (its offer published); None if it is not (yet)."""
        if self.gate:
            self.gate.acquire()
        offer = self._offer(sku)
        return offer.listing_id if offer is not None else None

    def _offer(self, sku: str) -> Offer | None:
        resp = self._call("getOffers", "GET", "/offer", params={"sku": sku})
        if resp.status_code == 404:  # no offer for this SKU (or no inventory item yet)
            return None
        body = _check("getOffers", resp)
        for offer in body.get("offers") or []:
            if not isinstance(offer, dict) or offer.get("sku") != sku:
                continue
            if offer.get("marketplaceId") != self.terms.marketplace_id:
                continue
            listing = offer.get("listing")
            listing_id = listing.get("listingId") if isinstance(listing, dict) else None
            published = offer.get("status") == "PUBLISHED" and listing_id
            return Offer(str(offer.get("offerId", "")), str(listing_id) if published else None)
        return None

    def _create_offer(self, sku: str, payload: dict[str, Any], quantity: int) -> Offer:
        t = self.terms
        body = {
            "sku": sku,
            "marketplaceId": t.marketplace_id,
            "format": "FIXED_PRICE",
            "availableQuantity": quantity,
            "categoryId": t.category_id,
            "listingPolicies": {
                "fulfillmentPolicyId": t.fulfillment_policy_id,
                "paymentPolicyId": t.payment_policy_id,
                "returnPolicyId": t.return_policy_id,
            },
            "merchantLocationKey": t.merchant_location_key,
            "pricingSummary": {
                "price": {"value": str(payload.get("price", 0)), "currency": t.currency}
            },
        }
        data = _check("createOffer", self._call("createOffer", "POST", "/offer", json=body))
        offer_id = data.get("offerId")
        if not offer_id:
            raise ApiError(f"{API} createOffer", "the answer has no offerId")
        return Offer(str(offer_id), None)

    def _publish(self, offer_id: str) -> str:
        path = f"/offer/{quote(offer_id, safe='')}/publish"
        data = _check("publishOffer", self._call("publishOffer", "POST", path))
        listing_id = data.get("listingId")
        if not listing_id:
            raise ApiError(f"{API} publishOffer", "the answer has no listingId")
        return str(listing_id)


def _item_path(sku: str) -> str:
    return f"/inventory_item/{quote(sku, safe='')}"


def _check(op: str, resp: requests.Response) -> dict[str, Any]:
    """The JSON body of a 2xx answer ({} for 204); else the error eBay's `errors[]` describes."""
    if resp.status_code < 300:
        body = json_body(resp)
        return body if isinstance(body, dict) else {}
    body = json_body(resp)
    errors = body.get("errors") if isinstance(body, dict) else None
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    message = str(first.get("message") or resp.text[:200])
    code = str(first["errorId"]) if "errorId" in first else None
    raise http_error(f"{API} {op}", resp, message, code)
