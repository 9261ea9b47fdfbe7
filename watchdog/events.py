"""`<home>/watchdog/events.jsonl`: every finding and what was done about it, one JSON object a line.

Appended with one write per line (O_APPEND), so a `watchdog scan` and the `watchdog run` loop can
share it. Rotated to `events.jsonl.1` past `max_bytes`, so it never fills the disk. Nothing
secret is ever written here: findings carry pids, names and summaries, never a token.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from ecauto import redact
from ecauto.logsetup import fields

log = logging.getLogger(__name__)

MAX_BYTES = 5 * 1024 * 1024


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
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
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
            with open(self.path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - max_read))
                raw = f.read()
        except OSError:
            return []
        lines = raw.decode("utf-8", "replace").splitlines()
        if size > max_read:
            lines = lines[1:]  # the first may be cut
        out = []
        for line in reversed(lines):
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                out.append(rec)
            if len(out) >= n:
                break
        return list(reversed(out))
