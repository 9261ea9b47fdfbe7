"""The soak's end-of-run checks: listings, sync cycles, database integrity, alerts, secrets.

Alerts, matched carefully (the watchdog's alert path is what is under test, so its output is
read back from what Chatwork received, not from the watchdog's own bookkeeping):
  - An incident is one (key, opened_at) of the watchdog's state file, seen while it was open
    (the monitor samples `state.json` every tick; an incident lives at least recovery_s). It
    owes one incident notice when opened, one more if it escalated to critical, and one
    recovery notice once closed.
  - A message received by the Chatwork stand-in (`GET /_sandbox/chatwork`; its journal file, with
    the same records, when it holds more than the 10,000 the endpoint serves) holds
    one notice (the headline names it) or several (one section each, oldest first). Each is
    "TAG daemon: summary". A RECOVERED notice names its kind ("healthy again (hung over)"); an
    incident notice's kind is found by its summary, which is the summary of the finding that
    opened it, as written in the watchdog's events file and state file (compared as the alert
    text renders it: one line, Chatwork tags defused, cut to length).
  - Per key (kind/daemon): received incident notices == incidents opened + escalations, and
    received recoveries == incidents closed; in time order they alternate (an incident notice
    while one is open must be its escalation; a recovery needs an open incident). A notice that
    matches nothing is a violation too.
  - Every warning or critical finding of the events file falls inside an incident that was seen.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soak_env import MANAGED, NOT_SECRET, PLATFORMS, SECRETS, Lab, own_files
from soak_watch import IncidentSeen, issued_tokens, read_jsonl

from watchdog.alerts.chatwork import SANDBOX_TOKEN
from watchdog.alerts.compose import plain

KNOWN_DAEMONS = (*MANAGED, "sandbox")
MAX_SERVED = 10_000  # messages /_sandbox/chatwork serves (ecauto.sandbox.chatwork.MAX_KEPT)
TAGS = ("WARNING", "CRITICAL", "RECOVERED")


@dataclass
class Check:
    name: str
    violations: int = 0
    detail: str = ""
    examples: list[str] = field(default_factory=list)

    def add(self, n: int, example: str = "") -> None:
        self.violations += n
        if example and len(self.examples) < 5:
            self.examples.append(example)


# -- listings ---------------------------------------------------------------------------------
def listings(lab: Lab, stats: dict[str, Any], held: dict[str, list[str]]) -> list[Check]:
    db = sqlite3.connect(f"file:{lab.home / 'ecauto.db'}?mode=ro", uri=True, timeout=30)
    try:
        rows = db.execute("SELECT platform, sku, state FROM listings").fetchall()
    finally:
        db.close()
    twice, lost, ghost, stuck = (
        Check("none listed twice"),
        Check("no listing lost"),
        Check("none listed but not recorded as uploaded"),
        Check("nothing stuck 'uploading'"),
    )
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for platform in PLATFORMS:
        dups = int(stats["listings"][platform]["duplicates"])
        twice.add(dups, f"{platform}: sandbox counted {dups} duplicate listings" if dups else "")
        on_shelf = Counter(held.get(platform, []))
        for sku, n in on_shelf.items():
            if n > 1:
                twice.add(0, f"{platform} holds {sku} {n} times")
        state = {sku: st for p, sku, st in rows if p == platform}
        for _, sku, st in (r for r in rows if r[0] == platform):
            counts[platform][st] += 1
            if st == "uploaded" and sku not in on_shelf:
                lost.add(1, f"{platform} {sku}: uploaded in the DB, not at the platform")
            if st == "uploading":
                stuck.add(1, f"{platform} {sku}")
        for sku in on_shelf:
            if state.get(sku) != "uploaded":
                ghost.add(1, f"{platform} {sku}: at the platform, '{state.get(sku)}' in the DB")
    summary = "; ".join(
        f"{p} " + " ".join(f"{k}={v}" for k, v in sorted(counts[p].items())) for p in PLATFORMS
    )
    lost.detail = summary
    return [twice, lost, ghost, stuck]


def sync_cycles(lab: Lab, checked: dict[int, int]) -> tuple[Check, str]:
    c = Check("every product synced in each completed cycle")
    db = sqlite3.connect(f"file:{lab.home / 'ecauto.db'}?mode=ro", uri=True, timeout=30)
    try:
        states = dict(db.execute("SELECT state, COUNT(*) FROM sync_runs GROUP BY state"))
        runs = db.execute(
            "SELECT id, started_at FROM sync_runs WHERE state = 'complete' ORDER BY id"
        ).fetchall()
        products = db.execute("SELECT COUNT(*) FROM products").fetchone()[0]
        for run_id, _started in runs:
            # Batches of a complete cycle: all done, and together every product exactly once.
            asins: Counter[str] = Counter()
            undone = 0
            for state, text in db.execute(
                "SELECT state, asins FROM sync_batches WHERE run_id = ?", (run_id,)
            ):
                undone += state != "done"
                for a in re.findall(r'"([^"]+)"', text):
                    asins[a] += 1
            if undone or len(asins) != products or any(n != 1 for n in asins.values()):
                c.add(
                    1,
                    f"cycle {run_id}: {undone} batches not done, {len(asins)} of {products}"
                    f" products, {sum(1 for n in asins.values() if n != 1)} read twice",
                )
        if runs:
            last_id, last_start = runs[-1]
            behind = db.execute(
                "SELECT COUNT(*) FROM products WHERE synced_at IS NULL OR synced_at < ?",
                (last_start,),
            ).fetchone()[0]
            checked.setdefault(last_id, int(behind))
    finally:
        db.close()
    for run_id, behind in sorted(checked.items()):
        if behind:
            c.add(1, f"cycle {run_id}: {behind} products with synced_at before its start")
    c.detail = (
        f"{len(checked)} complete cycles checked as they completed; runs by state: "
        + ", ".join(f"{k} {v}" for k, v in sorted(states.items()))
    )
    return c, c.detail


def integrity(lab: Lab) -> Check:
    c = Check("PRAGMA integrity_check = ok")
    results = []
    for name in ("ecauto.db", "quota.db"):
        db = sqlite3.connect(f"file:{lab.home / name}?mode=ro", uri=True, timeout=30)
        try:
            out = [r[0] for r in db.execute("PRAGMA integrity_check")]
        finally:
            db.close()
        results.append(f"{name}: {'; '.join(out)[:200]}")
        if out != ["ok"]:
            c.add(1, results[-1])
    c.detail = ", ".join(results)
    return c


def quota(stats: dict[str, Any]) -> Check:
    c = Check("no request refused for quota (SP-API, BASE, Chatwork; and all others)")
    parts = []
    for key, counts in sorted(stats["endpoints"].items()):
        n = int(counts.get("throttled", 0))
        if n:
            c.add(n, f"{key}: {n} refused for quota")
        if counts.get("requests"):
            parts.append(
                f"{key} {counts['ok']}/{counts['requests']} ok, {counts['injected']}"
                f" injected, {n} throttled"
            )
    c.detail = "; ".join(parts)
    return c


# -- alerts -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Received:
    at: float
    order: int
    tag: str
    daemon: str | None
    text: str  # the summary as rendered (possibly cut, ending with "…")


# The first line of a cycle report, in English (the soak's homes use the code default).
CYCLE_REPORT = re.compile(
    r"^\[ecauto\] (sync (done|done, some batches failed|stopped): |daily digest: )"
)
CYCLE_WARNING = re.compile(r"^\[ecauto\] WARNING sync-inventory: sync (error rate|cycle took) ")


def parse_message(body: str, at: float) -> tuple[list[Received], int]:
    """The notices one Chatwork message carries, and how many it only counted ("… and N more")."""
    lines = body.split("\n")
    headline = lines[0].removeprefix("[ecauto] ")
    rest = "\n".join(lines[1:])
    m = re.match(r"\[info\]\[title\](.*?)\[/title\](.*)\[/info\]\s*$", rest, re.S)
    if m is None:
        return [], 1
    title, inner = m.group(1), m.group(2)
    heads: list[str] = []
    uncounted = 0
    if re.match(r"^\d+ alerts on .*, oldest first$", title):
        for section in inner.split("\n[hr]"):
            for i, line in enumerate(section.split("\n")):
                if line.startswith("+ "):
                    heads.append(line[2:])
                elif i == 0 and line.split(" ", 1)[0] in TAGS:
                    heads.append(line)
                mm = re.match(r"^… and (\d+) more", line)
                if mm:
                    uncounted += int(mm.group(1))
    else:
        heads.append(headline)
    out = []
    for order, head in enumerate(heads):
        tag, _, label = head.partition(" ")
        daemon = next((d for d in KNOWN_DAEMONS if label.startswith(f"{d}: ")), None)
        text = label[len(daemon) + 2 :] if daemon else label
        out.append(Received(at, order, tag, daemon, text))
    return out, uncounted


def _prefix(text: str) -> str:
    return text[:-1] if text.endswith("…") else text


def alerts(
    lab: Lab, incidents: dict[tuple[str, float], IncidentSeen], cutoff: float, tick_s: float
) -> tuple[list[Check], str]:
    journal = read_jsonl(lab.market_home / "sandbox" / "chatwork.jsonl")
    served = lab.get("/_sandbox/chatwork", timeout=30)
    if len(served) < MAX_SERVED:
        journal = served
    # Sandbox mode: alerts reach the sandbox's Chatwork with its own token, never the real one.
    token_sha = hashlib.sha256(SANDBOX_TOKEN.encode()).hexdigest()
    ours = [m for m in journal if m.get("room") == SECRETS["CHATWORK_ROOM_ID"]]
    wrong_token = [m for m in ours if m.get("token_sha256") != token_sha]
    events = [
        e
        for e in read_jsonl(lab.home / "watchdog" / "events.jsonl")
        if isinstance(e.get("at"), int | float) and e["at"] <= cutoff
    ]
    # (daemon, summary as rendered) -> kinds, from every finding and every incident seen
    rendered: dict[str | None, list[tuple[str, str]]] = defaultdict(list)
    for e in events:
        if e.get("severity") in ("warning", "critical") and isinstance(e.get("summary"), str):
            rendered[e.get("daemon")].append((plain(e["summary"]), str(e.get("kind"))))
    for inc in incidents.values():
        for s in inc.summaries:
            rendered[inc.daemon].append((plain(s), inc.kind))

    # Sync cycle reports (watchdog/cyclereports.py) are messages of their own, not incidents:
    # each finished cycle is reported at most once.
    reports = [m for m in ours if CYCLE_REPORT.match(str(m.get("body", "")))]
    warnings = [m for m in ours if CYCLE_WARNING.match(str(m.get("body", "")))]
    twice = Check("no sync cycle reported twice")
    runs = Counter(
        run for m in reports for run in re.findall(r"#(\d+) ", str(m.get("body", "")))[:1]
    )
    for run, n in sorted(runs.items()):
        if n > 1:
            twice.add(n - 1, f"cycle #{run} reported {n} times")
    twice.detail = (
        f"{len(reports)} cycle reports for {len(runs)} cycles, {len(warnings)} cycle warnings"
    )
    ours = [m for m in ours if m not in reports and m not in warnings]

    received: list[Received] = []
    uncounted = 0
    for m in ours:
        got, n = parse_message(str(m.get("body", "")), float(m.get("at", 0)))
        received += got
        uncounted += n
    unmatched = Check("every alert received matches an incident")
    seq: dict[str, list[tuple[float, int, str]]] = defaultdict(list)  # key -> (at, order, what)
    for r in received:
        if r.tag == "RECOVERED":
            mm = re.match(r"^healthy again \((.+) over\)$", r.text)
            if not mm:
                unmatched.add(1, f"recovery notice not understood: {r.text[:120]}")
                continue
            kind = mm.group(1).replace(" ", "_")
            seq[f"{kind}/{r.daemon or '-'}"].append((r.at, r.order, "R"))
            continue
        prefix = _prefix(r.text)
        kinds = {k for s, k in rendered.get(r.daemon, []) if s.startswith(prefix)}
        if len(kinds) != 1:
            why = "matches no finding" if not kinds else f"matches kinds {sorted(kinds)}"
            unmatched.add(1, f"{r.tag} {r.daemon or '-'}: {r.text[:120]} ({why})")
            continue
        seq[f"{kinds.pop()}/{r.daemon or '-'}"].append((r.at, r.order, r.tag))
    if uncounted:
        unmatched.add(uncounted, f"{uncounted} notices only counted in a message ('… and N more')")
    if wrong_token:
        unmatched.add(len(wrong_token), f"{len(wrong_token)} messages with another token")

    opened: Counter[str] = Counter()
    escalated: Counter[str] = Counter()
    closed: Counter[str] = Counter()
    for inc in incidents.values():
        if inc.opened_at > cutoff:
            continue
        k = inc.key.removesuffix("/critical")
        opened[k] += 1
        escalated[k] += inc.escalated
        if inc.closed_seen is not None and inc.closed_seen <= cutoff + 10 * tick_s:
            closed[k] += 1
    one_alert = Check("every incident alerted exactly once (one more if it turned critical)")
    one_recovery = Check("every incident's recovery announced exactly once")
    order = Check("alerts and recoveries alternate per incident")
    for key in sorted(set(seq) | set(opened)):
        timeline = sorted(seq.get(key, []))
        n_inc = sum(1 for _, _, w in timeline if w != "R")
        n_rec = sum(1 for _, _, w in timeline if w == "R")
        want_inc = opened[key] + escalated[key]
        if n_inc != want_inc:
            one_alert.add(
                abs(n_inc - want_inc), f"{key}: {want_inc} incident notices owed, {n_inc} received"
            )
        if n_rec != closed[key]:
            one_recovery.add(
                abs(n_rec - closed[key]), f"{key}: {closed[key]} recoveries owed, {n_rec} received"
            )
        state, last = "closed", ""
        for at, _, what in timeline:
            if what == "R":
                if state != "open":
                    order.add(1, f"{key}: a recovery with no open incident at {at:.1f}")
                state = "closed"
            elif state == "open" and not (what == "CRITICAL" and last == "WARNING"):
                order.add(1, f"{key}: a second {what} notice while open at {at:.1f}")
            else:
                state = "open"
            last = what
    # Every warning or critical finding falls inside an incident that was seen open.
    covered = Check("every warning or critical finding belongs to an incident seen")
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for inc in incidents.values():
        spans[inc.key.removesuffix("/critical")].append(
            (inc.opened_at, (inc.closed_seen or cutoff) + 1.0)
        )
    for e in events:
        if e.get("severity") not in ("warning", "critical"):
            continue
        key = f"{e.get('kind')}/{e.get('daemon') or '-'}"
        if not any(a - 1.0 <= e["at"] <= b for a, b in spans.get(key, [])):
            covered.add(1, f"{key} at {e['at']:.1f}: {str(e.get('summary'))[:100]}")
    total_inc = sum(opened.values())
    summary = (
        f"{len(ours)} messages carrying {len(received)} notices for {total_inc} incidents "
        f"({sum(escalated.values())} escalated) of {len(opened)} kinds/daemons"
    )
    one_alert.detail = summary
    return [one_alert, one_recovery, order, unmatched, covered, twice], summary


# -- secrets ------------------------------------------------------------------------------------
def secrets_check(lab: Lab, extra_files: list[Path], issued: set[tuple[str, str]]) -> Check:
    """`issued`: (name, token) of every token the sandbox issued that the soak saw in secrets/."""
    c = Check("no token in any log, heartbeat, lock, event, outbox, report or alert")
    tokens = {k: v for k, v in SECRETS.items() if k not in NOT_SECRET}
    found = sorted(issued | issued_tokens(lab.home / "secrets"))
    files = own_files(lab) + [p for p in extra_files if p.is_file()]
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        for name, token in [*tokens.items(), *found]:
            n = data.count(token.encode())
            if n:
                c.add(n, f"{name} in {path}")
    c.detail = (
        f"{len(files)} files searched for {len(tokens)} configured and {len(found)} issued tokens"
    )
    return c
