"""The Windows venv launcher's process tree, built on Linux with real processes: circusd starts
`<instance>/.venv/Scripts/python.exe` (`support.venv_launcher`), which runs the interpreter as
its child with the same command line and waits. The pair is one copy of the daemon, and a
`watchdog run` started that way finds its circusd above the launcher."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from support import DAEMONS, Instance, Reaper, read_hb, venv_launcher, wait_for

pytestmark = [pytest.mark.process, pytest.mark.timeout(150)]

FAST = """
[watchdog]
interval_s = 1
copy_settle_s = 1
term_timeout_s = 5
"""


def launched(tmp_path: Path, watcher: str) -> tuple[Path, Callable[[str], str]]:
    """The launcher in the instance's venv (beside its circus.ini), and an ini edit that starts
    `watcher` through it instead of the interpreter."""
    exe = venv_launcher(tmp_path / ".venv")

    def edit(text: str) -> str:
        head = f"[watcher:{watcher}]\ncmd = $(circus.env.ECAUTO_PYTHON)\n"
        assert head in text
        return text.replace(head, f"[watcher:{watcher}]\ncmd = {exe}\n")

    return exe, edit


def pair(inst: Instance, watcher: str, exe: Path) -> tuple[psutil.Process, psutil.Process]:
    """The launcher circusd runs for `watcher`, and the interpreter under it."""
    launcher = psutil.Process(inst.pid(watcher))
    assert launcher.exe() == str(exe)
    (child,) = wait_for(launcher.children, 10, f"the interpreter under {watcher}'s launcher")
    inst.reaper.track(child.pid)
    assert child.cmdline()[1:] == launcher.cmdline()[1:]
    return launcher, child


def alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_daemon_under_a_venv_launcher_is_one_copy(tmp_path: Path, reaper: Reaper) -> None:
    exe, edit = launched(tmp_path, "sync-inventory")
    inst = Instance(tmp_path, reaper, config_extra=FAST, ini_edit=edit, watchdog=False)
    with inst:
        launcher, child = pair(inst, "sync-inventory", exe)
        hb = read_hb(inst.home, "sync-inventory")
        assert hb is not None and hb.pid == child.pid  # the daemon runs in the interpreter
        for _ in range(2):  # a second pass too: past copy_settle_s, nothing changes its mind
            rc, res = inst.watchdog("scan")
            assert rc == 0 and res["status"] == "ok", res["findings"]
        assert alive(launcher) and alive(child)
        rc, rep = inst.watchdog("report")
        row = next(r for r in rep["daemons"] if r["name"] == "sync-inventory")
        assert rc == 0 and row["state"] == "running", row


def test_watchdog_run_under_a_venv_launcher_stays_while_its_circusd_lives_and_leaves_after(
    tmp_path: Path, reaper: Reaper
) -> None:
    exe, edit = launched(tmp_path, "watchdog")
    inst = Instance(tmp_path, reaper, config_extra=FAST, ini_edit=edit)
    try:
        inst.start()
        launcher, dog = pair(inst, "watchdog", exe)
        daemons = [psutil.Process(inst.pid(n)) for n in ("sandbox", "dashboard", *DAEMONS)]

        # Pass after pass, the same watchdog: it does not take the launcher for a parent that
        # is no circusd, and leave (circusd would then start it again and again).
        first = read_hb(inst.home, "watchdog")
        assert first is not None and first.pid == dog.pid

        def passes() -> bool:
            hb = read_hb(inst.home, "watchdog")
            assert hb is not None and hb.pid == dog.pid, "the watchdog was started again"
            return hb.cycles >= first.cycles + 4

        wait_for(passes, 30, "four more passes of the same watchdog")
        assert alive(launcher) and alive(dog) and inst.pid("watchdog") == launcher.pid

        # Its circusd dies: the watchdog ends what it left behind, and leaves; its launcher
        # with it (it only waited for it).
        assert inst.circusd is not None
        os.kill(inst.circusd.pid, signal.SIGKILL)
        inst.circusd.wait(timeout=10)
        wait_for(lambda: not any(alive(p) for p in daemons), 30, "the orphans ended")
        wait_for(lambda: not alive(dog) and not alive(launcher), 30, "the watchdog gone")
        events = [
            json.loads(line)
            for line in (inst.home / "watchdog" / "events.jsonl").read_text().splitlines()
        ]
        ended = {e["daemon"] for e in events if e["kind"] == "orphan" and "ended" in e["result"]}
        assert ended == {"sandbox", "dashboard", *DAEMONS}, events
    finally:
        inst.stop()
