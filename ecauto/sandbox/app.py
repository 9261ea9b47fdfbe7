"""The sandbox as an application: routes, faults, stats and the /_sandbox control endpoints.

`Sandbox.plan()` decides what to do with one request (answer, wait, or drop the connection)
without touching a socket or sleeping; server.py carries the plan out.
"""

from __future__ import annotations

import logging
import re
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ecauto.config import ACCOUNT_NAME, DEFAULT_ACCOUNT, DEFAULT_OPERATION, Limit, SandboxSettings
from ecauto.logsetup import fields
from ecauto.sandbox.base_shop import BaseShops
from ecauto.sandbox.chatwork import Chatwork
from ecauto.sandbox.ebay import Ebay
from ecauto.sandbox.exchange import Reply, Request, json_reply, xml_reply
from ecauto.sandbox.faults import FaultMode, FaultTable, parse_fault
from ecauto.sandbox.key import HEADER, answer, key_path, load_or_create, matches
from ecauto.sandbox.network import Network
from ecauto.sandbox.spapi import SpApi
from ecauto.sandbox.stats import Stats
from ecauto.sandbox.yahoo import Yahoo

log = logging.getLogger(__name__)

THROTTLE_LOG_EVERY_S = 60.0  # at most one log line per endpoint and minute about refusals


class Clock(Protocol):
    def time(self) -> float: ...

    def monotonic(self) -> float: ...


class SystemClock:
    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


@dataclass(frozen=True)
class Plan:
    """What the HTTP layer should do: wait `delay_s`, then send `reply` (or close, if None)."""

    reply: Reply | None
    delay_s: float = 0.0
    hold_fault: int | None = None  # a hang: stop waiting as soon as this fault is over


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    key: str | None  # stats key; None for the /_sandbox endpoints (never counted or faulted)
    handler: Callable[[Request], Reply]


class Sandbox:
    def __init__(
        self,
        settings: SandboxSettings,
        home: Path,
        clock: Clock | None = None,
        key_file: Path | None = None,
    ) -> None:
        self.settings = settings
        self.key_file = key_file or key_path(home)
        self.key = ""  # read by open()
        self.clock = clock or SystemClock()
        now, mono = self.clock.time(), self.clock.monotonic()
        s = settings
        # An operation the settings leave out keeps Amazon's documented limit.
        limits = {
            **SandboxSettings().op_limits,
            **s.op_limits,
            DEFAULT_OPERATION: Limit(s.spapi_rate, s.spapi_burst),
        }
        self.spapi = SpApi(limits, s.seed, s.market_period_s, s.lwa_expires_in, mono)
        self.base = BaseShops(
            hourly_cap=s.base_hourly_cap,
            daily_cap=s.base_daily_cap,
            expires_in=s.base_expires_in,
            failure_rate=s.listing_failure_rate,
            seed=s.seed,
            search_lag_s=s.base_search_lag_s,
        )
        self.ebay = Ebay(s.listing_failure_rate, s.seed, s.ebay_expires_in)
        self.yahoo = Yahoo(s.listing_failure_rate, s.seed, s.yahoo_expires_in)
        self.chatwork = Chatwork(home / "sandbox" / "chatwork.jsonl")
        self.faults = FaultTable()
        self.network = Network(s.latency_in_ms, s.latency_ms, s.jitter_ms, s.seed)
        self.routes = self._routes()
        self.keys = [r.key for r in self.routes if r.key is not None]
        self.stats = Stats(self.keys, now)
        self._throttle_logged: dict[str, float] = {}

    def _routes(self) -> list[Route]:
        inventory = r"/sell/inventory/v1/inventory_item/(?P<sku>[^/]+)"
        offer = "/sell/inventory/v1/offer"
        yahoo = "/ShoppingWebService/V1"
        table: list[tuple[str, str, str | None, Callable[[Request], Reply]]] = [
            ("GET", "/products/pricing/v0/price", "spapi.getPricing", self.spapi.get_pricing),
            (
                "GET",
                "/products/pricing/v0/competitivePrice",
                "spapi.getCompetitivePricing",
                self.spapi.competitive_pricing,
            ),
            (
                "POST",
                "/batches/products/pricing/v0/itemOffers",
                "spapi.getItemOffersBatch",
                self.spapi.item_offers_batch,
            ),
            ("POST", "/auth/o2/token", "lwa.token", self.spapi.lwa_token),
            ("POST", "/1/oauth/token", "base.token", self.base.token),
            ("POST", "/1/items/edit", "base.items_edit", self.base.items_edit),
            ("POST", "/1/items/add", "base.items_add", self.base.items_add),
            ("GET", "/1/items/search", "base.items_search", self.base.items_search),
            ("POST", "/identity/v1/oauth2/token", "ebay.token", self.ebay.token),
            ("GET", "/1/items", "base.items_list", self.base.items),
            ("PUT", inventory, "ebay.put_item", self.ebay.put_item),
            ("GET", inventory, "ebay.get_item", self.ebay.get_item),
            ("POST", offer, "ebay.create_offer", self.ebay.create_offer),
            ("GET", offer, "ebay.get_offers", self.ebay.get_offers),
            (
                "POST",
                rf"{offer}/(?P<offer_id>[^/]+)/publish/?",  # the contract's path ends in "/"
                "ebay.publish_offer",
                self.ebay.publish_offer,
            ),
            ("POST", "/yconnect/v2/token", "yahoo.token", self.yahoo.token),
            ("POST", f"{yahoo}/editItem", "yahoo.edit_item", self.yahoo.edit_item),
            (
                "POST",
                f"{yahoo}/reservePublish",
                "yahoo.reserve_publish",
                self.yahoo.reserve_publish,
            ),
            ("GET", f"{yahoo}/getItem", "yahoo.get_item", self.yahoo.get_item),
            ("POST", r"/v2/rooms/(?P<room_id>\d+)/messages", "chatwork.post", self.chatwork.post),
            ("GET", "/_sandbox/health", None, self._health),
            ("GET", "/_sandbox/whoami", None, self._whoami),
            ("GET", "/_sandbox/stats", None, self._owner(self._stats)),
            ("GET", "/_sandbox/chatwork", None, self._owner(self._chatwork)),
            ("GET", "/_sandbox/faults", None, self._owner(self._list_faults)),
            ("POST", "/_sandbox/faults", None, self._owner(self._add_fault)),
            ("DELETE", "/_sandbox/faults", None, self._owner(self._clear_faults)),
            ("POST", "/_sandbox/revoke", None, self._owner(self._revoke)),
        ]
        return [Route(m, re.compile(f"^{p}$"), k, h) for m, p, k, h in table]

    # -- one request ------------------------------------------------------------------------

    def plan(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
        arrived: float | None = None,  # monotonic; after the network's inbound delay
    ) -> Plan:
        split = urllib.parse.urlsplit(target)
        route, params, path_known = self._route(method, split.path)
        if route is None:
            if path_known:
                return Plan(_not_found(405, f"{method} is not allowed here"))
            return Plan(_not_found(404, f"no sandbox endpoint at {split.path}"))
        req = Request(
            method=method,
            path=split.path,
            query=dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True)),
            headers=headers,
            body=body,
            now=self.clock.time(),
            mono=self.clock.monotonic() if arrived is None else arrived,
            params=params,
        )
        key = route.key
        if key is None:
            return Plan(self._call(route, req))
        self.stats.request(key)
        delay = self.network.outbound()
        fault = self.faults.find(key, req.mono)
        if fault is not None and fault.mode is not FaultMode.SLOW:
            self.stats.outcome(key, "injected")
            if fault.mode is FaultMode.DOWN:
                return Plan(None)
            if fault.mode is FaultMode.HANG:
                return Plan(None, fault.until - req.mono, fault.id)
            if fault.mode is FaultMode.LOST:
                self._call(route, req)  # done, and then the answer never arrives
                return Plan(None, delay)
            return Plan(_injected(key, int(fault.mode.value)), delay)
        if fault is not None:
            delay += fault.delay_s
        reply = self._call(route, req)
        if reply.throttled:
            self.stats.outcome(key, "throttled")
            self._log_throttle(key, req.mono, reply.status)
        else:
            self.stats.outcome(key, "ok" if reply.ok else "errors")
        return Plan(reply, delay)

    def inbound_delay(self, target: str) -> float:
        """How long a request takes to reach the APIs (the control endpoints are not on it)."""
        return 0.0 if target.startswith("/_sandbox/") else self.network.inbound()

    def fault_holds(self, fault_id: int) -> bool:
        return self.faults.holds(fault_id, self.clock.monotonic())

    def summary(self) -> dict[str, int]:
        return self.stats.totals()

    def open(self) -> None:
        """Prepare what lives on disk, so a home we cannot write stops the start, not an alert."""
        self.key = load_or_create(self.key_file)
        self.chatwork.open()

    def close(self) -> None:
        self.chatwork.close()

    def _route(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        path_known = False
        for route in self.routes:
            match = route.pattern.match(path)
            if match is None:
                continue
            path_known = True
            if route.method == method:
                params = {k: urllib.parse.unquote(v) for k, v in match.groupdict().items()}
                return route, params, True
        return None, {}, path_known

    def _call(self, route: Route, req: Request) -> Reply:
        try:
            return route.handler(req)
        except Exception:
            # A sandbox bug must show as a 500 the test sees, not as a dropped connection.
            log.exception("sandbox handler failed %s", fields(endpoint=route.key, path=req.path))
            body = {"errors": [{"code": "InternalFailure", "message": "sandbox handler failed"}]}
            return json_reply(500, body)

    def _log_throttle(self, key: str, mono: float, status: int) -> None:
        last = self._throttle_logged.get(key)
        if last is None or mono - last >= THROTTLE_LOG_EVERY_S:
            self._throttle_logged[key] = mono
            log.info(
                "sandbox refused over quota %s",
                fields(endpoint=key, status=status, note="further refusals this minute not logged"),
            )

    # -- /_sandbox --------------------------------------------------------------------------

    def _health(self, req: Request) -> Reply:
        return json_reply(200, {"ok": True})

    def _whoami(self, req: Request) -> Reply:
        """The proof that this is the instance's sandbox, without giving the key away."""
        nonce = req.query.get("nonce", "")
        if not 16 <= len(nonce) <= 128:
            return json_reply(400, {"error": "nonce must be 16 to 128 characters"})
        return json_reply(200, {"hmac": answer(self.key, nonce)})

    def _owner(self, handler: Callable[[Request], Reply]) -> Callable[[Request], Reply]:
        """Control endpoints answer only who holds the instance's key (its tests and tools)."""

        def guarded(req: Request) -> Reply:
            if not self.key or not matches(self.key, req.headers.get(HEADER.lower(), "")):
                return json_reply(403, {"error": f"send this instance's sandbox key in {HEADER}"})
            return handler(req)

        return guarded

    def _stats(self, req: Request) -> Reply:
        listings = {
            "base": self.base.listings(),
            "ebay": self.ebay.listings(),
            "yahoo": self.yahoo.listings(),
        }
        snapshot = self.stats.snapshot(listings)
        snapshot["base_quota"] = self.base.quota_used(req.now)
        snapshot["base_out_of_stock"] = self.base.out_of_stock()
        snapshot["base_shops"] = self.base.by_shop(req.now)
        snapshot["spapi"] = self.spapi.served()
        snapshot["yahoo_items"] = self.yahoo.counts()
        snapshot["refreshes"] = {"ebay": self.ebay.refreshes(), "yahoo": self.yahoo.refreshes()}
        snapshot["ebay_accounts"] = self.ebay.by_account()
        snapshot["yahoo_accounts"] = self.yahoo.by_account()
        snapshot["arrivals"] = {op: b.arrivals() for op, b in self.spapi.buckets.items()}
        return json_reply(200, snapshot)

    def _chatwork(self, req: Request) -> Reply:
        return json_reply(200, self.chatwork.messages())

    def _list_faults(self, req: Request) -> Reply:
        return json_reply(200, {"faults": self.faults.listing(req.mono)})

    def _add_fault(self, req: Request) -> Reply:
        try:
            fault = parse_fault(req.json(), self.keys, self.faults.next_id(), req.mono)
        except ValueError as e:
            return json_reply(400, {"error": str(e)})
        self.faults.add(fault)
        shown = fault.to_json(req.mono)
        log.info("sandbox fault on %s", fields(**shown))
        return json_reply(200, {"fault": shown})

    def _revoke(self, req: Request) -> Reply:
        """The user withdrew consent: one account's refresh token ({"platform": "ebay", "yahoo"
        or "base", "shop": name}, the default account without "shop") is refused from now on."""
        try:
            body = req.json()
            platform, shop = body.get("platform"), body.get("shop", DEFAULT_ACCOUNT)
        except (ValueError, AttributeError):
            platform = shop = None
        if platform not in ("base", "ebay", "yahoo"):
            return json_reply(400, {"error": "platform must be ebay, yahoo or base"})
        if not isinstance(shop, str) or not ACCOUNT_NAME.match(shop):
            return json_reply(400, {"error": "shop must be an account's name"})
        if platform == "base":
            self.base.shop(shop).revoke()
        else:
            sellers = self.ebay if platform == "ebay" else self.yahoo
            sellers.accounts.get(shop).grant.revoke()
        log.info("sandbox refresh token revoked %s", fields(platform=platform, shop=shop))
        return json_reply(200, {"revoked": platform, "shop": shop})

    def _clear_faults(self, req: Request) -> Reply:
        n = self.faults.clear()
        log.info("sandbox faults cleared %s", fields(count=n))
        return json_reply(200, {"cleared": n})


def _not_found(status: int, message: str) -> Reply:
    return json_reply(status, {"errors": [{"code": "NotFound", "message": message}]})


def _injected(key: str, status: int) -> Reply:
    """An injected 429 or 500, worded the way the platform behind `key` words it."""
    platform = key.split(".", 1)[0]
    limited = status == 429
    if platform == "chatwork":
        text = "Rate limit exceeded" if limited else "Internal server error"
        return json_reply(status, {"errors": [text]})
    if platform == "yahoo":
        code, text = ("px-04104", "Too many requests") if limited else ("ed-99999", "System error")
        return xml_reply(status, f"<Error><Message>{text}</Message><Code>{code}</Code></Error>")
    if platform == "ebay":
        error_id, text = (2001, "Too many requests") if limited else (25001, "System error")
        return json_reply(status, {"errors": [{"errorId": error_id, "message": text}]})
    if platform in ("base", "lwa"):
        error = "too_many_requests" if limited else "server_error"
        text = "Too many requests" if limited else "Internal server error"
        return json_reply(status, {"error": error, "error_description": text})
    if limited:
        message = "You exceeded your quota for the requested resource."
        return json_reply(
            429, {"errors": [{"code": "QuotaExceeded", "message": message, "details": ""}]}
        )
    body = {"errors": [{"code": "InternalFailure", "message": "We encountered an internal error."}]}
    return json_reply(500, body)
