"""`<home>/watchdog/events.jsonl`: every finding and what was done about it, one JSON object a line.

Appended with one write per line (O_APPEND), so a `watchdog scan` and the `watchdog run` loop can
share it. Rotated to `events.jsonl.1` past `max_bytes`, so it never fills the disk. Nothing
secret is ever written here: findings carry pids, names and summaries, never a token.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

from ecauto import redact
from ecauto.atomic import read_regular
from ecauto.logsetup import fields

log = logging.getLogger(__name__)

MAX_BYTES = 5 * 1024 * 1024
# Never block on a FIFO put in its place, never write through a link to another file.
_APPEND_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_APPEND
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


class EventLog:
    def __init__(self, path: Path, max_bytes: int = MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes

    def append(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        # Summaries quote daemons' errors: every text passes the one redaction (ecauto.redact).
        data = "".join(
            json.dumps(redact.scrub_tree(r), ensure_ascii=False, sort_keys=True) + "\n"
            for r in records
        )
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._rotate()
            fd = os.open(self.path, _APPEND_FLAGS, 0o600)
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise OSError(f"{self.path} is not a regular file")
                os.write(fd, data.encode("utf-8"))
            finally:
                os.close(fd)
        except OSError as e:
            log.warning("events not written %s", fields(path=self.path, error=e))

    def _rotate(self) -> None:
        try:
            if os.path.getsize(self.path) < self.max_bytes:
                return
        except OSError:
            return
        os.replace(self.path, self.path.with_name(self.path.name + ".1"))

    def tail(self, n: int = 20, max_read: int = 256 * 1024) -> list[dict[str, Any]]:
        """The last `n` readable records (a torn or foreign line is skipped)."""
        try:
            raw = read_regular(self.path, max_read, tail=True)
        except (OSError, ValueError):
            return []  # absent, or not a file we read (a FIFO would hang the report)
        lines = raw.decode("utf-8", "replace").splitlines()
        out = []
        for line in reversed(lines):
            try:
                rec = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if isinstance(rec, dict):
                out.append(rec)
            if len(out) >= n:
                break
        return list(reversed(out))
