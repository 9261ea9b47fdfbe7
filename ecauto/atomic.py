"""Small helpers for files other processes read while we write them."""

from __future__ import annotations

import json
import os
import stat
import tempfile
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


def read_json_record(path: Path, max_bytes: int = MAX_RECORD_BYTES) -> dict[str, Any]:
    """Read a small JSON object defensively: raise ValueError with a short reason on anything odd."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(str(path)) from None
    except OSError as e:
        raise ValueError(f"cannot stat: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ValueError("not a regular file")
    if st.st_size > max_bytes:
        raise ValueError(f"too large ({st.st_size} bytes)")
    try:
        with open(path, "rb") as f:
            raw = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise
    except OSError as e:
        raise ValueError(f"cannot read: {e.strerror}") from None
    if not raw.strip():
        raise ValueError("empty")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ValueError("not valid JSON") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data
