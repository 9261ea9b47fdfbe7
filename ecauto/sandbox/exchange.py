"""A request as the sandbox's APIs see it and the reply they give, free of sockets.

The HTTP layer (server.py) turns bytes into a `Request` stamped with the clock, and a `Reply`
back into bytes; every API module is a plain function of its own state and a `Request`.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]  # last value wins, as the APIs here never repeat a parameter
    headers: dict[str, str]  # names lower-cased
    body: bytes
    now: float  # wall clock, epoch seconds (calendar quotas, the market, records on disk)
    mono: float  # monotonic seconds (token buckets, sliding windows, token expiry)
    params: dict[str, str] = field(default_factory=dict)  # from the path, e.g. an eBay SKU

    def form(self) -> dict[str, str]:
        pairs = urllib.parse.parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return dict(pairs)

    def json(self) -> Any:
        """The JSON body; ValueError when it is not JSON."""
        return json.loads(self.body.decode("utf-8"))

    def bearer(self) -> str:
        """The token of an `Authorization: Bearer ...` header, or "" when there is none."""
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    throttled: bool = False  # refused by a real quota (not by an injected fault)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def json_reply(
    status: int,
    data: Any,
    headers: tuple[tuple[str, str], ...] = (),
    throttled: bool = False,
) -> Reply:
    body = json.dumps(data, separators=(",", ":")).encode()
    return Reply(status, body, "application/json", headers, throttled)


def xml_reply(status: int, xml: str) -> Reply:
    body = ('<?xml version="1.0" encoding="UTF-8"?>' + xml).encode()
    return Reply(status, body, "application/xml; charset=UTF-8")


def xml_text(value: object) -> str:
    return escape(str(value))
