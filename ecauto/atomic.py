"""Small helpers for files other processes read while we write them."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

# A record file larger than this is not ours: refuse to read it rather than load it all.
MAX_RECORD_BYTES = 64 * 1024


def write_json_atomic(path: Path, data: dict[str, Any], durable: bool = False) -> None:
    """Write to a temp file in the same folder, then `os.replace`: readers see old or new, never half.

    mkstemp makes the file 0o600, the owner's only from its first byte. `durable` also fsyncs
    the file and its folder, for what must survive a power cut (queued alerts)."""
    text = json.dumps(data, separators=(",", ":"), sort_keys=True)
    write_bytes_atomic(path, text.encode("utf-8"), durable)


def write_bytes_atomic(path: Path, data: bytes, durable: bool = False) -> None:
    """As `write_json_atomic`, for bytes."""
    import tempfile  # (with random and shutil) only when writing: a report reads

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if durable:
        fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # Windows cannot open a folder; NTFS journals the rename itself
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a folder; the data file itself is synced
    finally:
        os.close(fd)


# Opening never blocks (a FIFO or a device put where a record belongs) and never follows a
# link at the last step (a record swapped for a link to someone else's file). Windows has neither
# flag and no FIFOs in the file system.
_READ_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def read_regular(path: str | os.PathLike[str], max_bytes: int, *, tail: bool = False) -> bytes:
    """The bytes of the regular file at `path`, read without blocking and without following a link.

    FileNotFoundError when absent; ValueError with a short reason when it is a link, a FIFO, a
    folder, larger than `max_bytes` or unreadable. With `tail`, a larger file is not refused: its
    last `max_bytes` are returned, from the first whole line on. Every file the watchdog reads
    from a home goes through here."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(str(path)) from None
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.EMLINK):  # EMLINK: FreeBSD's O_NOFOLLOW answer
            raise ValueError("not a regular file (a symlink)") from None
        raise ValueError(f"cannot open: {e.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("not a regular file")
        start = max(0, st.st_size - max_bytes) if tail else 0
        if st.st_size > max_bytes and not tail:
            raise ValueError(f"too large ({st.st_size} bytes)")
        if start:
            os.lseek(fd, start, os.SEEK_SET)
        limit = max_bytes if tail else max_bytes + 1  # one byte more tells a file that grew
        chunks, got = [], 0
        while got < limit:
            chunk = os.read(fd, limit - got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
    except OSError as e:
        raise ValueError(f"cannot read: {e.strerror}") from None
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    if len(raw) > max_bytes:
        raise ValueError(f"too large (more than {max_bytes} bytes)")
    if start:
        cut = raw.find(b"\n")  # the first line may be cut: start after its end
        raw = raw[cut + 1 :] if cut >= 0 else b""
    return raw


def read_json_record(path: Path, max_bytes: int = MAX_RECORD_BYTES) -> dict[str, Any]:
    """Read a small JSON object defensively: raise ValueError with a short reason on anything odd."""
    raw = read_regular(path, max_bytes)
    if not raw.strip():
        raise ValueError("empty")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ValueError("not valid JSON") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data
