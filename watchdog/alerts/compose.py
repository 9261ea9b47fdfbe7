"""The text of one Chatwork message, for an operator reading it on a phone.

The first line is what a push notification shows, so it stands alone and says severity, daemon
and what, e.g. "[ecauto] CRITICAL sync-inventory: two copies running" (in Japanese the few
words of `head.<kind>`, "[ecauto] 異常 sync-inventory: 二重起動", which fit the notification
line). An `[info]` box below carries the rest: host, what happened in full, what was done,
pids, heartbeat age, the daemon's last error, when (this machine's local time), and last what
to do about it: the command to type, or that nothing is needed.
Several notices that arrived together make one message listing them oldest first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, tzinfo

from ecauto import redact
from ecauto.words import LANGUAGES, common, errors
from ecauto.words.alerts import ALERTS
from ecauto.words.cycles import CYCLES
from ecauto.words.report import death
from watchdog import findings
from watchdog.notices import Kind, Notice, Severity

PREFIX = "[ecauto]"
HEADLINE_CHARS = 160  # about what a phone's notification shows before cutting
# A Japanese character is about two Latin ones wide: the same line holds about half as many.
HEADLINE_CHARS_JA = 60
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
    line = common.clip(" ".join(redact.scrub(text).split()), limit)  # at a word, with "…"
    return _TAG.sub(lambda m: "\uff3b" + m.group(1) + m.group(2), line)


def tag(n: Notice, lang: str = "en") -> str:
    if n.kind == Kind.RECOVERY:
        return ALERTS.say(lang, "tag.recovered")
    return ALERTS.say(lang, f"tag.{n.severity}")


def text(n: Notice, lang: str) -> str:
    """What happened, whole, in `lang` (the English summary where the words are unknown)."""
    if lang == "en" or not n.say:
        return n.summary
    params = n.params
    if n.kind == Kind.RECOVERY and f"head.{params.get('kind')}" in ALERTS.entries:
        # What recovered in the few words its first alert had ("応答なし"), not its key.
        params = {**params, "kind": ALERTS.say(lang, f"head.{params['kind']}")}
    return findings.phrase(lang, n.say, params) or n.summary


def head(n: Notice, lang: str) -> str:
    """What happened in a few words, for the notification line; the whole text in English
    ("healthy again (crash loop over)"). A recovery says what ended, in its first alert's words
    (its tag says that it ended: "復旧 upload-base: 起動直後の終了を反復")."""
    if lang == "en":
        return n.summary
    key = f"head.{n.key.split('/')[0]}"
    if n.kind == Kind.RECOVERY:
        ended = f"head.{n.params.get('kind')}"
        key = ended if ended in ALERTS.entries else "head.recovered"  # an older notice: no kind
    return ALERTS.say(lang, key) if key in ALERTS.entries else text(n, lang)


def label(n: Notice, lang: str = "en") -> str:
    """'daemon: summary', or the summary alone for what concerns the whole instance."""
    summary = plain(head(n, lang))
    return f"{plain(n.daemon, 80)}: {summary}" if n.daemon else summary


def todo(n: Notice, lang: str, cmd: str) -> str:
    """What a person should do about `n`: its words' todo, or where to look."""
    said = findings.todo(lang, n.say, n.params, n.daemon, cmd)
    if said:
        return said
    if n.kind == Kind.RECOVERY:
        return findings.todo(lang, ("recovered",), {}, n.daemon, cmd)
    return ALERTS.say(lang, "todo.default", cmd=cmd, watcher=n.daemon or "watchdog")


def when(at: float, tz: tzinfo | None) -> str:
    """Wall time with its zone; `tz=None` is this machine's local zone (the shop's, usually)."""
    try:
        moment = datetime.fromtimestamp(at, tz).astimezone(tz)
    except (OverflowError, OSError, ValueError):
        return f"{at:.0f} (epoch s)"
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def compose(
    notices: Sequence[Notice],
    host: str,
    tz: tzinfo | None = None,
    lang: str = "en",
    cmd: str | None = None,
) -> str:
    """The message for `notices` (at least one), oldest first, at most MAX_BODY_CHARS long,
    in `lang`; `cmd` is the launcher as typed in what to do (default: this machine's)."""
    if not notices:
        raise ValueError("a message needs at least one notice")
    cmd = cmd or common.shim()
    ordered = sorted(notices, key=lambda n: n.at)
    host = plain(host, 80)
    if len(ordered) == 1 and ordered[0].kind == Kind.REPORT:
        return _report(ordered[0], host, lang)
    single = len(ordered) == 1
    if single:
        n = ordered[0]
        headline = _headline(f"{tag(n, lang)} {label(n, lang)}", lang)
        title = (
            ALERTS.say(lang, "title.one", daemon=plain(n.daemon, 80), host=host)
            if n.daemon
            else ALERTS.say(lang, "title.instance", host=host)
        )
    else:
        headline = _headline(_summary_line(ordered, lang), lang)
        title = ALERTS.say(lang, "title.many", count=len(ordered), host=host)
    # Long error texts are what usually overflow: shorten every field before dropping any.
    for limit in (FIELD_CHARS, 120, 60):
        sections = [_section(n, tz, not single, lang, cmd, limit) for n in ordered]
        text = _assemble(headline, title, sections, [])
        if len(text) <= MAX_BODY_CHARS:
            return text
    if single:
        return _clip(headline, title, sections[0], lang)
    return _fit(headline, title, sections, ordered, lang)


def _report(n: Notice, host: str, lang: str) -> str:
    """A sync cycle report (always a message of its own): its first line is its summary, as
    worded in the operator's language by watchdog.cyclereports, then its lines, which are its
    details keyed by their place ("1", "2", ...: the outbox keeps keys sorted as text)."""
    order = sorted(n.details, key=lambda k: (len(k), k))
    lines = [plain(n.details[k]) for k in order]
    return _clip(_headline(plain(n.summary), lang), host, "\n".join(lines), lang)


def _summary_line(ordered: Sequence[Notice], lang: str) -> str:
    incidents = [n for n in ordered if n.kind == Kind.INCIDENT]
    recoveries = len(ordered) - len(incidents)
    counts = []
    if incidents:
        if lang == "en":  # the English form the tests and earlier messages know
            counts.append(f"{len(incidents)} problem{'s' if len(incidents) > 1 else ''}")
        else:
            counts.append(ALERTS.say(lang, "count.problems", count=len(incidents)))
    if recoveries:
        counts.append(ALERTS.say(lang, "count.recovered", count=recoveries))
    sep, join = (", ", "; ") if lang == "en" else ("・", "、")
    return f"{_worst(incidents, lang)} {sep.join(counts)}: " + join.join(
        label(n, lang) for n in ordered
    )


def _worst(incidents: Sequence[Notice], lang: str) -> str:
    if not incidents:
        return ALERTS.say(lang, "tag.recovered")
    if any(n.severity == Severity.CRITICAL for n in incidents):
        return ALERTS.say(lang, "tag.critical")
    return ALERTS.say(lang, "tag.warning")


def _headline(text: str, lang: str = "en") -> str:
    limit = HEADLINE_CHARS if lang == "en" else HEADLINE_CHARS_JA
    return common.clip(" ".join(f"{PREFIX} {text}".split()), limit)


def _section(
    n: Notice,
    tz: tzinfo | None,
    with_label: bool,
    lang: str = "en",
    cmd: str = "",
    limit: int = FIELD_CHARS,
) -> str:
    lines = [f"{tag(n, lang)} {label(n, lang)}"] if with_label else []
    said = ""
    if lang != "en":
        said = plain(text(n, lang), limit)
        lines.append(said)  # the headline said it in a few words only
    if n.action and (lang == "en" or not n.say):  # in other languages the words say it
        lines.append(ALERTS.say(lang, "done", what=plain(n.action, limit)))
    own_todo = None
    for name, value in n.details.items():
        if name == "was" and lang != "en" and n.kind == Kind.RECOVERY:
            continue  # the English line of what recovered: the line above says it in `lang`
        if name == "lasted" and value == "0 s":
            continue  # seen by one pass only: "seen for 0 s" of a daemon hung for 35 s misleads
        if name in _TODO_NAMES:  # a notice that says what to do itself (a cycle's warning)
            own_todo = value
            continue
        if name == "last error" and value and plain(value, limit) in said:
            continue  # the line above quotes it already (a crash loop's last log line)
        called = "log line" if name == "last error" and n.key.startswith("crash_loop/") else name
        shown = (
            ALERTS.say(lang, f"detail.{called}") if f"detail.{called}" in ALERTS.entries else name
        )
        value = _value(name, value, lang)
        lines.append(f"{plain(shown, 40)}: {plain(value, limit)}")
    lines.append(ALERTS.say(lang, "at", when=when(n.at, tz)))
    lines.append(ALERTS.say(lang, "todo", what=plain(own_todo or todo(n, lang, cmd), limit)))
    return "\n".join(lines)


# The detail a cycle warning (watchdog/cyclereports.py) puts its what to do under, per language.
_TODO_NAMES = frozenset(CYCLES.say(lang, "to_do") for lang in LANGUAGES)


def _value(name: str, value: str, lang: str) -> str:
    """A detail's value as a person reads it: a process state or a death in words, a duration
    in `lang`'s units, a daemon's error in `lang` where it is a known one."""
    if f"pstate.{value}" in ALERTS.entries and name == "state":
        return ALERTS.say(lang, f"pstate.{value}")
    if f"value.{value}" in ALERTS.entries:
        return ALERTS.say(lang, f"value.{value}")
    if name == "last death":
        return death(value, lang)
    return errors.translate(common.reword_duration(value, lang), lang)


def _assemble(headline: str, title: str, sections: list[str], rest: list[str]) -> str:
    parts = [*sections, "\n".join(rest)] if rest else sections
    body = "\n[hr]".join(parts)
    return f"{headline}\n[info][title]{title}[/title]{body}[/info]"


def _clip(headline: str, title: str, section: str, lang: str) -> str:
    """One notice with more details than fit: as many lines as fit, then a note, then what to
    do (the line a person needs most)."""
    note = ALERTS.say(lang, "more_lines")
    *lines, last = section.splitlines()
    note = f"{note}\n{last}"
    kept: list[str] = []
    for line in lines:
        if len(_assemble(headline, title, ["\n".join([*kept, line, note])], [])) > MAX_BODY_CHARS:
            return _assemble(headline, title, ["\n".join([*kept, note])], [])
        kept.append(line)
    return _assemble(headline, title, ["\n".join([*kept, last])], [])


def _fit(headline: str, title: str, sections: list[str], ordered: list[Notice], lang: str) -> str:
    """Full sections while they fit in MAX_BODY_CHARS, then one short line per notice left."""
    for full in range(len(sections), 0, -1):
        rest = [f"+ {tag(n, lang)} {label(n, lang)}" for n in ordered[full:]]
        text = _assemble(headline, title, sections[:full], rest)
        if len(text) <= MAX_BODY_CHARS:
            return text
    # Even the short lines overflow: name as many as fit, then count the others.
    shown: list[str] = []
    for i, n in enumerate(ordered):
        line = common.clip(f"+ {tag(n, lang)} {label(n, lang)}", 120)
        more = ALERTS.say(lang, "more_alerts", count=len(ordered) - i - 1)
        if len(_assemble(headline, title, [], [*shown, line, more])) > MAX_BODY_CHARS:
            more = ALERTS.say(lang, "more_alerts", count=len(ordered) - i)
            return _assemble(headline, title, [], [*shown, more])
        shown.append(line)
    return _assemble(headline, title, [], shown)
