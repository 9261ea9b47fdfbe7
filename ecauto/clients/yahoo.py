"""Yahoo! Shopping store API (XML answers): editItem to list, getItem to look one up."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from ecauto.clients.http import ApiError, call, http_error, session
from ecauto.clients.tokens import TokenSource
from ecauto.quota.gates import WindowGate

API = "Yahoo"
NOT_FOUND = "ed-00004"


class YahooClient:
    platform = "yahoo"

    def __init__(
        self,
        base_url: str,
        tokens: TokenSource,
        timeout_s: float,
        gate: WindowGate | None = None,
        seller_id: str = "sandbox-store",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.gate = gate  # the platform's daily cap, shared by the instance
        self.timeout_s = timeout_s
        self.seller_id = seller_id
        self.http = session()

    def _headers(self) -> dict[str, str]:
        """Headers for one call, once the daily cap allows it."""
        if self.gate:
            self.gate.acquire()
        return {"Authorization": f"Bearer {self.tokens.token()}"}

    def upload(self, sku: str, payload: dict[str, Any]) -> str:
        resp = call(
            self.http,
            f"{API} editItem",
            "POST",
            f"{self.base_url}/ShoppingWebService/V1/editItem",
            self.timeout_s,
            data={
                "seller_id": self.seller_id,
                "item_code": sku,
                "name": payload.get("title", sku),
                "price": payload.get("price", 0),
            },
            headers=self._headers(),
        )
        root = _xml(resp.text)
        if resp.status_code >= 300 or root is None or root.findtext(".//Status") != "OK":
            raise (
                http_error(f"{API} editItem", resp, _error(root), _code(root))
                if resp.status_code >= 300
                else ApiError(f"{API} editItem", _error(root), resp.status_code)
            )
        return sku

    def find(self, sku: str) -> str | None:
        resp = call(
            self.http,
            f"{API} getItem",
            "GET",
            f"{self.base_url}/ShoppingWebService/V1/getItem",
            self.timeout_s,
            params={"seller_id": self.seller_id, "item_code": sku},
            headers=self._headers(),
        )
        root = _xml(resp.text)
        if resp.status_code >= 300:
            if _code(root) == NOT_FOUND:
                return None
            raise http_error(f"{API} getItem", resp, _error(root), _code(root))
        return sku if root is not None and root.findtext(".//ItemCode") == sku else None


def _xml(text: str) -> ET.Element | None:
    try:
        return ET.fromstring(text)
    except ET.ParseError:
        return None


def _code(root: ET.Element | None) -> str | None:
    return root.findtext(".//Code") if root is not None else None


def _error(root: ET.Element | None) -> str:
    if root is None:
        return "answer is not XML"
    return root.findtext(".//Message") or "unexpected answer"
