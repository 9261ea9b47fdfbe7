"""The pure parts of alerting: message text, dedupe, coalescing, rate windows, back-off, answers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC
from itertools import accumulate

import pytest

from watchdog.alerts import policy
from watchdog.alerts.chatwork import Outcome, classify, retry_after_s
from watchdog.alerts.compose import MAX_BODY_CHARS, compose
from watchdog.alerts.outbox import Entry
from watchdog.alerts.policy import AlertState
from watchdog.notices import Notice

T0 = 1_800_000_000.0
UTC = UTC


def notice(
    key: str = "hung/upload-base",
    kind: str = "incident",
    severity: str = "critical",
    daemon: str | None = "upload-base",
    summary: str = "stopped beating",
    action: str = "",
    details: dict[str, str] | None = None,
    at: float = T0,
) -> Notice:
    return Notice(key, kind, severity, daemon, summary, action, details or {}, at)


# -- composition ----------------------------------------------------------------------------------

DUP = notice(
    "dup/sync-inventory",
    daemon="sync-inventory",
    summary="two copies running",
    action="stopped the newer copy (pid 5678)",
    details={"pids": "1234, 5678", "heartbeat age": "95 s", "last error": "BASE: HTTP 500"},
)


@pytest.mark.parametrize(
    ("notices", "first_line", "in_body"),
    [
        (
            [DUP],
            "[ecauto] CRITICAL sync-inventory: two copies running",
            [
                "[info][title]sync-inventory on shop-pc[/title]",
                "done: stopped the newer copy",
                "pids: 1234, 5678",
                "heartbeat age: 95 s",
                "last error: BASE: HTTP 500",
                "at: 2027-01-15 08:00:00 UTC",
            ],
        ),
        (
            [notice(kind="recovery", severity="warning", summary="beating again")],
            "[ecauto] RECOVERED upload-base: beating again",
            ["upload-base on shop-pc"],
        ),
        (
            [notice("circusd_down/-", daemon=None, summary="circusd is not running")],
            "[ecauto] CRITICAL circusd is not running",
            ["[title]on shop-pc[/title]"],
        ),
        ([notice(severity="warning", summary="slow")], "[ecauto] WARNING upload-base: slow", []),
        # Given out of order, listed oldest first; the worst severity leads.
        (
            [
                notice("b", severity="warning", summary="second", at=T0 + 1),
                notice("a", daemon=None, summary="circusd is not running", at=T0),
                notice(
                    "c", kind="recovery", severity="warning", daemon="sync", summary="ok", at=T0 + 2
                ),
            ],
            "[ecauto] CRITICAL 2 problems, 1 recovered: circusd is not running; "
            "upload-base: second; sync: ok",
            ["3 alerts on shop-pc, oldest first", "[hr]WARNING upload-base: second"],
        ),
        (
            [notice("a", kind="recovery"), notice("b", kind="recovery", at=T0 + 1)],
            "[ecauto] RECOVERED 2 recovered: upload-base: stopped beating; "
            "upload-base: stopped beating",
            [],
        ),
    ],
)
def test_compose(notices: list[Notice], first_line: str, in_body: list[str]) -> None:
    text = compose(notices, "shop-pc", UTC)
    assert text.splitlines()[0] == first_line
    assert text.count("[info]") == 1 and text.endswith("[/info]")
    for part in in_body:
        assert part in text


def test_compose_defuses_chatwork_tags_in_daemon_text() -> None:
    evil = notice(summary="bad [/info][toall] x", details={"last error": "[To:123] [code]y"})
    text = compose([evil], "pc", UTC)
    assert text.count("[/info]") == 1 and "[toall]" not in text and "[To:123]" not in text
    assert "[Errno 111]" in compose([notice(summary="[Errno 111] refused")], "pc", UTC)


@pytest.mark.parametrize("count", [1, 10, 200])
def test_compose_stays_short_enough_for_chatwork(count: int) -> None:
    long = {f"detail {i}": "x" * 400 for i in range(8)}
    notices = [notice(f"k{i}", summary="y" * 400, details=long, at=T0 + i) for i in range(count)]
    text = compose(notices, "pc", UTC)
    assert len(text) <= MAX_BODY_CHARS and text.endswith("[/info]")
    assert len(text.splitlines()[0]) <= 160
    if count > 1:
        assert "more" in text or "+ CRITICAL" in text


# -- dedupe ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "window", "expected"),
    [
        # (time, key, kind) -> kept?
        ([(0, "a", "incident"), (60, "a", "incident")], 1800, [True, False]),
        (
            [(0, "a", "incident"), (1799, "a", "incident"), (1800, "a", "incident")],
            1800,
            [True, False, True],
        ),
        (
            [(0, "a", "incident"), (1, "a", "recovery"), (2, "b", "incident")],
            1800,
            [True, True, True],
        ),
        ([(0, "a", "incident"), (0, "a", "incident")], 1800, [True, False]),
        ([(0, "a", "incident"), (0, "a", "incident")], 0, [True, True]),
        # The clock stepped back an hour: the stamp "from the future" must not mute the incident.
        ([(3600, "a", "incident"), (0, "a", "incident")], 1800, [True, True]),
    ],
)
def test_dedupe(steps: list[tuple[float, str, str]], window: float, expected: list[bool]) -> None:
    state = AlertState()
    kept_flags = []
    for t, key, kind in steps:
        kept, dropped, state = policy.dedupe([notice(key, kind)], state, T0 + t, window)
        kept_flags.append(bool(kept))
        assert len(kept) + len(dropped) == 1
    assert kept_flags == expected


# -- coalescing -----------------------------------------------------------------------------------


def entries(*times: float, sizes: list[int] | None = None) -> list[Entry]:
    sizes = sizes or [1] * len(times)
    return [
        Entry(i + 1, T0 + t, tuple(notice(f"k{i}-{j}") for j in range(n)))
        for i, (t, n) in enumerate(zip(times, sizes, strict=True))
    ]


@pytest.mark.parametrize(
    ("times", "sizes", "now", "flush", "expected"),
    [
        ([], None, 0, False, None),
        ([0], None, 5, False, None),  # still inside its window: more may join
        ([0], None, 10, False, [1]),
        ([0, 4, 8], None, 17, False, None),  # each within 10 s of the last: still open
        ([0, 4, 8], None, 18, False, [1, 2, 3]),
        ([0, 4, 30], None, 30, False, [1, 2]),  # a later entry closes the group at once
        ([0], None, 1, True, [1]),
        ([0, 8, 16, 24, 32, 40, 48, 56, 64], None, 60, False, [1, 2, 3, 4, 5, 6, 7, 8]),
        ([0, 1, 2], [6, 4, 3], 100, False, [1, 2]),  # at most 10 notices a message
        ([0, 1], [15, 1], 100, False, [1]),  # one big submit still goes, alone
        ([3600], None, 0, False, [1]),  # clock stepped back: do not wait for it
    ],
)
def test_next_group(
    times: list[float], sizes: list[int] | None, now: float, flush: bool, expected: list[int] | None
) -> None:
    group = policy.next_group(entries(*times, sizes=sizes), T0 + now, 10.0, flush)
    assert (None if group is None else [e.seq for e in group]) == expected


def test_next_group_without_coalescing_sends_each_submit_alone() -> None:
    group = policy.next_group(entries(0, 0), T0, 0.0)
    assert group is not None and [e.seq for e in group] == [1]


# -- rate limits ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stamps", "limit", "window", "now", "wait"),
    [
        ([], 10, 10, 0, 0),
        ([0] * 9, 10, 10, 0, 0),
        ([0] * 10, 10, 10, 0, 10),
        ([0] * 10, 10, 10, 9.5, 0.5),
        ([0] * 10, 10, 10, 10, 0),
        ([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 10, 10, 9, 1),
        ([0, 0, 0, 5, 5], 3, 10, 6, 4),  # three must leave; the last of them at 10
        ([100] * 10, 10, 10, 95, 15),  # stamps ahead of now (clock stepped back a little)
        ([1000] * 10, 10, 10, 0, 0),  # far ahead: forgotten, not a wait of 1000 s
    ],
)
def test_window_wait(
    stamps: list[float], limit: int, window: float, now: float, wait: float
) -> None:
    assert policy.window_wait_s(stamps, limit, window, now) == pytest.approx(wait)


def test_a_room_has_no_limit_of_its_own() -> None:
    # Chatwork documents none (only the token's 300 per 5 minutes): eleven at once all go.
    state = AlertState()
    for i in range(11):
        assert policy.send_wait(state, T0 + i * 0.1)[0] == 0
        state = policy.record_request(state, T0 + i * 0.1)


def test_three_hundred_requests_per_token_in_five_minutes() -> None:
    state = AlertState()
    for i in range(300):
        state = policy.record_request(state, T0 + i * 0.5)
    wait, why = policy.send_wait(state, T0 + 150)
    # 5 minutes plus the margin for our stamp being earlier than Chatwork's.
    assert wait == pytest.approx(151.0) and "300 requests per 5 min" in why
    assert policy.send_wait(state, T0 + 301.0)[0] == 0


@pytest.mark.parametrize(
    ("headers", "hold"),
    [
        ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(T0) + 42)}, 42.0),
        ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(T0))}, 1.0),  # at least 1 s
        ({"x-ratelimit-remaining": "5", "x-ratelimit-reset": str(int(T0) + 42)}, 0.0),
        ({"x-ratelimit-remaining": "0"}, 0.0),  # no reset: our own window decides
        ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "soon"}, 0.0),
        ({}, 0.0),
    ],
)
def test_an_answer_with_no_requests_left_holds_until_its_reset(
    headers: dict[str, str], hold: float
) -> None:
    # Other users of the same token count too: Chatwork's headers know, our window does not.
    outcome = classify(200, headers, "", T0)
    assert outcome.sent
    state = policy.after(AlertState(failures=2), outcome, T0)
    wait, why = policy.send_wait(state, T0)
    assert wait == pytest.approx(hold) and state.failures == 0
    if hold:
        assert "no requests left for this token" in why


@pytest.mark.parametrize(
    ("failures", "expected"), [(1, 5), (2, 10), (3, 20), (5, 80), (6, 120), (60, 120)]
)
def test_backoff(failures: int, expected: float) -> None:
    assert policy.backoff_s(failures, 5.0, 120.0) == expected


def test_a_flapping_chatwork_never_holds_alerts_past_half_a_minute() -> None:
    # Chatwork failing every try for an hour: each next try is at most 30 s away, so an alert
    # goes at most 30 s after Chatwork is back, and the retries cost 10 of 300 requests per 5 min.
    s, now, waits = AlertState(), T0, []
    for _ in range(120):
        s = policy.after(s, Outcome(500, "Chatwork: HTTP 500"), now)
        waits.append(s.hold_until - now)
        now = s.hold_until
    assert waits[:4] == [5, 10, 20, 30] and max(waits) == 30
    assert sum(1 for t in accumulate(waits) if t <= 300) == 11  # 5, 15, 35, 65 ... 275 s


def test_after_outcomes() -> None:
    s = AlertState()
    s = policy.after(s, Outcome(None, "Chatwork: cannot connect"), T0)
    assert (s.failures, s.hold_until, s.hold_reason) == (1, T0 + 5, "Chatwork: cannot connect")
    s = policy.after(s, Outcome(500, "Chatwork: HTTP 500"), T0 + 5)
    assert (s.failures, s.hold_until) == (2, T0 + 15)
    s = policy.after(s, Outcome(429, "Chatwork: HTTP 429"), T0 + 15)
    assert s.hold_until == T0 + 15 + 40  # 10 s doubled for the third failure in a row
    s = policy.after(s, Outcome(429, "Chatwork: HTTP 429", retry_after_s=3.0), T0 + 60)
    assert s.hold_until == T0 + 63
    assert policy.after(s, Outcome(400, "bad"), T0 + 70) == s
    assert policy.after(s, Outcome(200), T0 + 70) == replace(
        s, hold_until=0.0, hold_reason="", failures=0
    )


# -- Chatwork's answers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after": "99999"}, 3600.0),
        ({"retry-after": "Fri, 15 Jan 2027 08:00:30 GMT"}, 30.0),
        ({"retry-after": "soon"}, None),
        ({"x-ratelimit-reset": str(int(T0 + 12))}, 12.0),
        ({"x-ratelimit-reset": "12"}, None),  # not an epoch second: ignored
        ({"retry-after": "2", "x-ratelimit-reset": str(int(T0 + 12))}, 2.0),
    ],
)
def test_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_s(headers, T0) == expected


@pytest.mark.parametrize(
    ("status", "text", "sent", "throttled", "rejected", "error_has"),
    [
        (200, '{"message_id":"1"}', True, False, False, ""),
        (429, '{"errors":["Rate limit exceeded"]}', False, True, False, "Rate limit exceeded"),
        (400, '{"errors":["Parameter [body] is required"]}', False, False, True, "body"),
        (401, '{"errors":["Invalid API token"]}', False, False, False, "CHATWORK_API_TOKEN"),
        (404, "", False, False, False, "CHATWORK_ROOM_ID"),
        (500, "<html>oops</html>", False, False, False, "HTTP 500"),
    ],
)
def test_classify(
    status: int, text: str, sent: bool, throttled: bool, rejected: bool, error_has: str
) -> None:
    out = classify(status, {"Retry-After": "4"}, text, T0)
    assert (out.sent, out.throttled, out.rejected) == (sent, throttled, rejected)
    assert error_has in out.error and "\n" not in out.error
    assert out.retry_after_s == (4.0 if status == 429 else None)


def test_an_incident_that_recovered_and_came_back_is_alerted_again() -> None:
    from watchdog.alerts.policy import AlertState, dedupe
    from watchdog.notices import Notice

    def n(kind: str, at: float) -> Notice:
        return Notice("hung/upload-base", kind, "warning", "upload-base", "hung", "", {}, at)

    state, sent = AlertState(), []
    for i, kind in enumerate(
        ["incident", "recovery", "incident", "recovery", "incident", "incident"]
    ):
        kept, _, state = dedupe([n(kind, 600.0 * i)], state, 600.0 * i, window_s=1800)
        sent += [k.kind for k in kept]
    # the last repeat (no recovery in between, within the window) is the only one held back
    assert sent == ["incident", "recovery", "incident", "recovery", "incident"]
