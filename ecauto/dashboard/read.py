"""What the page shows, read from what the instance writes, cached so many viewers cost one read.

Databases are opened read-only (`mode=ro`) for one short transaction each; the watchdog's
judgement is `watchdog report`'s own: the same look and the same `build`. Each part is cached
for `ttl_s`; concurrent requests for a part being read wait for that one read.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ecauto import config as config_mod
from ecauto import redact, roster
from ecauto.atomic import read_regular
from ecauto.config import Config, ConfigError
from ecauto.home import Home
from ecauto.quota import history
from ecauto.records import one_line

if TYPE_CHECKING:
    from watchdog.lastgood import Loaded

T = TypeVar("T")

# How far back each range of the quota graphs looks, and in how many bars it is drawn.
RANGES = {"1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
BARS = 60
LOG_TAIL_BYTES = 64 * 1024
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_LOG_LINE = re.compile(r"^(\S+Z) (DEBUG|INFO|WARNING|ERROR|CRITICAL) (\S+?)\[(\d+)\] (.*)$")
CHATWORK_LIMIT, CHATWORK_WINDOW_S = 300, 300  # per API token (watchdog/alerts/policy.py)
# What the watchdog's look uses when ecauto.toml turns wrong and the watchdog kept no good read.
STARTED_WITH = "the configuration the dashboard started with"


@dataclass(frozen=True)
class Bar:
    start: float  # epoch seconds of the bar's first minute
    granted: int
    throttled: int
    share: float  # use against the limit, 0..1 (and above, when the limit was overrun)


@dataclass(frozen=True)
class Limiter:
    key: str
    label: str
    measure: str  # "per minute" (a bucket), "hour" or "day" (a clock window)
    limit: float
    bars: tuple[Bar, ...]
    granted: int
    throttled: int
    now_share: float  # the latest bar's, or the window's use right now

    @property
    def points(self) -> int:
        return sum(1 for b in self.bars if b.granted or b.throttled)


@dataclass(frozen=True)
class Work:
    runs: tuple[dict[str, Any], ...]  # sync_runs, newest first
    queue: dict[str, dict[str, int]]  # platform -> state -> count
    failed: tuple[dict[str, Any], ...]  # failed listings with their last error


@dataclass(frozen=True)
class Incident:
    at: float
    kind: str
    severity: str
    daemon: str | None
    summary: str  # in the operator's language where the event has its words
    action: str
    result: str
    alert: str  # "" (not an alert), "waiting" (in the outbox)
    kind_word: str = ""  # the kind as `watchdog report` says it ("二重起動 (duplicate)")
    done: str = ""  # the action and what it did, said once, in the operator's language


@dataclass(frozen=True)
class LogLine:
    daemon: str
    at: str
    level: str
    text: str


@dataclass
class _Slot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    at: float = -1e18
    value: Any = None


class Cache:
    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s, self.clock = ttl_s, clock
        self._slots: dict[str, _Slot] = {}
        self._guard = threading.Lock()

    def get(self, name: str, read: Callable[[], T]) -> T:
        with self._guard:
            slot = self._slots.setdefault(name, _Slot())
        with slot.lock:  # a second viewer waits for the first one's read
            if self.clock() - slot.at >= self.ttl_s:
                slot.value, slot.at = read(), self.clock()
            return slot.value  # type: ignore[no-any-return]


def read_only(path: Path) -> sqlite3.Connection | None:
    """A read-only connection (it never creates the file), or None when there is none yet."""
    if not path.is_file():
        return None
    db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=2.0)
    db.row_factory = sqlite3.Row
    return db


class Reader:
    def __init__(
        self, home: Home, cfg: Config, ini: str, ttl_s: float = 1.5, config: str | None = None
    ) -> None:
        self.home, self.cfg, self.ini, self.config = home, cfg, ini, config
        self.cache = Cache(ttl_s)
        self._dog: Any = None
        # the configuration `_dog` was made with, and its error
        self._looks_with: tuple[Config, Loaded | None] | None = None

    # -- now: the watchdog's own report ---------------------------------------------------------
    def report(self) -> Any:
        return self.cache.get("report", self._report)

    def _report(self) -> Any:
        from ecauto.circusd import SETUP_CACHE, read_ini
        from watchdog import cli

        # ecauto.toml read again, as `watchdog report` reads it at each look (not the copy this
        # process started with): wrong, the last good configuration and its config_error finding.
        cfg, loaded = reading = self._configuration()
        if self._dog is None or self._looks_with != reading:
            setup = (
                self._dog.setup
                if self._dog is not None
                else read_ini(self.ini, cache=self.home.root / SETUP_CACHE)
            )
            self._dog, self._looks_with = cli.looking(self.home, cfg, setup, loaded), reading
        return cli.report(self.home, cfg, self._dog)

    def _configuration(self) -> tuple[Config, Loaded | None]:
        """ecauto.toml, or with it wrong what the watchdog runs on meanwhile (and the error)."""
        from watchdog import cli, lastgood

        try:
            return config_mod.load(self.config), None
        except ConfigError as e:
            try:
                loaded = cli.last_good(self.home, e)
            except ConfigError:  # none kept: the page goes on with what it has, and says so
                loaded = lastgood.Loaded(self.cfg, one_line(str(e)), STARTED_WITH)
            return loaded.config, loaded

    # -- quotas ---------------------------------------------------------------------------------
    def quotas(self, span: str) -> tuple[Limiter, ...]:
        return self.cache.get(f"quotas/{span}", lambda: self._quotas(RANGES[span], time.time()))

    def _quotas(self, span_s: float, now: float) -> tuple[Limiter, ...]:
        bins: list[history.Bin] = []
        db = read_only(self.home.root / "quota.db")
        if db is not None:
            try:
                bins = history.binned(db, now - span_s, span_s / BARS)
            except sqlite3.OperationalError:
                pass  # busy past the timeout: an empty graph this once
            finally:
                db.close()
        limits = self.limits()
        by_key: dict[str, list[history.Bin]] = {k: [] for k in limits}
        for b in bins:
            by_key.setdefault(b.key, []).append(b)
        out = [limiter(k, v, now, span_s, limits.get(k, 0.0)) for k, v in by_key.items()]
        out.append(self._chatwork(now))
        return tuple(out)

    def limits(self) -> dict[str, float]:
        """Every limiter the configuration has and its limit, drawn before its first call."""
        c = self.cfg
        out = {
            f"spapi/{op}/{c.spapi.marketplace_id}": lim.rate * 60
            for op, lim in c.spapi.limits.items()
        }
        out["base/shop/hour"] = float(c.base.hourly_limit)
        out["base/shop/day"] = float(c.base.daily_limit)
        for p, u in c.upload.items():
            if p != "base":
                out[f"{p}/listing/day"] = float(u.daily_cap)
        return out

    def _chatwork(self, now: float) -> Limiter:
        """Chatwork's sliding 5 minutes per token, from the alert sender's own state file."""
        try:
            state = json.loads((self.home.watchdog / "outbox" / "state.json").read_text())
        except (OSError, ValueError):
            state = {}
        stamps = state.get("token_requests") if isinstance(state, dict) else None
        recent = [t for t in stamps or () if isinstance(t, int | float) and now - t < 300]
        held = isinstance(state, dict) and float(state.get("hold_until") or 0) > now
        share = len(recent) / CHATWORK_LIMIT
        bar = Bar(now - CHATWORK_WINDOW_S, len(recent), int(held), share)
        return Limiter(
            "chatwork", "Chatwork", "5 min", CHATWORK_LIMIT, (bar,), len(recent), int(held), share
        )

    # -- work -----------------------------------------------------------------------------------
    def work(self) -> Work:
        return self.cache.get("work", self._work)

    def _work(self) -> Work:
        db = read_only(self.home.db)
        if db is None:
            return Work((), {}, ())
        try:
            db.execute("BEGIN")  # one snapshot for the three reads
            runs = tuple(
                dict(r)
                for r in db.execute(
                    "SELECT id, started_at, finished_at, state, items, changed, pushed,"
                    " throttled, errors, batches FROM sync_runs ORDER BY id DESC LIMIT 50"
                )
            )
            queue: dict[str, dict[str, int]] = {}
            for r in db.execute(
                "SELECT platform, state, COUNT(*) FROM listings GROUP BY platform, state"
            ):
                queue.setdefault(r[0], {})[r[1]] = r[2]
            failed = tuple(
                dict(r)
                for r in db.execute(
                    "SELECT id, platform, sku, attempts, last_error, updated_at FROM listings"
                    " WHERE state = 'failed' ORDER BY updated_at DESC LIMIT 50"
                )
            )
            db.execute("COMMIT")
        except sqlite3.OperationalError:
            return Work((), {}, ())  # a store older than its schema, or busy past the timeout
        finally:
            db.close()
        return Work(runs, queue, failed)

    # -- incidents ------------------------------------------------------------------------------
    def incidents(self) -> tuple[Incident, ...]:
        return self.cache.get("incidents", self._incidents)

    def _incidents(self) -> tuple[Incident, ...]:
        from ecauto.words.report import kind
        from watchdog.events import EventLog
        from watchdog.report import event_outcome, event_text

        lang = self.cfg.ui.language
        out = []
        for e in EventLog(self.home.watchdog / "events.jsonl").tail(200):
            at = e.get("at")
            if not isinstance(at, int | float):
                continue
            out.append(
                Incident(
                    float(at),
                    str(e.get("kind", "")),
                    str(e.get("severity", "")),
                    e.get("daemon") if isinstance(e.get("daemon"), str) else None,
                    redact.scrub(event_text(e, lang)),  # in the operator's words, as the report
                    str(e.get("action", "")),
                    str(e.get("result", "")),  # as recorded; `done` says it to people
                    "",
                    kind(str(e.get("kind", "")), lang),
                    redact.scrub(event_outcome(e, lang)),
                )
            )
        out += self._waiting()
        return tuple(sorted(out, key=lambda i: -i.at))

    def _waiting(self) -> list[Incident]:
        """Alerts still in the watchdog's outbox (read, never changed: the sender owns it)."""
        from ecauto.words.report import kind
        from watchdog.report import event_text

        lang = self.cfg.ui.language
        folder = self.home.watchdog / "outbox"
        out = []
        try:
            names = sorted(n for n in os.listdir(folder) if re.match(r"^n-\d{12}\.json$", n))
        except OSError:
            return []
        for name in names[-100:]:
            try:
                entry = json.loads((folder / name).read_text(encoding="utf-8"))
                notices = entry["notices"]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            for n in notices if isinstance(notices, list) else ():
                if isinstance(n, dict) and isinstance(n.get("at"), int | float):
                    code = str(n.get("kind", ""))
                    if code == "incident":  # what was found: the key's first part ("hung/...")
                        code = str(n.get("key", "")).split("/")[0] or code
                    # The action in English words (watchdog/incidents.py); a notice's own words
                    # say it in another language, as the alert does (watchdog/alerts/compose.py).
                    action = str(n.get("action", "")) if lang == "en" else ""
                    out.append(
                        Incident(
                            float(n["at"]),
                            str(n.get("kind", "")),
                            str(n.get("severity", "")),
                            n.get("daemon") if isinstance(n.get("daemon"), str) else None,
                            redact.scrub(event_text(n, lang)),  # its words, as sent
                            action,
                            "",
                            "waiting",
                            kind(code, lang),
                            redact.scrub(action),
                        )
                    )
        return out

    # -- logs -----------------------------------------------------------------------------------
    def logs(self, daemon: str = "", level: str = "", n: int = 200) -> tuple[LogLine, ...]:
        lines: list[LogLine] = self.cache.get("logs", self._logs)
        floor = LEVELS.index(level) if level in LEVELS else 0
        picked = [
            ln
            for ln in lines
            if (not daemon or ln.daemon == daemon)
            and (ln.level not in LEVELS or LEVELS.index(ln.level) >= floor)
        ]
        return tuple(picked[-n:])

    def log_names(self) -> list[str]:
        return [e.name for e in roster.ROSTER]

    def _logs(self) -> list[LogLine]:
        out: list[LogLine] = []
        for name in self.log_names():
            out += tail_log(self.home.log / f"{name}.log", name)
        return sorted(out, key=lambda ln: ln.at)


def tail_log(path: Path, daemon: str, max_bytes: int = LOG_TAIL_BYTES) -> list[LogLine]:
    """The last lines of one daemon's log; a traceback's lines stay with the event before."""
    try:
        # from its first whole line on; never a link or a FIFO put in the log's place
        raw = read_regular(path, max_bytes, tail=True)
    except (OSError, ValueError):
        return []
    lines = raw.decode("utf-8", "replace").splitlines()
    out: list[LogLine] = []
    for line in lines:
        m = _LOG_LINE.match(line)
        if m:
            out.append(LogLine(daemon, m.group(1), m.group(2), m.group(5)))
        elif out:  # a traceback or a line printed before logging started
            prev = out[-1]
            out[-1] = LogLine(daemon, prev.at, prev.level, prev.text + "\n" + line)
        else:
            out.append(LogLine(daemon, "", "", line))
    return out


def limiter(
    key: str, bins: list[history.Bin], now: float, span_s: float, configured: float = 0.0
) -> Limiter:
    """One limiter's history as BARS bars over the last `span_s` seconds (pure)."""
    parts = key.split("/")
    window = parts[-1] if parts[-1] in ("hour", "day") and parts[0] != "spapi" else ""
    # names, not words: the page adds the window in the operator's language
    names = {"base": "BASE", "ebay": "eBay", "yahoo": "Yahoo"}
    label = f"SP-API {parts[1]}" if parts[0] == "spapi" else names.get(parts[0], parts[0])
    width = span_s / BARS
    start = now - span_s
    at: dict[int, history.Bin] = {}
    for b in bins:  # a partial minute at the end can make one bar more: it joins the last
        i = min(BARS - 1, b.index)
        if i in at:
            o = at[i]
            b = history.Bin(
                key,
                i,
                o.granted + b.granted,
                o.throttled + b.throttled,
                b.quota,
                max(o.used or 0, b.used or 0) if o.used is not None or b.used is not None else None,
                max(o.last, b.last),
            )
        at[i] = b
    latest = max(bins, key=lambda b: b.last) if bins else None
    limit = latest.quota if latest else configured
    bars = []
    for i in range(BARS):
        got = at.get(i)
        granted, throttled = (got.granted, got.throttled) if got else (0, 0)
        if window:  # a clock window: how full it was at its fullest in the bar
            share = ((got.used or 0) if got else 0) / limit if limit else 0.0
        else:  # a bucket: calls against what the rate allows in the bar's minutes
            allowed = limit * width / 60 if limit else 0.0
            share = granted / allowed if allowed else 0.0
        bars.append(Bar(start + i * width, granted, throttled, share))
    now_share = bars[-1].share if bars else 0.0
    if window and latest is not None:  # the window's use now, if its last count is this window's
        length = 3600 if window == "hour" else 86400
        same = int(latest.last * 60 // length) == int(now // length)
        now_share = (latest.used or 0) / limit if same and limit else 0.0
    return Limiter(
        key,
        label,
        window or "per minute",
        limit,
        tuple(bars),
        sum(b.granted for b in bars),
        sum(b.throttled for b in bars),
        now_share,
    )
