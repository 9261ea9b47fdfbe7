"""The watchdog watches itself: a pass that fails is a finding, a full disk is critical, a bad
ecauto.toml is alerted while the watchdog goes on with the last good one, and it recovers by
itself when the cause goes. Real `watchdog run` processes against real homes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
from support import (
    BIN,
    Instance,
    Reaper,
    fill,
    free_port,
    read_hb,
    sandbox_headers,
    start_process,
    start_sandbox,
    wait_for,
)

from ecauto.sandbox.key import key_path

pytestmark = [pytest.mark.process, pytest.mark.timeout(180)]

FAST = """
[watchdog]
interval_s = 0.5
recovery_s = 1
min_free_mb = {min_free_mb}
circus_timeout_s = 0.2
pass_lock_wait_s = 3

[alerts]
coalesce_s = 0
"""


def report(inst: Instance, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    return inst.watchdog("report", "--ini", str(inst.ini), env=env)


def found(rep: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["kind"]: f for f in rep["findings"]}


def messages(url: str, home: Path) -> list[str]:
    """What the sandbox at `url` received as Chatwork; its control endpoints want `home`'s key."""
    got = requests.get(f"{url}/_sandbox/chatwork", headers=sandbox_headers(home), timeout=5)
    return [str(m["body"]) for m in got.json()]


def standalone(tmp_path: Path, reaper: Reaper, min_free_mb: float = 0) -> tuple[Instance, str]:
    """A home, config and circus.ini with no circusd (nothing here needs one), and a sandbox of
    its own (its journal outside the home) as the Chatwork stand-in."""
    inst = Instance(tmp_path, reaper, config_extra=FAST.format(min_free_mb=min_free_mb))
    sb_env = dict(inst.env, ECAUTO_HOME=str(tmp_path / "sandbox-home"))
    port = free_port()
    key = ("--key-file", str(key_path(inst.home)))  # a home of its own, the instance's key
    start_sandbox(reaper, tmp_path, sb_env, port, tmp_path / "sandbox-home", *key)
    url = f"http://127.0.0.1:{port}"
    inst.env["CHATWORK_API_URL"] = f"{url}/v2"
    return inst, url


def start_watchdog(inst: Instance) -> subprocess.Popen[str]:
    inst.home.mkdir(parents=True, exist_ok=True)
    return start_process(
        inst.reaper,
        [str(BIN / "watchdog"), "run", "--ini", str(inst.ini)],
        inst.env,
        inst.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def passes_after(inst: Instance, t: float) -> bool:
    hb = read_hb(inst.home, "watchdog")
    return hb is not None and hb.last_success_at is not None and hb.last_success_at > t


def test_a_full_disk_is_critical_and_alerted_and_the_watchdog_recovers_by_itself(
    tmp_path: Path, tiny_home: Path, reaper: Reaper
) -> None:
    """Simulates a full disk (a tmpfs home filled to the last page): the pass lock's write then
    fails with ENOSPC after the OS lock was taken. Before the fix that lock stayed held by the
    watchdog itself, and every later pass was "another watchdog pass is running", forever."""
    inst, url = standalone(tmp_path, reaper, min_free_mb=1)
    dog = start_watchdog(inst)
    try:
        wait_for(lambda: passes_after(inst, 0), 30, "a first good pass")
        filler = tiny_home / "filler"
        fill(filler)
        filled_at = time.time()

        # The watchdog's own pass fails on the disk; the alert still reaches Chatwork.
        def disk_alert() -> list[str]:
            return [b for b in messages(url, inst.home) if "CRITICAL" in b and "disk is full" in b]

        wait_for(disk_alert, 30, "the disk-full alert at the sandbox's Chatwork")
        # A report (another process) says so too: critical, never OK.
        rc, rep = report(inst)
        assert rc == 2 and rep["status"] == "critical"
        assert found(rep)["disk_full"]["severity"] == "critical", rep["findings"]
        assert dog.poll() is None

        # Space comes back: the next passes work again with nothing done by anyone.
        filler.unlink()
        wait_for(lambda: passes_after(inst, filled_at + 0.5), 30, "passes working again")
        rc, rep = report(inst)
        assert not {"disk_full", "watchdog_failing"} & set(found(rep)), rep["findings"]
        assert dog.poll() is None
        wait_for(
            lambda: [b for b in messages(url, inst.home) if "RECOVERED" in b and "disk full" in b],
            30,
            "the recovery notice",
        )
    finally:
        dog.terminate()
        dog.wait(timeout=20)


@pytest.mark.timeout(300)
def test_a_pass_lock_held_too_long_is_a_failing_watchdog_and_it_recovers(
    tmp_path: Path, reaper: Reaper
) -> None:
    inst, url = standalone(tmp_path, reaper)
    dog = start_watchdog(inst)
    holder = None
    try:
        wait_for(lambda: passes_after(inst, 0), 30, "a first good pass")
        # Another process takes the pass lock and keeps it (a stuck `watchdog scan`).
        lock = inst.home / "watchdog" / "pass.lock"
        holder = start_process(
            reaper,
            [
                sys.executable,
                "-c",
                "import fcntl, os, sys, time\n"
                f"fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT, 0o600)\n"
                "fcntl.flock(fd, fcntl.LOCK_EX)\n"
                "print('held', flush=True)\n"
                "time.sleep(600)\n",
            ],
            inst.env,
            inst.root,
            stdout=subprocess.PIPE,
        )
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"

        def failing() -> dict[str, Any] | None:
            rc, rep = report(inst)
            f = found(rep).get("watchdog_failing")
            return rep if f and rc == 2 and f["severity"] == "critical" else None

        rep = wait_for(failing, 90, "the report saying the watchdog's passes fail")
        f = found(rep)["watchdog_failing"]
        assert "another watchdog pass is running" in f["summary"]
        assert next(d for d in rep["daemons"] if d["name"] == "watchdog")["state"] == "failing"

        def failing_alerts() -> list[str]:
            # The alerts about it (the recovery quotes what it was, so it is left out).
            return [
                b
                for b in messages(url, inst.home)
                if "passes fail" in b and not b.startswith("[ecauto] RECOVERED")
            ]

        # Critical from the second failed pass: each waits pass_lock_wait_s (3 s here) for the lock.
        wait_for(failing_alerts, 60, "the watchdog_failing alert")

        holder.kill()
        holder.wait(timeout=10)
        freed = time.time()
        wait_for(lambda: passes_after(inst, freed), 60, "passes working again")
        rc, rep = report(inst)
        assert "watchdog_failing" not in found(rep), rep["findings"]
        assert dog.poll() is None
        # One trouble, one alert: critical from its first message (no warning before it).
        wait_for(
            lambda: [b for b in messages(url, inst.home) if "RECOVERED" in b and "watchdog" in b],
            30,
            "the recovery notice",
        )
        alerts = failing_alerts()
        assert len(alerts) == 1 and alerts[0].startswith("[ecauto] CRITICAL watchdog:"), alerts
    finally:
        if holder is not None and holder.poll() is None:
            holder.kill()
        dog.terminate()
        dog.wait(timeout=20)


@pytest.mark.timeout(240)
def test_a_bad_config_while_running_is_one_critical_alert_and_the_watchdog_goes_on(
    tmp_path: Path, reaper: Reaper
) -> None:
    inst = Instance(tmp_path, reaper, config_extra=FAST.format(min_free_mb=0))
    try:
        inst.start()
        dog = inst.pid("watchdog")
        good = inst.config.read_text()
        kept = inst.home / "watchdog" / "config.last-good.toml"
        wait_for(kept.exists, 20, "the last good configuration kept")
        assert kept.read_text() == good and kept.stat().st_mode & 0o077 == 0

        # When a key is mistyped in ecauto.toml
        inst.config.write_text(good.replace("hourly_cap", "hourly_cpa", 1))
        mistyped = time.time()

        def config_alerts() -> list[str]:
            return [
                b
                for b in messages(inst.sandbox_url, inst.home)
                if b.startswith("[ecauto] CRITICAL") and "hourly_cpa" in b
            ]

        wait_for(config_alerts, 30, "the config alert at the sandbox's Chatwork")
        assert f"{inst.config}: unknown key 'upload.base.hourly_cpa'" in config_alerts()[0]
        # It keeps its pid and keeps scanning, on the last good configuration.
        wait_for(lambda: passes_after(inst, mistyped + 2), 20, "passes going on")
        assert inst.ctl.pids("watchdog") == [dog]
        assert kept.read_text() == good
        # A report reads the file itself: it reports on what the watchdog runs on (the last
        # good one), the error its critical finding, and says so in one line.
        res = inst.watchdog_text("report", "--ini", str(inst.ini))
        assert res.returncode == 2, (res.stdout, res.stderr)
        assert res.stderr.strip() == (
            f"watchdog: {inst.config}: unknown key 'upload.base.hourly_cpa' (known: "
            + res.stderr.split("(known: ", 1)[1].split(")", 1)[0]
            + f"); using the last good configuration ({kept})"
        ), res.stderr
        assert "hourly_cpa" in res.stdout and "upload-base" in res.stdout, res.stdout
        rc, rep = report(inst)
        assert rc == 2 and found(rep)["config_error"]["severity"] == "critical", rep
        assert "hourly_cpa" in found(rep)["config_error"]["summary"]
        assert {d["name"]: d["state"] for d in rep["daemons"]}["upload-base"] == "running", rep
        assert len(config_alerts()) == 1, config_alerts()

        # When the file is fixed, the incident ends (a recovery notice) and nothing else.
        inst.config.write_text(good)
        wait_for(
            lambda: [
                b
                for b in messages(inst.sandbox_url, inst.home)
                if "RECOVERED" in b and "config" in b
            ],
            30,
            "the config recovery notice",
        )
        assert inst.ctl.pids("watchdog") == [dog]
        assert len(config_alerts()) == 1
        assert psutil.Process(dog).is_running()
    finally:
        inst.stop()


def test_a_bad_config_at_start_runs_on_the_defaults_and_alerts(
    tmp_path: Path, reaper: Reaper
) -> None:
    inst, url = standalone(tmp_path, reaper)
    inst.config.write_text(inst.config.read_text().replace("hourly_cap", "hourly_cpa", 1))
    dog = start_watchdog(inst)
    try:
        wait_for(
            lambda: [b for b in messages(url, inst.home) if "CRITICAL" in b and "hourly_cpa" in b],
            30,
            "the config alert",
        )
        wait_for(lambda: passes_after(inst, 0), 30, "passes running on the defaults")
        assert dog.poll() is None
    finally:
        dog.terminate()
        dog.wait(timeout=20)


def test_a_lock_whose_write_fails_is_let_go_entirely(tiny_home: Path) -> None:
    """The singleton lock on a full filesystem (a filled tmpfs): its write fails with ENOSPC
    after the OS lock was taken. Nothing of it may stay: not the OS lock, not the descriptor,
    not the empty file; once space is back the same process takes it at once."""
    from ecauto.daemon.lock import LockOwner, SingletonLock, is_held

    path = tiny_home / "locks" / "x.lock"
    path.parent.mkdir()
    fill(tiny_home / "filler")
    lock = SingletonLock(path, LockOwner.for_this_process("x", str(tiny_home), 0.0))
    fds = len(os.listdir("/proc/self/fd"))
    with pytest.raises(OSError) as e:
        lock.acquire()
    assert e.value.errno == 28  # ENOSPC
    assert not lock.held and not path.exists() and not is_held(path)
    assert len(os.listdir("/proc/self/fd")) == fds
    (tiny_home / "filler").unlink()
    lock.acquire()
    try:
        assert lock.held and json.loads(path.read_text())["name"] == "x"
    finally:
        lock.release()


HANDS_OFF = """
[watchdog]
interval_s = 0.5
recovery_s = 1
copy_settle_s = 1
min_grace_s = 30
start_grace_s = 30
circus_timeout_s = 1

[watchdog.daemons.sync-inventory]
patterns = ["scheduled_tasks/sync_inventory_daemon.py"]

[alerts]
coalesce_s = 0
"""


def events(home: Path) -> list[dict[str, Any]]:
    path = home / "watchdog" / "events.jsonl"
    return [json.loads(ln) for ln in path.read_text().splitlines()] if path.exists() else []


def test_a_home_made_unsafe_while_running_is_critical_and_nothing_is_signalled_or_removed(
    tmp_path: Path, reaper: Reaper
) -> None:
    """Every command refuses an unsafe home at its start; this is the home changed under a
    `watchdog run` that already runs: what it reads there may be anyone's word, so it only
    alerts until the home is fixed."""
    inst = Instance(tmp_path, reaper, config_extra=HANDS_OFF)
    try:
        inst.start()
        started = time.time()
        wait_for(lambda: passes_after(inst, started), 30, "the watchdog's passes")
        locks = inst.home / "locks"
        # Given locks/ opened to everyone while the instance runs
        os.chmod(locks, 0o777)
        problem = f"{locks} is writable by group and others (mode 777): chmod go-w it"
        # And a duplicate (the old system's script, started by hand) and a stale lock file
        script = inst.root / "old" / "scheduled_tasks" / "sync_inventory_daemon.py"
        script.parent.mkdir(parents=True)
        script.write_text("import time\ntime.sleep(600)\n")
        dup = start_process(reaper, [sys.executable, str(script)], inst.env, script.parent)
        stale = locks / "old.lock"
        stale.write_text("{}")

        # Then one critical alert quotes the problem's one line
        def alerts() -> list[str]:
            return [
                b
                for b in messages(inst.sandbox_url, inst.home)
                if b.startswith("[ecauto] CRITICAL") and "unsafe home" in b
            ]

        wait_for(alerts, 30, "the home_unsafe alert at the sandbox's Chatwork")
        assert problem in alerts()[0], alerts()
        # And the duplicate is found but left alone, and the lock file is kept
        seen = wait_for(
            lambda: [e for e in events(inst.home) if e["kind"] == "duplicate"],
            30,
            "the duplicate found",
        )
        assert seen[0]["action"] == "alert" and "not done: the home is unsafe" in seen[0]["summary"]
        later = time.time() + 1
        wait_for(lambda: passes_after(inst, later), 30, "more passes")  # still nothing done
        assert dup.poll() is None and stale.exists()
        assert not [e for e in events(inst.home) if e["kind"] == "duplicate" and e["result"]]
        assert len(alerts()) == 1

        # When the home is fixed, the same watchdog acts again by itself
        os.chmod(locks, 0o700)
        assert dup.wait(timeout=30) == -signal.SIGTERM
        wait_for(lambda: not stale.exists(), 30, "the stale lock removed")
        wait_for(
            lambda: [
                b
                for b in messages(inst.sandbox_url, inst.home)
                if b.startswith("[ecauto] RECOVERED") and "home unsafe" in b
            ],
            30,
            "the recovery notice",
        )
    finally:
        inst.stop()
