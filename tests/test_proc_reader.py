"""The watchdog's /proc reader answers as psutil does (Linux), so what the executor re-reads through
psutil before a signal compares equal to what the snapshot saw; and the psutil reader it keeps
for other systems gives the collector the same processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from support import Reaper, wait_for

from watchdog import collect

pytestmark = [
    pytest.mark.process,
    pytest.mark.timeout(60),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's"),
]


def answers(p: collect._Proc | collect._PsutilProc) -> tuple[object, ...]:
    with p.oneshot():
        return (
            p.name(),
            p.ppid(),
            p.uid(),
            p.create_time(),
            p.cmdline(),
            p.cwd(),
            p.exe(),
            p.environ(),
        )


def test_the_proc_reader_and_psutil_agree_on_a_process(tmp_path: Path, reaper: Reaper) -> None:
    # Spaces, a tab and non-ASCII in the command line and the environment, a cwd of its own.
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "a b", "tab\there", "é"],
        cwd=tmp_path,
        env={**os.environ, "ECAUTO_TEST_VALUE": "x=y z é"},
    )
    reaper.track(child.pid)
    wait_for(lambda: "a b" in psutil.Process(child.pid).cmdline(), 10, "the child's exec")
    for pid in (child.pid, os.getpid()):
        ours = answers(collect._Proc(pid))
        theirs = answers(collect._PsutilProc(pid))
        assert ours == theirs
        assert ours[3] == psutil.Process(pid).create_time()
    assert answers(collect._Proc(child.pid))[5] == str(tmp_path)
    child.kill()
    child.wait()
    with pytest.raises(OSError):
        collect._Proc(child.pid).create_time()  # gone: an OSError, as _read expects


def test_the_process_table_is_the_same_through_psutil(monkeypatch: pytest.MonkeyPatch) -> None:
    def mine(pid: int, name: str, pgid: int | None) -> bool:
        return pid == os.getpid()

    parents, rows = collect.list_processes(mine)
    monkeypatch.setattr(collect, "_LINUX", False)
    parents_ps, rows_ps = collect.list_processes(mine)
    assert parents[os.getpid()] == parents_ps[os.getpid()] == os.getppid()
    assert [(r.pid, r.ppid, r.name, r.status) for r in rows] == [
        (r.pid, r.ppid, r.name, r.status) for r in rows_ps
    ]
