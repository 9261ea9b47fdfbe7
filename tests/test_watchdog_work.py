"""The work checks, table-driven: failing cycles, database verdicts, who runs while circusd is
silent; and the database check itself against real SQLite files."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from ecauto.daemon.heartbeat import Heartbeat, Phase
from ecauto.home import Home
from watchdog.collect import check_database, check_databases
from watchdog.findings import Kind, Severity
from watchdog.snapshot import (
    CircusView,
    DbView,
    HeartbeatView,
    ProcInfo,
    Role,
    Snapshot,
    WatcherView,
)
from watchdog.work import check, failed_in_a_row, failing, seen_running

HOME = "/srv/ecauto/var"
NOW = 1_800_000_000.0
UID = 1000
CIRCUSD = 100
ERR = "cycle failed: database disk image is malformed"


def hb(
    name: str = "upload-base",
    pid: int = 202,
    *,
    ok_ago: float | None = 600.0,
    err_ago: float | None = None,
    failures: int | None = 0,
    cycles: int = 10,
    phase: Phase = Phase.SLEEPING,
) -> Heartbeat:
    return Heartbeat(
        name=name,
        pid=pid,
        create_time=NOW - 3600,
        beat_at=NOW - 1,
        beat_s=1.0,
        phase=phase,
        home=HOME,
        started_at=NOW - 3600,
        last_success_at=None if ok_ago is None else NOW - ok_ago,
        last_error=None if err_ago is None else ERR,
        last_error_at=None if err_ago is None else NOW - err_ago,
        cycles=cycles,
        failures=failures,
    )


@pytest.mark.parametrize(
    ("daemon", "beat", "want"),
    [
        ("upload-base", hb(), None),  # never failed
        ("upload-base", hb(ok_ago=5, err_ago=60, failures=0), None),  # failed once, then fine
        ("upload-base", hb(err_ago=5, failures=2), None),  # two in a row: an API hiccup
        ("upload-base", hb(err_ago=5, failures=3), Severity.WARNING),
        ("upload-base", hb(err_ago=5, failures=9), Severity.WARNING),
        ("upload-base", hb(err_ago=5, failures=10), Severity.CRITICAL),
        ("upload-base", hb(ok_ago=None, err_ago=5, failures=12), Severity.CRITICAL),
        # sync-inventory runs every few hours: one failed cycle already matters
        ("sync-inventory", hb("sync-inventory", err_ago=5, failures=1), Severity.WARNING),
        ("sync-inventory", hb("sync-inventory", err_ago=5, failures=3), Severity.CRITICAL),
        # a writer older than the counter: the error newer than the success is one failure
        ("sync-inventory", hb("sync-inventory", err_ago=5, failures=None), Severity.WARNING),
        ("upload-base", hb(err_ago=5, failures=None), None),
        # today's writer, an error inside a cycle still running (a batch's 500): no cycle failed
        ("sync-inventory", hb("sync-inventory", err_ago=5, failures=0), None),
        # on its way out: not judged here
        ("upload-base", hb(err_ago=5, failures=20, phase=Phase.STOPPING), None),
        ("upload-base", None, None),
    ],
)
def test_failing_cycles(daemon: str, beat: Heartbeat | None, want: Severity | None) -> None:
    f = failing(daemon, beat, NOW)
    if want is None:
        assert f is None
        return
    assert f is not None and f.kind is Kind.FAILING and f.severity is want
    assert ERR in f.summary, "the daemon's own last error is quoted"
    assert f.details["last error"] == ERR


def test_failed_in_a_row_never_counts_a_success_after_the_error() -> None:
    assert failed_in_a_row(hb(ok_ago=1, err_ago=2, failures=7)) == 0
    assert failed_in_a_row(hb(ok_ago=None, err_ago=2, failures=0, cycles=0)) == 0


def proc(pid: int, daemon: str | None, ppid: int = CIRCUSD, **kw: object) -> ProcInfo:
    return ProcInfo(
        pid=pid,
        create_time=NOW - 3600,
        ppid=ppid,
        uid=UID,
        pgid=pid,
        status=str(kw.get("status", "sleeping")),
        name="python",
        cmdline=("python", "-m", "x"),
        home=HOME,
        daemon=daemon,
        role=Role.DAEMON if daemon else Role.OTHER,
    )


def snap(
    procs: list[ProcInfo], beats: dict[str, Heartbeat | None], dbs: tuple[DbView, ...] = ()
) -> Snapshot:
    circusd = replace(proc(CIRCUSD, None, ppid=1), role=Role.CIRCUSD, name="circusd")
    return Snapshot(
        now=NOW,
        home=HOME,
        mode="sandbox",
        my_pid=50,
        my_uid=UID,
        my_ancestors=(40, 1),
        watchers={n: WatcherView(n, n) for n in ("sandbox", "upload-base", "sync-inventory")},
        procs=(circusd, *procs),
        circus=CircusView(False, "circusd does not answer"),
        heartbeats={
            n: HeartbeatView(n, b, None if b else "missing", NOW - 1) for n, b in beats.items()
        },
        databases=dbs,
    )


@pytest.mark.parametrize(
    ("procs", "beat", "want"),
    [
        ([proc(202, "upload-base")], hb(), 202),  # runs under circusd and beats
        ([proc(202, "upload-base", ppid=1)], hb(), None),  # not a child of circusd
        ([proc(202, "upload-base"), proc(203, "upload-base")], hb(), None),  # two: cannot say
        ([proc(202, "upload-base", status="stopped")], hb(), None),  # frozen itself
        ([proc(202, "upload-base")], None, None),  # no heartbeat
        ([proc(202, "upload-base")], hb(pid=999), None),  # the heartbeat is another's
        ([proc(202, "upload-base")], hb(phase=Phase.STOPPING), None),
        (  # a venv launcher: the interpreter it started beats for it
            [replace(proc(202, "upload-base"), launcher=True), proc(302, "upload-base", ppid=202)],
            hb(pid=302),
            202,
        ),
        # a child of one that is no launcher is not the copy circusd started
        ([proc(202, "upload-base"), proc(302, "upload-base", ppid=202)], hb(pid=302), None),
        ([], hb(), None),
    ],
)
def test_seen_running_while_circusd_is_silent(
    procs: list[ProcInfo], beat: Heartbeat | None, want: int | None
) -> None:
    found = seen_running(snap(procs, {"upload-base": beat}), "upload-base")
    assert (found.pid if found else None) == want


def test_seen_running_without_a_heartbeat_is_the_process_table() -> None:
    s = snap([proc(201, "sandbox")], {})
    assert (x := seen_running(s, "sandbox")) is not None and x.pid == 201


@pytest.mark.parametrize(
    ("dbs", "want"),
    [
        ((), []),
        ((DbView("ecauto.db", True, "ok", NOW),), []),
        ((DbView("ecauto.db", None, "not checked: database is locked", NOW),), []),
        (
            (DbView("ecauto.db", False, "database disk image is malformed", NOW),),
            [("db_corrupt", "ecauto.db", "critical")],
        ),
        (
            (
                DbView("ecauto.db", True, "ok", NOW),
                DbView("quota.db", False, "file is not a database", NOW),
            ),
            [("db_corrupt", "quota.db", "critical")],
        ),
    ],
)
def test_database_findings(dbs: tuple[DbView, ...], want: list[tuple[str, str, str]]) -> None:
    found = check(snap([], {}, dbs), NOW)
    assert [(f.kind.value, f.daemon, f.severity.value) for f in found] == want
    for f, db in zip(found, [d for d in dbs if d.ok is False], strict=True):
        assert db.message in f.summary


def test_check_quotes_a_failing_daemon_only_while_its_writer_runs() -> None:
    failing_beat = hb(err_ago=5, failures=12)
    assert [
        f.kind for f in check(snap([proc(202, "upload-base")], {"upload-base": failing_beat}), NOW)
    ] == [Kind.FAILING]
    assert check(snap([], {"upload-base": failing_beat}), NOW) == []


# -- the check itself, on real files -----------------------------------------------------------


def make_db(path: Path, rows: int = 2000) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    db.execute("CREATE INDEX t_v ON t (v)")
    db.executemany("INSERT INTO t (v) VALUES (?)", [(f"value {i} " * 8,) for i in range(rows)])
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def corrupt(path: Path) -> None:
    """Overwrite pages in the middle of the file, as a failing disk or a stray write would."""
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.seek(size // 2 - 4096)
        f.write(b"\xa5" * 8192)


def test_check_database_on_real_files(tmp_path: Path) -> None:
    good = tmp_path / "ecauto.db"
    make_db(good)
    v = check_database(good, NOW)
    assert v is not None and v.ok is True and v.message == "ok"

    bad = tmp_path / "quota.db"
    make_db(bad)
    corrupt(bad)
    v = check_database(bad, NOW)
    assert v is not None and v.ok is False and v.message, v

    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all " * 200)
    v = check_database(junk, NOW)
    assert v is not None and v.ok is False and "not a database" in v.message

    assert check_database(tmp_path / "absent.db", NOW) is None
    assert not (tmp_path / "absent.db").exists(), "a read-only check creates nothing"


def test_a_database_that_is_a_link_or_no_regular_file_is_not_opened(tmp_path: Path) -> None:
    """SQLite follows links: a home's ecauto.db linked to a file elsewhere was checked (and
    reported "ok") as if it were the instance's, and a FIFO in its place was silently skipped."""
    elsewhere = tmp_path / "elsewhere.db"
    make_db(elsewhere)
    linked = tmp_path / "ecauto.db"
    linked.symlink_to(elsewhere)
    v = check_database(linked, NOW)
    assert (
        v is not None
        and v.ok is None
        and v.message == ("not checked: ecauto.db is a symlink (not followed)")
    )

    fifo = tmp_path / "quota.db"
    os.mkfifo(fifo)
    v = check_database(fifo, NOW)
    assert v is not None and v.ok is None and "quota.db is not a regular file" in v.message

    # Its journal too: SQLite would open a linked -wal beside a real database.
    real = tmp_path / "real" / "ecauto.db"
    real.parent.mkdir()
    make_db(real)
    (real.parent / "ecauto.db-wal").symlink_to(elsewhere)
    v = check_database(real, NOW)
    assert v is not None and v.ok is None and "ecauto.db-wal is a symlink" in v.message


def test_check_databases_keeps_a_good_verdict_and_checks_a_bad_one_again(tmp_path: Path) -> None:
    home = Home(tmp_path)
    make_db(tmp_path / "ecauto.db")
    first = check_databases(home, {}, NOW)
    assert [(v.name, v.ok) for v in first] == [("ecauto.db", True)]
    corrupt(tmp_path / "ecauto.db")
    # Within the interval the good verdict stands (a pass stays cheap) ...
    assert check_databases(home, {v.name: v for v in first}, NOW + 60) == first
    # ... after it, the file is checked again and the damage is seen.
    later = check_databases(home, {v.name: v for v in first}, NOW + 301)
    assert later[0].ok is False and later[0].checked_at == NOW + 301


def test_the_heartbeat_counts_cycles_failed_in_a_row(tmp_path: Path) -> None:
    from ecauto.config import parse
    from ecauto.daemon.base import Daemon, common_parser
    from ecauto.daemon.heartbeat import read_heartbeat

    class Flaky(Daemon):
        results = [False, False, False, True, False]

        def run_once(self) -> None:
            if not self.results.pop(0):
                raise RuntimeError("database disk image is malformed")

    home = Home(tmp_path).ensure()
    d = Flaky("flaky", common_parser("flaky", "").parse_args([]), parse({}), home)
    seen = []
    for _ in range(5):
        d._cycle()
        d.beat(force=True)
        b = read_heartbeat(home.heartbeat_path("flaky"))
        seen.append((b.failures, failed_in_a_row(b)))
    assert seen == [(1, 1), (2, 2), (3, 3), (0, 0), (1, 1)]
    assert b.last_error == "cycle failed: database disk image is malformed"


def test_a_database_that_cannot_be_read_now_is_not_called_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "ecauto.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE t (v)")
    db.execute("BEGIN EXCLUSIVE")  # a writer in the middle of a transaction (rollback journal)
    try:
        v = check_database(path, NOW)
    finally:
        db.execute("ROLLBACK")
        db.close()
    assert v is not None and v.ok is None and "locked" in v.message, v
    assert check(snap([], {}, (v,)), NOW) == []


def test_the_report_says_no_heartbeat_for_a_daemon_that_never_wrote_one() -> None:
    from ecauto.config import WatchdogSettings
    from watchdog import report
    from watchdog.policy import assess
    from watchdog.state import State

    s = snap([proc(202, "upload-base")], {"upload-base": None})
    s = replace(
        s,
        watchers={"upload-base": WatcherView("upload-base", "upload-base")},
        circus=CircusView(True, "", CIRCUSD, {"upload-base": "active"}, {"upload-base": (202,)}),
    )
    settings = WatchdogSettings()
    a = assess(s, settings, State(), NOW)
    (f,) = [f for f in a.findings if f.kind is Kind.HUNG]
    assert "no heartbeat since it started" in f.summary
    r = report.build(s, a, State(), settings, [], None)
    (row,) = r.daemons
    assert row.state == "no heartbeat" and row.pid == 202
