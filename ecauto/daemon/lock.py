"""The singleton lock: an OS-level exclusive lock on `locks/<name>.lock`, owner metadata inside.

The OS drops the lock when its holder dies, however it dies, so a lock file left by a killed
process never blocks the next start: the file is only a record of who held it last.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import stat
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ecauto.atomic import read_json_record
from ecauto.frozen import frozen
from ecauto.records import get, get_pid

SCHEMA = 1

if sys.platform == "win32":  # pragma: no cover - exercised on the operator's Windows PC only
    import msvcrt

    # msvcrt locks are mandatory: lock one byte far past the metadata so readers can still read it.
    _LOCK_OFFSET = 1 << 30

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        finally:
            os.lseek(fd, 0, os.SEEK_SET)
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, _LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        finally:
            os.lseek(fd, 0, os.SEEK_SET)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


@frozen
class LockOwner:
    name: str
    pid: int
    create_time: float
    hostname: str
    cmdline: list[str]
    started_at: float
    home: str = ""
    schema: int = SCHEMA

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> LockOwner:
        if get(d, "schema", int) != SCHEMA:
            raise ValueError(f"unknown schema {d.get('schema')!r}")
        cmdline = get(d, "cmdline", list)
        if not all(isinstance(a, str) for a in cmdline):
            raise ValueError("field 'cmdline' has the wrong type")
        return cls(
            name=get(d, "name", str),
            pid=get_pid(d),
            create_time=get(d, "create_time", float),
            hostname=get(d, "hostname", str),
            cmdline=cmdline,
            started_at=get(d, "started_at", float),
            home=get(d, "home", str, optional=True) or "",
        )

    @classmethod
    def for_this_process(
        cls, name: str, home: str, create_time: float, now: float | None = None
    ) -> LockOwner:
        return cls(
            name=name,
            pid=os.getpid(),
            create_time=create_time,
            hostname=socket.gethostname(),
            cmdline=list(sys.orig_argv),
            started_at=time.time() if now is None else now,
            home=home,
        )


@contextmanager
def exclusive(path: Path, timeout_s: float) -> Iterator[None]:
    """Hold the OS lock on `path` for a short critical section shared by the instance's
    processes (a token refresh); TimeoutError if it cannot be had within `timeout_s`."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        deadline = time.monotonic() + timeout_s
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{path.name} stayed locked for {timeout_s:g}s")
            time.sleep(0.02)
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)


class LockHeld(Exception):
    """Another live process holds the lock; `owner` is what its file says (None if unreadable)."""

    def __init__(self, path: Path, owner: LockOwner | None) -> None:
        self.path = path
        self.owner = owner
        who = f"pid {owner.pid}" if owner else "another process (owner unreadable)"
        super().__init__(f"{path.stem} is already running as {who}; lock {path}")


def read_owner(path: Path) -> LockOwner:
    """Raise FileNotFoundError when absent, ValueError (with a reason) when unreadable."""
    return LockOwner.from_json(read_json_record(path))


# Lock files are opened without following a link and without blocking (a FIFO in their place).
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


def is_held(path: Path) -> bool:
    """Whether some process holds the OS lock on `path` right now (taking it for a moment if not)."""
    try:
        fd = os.open(path, (os.O_RDONLY if sys.platform != "win32" else os.O_RDWR) | _NOFOLLOW)
    except FileNotFoundError:
        return False
    try:
        if _try_lock(fd):
            _unlock(fd)
            return False
        return True
    finally:
        os.close(fd)


def _open_folder(folder: Path) -> int:
    """The folder itself, never what a link in its place points to (ELOOP if it is one)."""
    return os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)


def _unlink_same(folder_fd: int, name: str, expect: os.stat_result) -> bool:
    """Unlink `name` in the open folder only while it is still the regular file `expect` is."""
    try:
        st = os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (expect.st_dev, expect.st_ino):
        return False
    os.unlink(name, dir_fd=folder_fd)
    return True


def remove_if_unheld(path: Path, uid: int | None = None) -> bool:
    """Delete a lock file nobody holds, holding it ourselves while we do so no start races us.

    True if it was removed, False if a process holds it now; FileNotFoundError if it is gone,
    ValueError (with the reason) if it is not ours to delete: its folder is a link, it is not
    a regular file (a link is never followed), or it belongs to a user other than `uid`. A daemon
    that opened the old file just before the unlink will find, after locking it, that the path
    now names another file, and start over (see `acquire`).
    """
    if sys.platform == "win32":  # pragma: no cover - no dir_fd, and an open file cannot go
        return _remove_if_unheld_windows(path)
    try:
        folder_fd = _open_folder(path.parent)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            raise ValueError(f"{path.parent} is not a folder (a symlink?)") from None
        raise
    try:
        try:
            st = os.stat(path.name, dir_fd=folder_fd, follow_symlinks=False)
        except FileNotFoundError:
            raise FileNotFoundError(str(path)) from None
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("not a regular file")
        if uid is not None and st.st_uid != uid:
            raise ValueError(f"it belongs to uid {st.st_uid}, not {uid}")
        try:
            fd = os.open(path.name, os.O_RDWR | _NOFOLLOW, dir_fd=folder_fd)
        except FileNotFoundError:
            raise FileNotFoundError(str(path)) from None
        try:
            mine = os.fstat(fd)
            if (mine.st_dev, mine.st_ino) != (st.st_dev, st.st_ino):
                return False  # replaced since we looked: look again next pass
            # Holding the lock is the re-check right before the unlink: a start that took it
            # after our look keeps its file.
            if not _try_lock(fd):
                return False
            try:
                return _unlink_same(folder_fd, path.name, mine)
            finally:
                _unlock(fd)
        finally:
            os.close(fd)
    finally:
        os.close(folder_fd)


def _remove_if_unheld_windows(path: Path) -> bool:  # pragma: no cover - Windows only
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        raise FileNotFoundError(str(path)) from None
    try:
        if not _try_lock(fd):
            return False
        _unlock(fd)
    finally:
        os.close(fd)
    try:
        os.unlink(path)
    except OSError:
        return False
    return True


@dataclass
class SingletonLock:
    path: Path
    owner: LockOwner
    _fd: int | None = field(default=None, init=False)

    def acquire(self) -> None:
        """Take the lock and write who holds it; LockHeld if another process has it.

        On any other error (a full disk, a quota) nothing stays taken: the OS lock, the
        descriptor and the half-written file are let go before the error is raised, so the
        next attempt, in this process or another, starts clean."""
        if self._fd is not None:
            raise RuntimeError(f"lock {self.path} is already held by this object")
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        for _ in range(10):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
            try:
                locked = _try_lock(fd)
            except BaseException:
                os.close(fd)
                raise
            if not locked:
                os.close(fd)
                try:
                    holder: LockOwner | None = read_owner(self.path)
                except (OSError, ValueError):
                    holder = None
                raise LockHeld(self.path, holder)
            try:
                here = self._still_at_path(fd)
            except BaseException:
                self._let_go(fd)
                raise
            if here:
                break
            # Someone removed the file between our open and our lock: that inode is no longer
            # the lock anyone else would find, so locking it would prove nothing.
            self._let_go(fd)
        else:  # pragma: no cover - needs a remover racing us ten times in a row
            raise OSError(f"lock file {self.path} keeps being replaced")
        # Held from here: an error in the write goes through release(), which removes the
        # half-written file while still holding it, then unlocks and closes.
        self._fd = fd
        try:
            data = json.dumps(self.owner.to_json(), sort_keys=True).encode()
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except BaseException:
            self.release()
            raise

    @staticmethod
    def _let_go(fd: int) -> None:
        try:
            _unlock(fd)
        finally:
            os.close(fd)

    def _still_at_path(self, fd: int) -> bool:
        if sys.platform == "win32":  # pragma: no cover - Windows cannot unlink an open file
            return True
        try:
            st = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Remove the file while still holding it, then let go: the next owner starts clean."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if sys.platform != "win32":
                _unlink_own(self.path, fd)
        except OSError:
            pass
        finally:
            try:
                _unlock(fd)
            finally:
                os.close(fd)
        if sys.platform == "win32":  # pragma: no cover
            try:
                os.unlink(self.path)
            except OSError:
                pass


def _unlink_own(path: Path, fd: int) -> None:
    """Unlink our own lock file, only while `path` still names the file `fd` holds, and through
    its folder opened without following a link: never a file elsewhere that a link reaches."""
    folder_fd = _open_folder(path.parent)
    try:
        _unlink_same(folder_fd, path.name, os.fstat(fd))
    finally:
        os.close(folder_fd)
