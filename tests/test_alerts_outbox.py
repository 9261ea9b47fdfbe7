"""The outbox on disk: permissions, damaged files, a full outbox, restarts, and a real restart of
the sandbox process on the same port while alerts wait.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest
from support import (
    TOKEN,
    Clock,
    Reaper,
    Sandbox,
    deliver_all,
    first_lines,
    free_port,
    incident,
    make,
    start_sandbox,
)

from watchdog.alerts.outbox import MAX_FILE_BYTES


def test_files_are_the_owners_only_whatever_the_umask(
    tmp_path: Path, sandbox: Sandbox, clock: Clock
) -> None:
    outbox = tmp_path / "outbox"
    old = os.umask(0)
    try:
        alerter = make(outbox, sandbox.url, clock)
        alerter.submit([incident("hung/a", clock)])
    finally:
        os.umask(old)
    files = list(outbox.iterdir())
    assert {p.name for p in files} == {"n-000000000001.json", "state.json"}
    assert stat.S_IMODE(outbox.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)


def test_damaged_files_are_set_aside_once_and_valid_ones_still_go(
    tmp_path: Path, sandbox: Sandbox, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = tmp_path / "outbox"
    first = make(outbox, sandbox.url, clock)
    first.submit([incident("hung/before", clock, summary="before")])
    valid = (outbox / "n-000000000001.json").read_text()
    # Given garbage of every kind among the queued entries, and a broken state file
    bad = {
        "n-000000000002.json": b"garbage{",
        "n-000000000003.json": valid[: len(valid) // 2].encode(),  # truncated by a crash
        "n-000000000004.json": b" " * (MAX_FILE_BYTES + 1),  # huge
        "n-000000000005.json": json.dumps(
            {"schema": 1, "submitted_at": "x", "notices": []}
        ).encode(),  # wrong types
        "n-000000000006.json": valid.replace('"incident"', '"bogus"').encode(),
        "n-000000000007.json": b"[" * 100_000,  # deep enough to break a recursive parser
        "state.json": b"\x00\xff",
    }
    for name, data in bad.items():
        (outbox / name).write_bytes(data)
    (outbox / "n-000000000008.json").mkdir()  # not a file at all
    clock.advance(60)

    # When a restarted watchdog queues one more and delivers
    caplog.set_level(logging.WARNING)
    second = make(outbox, sandbox.url, clock)
    second.submit([incident("hung/after", clock, summary="after")])
    clock.advance(10)
    assert deliver_all(second, clock) == 2
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    second.deliver()
    again = [r for r in caplog.records if r.levelno == logging.WARNING]

    # Then both valid alerts went, in order; each bad file gave one warning and was moved aside.
    assert first_lines(sandbox.messages()) == [
        "[ecauto] CRITICAL upload-base: before",
        "[ecauto] CRITICAL upload-base: after",
    ]
    assert len(warnings) == len(bad) + 1 and again == warnings
    assert all("set aside" in r.getMessage() for r in warnings)
    left = sorted(p.name for p in outbox.iterdir())
    assert left == sorted(
        [*(f"{n}.corrupt" for n in bad), "n-000000000008.json.corrupt", "state.json"]
    )


def test_a_full_outbox_drops_the_oldest_with_a_warning(
    tmp_path: Path, sandbox: Sandbox, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    alerter = make(tmp_path / "outbox", sandbox.url, clock, max_outbox=3)
    sandbox.fault("down")
    for i in range(5):
        alerter.submit([incident(f"hung/d{i}", clock, summary=f"d{i}")])
        clock.advance(60)
    d = alerter.deliver()
    assert (d.dropped_overflow, d.pending) == (2, 3)
    assert sum("outbox full" in r.getMessage() for r in caplog.records) == 2
    sandbox.clear()
    clock.advance(120)
    assert deliver_all(alerter, clock) == 3
    assert first_lines(sandbox.messages()) == [
        f"[ecauto] CRITICAL upload-base: d{i}" for i in (2, 3, 4)
    ]


def test_chatworks_limits_are_remembered_across_a_restart(
    tmp_path: Path, sandbox: Sandbox, clock: Clock
) -> None:
    # Given the token's 300 requests of 5 minutes sent just now (each its own: no coalescing)
    alerter = make(tmp_path / "outbox", sandbox.url, clock, coalesce_s=0.0)
    for i in range(300):
        alerter.submit([incident(f"hung/d{i}", clock)])
    assert alerter.deliver(budget_s=30).sent == 300
    # When the watchdog restarts and has one more
    restarted = make(tmp_path / "outbox", sandbox.url, clock, coalesce_s=0.0)
    restarted.submit([incident("hung/d300", clock)])
    d = restarted.deliver()
    # Then it waits for the token's window instead of earning a 429
    assert d.sent == 0 and "Chatwork" in d.last_error and "next try in" in d.last_error
    assert sandbox.requests_made() == 300
    assert restarted.pending() == 1


def test_a_disk_that_refuses_writes_delays_durability_not_the_alert(
    tmp_path: Path, sandbox: Sandbox, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    alerter = make(blocker / "outbox", sandbox.url, clock)  # every write fails with ENOTDIR
    for i in range(3):
        alerter.submit([incident(f"hung/d{i}", clock, summary=f"d{i}")])
        clock.advance(60)
    assert alerter.pending() == 3
    assert deliver_all(alerter, clock) == 3
    assert first_lines(sandbox.messages()) == [
        f"[ecauto] CRITICAL upload-base: d{i}" for i in range(3)
    ]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    # One line per kind of trouble, not one per write.
    assert len(warnings) == 3 and any("keeping alerts in memory" in w for w in warnings)


@pytest.mark.process
@pytest.mark.timeout(60)
def test_alerts_wait_out_a_sandbox_restart_on_the_same_port(
    tmp_path: Path, clock: Clock, reaper: Reaper
) -> None:
    port = free_port()
    home = tmp_path / "sandbox-home"
    env = {k: v for k, v in os.environ.items() if k not in ("ECAUTO_CONFIG", "ECAUTO_HOME")}
    url = f"http://127.0.0.1:{port}"

    def start() -> subprocess.Popen[str]:
        return start_sandbox(reaper, tmp_path, env, port, home)

    alerter = make(tmp_path / "outbox", url, clock)
    keys = [f"hung/d{i}" for i in range(5)]
    proc = start()
    try:
        for k in keys[:2]:
            alerter.submit([incident(k, clock, summary=k)])
            clock.advance(10)
            assert alerter.deliver().sent == 1

        # Given the sandbox (Chatwork) goes away while three more incidents happen
        proc.terminate()
        proc.wait(timeout=20)
        for k in keys[2:]:
            alerter.submit([incident(k, clock, summary=k)])
            clock.advance(60)
            d = alerter.deliver()
            assert d.sent == 0 and "connection refused" in d.last_error
        assert alerter.pending() == 3

        # When it is back on the same port
        proc = start()
        clock.advance(120)
        began = time.monotonic()
        sent = deliver_all(alerter, clock)
        took = time.monotonic() - began
    finally:
        reaper.reap()

    # Then all five are in its journal once each, in order
    journal = home / "sandbox" / "chatwork.jsonl"
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert sent == 3 and took < 10
    assert [m["body"].splitlines()[0] for m in lines] == [
        f"[ecauto] CRITICAL upload-base: {k}" for k in keys
    ]
    assert TOKEN.encode() not in journal.read_bytes()
