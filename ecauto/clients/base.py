"""BASE (thebase.in) shop API: item edit for prices, item add for listings."""

from __future__ import annotations

from typing import Any

import requests

from ecauto.clients.http import ApiError, QuotaSpent, call, http_error, json_body, session
from ecauto.clients.tokens import TokenSource
from ecauto.quota.gates import WindowGate

API = "BASE"


class BaseClient:
    platform = "base"

    def __init__(
        self, base_url: str, tokens: TokenSource, timeout_s: float, gate: WindowGate | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.timeout_s = timeout_s
        self.gate = gate
        self.http = session()

    def _call(self, op: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One call within the shop's shared hour and day quotas (every BASE call counts)."""
        for attempt in range(2):
            token = self.tokens.token()
            if self.gate:
                self.gate.acquire()
            resp = call(
                self.http,
                f"{API} {op}",
                method,
                f"{self.base_url}{path}",
                self.timeout_s,
                headers={"Authorization": f"Bearer {token}"},
                **kwargs,
            )
            if attempt == 0 and resp.status_code == 401:
                self.tokens.invalidate(token)  # expired early or revoked: refresh once
                continue
            try:
                return self._check(op, resp)
            except QuotaSpent as e:
                if self.gate:
                    self.gate.refused(e.window)
                raise
        return self._check(op, resp)

    @staticmethod
    def _check(op: str, resp: requests.Response) -> dict[str, Any]:
        body = json_body(resp)
        if resp.status_code < 300 and isinstance(body, dict):
            return body
        code = body.get("error") if isinstance(body, dict) else None
        message = (body.get("error_description") if isinstance(body, dict) else None) or resp.text[
            :200
        ]
        # BASE reports its quotas as 400s with these codes: they are waits, not failures.
        if code == "hour_api_limit":
            raise QuotaSpent(f"{API} {op}", message, resp.status_code, code, window="hour")
        if code == "day_api_limit":
            raise QuotaSpent(f"{API} {op}", message, resp.status_code, code, window="day")
        if resp.status_code < 300:
            raise ApiError(f"{API} {op}", "answer is not a JSON object", resp.status_code)
        raise http_error(f"{API} {op}", resp, message, code)

    def edit_item(self, item_id: str, price: int, stock: int) -> None:
        self._call(
            "items/edit",
            "POST",
            "/1/items/edit",
            data={"item_id": item_id, "price": price, "stock": stock},
        )

    # --- as a listing platform ---------------------------------------------------------------
    def upload(self, sku: str, payload: dict[str, Any]) -> str:
        body = self._call(
            "items/add",
            "POST",
            "/1/items/add",
            data={
                "title": payload.get("title", sku),
                "price": payload.get("price", 0),
                "stock": payload.get("stock", 0),
                "identifier": sku,
                "detail": payload.get("detail", ""),
            },
        )
        return str((body.get("item") or {}).get("item_id", ""))

    def find(self, sku: str) -> str | None:
        body = self._call("items/search", "GET", "/1/items/search", params={"q": sku})
        for item in body.get("items") or []:
            if isinstance(item, dict) and item.get("identifier") == sku:
                return str(item.get("item_id"))
        return None
