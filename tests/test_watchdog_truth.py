"""`watchdog report` tells the truth about the work, against a real instance: a corrupted database,
a daemon whose every cycle fails, and a frozen circusd whose daemons still run and beat."""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

import psutil
import pytest
from support import Instance, Reaper, free_port, send_signal, wait_for, write_config

pytestmark = [pytest.mark.process, pytest.mark.timeout(180)]

# No watchdog loop (the test looks with `watchdog report` itself); a long grace so that a slow
# moment of a loaded machine is not taken for a hung daemon.
WATCHDOG = """
[watchdog]
min_grace_s = 30
start_grace_s = 30
circus_timeout_s = 1
"""


def report(inst: Instance) -> tuple[int, dict[str, Any]]:
    return inst.watchdog("report")


def row(rep: dict[str, Any], name: str) -> dict[str, Any]:
    return next(d for d in rep["daemons"] if d["name"] == name)


def findings(rep: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [f for f in rep["findings"] if f["kind"] == kind]


def with_args(watcher: str, extra: str) -> Any:
    """An ini edit that appends `extra` to one watcher's command line."""

    def edit(text: str) -> str:
        pattern = rf"(?ms)(^\[watcher:{re.escape(watcher)}\]\ncmd = [^\n]*\nargs = [^\n]*)"
        out, n = re.subn(pattern, lambda m: m.group(1) + " " + extra, text)
        assert n == 1, f"no [watcher:{watcher}] cmd and args in circus.ini"
        return out

    return edit


def corrupt(path: Path) -> None:
    """Overwrite pages in the middle of the file, as a failing disk or a stray write would."""
    size = path.stat().st_size
    assert size > 64 * 1024, f"{path} is too small to corrupt in the middle ({size} bytes)"
    with open(path, "r+b") as f:
        f.seek(size // 2 - 16384)
        f.write(b"\xa5" * 32768)


def test_a_corrupt_database_is_critical_with_sqlites_words_and_the_daemons_error(
    tmp_path: Path, reaper: Reaper
) -> None:
    inst = Instance(
        tmp_path,
        reaper,
        config_extra=WATCHDOG,
        watchdog=False,
        ini_edit=with_args("sync-inventory", "--interval 2"),
    )
    try:
        inst.start()
        db = inst.home / "ecauto.db"
        wait_for(lambda: row(report(inst)[1], "sync-inventory")["last_success_at"], 60, "a sync")
        rc, rep = report(inst)
        assert rc == 0 and not findings(rep, "db_corrupt"), rep["findings"]
        corrupt(db)

        def broken() -> tuple[int, dict[str, Any]] | None:
            rc, rep = report(inst)
            errors = [d.get("last_error") or "" for d in rep["daemons"]]
            if findings(rep, "db_corrupt") and any("malformed" in e for e in errors):
                return rc, rep
            return None

        rc, rep = wait_for(broken, 90, "the report to see the database and a daemon fail")
        assert rc == 2
        (f,) = findings(rep, "db_corrupt")
        assert f["severity"] == "critical" and f["daemon"] == "ecauto.db"
        assert "integrity check" in f["summary"] and f["details"]["sqlite says"] in f["summary"]
        assert rep["status"] == "critical"
        assert not (inst.home / "watchdog" / "db_check.json").exists(), "report writes nothing"
    finally:
        inst.stop()


def test_a_daemon_failing_every_cycle_is_reported_with_its_last_error(
    tmp_path: Path, reaper: Reaper
) -> None:
    # sync-inventory alone talks to a port nobody listens on: every batch, so every cycle, fails.
    closed = free_port()
    elsewhere = write_config(tmp_path / "closed.toml", closed, products=20, listings=5)
    elsewhere.write_text(elsewhere.read_text() + WATCHDOG)
    inst = Instance(
        tmp_path,
        reaper,
        config_extra=WATCHDOG,
        watchdog=False,
        products=20,
        listings=5,
        ini_edit=with_args("sync-inventory", f"--interval 1 --config {elsewhere}"),
    )
    try:
        inst.start()

        def failing() -> tuple[int, dict[str, Any]] | None:
            rc, rep = report(inst)
            return (rc, rep) if findings(rep, "failing") else None

        rc, rep = wait_for(failing, 120, "a failing finding for sync-inventory")
        (f,) = findings(rep, "failing")
        assert f["daemon"] == "sync-inventory" and f["severity"] in ("warning", "critical")
        assert rc in (1, 2) and rep["status"] in ("warning", "critical")
        r = row(rep, "sync-inventory")
        assert r["state"] == "failing" and r["last_error"], r
        assert r["last_error"] in f["summary"], "the daemon's own last error is quoted"
        assert f["details"]["last error"] == r["last_error"]
        # The others work: nothing is said of them.
        assert {x["daemon"] for x in rep["findings"] if x["severity"] != "info"} == {
            "sync-inventory"
        }
    finally:
        inst.stop()


def test_with_circusd_frozen_the_daemons_that_beat_are_shown_running(
    tmp_path: Path, reaper: Reaper
) -> None:
    inst = Instance(tmp_path, reaper, config_extra=WATCHDOG, watchdog=False)
    frozen = False
    try:
        inst.start()
        assert inst.circusd is not None
        pids = {n: inst.pid(n) for n in ("upload-base", "sync-inventory")}
        send_signal(inst.circusd.pid, signal.SIGSTOP)
        frozen = True
        wait_for(
            lambda: psutil.Process(inst.circusd.pid).status() == psutil.STATUS_STOPPED,  # type: ignore[union-attr]
            10,
            "circusd stopped",
        )
        rc, rep = report(inst)
        assert rep["circusd"]["state"] == "not answering", rep["circusd"]
        assert rc == 2  # circusd itself not answering is critical
        for name, pid in pids.items():
            r = row(rep, name)
            assert r["state"] == "running" and r["pid"] == pid, r
        assert all(r["state"] != "unknown" for r in rep["daemons"]), rep["daemons"]
    finally:
        if frozen and inst.circusd is not None:
            send_signal(inst.circusd.pid, signal.SIGCONT)
        inst.stop()
