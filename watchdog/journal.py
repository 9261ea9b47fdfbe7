"""Read circusd's journal (`<home>/circus/journal.jsonl`, written by ecauto/circus_hooks.py) and
the last words of a daemon's log: bounded reads, untrusted content, never an exception.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ecauto.records import one_line

from .deaths import Entry

MAX_READ = 64 * 1024  # the tail read: ~600 entries, the count needs a handful


def journal_path(home: Path) -> Path:
    return home / "circus" / "journal.jsonl"


def read_journal(path: Path, max_read: int = MAX_READ) -> tuple[Entry, ...]:
    """The readable entries at the end of the journal, oldest first (a torn line is skipped)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_read))
            raw = f.read(max_read)
    except OSError:
        return ()
    lines = raw.decode("utf-8", "replace").splitlines()
    if size > max_read:
        lines = lines[1:]  # the first may be cut
    out = []
    for line in lines:
        try:
            out.append(Entry.from_json(json.loads(line)))
        except ValueError:
            continue
    return tuple(out)


class JournalReader:
    """`read_journal`, parsed again only when the file changed (most passes it has not: parsing
    the whole tail costs tens of milliseconds on a busy machine)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int, int] | None = None
        self._entries: tuple[Entry, ...] = ()

    def read(self) -> tuple[Entry, ...]:
        try:
            st = os.stat(self.path)
        except OSError:
            self._seen, self._entries = None, ()
            return ()
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        if key != self._seen:
            self._entries = read_journal(self.path)
            self._seen = key
        return self._entries


def last_words(path: Path, max_read: int = 4096) -> str | None:
    """The last non-empty line of a log file (why a daemon exits), one line, or None."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - max_read))
            raw = f.read(max_read)
    except OSError:
        return None
    for line in reversed(raw.decode("utf-8", "replace").splitlines()):
        if line.strip():
            return one_line(line.strip(), 200)
    return None
