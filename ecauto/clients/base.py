"""BASE (thebase.in) shop API: item edit for prices, item add for listings, the item list to
find a listing again.

What it relies on, from BASE's published docs (github.com/baseinc/api-docs, the last commit with
content, 2760123):
- every error is HTTP 400 with `error` and `error_description` (README.md "レスポンス"); a bad
  or expired access token is `invalid_request` "アクセストークンが無効です。" (README.md and
  every endpoint's error examples), so that answer, not a 401, is what triggers one refresh;
- the quotas, 5,000 calls an hour and 100,000 a day, refused as `hour_api_limit` and
  `day_api_limit` (README.md "APIの利用制限");
- `items/search` is a full-text index that matches title, detail and categories by default and
  takes up to an hour to see a new item (base_api_v1_items_search.md), so it cannot tell
  whether an SKU was just listed. `items` (base_api_v1_items.md) lists the shop at once, newest
  first with `order=created&sort=desc`, up to 100 a page, and each item carries `identifier`
  (商品コード), where `upload` puts the SKU, and `modified`: that is the lookup `find` uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import requests

from ecauto.clients.http import ApiError, QuotaSpent, call, http_error, json_body, session
from ecauto.clients.tokens import TokenSource
from ecauto.config import DEFAULT_ACCOUNT, BaseAccount, ConfigError
from ecauto.quota.gates import WindowGate

API = "BASE"
PAGE = 100  # items: limit MAX 100 (base_api_v1_items.md)
# BASE's `modified` is BASE's clock; ours may be off by this much without a listing missed.
CLOCK_MARGIN_S = 600.0
# The token endpoint's refusals that no retry cures: a used or expired refresh token is
# `invalid_request` (base_api_v1_oauth_refresh_token.md: "不正なリフレッシュトークンです。",
# "リフレッシュトークンの有効期限が切れています。"), as are a bad grant or missing parameters;
# an unknown or suspended client is `unauthorized_client`, a user that no longer exists
# `access_denied`. All of them need a person.
TOKEN_REFUSED = frozenset(
    {"invalid_request", "invalid_grant", "unauthorized_client", "access_denied"}
)


class BaseClient:
    platform = "base"

    def __init__(
        self,
        base_url: str,
        tokens: TokenSource,
        timeout_s: float,
        gate: WindowGate | None = None,
        account: str = DEFAULT_ACCOUNT,
    ) -> None:
        self.account = account
        # what errors say: "BASE items/edit", or with several shops "BASE second items/edit"
        self.api = API if account == DEFAULT_ACCOUNT else f"{API} {account}"
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
                f"{self.api} {op}",
                method,
                f"{self.base_url}{path}",
                self.timeout_s,
                headers={"Authorization": f"Bearer {token}"},
                **kwargs,
            )
            body = json_body(resp)
            if resp.status_code < 300 and isinstance(body, dict):
                return body
            if token_refused(resp.status_code, body):
                if attempt == 0:
                    self.tokens.invalidate(token)  # expired early or revoked: refresh once
                    continue
                # A fresh token refused too: the authorisation itself is gone. That is no
                # fault of this call (failing it would fail every listing for good): stop.
                why = body.get("error_description") if isinstance(body, dict) else None
                raise ConfigError(
                    f"{self.api} {op}: BASE refused a fresh access token "
                    f"({why or f'HTTP {resp.status_code}'}); authorise again"
                )
            error = error_for(op, resp, self.api)
            if isinstance(error, QuotaSpent) and self.gate:
                self.gate.refused(error.window)
            raise error
        raise AssertionError("unreachable: the second attempt returns or raises")

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
        return added_item_id(body)

    def find(self, sku: str, since: float | None = None) -> str | None:
        """The id of the item listed with `sku`, looking back to `since` (epoch seconds, when
        the first try of this listing began; None: the whole shop). Newest first, so a lookup
        right after a crash costs one call whatever the shop's size."""
        stop_before = None if since is None else since - CLOCK_MARGIN_S
        offset = 0
        while True:
            params = {"order": "created", "sort": "desc", "limit": PAGE, "offset": offset}
            body = self._call("items", "GET", "/1/items", params=params)
            items = body.get("items")
            if not isinstance(items, list):
                raise ApiError(f"{self.api} items", "answer has no items list")
            found, done = scan(items, sku, stop_before)
            if found is not None or done or len(items) < PAGE:
                return found
            offset += PAGE


def refused_line(account: BaseAccount, error: Exception) -> str:
    """What stops the daemon when one shop of several is refused: the shop named once, and
    where its new refresh token goes."""
    text = str(error).removeprefix(f"{account.token_name}: ").removeprefix(f"{API} {account.name} ")
    return (
        f"BASE account {account.name}: {text} "
        f"({account.env_prefix}_REFRESH_TOKEN in the environment)"
    )


def scan(items: Sequence[Any], sku: str, stop_before: float | None) -> tuple[str | None, bool]:
    """One page of items, newest created first: (the id listed with `sku` or None, whether the
    walk may stop). An item last modified before `stop_before` was created before it too, and
    so was every item after it: the listing, begun later, cannot be among them."""
    for item in items:
        if not isinstance(item, dict):
            continue
        if item.get("identifier") == sku and item.get("item_id") is not None:
            return str(item["item_id"]), True
        modified = item.get("modified")
        if (
            stop_before is not None
            and isinstance(modified, int | float)
            and not isinstance(modified, bool)
            and modified < stop_before
        ):
            return None, True
    return None, False


def added_item_id(body: dict[str, Any]) -> str:
    item = body.get("item")
    item_id = item.get("item_id") if isinstance(item, dict) else None
    if item_id is None:
        raise ApiError(f"{API} items/add", "answer has no item.item_id")
    return str(item_id)


def token_refused(status: int, body: Any) -> bool:
    """BASE's answer to a bad or expired access token: `invalid_request` "アクセストークンが
    無効です。". The same code also refuses, say, editing a digital-content item, which no
    refresh cures, so the description decides (a 401 is taken as one too, should BASE send it)."""
    if status == 401:
        return True
    if not isinstance(body, dict) or body.get("error") != "invalid_request":
        return False
    return "アクセストークン" in str(body.get("error_description", ""))


def error_for(op: str, resp: requests.Response, api: str = API) -> ApiError:
    """The ApiError an answer that is not a success means (`api`: "BASE", or "BASE <account>")."""
    body = json_body(resp)
    code = body.get("error") if isinstance(body, dict) else None
    message = (body.get("error_description") if isinstance(body, dict) else None) or resp.text[:200]
    # BASE reports its quotas as 400s with these codes: they are waits, not failures.
    if code == "hour_api_limit":
        return QuotaSpent(f"{api} {op}", message, resp.status_code, code, window="hour")
    if code == "day_api_limit":
        return QuotaSpent(f"{api} {op}", message, resp.status_code, code, window="day")
    if resp.status_code < 300:
        return ApiError(f"{api} {op}", "answer is not a JSON object", resp.status_code)
    return http_error(f"{api} {op}", resp, message, code)
