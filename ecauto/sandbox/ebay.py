"""eBay's Sell Inventory API: create or replace an inventory item by SKU, and read it back.

The real PUT is an upsert; here a PUT of an SKU already listed also counts as a duplicate,
because the daemons are meant to list each SKU once and update prices elsewhere.
"""

from __future__ import annotations

import threading
from typing import Any

from ecauto.sandbox.exchange import Reply, Request, json_reply
from ecauto.sandbox.listings import FailureDice, ListingBook

MAX_SKU_LENGTH = 50  # eBay's documented limit


class Ebay:
    def __init__(self, failure_rate: float, seed: int) -> None:
        self.book = ListingBook()
        self.dice = FailureDice(failure_rate, seed, "ebay")
        self._items: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def put_item(self, req: Request) -> Reply:
        sku = req.params["sku"]
        if not req.bearer():
            return _unauthorized()
        if not 1 <= len(sku) <= MAX_SKU_LENGTH:
            return _error(400, 25707, f"The SKU must be 1 to {MAX_SKU_LENGTH} characters")
        try:
            item = req.json()
        except ValueError:
            item = None
        if not isinstance(item, dict):
            return _error(400, 2004, "Invalid request: the body must be a JSON object")
        if self.dice.roll() is not None:
            self.book.record_failure()
            return _error(500, 25001, "System error", category="APPLICATION")
        with self._lock:
            self._items[sku] = {**item, "sku": sku}
        self.book.record(sku)
        return Reply(204)

    def get_item(self, req: Request) -> Reply:
        sku = req.params["sku"]
        if not req.bearer():
            return _unauthorized()
        with self._lock:
            item = self._items.get(sku)
        if item is None:
            return _error(
                404,
                25710,
                "We didn't find the resource/entity you are requesting. Please verify the request",
            )
        return json_reply(200, item)


def _error(status: int, error_id: int, message: str, category: str = "REQUEST") -> Reply:
    error = {"errorId": error_id, "domain": "API_INVENTORY", "category": category}
    return json_reply(status, {"errors": [{**error, "message": message}]})


def _unauthorized() -> Reply:
    error = {"errorId": 1001, "domain": "OAuth", "category": "REQUEST"}
    message = "Invalid access token. Check the value of the Authorization HTTP request header."
    return json_reply(401, {"errors": [{**error, "message": message}]})
