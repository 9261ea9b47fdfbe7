"""BASE (thebase.in): OAuth with rotating refresh tokens, and the items API with its quotas.

BASE counts every API call of a shop, whatever the endpoint, against one hourly and one daily
quota (clock hour and day, UTC here); a refused call is not counted. The token endpoint is
outside the quota.
"""

from __future__ import annotations

import secrets
import threading
from typing import Any

from ecauto.sandbox.exchange import Reply, Request, json_reply
from ecauto.sandbox.listings import FailureDice, ListingBook
from ecauto.sandbox.tokens import AccessTokens, TokenState
from ecauto.sandbox.windows import PeriodQuota

HOUR_S = 3600
DAY_S = 86400
FIRST_ITEM_ID = 100_000_001


class BaseShop:
    def __init__(
        self,
        hourly_cap: int,
        daily_cap: int,
        expires_in: float,
        failure_rate: float,
        seed: int,
    ) -> None:
        self.expires_in = expires_in
        self.tokens = AccessTokens("")
        self.book = ListingBook()
        self.dice = FailureDice(failure_rate, seed, "base")
        self._hour = PeriodQuota(hourly_cap, HOUR_S)
        self._day = PeriodQuota(daily_cap, DAY_S)
        # Refresh tokens already exchanged. There is no state at start, so any other refresh
        # token is taken as the current one (whatever the daemons kept from a previous run).
        self._spent: set[str] = set()
        self._items: dict[int, dict[str, Any]] = {}
        self._next_id = FIRST_ITEM_ID
        self._lock = threading.Lock()

    def token(self, req: Request) -> Reply:
        form = req.form()
        if form.get("grant_type") != "refresh_token":
            return _error(400, "unsupported_grant_type", "grant_type must be refresh_token")
        for name in ("client_id", "client_secret", "refresh_token", "redirect_uri"):
            if not form.get(name):
                return _error(400, "invalid_request", f"{name} is required")
        with self._lock:
            if form["refresh_token"] in self._spent:
                return _error(400, "invalid_grant", "The refresh token was already used")
            self._spent.add(form["refresh_token"])
        data = {
            "access_token": self.tokens.issue(req.mono, self.expires_in),
            "token_type": "bearer",
            "expires_in": int(self.expires_in),
            "refresh_token": secrets.token_hex(16),
        }
        return json_reply(200, data)

    def items_edit(self, req: Request) -> Reply:
        refused = self._gate(req)
        if refused is not None:
            return refused
        form = req.form()
        item_id = _whole(form.get("item_id"))
        if item_id is None:
            return _error(400, "invalid_request", "item_id must be a whole number")
        changes: dict[str, Any] = {}
        for name in ("price", "stock"):
            if name in form:
                value = _whole(form[name])
                if value is None or value < 0:
                    return _error(400, "bad_item", f"{name} must be a whole number of 0 or more")
                changes[name] = value
        for name in ("title", "detail"):
            if name in form:
                changes[name] = form[name]
        with self._lock:
            # Items listed before this sandbox started (its state is in memory) are edited as if
            # they had always been there, so a restarted sandbox does not fail the daemons.
            item = self._items.setdefault(item_id, _item(item_id, {}))
            item.update(changes)
            shown = dict(item)
        return json_reply(200, {"item": shown})

    def items_add(self, req: Request) -> Reply:
        refused = self._gate(req)
        if refused is not None:
            return refused
        form = req.form()
        if not form.get("title"):
            return _error(400, "bad_item", "title is required")
        price, stock = _whole(form.get("price")), _whole(form.get("stock"))
        if price is None or price < 1 or stock is None or stock < 0:
            return _error(400, "bad_item", "price (1 or more) and stock (0 or more) are required")
        failure = self.dice.roll()
        if failure is not None:
            self.book.record_failure()
            if failure == "server":
                return _error(500, "internal_server_error", "Please try again later")
            return _error(400, "bad_item", "The item could not be registered")
        fields = {
            "title": form["title"],
            "detail": form.get("detail", ""),
            "price": price,
            "stock": stock,
            "identifier": form.get("identifier", ""),
        }
        with self._lock:
            item_id = self._next_id
            self._next_id += 1
            item = self._items[item_id] = _item(item_id, fields)
            shown = dict(item)
        # An item without an identifier is always new: only SKUs can be duplicated.
        self.book.record(shown["identifier"] or f"#{item_id}")
        return json_reply(200, {"item": shown})

    def items_search(self, req: Request) -> Reply:
        refused = self._gate(req)
        if refused is not None:
            return refused
        q = req.query.get("q", "")
        if not q:
            return _error(400, "invalid_request", "q is required")
        with self._lock:
            found = [dict(i) for i in self._items.values() if i["identifier"] == q]
        return json_reply(200, {"items": found})

    def _gate(self, req: Request) -> Reply | None:
        state = self.tokens.check(req.bearer(), req.mono)
        if state is TokenState.MISSING:
            return _error(401, "invalid_request", "An Authorization: Bearer header is required")
        if state is TokenState.EXPIRED:
            return _error(401, "invalid_token", "The access token has expired")
        with self._lock:
            if self._day.full(req.now):
                return _error(400, "day_api_limit", "The daily API limit was reached", True)
            if self._hour.full(req.now):
                return _error(400, "hour_api_limit", "The hourly API limit was reached", True)
            self._day.take(req.now)
            self._hour.take(req.now)
        return None

    def quota_used(self, now: float) -> dict[str, int]:
        with self._lock:
            return {"hour": self._hour.used(now), "day": self._day.used(now)}


def _item(item_id: int, fields: dict[str, Any]) -> dict[str, Any]:
    blank = {"title": "", "detail": "", "price": 0, "stock": 0, "identifier": "", "visible": 1}
    return {"item_id": item_id, **blank, **fields}


def _whole(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _error(status: int, error: str, description: str, throttled: bool = False) -> Reply:
    body = {"error": error, "error_description": description}
    return json_reply(status, body, throttled=throttled)
