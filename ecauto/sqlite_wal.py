"""Opening the instance's SQLite files in WAL mode, safely when several processes start at once."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from ecauto.backoff import compute_backoff


def open_wal(path: Path, timeout_s: float = 30.0) -> sqlite3.Connection:
    """A connection in autocommit mode (callers use BEGIN IMMEDIATE), journal in WAL.

    Switching a new database to WAL takes an exclusive lock and SQLite does not wait for it
    through the busy handler: when four daemons open a fresh home at once, all but one get
    "database is locked" (seen here). So that one statement is retried until `timeout_s`."""
    db = sqlite3.connect(path, timeout=timeout_s, isolation_level=None, check_same_thread=False)
    deadline = time.monotonic() + timeout_s
    tries = 0
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() >= deadline:
                db.close()
                raise
            tries += 1
            time.sleep(compute_backoff(tries, 0.005, 0.2))
    db.execute("PRAGMA synchronous=NORMAL")
    return db
