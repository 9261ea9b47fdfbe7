"""Amazon's side: Login with Amazon and the SP-API pricing operations the daemons call.

Each operation has its own exact token bucket, checked after the access token (Amazon's gateway
rejects an unauthorised call before it counts against the quota) and before the input is
validated (an invalid request has still used a token).
"""

from __future__ import annotations

import random
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from typing import TypeVar

from ecauto.config import Limit
from ecauto.sandbox import market
from ecauto.sandbox.bucket import TokenBucket
from ecauto.sandbox.exchange import Reply, Request, json_reply
from ecauto.sandbox.tokens import AccessTokens, TokenState

OPERATIONS = ("getPricing", "getItemOffersBatch", "getCompetitivePricing", "getListingOffersBatch")
MAX_ITEMS = 20
CONDITIONS = ("New", "Used", "Collectible", "Refurbished", "Club")  # ItemCondition's enum
T = TypeVar("T")
_OFFERS_URI = re.compile(r"^/products/pricing/v0/items/([^/]+)/offers$")
_QUOTA_MESSAGE = "You exceeded your quota for the requested resource."


class SpApi:
    def __init__(
        self,
        limits: Mapping[str, Limit],
        seed: int,
        market_period_s: float,
        lwa_expires_in: float,
        mono: float,
    ) -> None:
        self.limits = dict(limits)
        self.buckets = {op: TokenBucket(lim.rate, lim.burst, mono) for op, lim in limits.items()}
        self.seed = seed
        self.market_period_s = market_period_s
        self.lwa_expires_in = lwa_expires_in
        self.tokens = AccessTokens("Atza|")
        # What a benchmark needs to judge the clients from the server's side: how often each
        # ASIN was served, and the span of accepted calls per operation (monotonic seconds).
        self._lock = threading.Lock()
        self._served: Counter[str] = Counter()
        self._spans: dict[str, list[float]] = {}
        self._answers = 0  # numbers each shuffled answer
        self._agents: set[str] = set()

    # -- Login with Amazon ------------------------------------------------------------------

    def lwa_token(self, req: Request) -> Reply:
        form = req.form()
        if form.get("grant_type") != "refresh_token":
            return _lwa_error("unsupported_grant_type", "grant_type must be refresh_token")
        for name in ("refresh_token", "client_id", "client_secret"):
            if not form.get(name):
                return _lwa_error("invalid_request", f"The request is missing {name}")
        token = self.tokens.issue(req.mono, self.lwa_expires_in)
        return json_reply(
            200,
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": int(self.lwa_expires_in),
                "refresh_token": form["refresh_token"],
            },
        )

    # -- pricing (Product Pricing v0) ------------------------------------------------------
    # Answers follow models/product-pricing-api-model/productPricingV0.json: every field a schema
    # requires is there, items carry the ASIN they answer and come in no promised order (here
    # never the request's, so a client matching by position fails its tests at once).

    def get_pricing(self, req: Request) -> Reply:
        """getPricing: the seller's own offers (OfferType requires SellerSKU). The sandbox's
        seller lists only ASINs starting with "OWN": any other ASIN has no offers."""
        return self._price_list(req, "getPricing", self._own_item)

    def competitive_pricing(self, req: Request) -> Reply:
        """getCompetitivePricing: the market's New Buy Box price and offer count."""
        return self._price_list(req, "getCompetitivePricing", self._competitive_item)

    def _price_list(
        self, req: Request, op: str, item: Callable[[str, str, float], dict[str, object]]
    ) -> Reply:
        refused = self._gate(req, op)
        if refused is not None:
            return refused
        marketplace = req.query.get("MarketplaceId", "")
        if not marketplace:
            return _invalid("Missing required parameter MarketplaceId")
        if req.query.get("ItemType") != "Asin":
            return _invalid("ItemType must be Asin (the sandbox does not serve Sku)")
        asins = [a.strip() for a in req.query.get("Asins", "").split(",") if a.strip()]
        if not 1 <= len(asins) <= MAX_ITEMS:
            return _invalid(f"Asins must name 1 to {MAX_ITEMS} items, got {len(asins)}")
        payload = [item(marketplace, a, req.now) for a in self._out_of_order(asins)]
        self._record(op, asins, req)
        return self._success(op, {"payload": payload})

    def item_offers_batch(self, req: Request) -> Reply:
        refused = self._gate(req, "getItemOffersBatch")
        if refused is not None:
            return refused
        try:
            data = req.json()
        except ValueError:
            return _invalid("The request body is not valid JSON")
        requests = data.get("requests") if isinstance(data, dict) else None
        if not isinstance(requests, list) or not 1 <= len(requests) <= MAX_ITEMS:
            return _invalid(f"requests must be a list of 1 to {MAX_ITEMS} items")
        items: list[tuple[str, dict[str, object]]] = []
        for entry in requests:
            problem = _batch_entry_problem(entry)
            match = _OFFERS_URI.match(str(entry.get("uri", ""))) if not problem else None
            if match is None:
                return _invalid(problem)
            items.append((match.group(1), entry))
        asins = [asin for asin, _ in items]
        if len(set(asins)) != len(asins):
            return _invalid("The batch names an ASIN more than once")
        responses = [self._offers_item(asin, entry, req.now) for asin, entry in items]
        self._record("getItemOffersBatch", asins, req)
        return self._success("getItemOffersBatch", {"responses": self._out_of_order(responses)})

    def _out_of_order(self, items: list[T]) -> list[T]:
        """The items shuffled, never in the order given (when there are two or more)."""
        with self._lock:
            self._answers += 1
            rng = random.Random(f"{self.seed}|order|{self._answers}")
        order = list(range(len(items)))
        rng.shuffle(order)
        if order == sorted(order):
            order = order[1:] + order[:1]
        return [items[i] for i in order]

    def _record(self, op: str, asins: list[str], req: Request) -> None:
        mono = req.mono
        with self._lock:
            self._served.update(asins)
            if len(self._agents) < 10:  # what the clients say they are (a test reads it)
                self._agents.add(req.headers.get("user-agent", ""))
            span = self._spans.setdefault(op, [mono, mono, 0])
            span[1] = mono
            span[2] += 1

    def served(self) -> dict[str, object]:
        """`asins_by_times`: how many ASINs were served once, twice, ...; `accepted`: per
        operation, the count of accepted calls and the seconds from the first to the last;
        `user_agents`: the User-Agent headers seen (the first ten kinds)."""
        with self._lock:
            by_times = Counter(self._served.values())
            spans = {
                op: {"calls": int(n), "first_to_last_s": round(last - first, 6)}
                for op, (first, last, n) in self._spans.items()
            }
        return {
            "asins_by_times": {str(k): v for k, v in sorted(by_times.items())},
            "accepted": spans,
            "user_agents": sorted(self._agents),
        }

    # -- shared -----------------------------------------------------------------------------

    def _gate(self, req: Request, op: str) -> Reply | None:
        state = self.tokens.check(req.headers.get("x-amz-access-token", ""), req.mono)
        if state is TokenState.MISSING:
            return _unauthorized("Access to requested resource is denied.", "Missing access token")
        if state is TokenState.EXPIRED:
            return _unauthorized(
                "Access to requested resource is denied: the access token has expired.",
                "The access token you provided has expired.",
            )
        if not self.buckets[op].take(req.mono):
            body = {"errors": [{"code": "QuotaExceeded", "message": _QUOTA_MESSAGE, "details": ""}]}
            return json_reply(429, body, _request_id(), throttled=True)
        return None

    def _success(self, op: str, data: object) -> Reply:
        limit = ("x-amzn-RateLimit-Limit", f"{self.limits[op].rate:g}")
        return json_reply(200, data, (*_request_id(), limit))

    def _own_item(self, marketplace: str, asin: str, now: float) -> dict[str, object]:
        if not market.is_valid_asin(asin):
            return _failed_price(asin)
        offers = []
        if is_own_listing(asin):
            price = _money(market.quote(self.seed, asin, now, self.market_period_s).price)
            offers.append(
                {
                    "BuyingPrice": {
                        "ListingPrice": price,
                        "LandedPrice": price,
                        "Shipping": _money(0),
                    },
                    "RegularPrice": price,
                    "FulfillmentChannel": "MERCHANT",
                    "ItemCondition": "New",
                    "ItemSubCondition": "New",
                    "SellerSKU": f"SKU-{asin}",
                }
            )
        return {
            "status": "Success",
            "ASIN": asin,
            "Product": _product(marketplace, asin, Offers=offers),
        }

    def _competitive_item(self, marketplace: str, asin: str, now: float) -> dict[str, object]:
        if not market.is_valid_asin(asin):
            return _failed_price(asin)
        q = market.quote(self.seed, asin, now, self.market_period_s)
        prices: list[dict[str, object]] = []
        counts: list[dict[str, object]] = []
        if q.offers:
            box = _money(q.offers[0])
            price = {"LandedPrice": box, "ListingPrice": box, "Shipping": _money(0)}
            prices.append(
                {
                    "CompetitivePriceId": "1",  # the New Buy Box price
                    "Price": price,
                    "condition": "New",
                    "subcondition": "New",
                    "belongsToRequester": False,
                }
            )
            counts.append({"Count": len(q.offers), "condition": "New"})
        pricing = {"CompetitivePrices": prices, "NumberOfOfferListings": counts}
        return {
            "status": "Success",
            "ASIN": asin,
            "Product": _product(marketplace, asin, CompetitivePricing=pricing),
        }

    def _offers_item(self, asin: str, entry: dict[str, object], now: float) -> dict[str, object]:
        marketplace = str(entry["MarketplaceId"])
        condition = str(entry["ItemCondition"])
        echo: dict[str, object] = {
            "MarketplaceId": marketplace,
            "Asin": asin,
            "ItemCondition": condition,
        }
        if "CustomerType" in entry:
            echo["CustomerType"] = entry["CustomerType"]
        headers = {"x-amzn-RequestId": str(uuid.uuid4())}
        if not market.is_valid_asin(asin):
            error = {"code": "InvalidInput", "message": f"Invalid ASIN {asin}", "details": ""}
            return {
                "status": {"statusCode": 400, "reasonPhrase": "Bad Request"},
                "body": {"errors": [error]},
                "headers": headers,
                "request": echo,
            }
        q = market.quote(self.seed, asin, now, self.market_period_s)
        listed = q.offers if condition == "New" else ()  # the sandbox's market sells only New
        offers = [
            {
                "ListingPrice": _money(p),
                "Shipping": _money(0),
                "ShippingTime": {"minimumHours": 24, "maximumHours": 48, "availabilityType": "NOW"},
                "ShipsFrom": {"Country": "JP"},
                "IsBuyBoxWinner": i == 0,
                "IsFeaturedMerchant": True,
                "IsFulfilledByAmazon": i == 0,
                "SubCondition": "new",
                "SellerId": f"SANDBOX{i}",
            }
            for i, p in enumerate(listed)
        ]
        summary: dict[str, object] = {"TotalOfferCount": len(offers)}
        if listed:
            channel = {"condition": "new", "fulfillmentChannel": "Amazon"}
            box = _money(listed[0])
            price = {"LandedPrice": box, "ListingPrice": box, "Shipping": _money(0)}
            summary["LowestPrices"] = [{**channel, **price}]
            summary["BuyBoxPrices"] = [{"condition": "new", **price}]
            summary["NumberOfOffers"] = [{**channel, "OfferCount": len(offers)}]
        payload = {
            "ASIN": asin,
            "status": "Success" if offers else "NoBuyableOffers",
            "ItemCondition": condition,
            "Identifier": {"MarketplaceId": marketplace, "ItemCondition": condition, "ASIN": asin},
            "Summary": summary,
            "Offers": offers,
            "marketplaceId": marketplace,
        }
        return {
            "status": {"statusCode": 200, "reasonPhrase": "OK"},
            "body": {"payload": payload},
            "headers": headers,
            "request": echo,
        }


def is_own_listing(asin: str) -> bool:
    """The sandbox seller's own Amazon listings, which getPricing answers: none of the demo's."""
    return asin.startswith("OWN")


def _product(marketplace: str, asin: str, **parts: object) -> dict[str, object]:
    identifiers = {"MarketplaceASIN": {"MarketplaceId": marketplace, "ASIN": asin}}
    return {"Identifiers": identifiers, **parts}


def _failed_price(asin: str) -> dict[str, object]:
    # Price declares only status, SellerSKU, ASIN and Product: a failed item is its status.
    return {"status": "ClientError", "ASIN": asin}


def _batch_entry_problem(entry: object) -> str:
    """What makes a getItemOffersBatch request invalid (ItemOffersRequest: BatchRequest's uri and
    method, BatchOffersRequestParams' MarketplaceId and ItemCondition), or ""."""
    if not isinstance(entry, dict) or not _OFFERS_URI.match(str(entry.get("uri", ""))):
        return "each request needs uri /products/pricing/v0/items/{Asin}/offers"
    if entry.get("method") != "GET":
        return "each request needs method GET"
    if not entry.get("MarketplaceId"):
        return "each request needs MarketplaceId"
    if entry.get("ItemCondition") not in CONDITIONS:
        return f"each request needs ItemCondition, one of {', '.join(CONDITIONS)}"
    if "CustomerType" in entry and entry["CustomerType"] not in ("Consumer", "Business"):
        return "CustomerType must be Consumer or Business"
    return ""


def _money(amount: int) -> dict[str, object]:
    return {"CurrencyCode": "JPY", "Amount": float(amount)}


def _request_id() -> tuple[tuple[str, str], ...]:
    return (("x-amzn-RequestId", str(uuid.uuid4())),)


def _invalid(message: str) -> Reply:
    body = {"errors": [{"code": "InvalidInput", "message": message, "details": ""}]}
    return json_reply(400, body, _request_id())


def _unauthorized(message: str, details: str) -> Reply:
    body = {"errors": [{"code": "Unauthorized", "message": message, "details": details}]}
    return json_reply(403, body, _request_id())


def _lwa_error(error: str, description: str) -> Reply:
    return json_reply(400, {"error": error, "error_description": description})
