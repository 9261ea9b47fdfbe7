"""Yahoo! Shopping store API (XML answers): editItem saves, reservePublish publishes.

editItem only saves an item; customers see it once `reservePublish` (mode=1, "反映予約") has
applied the store's saved changes (developer.yahoo.co.jp/webapi/shopping/reservePublish.html).
So a listing is editItem then reservePublish, and both may be sent again: editItem overwrites
the item of the same item_code, and publishing twice publishes nothing new.

Error codes: `it-05002` (HTTP 400) is "item not found": for a look-up it means "not saved, send
it"; `ed-00004` means "the store account does not exist": no retry can succeed, so it is a
configuration error that stops the daemon with one line.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import requests

from ecauto.clients.http import ApiError, call, http_error, session
from ecauto.clients.tokens import TokenSource, with_token
from ecauto.config import ConfigError
from ecauto.quota.gates import WindowGate

API = "Yahoo"
NOT_FOUND = "it-05002"
NO_STORE = "ed-00004"
PUBLISH_NOW = "1"  # reservePublish mode 1: publish (now, when reserve_time is left out)


class YahooClient:
    platform = "yahoo"

    def __init__(
        self,
        base_url: str,
        tokens: TokenSource,
        timeout_s: float,
        gate: WindowGate | None = None,
        seller_id: str = "sandbox-store",
        seller_variable: str = "YAHOO_SELLER_ID",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.gate = gate  # the platform's daily cap of listing operations, shared by the instance
        self.timeout_s = timeout_s
        self.seller_id = seller_id
        self.seller_variable = seller_variable  # where the operator sets it (its account's)
        self.http = session()

    def _call(
        self, op: str, method: str, **kwargs: Any
    ) -> tuple[requests.Response, ET.Element | None]:
        def send(token: str) -> requests.Response:
            return call(
                self.http,
                f"{API} {op}",
                method,
                f"{self.base_url}/ShoppingWebService/V1/{op}",
                self.timeout_s,
                headers={"Authorization": f"Bearer {token}"},
                **kwargs,
            )

        resp = with_token(self.tokens, send)
        root = _xml(resp.text)
        if _code(root) == NO_STORE:
            raise ConfigError(
                f"{API} {op}: the store account {self.seller_id!r} does not exist "
                f"({NO_STORE}); check {self.seller_variable}"
            )
        return resp, root

    def upload(self, sku: str, payload: dict[str, Any]) -> str:
        if self.gate:
            self.gate.acquire()
        form = {
            "seller_id": self.seller_id,
            "item_code": sku,
            "name": payload.get("title", sku),
            "price": payload.get("price", 0),
        }
        self._ok("editItem", *self._call("editItem", "POST", data=form))
        self._publish()
        return sku

    def find(self, sku: str) -> str | None:
        """`sku` if the store has the item, made sure to be published; None if it has not."""
        if self.gate:
            self.gate.acquire()
        params = {"seller_id": self.seller_id, "item_code": sku}
        resp, root = self._call("getItem", "GET", params=params)
        if resp.status_code >= 300:
            if _code(root) == NOT_FOUND:
                return None
            raise http_error(f"{API} getItem", resp, _error(root), _code(root))
        if root is None or root.findtext(".//ItemCode") != sku:
            return None
        # Saved is not published: a try whose reservePublish answer was lost may have stopped
        # between the two. Publishing again is harmless.
        self._publish()
        return sku

    def _publish(self) -> None:
        form = {"seller_id": self.seller_id, "mode": PUBLISH_NOW}
        self._ok("reservePublish", *self._call("reservePublish", "POST", data=form))

    @staticmethod
    def _ok(op: str, resp: requests.Response, root: ET.Element | None) -> None:
        if resp.status_code >= 300:
            raise http_error(f"{API} {op}", resp, _error(root), _code(root))
        if root is None or root.findtext(".//Status") != "OK":
            raise ApiError(f"{API} {op}", _error(root), resp.status_code)


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
