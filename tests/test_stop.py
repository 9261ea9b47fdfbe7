"""Stopping a daemon under a real circusd: circusd's before_signal hook writes a stop request in
place of SIGTERM (on Windows SIGTERM is TerminateProcess, which no handler sees), and the daemon
finishes its unit of work, writes its `stopping` heartbeat, releases its lock and exits 0.
"""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
from support import REPO, Instance, Reaper, read_hb, sandbox_headers, wait_for

pytestmark = [pytest.mark.process, pytest.mark.timeout(150)]

GRACE_S = 20  # upload-base's graceful_timeout in these tests: a SIGKILL would come this late


def journal(inst: Instance, watcher: str) -> list[dict[str, Any]]:
    path = inst.home / "circus" / "journal.jsonl"
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return [e for e in rows if e["watcher"] == watcher]


def reap_of(inst: Instance, watcher: str, pid: int) -> dict[str, Any] | None:
    return next(
        (e for e in journal(inst, watcher) if e["event"] == "reap" and e["pid"] == pid), None
    )


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def ignores_sigterm(pid: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


def deaf_and_patient(text: str) -> str:
    """upload-base runs tests/deaf_daemon.py (SIGTERM ignored) with a known graceful_timeout."""
    text = text.replace(
        "-m ecauto.daemons.upload --platform base",
        f"{REPO / 'tests' / 'deaf_daemon.py'} --platform base",
    )
    head, sep, rest = text.partition("[watcher:upload-base]")
    rest = re.sub(r"(?m)^graceful_timeout = .*$", f"graceful_timeout = {GRACE_S}", rest, count=1)
    return head + sep + rest


@pytest.fixture
def inst(tmp_path: Path, reaper: Reaper) -> Iterator[Instance]:
    # No watchdog loop: what is measured here is circusd and the daemon, nobody else acting.
    with Instance(tmp_path, reaper, watchdog=False) as i:
        yield i


@pytest.fixture
def deaf(tmp_path: Path, reaper: Reaper) -> Iterator[Instance]:
    with Instance(tmp_path, reaper, watchdog=False, ini_edit=deaf_and_patient) as i:
        yield i


def stop_and_wait(inst: Instance, watcher: str, pid: int, timeout: float) -> float:
    started = time.monotonic()
    res = inst.circusctl("stop", watcher)
    assert res.returncode == 0, res.stdout + res.stderr
    wait_for(lambda: gone(pid), timeout, f"{watcher} pid {pid} to exit")
    took = time.monotonic() - started
    wait_for(lambda: inst.status(watcher) == "stopped", 10, f"{watcher} stopped")
    return took


def test_circusctl_stop_is_a_request_the_daemon_honours(inst: Instance) -> None:
    # Given upload-base running, its stop request armed
    pid = inst.pid("upload-base")
    armed = inst.home / "circus" / "upload-base.stop.json"
    wait_for(lambda: armed.exists(), 10, "the armed stop record")
    assert oct(armed.stat().st_mode & 0o777) == "0o600"
    # When the operator stops it
    took = stop_and_wait(inst, "upload-base", pid, 15)
    # Then it left on the request, cleanly: exit 0, a stopping heartbeat, no lock, no record
    reap = wait_for(lambda: reap_of(inst, "upload-base", pid), 10, "the reap in the journal")
    assert (reap["exit_code"], reap["by"]) == (0, "request"), reap
    asked = [e for e in journal(inst, "upload-base") if e["event"] == "stop_request"]
    assert [e["pid"] for e in asked] == [pid]
    hb = read_hb(inst.home, "upload-base")
    assert hb is not None and hb.pid == pid and hb.phase == "stopping"
    assert not (inst.home / "locks" / "upload-base.lock").exists()
    assert not armed.exists()
    log = (inst.home / "log" / "upload-base.log").read_text()
    assert f"upload-base[{pid}] stop requested by=circusd" in log
    assert f"upload-base[{pid}] stopped exit=0" in log
    assert took < 10, f"took {took:.1f} s, graceful_timeout is 30 s"  # no SIGKILL waited for
    # And a start brings it back with a new record of its own, which a new stop finds
    assert inst.circusctl("start", "upload-base").returncode == 0
    new = inst.replaced("upload-base", pid)
    wait_for(lambda: json.loads(armed.read_text())["pid"] == new, 10, "the new armed record")


def test_a_daemon_deaf_to_sigterm_still_stops_gracefully(deaf: Instance) -> None:
    # Given upload-base ignoring SIGTERM, as a Windows process cannot handle it
    pid = deaf.pid("upload-base")
    assert ignores_sigterm(pid)
    # When it is stopped, then restarted
    took = stop_and_wait(deaf, "upload-base", pid, GRACE_S + 10)
    # Then it left on the request, at once, exit 0 (a SIGTERM would have left it to SIGKILL
    # at the end of graceful_timeout: exit -9 after 20 s)
    reap = wait_for(lambda: reap_of(deaf, "upload-base", pid), 10, "the reap in the journal")
    assert (reap["exit_code"], reap["by"]) == (0, "request"), reap
    assert took < GRACE_S / 2, f"took {took:.1f} s"
    hb = read_hb(deaf.home, "upload-base")
    assert hb is not None and hb.pid == pid and hb.phase == "stopping"
    assert not (deaf.home / "locks" / "upload-base.lock").exists()


def test_a_restart_and_a_quit_go_through_the_request_too(deaf: Instance) -> None:
    pid = deaf.pid("upload-base")
    assert deaf.circusctl("restart", "upload-base").returncode == 0
    new = deaf.replaced("upload-base", pid, timeout=GRACE_S / 2)
    assert (reap_of(deaf, "upload-base", pid) or {}).get("exit_code") == 0
    assert deaf.circusctl("quit").returncode == 0
    assert deaf.circusd is not None
    started = time.monotonic()
    deaf.circusd.wait(timeout=GRACE_S + 20)
    assert time.monotonic() - started < GRACE_S / 2
    reap = reap_of(deaf, "upload-base", new)
    assert reap is not None and (reap["exit_code"], reap["by"]) == (0, "quit"), reap


def test_a_daemon_mid_call_finishes_it_then_leaves(inst: Instance) -> None:
    # Given the sync inside a slow SP-API call (the sandbox holds each answer 3 s)
    requests.post(
        f"{inst.sandbox_url}/_sandbox/faults",
        json={"endpoint": "spapi", "mode": "slow", "seconds": 120, "delay_s": 3},
        headers=sandbox_headers(inst.home),
        timeout=5,
    ).raise_for_status()
    old = inst.pid("sync-inventory")
    assert inst.circusctl("restart", "sync-inventory").returncode == 0
    pid = inst.replaced("sync-inventory", old, timeout=30)
    wait_for(
        lambda: (hb := read_hb(inst.home, "sync-inventory")) and hb.phase == "working",
        20,
        "the sync at work",
    )
    # When it is stopped
    started = time.monotonic()
    assert inst.circusctl("stop", "sync-inventory").returncode == 0
    # Then it finishes the call in hand first, and leaves cleanly
    time.sleep(0.5)  # a deadline, not a wait: it must still be there half a second later
    assert not gone(pid), "left in the middle of its call"
    wait_for(lambda: gone(pid), 15, "the sync to exit")
    reap = wait_for(lambda: reap_of(inst, "sync-inventory", pid), 10, "the reap")
    assert (reap["exit_code"], reap["by"]) == (0, "request"), reap
    assert time.monotonic() - started < 15
    hb = read_hb(inst.home, "sync-inventory")
    assert hb is not None and hb.pid == pid and hb.phase == "stopping"
    assert not (inst.home / "locks" / "sync-inventory.lock").exists()


def test_a_death_by_circusctl_signal_is_counted_as_requested(inst: Instance) -> None:
    # Given upload-ebay running
    pid = inst.pid("upload-ebay")
    # When someone sends it a signal through circusd
    res = inst.circusctl("signal", "upload-ebay", "KILL")
    assert res.returncode == 0, res.stdout + res.stderr
    new = inst.replaced("upload-ebay", pid)
    # Then the death is theirs, not the daemon's (and the signal did go: -9)
    reap = wait_for(lambda: reap_of(inst, "upload-ebay", pid), 10, "the reap")
    assert (reap["exit_code"], reap["by"]) == (-9, "request"), reap
    # And a death nobody asked for still counts as one
    psutil.Process(new).kill()
    inst.replaced("upload-ebay", new)
    reap = wait_for(lambda: reap_of(inst, "upload-ebay", new), 10, "the second reap")
    assert (reap["exit_code"], reap.get("by")) == (-9, None), reap


def test_stopping_the_sandbox_still_signals_it(inst: Instance) -> None:
    """The sandbox keeps no stop record: it gets SIGTERM as before, not a 10 s wait."""
    pid = inst.pid("sandbox")
    took = stop_and_wait(inst, "sandbox", pid, 15)
    reap = wait_for(lambda: reap_of(inst, "sandbox", pid), 10, "the reap")
    assert not [e for e in journal(inst, "sandbox") if e["event"] == "stop_request"]
    assert reap["by"] == "request"
    assert took < 5
