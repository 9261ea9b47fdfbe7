"""Amazon Selling Partner API: the pricing operations the sync uses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from ecauto.clients.http import ApiError, Rejected, Throttled, call, http_error, json_body, session
from ecauto.clients.tokens import TokenSource
from ecauto.quota.gates import TokenGate

API = "SP-API"


@dataclass(frozen=True)
class Offer:
    asin: str
    price: int | None  # JPY; None when Amazon has no offer for it
    in_stock: bool
    error: str | None = None  # a per-item error; the rest of the batch is still good


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

    def get_pricing(self, asins: Sequence[str]) -> list[Offer]:
        """getPricing (v0) for up to 20 ASINs."""
        resp = self._send(
            "getPricing",
            "GET",
            "/products/pricing/v0/price",
            params={
                "MarketplaceId": self.marketplace_id,
                "ItemType": "Asin",
                "Asins": ",".join(asins),
            },
        )
        body = self._check("getPricing", resp)
        payload = body.get("payload") if isinstance(body, dict) else None
        if not isinstance(payload, list):
            raise ApiError(f"{API} getPricing", "answer without a payload list", resp.status_code)
        out = []
        for item in payload:
            asin = str(item.get("ASIN", ""))
            if item.get("status") != "Success":
                err = item.get("Error") or {}
                out.append(Offer(asin, None, False, f"{err.get('code')}: {err.get('message')}"))
                continue
            offers = (item.get("Product") or {}).get("Offers") or []
            out.append(
                Offer(
                    asin,
                    _amount(offers[0].get("BuyingPrice", {}).get("ListingPrice"))
                    if offers
                    else None,
                    bool(offers),
                )
            )
        return out

    def get_item_offers_batch(self, asins: Sequence[str]) -> list[Offer]:
        """getItemOffersBatch for up to 20 ASINs (no ASIN twice); per-item status is checked."""
        if len(set(asins)) != len(asins):
            raise Rejected(f"{API} getItemOffersBatch", "an ASIN appears twice in one batch")
        requests_ = [
            {
                "uri": f"/products/pricing/v0/items/{a}/offers",
                "method": "GET",
                "MarketplaceId": self.marketplace_id,
                "ItemCondition": "New",
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
        responses = body.get("responses") if isinstance(body, dict) else None
        if not isinstance(responses, list):
            raise ApiError(
                f"{API} getItemOffersBatch", "answer without responses", resp.status_code
            )
        out = []
        for asin, r in zip(asins, responses, strict=False):
            status = (r.get("status") or {}).get("statusCode")
            if status != 200:
                out.append(Offer(asin, None, False, f"item status {status}"))
                continue
            offers = ((r.get("body") or {}).get("payload") or {}).get("Offers") or []
            winner = next(
                (o for o in offers if o.get("IsBuyBoxWinner")), offers[0] if offers else None
            )
            out.append(
                Offer(asin, _amount(winner.get("ListingPrice")) if winner else None, bool(offers))
            )
        return out

    def fetch(self, operation: str, asins: Sequence[str]) -> list[Offer]:
        if operation == "getItemOffersBatch":
            return self.get_item_offers_batch(asins)
        return self.get_pricing(asins)


def _amount(money: object) -> int | None:
    if not isinstance(money, dict):
        return None
    try:
        return int(round(float(money.get("Amount"))))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
