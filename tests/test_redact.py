"""The one redaction (pure): every form a secret can take in a message is masked."""

from __future__ import annotations

import json
import urllib.parse

import pytest

from ecauto import redact
from ecauto.records import one_line
from watchdog.alerts.compose import plain
from watchdog.sandbox_port import check
from watchdog.snapshot import PortView

SECRET = "tok\x01en-\n-9c2e7a41"
redact.register([SECRET, "short"])


@pytest.mark.parametrize(
    "shown",
    [
        SECRET,
        repr(SECRET),
        repr(repr(SECRET)),
        repr(repr(repr(repr(SECRET)))),
        json.dumps(SECRET),
        json.dumps(json.dumps(SECRET)),
        urllib.parse.quote(SECRET, safe=""),
        urllib.parse.quote_plus(SECRET).lower(),
        one_line(SECRET),
    ],
)
def test_every_form_of_a_secret_is_masked(shown: str) -> None:
    out = redact.scrub(f"error: {shown}; more")
    assert "9c2e7a41" not in out and "***" in out
    assert out.startswith("error: ") and out.endswith("; more")


def test_control_characters_are_escaped_and_short_values_are_not_secrets() -> None:
    assert redact.scrub("a\x02b\nc") == "a\\x02b\\x0ac"
    assert redact.scrub("a\x02b\nc", multiline=True) == "a\\x02b\nc"
    assert redact.scrub("a short word") == "a short word"  # under MIN_SECRET_CHARS: not masked
    assert redact.scrub_tree({"k": [SECRET, 3, None]}) == {"k": ["***", 3, None]}
    assert "9c2e7a41" not in plain(f"[info]{SECRET}")


def test_a_token_store_record_is_registered() -> None:
    redact.register_tokens({"access_token": "Atza|fresh-4d1e0b", "refresh_token": None})
    assert redact.scrub("Bearer Atza|fresh-4d1e0b") == "Bearer ***"


@pytest.mark.parametrize(
    ("view", "mode", "kinds"),
    [
        (None, "sandbox", []),
        (PortView(8765, False), "sandbox", []),
        (PortView(8765, True, "pid 4242 (python3)", "no proof"), "live", []),
        (PortView(8765, True, "pid 4242 (python3)", "no proof"), "sandbox", ["sandbox_port"]),
        (PortView(8765, True, "", "no proof"), "sandbox", ["sandbox_port"]),
    ],
)
def test_the_sandbox_port_check(view: PortView | None, mode: str, kinds: list[str]) -> None:
    found = check(view, mode)
    assert [f.kind.value for f in found] == kinds
    for f in found:
        assert f.severity.value == "critical"
        assert f.summary.startswith("the sandbox's port 8765 is taken by another program (")
