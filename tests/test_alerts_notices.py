"""Notices and the Chatwork target: JSON round trips, garbage refused cleanly, env parsing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ecauto import config
from ecauto.config import AlertSettings, ConfigError
from watchdog.alerts import ChatworkTarget, not_configured, target_from_env
from watchdog.alerts.chatwork import LIVE_API_URL, SANDBOX_ROOM, SANDBOX_TOKEN
from watchdog.alerts.policy import AlertState
from watchdog.notices import Notice

N = Notice(
    key="dup/sync-inventory",
    kind="incident",
    severity="critical",
    daemon="sync-inventory",
    summary="two copies running",
    action="stopped the newer copy (pid 5678)",
    details={"pids": "1234, 5678", "last error": "BASE: HTTP 500"},
    at=1_800_000_000.5,
)


def test_notice_round_trip_through_json_text() -> None:
    for n in (
        N,
        Notice("circusd_down/-", "recovery", "warning", None, "circusd is back", "", {}, 1.0),
    ):
        assert Notice.from_json(json.loads(json.dumps(n.to_json()))) == n
    assert N.to_json()["schema"] == 1


def _with(**change: Any) -> dict[str, Any]:
    d = N.to_json()
    for k, v in change.items():
        if v is ...:
            del d[k]
        else:
            d[k] = v
    return d


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ([1, 2], "JSON object"),
        ("x", "JSON object"),
        (None, "JSON object"),
        (_with(schema=2), "unknown schema"),
        (_with(schema="1"), "wrong type"),
        (_with(key=...), "missing field 'key'"),
        (_with(key=""), "needs a key"),
        (_with(kind="panic"), "unknown notice kind"),
        (_with(severity="fatal"), "unknown notice severity"),
        (_with(at="soon"), "wrong type"),
        (_with(at=float("inf")), "finite"),
        (_with(at=True), "wrong type"),
        (_with(details=["pid", "1"]), "wrong type"),
        (_with(details={"pid": 1234}), "wrong type"),
        (_with(details={f"k{i}": "v" for i in range(40)}), "too many"),
        (_with(summary="x" * 5000), "too long"),
        (_with(daemon=3), "wrong type"),
    ],
)
def test_garbage_notices_are_a_value_error(data: Any, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        Notice.from_json(data)


def test_a_typo_in_the_caller_fails_where_it_is_made() -> None:
    with pytest.raises(ValueError, match="kind"):
        Notice("k", "incidnet", "critical", None, "s", "", {}, 0.0)
    with pytest.raises(ValueError, match="details"):
        Notice("k", "incident", "critical", None, "s", "", {"pid": 1}, 0.0)  # type: ignore[dict-item]


def test_alert_state_round_trip_and_garbage() -> None:
    state = AlertState(
        recent=(("hung/x", "incident", 5.0),),
        token_requests=(1.0,),
        hold_until=9.5,
        hold_reason="HTTP 429",
        failures=2,
    )
    assert AlertState.from_json(json.loads(json.dumps(state.to_json()))) == state
    for bad in (
        {"schema": 1},
        dict(state.to_json(), recent=[["a", "b"]]),
        dict(state.to_json(), token_requests=["x"]),
        dict(state.to_json(), failures="2"),
        dict(state.to_json(), recent=[[1, "incident", 2.0]]),
    ):
        with pytest.raises(ValueError):
            AlertState.from_json(bad)


SANDBOX = "http://127.0.0.1:8765"


@pytest.mark.parametrize(
    ("env", "mode", "expected", "why"),
    [
        ({}, "sandbox", ChatworkTarget(f"{SANDBOX}/v2", SANDBOX_ROOM, SANDBOX_TOKEN), None),
        (
            {"CHATWORK_ROOM_ID": "42"},
            "sandbox",
            ChatworkTarget(f"{SANDBOX}/v2", "42", SANDBOX_TOKEN),
            None,
        ),
        (  # the sandbox never gets the real token
            {"CHATWORK_API_TOKEN": "real-token", "CHATWORK_ROOM_ID": "42"},
            "sandbox",
            ChatworkTarget(f"{SANDBOX}/v2", "42", SANDBOX_TOKEN),
            None,
        ),
        (  # sent elsewhere on purpose: the token goes with it
            {"CHATWORK_API_TOKEN": "t", "CHATWORK_API_URL": "http://127.0.0.1:9/v2"},
            "sandbox",
            ChatworkTarget("http://127.0.0.1:9/v2", SANDBOX_ROOM, "t"),
            None,
        ),
        (
            {"CHATWORK_API_TOKEN": "t", "CHATWORK_ROOM_ID": "42"},
            "live",
            ChatworkTarget(LIVE_API_URL, "42", "t"),
            None,
        ),
        (
            {
                "CHATWORK_API_TOKEN": "t",
                "CHATWORK_ROOM_ID": "42",
                "CHATWORK_API_URL": "http://127.0.0.1:9/v2/",
            },
            "live",
            ChatworkTarget("http://127.0.0.1:9/v2", "42", "t"),
            None,
        ),
        ({}, "live", None, "alerts not configured: CHATWORK_API_TOKEN is not set"),
        (
            {"CHATWORK_API_TOKEN": "  "},
            "live",
            None,
            "alerts not configured: CHATWORK_API_TOKEN is not set",
        ),
        (
            {"CHATWORK_API_TOKEN": "t"},
            "live",
            None,
            "alerts not configured: CHATWORK_ROOM_ID is not set",
        ),
        (
            {"CHATWORK_API_TOKEN": "t", "CHATWORK_ROOM_ID": "../1"},
            "live",
            None,
            "alerts not configured: CHATWORK_ROOM_ID must be a number",
        ),
        (
            {"CHATWORK_API_TOKEN": "t", "CHATWORK_ROOM_ID": "1", "CHATWORK_API_URL": "ftp://x"},
            "live",
            None,
            "alerts not configured: CHATWORK_API_URL must start with https://",
        ),
    ],
)
def test_target_from_env(
    env: dict[str, str], mode: str, expected: ChatworkTarget | None, why: str | None
) -> None:
    assert target_from_env(env, mode, SANDBOX) == expected
    assert not_configured(env, mode) == why


def test_the_token_stays_out_of_the_repr() -> None:
    target = ChatworkTarget("https://api.chatwork.com/v2", "42", "s3cr3t-token")
    assert "s3cr3t" not in repr(target) and "s3cr3t" not in str(target)
    assert target.scrub("header said s3cr3t-token") == "header said ***"


def test_alert_settings_come_from_the_config_file_but_never_the_token() -> None:
    assert config.Config().alerts == AlertSettings(
        dedupe_window_s=1800.0,
        coalesce_s=10.0,
        timeout_s=10.0,
        deliver_budget_s=2.0,
        max_outbox=1000,
    )
    cfg = config.parse({"alerts": {"coalesce_s": 0, "max_outbox": 50}})
    assert (cfg.alerts.coalesce_s, cfg.alerts.max_outbox) == (0.0, 50)
    with pytest.raises(ConfigError, match="alerts.deliver_budget_s must be a number greater"):
        config.parse({"alerts": {"deliver_budget_s": 0}})
    with pytest.raises(ConfigError, match="unknown key 'alerts.token'"):
        config.parse({"alerts": {"token": "x"}})
