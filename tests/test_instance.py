"""A whole instance under a real circusd: the promises of the README, seen from outside."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from support import (
    DAEMONS,
    REPO,
    WATCHERS,
    Instance,
    Reaper,
    free_port,
    instance_env,
    read_hb,
    read_lock,
    wait_for,
    write_config,
)

from ecauto import config
from ecauto.circusd import CircusError, Control
from ecauto.daemon.heartbeat import Heartbeat, Phase
from ecauto.supervisor import Seen, not_working

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


def test_listings_are_uploaded_and_a_sync_completes_unthrottled(
    tmp_path: Path, reaper: Reaper
) -> None:
    # 10 calls a second, not the suite's 50: calls 20 ms apart meet a 429 whenever the loaded
    # machine pauses a sender between its slot and its send; Amazon's 0.5/s leaves 2 s.
    with Instance(tmp_path, reaper, spapi_rate=10.0) as instance:
        _uploads_and_a_sync_unthrottled(instance)


def _uploads_and_a_sync_unthrottled(instance: Instance) -> None:
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
    assert stats["endpoints"]["spapi.getCompetitivePricing"]["ok"] >= 50
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


# -- scripts/run, as an operator runs it ------------------------------------------------------
# Each test gets a short home of its own under /tmp (a unix socket path must stay under ~107
# bytes) and its own sandbox port; the circusd it started is stopped by the pid in its pidfile.

VENV_NOTES = ("ecauto: installing", "ecauto: creating")  # scripts/_venv.sh on first use


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="ec "))  # a space in every home: it must not matter
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def home(short_tmp: Path, reaper: Reaper) -> Iterator[Path]:
    """The home a test gives scripts/run; whatever it started there is stopped after."""
    h = short_tmp / "my home"
    try:
        yield h
    finally:
        stop_started(h, reaper)


@pytest.fixture
def cfg(short_tmp: Path) -> Path:
    return write_config(short_tmp / "ecauto.toml", free_port(), products=100, listings=10)


def run(
    home: Path, config: Path, *args: str, root: Path = REPO, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(root / "scripts" / "run"), *args],
        env={**instance_env(home, config), **env},
        cwd=home.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )


def said(res: subprocess.CompletedProcess[str]) -> list[str]:
    """What scripts/run said on stderr, without the venv's first-use notes."""
    return [ln for ln in res.stderr.splitlines() if ln.strip() and not ln.startswith(VENV_NOTES)]


def stop_started(home: Path, reaper: Reaper) -> None:
    """Stop the instance `scripts/run --daemon` left: circusd by its pidfile, then its children."""
    try:
        pid = int((home / "circusd.pid").read_text().strip())
    except (OSError, ValueError):
        return
    reaper.track_tree(pid)
    try:
        Control(f"ipc://{home}/circus/ctl.sock", timeout_s=2.0, tries=2).quit()
    except CircusError:
        pass
    wait_for(lambda: not alive(pid), 60, "circusd to quit")
    reaper.reap()


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def copy_root(root: Path, edit: Callable[[str], str]) -> Path:
    """The repository with its circus.ini edited: the rest linked, the venv shared."""
    root.mkdir()
    for name in ("scripts", "ecauto", "watchdog", "pyproject.toml", ".venv"):
        (root / name).symlink_to(REPO / name)
    (root / "circus.ini").write_text(edit((REPO / "circus.ini").read_text()))
    return root


def test_run_refuses_a_bad_config_key_with_the_loaders_line_and_starts_nothing(
    home: Path, cfg: Path
) -> None:
    cfg.write_text(cfg.read_text().replace("hourly_cap = 3600", "hourly_cpa = 3600", 1))
    with pytest.raises(config.ConfigError) as e:
        config.load(cfg)
    res = run(home, cfg, "--daemon")
    assert res.returncode == 1
    assert said(res) == [f"ecauto: {e.value}"]
    assert not home.exists()  # nothing started, nothing created


def test_run_daemon_with_a_space_in_the_home_waits_for_every_daemon_to_beat(
    home: Path, cfg: Path
) -> None:
    assert " " in str(home)
    res = run(home, cfg, "--daemon")
    assert res.returncode == 0, res.stderr
    assert said(res) == [], res.stderr
    assert "each daemon beating" in res.stdout
    ctl = Control(f"ipc://{home}/circus/ctl.sock", timeout_s=2.0)
    for name in (*DAEMONS, "watchdog"):
        (pid,) = ctl.pids(name)
        hb = read_hb(home, name)
        assert hb is not None and hb.pid == pid, name
        cmdline = psutil.Process(pid).cmdline()
        assert cmdline[cmdline.index("--home") + 1] == str(home)
    assert len(ctl.pids("sandbox")) == 1


def test_run_daemon_names_the_daemon_that_cannot_start_and_its_last_log_line(
    home: Path, cfg: Path, short_tmp: Path
) -> None:
    root = copy_root(
        short_tmp / "repo",
        lambda t: t.replace("--platform ebay --home", "--platform ebay --bogus --home"),
    )
    res = run(home, cfg, "--daemon", root=root, ECAUTO_START_TIMEOUT="20")
    assert res.returncode == 1
    (line,) = said(res)
    assert line.startswith("ecauto: upload-ebay does not work 20s after the start"), line
    assert "unrecognized arguments: --bogus" in line, line


def test_run_refuses_a_home_too_long_for_a_unix_socket_in_one_line(
    short_tmp: Path, cfg: Path, reaper: Reaper
) -> None:
    home = short_tmp / ("h" * (120 - len(str(short_tmp)) - 1))
    assert len(str(home)) == 120
    try:
        res = run(home, cfg, "--daemon")
        assert res.returncode == 1
        (line,) = said(res)
        assert "a unix socket allows" in line and "ECAUTO_HOME" in line, line
        assert not home.exists()
    finally:
        stop_started(home, reaper)


def _hb(pid: int, beat_at: float, phase: Phase = Phase.SLEEPING) -> Heartbeat:
    return Heartbeat(name="d", pid=pid, create_time=1.0, beat_at=beat_at, beat_s=1.0, phase=phase)


# (what circusd and the heartbeat show, keeps a heartbeat, the phrase or None); started at 100.
NOT_WORKING = [
    (Seen("missing"), True, "circusd has no such watcher"),
    (Seen("stopped"), True, "circusd reports it stopped"),
    (Seen("active", (), False), True, "it keeps exiting"),
    (Seen("active", (7,), False), True, "it keeps exiting"),  # a zombie not yet reaped
    (Seen("active", (7,), True), True, "pid 7 has written no heartbeat"),
    (Seen("active", (7,), True, heartbeat=_hb(7, 99.0)), True, "no heartbeat since"),
    (Seen("active", (7,), True, heartbeat=_hb(6, 101.0)), True, "from pid 6, not from pid 7"),
    (Seen("active", (7,), True, heartbeat=_hb(7, 101, Phase.STARTING)), True, "not finished"),
    (Seen("active", (7,), True, heartbeat=_hb(7, 101, Phase.STOPPING)), True, "is stopping"),
    (Seen("active", (7,), True, heartbeat=_hb(7, 101, Phase.WORKING)), True, None),
    (Seen("active", (7,), True, heartbeat=_hb(7, 101)), True, None),
    (Seen("active", (7,), True, pid_since=109.0), False, "has not lasted 3s"),
    (Seen("active", (7,), True, pid_since=105.0), False, None),
]


@pytest.mark.parametrize(("seen", "beats", "want"), NOT_WORKING)
def test_not_working_table(seen: Seen, beats: bool, want: str | None) -> None:
    got = not_working(seen, beats, started_at=100.0, now=110.0)
    assert (got is None) == (want is None), got
    if want is not None:
        assert got is not None and want in got
