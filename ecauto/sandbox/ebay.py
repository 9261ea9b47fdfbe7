"""eBay's Sell Inventory API in miniature: inventory items, offers, and offers published.

As the real API: `PUT inventory_item/{sku}` is an upsert without price and lists nothing;
`POST offer` makes an unpublished offer (sku, marketplaceId and format required; one offer per
SKU, marketplace and format, a second is refused); `GET offer?sku=` finds it (404 when there is
none); `POST offer/{id}/publish` checks what publishing needs (inventory item, price, quantity,
category, policies, location) and answers the listing id, the same one when published again.
The book counts a listing when an offer is first published; an SKU published under a second
listing would be a duplicate. Access tokens expire (RefreshGrant); one never issued is accepted.

Several seller accounts (`Ebay`), as on eBay, where one API serves every seller and a user token
is the seller's who granted it: each account has its own inventory items, offers, listings and
tokens (listings.Accounts: a token's account is the text after its last colon).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from typing import Any

from ecauto.config import DEFAULT_ACCOUNT
from ecauto.sandbox.exchange import Reply, Request, json_reply
from ecauto.sandbox.listings import Accounts, FailureDice, ListingBook, totals
from ecauto.sandbox.tokens import RefreshGrant, TokenState

MAX_SKU_LENGTH = 50  # eBay's documented limit
FIRST_LISTING_ID = 110_000_000_001
NOT_FOUND_MESSAGE = (
    "We didn't find the resource/entity you are requesting. Please verify the request"
)


class Ebay:
    """eBay's API over several seller accounts: each request goes to its token's account."""

    def __init__(self, failure_rate: float, seed: int, expires_in: float = 7200) -> None:
        listing_ids = itertools.count(FIRST_LISTING_ID)  # eBay's listing ids are global
        self.accounts = Accounts(
            lambda name: EbaySeller(failure_rate, seed, expires_in, name, listing_ids)
        )

    def token(self, req: Request) -> Reply:
        return self.accounts.of_refresh(req).grant.token(req)

    def put_item(self, req: Request) -> Reply:
        return self.accounts.of_bearer(req).put_item(req)

    def get_item(self, req: Request) -> Reply:
        return self.accounts.of_bearer(req).get_item(req)

    def create_offer(self, req: Request) -> Reply:
        return self.accounts.of_bearer(req).create_offer(req)

    def get_offers(self, req: Request) -> Reply:
        return self.accounts.of_bearer(req).get_offers(req)

    def publish_offer(self, req: Request) -> Reply:
        return self.accounts.of_bearer(req).publish_offer(req)

    def listings(self) -> dict[str, int]:
        return totals([a.book for a in self.accounts.all().values()])

    def refreshes(self) -> int:
        return sum(a.grant.refreshes for a in self.accounts.all().values())

    def listed_skus(self) -> list[str]:
        """Every account's published SKUs (a SKU in two accounts appears twice)."""
        return [sku for a in self.accounts.all().values() for sku in a.listed_skus()]

    def by_account(self) -> dict[str, dict[str, Any]]:
        """What a test checks per account: its listings, its refreshes."""
        return {
            name: {"listings": a.book.snapshot(), "refreshes": a.grant.refreshes}
            for name, a in self.accounts.all().items()
        }


class EbaySeller:
    """One seller account: its inventory items, offers and listings, and its tokens."""

    def __init__(
        self,
        failure_rate: float,
        seed: int,
        expires_in: float = 7200,
        name: str = DEFAULT_ACCOUNT,
        listing_ids: Iterator[int] | None = None,
    ) -> None:
        suffix = "" if name == DEFAULT_ACCOUNT else f":{name}"
        self.book = ListingBook()
        self.dice = FailureDice(failure_rate, seed, "ebay" + suffix)
        self.grant = RefreshGrant("v^1.1#i^1#", expires_in, suffix)
        self._items: dict[str, dict[str, Any]] = {}
        self._offers: dict[str, dict[str, Any]] = {}
        self._offer_ids = itertools.count(1)
        self._listing_ids = listing_ids or itertools.count(FIRST_LISTING_ID)
        self._lock = threading.Lock()

    def listed_skus(self) -> list[str]:
        """The SKUs of published offers, one entry per listing (read-only, for the soak)."""
        with self._lock:
            return [o["sku"] for o in self._offers.values() if o["status"] == "PUBLISHED"]

    def put_item(self, req: Request) -> Reply:
        sku = req.params["sku"]
        refused = self._auth(req)
        if refused is not None:
            return refused
        if not 1 <= len(sku) <= MAX_SKU_LENGTH:
            return _error(400, 25707, f"The SKU must be 1 to {MAX_SKU_LENGTH} characters")
        item = _object(req)
        if item is None:
            return _error(400, 2004, "Invalid request: the body must be a JSON object")
        with self._lock:
            self._items[sku] = {**item, "sku": sku}
        return Reply(204)

    def get_item(self, req: Request) -> Reply:
        refused = self._auth(req)
        if refused is not None:
            return refused
        with self._lock:
            item = self._items.get(req.params["sku"])
        if item is None:
            return _error(404, 25710, NOT_FOUND_MESSAGE)
        return json_reply(200, item)

    def create_offer(self, req: Request) -> Reply:
        refused = self._auth(req)
        if refused is not None:
            return refused
        body = _object(req)
        if body is None:
            return _error(400, 2004, "Invalid request: the body must be a JSON object")
        for name in ("sku", "marketplaceId", "format"):
            if not isinstance(body.get(name), str) or not body[name]:
                return _error(400, 25709, f"Invalid value for {name}")
        with self._lock:
            for offer_id, offer in self._offers.items():
                same = all(offer[k] == body[k] for k in ("sku", "marketplaceId", "format"))
                if same:
                    # a second offer is refused (its errorId is this sandbox's choice: README)
                    error = {"name": "offerId", "value": offer_id}
                    return _error(400, 25002, "Offer entity already exists", parameters=[error])
            offer_id = str(next(self._offer_ids))
            self._offers[offer_id] = {**body, "offerId": offer_id, "status": "UNPUBLISHED"}
        return json_reply(201, {"offerId": offer_id})

    def get_offers(self, req: Request) -> Reply:
        refused = self._auth(req)
        if refused is not None:
            return refused
        sku = req.query.get("sku", "")
        if not sku:
            return _error(400, 25707, "sku is required")
        with self._lock:
            offers = [dict(o) for o in self._offers.values() if o["sku"] == sku]
        if not offers:
            return _error(404, 25713, "This Offer is not available.")
        return json_reply(200, {"total": len(offers), "size": len(offers), "offers": offers})

    def publish_offer(self, req: Request) -> Reply:
        refused = self._auth(req)
        if refused is not None:
            return refused
        with self._lock:
            offer = self._offers.get(req.params["offer_id"])
            if offer is None:
                return _error(404, 25713, "This Offer is not available.")
            if offer["status"] == "PUBLISHED":  # publishing again revises the same listing
                return json_reply(200, {"listingId": offer["listing"]["listingId"]})
            refusal = _unpublishable(offer, offer["sku"] in self._items)
            if refusal is not None:
                return _error(400, *refusal)
        if self.dice.roll() is not None:
            self.book.record_failure()
            return _error(500, 25001, "System error", category="APPLICATION")
        with self._lock:
            if offer["status"] == "PUBLISHED":  # published meanwhile by a concurrent call
                return json_reply(200, {"listingId": offer["listing"]["listingId"]})
            listing_id = str(next(self._listing_ids))
            offer["status"] = "PUBLISHED"
            offer["listing"] = {"listingId": listing_id, "listingStatus": "ACTIVE"}
        self.book.record(offer["sku"])
        return json_reply(200, {"listingId": listing_id})

    def _auth(self, req: Request) -> Reply | None:
        state = self.grant.check(req)
        if state in (TokenState.MISSING, TokenState.EXPIRED):
            return _unauthorized()
        return None


def _unpublishable(offer: dict[str, Any], has_item: bool) -> tuple[int, str] | None:
    """publishOffer's refusal of an offer that lacks what a listing needs, with the contract's
    errorIds (25002 user error, 25003 price, 25004 quantity, 25005 category, 25007 to 25009 the
    policies, 25012 location); None when it can be published."""
    if not has_item:
        return 25002, "A user error has occurred. No inventory item exists for this SKU."
    price = (offer.get("pricingSummary") or {}).get("price") or {}
    if not price.get("value") or not price.get("currency"):
        return 25003, "The unpublished offer has an invalid price."
    if not isinstance(offer.get("availableQuantity"), int) or offer["availableQuantity"] < 1:
        return 25004, "The unpublished offer has an invalid quantity."
    if not offer.get("categoryId"):
        return 25005, "The unpublished offer has an invalid category ID. categoryId is missing."
    policies = offer.get("listingPolicies") or {}
    for error_id, name in (
        (25007, "fulfillmentPolicyId"),
        (25008, "paymentPolicyId"),
        (25009, "returnPolicyId"),
    ):
        if not policies.get(name):
            return error_id, f"The unpublished offer has invalid policy data. {name} is missing."
    if not offer.get("merchantLocationKey"):
        return 25012, "Invalid inventory location. merchantLocationKey is missing."
    return None


def _object(req: Request) -> dict[str, Any] | None:
    """The JSON object of the body; None when the body is not one."""
    try:
        body = req.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _error(
    status: int,
    error_id: int,
    message: str,
    category: str = "REQUEST",
    parameters: list[dict[str, str]] | None = None,
) -> Reply:
    error: dict[str, Any] = {"errorId": error_id, "domain": "API_INVENTORY", "category": category}
    if parameters:
        error["parameters"] = parameters
    return json_reply(status, {"errors": [{**error, "message": message}]})


def _unauthorized() -> Reply:
    error = {"errorId": 1001, "domain": "OAuth", "category": "REQUEST"}
    message = "Invalid access token. Check the value of the Authorization HTTP request header."
    return json_reply(401, {"errors": [{**error, "message": message}]})
