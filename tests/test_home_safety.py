"""A home that is not safely ours, and bad input, get one line; nothing outside the home is touched.

Real files and real commands: the `watchdog` command, a daemon and the launcher's home step run
as subprocesses; ownership cases chown to `nobody` or run the command as `nobody` (CI is root).
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import BIN, REPO

from ecauto.atomic import read_regular
from ecauto.daemon.lock import SingletonLock, remove_if_unheld
from watchdog.events import EventLog

pytestmark = [pytest.mark.process, pytest.mark.timeout(120)]

INI = str(REPO / "circus.ini")
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _nobody() -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        return None


needs_root = pytest.mark.skipif(not ROOT or _nobody() is None, reason="chown needs root")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("ECAUTO_", "CHATWORK_"))}


def run(cwd: Path, argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=30, **kw
    )


def watchdog(cwd: Path, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return run(cwd, [str(BIN / "watchdog"), *args], **kw)


def daemon(cwd: Path, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return run(cwd, [sys.executable, "-m", "ecauto.daemons.sync", *args], **kw)


def prepare(cwd: Path, home: Path, **kw: Any) -> subprocess.CompletedProcess[str]:
    """The launcher's step (scripts/run): make the home, or refuse it."""
    return run(cwd, [sys.executable, "-m", "ecauto.home", str(home)], **kw)


def one_line(res: subprocess.CompletedProcess[str], code: int, says: str) -> None:
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == code, res.stderr
    assert len(lines) == 1 and says in lines[0], res.stderr
    assert "Traceback" not in res.stderr


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder every user can enter (tmp_path is the test user's only)."""
    d = Path(tempfile.mkdtemp(prefix="ecauto-home-"))
    os.chmod(d, 0o755)
    try:
        yield d
    finally:
        subprocess.run(["rm", "-rf", "--", str(d)], check=False)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    assert prepare(tmp_path, h).returncode == 0
    return h


# --- ownership -----------------------------------------------------------------------------------


@needs_root
def test_a_home_owned_by_another_user_is_refused_by_every_command(tmp_path: Path) -> None:
    # Given a home another user made beforehand
    nobody = _nobody()
    assert nobody is not None
    h = tmp_path / "home"
    h.mkdir(mode=0o700)
    os.chown(h, nobody.pw_uid, nobody.pw_gid)
    says = f"belongs to uid {nobody.pw_uid}"
    # Then each command refuses it with one line naming it
    one_line(watchdog(tmp_path, "report", "--home", str(h), "--ini", INI), 3, says)
    one_line(watchdog(tmp_path, "scan", "--home", str(h), "--ini", INI), 3, says)
    one_line(daemon(tmp_path, "--home", str(h), "--once"), 78, says)
    one_line(prepare(tmp_path, h), 1, says)
    assert os.listdir(h) == []  # and nothing was made in it


@needs_root
def test_a_folder_in_the_home_owned_by_another_user_is_refused(home: Path) -> None:
    nobody = _nobody()
    assert nobody is not None
    os.chown(home / "heartbeats", nobody.pw_uid, nobody.pw_gid)
    one_line(watchdog(home.parent, "report", "--home", str(home), "--ini", INI), 3, "heartbeats")
    one_line(daemon(home.parent, "--home", str(home), "--once"), 78, "belongs to uid")


def as_user(
    uid: int, gid: int, main: Callable[[list[str]], int], argv: list[str]
) -> tuple[int, str]:
    """Run an entry point's `main(argv)` in a forked child that dropped to `uid` first.

    Forked, not exec'd: the venv's interpreter may sit where that user cannot read (under
    /root), and what is tested is the code's view as that user, not the interpreter's."""
    err = tempfile.TemporaryFile()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 70
        try:
            os.dup2(err.fileno(), 2)
            sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115 - the child's own stderr
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            code = main(argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException as e:  # noqa: BLE001 - the parent sees it as a traceback line
            print(f"Traceback: {e!r}", file=sys.stderr)
        finally:
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    err.seek(0)
    return os.waitstatus_to_exitcode(status), err.read().decode()


def one_line_of(got: tuple[int, str], code: int, says: str) -> None:
    one_line(subprocess.CompletedProcess([], got[0], "", got[1]), code, says)


@needs_root
def test_as_an_unprivileged_user_a_home_of_root_is_refused(shared: Path) -> None:
    from ecauto import home as home_mod
    from watchdog import cli

    # Given a home root made, and the commands run with nobody's uid
    nobody = _nobody()
    assert nobody is not None
    uid, gid = nobody.pw_uid, nobody.pw_gid
    roots = shared / "roots"
    assert prepare(shared, roots).returncode == 0
    os.chmod(roots, 0o755)  # so nobody can look at it at all
    one_line_of(as_user(uid, gid, home_mod.main, [str(roots)]), 1, "belongs to uid 0")
    report = ["report", "--home", str(roots), "--ini", INI]
    one_line_of(as_user(uid, gid, cli.main, report), 3, "belongs to uid 0")
    # And nobody's own home is fine for nobody, and refused to root
    os.chmod(shared, 0o777)
    mine = shared / "nobodys"
    assert as_user(uid, gid, home_mod.main, [str(mine)]) == (0, "")
    assert os.stat(mine).st_uid == uid
    assert stat.S_IMODE(os.stat(mine).st_mode) == 0o700
    one_line(prepare(shared, mine), 1, f"belongs to uid {uid}")


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702])
def test_a_home_writable_by_group_or_others_is_refused(home: Path, mode: int) -> None:
    os.chmod(home, mode)
    one_line(watchdog(home.parent, "report", "--home", str(home), "--ini", INI), 3, "writable by")
    one_line(daemon(home.parent, "--home", str(home), "--once"), 78, "chmod go-w")
    one_line(prepare(home.parent, home), 1, "writable by")


def test_a_home_readable_by_others_is_closed_again(tmp_path: Path) -> None:
    h = tmp_path / "home"
    h.mkdir(mode=0o755)
    os.chmod(h, 0o755)
    assert prepare(tmp_path, h).returncode == 0
    assert stat.S_IMODE(os.stat(h).st_mode) == 0o700
    assert {p.name for p in h.iterdir()} >= {"locks", "heartbeats", "log", "watchdog", "circus"}


# --- symlinks ------------------------------------------------------------------------------------


def test_locks_as_a_symlink_is_refused_and_the_files_there_survive_a_scan(
    home: Path, tmp_path: Path
) -> None:
    # Given locks/ replaced by a link to another folder with a stale-looking lock file in it
    other = tmp_path / "other"
    other.mkdir()
    victim = other / "upload-base.lock"
    victim.write_text("{}")
    os.rmdir(home / "locks")
    os.symlink(other, home / "locks")
    # When the watchdog scans, then it refuses with one line naming the link
    res = watchdog(tmp_path, "scan", "--home", str(home), "--ini", INI)
    one_line(res, 3, f"{home / 'locks'} is a symlink")
    one_line(daemon(tmp_path, "--home", str(home), "--once"), 78, "is a symlink")
    # And the file in the other folder is still there
    assert victim.read_text() == "{}"
    # And the removal itself refuses, whoever calls it
    with pytest.raises(ValueError, match="not a folder"):
        remove_if_unheld(home / "locks" / "upload-base.lock")
    assert victim.exists()


def test_a_home_that_is_a_symlink_is_refused(home: Path, tmp_path: Path) -> None:
    link = tmp_path / "link"
    os.symlink(home, link)
    one_line(watchdog(tmp_path, "report", "--home", str(link), "--ini", INI), 3, "is a symlink")


def test_a_lock_file_that_is_a_symlink_is_left_alone_and_reported(
    home: Path, tmp_path: Path
) -> None:
    # Given a lock file that is a link to a file elsewhere
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    os.symlink(victim, home / "locks" / "upload-base.lock")
    # When the watchdog scans, then the scan says so and the file it points to is kept
    res = watchdog(tmp_path, "scan", "--home", str(home), "--ini", INI)
    assert "Traceback" not in res.stderr
    assert "not a regular file in locks/" in res.stdout, res.stdout + res.stderr
    assert victim.read_text() == "keep me"
    assert os.path.islink(home / "locks" / "upload-base.lock")
    with pytest.raises(ValueError, match="not a regular file"):
        remove_if_unheld(home / "locks" / "upload-base.lock")
    assert victim.read_text() == "keep me"


def test_a_stale_regular_lock_of_ours_is_still_removed(home: Path) -> None:
    stale = home / "locks" / "upload-base.lock"
    stale.write_text("{}")
    assert remove_if_unheld(stale, os.getuid()) is True
    assert not stale.exists()


@needs_root
def test_a_lock_file_of_another_user_is_not_removed(home: Path) -> None:
    nobody = _nobody()
    assert nobody is not None
    theirs = home / "locks" / "upload-base.lock"
    theirs.write_text("{}")
    os.chown(theirs, nobody.pw_uid, nobody.pw_gid)
    with pytest.raises(ValueError, match=f"uid {nobody.pw_uid}"):
        remove_if_unheld(theirs, os.getuid())
    assert theirs.exists()


def test_a_held_lock_is_not_removed(home: Path) -> None:
    from ecauto.daemon.lock import LockOwner

    path = home / "locks" / "x.lock"
    lock = SingletonLock(path, LockOwner.for_this_process("x", str(home), time.time()))
    lock.acquire()
    try:
        assert remove_if_unheld(path, os.getuid()) is False
        assert path.exists()
    finally:
        lock.release()
    assert not path.exists()


def test_a_daemon_releasing_its_lock_never_unlinks_through_a_swapped_folder(
    home: Path, tmp_path: Path
) -> None:
    from ecauto.daemon.lock import LockOwner

    # Given a daemon holding its lock, and locks/ then swapped for a link to a folder holding
    # a file of the same name
    path = home / "locks" / "x.lock"
    lock = SingletonLock(path, LockOwner.for_this_process("x", str(home), time.time()))
    lock.acquire()
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.lock").write_text("theirs")
    os.rename(home / "locks", tmp_path / "old-locks")
    os.symlink(other, home / "locks")
    # When it releases the lock, then the other folder's file is kept
    lock.release()
    assert (other / "x.lock").read_text() == "theirs"


# --- reading without blocking or following ---------------------------------------------------------


def test_events_as_a_fifo_gives_one_line_and_no_hang(home: Path) -> None:
    os.mkfifo(home / "watchdog" / "events.jsonl")
    started = time.monotonic()
    res = watchdog(home.parent, "report", "--home", str(home), "--ini", INI)
    assert time.monotonic() - started < 25
    one_line(res, 3, "events.jsonl is not a regular file")


def test_the_readers_refuse_a_fifo_and_a_link_at_once(home: Path, tmp_path: Path) -> None:
    fifo = home / "watchdog" / "events.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        read_regular(fifo, 1000)
    log = EventLog(fifo)
    assert log.tail() == []
    log.append([{"kind": "x"}])  # no reader: refused at once, not blocked
    target = tmp_path / "t.json"
    target.write_text('{"a": 1}')
    os.symlink(target, home / "heartbeats" / "sync-inventory.json")
    with pytest.raises(ValueError, match="symlink"):
        read_regular(home / "heartbeats" / "sync-inventory.json", 1000)


def test_tail_reads_the_last_whole_lines(tmp_path: Path) -> None:
    p = tmp_path / "e.jsonl"
    p.write_bytes(b"".join(b'{"n": %d}\n' % i for i in range(1000)))
    raw = read_regular(p, 100, tail=True)
    assert raw.endswith(b'{"n": 999}\n') and raw.startswith(b'{"n"')
    assert len(raw) <= 100
    with pytest.raises(ValueError, match="too large"):
        read_regular(p, 100)
    assert [r["n"] for r in EventLog(p).tail(3, max_read=100)] == [997, 998, 999]


# --- bad input -----------------------------------------------------------------------------------


def test_a_deeply_nested_config_is_one_config_line(home: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "nested.toml"
    cfg.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    args = ("--home", str(home), "--config", str(cfg))
    one_line(watchdog(tmp_path, "report", *args, "--ini", INI), 3, "nested too deeply")
    one_line(daemon(tmp_path, *args, "--once"), 78, "nested too deeply")


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        ("[watchdog]\ninterval_s = inf\n", "watchdog.interval_s must be a number greater than 0"),
        ("[sync]\ninterval_s = 1e400\n", "sync.interval_s must be a number greater than 0"),
    ],
)
def test_an_infinite_number_in_the_config_is_refused(
    home: Path, tmp_path: Path, toml: str, says: str
) -> None:
    cfg = tmp_path / "inf.toml"
    cfg.write_text(toml)
    args = ("--home", str(home), "--config", str(cfg))
    one_line(watchdog(tmp_path, "report", *args, "--ini", INI), 3, says)
    one_line(daemon(tmp_path, *args, "--once"), 78, says)
    # The watchdog is the one that must not loop on a bad file: it runs on the defaults (no
    # last good copy in a new home) and says why, and its alert is tested in test_watchdog_self.
    res = watchdog(tmp_path, "run", *args, "--ini", INI, "--once")
    assert res.returncode == 0, res.stderr
    assert says in res.stderr and "running on" in res.stderr, res.stderr


def test_home_naming_a_file_is_one_line(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("")
    one_line(watchdog(tmp_path, "report", "--home", str(f), "--ini", INI), 3, "is not a folder")
    one_line(watchdog(tmp_path, "scan", "--home", str(f), "--ini", INI), 3, "is not a folder")
    one_line(daemon(tmp_path, "--home", str(f), "--once"), 78, "is not a folder")


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "1e400", "999999999"])
def test_interval_out_of_range_is_refused(home: Path, value: str) -> None:
    res = daemon(home.parent, "--home", str(home), "--once", "--interval", value)
    one_line(res, 2, "--interval")
    res = watchdog(home.parent, "run", "--home", str(home), "--ini", INI, "--interval", value)
    one_line(res, 2, "--interval")


def test_scan_of_a_mistyped_home_creates_nothing(home: Path) -> None:
    typo = home.parent / "hme"
    one_line(watchdog(home.parent, "scan", "--home", str(typo), "--ini", INI), 3, "no ecauto home")
    assert not os.path.lexists(typo)
    one_line(watchdog(home.parent, "report", "--home", str(typo), "--ini", INI), 3, "no ecauto")
    assert not os.path.lexists(typo)


def test_scripts_run_refuses_an_unsafe_home_and_starts_nothing(tmp_path: Path) -> None:
    h = tmp_path / "home"
    h.mkdir()
    os.chmod(h, 0o777)
    env = {**_env(), "ECAUTO_HOME": str(h)}
    res = subprocess.run(
        [str(REPO / "scripts" / "run")], env=env, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr
    # In the shipped ecauto.toml's language, Japanese
    assert res.stderr.strip().splitlines()[-1] == (
        f"ecauto: ホームが安全ではありません: {h} はグループと他のユーザーが書き込めます"
        "（モード 777）: chmod go-w で直してください"
    )
    assert os.listdir(h) == []  # no circusd started: it would have made circus/ and log/


def test_a_config_that_is_a_fifo_is_one_line_not_a_hang(home: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "fifo.toml"
    os.mkfifo(cfg)
    args = ("--home", str(home), "--config", str(cfg), "--ini", INI)
    one_line(watchdog(tmp_path, "report", *args), 3, "not a regular file")
