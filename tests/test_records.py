"""Heartbeat and lock-owner records: round trips, and garbage that must be refused cleanly."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ecauto.daemon.heartbeat import Heartbeat, Phase, read_heartbeat, write_heartbeat
from ecauto.daemon.lock import LockOwner, read_owner

HB = Heartbeat(
    name="upload-base",
    pid=1234,
    create_time=1.5,
    beat_at=100.0,
    beat_s=10.0,
    phase=Phase.WORKING,
    home="/h",
    watcher="upload-base",
    wid=1,
    done=3,
    total=9,
    detail="listing 4 of 9",
    next_run_at=None,
    last_success_at=90.0,
    last_error="BASE: HTTP 500",
    cycles=2,
)


def test_heartbeat_round_trip(tmp_path: Path) -> None:
    p = tmp_path / "hb.json"
    write_heartbeat(p, HB)
    assert read_heartbeat(p) == HB
    assert json.loads(p.read_text())["schema"] == 1
    assert HB.age(now=112.0) == 12.0
    assert [f.name for f in tmp_path.iterdir()] == ["hb.json"]  # no temp file left behind


def test_lock_owner_round_trip(tmp_path: Path) -> None:
    owner = LockOwner("sync-inventory", 42, 3.25, "pc", ["python", "-m", "x"], 10.0, "/h")
    p = tmp_path / "x.lock"
    p.write_text(json.dumps(owner.to_json()))
    assert read_owner(p) == owner


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"schema": 1}', "missing field"),
        (b'{"schema": 2}', "unknown schema"),
        (b'{"schema": "1"}', "wrong type"),
        (b"x" * 70000, "too large"),
    ],
)
def test_garbage_is_a_value_error(tmp_path: Path, content: bytes, reason: str) -> None:
    for reader in (read_heartbeat, read_owner):
        p = tmp_path / "rec.json"
        p.write_bytes(content)
        with pytest.raises(ValueError, match=reason):
            reader(p)


def test_wrong_field_values_are_refused(tmp_path: Path) -> None:
    good = HB.to_json()
    for key, value in [
        ("pid", -1),
        ("pid", 0),
        ("pid", "12"),
        ("pid", True),
        ("phase", "dancing"),
        ("beat_at", "soon"),
        ("name", 3),
        ("pid", 2**40),
    ]:
        p = tmp_path / "hb.json"
        p.write_text(json.dumps(dict(good, **{key: value})))
        with pytest.raises(ValueError):
            read_heartbeat(p)
    p.write_text(json.dumps(dict(good, beat_at=float("nan"))).replace("NaN", "NaN"))
    with pytest.raises(ValueError):
        read_heartbeat(p)


def test_a_symlink_or_folder_is_not_read(tmp_path: Path) -> None:
    target = tmp_path / "real.json"
    write_heartbeat(target, HB)
    link = tmp_path / "link.json"
    os.symlink(target, link)
    with pytest.raises(ValueError, match="not a regular file"):
        read_heartbeat(link)
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(ValueError, match="not a regular file"):
        read_heartbeat(tmp_path / "dir.json")
    with pytest.raises(FileNotFoundError):
        read_heartbeat(tmp_path / "absent.json")
