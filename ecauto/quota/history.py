"""How each limiter was used, minute by minute: what the dashboard draws (`<home>/quota.db`).

One row per (limiter key, UTC minute): calls granted, answers throttled (a 429, a window the
server said was spent), the limit of that minute's measure and, for a clock window, how much of
the window was used at the end of the minute. The same counts go into one row per key and UTC
hour (`quota_hourly`), which the graphs of days read: 30 days are 720 rows a key there, 43,200
in minutes (a second to sum). A gate writes its rows inside the same short transaction that
takes the token, so the history costs no second lock and never disagrees with the quota
itself. Rows older than `KEEP_S` are pruned by whoever opens a new minute (or hour).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

KEEP_S = 31 * 86400  # a month and a day: the dashboard shows up to 30 days
SCHEMA = """
CREATE TABLE IF NOT EXISTS quota_history (
    key TEXT NOT NULL,
    minute INTEGER NOT NULL,
    granted INTEGER NOT NULL DEFAULT 0,
    throttled INTEGER NOT NULL DEFAULT 0,
    quota REAL NOT NULL DEFAULT 0,
    used INTEGER,
    PRIMARY KEY (key, minute)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS quota_history_minute ON quota_history (minute);
CREATE TABLE IF NOT EXISTS quota_hourly (
    key TEXT NOT NULL,
    minute INTEGER NOT NULL,  -- the hour's first minute
    granted INTEGER NOT NULL DEFAULT 0,
    throttled INTEGER NOT NULL DEFAULT 0,
    quota REAL NOT NULL DEFAULT 0,
    used INTEGER,
    PRIMARY KEY (key, minute)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS quota_hourly_minute ON quota_hourly (minute);
"""
TABLES = (("quota_history", 1), ("quota_hourly", 60))  # and the minutes a row covers


@dataclass(frozen=True)
class Row:
    key: str  # "spapi/getCompetitivePricing/<marketplace>", "base/shop/hour", ...
    minute: int  # UTC epoch minute (epoch seconds // 60)
    granted: int
    throttled: int
    quota: float  # calls allowed in a minute (a bucket's rate x 60), or the window's limit
    used: int | None  # a window's count at the end of the minute (None for a bucket)


def create(db: sqlite3.Connection) -> None:
    db.executescript(SCHEMA)


def add(
    db: sqlite3.Connection,
    key: str,
    now: float,
    quota: float,
    granted: int = 0,
    throttled: int = 0,
    used: int | None = None,
) -> None:
    """Count into the minute (and hour) of `now`; call it inside the caller's open transaction."""
    for table, per in TABLES:
        minute = int(now // 60) // per * per
        # One statement: the row is made or counted into; its totals tell a new one.
        total = db.execute(
            f"INSERT INTO {table} (key, minute, granted, throttled, quota, used)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key, minute) DO UPDATE SET"
            " granted = granted + excluded.granted, throttled = throttled + excluded.throttled,"
            " quota = excluded.quota, used = COALESCE(excluded.used, used)"
            " RETURNING granted + throttled",
            (key, minute, granted, throttled, quota, used),
        ).fetchone()[0]
        if total == granted + throttled:
            # A new minute (or hour): the oldest rows go (an indexed range, a few rows at most).
            db.execute(f"DELETE FROM {table} WHERE minute < ?", (minute - KEEP_S // 60,))


@dataclass(frozen=True)
class Bin:
    """The rows of one key in one bar of a chart, summed in SQLite (30 days are 43,200 rows a
    key: summing them in Python made the page slow)."""

    key: str
    index: int  # the bar: (minute - first minute) // minutes a bar
    granted: int
    throttled: int
    quota: float  # the latest limit in the bar
    used: int | None  # a window's highest count in the bar
    last: int  # the bar's latest minute


def binned(db: sqlite3.Connection, start: float, bar_s: float) -> list[Bin]:
    """Every key's rows from `start` on, summed per bar of `bar_s` seconds, oldest first: from
    the hourly rows when a bar is an hour or more (the first bar then starts on the hour)."""
    first, per = int(start // 60), max(1, int(bar_s // 60))
    table = "quota_hourly" if per >= 60 else "quota_history"
    if per >= 60:
        first = first // 60 * 60
    try:
        rows = db.execute(
            "SELECT key, (minute - ?) / ? AS i, SUM(granted), SUM(throttled), MAX(quota),"
            f" MAX(used), MAX(minute) FROM {table} WHERE minute >= ?"
            " GROUP BY key, i ORDER BY i",
            (first, per, first),
        ).fetchall()
    except sqlite3.OperationalError:
        return []
    return [
        Bin(str(r[0]), int(r[1]), int(r[2]), int(r[3]), float(r[4]), r[5], int(r[6])) for r in rows
    ]


def since(db: sqlite3.Connection, start: float) -> list[Row]:
    """Every row from the minute of `start` on, oldest first."""
    try:
        rows = db.execute(
            "SELECT key, minute, granted, throttled, quota, used FROM quota_history"
            " WHERE minute >= ? ORDER BY minute",
            (int(start // 60),),
        ).fetchall()
    except sqlite3.OperationalError:
        return []  # no history yet (a quota.db from before it, or none at all)
    return [Row(str(r[0]), int(r[1]), int(r[2]), int(r[3]), float(r[4]), r[5]) for r in rows]
