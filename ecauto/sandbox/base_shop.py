"""BASE (thebase.in): OAuth with rotating refresh tokens, and the items API with its quotas.

Answers follow BASE's published API docs (github.com/baseinc/api-docs, the last commit with
content, 2760123; the files named below): every error is HTTP 400 with `error` and
`error_description` (README.md "レスポンス"), worded as the docs word it.

BASE counts every API call of a shop, whatever the endpoint, against one hourly and one daily
quota (clock hour and day, UTC here; README.md "APIの利用制限"); a refused call is not
counted. The token endpoint is outside the quota.

The shop: items added here get ids from FIRST_ITEM_ID on. The ids the demo products point at
(CATALOGUE: store.seed_demo gives product i the BASE item 100000 + i) stand for the shop's
items from before this sandbox started; they exist without being listings, so the price sync
can edit them. Any other id is unknown: editing it is `bad_item_id`, as on BASE.

Several shops (`BaseShops`), as on BASE, where one API serves every shop and a token belongs to
the shop that authorised it: each shop has its own items, quotas and tokens. The sandbox knows a
token's shop by the text after its last colon (the tokens it issues end so; a refresh token it
never issued, such as the daemons' sandbox credentials, names its shop the same way); a token
without one is the default shop's, which is the one shop of a config without accounts.

Search (`items/search`) is BASE's full-text index: it matches the keywords in title, detail and
categories unless `fields` says otherwise, and an item enters it only `search_lag_s` after it
was added (BASE: "up to an hour", base_api_v1_items_search.md). `items` lists the shop at once.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Any

from ecauto.config import DEFAULT_ACCOUNT
from ecauto.sandbox.exchange import Reply, Request, json_reply
from ecauto.sandbox.listings import FailureDice, ListingBook, account_of
from ecauto.sandbox.tokens import AccessTokens, TokenState
from ecauto.sandbox.windows import PeriodQuota

HOUR_S = 3600
DAY_S = 86400
FIRST_ITEM_ID = 100_000_001
CATALOGUE = range(100_000, 100_000 + 10**7)  # DemoSettings.products is at most 10**7
IMAGES = 5  # img1..img5: items' max_image_no default (base_api_v1_items.md)
# Every size in add, edit and search answers; `items` lists `image_size` (default origin).
IMAGE_SIZES = ("origin", "76", "146", "300", "500", "640", "sp_480", "sp_640")
SEARCH_FIELDS = ("title", "detail", "categories")  # the documented default of `fields`
SEARCH_DEPTH = 10_000  # offset MAX 10000 (base_api_v1_items_search.md)

# The docs' own wording (README.md, base_api_v1_items_edit.md, base_api_v1_oauth_*.md).
TOKEN_INVALID = "アクセストークンが無効です。"
BAD_ITEM_ID = "不正なitem_idです。"
VALIDATION = "バリデーションエラーです。"
BAD_REFRESH = "不正なリフレッシュトークンです。"
BAD_GRANT = "不正なgrant_typeです。"
BAD_PARAMETER = "不正なパラメーターです。"
NO_CLIENT = "client_idもしくはclient_secretがありません。"
HOUR_LIMIT = "1時間のAPIの利用上限を超えました。時間が変わってからもう一度アクセスしてください。"
DAY_LIMIT = "1日のAPIの利用上限を超えました。日付が変わってからもう一度アクセスしてください。"


class BaseShop:
    def __init__(
        self,
        hourly_cap: int,
        daily_cap: int,
        expires_in: float,
        failure_rate: float,
        seed: int,
        search_lag_s: float = 3600.0,
        name: str = DEFAULT_ACCOUNT,
    ) -> None:
        self.name = name
        self.suffix = "" if name == DEFAULT_ACCOUNT else f":{name}"
        self.expires_in = expires_in
        self.search_lag_s = search_lag_s
        self.tokens = AccessTokens("", suffix=self.suffix)
        self.book = ListingBook()
        self.dice = FailureDice(failure_rate, seed, "base" + self.suffix)
        self.revoked = False  # the shop withdrew the app's authorisation
        self._hour = PeriodQuota(hourly_cap, HOUR_S)
        self._day = PeriodQuota(daily_cap, DAY_S)
        # Refresh tokens already exchanged. There is no state at start, so any other refresh
        # token is taken as the current one (whatever the daemons kept from a previous run).
        self._spent: set[str] = set()
        self._items: dict[int, dict[str, Any]] = {}
        self._added_at: dict[int, float] = {}  # wall clock; CATALOGUE items have none
        self._order: dict[int, int] = {}  # creation order, for order=created
        self._next_id = FIRST_ITEM_ID
        self._last_order = 0  # list_order defaults to after the last (base_api_v1_items_add.md)
        self._lock = threading.Lock()

    def token(self, req: Request) -> Reply:
        form = req.form()
        if form.get("grant_type") != "refresh_token":
            return _error("invalid_request", BAD_GRANT)
        if not form.get("client_id") or not form.get("client_secret"):
            return _error("invalid_request", NO_CLIENT)
        if not form.get("refresh_token") or not form.get("redirect_uri"):
            return _error("invalid_request", BAD_PARAMETER)
        with self._lock:
            if form["refresh_token"] in self._spent or self.revoked:
                # BASE refuses a used or expired refresh token as invalid_request, not the
                # invalid_grant of RFC 6749 (base_api_v1_oauth_refresh_token.md).
                return _error("invalid_request", BAD_REFRESH)
            self._spent.add(form["refresh_token"])
        data = {
            "access_token": self.tokens.issue(req.mono, self.expires_in),
            "token_type": "bearer",
            "expires_in": int(self.expires_in),
            "refresh_token": secrets.token_hex(16) + self.suffix,
        }
        return json_reply(200, data)

    def items_edit(self, req: Request) -> Reply:
        refused = self._gate(req)
        if refused is not None:
            return refused
        form = req.form()
        changes, bad = _changes(form, ("price", "stock", "visible", "list_order"))
        if bad:
            return _error("validation_error", VALIDATION)
        item_id = _whole(form.get("item_id"))
        if item_id is None:
            return _error("bad_item_id", BAD_ITEM_ID)
        with self._lock:
            item = self._items.get(item_id)
            if item is None and item_id in CATALOGUE:
                # One of the shop's older items, first touched now: it was always there.
                item = self._items[item_id] = _item(item_id, {}, req.now)
                self._order[item_id] = -1
            if item is None:
                return _error("bad_item_id", BAD_ITEM_ID)
            item.update(changes, modified=int(req.now))
            shown = _shown(item, IMAGE_SIZES)
        return json_reply(200, {"item": shown})

    def items_add(self, req: Request) -> Reply:
        refused = self._gate(req)
        if refused is not None:
            return refused
        form = req.form()
        changes, bad = _changes(form, ("price", "stock", "visible", "list_order"))
        if bad or not form.get("title") or changes.get("price", 0) < 1 or "stock" not in changes:
            return _error("validation_error", VALIDATION)
        failure = self.dice.roll()
        if failure is not None:
            self.book.record_failure()
            if failure == "server":
                return json_reply(500, {"error": "server_error", "error_description": "DB error"})
            return _error("validation_error", VALIDATION)
        with self._lock:
            item_id = self._next_id
            self._next_id += 1
            self._last_order += 1
            item = self._items[item_id] = _item(item_id, {"list_order": self._last_order}, req.now)
            item.update(changes)
            self._last_order = max(self._last_order, item["list_order"])
            self._added_at[item_id] = req.now
            self._order[item_id] = item_id
            shown = _shown(item, IMAGE_SIZES)
        # An item without an identifier is always new: only SKUs can be duplicated.
        self.book.record(shown["identifier"] or f"#{item_id}")
        return json_reply(200, {"item": shown})

    def items(self, req: Request) -> Reply:
        """GET /1/items: the shop's items, at once (base_api_v1_items.md)."""
        refused = self._gate(req)
        if refused is not None:
            return refused
        q = req.query
        order, sort = q.get("order", "list_order"), q.get("sort", "asc")
        limit, offset = _whole(q.get("limit", "20")), _whole(q.get("offset", "0"))
        if order not in ("list_order", "created", "modified") or sort not in ("asc", "desc"):
            return _error("invalid_request", BAD_PARAMETER)
        if limit is None or not 1 <= limit <= 100 or offset is None or offset < 0:
            return _error("invalid_request", BAD_PARAMETER)
        with self._lock:
            page = self._page(list(self._items), order, sort, limit, offset, ("origin",))
        return json_reply(200, {"items": page})

    def items_search(self, req: Request) -> Reply:
        """GET /1/items/search: the full-text index, which lags (base_api_v1_items_search.md)."""
        refused = self._gate(req)
        if refused is not None:
            return refused
        q = req.query
        words = q.get("q", "").replace("\u3000", " ").split()
        fields = [f for f in q.get("fields", ",".join(SEARCH_FIELDS)).split(",") if f]
        order, sort = q.get("order", ""), q.get("sort", "desc")
        limit, offset = _whole(q.get("limit", "10")), _whole(q.get("offset", "0"))
        if not words or not fields or any(f not in SEARCH_FIELDS for f in fields):
            return _error("invalid_request", BAD_PARAMETER)
        if order not in ("", "list_order", "modified") or sort not in ("asc", "desc"):
            return _error("invalid_request", BAD_PARAMETER)
        if limit is None or not 1 <= limit <= 100 or offset is None or offset < 0:
            return _error("invalid_request", BAD_PARAMETER)
        if offset + limit > SEARCH_DEPTH:
            depth = f"Request depth ({offset + limit}) exceeded, limit={SEARCH_DEPTH}"
            return _error("search_error", depth)
        with self._lock:
            indexed = [
                item_id
                for item_id, item in self._items.items()
                if self._added_at.get(item_id, float("-inf")) + self.search_lag_s <= req.now
                and _matches(item, words, fields)
            ]
            # "キーワードマッチ度順" by default: every match here matches equally; newest first.
            page = self._page(indexed, order or "created", sort, limit, offset, IMAGE_SIZES)
        return json_reply(200, {"items": page})

    def _page(
        self,
        ids: list[int],
        order: str,
        sort: str,
        limit: int,
        offset: int,
        sizes: tuple[str, ...],
    ) -> list[dict[str, Any]]:
        key: Callable[[int], Any] = {
            "created": lambda i: (self._order[i], i),
            "modified": lambda i: (self._items[i]["modified"], i),
            "list_order": lambda i: (self._items[i]["list_order"], i),
        }[order]
        ids = sorted(ids, key=key, reverse=sort == "desc")
        return [_shown(self._items[i], sizes) for i in ids[offset : offset + limit]]

    def _gate(self, req: Request) -> Reply | None:
        # A missing, unknown-to-BASE or expired token: one answer (README.md's own example).
        state = self.tokens.check(req.bearer(), req.mono)
        if state in (TokenState.MISSING, TokenState.EXPIRED):
            return _error("invalid_request", TOKEN_INVALID)
        with self._lock:
            if self._day.full(req.now):
                return _error("day_api_limit", DAY_LIMIT, True)
            if self._hour.full(req.now):
                return _error("hour_api_limit", HOUR_LIMIT, True)
            self._day.take(req.now)
            self._hour.take(req.now)
        return None

    def revoke(self) -> None:
        with self._lock:
            self.revoked = True

    def quota_used(self, now: float) -> dict[str, int]:
        with self._lock:
            return {"hour": self._hour.used(now), "day": self._day.used(now)}

    def listed_skus(self) -> list[str]:
        """The SKUs of the shop's listings (items with an identifier), one per item: a SKU
        listed twice appears twice (what the soak checks)."""
        with self._lock:
            return [str(i["identifier"]) for i in self._items.values() if i.get("identifier")]

    def out_of_stock(self) -> list[str]:
        """The ids of the shop's items that cannot be bought (stock 0): what a test checks."""
        with self._lock:
            return sorted(str(i) for i, item in self._items.items() if not item.get("stock"))


MAX_SHOPS = 64  # a sandbox is a test's: more shops than this is a mistake, not a shop


shop_of = account_of  # the shop a token belongs to: the text after its last colon


class BaseShops:
    """BASE's API over several shops: each request goes to the shop its token belongs to."""

    def __init__(self, **shop_settings: Any) -> None:
        self._settings = shop_settings
        self._shops: dict[str, BaseShop] = {}
        self._lock = threading.Lock()
        self.shop(DEFAULT_ACCOUNT)

    def shop(self, name: str) -> BaseShop:
        with self._lock:
            shop = self._shops.get(name)
            if shop is None:
                if len(self._shops) >= MAX_SHOPS:
                    name, shop = DEFAULT_ACCOUNT, self._shops[DEFAULT_ACCOUNT]
                else:
                    shop = self._shops[name] = BaseShop(**self._settings, name=name)
            return shop

    def shops(self) -> dict[str, BaseShop]:
        with self._lock:
            return dict(self._shops)

    def token(self, req: Request) -> Reply:
        return self.shop(shop_of(req.form().get("refresh_token", ""))).token(req)

    def _for(self, req: Request) -> BaseShop:
        return self.shop(shop_of(req.bearer()))

    def items_edit(self, req: Request) -> Reply:
        return self._for(req).items_edit(req)

    def items_add(self, req: Request) -> Reply:
        return self._for(req).items_add(req)

    def items(self, req: Request) -> Reply:
        return self._for(req).items(req)

    def items_search(self, req: Request) -> Reply:
        return self._for(req).items_search(req)

    def listings(self) -> dict[str, int]:
        """Every shop's listings together: a duplicate in any shop is one."""
        total = {"created": 0, "duplicates": 0, "failed": 0}
        for shop in self.shops().values():
            for k, v in shop.book.snapshot().items():
                total[k] += v
        return total

    def quota_used(self, now: float) -> dict[str, int]:
        return self.shop(DEFAULT_ACCOUNT).quota_used(now)

    def listed_skus(self) -> list[str]:
        """Every shop's listed SKUs (a SKU in two shops appears twice: one shop's soak only)."""
        return [sku for shop in self.shops().values() for sku in shop.listed_skus()]

    def out_of_stock(self) -> list[str]:
        return self.shop(DEFAULT_ACCOUNT).out_of_stock()

    def by_shop(self, now: float) -> dict[str, dict[str, Any]]:
        """What a test checks per shop: its quota used, its listings, its items at stock 0."""
        return {
            name: {
                "quota": shop.quota_used(now),
                "listings": shop.book.snapshot(),
                "out_of_stock": shop.out_of_stock(),
            }
            for name, shop in self.shops().items()
        }


def _item(item_id: int, fields: dict[str, Any], now: float) -> dict[str, Any]:
    """An item as the shop keeps it: the fields BASE's item answers declare."""
    blank: dict[str, Any] = {
        "title": "",
        "detail": "",
        "price": 0,
        "proper_price": None,
        "stock": 0,
        "visible": 1,
        "list_order": 0,
        "identifier": None,
        "modified": int(now),
        "categories": "",
        "variations": [],
    }
    return {"item_id": item_id, **blank, **fields}


def _shown(item: dict[str, Any], sizes: tuple[str, ...]) -> dict[str, Any]:
    shown = {k: v for k, v in item.items() if k != "categories"}
    for n in range(1, IMAGES + 1):
        for size in sizes:
            shown[f"img{n}_{size}"] = None  # the sandbox's items have no images
    shown["variations"] = list(item["variations"])
    return shown


def _changes(form: dict[str, str], numbers: tuple[str, ...]) -> tuple[dict[str, Any], bool]:
    """The item fields a form sets, and whether one of them is not valid."""
    changes: dict[str, Any] = {}
    for name in numbers:
        if name in form:
            value = _whole(form[name])
            if value is None or value < 0:
                return {}, True
            changes[name] = value
    for name in ("title", "detail"):
        if name in form:
            changes[name] = form[name]
    if "identifier" in form:
        changes["identifier"] = form["identifier"] or None
    return changes, False


def _matches(item: dict[str, Any], words: list[str], fields: list[str]) -> bool:
    """Every keyword in one of the fields (case folded): full-text search, roughly."""
    text = " ".join(str(item.get(f) or "") for f in fields).casefold()
    return all(w.casefold() in text for w in words)


def _whole(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _error(error: str, description: str, throttled: bool = False) -> Reply:
    body = {"error": error, "error_description": description}
    return json_reply(400, body, throttled=throttled)
