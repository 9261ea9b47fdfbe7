"""The text of one Chatwork message, for an operator reading it on a phone.

The first line is what a push notification shows, so it stands alone and says severity, daemon
and what, e.g. "[ecauto] CRITICAL sync-inventory: two copies running". An `[info]` box below
carries the rest: host, what was done, pids, heartbeat age, the daemon's last error, when.
Several notices that arrived together make one message listing them oldest first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, tzinfo

from ecauto import redact
from ecauto.records import one_line
from watchdog.notices import Kind, Notice, Severity

PREFIX = "[ecauto]"
HEADLINE_CHARS = 160  # about what a phone's notification shows before cutting
FIELD_CHARS = 300
# Chatwork answers 400 to long bodies without documenting the limit; a phone screen wants far
# less anyway.
MAX_BODY_CHARS = 2000

# Chatwork's markup tags. In text that comes from a daemon (an error message, say) they would
# break the [info] box or ping people, so their bracket is swapped for a full-width one.
_TAG = re.compile(
    r"\[(/?)(info|title|code|hr|qt|qtmeta|to|toall|rp|pname|picon|piconname|preview|download"
    r"|task|deltext)(?=[\]:\s])",
    re.IGNORECASE,
)


def plain(text: str, limit: int = FIELD_CHARS) -> str:
    """One bounded line with Chatwork tags defused and secrets masked (ecauto.redact)."""
    line = one_line(redact.scrub(text), limit)
    return _TAG.sub(lambda m: "\uff3b" + m.group(1) + m.group(2), line)


def tag(n: Notice) -> str:
    if n.kind == Kind.RECOVERY:
        return "RECOVERED"
    return str(n.severity).upper()


def label(n: Notice) -> str:
    """'daemon: summary', or the summary alone for what concerns the whole instance."""
    summary = plain(n.summary)
    return f"{plain(n.daemon, 80)}: {summary}" if n.daemon else summary


def when(at: float, tz: tzinfo | None) -> str:
    """Wall time with its zone; `tz=None` is this machine's local zone (the shop's, usually)."""
    try:
        moment = datetime.fromtimestamp(at, tz).astimezone(tz)
    except (OverflowError, OSError, ValueError):
        return f"{at:.0f} (epoch s)"
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def compose(notices: Sequence[Notice], host: str, tz: tzinfo | None = None) -> str:
    """The message for `notices` (at least one), oldest first, at most MAX_BODY_CHARS long."""
    if not notices:
        raise ValueError("a message needs at least one notice")
    ordered = sorted(notices, key=lambda n: n.at)
    host = plain(host, 80)
    if len(ordered) == 1 and ordered[0].kind == Kind.REPORT:
        return _report(ordered[0], host)
    single = len(ordered) == 1
    if single:
        n = ordered[0]
        headline = _headline(f"{tag(n)} {label(n)}")
        title = f"{plain(n.daemon, 80)} on {host}" if n.daemon else f"on {host}"
    else:
        headline = _headline(_summary_line(ordered))
        title = f"{len(ordered)} alerts on {host}, oldest first"
    # Long error texts are what usually overflow: shorten every field before dropping any.
    for limit in (FIELD_CHARS, 120, 60):
        sections = [_section(n, tz, not single, limit) for n in ordered]
        text = _assemble(headline, title, sections, [])
        if len(text) <= MAX_BODY_CHARS:
            return text
    if single:
        return _clip(headline, title, sections[0])
    return _fit(headline, title, sections, ordered)


def _report(n: Notice, host: str) -> str:
    """A sync cycle report (always a message of its own): its first line is its summary, as
    worded in the operator's language by watchdog.cyclereports, then its lines, which are its
    details keyed by their place ("1", "2", ...: the outbox keeps keys sorted as text)."""
    order = sorted(n.details, key=lambda k: (len(k), k))
    lines = [plain(n.details[k]) for k in order]
    return _clip(_headline(plain(n.summary)), host, "\n".join(lines))


def _summary_line(ordered: Sequence[Notice]) -> str:
    incidents = [n for n in ordered if n.kind == Kind.INCIDENT]
    recoveries = len(ordered) - len(incidents)
    counts = []
    if incidents:
        counts.append(f"{len(incidents)} problem{'s' if len(incidents) > 1 else ''}")
    if recoveries:
        counts.append(f"{recoveries} recovered")
    return f"{_worst(incidents)} {', '.join(counts)}: " + "; ".join(label(n) for n in ordered)


def _worst(incidents: Sequence[Notice]) -> str:
    if not incidents:
        return "RECOVERED"
    if any(n.severity == Severity.CRITICAL for n in incidents):
        return "CRITICAL"
    return "WARNING"


def _headline(text: str) -> str:
    return one_line(f"{PREFIX} {text}", HEADLINE_CHARS)


def _section(n: Notice, tz: tzinfo | None, with_label: bool, limit: int = FIELD_CHARS) -> str:
    lines = [f"{tag(n)} {label(n)}"] if with_label else []
    if n.action:
        lines.append(f"done: {plain(n.action, limit)}")
    for name, value in n.details.items():
        lines.append(f"{plain(name, 40)}: {plain(value, limit)}")
    lines.append(f"at: {when(n.at, tz)}")
    return "\n".join(lines)


def _assemble(headline: str, title: str, sections: list[str], rest: list[str]) -> str:
    parts = [*sections, "\n".join(rest)] if rest else sections
    body = "\n[hr]".join(parts)
    return f"{headline}\n[info][title]{title}[/title]{body}[/info]"


def _clip(headline: str, title: str, section: str) -> str:
    """One notice with more details than fit: as many lines as fit, then a note."""
    note = "… (more in the watchdog log)"
    kept: list[str] = []
    for line in section.splitlines():
        if len(_assemble(headline, title, ["\n".join([*kept, line, note])], [])) > MAX_BODY_CHARS:
            return _assemble(headline, title, ["\n".join([*kept, note])], [])
        kept.append(line)
    return _assemble(headline, title, ["\n".join(kept)], [])


def _fit(headline: str, title: str, sections: list[str], ordered: list[Notice]) -> str:
    """Full sections while they fit in MAX_BODY_CHARS, then one short line per notice left."""
    for full in range(len(sections), 0, -1):
        rest = [f"+ {tag(n)} {label(n)}" for n in ordered[full:]]
        text = _assemble(headline, title, sections[:full], rest)
        if len(text) <= MAX_BODY_CHARS:
            return text
    # Even the short lines overflow: name as many as fit, then count the others.
    shown: list[str] = []
    for i, n in enumerate(ordered):
        line = one_line(f"+ {tag(n)} {label(n)}", 120)
        more = f"… and {len(ordered) - i - 1} more (see the watchdog log)"
        if len(_assemble(headline, title, [], [*shown, line, more])) > MAX_BODY_CHARS:
            more = f"… and {len(ordered) - i} more (see the watchdog log)"
            return _assemble(headline, title, [], [*shown, more])
        shown.append(line)
    return _assemble(headline, title, [], shown)
