"""The business store: SQLite in WAL mode, schema created and migrated on open.

Writes go through `BEGIN IMMEDIATE` so that two processes never interleave a read-modify-write;
every listing's state change is its own committed transaction, so a crash loses at most the
unit of work in hand, and that one is recoverable from its `uploading` state.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecauto.records import one_line

_MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE products (
        asin TEXT PRIMARY KEY,
        sku TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL DEFAULT '',
        price INTEGER,
        stock INTEGER,
        price_updated_at REAL,
        stock_updated_at REAL,
        synced_at REAL,
        base_item_id TEXT,
        base_price INTEGER,
        base_pushed_at REAL,
        last_error TEXT
    );
    CREATE TABLE listings (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        platform TEXT NOT NULL,
        sku TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'queued'
            CHECK (state IN ('queued', 'uploading', 'uploaded', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        last_error TEXT,
        remote_id TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        uploaded_at REAL,
        UNIQUE (platform, sku)
    );
    CREATE INDEX listings_due ON listings (platform, state, next_attempt_at);
    CREATE TABLE upload_attempts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        platform TEXT NOT NULL,
        listing_id INTEGER NOT NULL,
        at REAL NOT NULL,
        ok INTEGER NOT NULL
    );
    CREATE INDEX upload_attempts_at ON upload_attempts (platform, at);
    CREATE TABLE sync_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at REAL NOT NULL,
        finished_at REAL,
        state TEXT NOT NULL DEFAULT 'running',
        items INTEGER NOT NULL DEFAULT 0,
        changed INTEGER NOT NULL DEFAULT 0,
        pushed INTEGER NOT NULL DEFAULT 0,
        throttled INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
]


@dataclass(frozen=True)
class Listing:
    id: int
    platform: str
    sku: str
    payload: dict[str, Any]
    state: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    remote_id: str | None


@dataclass(frozen=True)
class PriceUpdate:
    asin: str
    price: int | None  # None: Amazon gave no price (no offer); the stored price stays
    stock: int


@dataclass(frozen=True)
class PricePush:
    asin: str
    base_item_id: str
    price: int
    stock: int


class Store:
    def __init__(self, path: Path, timeout_s: float = 30.0) -> None:
        self.path = path
        self.db = sqlite3.connect(path, timeout=timeout_s, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")

    def _migrate(self) -> None:
        with self.tx() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(_MIGRATIONS):
                raise RuntimeError(f"{self.path} has schema {version}, newer than this ecauto")
            for i in range(version, len(_MIGRATIONS)):
                for stmt in _MIGRATIONS[i].split(";"):
                    if stmt.strip():
                        db.execute(stmt)
                db.execute(f"PRAGMA user_version = {i + 1}")

    # --- meta and demo data ------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def seed_demo(self, products: int, listings_per_platform: int,
                  platforms: Sequence[str], now: float) -> bool:
        """Fill an empty sandbox instance with demo data, once (True if this call did it)."""
        with self.tx() as db:
            if db.execute("SELECT 1 FROM meta WHERE key = 'demo_seeded'").fetchone():
                return False
            db.executemany(
                "INSERT OR IGNORE INTO products (asin, sku, title, base_item_id) VALUES (?,?,?,?)",
                [(demo_asin(i), f"SKU-{i:05d}", f"Demo product {i}", str(100000 + i))
                 for i in range(products)],
            )
            rows = []
            for p in platforms:
                for i in range(listings_per_platform):
                    sku = f"SKU-{i:05d}"
                    payload = {"sku": sku, "title": f"Demo product {i}", "price": 1000 + 10 * i,
                               "stock": 1 + i % 5}
                    rows.append((p, sku, json.dumps(payload), now, now))
            db.executemany(
                "INSERT OR IGNORE INTO listings (platform, sku, payload, created_at, updated_at)"
                " VALUES (?,?,?,?,?)", rows)
            db.execute("INSERT INTO meta (key, value) VALUES ('demo_seeded', ?)", (str(now),))
        return True

    # --- listings ----------------------------------------------------------------------------
    def enqueue(self, platform: str, sku: str, payload: dict[str, Any], now: float) -> int:
        with self.tx() as db:
            cur = db.execute(
                "INSERT INTO listings (platform, sku, payload, created_at, updated_at)"
                " VALUES (?,?,?,?,?)", (platform, sku, json.dumps(payload), now, now))
            return int(cur.lastrowid or 0)

    def _listing(self, row: sqlite3.Row) -> Listing:
        return Listing(row["id"], row["platform"], row["sku"], json.loads(row["payload"]),
                       row["state"], row["attempts"], row["next_attempt_at"], row["last_error"],
                       row["remote_id"])

    def in_flight(self, platform: str) -> list[Listing]:
        """Listings a crash left between 'we are uploading' and 'it is uploaded'."""
        rows = self.db.execute(
            "SELECT * FROM listings WHERE platform = ? AND state = 'uploading' ORDER BY id",
            (platform,)).fetchall()
        return [self._listing(r) for r in rows]

    def due(self, platform: str, now: float, limit: int) -> list[Listing]:
        rows = self.db.execute(
            "SELECT * FROM listings WHERE platform = ? AND state = 'queued'"
            " AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
            (platform, now, limit)).fetchall()
        return [self._listing(r) for r in rows]

    def attempts_since(self, platform: str, since: float) -> int:
        row = self.db.execute(
            "SELECT COUNT(*) FROM upload_attempts WHERE platform = ? AND at > ?",
            (platform, since)).fetchone()
        return int(row[0])

    def mark_uploading(self, listing_id: int, now: float) -> bool:
        """Claim a queued listing; False if something else already moved it."""
        with self.tx() as db:
            cur = db.execute(
                "UPDATE listings SET state = 'uploading', updated_at = ?"
                " WHERE id = ? AND state = 'queued'", (now, listing_id))
            if cur.rowcount:
                db.execute("INSERT INTO upload_attempts (platform, listing_id, at, ok)"
                           " SELECT platform, id, ?, 0 FROM listings WHERE id = ?",
                           (now, listing_id))
            return cur.rowcount == 1

    def mark_uploaded(self, listing_id: int, remote_id: str, now: float) -> None:
        with self.tx() as db:
            db.execute(
                "UPDATE listings SET state = 'uploaded', remote_id = ?, uploaded_at = ?,"
                " updated_at = ?, last_error = NULL WHERE id = ?",
                (remote_id, now, now, listing_id))
            db.execute("UPDATE upload_attempts SET ok = 1 WHERE id ="
                       " (SELECT MAX(id) FROM upload_attempts WHERE listing_id = ?)", (listing_id,))

    def mark_failed(self, listing_id: int, error: str, retry_at: float | None,
                    now: float) -> None:
        """Back to the queue for `retry_at`, or, with None, out of it for a person to look at."""
        state = "queued" if retry_at is not None else "failed"
        with self.tx() as db:
            db.execute(
                "UPDATE listings SET state = ?, attempts = attempts + 1, next_attempt_at = ?,"
                " last_error = ?, updated_at = ? WHERE id = ?",
                (state, retry_at or now, one_line(error), now, listing_id))

    def requeue(self, listing_id: int, now: float) -> None:
        with self.tx() as db:
            db.execute("UPDATE listings SET state = 'queued', updated_at = ? WHERE id = ?"
                       " AND state = 'uploading'", (now, listing_id))

    def listing_counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for r in self.db.execute(
                "SELECT platform, state, COUNT(*) FROM listings GROUP BY platform, state"):
            out.setdefault(r[0], {})[r[1]] = r[2]
        return out

    # --- products ----------------------------------------------------------------------------
    def all_asins(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT asin FROM products ORDER BY asin")]

    def apply_prices(self, updates: Sequence[PriceUpdate], now: float) -> int:
        """Store what Amazon said; timestamps move only for values that changed. Returns changes."""
        changed = 0
        with self.tx() as db:
            for u in updates:
                row = db.execute("SELECT price, stock FROM products WHERE asin = ?",
                                 (u.asin,)).fetchone()
                if row is None:
                    continue
                if u.price is not None and u.price != row["price"]:
                    db.execute("UPDATE products SET price = ?, price_updated_at = ? WHERE asin = ?",
                               (u.price, now, u.asin))
                    changed += 1
                if u.stock != row["stock"]:
                    db.execute("UPDATE products SET stock = ?, stock_updated_at = ? WHERE asin = ?",
                               (u.stock, now, u.asin))
                db.execute("UPDATE products SET synced_at = ?, last_error = NULL WHERE asin = ?",
                           (now, u.asin))
        return changed

    def record_product_error(self, asin: str, error: str) -> None:
        with self.tx() as db:
            db.execute("UPDATE products SET last_error = ? WHERE asin = ?", (one_line(error), asin))

    def prices_to_push(self) -> list[PricePush]:
        """Products whose Amazon-derived price differs from what BASE was last told."""
        rows = self.db.execute(
            "SELECT asin, base_item_id, price, stock FROM products WHERE base_item_id IS NOT NULL"
            " AND price IS NOT NULL AND (base_price IS NULL OR base_price != price) ORDER BY asin"
        ).fetchall()
        return [PricePush(r[0], r[1], r[2], r[3] or 0) for r in rows]

    def mark_pushed(self, asin: str, price: int, now: float) -> None:
        with self.tx() as db:
            db.execute("UPDATE products SET base_price = ?, base_pushed_at = ? WHERE asin = ?",
                       (price, now, asin))

    # --- sync runs ---------------------------------------------------------------------------
    def start_run(self, now: float) -> int:
        with self.tx() as db:
            return int(db.execute("INSERT INTO sync_runs (started_at) VALUES (?)",
                                  (now,)).lastrowid or 0)

    def finish_run(self, run_id: int, state: str, now: float, **counts: int) -> None:
        sets = ", ".join(f"{k} = ?" for k in counts)
        with self.tx() as db:
            db.execute(f"UPDATE sync_runs SET state = ?, finished_at = ?{', ' if sets else ''}"
                       f"{sets} WHERE id = ?", (state, now, *counts.values(), run_id))


def demo_asin(i: int) -> str:
    return f"B0{i:08d}"
