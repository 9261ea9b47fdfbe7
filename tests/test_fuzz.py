"""The parsers of files someone else could write never crash on garbage: they refuse it cleanly."""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ecauto import config
from ecauto.atomic import read_json_record, read_regular
from ecauto.daemon.heartbeat import Heartbeat, Phase
from ecauto.daemon.lock import LockOwner
from ecauto.quota.rules import BucketState

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda kids: st.one_of(
        st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=10), kids, max_size=4)
    ),
    max_leaves=12,
)

HB_KEYS = list(Heartbeat("n", 1, 1.0, 1.0, 1.0, Phase.WORKING).to_json())
LOCK_KEYS = ["schema", "name", "pid", "create_time", "hostname", "cmdline", "started_at", "home"]


def records(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts over the real keys (so parsing gets past the first check) with any values."""
    return st.dictionaries(st.sampled_from(keys), json_values, max_size=len(keys)).map(
        lambda d: {"schema": 1, **d} if d.get("schema") is None else d
    )


@settings(max_examples=300, deadline=None)
@given(records(HB_KEYS))
def test_heartbeat_parser_refuses_garbage_with_value_error(d: dict[str, Any]) -> None:
    try:
        Heartbeat.from_json(d)
    except ValueError:
        pass


@settings(max_examples=300, deadline=None)
@given(records(LOCK_KEYS))
def test_lock_parser_refuses_garbage_with_value_error(d: dict[str, Any]) -> None:
    try:
        LockOwner.from_json(d)
    except ValueError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_record_reader_refuses_any_bytes_with_value_error(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.json"
        p.write_bytes(raw)
        try:
            assert isinstance(read_json_record(p), dict)
        except ValueError:
            pass


config_keys = st.sampled_from(
    [
        "mode",
        "sandbox",
        "spapi",
        "base",
        "upload",
        "sync",
        "daemon",
        "demo",
        "alerts",
        "watchdog",
        "port",
        "limits",
        "getPricing",
        "rate",
        "burst",
        "ebay",
        "interval_s",
        "hourly_cap",
        "x",
    ]
)
config_docs = st.recursive(
    scalars, lambda kids: st.dictionaries(config_keys, kids, max_size=4), max_leaves=10
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(config_keys, config_docs, max_size=5))
def test_config_parser_refuses_garbage_with_config_error(d: dict[str, Any]) -> None:
    try:
        config.parse(d)
    except config.ConfigError as e:
        assert "\n" not in str(e)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["tat", "inflight", "inflight_until", "header_rate"]), json_values
    )
)
def test_quota_state_reads_anything_as_some_state(d: dict[str, Any]) -> None:
    s = BucketState.from_json(d)
    json.dumps(s.to_json(), allow_nan=False)


def _numbers(cfg: Any) -> list[float]:
    out: list[float] = []
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        items = v.values() if isinstance(v, dict) else [v]
        for item in items:
            if dataclasses.is_dataclass(item):
                out += _numbers(item)
            elif isinstance(item, int | float) and not isinstance(item, bool):
                out.append(item)
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(
        [
            ("watchdog", "interval_s"),
            ("watchdog", "circus_timeout_s"),
            ("sync", "interval_s"),
            ("daemon", "beat_s"),
            ("alerts", "max_outbox"),
            ("sandbox", "seed"),
            ("sandbox", "latency_ms"),
        ]
    ),
    st.one_of(st.floats(), st.integers(min_value=-(2**80), max_value=2**80)),
)
def test_every_number_the_config_accepts_is_finite_and_bounded(
    key: tuple[str, str], value: float
) -> None:
    try:
        cfg = config.parse({key[0]: {key[1]: value}})
    except config.ConfigError as e:
        assert "\n" not in str(e) and key[1] in str(e)
        return
    assert all(abs(n) <= 2**63 for n in _numbers(cfg))
    assert all(n == n and abs(n) != float("inf") for n in _numbers(cfg))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600), st.integers(min_value=1, max_value=200))
def test_tail_reads_at_most_its_bytes_and_whole_lines(raw: bytes, max_bytes: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "e.jsonl"
        p.write_bytes(raw)
        got = read_regular(p, max_bytes, tail=True)
        assert len(got) <= max_bytes and raw.endswith(got)
        if len(raw) > max_bytes and got:
            assert raw[len(raw) - len(got) - 1 : len(raw) - len(got)] == b"\n"
