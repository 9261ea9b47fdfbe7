from __future__ import annotations

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
