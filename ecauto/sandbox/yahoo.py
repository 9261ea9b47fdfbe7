"""Yahoo! Shopping's store API: editItem (creates or overwrites an item) and getItem, in XML.

Items are keyed by (seller_id, item_code). An editItem for an item code already listed counts as
a duplicate, as the daemons list each SKU once.
"""

from __future__ import annotations

import threading

from ecauto.sandbox.exchange import Reply, Request, xml_reply, xml_text
from ecauto.sandbox.listings import FailureDice, ListingBook

NOT_FOUND = "ed-00004"


class Yahoo:
    def __init__(self, failure_rate: float, seed: int) -> None:
        self.book = ListingBook()
        self.dice = FailureDice(failure_rate, seed, "yahoo")
        self._items: dict[tuple[str, str], dict[str, str]] = {}
        self._lock = threading.Lock()

    def edit_item(self, req: Request) -> Reply:
        if not req.bearer():
            return _error(401, "px-04102", "Invalid access token")
        form = req.form()
        seller, code = form.get("seller_id", ""), form.get("item_code", "")
        if not seller or not code:
            return _error(400, "ed-00001", "seller_id and item_code are required")
        price = form.get("price")
        if price is not None and not price.isdigit():
            return _error(400, "ed-00002", "price must be a whole number of yen")
        if self.dice.roll() is not None:
            self.book.record_failure()
            return _error(500, "ed-99999", "System error, please retry later")
        fields: dict[str, str] = {k: form[k] for k in ("name", "price") if k in form}
        with self._lock:
            self._items.setdefault((seller, code), {"name": "", "price": ""}).update(fields)
        self.book.record(f"{seller}/{code}")
        return xml_reply(
            200,
            '<ResultSet totalResultsReturned="1"><Result><Status>OK</Status></Result></ResultSet>',
        )

    def get_item(self, req: Request) -> Reply:
        if not req.bearer():
            return _error(401, "px-04102", "Invalid access token")
        seller, code = req.query.get("seller_id", ""), req.query.get("item_code", "")
        with self._lock:
            item = self._items.get((seller, code))
            item = dict(item) if item is not None else None
        if item is None:
            return _error(400, NOT_FOUND, f"The item {code} does not exist")
        result = (
            f"<ItemCode>{xml_text(code)}</ItemCode>"
            f"<Name>{xml_text(item['name'])}</Name>"
            f"<Price>{xml_text(item['price'])}</Price>"
        )
        return xml_reply(
            200, f'<ResultSet totalResultsReturned="1"><Result>{result}</Result></ResultSet>'
        )


def _error(status: int, code: str, message: str) -> Reply:
    return xml_reply(
        status, f"<Error><Message>{xml_text(message)}</Message><Code>{code}</Code></Error>"
    )
