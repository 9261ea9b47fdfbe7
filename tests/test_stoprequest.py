"""The stop request's file protocol, with real files and this test's own process: who may be
asked (only the very process that armed the record), and that nothing left behind stops a new
daemon.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import psutil
import pytest

from ecauto.daemon import stoprequest
from ecauto.daemon.stoprequest import ARMED, REQUESTED, Listener, Record

NAME = "upload-base"
ME = os.getpid()
MY_START = psutil.Process().create_time()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "circus").mkdir(mode=0o700)
    return tmp_path


def listener(home: Path, create_time: float = MY_START) -> Listener:
    return Listener(home, NAME, ME, create_time, min_gap_s=0.0)


def test_an_armed_daemon_is_asked_once_and_sees_it(home: Path) -> None:
    me = listener(home).arm(now=100.0)
    assert not me.asked()
    assert stoprequest.request(home, NAME, ME, 15, now=101.0)
    assert me.asked() and me.request is not None and me.request.signum == 15
    rec = stoprequest.read(home, NAME)
    assert rec is not None and (rec.state, rec.pid, rec.at) == (REQUESTED, ME, 101.0)
    assert stat.S_IMODE(stoprequest.path(home, NAME).stat().st_mode) == 0o600
    assert stoprequest.request(home, NAME, ME, 15, now=102.0)  # a second ask changes nothing
    assert (stoprequest.read(home, NAME) or rec).at == 101.0
    me.close()
    assert not stoprequest.path(home, NAME).exists()


def test_what_does_not_listen_is_not_asked(home: Path) -> None:
    # No record (the sandbox, a daemon still importing): it must be signalled
    assert not stoprequest.request(home, NAME, ME, 15, now=1.0)
    # A record armed by an earlier process that had this pid: not this process
    Listener(home, NAME, ME, MY_START - 500).arm(now=1.0)
    assert not stoprequest.request(home, NAME, ME, 15, now=2.0)
    assert (stoprequest.read(home, NAME) or Record("", 1, 0, "", 0)).state == ARMED
    # A record armed by a process that is gone
    dead = psutil.Popen(["true"])
    dead.wait()
    Listener(home, NAME, dead.pid, MY_START).arm(now=1.0)
    assert not stoprequest.request(home, NAME, dead.pid, 15, now=2.0)


@pytest.mark.parametrize(
    "left",
    [
        {"pid": ME, "create_time": MY_START - 500},  # a previous process with this pid
        {"pid": 1, "create_time": MY_START},  # another process
    ],
)
def test_a_request_left_behind_never_stops_a_new_daemon(home: Path, left: dict) -> None:
    stale = Record(NAME, left["pid"], left["create_time"], REQUESTED, 1.0, 15)
    stoprequest.path(home, NAME).write_text(json.dumps(stale.to_json()))
    me = listener(home)
    assert not me.asked()  # before arming: it is not for this process
    me.arm(now=2.0)  # arming replaces it
    assert not me.asked()
    assert (stoprequest.read(home, NAME) or stale).state == ARMED


def test_close_leaves_a_successors_record_alone(home: Path) -> None:
    me = listener(home).arm(now=1.0)
    Listener(home, NAME, 1, 123.0).arm(now=2.0)  # a successor armed its own meanwhile
    me.close()
    assert (stoprequest.read(home, NAME) or Record("", 1, 0, "", 0)).pid == 1


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"[]", b'{"schema": 1}', b'{"schema": 9, "state": "requested"}', b"\xff" * 10],
)
def test_garbage_is_no_request(home: Path, raw: bytes) -> None:
    me = listener(home).arm(now=1.0)
    stoprequest.path(home, NAME).write_bytes(raw)
    assert not me.asked()
    assert not stoprequest.request(home, NAME, ME, 15, now=2.0)
