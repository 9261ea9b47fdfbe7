"""Limiter state shared by every process of one home: `<home>/quota.db` (SQLite, WAL).

Each read-modify-write runs in a `BEGIN IMMEDIATE` transaction, so two processes never decide
from the same old state; a transaction is a few hundred microseconds and never spans a request.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ecauto.quota import history
from ecauto.sqlite_wal import open_wal

T = TypeVar("T")


class QuotaStore:
    def __init__(self, path: Path, timeout_s: float = 30.0) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = path
        self.db = open_wal(path, timeout_s)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS limiter (key TEXT PRIMARY KEY, state TEXT NOT NULL)"
        )
        history.create(self.db)

    def close(self) -> None:
        self.db.close()

    def update(
        self,
        key: str,
        fn: Callable[[dict[str, Any]], tuple[dict[str, Any], T]],
        note: Callable[[sqlite3.Connection, T], None] | None = None,
    ) -> T:
        """Apply `fn` to the stored state of `key` (an empty dict at first) atomically; `note`
        writes the result into the history (`history.add`) in the same transaction."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            row = self.db.execute("SELECT state FROM limiter WHERE key = ?", (key,)).fetchone()
            try:
                state = json.loads(row[0]) if row else {}
            except ValueError:
                state = {}  # a damaged row costs one window's count, never a crash
            if not isinstance(state, dict):
                state = {}
            new, result = fn(state)
            if new != state:
                self.db.execute(
                    "INSERT OR REPLACE INTO limiter (key, state) VALUES (?, ?)",
                    (key, json.dumps(new)),
                )
            if note is not None:
                note(self.db, result)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        return result

    def read(self, key: str) -> dict[str, Any]:
        row = self.db.execute("SELECT state FROM limiter WHERE key = ?", (key,)).fetchone()
        try:
            state = json.loads(row[0]) if row else {}
        except ValueError:
            return {}
        return state if isinstance(state, dict) else {}
