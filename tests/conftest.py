from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support import Clock, Instance, Reaper, Sandbox  # noqa: E402


@pytest.fixture
def reaper() -> Iterator[Reaper]:
    r = Reaper()
    try:
        yield r
    finally:
        r.reap()


@pytest.fixture
def instance(tmp_path: Path, reaper: Reaper) -> Iterator[Instance]:
    """A started instance (all five watchers active, heartbeats fresh); stopped and reaped after."""
    with Instance(tmp_path, reaper) as inst:
        yield inst


# The alert tests' local Chatwork (an in-process sandbox) and their hand-moved clock.
@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    sb = Sandbox(tmp_path / "sandbox-home")
    try:
        yield sb
    finally:
        sb.server.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tiny_home(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs mounted as the home: filling it gives every write in the home a real
    ENOSPC, as a full disk does (needs root and mount; skipped where not permitted)."""
    home = tmp_path / "home"
    home.mkdir()
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(home)],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    try:
        yield home
    finally:
        subprocess.run(["umount", "-l", str(home)], check=False)
