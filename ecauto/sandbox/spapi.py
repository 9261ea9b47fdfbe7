"""Amazon's side: Login with Amazon and the SP-API pricing operations the daemons call.

Each operation has its own exact token bucket, checked after the access token (Amazon's gateway
rejects an unauthorised call before it counts against the quota) and before the input is
validated (an invalid request has still used a token).
"""

from __future__ import annotations

import re
import threading
import uuid
from collections import Counter
from collections.abc import Mapping

from ecauto.config import Limit
from ecauto.sandbox import market
from ecauto.sandbox.bucket import TokenBucket
from ecauto.sandbox.exchange import Reply, Request, json_reply
from ecauto.sandbox.tokens import AccessTokens, TokenState

OPERATIONS = ("getPricing", "getItemOffersBatch", "getCompetitivePricing", "getListingOffersBatch")
MAX_ITEMS = 20
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

    # -- pricing ----------------------------------------------------------------------------

    def get_pricing(self, req: Request) -> Reply:
        refused = self._gate(req, "getPricing")
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
        payload = [self._pricing_item(marketplace, a, req.now) for a in asins]
        self._record("getPricing", asins, req.mono)
        return self._success("getPricing", {"payload": payload})

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
            match = _OFFERS_URI.match(entry.get("uri", "")) if isinstance(entry, dict) else None
            if match is None or entry.get("method") != "GET" or not entry.get("MarketplaceId"):
                return _invalid(
                    "each request needs uri /products/pricing/v0/items/{Asin}/offers, "
                    "method GET and MarketplaceId"
                )
            items.append((match.group(1), entry))
        asins = [asin for asin, _ in items]
        if len(set(asins)) != len(asins):
            return _invalid("The batch names an ASIN more than once")
        responses = [self._offers_item(asin, entry, req.now) for asin, entry in items]
        self._record("getItemOffersBatch", asins, req.mono)
        return self._success("getItemOffersBatch", {"responses": responses})

    def _record(self, op: str, asins: list[str], mono: float) -> None:
        with self._lock:
            self._served.update(asins)
            span = self._spans.setdefault(op, [mono, mono, 0])
            span[1] = mono
            span[2] += 1

    def served(self) -> dict[str, object]:
        """`asins_by_times`: how many ASINs were served once, twice, ...; `accepted`: per
        operation, the count of accepted calls and the seconds from the first to the last."""
        with self._lock:
            by_times = Counter(self._served.values())
            spans = {
                op: {"calls": int(n), "first_to_last_s": round(last - first, 6)}
                for op, (first, last, n) in self._spans.items()
            }
        return {
            "asins_by_times": {str(k): v for k, v in sorted(by_times.items())},
            "accepted": spans,
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

    def _pricing_item(self, marketplace: str, asin: str, now: float) -> dict[str, object]:
        if not market.is_valid_asin(asin):
            error = {"code": "InvalidInput", "message": f"Invalid ASIN {asin}", "details": ""}
            return {"status": "ClientError", "ASIN": asin, "Error": error}
        q = market.quote(self.seed, asin, now, self.market_period_s)
        offers = []
        if q.in_stock:
            price = _money(q.price)
            offers.append(
                {
                    "BuyingPrice": {"ListingPrice": price, "LandedPrice": price},
                    "RegularPrice": price,
                    "FulfillmentChannel": "AMAZON",
                    "ItemCondition": "New",
                    "ItemSubCondition": "New",
                }
            )
        identifiers = {"MarketplaceASIN": {"MarketplaceId": marketplace, "ASIN": asin}}
        return {
            "status": "Success",
            "ASIN": asin,
            "Product": {"Identifiers": identifiers, "Offers": offers},
        }

    def _offers_item(self, asin: str, entry: dict[str, object], now: float) -> dict[str, object]:
        marketplace = entry["MarketplaceId"]
        condition = entry.get("ItemCondition", "New")
        echo = {"MarketplaceId": marketplace, "Asin": asin, "ItemCondition": condition}
        if not market.is_valid_asin(asin):
            error = {"code": "InvalidInput", "message": f"Invalid ASIN {asin}", "details": ""}
            return {
                "status": {"statusCode": 400, "reasonPhrase": "Bad Request"},
                "body": {"errors": [error]},
                "request": echo,
            }
        q = market.quote(self.seed, asin, now, self.market_period_s)
        offers = [
            {
                "ListingPrice": _money(p),
                "Shipping": _money(0),
                "IsBuyBoxWinner": i == 0,
                "IsFulfilledByAmazon": True,
                "SubCondition": "new",
                "SellerId": f"SANDBOX{i}",
            }
            for i, p in enumerate(q.offers)
        ]
        summary: dict[str, object] = {"TotalOfferCount": len(offers)}
        if q.offers:
            lowest = {"condition": "new", "fulfillmentChannel": "Amazon"}
            price = {"ListingPrice": _money(q.offers[0]), "LandedPrice": _money(q.offers[0])}
            summary["LowestPrices"] = [{**lowest, **price}]
            summary["BuyBoxPrices"] = [{"condition": "New", **price}]
        payload = {
            "ASIN": asin,
            "marketplaceId": marketplace,
            "ItemCondition": condition,
            "status": "Success",
            "Summary": summary,
            "Offers": offers,
        }
        return {
            "status": {"statusCode": 200, "reasonPhrase": "OK"},
            "body": {"payload": payload},
            "request": echo,
        }


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
