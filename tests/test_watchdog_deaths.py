"""Every death circusd sees, counted and told apart from what the operator asked for: a real
circusd running the repo's circus.ini (with its journal hooks) in a temp home, real daemons,
`watchdog scan`/`report` as the operator runs them, alerts at the sandbox's Chatwork.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from support import Instance, Reaper, sandbox_headers, wait_for

pytestmark = [pytest.mark.process, pytest.mark.timeout(180)]

# Fast passes; the crash-loop hook's defaults (5 deaths, each under 10 s, within 120 s).
SETTINGS = """
[watchdog]
interval_s = 1
min_grace_s = 30
start_grace_s = 15
copy_settle_s = 1
restart_backoff_s = 0
recovery_s = 1

[alerts]
coalesce_s = 0
"""

BAD = "--platform ebay --no-such-option"


def bad_ebay(text: str) -> str:
    """upload-ebay's command gets an argument it refuses: it exits 2 at once, every time."""
    return text.replace("--platform ebay", BAD)


def watchdog(inst: Instance, *args: str) -> tuple[int, dict[str, Any]]:
    return inst.watchdog(*args)


def report_text(inst: Instance) -> str:
    """`watchdog report` as the operator reads it."""
    return inst.watchdog_text("report").stdout


def row(rep: dict[str, Any], name: str) -> dict[str, Any]:
    return next(d for d in rep["daemons"] if d["name"] == name)


def journal(inst: Instance) -> list[dict[str, Any]]:
    path = inst.home / "circus" / "journal.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def events(inst: Instance) -> list[dict[str, Any]]:
    path = inst.home / "watchdog" / "events.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def chatwork(inst: Instance) -> list[str]:
    got = requests.get(
        f"{inst.sandbox_url}/_sandbox/chatwork", headers=sandbox_headers(inst.home), timeout=5
    ).json()
    return [str(m["body"]) for m in got]


@pytest.fixture
def crashing(tmp_path: Path, reaper: Reaper) -> Iterator[Instance]:
    inst = Instance(tmp_path, reaper, config_extra=SETTINGS, ini_edit=bad_ebay, watchdog=False)
    try:
        inst.start(wait=[w for w in inst.watchers if w != "upload-ebay"])
        yield inst
    finally:
        inst.stop()


@pytest.fixture
def inst(tmp_path: Path, reaper: Reaper) -> Iterator[Instance]:
    i = Instance(tmp_path, reaper, config_extra=SETTINGS, watchdog=False)
    try:
        i.start()
        yield i
    finally:
        i.stop()


def test_a_daemon_that_exits_at_once_is_stopped_by_circusd_and_alerted_once(
    crashing: Instance,
) -> None:
    inst = crashing
    # Given a daemon that exits 2 at each start: circusd's hook stops it within a few respawns,
    # with no watchdog running
    wait_for(lambda: inst.status("upload-ebay") == "stopped", 60, "circusd to stop upload-ebay")
    reaps = [e for e in journal(inst) if e["watcher"] == "upload-ebay" and e["event"] == "reap"]
    assert 5 <= len(reaps) <= 7 and {e["exit_code"] for e in reaps} == {2}
    assert journal(inst)[-1] == {**journal(inst)[-1], "event": "stopped", "by": "crash_loop"}

    # Then the report says so: critical, a crash loop, how many deaths and why it exits
    rc, rep = watchdog(inst, "report")
    assert (rc, rep["status"]) == (2, "critical"), rep
    loops = [f for f in rep["findings"] if f["kind"] == "crash_loop"]
    assert [(f["daemon"], f["severity"]) for f in loops] == [("upload-ebay", "critical")]
    assert "needs a person" in loops[0]["summary"]
    assert "--no-such-option" in loops[0]["summary"], "the log line naming why it exits"
    r = row(rep, "upload-ebay")
    assert r["state"] == "crash loop" and r["needs_person"]
    # Each death circusd respawned is a restart; the last one, which it refused, is none
    assert r["restarts_in_window"] == r["died_in_window"] == len(reaps) - 1
    assert r["last_death"] == "exit 2"
    text = report_text(inst)
    line = next(x for x in text.splitlines() if x.startswith("upload-ebay "))
    assert " died, 0 requested)" in line and " exit 2" in line, text

    # When scans run, one critical alert reaches Chatwork, and each death is an event
    for _ in range(3):
        assert watchdog(inst, "scan")[0] == 2

    def critical() -> list[str]:
        return [b for b in chatwork(inst) if b.startswith("[ecauto] CRITICAL upload-ebay")]

    wait_for(critical, 20, "the critical alert at the sandbox's Chatwork")
    assert watchdog(inst, "scan")[0] == 2
    assert len(critical()) == 1, chatwork(inst)
    died = [e for e in events(inst) if e["kind"] == "died" and e["daemon"] == "upload-ebay"]
    assert len(died) == len(reaps)
    assert {(e["exit_code"], e["signal"], e["requested"]) for e in died} == {(2, None, None)}

    # And a start someone asks for begins the count again: it is not stopped at its first death
    before = len(journal(inst))
    assert inst.circusctl("start", "upload-ebay").returncode == 0
    wait_for(lambda: inst.status("upload-ebay") == "stopped", 60, "the second stop")
    again = [e for e in journal(inst)[before:] if e["event"] == "reap"]
    assert len(again) >= 5


def test_what_the_operator_asks_for_is_not_a_failure(inst: Instance) -> None:
    # Given six restarts a few seconds apart, as the README documents
    for _ in range(6):
        res = inst.circusctl("restart", "upload-ebay")
        assert res.returncode == 0, res.stderr
    wait_for(lambda: inst.fresh_heartbeat("upload-ebay", pid=inst.pid("upload-ebay")), 30, "beat")
    rc, out = watchdog(inst, "scan")
    assert not [f for f in out["findings"] if f["kind"] == "crash_loop"], out["findings"]
    assert rc == 0
    # circusd may still be ending the last restart's old process: active once that is done,
    # never stopped
    wait_for(lambda: inst.status("upload-ebay") == "active", 30, "upload-ebay active")
    r = row(watchdog(inst, "report")[1], "upload-ebay")
    assert (r["died_in_window"], r["requested_in_window"]) == (0, 6)

    # When sync-inventory is stopped on request: a note, no warning, no alert
    assert inst.circusctl("stop", "sync-inventory").returncode == 0
    # circusctl answers before the daemon has ended (Circus stops without waiting by default)
    wait_for(lambda: inst.status("sync-inventory") == "stopped", 30, "sync-inventory stopped")
    rc, out = watchdog(inst, "scan")
    assert rc == 0, out["findings"]
    down = [f for f in out["findings"] if f["daemon"] == "sync-inventory"]
    assert [(f["kind"], f["severity"]) for f in down] == [("down", "info")]
    assert "stopped on request" in down[0]["summary"]
    rc, rep = watchdog(inst, "report")
    assert rc == 0 and rep["status"] == "ok"
    assert row(rep, "sync-inventory")["last_death"] == "exit 0 (requested)"

    # When a daemon is killed with SIGKILL: a death with its signal, in the events and the report
    victim = inst.pid("upload-base")
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: inst.ctl.pids("upload-base") not in ([], [victim]), 20, "a new pid")
    inst.track_children()
    watchdog(inst, "scan")
    died = [e for e in events(inst) if e["kind"] == "died" and e["pid"] == victim]
    assert [(e["daemon"], e["signal"], e["requested"]) for e in died] == [("upload-base", 9, None)]
    r = row(watchdog(inst, "report")[1], "upload-base")
    assert r["last_death"] == "killed by SIGKILL" and r["died_in_window"] == 1

    # When it is restarted on request: a restart, and a daemon that has not beaten yet is no
    # hung event (its heartbeat file is still the old process's)
    assert inst.circusctl("restart", "upload-base").returncode == 0
    watchdog(inst, "scan")
    wait_for(lambda: inst.fresh_heartbeat("upload-base", pid=inst.pid("upload-base")), 30, "beat")
    inst.track_children()
    r = row(watchdog(inst, "report")[1], "upload-base")
    assert (r["restarts_in_window"], r["died_in_window"], r["requested_in_window"]) == (2, 1, 1)

    # When circusd is asked to quit: nothing runs, and that is what was asked for
    assert inst.circusctl("quit").returncode == 0
    assert inst.circusd is not None
    inst.circusd.wait(timeout=60)
    rc, rep = watchdog(inst, "report")
    assert rc != 2 and rep["status"] != "critical", rep["findings"]
    assert [(f["kind"], f["severity"]) for f in rep["findings"]] == [("circusd_down", "info")]
    assert "stopped on request" in rep["findings"][0]["summary"]
    assert not [b for b in chatwork_after_quit(inst)], "no alert was sent"

    # When circusd starts again: its new pids are no respawns, and what died before still counts
    inst.start()
    rc, out = watchdog(inst, "scan")
    assert rc == 0 and not [f for f in out["findings"] if f["severity"] != "info"], out
    rep = watchdog(inst, "report")[1]
    # The stop of sync-inventory and circusd's quit are no restarts; the restarts asked for are
    assert {r["name"]: r["restarts_in_window"] for r in rep["daemons"]} == {
        "sandbox": 0,
        "dashboard": 0,
        "upload-base": 2,
        "upload-ebay": 6,
        "upload-yahoo": 0,
        "sync-inventory": 0,
    }
    text = report_text(inst)
    line = next(x for x in text.splitlines() if x.startswith("upload-base "))
    assert " 2 (1 died, 1 requested) " in line, text
    hung = [e for e in events(inst) if e["kind"] == "hung"]
    assert not hung, [(e["summary"], e.get("severity")) for e in hung]


def chatwork_after_quit(inst: Instance) -> list[str]:
    """The sandbox is gone with circusd: its Chatwork journal file holds what it received."""
    path = inst.home / "sandbox" / "chatwork.jsonl"
    if not path.exists():
        return []
    return [x for x in path.read_text().splitlines() if x.strip()]
