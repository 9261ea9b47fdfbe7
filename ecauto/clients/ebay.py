"""eBay Sell Inventory API: one inventory item per SKU."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ecauto.clients.http import call, http_error, json_body, session
from ecauto.clients.tokens import TokenSource
from ecauto.quota.gates import WindowGate

API = "eBay"


class EbayClient:
    platform = "ebay"

    def __init__(
        self, base_url: str, tokens: TokenSource, timeout_s: float, gate: WindowGate | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.gate = gate  # the platform's daily cap, shared by the instance
        self.timeout_s = timeout_s
        self.http = session()

    def _url(self, sku: str) -> str:
        return f"{self.base_url}/sell/inventory/v1/inventory_item/{quote(sku, safe='')}"

    def _headers(self) -> dict[str, str]:
        """Headers for one call, once the daily cap allows it."""
        if self.gate:
            self.gate.acquire()
        return {"Authorization": f"Bearer {self.tokens.token()}", "Content-Language": "en-US"}

    def upload(self, sku: str, payload: dict[str, Any]) -> str:
        body = {
            "product": {"title": payload.get("title", sku)},
            "availability": {"shipToLocationAvailability": {"quantity": payload.get("stock", 0)}},
            "condition": "NEW",
            "price": payload.get("price", 0),
        }
        resp = call(
            self.http,
            f"{API} inventory_item",
            "PUT",
            self._url(sku),
            self.timeout_s,
            json=body,
            headers=self._headers(),
        )
        if resp.status_code >= 300:
            raise http_error(f"{API} inventory_item", resp, _message(resp))
        return sku

    def find(self, sku: str) -> str | None:
        resp = call(
            self.http,
            f"{API} inventory_item",
            "GET",
            self._url(sku),
            self.timeout_s,
            headers=self._headers(),
        )
        if resp.status_code == 404:
            return None
        if resp.status_code >= 300:
            raise http_error(f"{API} inventory_item", resp, _message(resp))
        return sku


def _message(resp: Any) -> str:
    body = json_body(resp)
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("message", ""))
    return str(resp.text[:200])
