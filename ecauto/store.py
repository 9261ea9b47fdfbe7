"""The business store: SQLite in WAL mode, schema created and migrated on open.

Writes go through `BEGIN IMMEDIATE` so that two processes never interleave a read-modify-write;
every listing's state change is its own committed transaction, so a crash loses at most the
unit of work in hand, and that one is recoverable from its `uploading` state.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from ecauto import redact
from ecauto.config import DEFAULT_ACCOUNT
from ecauto.sqlite_wal import open_wal

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
    # 2: a sync cycle's batches are claimed one by one, so a restarted sync resumes its cycle
    # and copies of it (however started) share one cycle instead of each doing all of it
    """
    ALTER TABLE sync_runs ADD COLUMN batches INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sync_runs ADD COLUMN pusher TEXT;
    UPDATE sync_runs SET state = 'abandoned' WHERE state = 'running';
    CREATE TABLE sync_batches (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER NOT NULL REFERENCES sync_runs (id),
        idx INTEGER NOT NULL,
        asins TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'queued'
            CHECK (state IN ('queued', 'claimed', 'done', 'failed')),
        claimed_by TEXT,
        claimed_at REAL,
        done_at REAL,
        error TEXT,
        UNIQUE (run_id, idx)
    );
    CREATE INDEX sync_batches_todo ON sync_batches (run_id, state, idx);
    """,
    # 3: the stock BASE was last told, so a product nobody offers on Amazon any more (stock 0,
    # price kept) is pushed as stock 0 and cannot be sold on BASE. Items pushed before this
    # were told their price with the stock of that time: those in stock are taken as told,
    # those out of stock are pushed once more (NULL) to be sure BASE has them at 0.
    """
    ALTER TABLE products ADD COLUMN base_stock INTEGER;
    UPDATE products SET base_stock = stock
        WHERE base_price IS NOT NULL AND stock IS NOT NULL AND stock > 0;
    """,
    # 4: several BASE shops (`[base.accounts]`): products and listings belong to an account,
    # the same ASIN or SKU may be in two shops, and a sync batch reads one account's products.
    # What was there belongs to the one shop of before, the default account. (SQLite changes a
    # primary key only by copying the table.)
    """
    CREATE TABLE products_v4 (
        account TEXT NOT NULL DEFAULT 'default',
        asin TEXT NOT NULL,
        sku TEXT NOT NULL,
        title TEXT NOT NULL DEFAULT '',
        price INTEGER,
        stock INTEGER,
        price_updated_at REAL,
        stock_updated_at REAL,
        synced_at REAL,
        base_item_id TEXT,
        base_price INTEGER,
        base_pushed_at REAL,
        last_error TEXT,
        base_stock INTEGER,
        PRIMARY KEY (account, asin),
        UNIQUE (account, sku)
    );
    INSERT INTO products_v4 (account, asin, sku, title, price, stock, price_updated_at,
        stock_updated_at, synced_at, base_item_id, base_price, base_pushed_at, last_error,
        base_stock)
        SELECT 'default', asin, sku, title, price, stock, price_updated_at, stock_updated_at,
            synced_at, base_item_id, base_price, base_pushed_at, last_error, base_stock
        FROM products;
    DROP TABLE products;
    ALTER TABLE products_v4 RENAME TO products;
    CREATE TABLE listings_v4 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        platform TEXT NOT NULL,
        account TEXT NOT NULL DEFAULT 'default',
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
        UNIQUE (platform, account, sku)
    );
    INSERT INTO listings_v4 (id, platform, account, sku, payload, state, attempts,
        next_attempt_at, last_error, remote_id, created_at, updated_at, uploaded_at)
        SELECT id, platform, 'default', sku, payload, state, attempts, next_attempt_at,
            last_error, remote_id, created_at, updated_at, uploaded_at
        FROM listings;
    DROP TABLE listings;
    ALTER TABLE listings_v4 RENAME TO listings;
    CREATE INDEX listings_due ON listings (platform, account, state, next_attempt_at);
    ALTER TABLE sync_batches ADD COLUMN account TEXT NOT NULL DEFAULT 'default';
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
    account: str = DEFAULT_ACCOUNT


class Batch(NamedTuple):
    """A claimed batch of a sync cycle: its ASINs, all of one account."""

    id: int
    idx: int
    asins: list[str]
    account: str


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
        self.db = open_wal(path, timeout_s)
        self.db.row_factory = sqlite3.Row
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
    def seed_demo(
        self,
        products: int,
        listings_per_platform: int,
        platforms: Sequence[str],
        now: float,
        account: str = DEFAULT_ACCOUNT,
        index: int = 0,
        owners: Mapping[str, str] | None = None,
    ) -> bool:
        """Fill an empty sandbox instance with demo data, once per account (True if this call
        did it). The account at `index` 0 gets today's demo ASINs and SKUs and every platform's
        listings; another gets ASINs of its own and BASE listings only. eBay's and Yahoo's
        listings go to their account in `owners` (their first; default: the default account)."""
        mark = "demo_seeded" if index == 0 else f"demo_seeded:{account}"
        with self.tx() as db:
            if db.execute("SELECT 1 FROM meta WHERE key = ?", (mark,)).fetchone():
                return False
            db.executemany(
                "INSERT OR IGNORE INTO products (account, asin, sku, title, base_item_id)"
                " VALUES (?,?,?,?,?)",
                [
                    (
                        account,
                        demo_asin(i, index),
                        f"SKU-{i:05d}",
                        f"Demo product {i}",
                        str(100000 + i),
                    )
                    for i in range(products)
                ],
            )
            rows = []
            for p in platforms if index == 0 else [p for p in platforms if p == "base"]:
                for i in range(listings_per_platform):
                    sku = f"SKU-{i:05d}"
                    payload = {
                        "sku": sku,
                        "title": f"Demo product {i}",
                        "price": 1000 + 10 * i,
                        "stock": 1 + i % 5,
                    }
                    owner = account if p == "base" else (owners or {}).get(p, DEFAULT_ACCOUNT)
                    rows.append((p, owner, sku, json.dumps(payload), now, now))
            db.executemany(
                "INSERT OR IGNORE INTO listings"
                " (platform, account, sku, payload, created_at, updated_at) VALUES (?,?,?,?,?,?)",
                rows,
            )
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (mark, str(now)))
        return True

    # --- listings ----------------------------------------------------------------------------
    def enqueue(
        self,
        platform: str,
        sku: str,
        payload: dict[str, Any],
        now: float,
        account: str = DEFAULT_ACCOUNT,
    ) -> int:
        with self.tx() as db:
            cur = db.execute(
                "INSERT INTO listings (platform, account, sku, payload, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?)",
                (platform, account, sku, json.dumps(payload), now, now),
            )
            return int(cur.lastrowid or 0)

    def _listing(self, row: sqlite3.Row) -> Listing:
        return Listing(
            row["id"],
            row["platform"],
            row["sku"],
            json.loads(row["payload"]),
            row["state"],
            row["attempts"],
            row["next_attempt_at"],
            row["last_error"],
            row["remote_id"],
            row["account"],
        )

    def in_flight(self, platform: str, account: str = DEFAULT_ACCOUNT) -> list[Listing]:
        """Listings a crash left between 'we are uploading' and 'it is uploaded'."""
        rows = self.db.execute(
            "SELECT * FROM listings WHERE platform = ? AND account = ? AND state = 'uploading'"
            " ORDER BY id",
            (platform, account),
        ).fetchall()
        return [self._listing(r) for r in rows]

    def due(
        self, platform: str, now: float, limit: int, account: str = DEFAULT_ACCOUNT
    ) -> list[Listing]:
        rows = self.db.execute(
            "SELECT * FROM listings WHERE platform = ? AND account = ? AND state = 'queued'"
            " AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
            (platform, account, now, limit),
        ).fetchall()
        return [self._listing(r) for r in rows]

    def attempts_since(self, platform: str, since: float, account: str = DEFAULT_ACCOUNT) -> int:
        row = self.db.execute(
            "SELECT COUNT(*) FROM upload_attempts a JOIN listings l ON l.id = a.listing_id"
            " WHERE a.platform = ? AND l.account = ? AND a.at > ?",
            (platform, account, since),
        ).fetchone()
        return int(row[0])

    def first_try_at(self, listing_id: int) -> float | None:
        """When the first try of a listing began (None: never tried)."""
        row = self.db.execute(
            "SELECT MIN(at) FROM upload_attempts WHERE listing_id = ?", (listing_id,)
        ).fetchone()
        return None if row[0] is None else float(row[0])

    def mark_uploading(self, listing_id: int, now: float) -> bool:
        """Claim a queued listing; False if something else already moved it."""
        with self.tx() as db:
            cur = db.execute(
                "UPDATE listings SET state = 'uploading', updated_at = ?"
                " WHERE id = ? AND state = 'queued'",
                (now, listing_id),
            )
            if cur.rowcount:
                db.execute(
                    "INSERT INTO upload_attempts (platform, listing_id, at, ok)"
                    " SELECT platform, id, ?, 0 FROM listings WHERE id = ?",
                    (now, listing_id),
                )
            return cur.rowcount == 1

    def mark_uploaded(self, listing_id: int, remote_id: str, now: float) -> None:
        with self.tx() as db:
            db.execute(
                "UPDATE listings SET state = 'uploaded', remote_id = ?, uploaded_at = ?,"
                " updated_at = ?, last_error = NULL WHERE id = ?",
                (remote_id, now, now, listing_id),
            )
            db.execute(
                "UPDATE upload_attempts SET ok = 1 WHERE id ="
                " (SELECT MAX(id) FROM upload_attempts WHERE listing_id = ?)",
                (listing_id,),
            )

    def mark_failed(self, listing_id: int, error: str, retry_at: float | None, now: float) -> None:
        """Back to the queue for `retry_at`, or, with None, out of it for a person to look at."""
        state = "queued" if retry_at is not None else "failed"
        with self.tx() as db:
            db.execute(
                "UPDATE listings SET state = ?, attempts = attempts + 1, next_attempt_at = ?,"
                " last_error = ?, updated_at = ? WHERE id = ?",
                (state, retry_at or now, redact.error_line(error), now, listing_id),
            )

    def requeue(self, listing_id: int, now: float) -> None:
        with self.tx() as db:
            db.execute(
                "UPDATE listings SET state = 'queued', updated_at = ? WHERE id = ?"
                " AND state = 'uploading'",
                (now, listing_id),
            )

    def listing_counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for r in self.db.execute(
            "SELECT platform, state, COUNT(*) FROM listings GROUP BY platform, state"
        ):
            out.setdefault(r[0], {})[r[1]] = r[2]
        return out

    # --- products ----------------------------------------------------------------------------
    def all_asins(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT asin FROM products ORDER BY asin")]

    def product_accounts(self) -> dict[str, int]:
        """How many products each account has."""
        return {
            r[0]: r[1]
            for r in self.db.execute("SELECT account, COUNT(*) FROM products GROUP BY account")
        }

    def apply_prices(
        self, updates: Sequence[PriceUpdate], now: float, account: str = DEFAULT_ACCOUNT
    ) -> int:
        """Store what Amazon said; timestamps move only for values that changed. Returns changes."""
        with self.tx() as db:
            return self._apply_prices(db, updates, now, account)

    @staticmethod
    def _apply_prices(
        db: sqlite3.Connection, updates: Sequence[PriceUpdate], now: float, account: str
    ) -> int:
        """Within the caller's transaction."""
        changed = 0
        for u in updates:
            key = (u.asin, account)
            row = db.execute(
                "SELECT price, stock FROM products WHERE asin = ? AND account = ?", key
            ).fetchone()
            if row is None:
                continue
            if u.price is not None and u.price != row["price"]:
                db.execute(
                    "UPDATE products SET price = ?, price_updated_at = ?"
                    " WHERE asin = ? AND account = ?",
                    (u.price, now, *key),
                )
                changed += 1
            if u.stock != row["stock"]:
                db.execute(
                    "UPDATE products SET stock = ?, stock_updated_at = ?"
                    " WHERE asin = ? AND account = ?",
                    (u.stock, now, *key),
                )
            db.execute(
                "UPDATE products SET synced_at = ?, last_error = NULL WHERE asin = ? AND account = ?",
                (now, *key),
            )
        return changed

    def prices_to_push(self, account: str = DEFAULT_ACCOUNT) -> list[PricePush]:
        """Products whose price or stock differs from what BASE was last told: a new price, and
        a product nobody offers on Amazon any more (stock 0, its price kept) so BASE stops
        selling it, and again when an offer comes back (stock 1)."""
        rows = self.db.execute(
            "SELECT asin, base_item_id, price, COALESCE(stock, 0) FROM products"
            " WHERE account = ? AND base_item_id IS NOT NULL AND price IS NOT NULL"
            " AND (base_price IS NULL OR base_price != price"
            " OR base_stock IS NULL OR base_stock != COALESCE(stock, 0)) ORDER BY asin",
            (account,),
        ).fetchall()
        return [PricePush(r[0], r[1], r[2], r[3]) for r in rows]

    def mark_pushed(
        self, asin: str, price: int, stock: int, now: float, account: str = DEFAULT_ACCOUNT
    ) -> None:
        with self.tx() as db:
            db.execute(
                "UPDATE products SET base_price = ?, base_stock = ?, base_pushed_at = ?"
                " WHERE asin = ? AND account = ?",
                (price, stock, now, asin, account),
            )

    # --- sync runs ---------------------------------------------------------------------------
    def join_or_start_run(
        self,
        now: float,
        max_age_s: float,
        batch_size: int,
        accounts: Sequence[str] = (DEFAULT_ACCOUNT,),
    ) -> tuple[int, bool]:
        """The cycle under way (started within `max_age_s`), or a new one with all its batches:
        the products of each of `accounts`, one account after the other.

        Returns (run id, whether this call started it). Older unfinished cycles are abandoned."""
        with self.tx() as db:
            row = db.execute(
                "SELECT id FROM sync_runs WHERE state = 'running' AND started_at > ?"
                " ORDER BY id DESC LIMIT 1",
                (now - max_age_s,),
            ).fetchone()
            if row:
                return int(row[0]), False
            db.execute(
                "UPDATE sync_runs SET state = 'abandoned', finished_at = ?"
                " WHERE state IN ('running', 'pushing')",
                (now,),
            )
            parts: list[tuple[str, list[str]]] = []
            for account in accounts:
                asins = [
                    r[0]
                    for r in db.execute(
                        "SELECT asin FROM products WHERE account = ? ORDER BY asin", (account,)
                    )
                ]
                parts += [
                    (account, asins[i : i + batch_size]) for i in range(0, len(asins), batch_size)
                ]
            run = int(
                db.execute(
                    "INSERT INTO sync_runs (started_at, batches) VALUES (?, ?)", (now, len(parts))
                ).lastrowid
                or 0
            )
            db.executemany(
                "INSERT INTO sync_batches (run_id, idx, asins, account) VALUES (?, ?, ?, ?)",
                [(run, i, json.dumps(p), a) for i, (a, p) in enumerate(parts)],
            )
            return run, True

    def claim_batch(self, run_id: int, claimer: str, now: float) -> Batch | None:
        """The next queued batch of the run, now claimed by `claimer`."""
        with self.tx() as db:
            row = db.execute(
                "UPDATE sync_batches SET state = 'claimed', claimed_by = ?, claimed_at = ?"
                " WHERE id = (SELECT id FROM sync_batches WHERE run_id = ? AND state = 'queued'"
                " ORDER BY idx LIMIT 1) RETURNING id, idx, asins, account",
                (claimer, now, run_id),
            ).fetchone()
        return Batch(int(row[0]), int(row[1]), json.loads(row[2]), str(row[3])) if row else None

    def claimers(self, run_id: int) -> list[str]:
        return [
            r[0]
            for r in self.db.execute(
                "SELECT DISTINCT claimed_by FROM sync_batches WHERE run_id = ? AND state = 'claimed'",
                (run_id,),
            )
        ]

    def release_claims(self, run_id: int, claimer: str) -> int:
        """Put a claimer's unfinished batches back in the queue (it stopped, or it died)."""
        with self.tx() as db:
            return db.execute(
                "UPDATE sync_batches SET state = 'queued', claimed_by = NULL"
                " WHERE run_id = ? AND state = 'claimed' AND claimed_by = ?",
                (run_id, claimer),
            ).rowcount

    def finish_batch(
        self,
        batch_id: int,
        claimer: str,
        updates: Sequence[PriceUpdate],
        errors: Sequence[tuple[str, str]],
        now: float,
        throttled: int = 0,
    ) -> int | None:
        """Store a batch's prices and mark it done, in one transaction: each batch counts once.

        None if the claim was lost meanwhile (then nothing is stored)."""
        with self.tx() as db:
            cur = db.execute(
                "UPDATE sync_batches SET state = 'done', done_at = ? WHERE id = ?"
                " AND state = 'claimed' AND claimed_by = ?",
                (now, batch_id, claimer),
            )
            if cur.rowcount != 1:
                return None
            account = db.execute(
                "SELECT account FROM sync_batches WHERE id = ?", (batch_id,)
            ).fetchone()[0]
            for asin, error in errors:
                db.execute(
                    "UPDATE products SET last_error = ? WHERE asin = ? AND account = ?",
                    (redact.error_line(error), asin, account),
                )
            changed = self._apply_prices(db, updates, now, account)
            db.execute(
                "UPDATE sync_runs SET items = items + ?, changed = changed + ?,"
                " throttled = throttled + ? WHERE id = (SELECT run_id FROM sync_batches"
                " WHERE id = ?)",
                (len(updates), changed, throttled, batch_id),
            )
            return changed

    def fail_batch(self, batch_id: int, claimer: str, error: str, now: float) -> None:
        with self.tx() as db:
            if db.execute(
                "UPDATE sync_batches SET state = 'failed', done_at = ?, error = ?"
                " WHERE id = ? AND claimed_by = ?",
                (now, redact.error_line(error), batch_id, claimer),
            ).rowcount:
                db.execute(
                    "UPDATE sync_runs SET errors = errors + 1 WHERE id = (SELECT run_id"
                    " FROM sync_batches WHERE id = ?)",
                    (batch_id,),
                )

    def run_row(self, run_id: int) -> dict[str, Any]:
        row = self.db.execute("SELECT * FROM sync_runs WHERE id = ?", (run_id,)).fetchone()
        return dict(row) if row else {}

    def run_progress(self, run_id: int) -> dict[str, int]:
        counts = dict.fromkeys(("queued", "claimed", "done", "failed"), 0)
        for state, n in self.db.execute(
            "SELECT state, COUNT(*) FROM sync_batches WHERE run_id = ? GROUP BY state", (run_id,)
        ):
            counts[state] = n
        return counts

    def account_progress(self, run_id: int) -> dict[str, tuple[int, int]]:
        """Per account, in the cycle's order: (products read or given up, products)."""
        out: dict[str, tuple[int, int]] = {}
        for account, done, total in self.db.execute(
            "SELECT account, SUM(CASE WHEN state IN ('done', 'failed')"
            " THEN json_array_length(asins) ELSE 0 END), SUM(json_array_length(asins))"
            " FROM sync_batches WHERE run_id = ? GROUP BY account ORDER BY MIN(idx)",
            (run_id,),
        ):
            out[account] = (int(done), int(total))
        return out

    def claim_push(self, run_id: int, claimer: str) -> bool:
        """Whoever sees the last batch settled first pushes the prices; the others do not."""
        with self.tx() as db:
            return (
                db.execute(
                    "UPDATE sync_runs SET state = 'pushing', pusher = ? WHERE id = ? AND state ="
                    " 'running' AND NOT EXISTS (SELECT 1 FROM sync_batches WHERE run_id = ? AND"
                    " state IN ('queued', 'claimed'))",
                    (claimer, run_id, run_id),
                ).rowcount
                == 1
            )

    def finish_run(self, run_id: int, state: str, now: float, pushed: int) -> None:
        with self.tx() as db:
            db.execute(
                "UPDATE sync_runs SET state = ?, finished_at = ?, pushed = ? WHERE id = ?",
                (state, now, pushed, run_id),
            )


def demo_asin(i: int, account_index: int = 0) -> str:
    """The demo's ASINs: B0… for the first account (as before several shops), B1… the next."""
    return f"B{account_index}{i:08d}"
