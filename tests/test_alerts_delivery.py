"""Alert delivery over real HTTP on 127.0.0.1: the sandbox's Chatwork, down, hung, throttling.

The sandbox runs in-process on a free port with its own home. The alerter's wall clock is a
hand-driven one, so coalescing windows and back-offs pass without waiting for them; the budget
of deliver() is real time, and measured as such.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from support import HOST, TOKEN, Clock, Sandbox, deliver_all, first_lines, incident, make

from ecauto import redact
from ecauto.config import AlertSettings
from watchdog.alerts import Alerter
from watchdog.notices import Notice

# -- what arrives ---------------------------------------------------------------------------------


def test_one_message_per_incident_with_what_a_person_needs(
    tmp_path: Path, sandbox: Sandbox, clock: Clock
) -> None:
    alerter = make(tmp_path / "outbox", sandbox.url, clock)
    found = Notice(
        "dup/sync-inventory",
        "incident",
        "critical",
        "sync-inventory",
        "two copies running",
        "stopped the newer copy (pid 5678)",
        {"pids": "1234, 5678", "heartbeat age": "95 s", "last error": "BASE: HTTP 500"},
        clock.now,
    )

    alerter.submit([found])
    early = alerter.deliver()  # inside the coalescing window: held for company
    clock.advance(10)
    done = alerter.deliver()

    assert (early.sent, early.pending) == (0, 1)
    assert (done.sent, done.pending, done.last_error) == (1, 0, "")
    [msg] = sandbox.messages()
    # The sandbox records only POSTs to /v2/rooms/<room>/messages, with the token's sha256.
    assert msg["room"] == "7"
    assert msg["token_sha256"] == hashlib.sha256(TOKEN.encode()).hexdigest()
    body = msg["body"]
    assert body.splitlines()[0] == "[ecauto] CRITICAL sync-inventory: two copies running"
    for part in (
        "[info][title]sync-inventory on shop-pc[/title]",
        "done: stopped the newer copy",
        "pids: 1234, 5678",
        "heartbeat age: 95 s",
        "last error: BASE: HTTP 500",
    ):
        assert part in body

    # When it is healthy again: one recovery message.
    clock.advance(60)
    alerter.submit(
        [
            Notice(
                "dup/sync-inventory",
                "recovery",
                "critical",
                "sync-inventory",
                "one copy running again",
                "",
                {"pid": "1234"},
                clock.now,
            )
        ]
    )
    clock.advance(10)
    assert alerter.deliver().sent == 1
    assert first_lines(sandbox.messages())[1] == (
        "[ecauto] RECOVERED sync-inventory: one copy running again"
    )


def test_a_burst_over_several_cycles_is_one_message_oldest_first(
    tmp_path: Path, sandbox: Sandbox, clock: Clock
) -> None:
    # Given circusd died: the watchdog finds eight things over three cycles, 3 s apart.
    alerter = make(tmp_path / "outbox", sandbox.url, clock)
    keys = [f"gone/d{i}" for i in range(8)]
    for batch in (keys[:1], keys[1:5], keys[5:]):
        alerter.submit([incident(k, clock, summary=f"{k} is gone") for k in batch])
        assert alerter.deliver().sent == 0  # more may come
        clock.advance(3)
    # When ten seconds pass with nothing new
    clock.advance(7)
    d = alerter.deliver()
    # Then one message lists all eight, oldest first.
    assert (d.sent, d.pending) == (1, 0)
    [msg] = sandbox.messages()
    assert msg["body"].startswith("[ecauto] CRITICAL 8 problems: upload-base: gone/d0 is gone;")
    positions = [msg["body"].index(f"{k} is gone\n") for k in keys]
    assert positions == sorted(positions)


def test_the_same_incident_is_not_repeated_within_the_window(
    tmp_path: Path, sandbox: Sandbox, clock: Clock
) -> None:
    alerter = make(tmp_path / "outbox", sandbox.url, clock, dedupe_window_s=1800.0)
    hung = incident("hung/upload-base", clock)
    alerter.submit([hung])
    clock.advance(10)
    assert alerter.deliver().sent == 1
    drops = 0
    for _ in range(5):  # the watchdog keeps finding it every minute
        clock.advance(60)
        alerter.submit([hung])
        clock.advance(10)
        d = alerter.deliver()
        drops += d.dropped_duplicates
        assert d.sent == 0
    assert drops == 5
    # A restarted watchdog remembers what it said.
    again = make(tmp_path / "outbox", sandbox.url, clock)
    again.submit([hung])
    clock.advance(10)
    assert again.deliver().dropped_duplicates == 1
    # Once the window has passed, a reminder.
    clock.advance(1800)
    again.submit([hung])
    clock.advance(10)
    assert again.deliver().sent == 1
    assert len(sandbox.messages()) == 2


# -- Chatwork unavailable -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["down", "500"])
def test_down_then_up_delivers_every_message_once_in_order(
    tmp_path: Path, sandbox: Sandbox, clock: Clock, mode: str
) -> None:
    alerter = make(tmp_path / "outbox", sandbox.url, clock)
    sandbox.fault(mode)
    keys = [f"hung/d{i}" for i in range(5)]
    for k in keys:  # five incidents a minute apart: five messages
        alerter.submit([incident(k, clock, summary=k)])
        clock.advance(60)
        d = alerter.deliver()
        assert d.sent == 0 and d.last_error
    assert alerter.pending() == 5 and sandbox.messages() == []

    sandbox.clear()
    clock.advance(120)  # past the longest back-off
    assert deliver_all(alerter, clock) == 5

    assert first_lines(sandbox.messages()) == [f"[ecauto] CRITICAL upload-base: {k}" for k in keys]
    assert not list((tmp_path / "outbox").glob("n-*.json"))


def test_deliver_returns_within_its_budget_while_chatwork_hangs(
    tmp_path: Path, sandbox: Sandbox, clock: Clock
) -> None:
    alerter = make(tmp_path / "outbox", sandbox.url, clock, deliver_budget_s=0.5)
    sandbox.fault("hang", seconds=30)
    alerter.submit([incident("hung/upload-base", clock)])
    clock.advance(10)

    began = time.monotonic()
    first = alerter.deliver()
    first_s = time.monotonic() - began
    began = time.monotonic()
    second = alerter.deliver(budget_s=0.2)
    second_s = time.monotonic() - began

    assert first.sent == 0 and first.pending == 1 and "did not answer" in first.last_error
    assert "still waiting" in second.last_error
    # Generous slack for a loaded machine; a blocking client would take the whole 30 s.
    assert first_s < 0.5 + 0.4 and second_s < 0.2 + 0.4

    # When the hang ends (the sandbox drops the held request), the message is sent again, once.
    sandbox.clear()
    clock.advance(120)
    assert deliver_all(alerter, clock) == 1
    assert len(sandbox.messages()) == 1


def test_an_injected_429_is_honoured(tmp_path: Path, sandbox: Sandbox, clock: Clock) -> None:
    alerter = make(tmp_path / "outbox", sandbox.url, clock)
    sandbox.fault("429")
    alerter.submit([incident("hung/upload-base", clock)])
    clock.advance(10)

    refused = alerter.deliver()
    clock.advance(5)
    waiting = alerter.deliver()  # no hint came with it: 10 s before the next try

    assert refused.sent == 0 and "HTTP 429" in refused.last_error
    assert waiting.last_error.startswith("next try in 5 s") and sandbox.requests_made() == 1
    sandbox.clear()
    clock.advance(5)
    assert alerter.deliver().sent == 1 and sandbox.requests_made() == 2


def another_tool_posts(sandbox: Sandbox, n: int) -> None:
    """`n` messages on the alerter's token, as another tool using it would send them."""
    for i in range(n):
        r = requests.post(
            f"{sandbox.url}/v2/rooms/{i % 7}/messages",
            data={"body": f"other {i}"},
            headers={"X-ChatWorkToken": TOKEN},
            timeout=5,
        )
        assert r.status_code == 200


def test_chatworks_headers_hold_the_alerter_before_a_429(
    tmp_path: Path, sandbox: Sandbox, clock: Clock
) -> None:
    # Given another tool on the same token spent 299 of its 300 requests a moment ago
    another_tool_posts(sandbox, 299)
    # (no coalescing: the alerter's clock must stay with the sandbox's for the reset to mean it)
    alerter = make(tmp_path / "outbox", sandbox.url, clock, coalesce_s=0.0)
    alerter.submit([incident("hung/upload-base", clock)])
    assert alerter.deliver().sent == 1  # the last request: x-ratelimit-remaining 0
    # When there is one more alert
    alerter.submit([incident("hung/sync-inventory", clock)])
    held = alerter.deliver()
    # Then it waits for the reset Chatwork announced instead of earning a 429
    assert held.sent == 0 and "no requests left for this token" in held.last_error
    clock.advance(5)
    assert "next try in" in alerter.deliver().last_error
    assert sandbox.requests_made() == 300 and alerter.pending() == 1


def test_a_429_from_chatwork_is_not_tried_again_before_its_reset(
    tmp_path: Path, sandbox: Sandbox, clock: Clock
) -> None:
    # Given another tool on the same token spent all its 300 requests a moment ago
    another_tool_posts(sandbox, 300)
    alerter = make(tmp_path / "outbox", sandbox.url, clock, coalesce_s=0.0)
    alerter.submit([incident("hung/upload-base", clock)])
    refused = alerter.deliver()
    # Then ours is refused, and not tried again before the reset Chatwork announced (~5 min).
    assert "HTTP 429" in refused.last_error and alerter.pending() == 1
    clock.advance(5)
    assert "next try in" in alerter.deliver().last_error
    assert sandbox.requests_made() == 301


class _Refusing(BaseHTTPRequestHandler):
    """Answers 429 with Retry-After once, echoes the token in a 401 once, then 200."""

    answers: list[tuple[int, dict[str, str], str]] = []
    seen: list[str] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append(self.path)
        status, headers, body = self.answers.pop(0) if self.answers else (200, {}, "{}")
        data = body.replace("$TOKEN", self.headers.get("X-ChatWorkToken", "")).encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def refusing() -> Iterator[tuple[str, type[_Refusing]]]:
    handler = type("Handler", (_Refusing,), {"answers": [], "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_retry_after_is_respected(
    tmp_path: Path, clock: Clock, refusing: tuple[str, type[_Refusing]]
) -> None:
    url, handler = refusing
    handler.answers[:] = [(429, {"Retry-After": "42"}, '{"errors":["Rate limit exceeded"]}')]
    alerter = make(tmp_path / "outbox", url, clock)
    alerter.submit([incident("hung/upload-base", clock)])
    clock.advance(10)

    assert "HTTP 429" in alerter.deliver().last_error
    clock.advance(41)
    assert alerter.deliver().last_error.startswith("next try in 1 s")
    assert len(handler.seen) == 1
    clock.advance(1)
    assert alerter.deliver().sent == 1
    assert handler.seen == ["/v2/rooms/7/messages"] * 2


def test_a_message_chatwork_refuses_as_such_is_set_aside_and_the_rest_go(
    tmp_path: Path,
    clock: Clock,
    refusing: tuple[str, type[_Refusing]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, handler = refusing
    handler.answers[:] = [(400, {}, '{"errors":["Parameter [body] is too long"]}')]
    alerter = make(tmp_path / "outbox", url, clock)
    alerter.submit([incident("hung/a", clock)])
    clock.advance(60)
    alerter.submit([incident("hung/b", clock)])
    clock.advance(10)

    d = alerter.deliver()

    assert (d.sent, d.pending) == (1, 0) and len(handler.seen) == 2
    assert [p.name for p in (tmp_path / "outbox").glob("n-*")] == ["n-000000000001.json.rejected"]
    assert any(r.levelno == logging.ERROR and "set aside" in r.getMessage() for r in caplog.records)


def test_the_token_is_never_written_logged_or_shown(
    tmp_path: Path,
    sandbox: Sandbox,
    clock: Clock,
    refusing: tuple[str, type[_Refusing]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url, handler = refusing
    # A server that echoes the token back in its error, the worst case.
    handler.answers[:] = [(401, {}, '{"errors":["bad token $TOKEN"]}')]
    outbox = tmp_path / "outbox"
    shown: list[str] = []
    for base in (url, sandbox.url):
        alerter = make(outbox, base, clock)
        shown.append(repr(alerter.target))
        alerter.submit([incident(f"hung/{len(shown)}", clock, pid="1")])
        clock.advance(130)
        shown += [repr(alerter.deliver()), repr(alerter.deliver())]
    sandbox.fault("down")
    alerter.submit([incident("hung/3", clock)])
    clock.advance(10)
    shown.append(repr(alerter.deliver()))

    assert any("CHATWORK_API_TOKEN" in s for s in shown)  # the 401 was reported...
    assert any("***" in s for s in shown)  # ...with the echoed token masked
    assert len(sandbox.messages()) >= 1
    texts = [caplog.text, *shown, *(r.getMessage() for r in caplog.records)]
    files = [p for p in outbox.rglob("*") if p.is_file()]
    assert files and all(TOKEN.encode() not in p.read_bytes() for p in files)
    assert all(TOKEN not in t for t in texts)
    for record in caplog.records:
        assert record.exc_text is None or TOKEN not in record.exc_text


def test_what_chatwork_says_back_is_redacted_where_the_outbox_keeps_it(
    tmp_path: Path, clock: Clock, refusing: tuple[str, type[_Refusing]]
) -> None:
    """A server may echo any secret of the instance (not only the Chatwork token) and control
    characters; the held reason is kept in the outbox's state file and shown in the report."""
    secret = "lwa-refresh-9d3e7c51aa"
    redact.register([secret])
    url, handler = refusing
    handler.answers[:] = [(401, {}, f'{{"errors":["bad {secret} \\u001b[2J"]}}')]
    outbox = tmp_path / "outbox"
    alerter = make(outbox, url, clock)
    alerter.submit([incident("hung/a", clock)])
    clock.advance(10)

    d = alerter.deliver()

    assert "HTTP 401" in d.last_error and "***" in d.last_error, d
    state = (outbox / "state.json").read_text()
    assert "HTTP 401" in state and "***" in state
    for text in (d.last_error, state):
        assert secret not in text and "\x1b" not in text and "\\u001b" not in text


def test_alerts_off_without_a_target(tmp_path: Path, clock: Clock) -> None:
    alerter = Alerter(tmp_path / "outbox", AlertSettings(), HOST, None, clock)
    alerter.submit([incident("hung/x", clock)])
    d = alerter.deliver()
    assert (d.sent, d.pending, d.last_error) == (0, 0, "alerts not configured")
    assert not (tmp_path / "outbox").exists()
