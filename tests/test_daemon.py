"""The daemon base seen from outside: real daemon processes against a real sandbox process."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import requests
from support import (
    Reaper,
    Rig,
    fill,
    free_port,
    instance_env,
    read_hb,
    read_lock,
    sandbox_headers,
    wait_for,
    write_config,
)

from ecauto import config
from ecauto.clients.base import BaseClient
from ecauto.config import DEFAULT_CONFIG_NAME, MAX_CONFIG_BYTES
from ecauto.credentials import StaticToken
from ecauto.daemon import early
from ecauto.daemon.early import home_of
from ecauto.daemon.lock import LockOwner, SingletonLock, is_held
from ecauto.home import Home, resolve_home
from ecauto.quota.shared import QuotaStore
from ecauto.store import Store

pytestmark = [pytest.mark.process, pytest.mark.timeout(90)]


@pytest.fixture
def rig(tmp_path: Path, reaper: Reaper) -> Rig:
    return Rig(tmp_path, reaper)


def test_sigterm_finishes_writes_stopping_releases_lock_exit_0(rig: Rig) -> None:
    p = rig.upload("base", "--interval", "1")
    wait_for(
        lambda: (hb := read_hb(rig.home, "upload-base")) and hb.cycles >= 1, 30, "a first cycle"
    )
    assert (read_lock(rig.home, "upload-base") or {}).get("pid") == p.pid
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=20) == 0
    hb = read_hb(rig.home, "upload-base")
    assert hb is not None and hb.phase == "stopping" and hb.pid == p.pid
    assert not (rig.home / "locks" / "upload-base.lock").exists()
    err = p.stderr.read() if p.stderr else ""
    assert "stopped exit=0" in err and f"upload-base[{p.pid}]" in err


def test_a_killed_daemon_leaves_a_lock_that_does_not_block(rig: Rig) -> None:
    first = rig.upload("ebay")
    wait_for(
        lambda: (read_lock(rig.home, "upload-ebay") or {}).get("pid") == first.pid, 30, "the lock"
    )
    first.kill()
    first.wait(timeout=10)
    assert (read_lock(rig.home, "upload-ebay") or {}).get("pid") == first.pid  # left behind
    second = rig.upload("ebay")
    wait_for(
        lambda: (read_lock(rig.home, "upload-ebay") or {}).get("pid") == second.pid,
        30,
        "the next start to take the lock",
    )
    wait_for(
        lambda: (hb := read_hb(rig.home, "upload-ebay")) and hb.pid == second.pid,
        30,
        "its heartbeat",
    )
    assert second.poll() is None


def test_second_copy_exits_75_with_one_line_and_touches_nothing(rig: Rig) -> None:
    first = rig.upload("yahoo")
    wait_for(lambda: (hb := read_hb(rig.home, "upload-yahoo")) and hb.cycles >= 1, 30, "a cycle")
    lock = (rig.home / "locks" / "upload-yahoo.lock").read_bytes()
    res = rig.run("ecauto.daemons.upload", "--platform", "yahoo")
    assert res.returncode == 75
    assert res.stderr.strip().count("\n") == 0 and f"pid {first.pid}" in res.stderr
    assert first.poll() is None
    assert (rig.home / "locks" / "upload-yahoo.lock").read_bytes() == lock
    assert (read_hb(rig.home, "upload-yahoo") or object()).pid == first.pid  # type: ignore[attr-defined]


def test_once_runs_one_cycle_and_exits_0(rig: Rig) -> None:
    res = rig.run("ecauto.daemons.sync", "--once")
    assert res.returncode == 0, res.stderr
    hb = read_hb(rig.home, "sync-inventory")
    assert hb is not None and hb.cycles == 1 and hb.phase == "stopping"
    assert hb.total > 0 and hb.done <= hb.total  # the last phase's progress (price pushes)
    db = sqlite3.connect(rig.home / "ecauto.db")
    assert db.execute("SELECT state, items FROM sync_runs").fetchall() == [("complete", 1000)]
    assert rig.stats()["throttled_total"] == 0


def test_a_bad_config_stops_the_start_with_one_line(rig: Rig) -> None:
    rig.config.write_text(rig.config.read_text() + "\n[upload.base.extra]\n")
    res = rig.run("ecauto.daemons.upload", "--platform", "base")
    assert res.returncode == 78
    assert res.stderr.strip().count("\n") == 0 and "upload.base.extra" in res.stderr
    assert not (rig.home / "locks" / "upload-base.lock").exists()


def test_the_config_line_passes_the_redaction(rig: Rig) -> None:
    """ecauto.toml quotes a bad value back; a credential pasted there, or a terminal escape,
    must not reach stderr (a terminal, or Circus's log file) as it is."""
    secret = "base-refresh-5f0c2e9a71"
    rig.config.write_text(
        rig.config.read_text().replace(
            "interval_s = 2\n", f'interval_s = "{secret}\\u001b[2J"\n', 1
        )
    )
    rig.env["BASE_REFRESH_TOKEN"] = secret
    res = rig.run("ecauto.daemons.upload", "--platform", "base")
    assert res.returncode == 78
    assert "upload.base.interval_s" in res.stderr and "***" in res.stderr, res.stderr
    assert secret not in res.stderr and "\x1b" not in res.stderr


def test_a_bad_argument_line_passes_the_redaction(rig: Rig) -> None:
    secret = "ebay-access-2b7d90c4e1"
    rig.env["EBAY_ACCESS_TOKEN"] = secret
    res = rig.run("ecauto.daemons.upload", "--platform", "base", "--interval", secret)
    assert res.returncode == 2 and "--interval" in res.stderr and "***" in res.stderr
    assert secret not in res.stderr


def test_a_full_disk_at_the_lock_is_one_line_and_leaves_nothing(
    tmp_path: Path, tiny_home: Path
) -> None:
    """The lock's own write hits ENOSPC (a filled tmpfs home): one line and exit 1, no
    traceback; the lock let go, so once space is back the next start is clean."""
    config = write_config(tmp_path / "ecauto.toml", free_port())
    env = instance_env(tiny_home, config)
    Home(tiny_home).ensure()
    # The quota database is opened as the daemon is built, before its lock: kept open here, its
    # -wal and -shm files need no new space.
    quota = QuotaStore(tiny_home / "quota.db")
    fill(tiny_home / "filler")
    try:
        res = subprocess.run(
            [sys.executable, "-m", "ecauto.daemons.upload", "--platform", "base"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        quota.close()
    assert res.returncode == 1, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "No space left on device" in lines[0], res.stderr
    assert "upload-base: not started: cannot write" in lines[0]
    assert not is_held(tiny_home / "locks" / "upload-base.lock")


def test_a_listing_caught_mid_upload_is_neither_lost_nor_sent_twice(rig: Rig) -> None:
    # Given two listings a crash left 'uploading': one reached BASE before the crash, one did not
    assert rig.run("ecauto.daemons.upload", "--platform", "base", "--once").returncode == 0
    store = Store(rig.home / "ecauto.db")
    due = store.due("base", now=1e12, limit=2)
    reached, lost = due[0], due[1]
    BaseClient(rig.url, StaticToken("t"), 5).upload(reached.sku, reached.payload)
    for listing in (reached, lost):
        assert store.mark_uploading(listing.id, now=0)
    # When the daemon starts again
    assert rig.run("ecauto.daemons.upload", "--platform", "base", "--once").returncode == 0
    # Then both are uploaded, and BASE saw each of them created once
    states = dict(
        store.db.execute(
            "SELECT id, state FROM listings WHERE id IN (?, ?)", (reached.id, lost.id)
        ).fetchall()
    )
    assert states == {reached.id: "uploaded", lost.id: "uploaded"}
    assert rig.stats()["listings"]["base"]["duplicates"] == 0
    store.close()


def test_a_second_signal_leaves_at_once(tmp_path: Path, reaper: Reaper) -> None:
    rig = Rig(tmp_path, reaper)
    # Given the sync inside a slow SP-API call (the sandbox holds the answer for 30 s)
    requests.post(
        f"{rig.url}/_sandbox/faults",
        json={"endpoint": "spapi", "mode": "slow", "seconds": 60, "delay_s": 30},
        headers=sandbox_headers(rig.home),
        timeout=5,
    )
    p = rig.daemon("ecauto.daemons.sync")
    wait_for(
        lambda: rig.stats()["endpoints"]["spapi.getCompetitivePricing"]["requests"] >= 1,
        60,
        "the sync's first SP-API call to be held at the sandbox",
    )
    # When it gets SIGTERM, it keeps finishing the batch in hand
    p.send_signal(signal.SIGTERM)
    with pytest.raises(subprocess.TimeoutExpired):
        p.wait(timeout=1.0)
    # and a second SIGTERM makes it leave at once, lock released
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=5) == 130
    assert not (rig.home / "locks" / "sync-inventory.lock").exists()
    assert not psutil.pid_exists(p.pid) or psutil.Process(p.pid).status() == "zombie"


@pytest.mark.parametrize(
    "module, args, name, lang",
    [
        ("ecauto.daemons.sync", [], "sync-inventory", None),
        ("ecauto.daemons.upload", ["--platform", "ebay"], "upload-ebay", "ja"),
    ],
)
def test_a_refused_copy_leaves_before_its_heavy_imports(
    tmp_path: Path, module: str, args: list[str], name: str, lang: str | None
) -> None:
    """A copy started while its daemon runs used to import requests, psutil and SQLite first
    (about 0.5 s idle, over the watchdog's 3 s settle on a busy machine, which then ended it
    with SIGTERM before it could say why). It must find the lock taken with the stdlib alone,
    and say so in the config's language."""
    if lang:
        (tmp_path / "ecauto.toml").write_text(f'[ui]\nlanguage = "{lang}"\n', encoding="utf-8")
    home = Home(tmp_path / "home").ensure()
    lock = SingletonLock(
        home.lock_path(name), LockOwner.for_this_process(name, str(home.root), 0.0)
    )
    lock.acquire()
    try:
        res = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", module, "--home", str(home.root), *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        lock.release()
    imported = {ln.split("|")[-1].strip() for ln in res.stderr.splitlines() if "import time:" in ln}
    said = [ln for ln in res.stderr.splitlines() if ln.strip() and "import time:" not in ln]
    assert res.returncode == 75, res.stderr[-2000:]
    if lang == "ja":
        expected = (
            f"{name}: 起動しませんでした: {name} はすでに pid {os.getpid()} で動いています"
            f"（ロック {home.lock_path(name)}）"
        )
    else:
        expected = (
            f"{name}: not started: {name} is already running as pid {os.getpid()};"
            f" lock {home.lock_path(name)}"
        )
    assert said == [expected]
    assert not imported & {"requests", "psutil", "sqlite3", "ecauto.config", "ecauto.store"}


def test_the_early_look_reads_the_language_as_the_config_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert (early.CONFIG_NAME, early.MAX_CONFIG_BYTES) == (DEFAULT_CONFIG_NAME, MAX_CONFIG_BYTES)
    (tmp_path / "sub").mkdir()
    files = {
        "ja.toml": '[ui]\nlanguage = "ja"\n',
        "en.toml": '[ui]\nlanguage = "en"\n',
        "sub/x.toml": '[ui]\nlanguage = "ja"\n',
        "bad-language.toml": '[ui]\nlanguage = "fr"\n',  # the full start refuses it
        "broken.toml": '[ui\nlanguage = "ja"\n',
        "not-utf8.toml": b"[ui]\nlanguage = '\xff'\n",
        "ja-rest-wrong.toml": '[ui]\nlanguage = "ja"\n[watchdog]\ninterval_s = "x"\n',
    }
    for name, text in files.items():
        data = text.encode() if isinstance(text, str) else text
        (tmp_path / name).write_bytes(data)
    for name in [*files, "missing.toml", str(tmp_path / "ja.toml"), "sub"]:
        try:
            want = config.load(name).ui.language
        except config.ConfigError as e:
            want = e.language  # what the full start's line is said in
        assert early.language_of(name) == want, name
    monkeypatch.setenv("ECAUTO_CONFIG", "ja.toml")
    assert early.language_of(None) == "ja" == config.load().ui.language
    monkeypatch.delenv("ECAUTO_CONFIG")
    (tmp_path / "ecauto.toml").write_text('[ui]\nlanguage = "ja"\n', encoding="utf-8")
    assert early.language_of(None) == "ja" == config.load().ui.language


def test_the_early_look_resolves_the_home_as_the_daemon_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for env in ("", "elsewhere/h", "~/x"):
        monkeypatch.setenv("ECAUTO_HOME", env)
        for explicit in (None, "rel/../home", "~/y", str(tmp_path / "abs")):
            assert home_of(explicit) == resolve_home(explicit)
