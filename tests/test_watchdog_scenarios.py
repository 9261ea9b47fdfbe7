"""The watchdog against real processes: a real circusd running the repo's circus.ini in a temp home,
real daemons, real HTTP. Each scenario drives `watchdog scan` itself (the `watchdog` watcher is
left out of the instance, so no loop races the test) and checks `watchdog report` as it goes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import psutil
import pytest
import requests
from support import (
    DAEMONS,
    Instance,
    Reaper,
    free_port,
    read_hb,
    read_lock,
    sandbox_headers,
    start_process,
    wait_for,
)

from ecauto.roster import BEATING

pytestmark = [pytest.mark.process, pytest.mark.timeout(150)]

TOKEN = "cw-watchdog-scenario-7d41c9"  # distinctive: a leak anywhere is found by a plain search

# Small times so that a scenario takes seconds: heartbeats come every second (FAST_CONFIG).
# The freezing scenarios lower min_grace_s to 5 s; the others keep 30 s so that a slow moment of
# a loaded machine is not taken for a hung daemon.
WATCHDOG = """
[watchdog]
interval_s = 1
min_grace_s = 30
start_grace_s = 15
copy_settle_s = 1
term_timeout_s = 5
restart_backoff_s = 0
recovery_s = 1
crash_loop_respawns = 100

# Only upload-base is frozen in these scenarios; the others get a longer grace, as a daemon that
# waits on the shared database behind a frozen one stops beating too (for a moment).
[watchdog.daemons.sync-inventory]
patterns = ["scheduled_tasks/sync_inventory_daemon.py"]
grace_s = 30

[watchdog.daemons.upload-ebay]
grace_s = 30

[watchdog.daemons.upload-yahoo]
grace_s = 30

[alerts]
coalesce_s = 0
"""


def make_instance(
    tmp_path: Path,
    reaper: Reaper,
    watchdog: bool = False,
    ini_edit: Callable[[str], str] | None = None,
    **settings: Any,
) -> Instance:
    """An instance with the fast watchdog settings above, `settings` overriding [watchdog]."""
    lines = [ln for ln in WATCHDOG.splitlines() if ln.split(" = ")[0] not in settings]
    at = lines.index("[watchdog]") + 1
    lines[at:at] = [f"{k} = {v}" for k, v in settings.items()]
    return Instance(
        tmp_path, reaper, config_extra="\n".join(lines) + "\n", watchdog=watchdog, ini_edit=ini_edit
    )


@pytest.fixture
def inst(tmp_path: Path, reaper: Reaper) -> Iterator[Instance]:
    with make_instance(tmp_path, reaper) as i:
        yield i


def watchdog(
    inst: Instance, *args: str, env: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    return inst.watchdog(*args, env=env)


def scan(inst: Instance, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    return watchdog(inst, "scan", env=env)


def report(inst: Instance) -> tuple[int, dict[str, Any]]:
    return watchdog(inst, "report")


def kinds(out: dict[str, Any]) -> set[tuple[str, str | None, str]]:
    """(kind, daemon, action) of the findings that are more than a note."""
    return {
        (f["kind"], f["daemon"], f["action"])
        for f in out["findings"]
        if f.get("severity") != "info"
    }


def daemon_row(rep: dict[str, Any], name: str) -> dict[str, Any]:
    return next(d for d in rep["daemons"] if d["name"] == name)


def events(inst: Instance) -> list[dict[str, Any]]:
    path = inst.home / "watchdog" / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def old_system_copy(inst: Instance) -> subprocess.Popen[str]:
    """The old system's sync script, run by hand from its own folder: it only sleeps here."""
    script = inst.root / "old" / "scheduled_tasks" / "sync_inventory_daemon.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text("import time\ntime.sleep(600)\n")
    # Started from a shell of this instance (ECAUTO_HOME set): without it, a copy that matches
    # a pattern is claimed by every instance of ours on the machine, and another test's
    # watchdog could end it first.
    env = dict(inst.env)
    return start_process(
        inst.reaper, [sys.executable, str(script), "--interval", "10800"], env, inst.root / "old"
    )


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def left_behind(inst: Instance, pids: dict[str, int]) -> str:
    """What a failed wait needs to be understood: who is still alive, and what the watchdog did
    (its log went to the dead circusd's stream, so its events and heartbeat are the trace)."""
    lines = []
    for name, pid in pids.items():
        try:
            p = psutil.Process(pid)
            lines.append(f"alive: {name} pid {pid} ppid {p.ppid()} {p.status()} {p.cmdline()}")
        except psutil.NoSuchProcess:
            lines.append(f"gone: {name} pid {pid}")
    try:
        lines.append(f"circusd runs: { {n: inst.ctl.pids(n) for n in inst.watchers} }")
    except Exception as e:  # noqa: BLE001 - circusd may be gone: that is part of the story
        lines.append(f"circusd: {e}")
    for name in pids:
        hb = read_hb(inst.home, name)
        if hb is not None:
            lines.append(f"heartbeat {name}: pid {hb.pid} {hb.phase} at {hb.beat_at:.3f}")
        log = inst.home / "log" / f"{name}.log"
        if log.exists():
            lines += [f"{name}.log: {ln}" for ln in log.read_text().splitlines()[-3:]]
    lines += [json.dumps(e) for e in events(inst)[-30:]]
    return "\n".join(lines)


def test_a_duplicate_is_killed_and_the_managed_copy_survives(inst: Instance) -> None:
    managed = inst.pid("sync-inventory")
    rc, rep = report(inst)
    assert (rc, rep["status"], rep["findings"]) == (0, "ok", [])
    assert {d["name"]: d["state"] for d in rep["daemons"]} == {
        n: "running" for n in ("sandbox", "dashboard", *DAEMONS)
    }
    assert daemon_row(rep, "sync-inventory")["pid"] == managed
    assert daemon_row(rep, "sync-inventory")["heartbeat_age_s"] < 3

    # Given an old-system copy of the sync job started by hand
    dup = old_system_copy(inst)
    # Then the report sees it (once it is past the settle time) before anything is done
    rc, rep = wait_for(lambda: (r := report(inst))[0] == 1 and r, 20, "the report to see it")
    assert rep["status"] == "warning"
    assert kinds(rep) == {("duplicate", "sync-inventory", "terminate")}
    assert [f["pid"] for f in rep["findings"]] == [dup.pid]
    assert daemon_row(rep, "sync-inventory")["state"] == "duplicated"
    assert dup.poll() is None, "report is read-only"

    # When a scan runs, the copy is ended and the managed one is left alone
    rc, out = scan(inst)
    assert rc == 1 and kinds(out) == {("duplicate", "sync-inventory", "terminate")}
    assert out["findings"][0]["result"] == f"ended pid {dup.pid}"
    assert dup.wait(timeout=10) == -signal.SIGTERM
    assert alive(managed) and inst.ctl.pids("sync-inventory") == [managed]
    wait_for(lambda: inst.fresh_heartbeat("sync-inventory", pid=managed), 10, "its heartbeat")

    rc, rep = report(inst)
    assert (rc, rep["status"], rep["findings"]) == (0, "ok", [])
    ev = [e for e in events(inst) if e["kind"] == "duplicate"]
    assert [(e["daemon"], e["pid"], e["action"], e["result"]) for e in ev] == [
        ("sync-inventory", dup.pid, "terminate", f"ended pid {dup.pid}")
    ]
    assert any(e["kind"] == "duplicate" for e in rep["recent"])


def test_a_daemon_started_before_circusd_is_ended_and_circus_takes_over(
    tmp_path: Path, reaper: Reaper
) -> None:
    inst = make_instance(tmp_path, reaper)
    try:
        # Given sync-inventory started by hand with the watcher's exact command line, first
        (inst.home / "log").mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "ecauto.daemons.sync", "--home", str(inst.home), "--wid", "1"]
        by_hand = start_process(
            reaper, cmd, inst.env, inst.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for(
            lambda: inst.fresh_heartbeat("sync-inventory", pid=by_hand.pid),
            30,
            "the hand-started copy's heartbeat",
        )
        # When circusd starts, its copy is refused by the lock and started again and again
        inst.start()
        assert (read_lock(inst.home, "sync-inventory") or {}).get("pid") == by_hand.pid

        # Then a scan ends the copy circusd does not manage ...
        def ended() -> bool:
            rc, out = scan(inst)
            return by_hand.poll() is not None

        wait_for(ended, 30, "a scan to end the unmanaged copy", interval=0.3)
        ev = [e for e in events(inst) if e["pid"] == by_hand.pid]
        assert ev and ev[0]["kind"] in ("duplicate", "orphan") and ev[0]["action"] == "terminate"
        # ... and circusd's copy takes the lock and beats
        new = wait_for(
            lambda: (
                (p := inst.ctl.pids("sync-inventory"))
                and alive(p[0])
                and (read_lock(inst.home, "sync-inventory") or {}).get("pid") == p[0]
                and p[0]
            ),
            30,
            "circusd's copy to hold the lock",
        )
        inst.reaper.track(new)
        wait_for(lambda: inst.fresh_heartbeat("sync-inventory", pid=new), 20, "its heartbeat")
    finally:
        inst.stop()


def test_kill9_circusd_then_orphans_are_found_and_cleaned(inst: Instance) -> None:
    assert scan(inst)[0] == 0
    pids = {n: inst.pid(n) for n in ("sandbox", "dashboard", *DAEMONS)}
    assert inst.circusd is not None
    os.kill(inst.circusd.pid, signal.SIGKILL)
    inst.circusd.wait(timeout=10)

    rc, rep = report(inst)
    assert rc == 2 and rep["status"] == "critical"
    assert ("circusd_down", None, "alert") in kinds(rep)
    orphans = {f["daemon"]: f["pid"] for f in rep["findings"] if f["kind"] == "orphan"}
    assert orphans == pids
    assert all(alive(p) for p in pids.values()), "report is read-only"

    rc, out = scan(inst)
    assert rc == 2
    ended = {f["daemon"]: f["result"] for f in out["findings"] if f["kind"] == "orphan"}
    assert set(ended) == set(pids) and all(r.startswith("ended pid") for r in ended.values())
    wait_for(lambda: not any(alive(p) for p in pids.values()), 15, "every orphan gone")
    # Their locks went with them: nothing left for the next circusd to trip on.
    assert not [p for p in (inst.home / "locks").glob("*.lock")]

    rc, rep = report(inst)
    assert rc == 2 and kinds(rep) == {("circusd_down", None, "alert")}


def test_a_stale_lock_is_removed_and_the_daemon_then_starts(inst: Instance) -> None:
    inst.ctl.stop("upload-yahoo")
    wait_for(lambda: inst.status("upload-yahoo") == "stopped", 20, "upload-yahoo stopped")
    # Given a lock file left behind naming an innocent process
    innocent = start_process(inst.reaper, ["sleep", "300"], inst.env, inst.root)
    lock = inst.home / "locks" / "upload-yahoo.lock"
    lock.write_text(
        json.dumps(
            {
                "schema": 1,
                "name": "upload-yahoo",
                "pid": innocent.pid,
                "create_time": psutil.Process(innocent.pid).create_time(),
                "hostname": "x",
                "cmdline": ["python"],
                "started_at": 1.0,
                "home": str(inst.home),
            }
        )
    )

    rc, rep = report(inst)
    # Stopped on request: a note, not a warning (circusd's journal says who stopped it).
    assert rc == 0 and kinds(rep) == set()
    down = [f for f in rep["findings"] if f["kind"] == "down"]
    assert [(f["daemon"], f["severity"], f["summary"]) for f in down] == [
        ("upload-yahoo", "info", "stopped on request (circusctl stop)")
    ]
    stale = [f for f in rep["findings"] if f["kind"] == "stale_lock"]
    assert [(f["daemon"], f["action"]) for f in stale] == [("upload-yahoo", "remove_lock")]
    assert lock.exists()

    rc, out = scan(inst)
    stale = [f for f in out["findings"] if f["kind"] == "stale_lock"]
    assert [(f["daemon"], f["result"]) for f in stale] == [("upload-yahoo", "removed")]
    assert not lock.exists()
    assert innocent.poll() is None, "the pid a lock file names is never signalled"

    inst.ctl.call("start", name="upload-yahoo", waiting=True)
    new = wait_for(lambda: (p := inst.ctl.pids("upload-yahoo")) and p[0], 20, "a new pid")
    inst.reaper.track(new)
    wait_for(lambda: (read_lock(inst.home, "upload-yahoo") or {}).get("pid") == new, 20, "its lock")
    wait_for(lambda: inst.fresh_heartbeat("upload-yahoo", pid=new), 20, "its heartbeat")
    rc, rep = report(inst)
    assert (rc, rep["status"]) == (0, "ok")


def test_a_frozen_daemon_is_hung_and_restarted_with_a_new_pid(
    tmp_path: Path, reaper: Reaper
) -> None:
    inst = make_instance(tmp_path, reaper, min_grace_s=5)
    inst.start()
    old = inst.pid("upload-base")
    os.kill(old, signal.SIGSTOP)
    try:
        rc, rep = wait_for(lambda: (r := report(inst))[0] == 1 and r, 20, "the report: hung")
        assert kinds(rep) == {("hung", "upload-base", "restart")}
        row = daemon_row(rep, "upload-base")
        assert row["state"] == "hung" and row["pid"] == old and row["heartbeat_age_s"] >= 5

        rc, out = scan(inst)
        assert kinds(out) == {("hung", "upload-base", "restart")}
        assert out["findings"][0]["result"] == "asked circusd to restart it"
        inst.replaced("upload-base", old)
        wait_for(lambda: not alive(old), 20, "the old process gone")
        rc, rep = report(inst)
        assert rc == 0 and daemon_row(rep, "upload-base")["restarts_in_window"] == 1
    finally:
        if alive(old):
            os.kill(old, signal.SIGCONT)
        inst.stop()


def test_the_restart_budget_runs_out_and_a_critical_alert_goes_once(
    tmp_path: Path, reaper: Reaper
) -> None:
    inst = make_instance(tmp_path, reaper, restart_budget=2, min_grace_s=5)
    frozen: list[int] = []
    try:
        inst.start()

        def freeze_and_scan_until_new() -> int:
            old = inst.pid("upload-base")
            os.kill(old, signal.SIGSTOP)
            frozen.append(old)
            wait_for(
                lambda: ("hung", "upload-base", "restart") in kinds(scan(inst)[1]), 20, "a restart"
            )
            return inst.replaced("upload-base", old)

        freeze_and_scan_until_new()
        last = freeze_and_scan_until_new()
        # The third time the budget (2 in the hour) is spent: no restart, one critical alert.
        os.kill(last, signal.SIGSTOP)
        frozen.append(last)
        rc, out = wait_for(lambda: (r := scan(inst))[0] == 2 and r, 20, "the budget spent")
        hung = [f for f in out["findings"] if f["kind"] == "hung"]
        assert [(f["severity"], f["action"]) for f in hung] == [("critical", "alert")]
        assert "needs a person" in hung[0]["summary"]
        for _ in range(3):
            assert scan(inst)[0] == 2
        assert inst.ctl.pids("upload-base") == [last], "no more restarts"

        def critical_messages() -> list[dict[str, Any]]:
            got = requests.get(
                f"{inst.sandbox_url}/_sandbox/chatwork",
                headers=sandbox_headers(inst.home),
                timeout=5,
            ).json()
            return [
                m
                for m in got
                if m["body"].startswith("[ecauto] CRITICAL upload-base: needs a person")
            ]

        def chatwork_log() -> str:
            got = requests.get(
                f"{inst.sandbox_url}/_sandbox/chatwork",
                headers=sandbox_headers(inst.home),
                timeout=5,
            ).json()
            return f"{[m['body'].splitlines()[0] for m in got]}, pending {report(inst)[1]}"

        try:
            wait_for(critical_messages, 10, "the critical alert at the sandbox's Chatwork")
        except AssertionError as e:
            raise AssertionError(f"{e}: {chatwork_log()}") from None
        assert len(critical_messages()) == 1
        rc, rep = report(inst)
        assert rc == 2 and daemon_row(rep, "upload-base")["state"] == "needs a person"
    finally:
        for pid in frozen:
            if alive(pid):
                os.kill(pid, signal.SIGCONT)
        inst.stop()


class _Chatwork(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode()
        self.seen.append(
            {
                "method": "POST",
                "path": self.path,
                "token": self.headers.get("X-ChatWorkToken"),
                "type": self.headers.get("Content-Type"),
                "body": body,
            }
        )
        data = b'{"message_id": "1"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_alerts_reach_chatwork_and_survive_it_being_down(inst: Instance) -> None:
    port = free_port()
    env = dict(
        inst.env,
        CHATWORK_API_TOKEN=TOKEN,
        CHATWORK_ROOM_ID="4242",
        CHATWORK_API_URL=f"http://127.0.0.1:{port}/v2",
    )
    _Chatwork.seen = []
    # Given Chatwork down (nothing listens on its port) and a duplicate
    dup = old_system_copy(inst)
    wait_for(
        lambda: ("duplicate", "sync-inventory", "terminate") in kinds(scan(inst, env)[1]),
        20,
        "the duplicate found and ended",
    )
    assert dup.wait(timeout=10) is not None
    rc, rep = report(inst)
    assert rep["alerts_pending"] == 1

    # When Chatwork is back, the next scan delivers what waited, once
    server = ThreadingHTTPServer(("127.0.0.1", port), _Chatwork)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        wait_for(lambda: scan(inst, env) and _Chatwork.seen, 20, "the alert delivered")
        for _ in range(2):
            scan(inst, env)
    finally:
        server.shutdown()
        server.server_close()
    assert {(m["method"], m["path"], m["token"]) for m in _Chatwork.seen} == {
        ("POST", "/v2/rooms/4242/messages", TOKEN)
    }
    assert all(m["type"].startswith("application/x-www-form-urlencoded") for m in _Chatwork.seen)
    bodies = [parse_qs(m["body"])["body"][0] for m in _Chatwork.seen]
    # One message for the incident (queued while Chatwork was down), then one for its end.
    first_lines = [b.splitlines()[0] for b in bodies if "sync-inventory" in b]
    assert [ln.split(" ")[1] for ln in first_lines] == ["WARNING", "RECOVERED"], bodies
    assert "sync-inventory: a second copy" in first_lines[0] and str(dup.pid) in first_lines[0]
    assert report(inst)[1]["alerts_pending"] == 0
    # The token is nowhere on disk: not in the events, the state, the outbox, nor any log.
    for path in inst.home.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path


def test_corrupt_empty_or_innocent_heartbeats_and_locks_change_nothing_but_a_finding(
    tmp_path: Path, reaper: Reaper
) -> None:
    inst = make_instance(tmp_path, reaper)  # min_grace_s 30: a frozen daemon is not hung yet
    innocent = start_process(reaper, ["sleep", "300"], inst.env, tmp_path)
    victim = "upload-ebay"
    try:
        inst.start()
        assert scan(inst)[0] == 0  # the watchdog has seen its good heartbeat
        pid = inst.pid(victim)
        hb_path = inst.home / "heartbeats" / f"{victim}.json"
        lock_path = inst.home / "locks" / f"{victim}.lock"
        good = json.loads(hb_path.read_text())
        os.kill(pid, signal.SIGSTOP)  # so it does not rewrite its heartbeat meanwhile
        try:
            cases = [
                ("", ""),
                ("{not json", "{not json"),
                (
                    json.dumps(dict(good, pid=innocent.pid)),
                    json.dumps(dict(json.loads(lock_path.read_text()), pid=innocent.pid)),
                ),
                (
                    json.dumps(dict(good, pid=1)),
                    json.dumps(dict(json.loads(lock_path.read_text()), pid=1)),
                ),
            ]
            for hb_text, lock_text in cases:
                hb_path.write_text(hb_text)
                lock_path.write_text(lock_text)  # same file: the daemon still holds its lock
                rc, out = scan(inst)
                assert rc == 0, out
                notes = {(f["kind"], f["daemon"], f["action"]) for f in out["findings"]}
                assert notes == {("hung", victim, "none"), ("stale_lock", victim, "none")}, out
                assert all(f["severity"] == "info" for f in out["findings"])
                assert out["actions"] == [] and out["notices"] == []
                assert hb_path.read_text() == hb_text and lock_path.read_text() == lock_text
                assert innocent.poll() is None and alive(pid) and alive(1)
                assert inst.ctl.pids(victim) == [pid]
            rc, rep = report(inst)
            assert rc == 0 and rep["status"] == "ok"
        finally:
            os.kill(pid, signal.SIGCONT)
        wait_for(lambda: inst.fresh_heartbeat(victim, pid=pid), 10, "its heartbeat again")
    finally:
        inst.stop()


# Loaded into the upload-yahoo daemon (PYTHONPATH in its watcher's environment): once the daemon
# base has marked its environment, the daemon starts a helper through a shell that exits at once,
# so the helper is nobody's child (circusd's stop_children cannot find it) but keeps the daemon's
# process group and carries its mark: a grandchild that outlives it.
LEAKY = """
import os, subprocess, threading, time

def leak():
    deadline = time.monotonic() + 60
    while "ECAUTO_OWNER" not in os.environ and time.monotonic() < deadline:
        time.sleep(0.05)
    if "ECAUTO_OWNER" in os.environ:
        subprocess.Popen(["sh", "-c", "sleep 120 &"]).wait()

threading.Thread(target=leak, daemon=True).start()
"""


def test_leftovers_of_a_restarted_daemon_are_ended_and_a_stranger_in_its_group_is_not(
    tmp_path: Path, reaper: Reaper
) -> None:
    site = tmp_path / "leaky"
    site.mkdir()
    (site / "sitecustomize.py").write_text(LEAKY)

    def leaky(text: str) -> str:
        return text + f"\n[env:upload-yahoo]\nPYTHONPATH = {site}\n"

    def helper(daemon: int) -> psutil.Process:
        return wait_for(
            lambda: [
                p
                for p in psutil.process_iter(["name"])
                if p.info["name"] == "sleep" and os.getpgid(p.pid) == daemon
            ],
            10,
            "its helper",
        )[0]

    inst = make_instance(tmp_path, reaper, ini_edit=leaky)
    try:
        inst.start()
        old = inst.pid("upload-yahoo")
        child = helper(old)
        inst.reaper.track(child.pid)
        assert scan(inst)[0] == 0  # the watchdog remembers the managed process and its group
        inst.ctl.call("restart", name="upload-yahoo", waiting=True)
        wait_for(lambda: not alive(old), 20, "the old daemon gone")
        assert child.is_running(), "circusd left it behind"

        # A stranger (another session, no mark) whose process group is a pid the watchdog
        # remembers for a daemon that has since gone: the pid was reused, nothing more.
        stranger = start_process(
            reaper,
            ["sh", "-c", "sleep 300 & wait"],
            dict(os.environ),
            tmp_path,
            start_new_session=True,
        )
        member = wait_for(
            lambda: [c for c in psutil.Process(stranger.pid).children() if c.name() == "sleep"],
            10,
            "the stranger's sleep",
        )[0]
        reaper.track(member.pid)
        state_file = inst.home / "watchdog" / "state.json"
        state = json.loads(state_file.read_text())
        state["seen"].append(
            {
                "daemon": "upload-yahoo",
                "pid": stranger.pid,
                "create_time": psutil.Process(stranger.pid).create_time() - 60,
                "last_seen": psutil.Process(stranger.pid).create_time() - 30,
            }
        )
        state_file.write_text(json.dumps(state))

        rc, rep = report(inst)
        assert rc == 1 and kinds(rep) == {("leftovers", "upload-yahoo", "terminate")}
        rc, out = scan(inst)
        assert rc == 1 and [f["pids"] for f in out["findings"] if f["kind"] == "leftovers"] == [
            [child.pid]
        ]
        wait_for(lambda: not child.is_running(), 10, "the leftover gone")
        assert alive(member.pid) and alive(stranger.pid), "the stranger was left alone"
        new = inst.pid("upload-yahoo")
        assert alive(new)
        inst.reaper.track(helper(new).pid)  # the new one's helper: reaped by pid at the end
        assert report(inst)[0] == 0
        assert alive(member.pid)
    finally:
        inst.stop()


def test_watchdog_run_under_circus_ends_duplicates_and_orphans_and_leaves_with_its_circusd(
    tmp_path: Path, reaper: Reaper
) -> None:
    inst = make_instance(tmp_path, reaper, watchdog=True)
    try:
        inst.start()
        dog = inst.pid("watchdog")
        pids = {n: inst.pid(n) for n in ("sandbox", "dashboard", *DAEMONS)}
        # A duplicate dies within the interval (1 s) plus its settle time, without any scan.
        dup = old_system_copy(inst)
        assert dup.wait(timeout=15) == -signal.SIGTERM
        assert all(alive(p) for p in pids.values())

        # circusd dies and is started again at once (as systemd's Restart= does): the old
        # watchdog ends what the dead circusd left and leaves; the new set takes over.
        assert inst.circusd is not None
        os.kill(inst.circusd.pid, signal.SIGKILL)
        inst.circusd.wait(timeout=10)
        inst.start(wait=())
        wait_for(lambda: not any(alive(p) for p in pids.values()), 30, "the orphans ended")
        wait_for(lambda: not alive(dog), 30, "the old watchdog gone")

        def taken_over() -> dict[str, int] | None:
            new = {n: inst.ctl.pids(n) for n in ("watchdog", "sandbox", "dashboard", *DAEMONS)}
            if not all(len(p) == 1 for p in new.values()):
                return None
            got = {n: p[0] for n, p in new.items()}
            if all(n not in BEATING or inst.fresh_heartbeat(n, pid=got[n]) for n in got):
                return got
            return None

        try:
            now = wait_for(taken_over, 45, "the new circusd's daemons running and beating")
        except AssertionError as e:
            raise AssertionError(f"{e}\n{left_behind(inst, {'watchdog': dog, **pids})}") from None
        for pid in now.values():
            reaper.track(pid)
        rc, rep = report(inst)
        assert rc == 0 and rep["status"] == "ok", rep["findings"]

        # circusd dies for good: the watchdog ends the orphans, alerts, and leaves.
        os.kill(inst.circusd.pid, signal.SIGKILL)
        inst.circusd.wait(timeout=10)
        try:
            wait_for(lambda: not any(alive(p) for p in now.values()), 30, "everything ended")
        except AssertionError as e:
            raise AssertionError(f"{e}\n{left_behind(inst, now)}") from None
        ev = events(inst)
        assert {e["daemon"] for e in ev if e["kind"] in ("orphan", "duplicate")} >= set(pids)
        assert any(e["kind"] == "circusd_down" for e in ev)
        assert read_hb(inst.home, "watchdog") is not None
    finally:
        inst.stop()
