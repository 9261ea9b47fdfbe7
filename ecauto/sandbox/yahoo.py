"""Yahoo! Shopping's store API in miniature: editItem saves, reservePublish publishes, in XML.

Items are keyed by (seller_id, item_code). editItem creates or overwrites the saved item; only
reservePublish (mode=1) makes the store's saved items visible to customers. The book counts an
item when first published; an editItem of an item already published counts as a duplicate, as
the daemons list each SKU once. Error codes: `it-05002` (400) for an item the store does not
have, `ed-00004` for a store account that does not exist (one store is known, `sandbox-store`
unless told otherwise). Access tokens expire (RefreshGrant); one never issued is accepted.

Several store accounts (`Yahoo`): one API serves every store and a token is the Yahoo ID's that
granted it (listings.Accounts: its account is the text after its last colon). Account <name>
has the store `sandbox-store-<name>` (the default account `sandbox-store`); a store another
account's token names does not exist for it (`ed-00004`).
"""

from __future__ import annotations

import threading

from ecauto.config import DEFAULT_ACCOUNT
from ecauto.sandbox.exchange import Reply, Request, xml_reply, xml_text
from ecauto.sandbox.listings import Accounts, FailureDice, ListingBook, totals
from ecauto.sandbox.tokens import RefreshGrant, TokenState

NOT_FOUND = "it-05002"
NO_STORE = "ed-00004"
STORES = ("sandbox-store",)
OK = '<ResultSet totalResultsReturned="1"><Result><Status>OK</Status></Result></ResultSet>'


class Yahoo:
    """Yahoo's store API over several accounts: each request goes to its token's account."""

    def __init__(
        self,
        failure_rate: float,
        seed: int,
        expires_in: float = 3600,
        stores: tuple[str, ...] = STORES,
    ) -> None:
        def make(name: str) -> YahooStore:
            own = stores if name == DEFAULT_ACCOUNT else (f"{STORES[0]}-{name}",)
            return YahooStore(failure_rate, seed, expires_in, own, name)

        self.accounts = Accounts(make)

    def token(self, req: Request) -> Reply:
        return self.accounts.of_refresh(req).grant.token(req)

    def edit_item(self, req: Request) -> Reply:
        return self.accounts.of_bearer(req).edit_item(req)

    def reserve_publish(self, req: Request) -> Reply:
        return self.accounts.of_bearer(req).reserve_publish(req)

    def get_item(self, req: Request) -> Reply:
        return self.accounts.of_bearer(req).get_item(req)

    def listings(self) -> dict[str, int]:
        return totals([a.book for a in self.accounts.all().values()])

    def refreshes(self) -> int:
        return sum(a.grant.refreshes for a in self.accounts.all().values())

    def listed_codes(self) -> list[str]:
        return [code for a in self.accounts.all().values() for code in a.listed_codes()]

    def counts(self) -> dict[str, int]:
        total = {"saved": 0, "published": 0}
        for a in self.accounts.all().values():
            for k, v in a.counts().items():
                total[k] += v
        return total

    def by_account(self) -> dict[str, dict[str, object]]:
        """What a test checks per account: its listings, its items, its refreshes."""
        return {
            name: {
                "listings": a.book.snapshot(),
                "items": a.counts(),
                "refreshes": a.grant.refreshes,
            }
            for name, a in self.accounts.all().items()
        }


class YahooStore:
    """One account: its stores' saved and published items, and its tokens."""

    def __init__(
        self,
        failure_rate: float,
        seed: int,
        expires_in: float = 3600,
        stores: tuple[str, ...] = STORES,
        name: str = DEFAULT_ACCOUNT,
    ) -> None:
        suffix = "" if name == DEFAULT_ACCOUNT else f":{name}"
        self.book = ListingBook()
        self.dice = FailureDice(failure_rate, seed, "yahoo" + suffix)
        self.grant = RefreshGrant("", expires_in, suffix)
        self.stores = stores
        self._items: dict[tuple[str, str], dict[str, str]] = {}
        self._published: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def listed_codes(self) -> list[str]:
        """The item codes customers can see (read-only, for the soak and the stats)."""
        with self._lock:
            return [code for _seller, code in self._published]

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {"saved": len(self._items), "published": len(self._published)}

    def edit_item(self, req: Request) -> Reply:
        form = req.form()
        refused = self._check(req, form.get("seller_id", ""))
        if refused is not None:
            return refused
        seller, code = form.get("seller_id", ""), form.get("item_code", "")
        if not code:
            return _error(400, "ed-00001", "item_code is required")
        price = form.get("price")
        if price is not None and not price.isdigit():
            return _error(400, "ed-00002", "price must be a whole number of yen")
        if self.dice.roll() is not None:
            self.book.record_failure()
            return _error(500, "ed-99999", "System error, please retry later")
        fields: dict[str, str] = {k: form[k] for k in ("name", "price") if k in form}
        with self._lock:
            self._items.setdefault((seller, code), {"name": "", "price": ""}).update(fields)
            published = (seller, code) in self._published
        if published:
            self.book.record(f"{seller}/{code}")  # already listed: counts as the duplicate
        return xml_reply(200, OK)

    def reserve_publish(self, req: Request) -> Reply:
        form = req.form()
        seller = form.get("seller_id", "")
        refused = self._check(req, seller)
        if refused is not None:
            return refused
        if form.get("mode") not in ("1", "2", "3"):
            return _error(400, "ed-00001", "mode must be 1, 2 or 3")
        if form["mode"] != "1":
            return xml_reply(200, OK)  # cancelling or reading a reservation changes nothing here
        with self._lock:
            new = [key for key in self._items if key[0] == seller and key not in self._published]
            self._published.update(new)
        for key in new:
            self.book.record(f"{key[0]}/{key[1]}")
        return xml_reply(200, OK)

    def get_item(self, req: Request) -> Reply:
        seller, code = req.query.get("seller_id", ""), req.query.get("item_code", "")
        refused = self._check(req, seller)
        if refused is not None:
            return refused
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

    def _check(self, req: Request, seller: str) -> Reply | None:
        if self.grant.check(req) in (TokenState.MISSING, TokenState.EXPIRED):
            return _error(401, "px-04102", "Invalid access token")
        if not seller:
            return _error(400, "ed-00001", "seller_id is required")
        if seller not in self.stores:
            return _error(400, NO_STORE, f"The store account {seller} does not exist")
        return None


def _error(status: int, code: str, message: str) -> Reply:
    return xml_reply(
        status, f"<Error><Message>{xml_text(message)}</Message><Code>{code}</Code></Error>"
    )
