"""The outbox folder: notices waiting for Chatwork, one file per submit, plus a small state file.

    <outbox>/n-000000000042.json   an Entry: the notices one submit() accepted, in order
    <outbox>/state.json            dedupe stamps, send windows, back-off (see policy.AlertState)

Every file is written to a temp file, fsync'ed, then renamed over (and the folder fsync'ed), so
a crash leaves the old file or the new one, never half of one. An entry is deleted only after
Chatwork took it. A file that cannot be read is renamed `*.corrupt` with one warning: one bad
file never blocks or loses the others. Files are the owner's only (0o600 in a 0o700 folder).

If the disk refuses a write (full, read-only), the entry is kept in memory instead and written
out at the next chance, so a full disk delays durability, not the alert.

More than one process appends (the watchdog, the dashboard's test alert): an entry's number is
taken and its file written under the lock `<outbox>.lock` (beside the folder), so two writers never take the same
number and one's entry never replaces the other's.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from ecauto import redact
from ecauto.atomic import fsync_dir, read_json_record, write_json_atomic
from ecauto.frozen import frozen
from ecauto.logsetup import fields
from ecauto.records import get
from watchdog.notices import Notice

log = logging.getLogger(__name__)

SCHEMA = 1
STATE_NAME = "state.json"
MAX_FILE_BYTES = 1 << 20  # an entry is a few KB; a larger file is not ours
APPEND_LOCK_TIMEOUT_S = 5.0  # a writer holds it for one fsync'ed write
STALE_TMP_S = 60.0
_ENTRY = re.compile(r"^n-(\d{12})\.json$")


@frozen
class Entry:
    seq: int  # order of submission; the file name carries it
    submitted_at: float  # UTC epoch seconds, by the alerter's clock
    notices: tuple[Notice, ...]

    @property
    def name(self) -> str:
        return f"n-{self.seq:012d}.json"

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "submitted_at": self.submitted_at,
            "notices": [n.to_json() for n in self.notices],
        }

    @classmethod
    def from_json(cls, seq: int, d: dict[str, Any]) -> Entry:
        if get(d, "schema", int) != SCHEMA:
            raise ValueError(f"unknown schema {d.get('schema')!r}")
        raw = get(d, "notices", list)
        if not raw:
            raise ValueError("no notices")
        return cls(seq, get(d, "submitted_at", float), tuple(Notice.from_json(n) for n in raw))


class Outbox:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._last_seq = 0
        self._unsaved: dict[int, Entry] = {}  # written to disk as soon as the disk lets us
        self._warned: set[str] = set()  # files already reported, so a stuck one warns once
        self._ready = False
        self.lock_path = folder.with_name(folder.name + ".lock")

    # -- entries --------------------------------------------------------------------------------

    def append(self, submitted_at: float, notices: Iterable[Notice]) -> Entry:
        """Queue `notices` as the newest entry, on disk before returning (if the disk allows).

        Safe beside another process appending to the same folder (see the module's docstring)."""
        from ecauto.daemon.lock import exclusive

        self._prepare()
        with ExitStack() as held:
            try:
                if self._ready:  # else nothing reaches the disk: kept in memory, as it says
                    held.enter_context(exclusive(self.lock_path, APPEND_LOCK_TIMEOUT_S))
            except (TimeoutError, OSError) as e:
                # Better a number that may clash (rare) than an alert not queued at all.
                self._warn_once("lock", "alert outbox appends without its lock", error=str(e))
            entry = Entry(self._next_seq(), submitted_at, tuple(notices))
            self._unsaved[entry.seq] = entry
            self.flush_unsaved()
        return entry

    def entries(self) -> list[Entry]:
        """Every queued entry, oldest first; unreadable files are moved aside on the way."""
        if self._unsaved:
            self.flush_unsaved()
        found: dict[int, Entry] = dict(self._unsaved)
        for seq, path in self._entry_files():
            if seq in found:
                continue
            try:
                found[seq] = Entry.from_json(seq, _read_object(path))
            except FileNotFoundError:
                continue  # removed meanwhile
            except (ValueError, TypeError) as e:
                self._set_aside(path, "corrupt", str(e) or type(e).__name__)
        return [found[s] for s in sorted(found)]

    def remove(self, seqs: Iterable[int]) -> None:
        """Forget entries Chatwork has taken (deleting a file already gone is fine)."""
        for seq in seqs:
            self._unsaved.pop(seq, None)
            try:
                os.unlink(self.folder / Entry(seq, 0.0, ()).name)
            except (FileNotFoundError, NotADirectoryError):
                pass  # never written (or already gone): nothing to delete
            except OSError as e:
                # Left behind, it would be sent again: say so, loudly, once per file.
                self._warn_once(
                    f"n-{seq}", "alert outbox cannot delete a sent entry", seq=seq, error=e.strerror
                )
        fsync_dir(self.folder)

    def replace(self, entry: Entry) -> None:
        """Rewrite one entry (fewer notices after trimming)."""
        self._unsaved[entry.seq] = entry
        self.flush_unsaved()

    def set_aside(self, seqs: Iterable[int], suffix: str, reason: str) -> None:
        for seq in seqs:
            self._unsaved.pop(seq, None)
            self._set_aside(self.folder / Entry(seq, 0.0, ()).name, suffix, redact.scrub(reason))

    def flush_unsaved(self) -> None:
        self._prepare()
        for seq in sorted(self._unsaved):
            entry = self._unsaved[seq]
            try:
                _write_durable(self.folder / entry.name, entry.to_json())
            except OSError as e:
                self._warn_once(
                    "unsaved",
                    "alert outbox cannot write; keeping alerts in memory",
                    folder=self.folder,
                    error=e.strerror or str(e),
                    waiting=len(self._unsaved),
                )
                return
            del self._unsaved[seq]
        self._warned.discard("unsaved")

    # -- state ----------------------------------------------------------------------------------

    def read_state(self) -> dict[str, Any] | None:
        """The state file's JSON object, or None (absent, or unreadable and moved aside)."""
        path = self.folder / STATE_NAME
        try:
            return _read_object(path)
        except FileNotFoundError:
            return None
        except ValueError as e:
            self._set_aside(path, "corrupt", str(e))
            return None

    def state_unreadable(self, reason: str) -> None:
        """The state file parsed as JSON but not as state: move it aside like any corrupt file."""
        self._set_aside(self.folder / STATE_NAME, "corrupt", reason)

    def write_state(self, data: dict[str, Any]) -> bool:
        try:
            self._prepare()
            # It keeps why delivery is held (Chatwork's own words): redacted, as all that leaves.
            _write_durable(self.folder / STATE_NAME, redact.scrub_tree(data))
        except OSError as e:
            self._warn_once(
                "state",
                "alert outbox cannot write its state",
                folder=self.folder,
                error=e.strerror or str(e),
            )
            return False
        self._warned.discard("state")
        return True

    # -- internals ------------------------------------------------------------------------------

    def _prepare(self) -> None:
        if self._ready:
            return
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            # mkdir's mode is filtered by the umask, and the folder may predate us.
            os.chmod(self.folder, 0o700)
            for p in self.folder.glob(".*.tmp"):
                # Left by a crash between write and rename; a young one is another
                # process's write under way (see the module's docstring).
                try:
                    if time.time() - p.stat().st_mtime > STALE_TMP_S:
                        p.unlink()
                except FileNotFoundError:
                    continue  # that write has just been renamed
        except OSError as e:
            self._warn_once(
                "folder",
                "alert outbox folder is not usable",
                folder=self.folder,
                error=e.strerror or str(e),
            )
            return
        self._ready = True

    def _entry_files(self) -> list[tuple[int, Path]]:
        try:
            names = os.listdir(self.folder)
        except OSError:
            return []
        out = []
        for name in names:
            m = _ENTRY.match(name)
            if m:
                out.append((int(m.group(1)), self.folder / name))
        return sorted(out)

    def _next_seq(self) -> int:
        on_disk = max((s for s, _ in self._entry_files()), default=0)
        self._last_seq = max(self._last_seq, on_disk, *self._unsaved, 0) + 1
        return self._last_seq

    def _set_aside(self, path: Path, suffix: str, reason: str) -> None:
        target = path.with_name(f"{path.name}.{suffix}")
        n = 1
        while target.exists():
            n += 1
            target = path.with_name(f"{path.name}.{n}.{suffix}")
        try:
            os.replace(path, target)
        except FileNotFoundError:
            return
        except OSError as e:
            self._warn_once(
                path.name,
                "alert outbox cannot move a bad file aside",
                file=path,
                reason=reason,
                error=e.strerror,
            )
            return
        log.warning(
            "alert outbox file set aside %s",
            fields(file=path.name, moved_to=target.name, reason=reason),
        )

    def _warn_once(self, what: str, message: str, **kv: object) -> None:
        if what not in self._warned:
            self._warned.add(what)
            log.warning("%s %s", message, fields(**kv))


def _read_object(path: Path) -> dict[str, Any]:
    return read_json_record(path, MAX_FILE_BYTES)


def _write_durable(path: Path, data: dict[str, Any]) -> None:
    write_json_atomic(path, data, durable=True)
