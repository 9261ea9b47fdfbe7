"""Take one snapshot, cheaply: the process table, circusd's word, lock files and heartbeats.

Cost is what matters here (the loop runs every few seconds for ever): every process is looked at
once through what costs one small read (on Linux `/proc/<pid>/stat`: name, state, parent, process
group), and only the few that can be ours are read in full (command line, cwd, environment,
owner). A process already read in full is remembered by (pid, start tick) and not read again.
"""

from __future__ import annotations

import logging
import os
import shlex
import socket
import stat
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ecauto import redact, roster
from ecauto.atomic import read_json_record, write_json_atomic
from ecauto.circusd import CircusError, CircusSetup, CircusUnavailable, Control
from ecauto.config import WatchdogSettings
from ecauto.daemon.heartbeat import Heartbeat, read_heartbeat
from ecauto.daemon.lock import is_held, read_owner
from ecauto.daemon.owner import Owner
from ecauto.daemon.owner import read as read_mark
from ecauto.frozen import frozen
from ecauto.home import FILES, FOLDERS, Home
from ecauto.sandbox.key import key_path

from . import sandbox_port
from .identify import (
    CIRCUSD_FILES,
    Identity,
    VenvLaunchers,
    claimed,
    identify,
    is_circusd,
    process_home,
    same_file,
)
from .journal import JournalReader, journal_path, last_words
from .snapshot import (
    CircusView,
    DbView,
    HeartbeatView,
    LockView,
    PortView,
    ProcInfo,
    Role,
    Snapshot,
    WatcherView,
)

log = logging.getLogger(__name__)

# Process names that can be ours besides python*: the venv's console scripts, the py launcher.
_NAMES = frozenset(
    {"py", "pyw", *(n.removesuffix(".exe") for e in roster.ROSTER for n in e.consoles)}
    | {n.removesuffix(".exe") for n in CIRCUSD_FILES}
)
_LINUX = sys.platform.startswith("linux")


@frozen
class Row:
    """What one cheap look at a process gives."""

    pid: int
    ppid: int
    pgid: int | None
    name: str
    status: str
    tick: str = ""  # the start time as the OS writes it: with the pid, a stable identity


_STATES = {
    "R": "running",
    "S": "sleeping",
    "D": "disk-sleep",
    "T": "stopped",
    "t": "tracing-stop",
    "Z": "zombie",
    "X": "dead",
    "I": "idle",
    "P": "parked",
    "W": "waking",
}


Keep = Callable[[int, str, "int | None"], bool]


def list_processes(keep: Keep | None = None) -> tuple[dict[int, int], list[Row]]:
    """({pid: ppid} of every process, full rows of those `keep(pid, name, pgid)` accepts).

    On Linux one small read of `/proc/<pid>/stat` each (with os.read: a Python file object costs
    more than the read); the rest of the line is parsed only for the processes kept.
    """
    parents: dict[int, int] = {}
    rows: list[Row] = []
    if not _LINUX:
        import psutil  # elsewhere; on Linux /proc is read directly (see _Proc)

        for p in psutil.process_iter(["pid", "ppid", "name", "status", "create_time"]):
            i = p.info
            parents[i["pid"]] = i["ppid"] or 0
            if keep is None or keep(i["pid"], i["name"] or "", None):
                rows.append(
                    Row(
                        i["pid"],
                        i["ppid"] or 0,
                        None,
                        i["name"] or "",
                        i["status"] or "",
                        str(i["create_time"] or ""),
                    )
                )
        return parents, rows
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fd = os.open(f"/proc/{entry}/stat", os.O_RDONLY)
            try:
                raw = os.read(fd, 4096)
            finally:
                os.close(fd)
        except OSError:  # gone since the listing
            continue
        # The name is in parentheses and may itself hold spaces and parentheses.
        left, right = raw.find(b"("), raw.rfind(b")")
        head = raw[right + 2 : right + 64].split(None, 3)
        try:
            pid, ppid, pgid = int(entry), int(head[1]), int(head[2])
        except (IndexError, ValueError):
            continue
        parents[pid] = ppid
        name = raw[left + 1 : right].decode("utf-8", "replace")
        if keep is not None and not keep(pid, name, pgid):
            continue
        fields_ = raw[right + 2 :].split()
        if len(fields_) < 20:
            continue
        state = fields_[0].decode()
        rows.append(Row(pid, ppid, pgid, name, _STATES.get(state, state), fields_[19].decode()))
    return parents, rows


def _circusd_view(ctl: Control, watchers: Iterable[str]) -> CircusView:
    """What circusd says, in one round trip: its statuses, and the pids of each watcher the
    ini names (asked together; a watcher circusd has that the ini does not name costs a
    second one)."""
    try:
        expected = list(watchers)
        answers = ctl.call_many([("status", {})] + [("list", {"name": n}) for n in expected])
        said = answers[0]
        if said.get("status") == "error":
            raise CircusError(f"circusd refused status: {said.get('reason', 'unknown error')}")
        statuses = dict(said.get("statuses", {}))
        lists = dict(zip(expected, answers[1:], strict=True))
        more = [n for n in statuses if n not in lists]
        if more:
            lists.update(
                zip(more, ctl.call_many([("list", {"name": n}) for n in more]), strict=True)
            )
        names = list(statuses)  # a watcher the ini names but circusd has not: no pids to ask
        refused = next((lists[n] for n in names if lists[n].get("status") == "error"), None)
        if refused is not None:
            raise CircusError(f"circusd refused list: {refused.get('reason', 'unknown error')}")
        pids = {n: tuple(int(p) for p in lists[n].get("pids", [])) for n in names}
        me = _circusd_parent_of(pids)
        if me is None:
            try:
                me = ctl.circusd_pid()
            except CircusError:
                me = None
    except CircusUnavailable as e:
        return CircusView(False, str(e))
    except CircusError as e:
        # It answered but refused (busy stopping a watcher): it is up, its lists are unknown.
        return CircusView(True, str(e))
    return CircusView(True, "", me, statuses, pids)


def _circusd_parent_of(pids: Mapping[str, Sequence[int]]) -> int | None:
    """circusd's pid, as the parent every process it just listed shares, when that parent is
    a circusd by THE rule; None when that cannot be told (nothing runs, or they disagree),
    and `dstats` must answer (it makes circusd sample itself for 10 ms)."""
    parents = set()
    for pid in (p for ps in pids.values() for p in ps):
        try:
            parents.add(_proc(pid).ppid())
        except OSError:
            return None
    if len(parents) != 1:
        return None
    (parent,) = parents
    try:
        proc = _proc(parent)
        return parent if is_circusd(proc.cmdline(), proc.name()) else None
    except OSError:
        return None


def endpoint_refuses(endpoint: str, timeout_s: float = 0.2) -> str | None:
    """Why nobody can be listening at `endpoint`, or None if someone may be.

    A zmq call to a dead circusd waits its whole timeout; a plain connect is refused at once, so
    a dead circusd costs the loop nothing.
    """
    try:
        if endpoint.startswith("ipc://"):
            path = endpoint[len("ipc://") :]
            if not os.path.exists(path):
                return f"no circusd: its socket {path} is gone"
            if not hasattr(socket, "AF_UNIX"):  # pragma: no cover - Windows without it
                return None
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout_s)
            with s:
                s.connect(path)
            return None
        if endpoint.startswith("tcp://"):
            host, _, port = endpoint[len("tcp://") :].rpartition(":")
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
                return None
    except ConnectionRefusedError:
        return f"no circusd listens at {endpoint}"
    except (OSError, ValueError):
        return None  # cannot tell this way: let the real call decide
    return None


def _flock_holder(pid: int, file: tuple[int, int]) -> int | None:
    """The pid holding a lock on `file` (device, inode) through one of `pid`'s descriptors, as
    its /proc fdinfo says (the same lines as /proc/locks); None when it holds none or cannot be
    read (another user's process): then /proc/locks decides."""
    fd_dir = f"/proc/{pid}/fd"
    try:
        fds = os.listdir(fd_dir)
    except OSError:
        return None
    for fd in fds:
        try:
            st = os.stat(f"{fd_dir}/{fd}")  # the open file itself, whatever its name now
            if (st.st_dev, st.st_ino) != file:
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}", encoding="ascii", errors="replace") as f:
                info = f.read()
        except OSError:
            continue
        for line in info.splitlines():
            if line.startswith("lock:"):
                holder = _lock_line_holder(line[len("lock:") :].split(), file)
                if holder is not None:
                    return holder
    return None


def _lock_line_holder(parts: list[str], file: tuple[int, int] | None) -> int | None:
    """The holder pid of one /proc/locks line ("1: FLOCK ADVISORY WRITE 123 fe:00:456 0 EOF"),
    when it is held (not waited for: "->") and, given `file`, is on that file."""
    if len(parts) < 6 or parts[1] == "->":
        return None
    try:
        major, minor, inode = parts[5].split(":")
        on = (os.makedev(int(major, 16), int(minor, 16)), int(inode))
        pid = int(parts[4])
    except ValueError:
        return None
    return pid if file is None or on == file else None


def _proc_locks() -> dict[tuple[int, int], int]:
    """{(device, inode): holder pid} of every flock on the machine (Linux)."""
    out: dict[tuple[int, int], int] = {}
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as f:
            for line in f:
                parts = line.split()
                holder = _lock_line_holder(parts, None)  # "->": waiting, not holding
                if holder is not None:
                    major, minor, inode = parts[5].split(":")
                    out[(os.makedev(int(major, 16), int(minor, 16)), int(inode))] = holder
    except OSError:
        pass
    return out


def read_locks(locks_dir: Path) -> tuple[LockView, ...]:
    if os.path.islink(locks_dir):
        return ()  # another folder's files are not our locks (the home check says so)
    try:
        entries = sorted(locks_dir.iterdir())
    except OSError:
        return ()
    table: dict[tuple[int, int], int] | None = None
    views = []
    for path in entries:
        if not path.name.endswith(".lock"):
            continue
        try:
            st = os.lstat(path)
        except OSError:
            continue
        regular = stat.S_ISREG(st.st_mode)
        owner, error = None, None
        try:
            owner = read_owner(path)
        except FileNotFoundError:
            continue
        except ValueError as e:
            error = str(e)
        holder = None
        if _LINUX and regular:
            # The pid the file names, if it holds the lock, says so itself: reading the whole
            # machine's /proc/locks costs 10 to 20 ms on a process's first read.
            if owner is not None:
                holder = _flock_holder(owner.pid, (st.st_dev, st.st_ino))
            if holder is None:
                table = _proc_locks() if table is None else table
                holder = table.get((st.st_dev, st.st_ino))
        if _LINUX:
            held = holder is not None
        else:  # pragma: no cover - elsewhere the only way to know is to try the lock
            held = regular and is_held(path)
        views.append(LockView(path.stem, str(path), regular, held, holder, owner, error))
    return tuple(views)


def home_problem(home: Home) -> str:
    """The first thing that makes the home unsafe now, in `Home.problem`'s one line, or "".

    Checked every pass, not only at start: a home whose `locks/` is swapped for a link, or
    that is opened to others, while the watchdog runs must stop it acting on what it reads."""
    paths = [(home.root, True)]
    paths += [(home.root / name, True) for name in FOLDERS]
    paths += [(home.root / name, False) for name in FILES]
    for path, folder in paths:
        problem = home.problem(path, folder=folder)
        if problem:
            return problem
    return ""


def read_heartbeats(home: Home, names: Iterable[str]) -> dict[str, HeartbeatView]:
    out = {}
    for name in names:
        path = home.heartbeat_path(name)
        hb: Heartbeat | None = None
        error: str | None = None
        try:
            hb = read_heartbeat(path)
        except FileNotFoundError:
            out[name] = HeartbeatView(name, None, "missing")
            continue
        except ValueError as e:
            error = str(e)
        try:
            mtime: float | None = os.stat(path, follow_symlinks=False).st_mtime
        except OSError:
            mtime = None
        out[name] = HeartbeatView(name, hb, error, mtime)
    return out


# The databases of a home, checked with `PRAGMA quick_check` at most this often (it reads every
# page: cheap for ecauto's files, but not for every pass). A bad verdict is checked again each
# pass, so a restored file is seen at once.
DATABASES = ("ecauto.db", "quota.db")
DB_CHECK_EVERY_S = 300.0
DB_BUSY_TIMEOUT_S = 0.5


def check_database(path: Path, now: float) -> DbView | None:
    """One read-only `PRAGMA quick_check` of `path`; None when there is no such file."""
    import sqlite3  # only when a check is due

    try:
        refused = _not_a_plain_file(path)
    except FileNotFoundError:
        return None
    if refused:
        return DbView(path.name, None, f"not checked: {refused}", now)
    uri = "file:" + urllib.parse.quote(str(path)) + "?mode=ro"
    try:
        db = sqlite3.connect(uri, uri=True, timeout=DB_BUSY_TIMEOUT_S)
        try:
            rows = db.execute("PRAGMA quick_check(3)").fetchall()
        finally:
            db.close()
    except sqlite3.OperationalError as e:
        # Busy, locked, cannot open, an I/O error: it could not be read, which says nothing of
        # its pages (and must not pass for corruption).
        return DbView(path.name, None, f"not checked: {e}", now)
    except sqlite3.DatabaseError as e:  # "database disk image is malformed", "not a database"
        return DbView(path.name, False, str(e), now)
    said = "; ".join(str(r[0]) for r in rows)
    return DbView(path.name, said == "ok", said, now)


def _not_a_plain_file(path: Path) -> str | None:
    """Why SQLite must not open `path` or its journal files (a link, a FIFO, a folder), or None;
    FileNotFoundError when the database itself is absent. SQLite follows links: a link in the
    home would have the watchdog read (and report on) a file outside it."""
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            if p == path:
                raise
            continue
        if stat.S_ISLNK(st.st_mode):
            return f"{p.name} is a symlink (not followed)"
        if not stat.S_ISREG(st.st_mode):
            return f"{p.name} is not a regular file"
    return None


def check_databases(
    home: Home, cache: Mapping[str, DbView], now: float, every_s: float = DB_CHECK_EVERY_S
) -> tuple[DbView, ...]:
    """The verdict of each database of the home: the cached one while it is recent and good,
    else a new check."""
    out = []
    for name in DATABASES:
        old = cache.get(name)
        if old is not None and old.ok is True and 0 <= now - old.checked_at < every_s:
            out.append(old)
            continue
        view = check_database(home.root / name, now)
        if view is not None:
            out.append(view)
    return tuple(out)


def read_db_cache(path: Path) -> dict[str, DbView]:
    try:
        data = read_json_record(path)
        return {k: DbView.from_json(v) for k, v in data.items() if isinstance(v, dict)}
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return {}


def watcher_views(setup: CircusSetup) -> dict[str, WatcherView]:
    out = {}
    for name, spec in setup.watchers.items():
        try:
            argv = shlex.split(spec.cmdline)
        except ValueError:
            argv = spec.cmdline.split()
        # A command line it cannot read (a wrapper script, `sh -c ...`): the watcher's name.
        out[name] = WatcherView(name, identify(argv).daemon or name, spec.singleton)
    return out


class Collector:
    """Builds snapshots for one instance; remembers what it read in full between scans."""

    def __init__(
        self,
        home: Home,
        setup: CircusSetup,
        settings: WatchdogSettings,
        mode: str,
        control: Control | None = None,
        clock: Callable[[], float] = time.time,
        sandbox_url: str = "",
    ) -> None:
        self.home = home
        self.sandbox_url = sandbox_url  # its port is checked each pass in sandbox mode
        redact.register_token_files(home.root / "secrets")  # what we show may quote them
        self.setup = setup
        self.settings = settings
        self.mode = mode
        self.control = control or Control(
            setup.endpoint, timeout_s=settings.circus_timeout_s, tries=3
        )
        self.clock = clock
        self.watchers = watcher_views(setup)
        self.project = str(setup.path.parent)  # the instance's folder: where circus.ini is
        self.launchers = VenvLaunchers.of(self.project)
        self.patterns: Mapping[str, Sequence[str]] = {
            n: d.patterns for n, d in settings.daemons.items() if d.patterns
        }
        self.my_pid = os.getpid()
        self.my_uid = os.geteuid() if hasattr(os, "geteuid") else None
        # (pid, start tick) -> (raw command line, what was read, whether its mark was read)
        self._cache: dict[tuple[int, str], tuple[bytes, ProcInfo | None, bool]] = {}
        self.journal = JournalReader(journal_path(home.root))
        # The last database verdicts: in memory for the loop, in a file for one-shot commands.
        self.db_cache_path = home.watchdog / "db_check.json"
        self._db_cache: dict[str, DbView] | None = None

    def circus(self) -> CircusView:
        why = endpoint_refuses(self.setup.endpoint)
        if why:
            return CircusView(False, why)
        return _circusd_view(self.control, self.watchers)

    def databases(self, now: float, save: bool) -> tuple[DbView, ...]:
        """The databases' verdicts, checked again when due; `save` keeps new ones in the file
        (a read-only look writes nothing)."""
        if self._db_cache is None:
            self._db_cache = read_db_cache(self.db_cache_path)
        views = check_databases(self.home, self._db_cache, now)
        fresh = {v.name: v for v in views}
        if fresh != self._db_cache:
            self._db_cache = fresh
            if save and self.db_cache_path.parent.is_dir():
                try:
                    write_json_atomic(
                        self.db_cache_path, {k: v.to_json() for k, v in fresh.items()}
                    )
                except OSError as e:
                    log.warning("database verdicts not kept: %s", e)
        return views

    def snapshot(self, groups: Iterable[int] = (), save: bool = True) -> Snapshot:
        """`groups`: process groups of daemons seen before (their leftovers are read in full).
        `save`: keep what was learnt for the next pass (False for a read-only look)."""
        circus = self.circus()
        managed = circus.managed() | ({circus.circusd_pid} if circus.circusd_pid else set())
        parents, procs = self.processes(managed, set(groups))
        return Snapshot(
            now=self.clock(),
            home=str(self.home.root),
            mode=self.mode,
            my_pid=self.my_pid,
            my_uid=self.my_uid,
            my_ancestors=_ancestors(self.my_pid, parents),
            watchers=self.watchers,
            procs=tuple(procs),
            circus=circus,
            locks=read_locks(self.home.locks),
            heartbeats=read_heartbeats(
                self.home,
                sorted({w.daemon for w in self.watchers.values() if w.daemon in roster.BEATING}),
            ),
            scanned=len(parents),
            sandbox_port=self.sandbox_port(),
            **self.deaths(),
            databases=self.databases(self.clock(), save),
            home_problem=home_problem(self.home),
        )

    def sandbox_port(self) -> PortView | None:
        if self.mode != "sandbox" or not self.sandbox_url:
            return None
        return sandbox_port.look(
            self.sandbox_url, key_path(self.home.root), self.settings.circus_timeout_s
        )

    def deaths(self) -> dict[str, Any]:
        """The journal's tail, and the last log line of each watcher that died on its own."""
        journal = self.journal.read()
        died = {e.watcher for e in journal if e.event == "reap" and e.by is None}
        words = {}
        for name in sorted(died & set(self.watchers)):
            said = last_words(self.home.log / f"{name}.log")
            if said:
                words[name] = said
        return {"journal": journal, "last_words": words}

    def processes(
        self, managed: set[int], groups: set[int]
    ) -> tuple[dict[int, int], list[ProcInfo]]:
        """The process table: every pid's parent, and the candidates read in full. A candidate
        is the watchdog itself (a `watchdog run` is a copy like any other; the policy protects
        it), anything named like Python or our console scripts, what circusd says it manages,
        and members of the process groups of daemons seen before."""
        me = self.my_pid

        def keep(pid: int, name: str, pgid: int | None) -> bool:
            return (
                pid == me
                or self._looks_like_ours(name)
                or pid in managed
                or (pgid is not None and pgid in groups and pgid != pid)
            )

        parents, rows = list_processes(keep)
        procs = []
        fresh: dict[tuple[int, str], tuple[bytes, ProcInfo | None, bool]] = {}
        for r in rows:
            key = (r.pid, r.tick)
            # Only a member of a remembered daemon's group can be its leftover: only its
            # environment is read for the daemon mark (an environment is a large read).
            marked = r.pgid is not None and r.pgid in groups and r.pgid != r.pid
            # A process keeps its pid and start tick across exec (circusd's child is a copy of
            # circusd until it execs the daemon): what is remembered holds while the command
            # line, a cheap read, is the same.
            raw = _raw_cmdline(r.pid)
            cached = self._cache.get(key) if r.tick else None
            if cached is not None and cached[0] == raw and (cached[2] or not marked):
                info, marked = cached[1], cached[2]
            else:
                info = self._read(r, marked, raw)
            fresh[key] = (raw, info, marked)
            if info is not None:
                procs.append(_refresh(info, r, parents))
        self._cache = fresh
        return parents, procs

    @staticmethod
    def _looks_like_ours(name: str) -> bool:
        # Called for every process: a process name (Linux comm, Windows image name) has no
        # folder, so this is is_python() without the path handling.
        n = name.lower()
        if n.endswith(".exe"):
            n = n[:-4]
        return n.startswith("python") or n in _NAMES

    def _read(self, r: Row, marked: bool = False, raw: bytes | None = None) -> ProcInfo | None:
        """Everything the policy needs about one process; None if it is gone or not readable."""
        try:
            p = _proc(r.pid, raw)
            with p.oneshot():
                uid = p.uid()
                create_time = p.create_time()
                cmdline = tuple(p.cmdline())
                cwd = p.cwd()
                exe = p.exe()  # the image's path (a venv launcher is known by it)
        except OSError:  # gone, a zombie, or not ours to read (psutil's errors are OSErrors)
            return None
        ident: Identity = identify(cmdline, self.patterns)
        home = None
        mine = self.my_uid is None or uid == self.my_uid
        environ: dict[str, str] = {}
        if mine and (marked or (ident.daemon is not None and not ident.explicit_home)):
            try:
                environ = p.environ()
            except OSError:
                environ = {}
        owner: Owner | None = read_mark(environ) if marked else None
        if ident.daemon is not None and mine:
            home = process_home(ident, cwd, environ)
            if home is None and ident.by_pattern and claimed(self.project, cwd, cmdline):
                home = str(self.home.root)
        daemon, role = ident.daemon, ident.role
        if role is Role.CIRCUSD and not same_file(ident.ini, str(self.setup.path), cwd):
            role = Role.OTHER  # another instance's circusd: protected all the same (is_circusd)
        return ProcInfo(
            pid=r.pid,
            create_time=create_time,
            ppid=r.ppid,
            uid=uid,
            pgid=r.pgid,
            status=r.status,
            name=r.name,
            cmdline=cmdline,
            cwd=cwd,
            home=home,
            daemon=daemon,
            role=role if (daemon or role is Role.CIRCUSD) else Role.OTHER,
            by_pattern=ident.by_pattern,
            launcher=self.launchers.is_launcher(exe),
            owner=owner,
        )


def _raw_cmdline(pid: int) -> bytes:
    """The command line as the OS keeps it, unparsed (for "has it changed" only)."""
    if not _LINUX:
        import psutil

        try:
            return "\0".join(psutil.Process(pid).cmdline()).encode()
        except psutil.Error:
            return b""
    try:
        return _read_proc(pid, "cmdline")
    except OSError:
        return b""


def _read_proc(pid: int, name: str) -> bytes:
    """All of /proc/<pid>/<name> (os.read: a Python file object costs more than the read)."""
    fd = os.open(f"/proc/{pid}/{name}", os.O_RDONLY)
    try:
        parts = [os.read(fd, 65536)]
        while parts[-1]:  # to the end, as psutil's f.read() (a read may stop at a page)
            parts.append(os.read(fd, 65536))
    finally:
        os.close(fd)
    return b"".join(parts)


class _Proc:
    """What `_read` asks of a process, from /proc, as psutil.Process answers it on Linux.

    psutil's import (with shutil, subprocess, its tables) is a tenth of a `watchdog report`;
    these are the few reads it would make. Every answer is psutil's own (create_time with
    the same boot time and arithmetic, the command line split the same way), so what the
    executor re-reads through psutil before a signal compares equal. Errors are OSErrors:
    FileNotFoundError or ProcessLookupError for a process gone, PermissionError for one not
    readable, ProcessLookupError for a zombie's command line."""

    def __init__(self, pid: int, raw_cmdline: bytes | None = None) -> None:
        self.pid = pid
        self._raw = raw_cmdline
        self._stat: list[bytes] | None = None
        self._name = ""

    def oneshot(self) -> _Proc:  # psutil's context manager; every read here is made once
        return self

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None

    def _fields(self) -> list[bytes]:
        if self._stat is None:
            raw = _read_proc(self.pid, "stat")
            right = raw.rfind(b")")
            self._name = raw[raw.find(b"(") + 1 : right].decode(_FS, _FS_ERRORS)
            self._stat = raw[right + 2 :].split()
        return self._stat

    def name(self) -> str:
        self._fields()
        return self._name

    def ppid(self) -> int:
        return int(self._fields()[1])

    def zombie(self) -> bool:
        return self._fields()[0] == b"Z"

    def uid(self) -> int:
        for line in _read_proc(self.pid, "status").splitlines():
            if line.startswith(b"Uid:"):
                return int(line.split()[2])  # real, effective, saved, filesystem
        raise PermissionError(f"no Uid line for pid {self.pid}")

    def create_time(self) -> float:
        return float(self._fields()[19]) / _CLOCK_TICKS + _boot_time()

    def cmdline(self) -> list[str]:
        raw = self._raw if self._raw is not None else _read_proc(self.pid, "cmdline")
        data = raw.decode(_FS, _FS_ERRORS)
        if not data:
            if self.zombie():
                raise ProcessLookupError(f"pid {self.pid} is a zombie")
            return []
        sep = "\0" if data.endswith("\0") else " "  # setproctitle may use spaces (psutil #1179)
        if data.endswith(sep):
            data = data[:-1]
        cmdline = data.split(sep)
        if sep == "\0" and len(cmdline) == 1 and " " in data:
            cmdline = data.split(" ")
        return cmdline

    def _link(self, name: str) -> str | None:
        """A /proc link's target; "" when the process has none (psutil's fallback), None when
        it cannot be read (a zombie's, another user's)."""
        try:
            path = os.readlink(f"/proc/{self.pid}/{name}").split("\0")[0]
        except (FileNotFoundError, ProcessLookupError):
            try:
                return None if self.zombie() else ""
            except OSError:
                return None
        except OSError:
            return None
        if path.endswith(" (deleted)") and not os.path.exists(path):
            path = path[: -len(" (deleted)")]
        return path

    def cwd(self) -> str | None:
        return self._link("cwd")

    def exe(self) -> str:
        return self._link("exe") or ""

    def environ(self) -> dict[str, str]:
        data = _read_proc(self.pid, "environ").decode(_FS, _FS_ERRORS)
        env: dict[str, str] = {}
        pos = 0
        while True:  # psutil's parse_environ_block: up to a NUL at the start or a double NUL
            end = data.find("\0", pos)
            if end <= pos:
                break
            eq = data.find("=", pos, end)
            if eq > pos:
                env[data[pos:eq]] = data[eq + 1 : end]
            pos = end + 1
        return env


class _PsutilProc:
    """The same questions through psutil, where there is no /proc (Windows, macOS); its
    errors become OSErrors (ProcessLookupError: gone or a zombie; PermissionError)."""

    def __init__(self, pid: int) -> None:
        import psutil

        self._psutil = psutil
        self._p = self._ask(psutil.Process, pid)

    def _ask(self, fn: Callable[..., Any], *args: Any) -> Any:
        ps = self._psutil
        try:
            return fn(*args)
        except ps.AccessDenied as e:
            raise PermissionError(str(e)) from None
        except ps.Error as e:  # NoSuchProcess, ZombieProcess (its subclass)
            raise ProcessLookupError(str(e)) from None

    def oneshot(self) -> Any:
        return self._p.oneshot()

    def name(self) -> str:
        return str(self._ask(self._p.name))

    def ppid(self) -> int:
        return int(self._ask(self._p.ppid))

    def uid(self) -> int | None:
        return self._ask(self._p.uids).effective if hasattr(self._p, "uids") else None

    def create_time(self) -> float:
        return float(self._ask(self._p.create_time))

    def cmdline(self) -> list[str]:
        return list(self._ask(self._p.cmdline))

    def cwd(self) -> str | None:
        try:
            return str(self._ask(self._p.cwd))
        except OSError:
            return None

    def exe(self) -> str:
        try:
            return str(self._ask(self._p.exe))
        except OSError:
            return ""

    def environ(self) -> dict[str, str]:
        return dict(self._ask(self._p.environ))


def _proc(pid: int, raw_cmdline: bytes | None = None) -> _Proc | _PsutilProc:
    """One process's reader; its errors are OSErrors (psutil.Error is one)."""
    return _Proc(pid, raw_cmdline) if _LINUX else _PsutilProc(pid)


_FS, _FS_ERRORS = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if _LINUX else 100


def _boot_time() -> float:
    """psutil.boot_time() on Linux: read each time, as psutil does (the clock may be set)."""
    with open("/proc/stat", "rb") as f:
        for line in f:
            if line.startswith(b"btime"):
                return float(line.strip().split()[1])
    raise PermissionError("no btime line in /proc/stat")


def _refresh(info: ProcInfo, r: Row, parents: Mapping[int, int]) -> ProcInfo:
    """A remembered process with what may have changed since: state, parent."""
    gone = r.ppid <= 1 or r.ppid not in parents
    if info.status == r.status and info.ppid == r.ppid and info.parent_gone == gone:
        return info
    return replace(info, status=r.status, ppid=r.ppid, parent_gone=gone)


def _ancestors(pid: int, parents: Mapping[int, int]) -> tuple[int, ...]:
    out: list[int] = []
    ppid = parents.get(pid, 0)
    while ppid > 0 and ppid not in out:
        out.append(ppid)
        ppid = parents.get(ppid, 0)
    if not out:
        try:
            out.append(os.getppid())
        except OSError:  # pragma: no cover
            pass
    return tuple(out)
