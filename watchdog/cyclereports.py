"""Sync cycle reports to Chatwork: after each finished cycle, or a daily digest, plus a warning.

    queued = step(home, cfg, notifier, now)   # from the watchdog's run loop, once a pass

A report says how a finished sync cycle went (duration, products read per account, prices
changed and pushed, failed batches and their rate) and the listings uploaded and given up per
platform since the previous report. A cycle whose error rate or duration is above
`[reports]` thresholds gets a WARNING of its own, a separate message.

Invariants:
- Reports are notices in the alerts' outbox (kind "report"): the same rate limits, back-off and
  durability as alerts. A Chatwork outage keeps them queued; nothing here sends.
- Once per cycle: `<home>/watchdog/cycle_reports.json` remembers the last run reported (and
  checked for warnings, and the last digest's day). It is written after the notices are in the
  outbox, so a crash between repeats at most one report, and the alerts' dedupe (keyed by run)
  drops that repeat; a restart never skips one.
- First sight (no state file): only the newest finished cycle is reported, not the history.
- Read-only, short reads of ecauto.db; a database that cannot be read now is read next pass.

`plan` decides (pure, time as a parameter); `step` reads, queues and remembers. Imported by
the run loop only, never by `watchdog report` (whose start-up time is measured).
"""

from __future__ import annotations

import logging
import sqlite3
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Protocol

from ecauto.atomic import read_json_record, write_json_atomic
from ecauto.config import (
    DEFAULT_ACCOUNT,  # a config without [base.accounts] has this one shop
    Config,
    ReportSettings,
)
from ecauto.home import Home
from ecauto.logsetup import fields
from ecauto.records import get, one_line
from ecauto.words import common
from ecauto.words.cycles import CYCLES

from .collect import _not_a_plain_file
from .notices import Kind, Notice, Severity

log = logging.getLogger(__name__)

SCHEMA = 1
STATE_NAME = "cycle_reports.json"
DAEMON = "sync-inventory"
FINISHED = ("complete", "partial", "stopped")  # "abandoned" ones were cut short by a restart
MAX_BACKLOG = 5  # reports queued at once after a long gap: the newest; older ones are only logged
MAX_SHOPS = 10  # accounts named in a report; the others are one line
MAX_ROWS = 1000  # cycles read at once (a day has eight at the default interval)
DB_BUSY_TIMEOUT_S = 0.5
PLATFORM_NAMES = {"base": "BASE", "ebay": "eBay", "yahoo": "Yahoo"}
DAY_S = 86400.0


@dataclass(frozen=True)
class Cycle:
    """One finished sync cycle (a `sync_runs` row)."""

    run_id: int
    started_at: float
    finished_at: float
    state: str
    read: Mapping[str, int]  # products read, per account
    changed: int
    pushed: int
    throttled: int
    errors: int  # failed batches
    batches: int

    @property
    def duration_s(self) -> float:
        return max(0.0, self.finished_at - self.started_at)

    @property
    def error_rate(self) -> float:
        return self.errors / self.batches if self.batches else 0.0


@dataclass(frozen=True)
class Uploads:
    uploaded: int
    failed: int  # given up for good


@dataclass(frozen=True)
class ReportState:
    reported: int | None = None  # the last run reported (or passed over)
    checked: int | None = None  # the last run checked against the thresholds
    until: float | None = None  # listings were counted up to here (UTC epoch s)
    digest_day: str = ""  # the local day of the last digest, YYYY-MM-DD

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "reported": self.reported,
            "checked": self.checked,
            "until": self.until,
            "digest_day": self.digest_day,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ReportState:
        if get(d, "schema", int) != SCHEMA:
            raise ValueError(f"unknown schema {d.get('schema')!r}")
        return cls(
            reported=get(d, "reported", int, optional=True),
            checked=get(d, "checked", int, optional=True),
            until=get(d, "until", float, optional=True),
            digest_day=get(d, "digest_day", str, optional=True) or "",
        )


@dataclass(frozen=True)
class Report:
    """One message to make: a cycle's report, or a digest of several (maybe none)."""

    key: str  # the notice's key, one per run or per day: the alerts' dedupe drops a repeat
    cycles: tuple[Cycle, ...]
    since: float  # listings counted in (since, until]
    until: float
    digest: bool = False


@dataclass(frozen=True)
class Plan:
    reports: tuple[Report, ...]
    warn: tuple[Cycle, ...]  # cycles above a threshold
    state: ReportState
    passed_over: tuple[int, ...] = ()  # runs not reported (more than MAX_BACKLOG at once)


# -- the decision (pure) --------------------------------------------------------------------------


def plan(
    cycles: Sequence[Cycle],
    settings: ReportSettings,
    state: ReportState,
    now: float,
    tz: tzinfo | None = None,
) -> Plan:
    """What to report now, given the finished cycles newer than `state` knows, oldest first."""
    if settings.cycle == "off":
        # Kept current, so that turning reports on later does not bring back old cycles.
        top = max((c.run_id for c in cycles), default=state.reported)
        return Plan((), (), replace(state, reported=top, checked=top, until=None))
    to_check = _newer(cycles, state.checked)
    warn = tuple(c for c in to_check if crossed(c, settings))
    checked = to_check[-1].run_id if to_check else state.checked
    state = replace(state, checked=checked)
    if settings.cycle == "daily":
        reports, state = _digest(cycles, settings, state, now, tz)
        return Plan(reports, warn, state)
    todo = _newer(cycles, state.reported)
    passed = tuple(c.run_id for c in todo[:-MAX_BACKLOG])
    todo = todo[-MAX_BACKLOG:]
    out = []
    # After a gap too long to report, listings are counted from the first reported cycle's start.
    since = None if passed else state.until
    for c in todo:
        begin = c.started_at if since is None else since
        out.append(Report(f"cycle_report/{c.run_id}", (c,), begin, c.finished_at))
        since = c.finished_at
    if todo:
        state = replace(state, reported=todo[-1].run_id, until=todo[-1].finished_at)
    return Plan(tuple(out), warn, state, passed)


def _newer(cycles: Sequence[Cycle], last: int | None) -> list[Cycle]:
    if last is None:
        return list(cycles[-1:])  # first sight: the newest only, not the history
    return [c for c in cycles if c.run_id > last]


def _digest(
    cycles: Sequence[Cycle],
    settings: ReportSettings,
    state: ReportState,
    now: float,
    tz: tzinfo | None,
) -> tuple[tuple[Report, ...], ReportState]:
    moment = digest_moment(now, settings.daily_at, tz)
    day = moment.date().isoformat()
    if state.digest_day == day:
        return (), state
    if not state.digest_day:
        # First sight: the first digest is at the next daily_at, not at once.
        return (), replace(state, digest_day=day)
    until = moment.timestamp()
    since = state.until if state.until is not None else until - DAY_S
    done = [c for c in cycles if c.finished_at <= until]
    if state.reported is None:
        done = [c for c in done if c.finished_at > since]
    else:
        done = [c for c in done if c.run_id > state.reported]
    report = Report(f"cycle_digest/{day}", tuple(done), since, until, digest=True)
    reported = done[-1].run_id if done else state.reported
    return (report,), replace(state, reported=reported, until=until, digest_day=day)


def digest_moment(now: float, daily_at: str, tz: tzinfo | None = None) -> datetime:
    """The latest `daily_at` (local, in `tz`; None: this machine's zone) at or before `now`."""
    local = datetime.fromtimestamp(now, tz).astimezone(tz)
    hh, mm = (int(x) for x in daily_at.split(":"))
    moment = local.replace(hour=hh, minute=mm, second=0, microsecond=0)
    if moment > local:
        moment = (moment - timedelta(days=1)).replace(hour=hh, minute=mm)
    return moment


def crossed(c: Cycle, settings: ReportSettings) -> list[str]:
    """Which thresholds the cycle is above: "errors", "slow" (0 turns one off)."""
    out = []
    if settings.error_rate_warn > 0 and c.error_rate > settings.error_rate_warn:
        out.append("errors")
    if settings.cycle_time_warn_s > 0 and c.duration_s > settings.cycle_time_warn_s:
        out.append("slow")
    return out


# -- the words (pure) -----------------------------------------------------------------------------


def say_report(
    r: Report, uploads: Mapping[str, Uploads], lang: str, now: float, tz: tzinfo | None = None
) -> Notice:
    """The report's notice: its summary is the message's first line, its details the lines of
    the box below."""
    read = _per_account(r.cycles)
    items = sum(read.values())
    errors = sum(c.errors for c in r.cycles)
    batches = sum(c.batches for c in r.cycles)
    rate = _pct(errors / batches if batches else 0.0)
    details: dict[str, str] = {}
    if r.digest:
        if r.cycles:
            head = CYCLES.say(lang, "digest", cycles=len(r.cycles), items=_n(items), rate=rate)
            durations = [c.duration_s for c in r.cycles]
            details[CYCLES.say(lang, "cycles")] = CYCLES.say(
                lang,
                "cycles_value",
                count=len(r.cycles),
                first=r.cycles[0].run_id,
                last=r.cycles[-1].run_id,
                mean=duration(sum(durations) / len(durations), lang),
                longest=duration(max(durations), lang),
            )
        else:
            head = CYCLES.say(lang, "digest_none")
        details[CYCLES.say(lang, "period")] = CYCLES.say(
            lang, "period_value", since=_when(r.since, tz), until=_when(r.until, tz, zone=True)
        )
    else:
        [c] = r.cycles
        took = duration(c.duration_s, lang)
        state = CYCLES.say(lang, c.state if c.state in FINISHED else "complete")
        head = CYCLES.say(lang, "headline", state=state, items=_n(items), duration=took, rate=rate)
        details[CYCLES.say(lang, "cycle")] = CYCLES.say(
            lang,
            "cycle_value",
            run=c.run_id,
            start=_when(c.started_at, tz),
            end=_when(c.finished_at, tz, zone=True, day=False),
        )
        details[CYCLES.say(lang, "duration")] = took
    shops = sorted(read.items(), key=lambda kv: (-kv[1], kv[0]))  # the busiest are named
    for account, n in sorted(shops[:MAX_SHOPS]):
        details[CYCLES.say(lang, "read", account=account)] = CYCLES.say(lang, "read_value", n=_n(n))
    if len(shops) > MAX_SHOPS:  # a notice has at most 32 details, a phone screen fewer
        rest = shops[MAX_SHOPS:]
        details[CYCLES.say(lang, "read_others", count=len(rest))] = CYCLES.say(
            lang, "read_value", n=_n(sum(n for _, n in rest))
        )
    if r.cycles:
        changed, pushed = sum(c.changed for c in r.cycles), sum(c.pushed for c in r.cycles)
        details[CYCLES.say(lang, "prices")] = CYCLES.say(
            lang,
            "prices_value_more" if pushed > changed else "prices_value",
            changed=_n(changed),
            pushed=_n(pushed),
        )
        details[CYCLES.say(lang, "errors")] = CYCLES.say(
            lang, "errors_value", errors=_n(errors), batches=_n(batches), rate=rate
        )
        throttled = sum(c.throttled for c in r.cycles)
        if throttled:
            details[CYCLES.say(lang, "throttled")] = CYCLES.say(
                lang, "throttled_value", n=_n(throttled)
            )
    shown = {p: u for p, u in uploads.items() if u.uploaded or u.failed}
    for platform, u in shown.items():
        name = PLATFORM_NAMES.get(platform, platform)
        details[CYCLES.say(lang, "uploads", platform=name)] = CYCLES.say(
            lang, "uploads_value", uploaded=_n(u.uploaded), failed=_n(u.failed)
        )
    if not shown:
        details[CYCLES.say(lang, "no_uploads")] = CYCLES.say(lang, "no_uploads_value")
    # Keyed by place: the outbox keeps a notice's details with their keys sorted.
    lines = {str(i): f"{k}: {v}" for i, (k, v) in enumerate(details.items(), 1)}
    return Notice(r.key, Kind.REPORT, Severity.INFO, DAEMON, head, "", lines, now)


def say_warnings(c: Cycle, settings: ReportSettings, lang: str, now: float) -> list[Notice]:
    """A WARNING notice per threshold the cycle is above, keyed by run (never repeated)."""
    out = []
    cycle = {CYCLES.say(lang, "cycle"): f"#{c.run_id}"}
    for what in crossed(c, settings):
        if what == "errors":
            summary = CYCLES.say(
                lang,
                "warn_errors",
                rate=_pct(c.error_rate),
                limit=_pct(settings.error_rate_warn),
            )
        else:
            summary = CYCLES.say(
                lang,
                "warn_slow",
                duration=duration(c.duration_s, lang),
                limit=duration(settings.cycle_time_warn_s, lang),
            )
        details = {
            **cycle,
            CYCLES.say(lang, "to_do"): CYCLES.say(lang, f"warn_{what}_do", cmd=common.shim()),
        }
        key = f"cycle_{what}/{c.run_id}"
        out.append(Notice(key, Kind.INCIDENT, Severity.WARNING, DAEMON, summary, "", details, now))
    return out


def duration(seconds: float, lang: str) -> str:
    s = round(seconds)
    if s < 60:
        return CYCLES.say(lang, "seconds", s=s)
    if s < 600 and s % 60:  # a short cycle to the second: "1分37秒", not "2分"
        return CYCLES.say(lang, "minutes_seconds", m=s // 60, s=s % 60)
    m = round(seconds / 60)
    if m < 60:
        return CYCLES.say(lang, "minutes", m=m)
    return CYCLES.say(lang, "hours", h=m // 60, m=m % 60)


def _per_account(cycles: Sequence[Cycle]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in cycles:
        for account, n in c.read.items():
            out[account] = out.get(account, 0) + n
    return out or {DEFAULT_ACCOUNT: 0}


def _n(n: int) -> str:
    return f"{n:,}"


def _pct(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def _when(at: float, tz: tzinfo | None, *, zone: bool = False, day: bool = True) -> str:
    """Local wall time for people, e.g. "12/01 09:32" (with `zone`: "09:32 JST")."""
    try:
        moment = datetime.fromtimestamp(at, tz).astimezone(tz)
    except (OverflowError, OSError, ValueError):
        return f"{at:.0f}"
    form = ("%m/%d %H:%M" if day else "%H:%M") + (" %Z" if zone else "")
    return moment.strftime(form).strip()


# -- reading ecauto.db (short, read-only) -------------------------------------------------------


def read_cycles(db: sqlite3.Connection, after: int | None) -> list[Cycle]:
    """Finished cycles with a run id above `after` (None: the newest ones), oldest first."""
    rows = db.execute(
        "SELECT id, started_at, finished_at, state, items, changed, pushed, throttled, errors,"
        " batches FROM sync_runs WHERE id > ? AND finished_at IS NOT NULL AND state IN"
        f" ({','.join('?' * len(FINISHED))}) ORDER BY id DESC LIMIT ?",
        (after or 0, *FINISHED, MAX_ROWS),
    ).fetchall()
    shops = _read_per_account(db, [int(r[0]) for r in rows]) if rows else {}
    return [
        Cycle(
            run_id=int(r[0]),
            started_at=float(r[1]),
            finished_at=float(r[2]),
            state=str(r[3]),
            read=shops.get(int(r[0])) or {DEFAULT_ACCOUNT: int(r[4])},
            changed=int(r[5]),
            pushed=int(r[6]),
            throttled=int(r[7]),
            errors=int(r[8]),
            batches=int(r[9]),
        )
        for r in reversed(rows)
    ]


def _read_per_account(db: sqlite3.Connection, runs: Sequence[int]) -> dict[int, dict[str, int]]:
    """Per run, the products each account's done batches read, where batches name their account
    (a store with several BASE shops); {} for a store of one shop, whose runs count its items."""
    if "account" not in {str(r[1]) for r in db.execute("PRAGMA table_info(sync_batches)")}:
        return {}
    out: dict[int, dict[str, int]] = {}
    for run, account, n in db.execute(
        "SELECT run_id, account, SUM(json_array_length(asins)) FROM sync_batches"
        f" WHERE state = 'done' AND run_id IN ({','.join('?' * len(runs))})"
        " GROUP BY run_id, account ORDER BY run_id, account",
        tuple(runs),
    ):
        out.setdefault(int(run), {})[str(account)] = int(n or 0)
    return out


def read_uploads(db: sqlite3.Connection, since: float, until: float) -> dict[str, Uploads]:
    """Listings uploaded, and given up, in (since, until], per platform."""
    rows = db.execute(
        "SELECT platform, SUM(uploaded_at > ? AND uploaded_at <= ?),"
        " SUM(state = 'failed' AND updated_at > ? AND updated_at <= ?)"
        " FROM listings GROUP BY platform ORDER BY platform",
        (since, until, since, until),
    ).fetchall()
    return {str(p): Uploads(int(ok or 0), int(bad or 0)) for p, ok, bad in rows}


def _open(path: Path) -> sqlite3.Connection | None:
    try:
        refused = _not_a_plain_file(path)
    except FileNotFoundError:
        return None  # no sync has run yet
    if refused:
        log.warning("cycle reports not read %s", fields(db=path.name, why=refused))
        return None
    uri = "file:" + urllib.parse.quote(str(path)) + "?mode=ro"
    return sqlite3.connect(uri, uri=True, timeout=DB_BUSY_TIMEOUT_S)


# -- the step (I/O) -------------------------------------------------------------------------------


class Submitter(Protocol):
    def submit(self, notices: Sequence[Notice]) -> None: ...


def load_state(path: Path) -> ReportState:
    try:
        return ReportState.from_json(read_json_record(path))
    except FileNotFoundError:
        return ReportState()
    except (ValueError, OSError) as e:
        log.warning("cycle report state unreadable, starting over %s", fields(file=path, error=e))
        return ReportState()


def step(
    home: Home,
    cfg: Config,
    notifier: Submitter | None,
    now: float,
    tz: tzinfo | None = None,
) -> int:
    """Queue what `plan` says is due in the alerts' outbox; returns the notices queued.

    Alerts off (`notifier` None): nothing is read, queued or remembered."""
    if notifier is None:
        return 0
    path = home.watchdog / STATE_NAME
    state = load_state(path)
    db = _open(home.db)
    if db is None:
        return 0
    try:
        cycles = read_cycles(db, _min(state.reported, state.checked))
        p = plan(cycles, cfg.reports, state, now, tz)
        lang = cfg.ui.language
        notices = [
            say_report(r, read_uploads(db, r.since, r.until), lang, now, tz) for r in p.reports
        ]
    finally:
        db.close()
    warnings = [n for c in p.warn for n in say_warnings(c, cfg.reports, lang, now)]
    if p.passed_over:
        log.warning(
            "cycle reports passed over %s",
            fields(runs=",".join(map(str, p.passed_over)), max_backlog=MAX_BACKLOG),
        )
    # One entry each: a report is a message of its own, and so is its warning.
    for n in [*notices, *warnings]:
        notifier.submit([n])
        log.info("cycle report queued %s", fields(key=n.key, summary=one_line(n.summary, 120)))
    if p.state != state:
        # After the outbox has them: a crash in between repeats one, which dedupe drops.
        write_json_atomic(path, p.state.to_json(), durable=True)
    return len(notices) + len(warnings)


def _min(a: int | None, b: int | None) -> int | None:
    if a is None or b is None:
        return None
    return min(a, b)
