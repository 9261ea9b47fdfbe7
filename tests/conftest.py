from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support import Instance, Reaper  # noqa: E402


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
    inst = Instance(tmp_path, reaper)
    try:
        inst.start()
        yield inst
    finally:
        inst.stop()
