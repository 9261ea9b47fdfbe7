"""Amazon Selling Partner API: the pricing operations the sync uses (Product Pricing v0).

The calls: each waits for its operation's shared token bucket and carries the User-Agent the
developer guide asks for; what an answer means is read in `spapi_answers` (pure).
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import requests

from ecauto import __version__
from ecauto.clients import spapi_answers as answers
from ecauto.clients.http import ApiError, Rejected, Throttled, call, http_error, json_body, session
from ecauto.clients.spapi_answers import Offer, OwnOffer
from ecauto.clients.tokens import TokenSource
from ecauto.quota.gates import TokenGate

__all__ = ["Offer", "OwnOffer", "SpApiClient", "user_agent"]
R = TypeVar("R")

API = "SP-API"


def rate_header(resp: requests.Response) -> float | None:
    """x-amzn-RateLimit-Limit: Amazon sends it best-effort, and never on a 429."""
    raw = resp.headers.get("x-amzn-RateLimit-Limit")
    try:
        value = float(raw) if raw else None
    except ValueError:
        return None
    return value if value and value > 0 else None


def _token_expired(resp: requests.Response) -> bool:
    body = json_body(resp)
    errors = body.get("errors") if isinstance(body, dict) else None
    text = str(errors).lower() if errors else ""
    return resp.status_code == 403 and ("expired" in text or "unauthorized" in text)


class SpApiClient:
    """Each call waits for its operation's shared token bucket, then settles it with the answer."""

    def __init__(
        self,
        base_url: str,
        marketplace_id: str,
        tokens: TokenSource,
        timeout_s: float,
        gates: Mapping[str, TokenGate] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.marketplace_id = marketplace_id
        self.tokens = tokens
        self.timeout_s = timeout_s
        self.gates = dict(gates or {})
        self.http = session()
        self.http.headers["User-Agent"] = user_agent()

    def _send(self, op: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        gate = self.gates.get(op)
        for attempt in range(2):
            token = self.tokens.token()
            ticket = gate.acquire() if gate else None
            try:
                resp = call(
                    self.http,
                    f"{API} {op}",
                    method,
                    f"{self.base_url}{path}",
                    self.timeout_s,
                    headers={"x-amz-access-token": token, "accept": "application/json"},
                    **kwargs,
                )
            except ApiError:
                if gate and ticket:
                    gate.lost(ticket)  # no answer: it may have arrived as late as now
                raise
            if gate and ticket:
                if resp.status_code == 429:
                    gate.refused(ticket)
                else:
                    gate.settle(ticket, rate_header(resp))
            if attempt == 0 and _token_expired(resp):
                self.tokens.invalidate(token)  # expired mid-cycle: refresh once and resend
                continue
            return resp
        return resp

    def _check(self, op: str, resp: requests.Response) -> object:
        body = json_body(resp)
        errors = body.get("errors") if isinstance(body, dict) else None
        first = errors[0] if isinstance(errors, list) and errors else None
        code = first.get("code") if isinstance(first, dict) else None
        if resp.status_code == 429:
            raise Throttled(f"{API} {op}", "quota exceeded", 429, code or "QuotaExceeded")
        if resp.status_code >= 300:
            message = (
                first.get("message", "") if isinstance(first, dict) and code else resp.text[:200]
            )
            raise http_error(f"{API} {op}", resp, message, code)
        return body

    def get_competitive_pricing(self, asins: Sequence[str]) -> list[Offer]:
        """getCompetitivePricing for up to 20 ASINs: the market's New Buy Box price and offer
        count of each."""
        body = self._price_list("getCompetitivePricing", "competitivePrice", asins)
        return self._read("getCompetitivePricing", answers.competitive_pricing, body, asins)

    def get_pricing(self, asins: Sequence[str]) -> list[OwnOffer]:
        """getPricing: the seller's *own* offers for up to 20 ASINs. Not a market price: the
        sync never uses it (README "SP-API")."""
        body = self._price_list("getPricing", "price", asins)
        return self._read("getPricing", answers.own_offers, body, asins)

    def _price_list(self, op: str, resource: str, asins: Sequence[str]) -> object:
        resp = self._send(
            op,
            "GET",
            f"/products/pricing/v0/{resource}",
            params={
                "MarketplaceId": self.marketplace_id,
                "ItemType": "Asin",
                "Asins": ",".join(asins),
            },
        )
        return self._check(op, resp)

    def get_item_offers_batch(self, asins: Sequence[str]) -> list[Offer]:
        """getItemOffersBatch for up to 20 ASINs (no ASIN twice): the Buy Box and the New
        offers of each."""
        if len(set(asins)) != len(asins):
            raise Rejected(f"{API} getItemOffersBatch", "an ASIN appears twice in one batch")
        requests_ = [
            {
                "uri": f"/products/pricing/v0/items/{a}/offers",
                "method": "GET",
                "MarketplaceId": self.marketplace_id,
                "ItemCondition": "New",  # BatchOffersRequestParams requires it
                "CustomerType": "Consumer",
            }
            for a in asins
        ]
        resp = self._send(
            "getItemOffersBatch",
            "POST",
            "/batches/products/pricing/v0/itemOffers",
            json={"requests": requests_},
        )
        body = self._check("getItemOffersBatch", resp)
        return self._read("getItemOffersBatch", answers.item_offers_batch, body, asins)

    @staticmethod
    def _read(
        op: str,
        reader: Callable[[object, Sequence[str]], list[R]],
        body: object,
        asins: Sequence[str],
    ) -> list[R]:
        try:
            return reader(body, asins)
        except answers.Malformed as e:
            raise ApiError(f"{API} {op}", str(e), 200) from None

    def fetch(self, operation: str, asins: Sequence[str]) -> list[Offer]:
        """The market for `asins` (config.MARKET_OPERATIONS), in the order asked."""
        if operation == "getItemOffersBatch":
            return self.get_item_offers_batch(asins)
        if operation == "getCompetitivePricing":
            return self.get_competitive_pricing(asins)
        raise ValueError(f"{operation} does not read the market")


def user_agent() -> str:
    """The form the SP-API developer guide asks of every request ("Include a User-Agent header
    in all requests"): AppName/Version (Language=Python/x.y.z; Platform=OS/release), values
    quoted as it says, under its 500 characters."""

    def quoted(v: str) -> str:
        for ch in ("\\", "/", "(", ")", ";", "="):
            v = v.replace(ch, "\\" + ch)
        return v

    lang = f"Python/{quoted(platform.python_version())}"
    where = f"{quoted(platform.system() or 'unknown')}/{quoted(platform.release() or 'unknown')}"
    return f"ecauto/{quoted(__version__)} (Language={lang}; Platform={where})"[:500]
