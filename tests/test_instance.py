"""A whole instance under a real circusd: the promises of the README, seen from outside."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time

import psutil
import pytest
from support import DAEMONS, WATCHERS, Instance, read_hb, read_lock, wait_for

pytestmark = [pytest.mark.process, pytest.mark.timeout(180)]


def test_all_watchers_run_with_heartbeats_and_locks(instance: Instance) -> None:
    statuses = instance.ctl.statuses()
    assert {n: statuses.get(n) for n in WATCHERS} == {n: "active" for n in WATCHERS}
    for name in DAEMONS:
        pid = instance.pid(name)
        hb = read_hb(instance.home, name)
        assert hb is not None and hb.pid == pid and hb.name == name == hb.watcher
        assert hb.wid == 1
        assert hb.create_time == pytest.approx(psutil.Process(pid).create_time(), abs=0.01)
        assert hb.home == str(instance.home)
        owner = read_lock(instance.home, name)
        assert owner is not None, (
            name,
            sorted(p.name for p in (instance.home / "locks").iterdir()),
            (instance.home / "log" / f"{name}.log").read_text()[-2000:],
        )
        assert owner["pid"] == pid and owner["name"] == name
        assert owner["home"] == str(instance.home)
    # heartbeats keep coming while a daemon sleeps between cycles
    hb1 = read_hb(instance.home, "upload-base")
    assert hb1 is not None
    wait_for(
        lambda: (hb := read_hb(instance.home, "upload-base")) and hb.beat_at > hb1.beat_at,
        5,
        "a newer heartbeat",
    )


def test_circusctl_status_and_restart_give_a_new_pid(instance: Instance) -> None:
    out = instance.circusctl("status")
    assert out.returncode == 0, out.stderr
    for name in WATCHERS:
        assert f"{name}: active" in out.stdout
    old = instance.pid("upload-base")
    res = instance.circusctl("restart", "upload-base")
    assert res.returncode == 0 and "ok" in res.stdout, res.stdout + res.stderr
    wait_for(lambda: not psutil.pid_exists(old), 35, "the old upload-base to exit")
    new = instance.replaced("upload-base", old, 20)
    assert (read_lock(instance.home, "upload-base") or {}).get("pid") == new


def test_kill9_is_respawned_and_the_lock_taken_over(instance: Instance) -> None:
    old = instance.pid("upload-ebay")
    os.kill(old, signal.SIGKILL)
    new = instance.replaced("upload-ebay", old, 20)
    wait_for(
        lambda: (read_lock(instance.home, "upload-ebay") or {}).get("pid") == new,
        20,
        "the new process to hold the lock",
    )


def test_a_second_copy_is_refused_and_the_first_keeps_running(instance: Instance) -> None:
    name = "sync-inventory"
    holder = instance.pid(name)
    lock_before = (instance.home / "locks" / f"{name}.lock").read_bytes()
    cmd = instance.watcher_cmdline(name)
    started = time.monotonic()
    res = subprocess.run(
        cmd, env=instance.env, cwd=instance.root, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 75
    assert time.monotonic() - started < 15
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and f"pid {holder}" in lines[0], res.stderr
    assert psutil.pid_exists(holder) and instance.ctl.pids(name) == [holder]
    assert (instance.home / "locks" / f"{name}.lock").read_bytes() == lock_before
    wait_for(lambda: instance.fresh_heartbeat(name, pid=holder), 10, "the holder's heartbeat")


def test_listings_are_uploaded_and_a_sync_completes_unthrottled(instance: Instance) -> None:
    db = sqlite3.connect(instance.home / "ecauto.db", timeout=10)

    def uploaded(platform: str) -> int:
        return int(
            db.execute(
                "SELECT COUNT(*) FROM listings WHERE platform = ? AND state = 'uploaded'",
                (platform,),
            ).fetchone()[0]
        )

    for platform in ("base", "ebay", "yahoo"):
        wait_for(lambda p=platform: uploaded(p) >= 2, 30, f"{platform} listings uploaded")
    wait_for(
        lambda: (
            db.execute("SELECT COUNT(*) FROM sync_runs WHERE state = 'complete'").fetchone()[0] >= 1
        ),
        90,
        "a complete sync run",
    )
    products, synced = db.execute("SELECT COUNT(*), COUNT(synced_at) FROM products").fetchone()
    assert products >= 1000 and synced == products
    pushed = db.execute("SELECT COUNT(*) FROM products WHERE base_price = price").fetchone()[0]
    assert (
        pushed
        == products - db.execute("SELECT COUNT(*) FROM products WHERE price IS NULL").fetchone()[0]
    )
    stats = instance.stats()
    assert stats["throttled_total"] == 0
    assert stats["endpoints"]["spapi.getPricing"]["ok"] >= 50
    for platform in ("base", "ebay", "yahoo"):
        assert stats["listings"][platform]["duplicates"] == 0
    hb = read_hb(instance.home, "sync-inventory")
    assert hb is not None and hb.cycles >= 1 and hb.last_success_at is not None
    assert hb.phase == "sleeping" and hb.next_run_at is not None
    db.close()


def test_nothing_listens_beyond_loopback_and_the_home_is_owner_only(instance: Instance) -> None:
    assert instance.circusd is not None
    procs = [
        psutil.Process(instance.circusd.pid),
        *psutil.Process(instance.circusd.pid).children(recursive=True),
    ]
    listening = []
    for p in procs:
        for c in p.net_connections(kind="inet"):
            if c.status == psutil.CONN_LISTEN or c.type == 2:  # TCP listening, or any UDP socket
                listening.append((p.pid, c.laddr.ip, c.laddr.port))
    assert listening, "the sandbox at least listens"
    assert all(ip in ("127.0.0.1", "::1") for _, ip, _ in listening), listening
    assert not any(port == 12027 for _, _, port in listening)  # no multicast discovery
    for path in [instance.home, *instance.home.rglob("*")]:
        if path.is_symlink() or path.is_socket():
            continue
        mode = path.stat().st_mode & 0o777
        assert mode & 0o077 == 0 or path.name == "circusd.pid", f"{path} is {oct(mode)}"
