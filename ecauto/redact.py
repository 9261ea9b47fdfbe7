"""One redaction for every text that leaves a process: log lines, heartbeats, events, database
error fields, reports and alerts.

The incident behind it: a token holding a control character reached the logs, a heartbeat's
`last_error` and `listings.last_error`, because requests puts header values in its exception
messages (`InvalidHeader`). Scrubbing each message where it is made cannot keep up with every
library's wording, so the few places where text leaves (the sinks) pass it through `scrub`.

The secrets are registered once per process: every configured credential from the environment
when logging is set up, and each token of the token stores as it is read or refreshed. Each is
replaced by `***` in its plain form and in the forms a message may carry it in (repr-escaped,
JSON-escaped, percent-encoded, whitespace folded by `one_line`); then control characters are
escaped, so that nothing that could still hide a token, or forge a log line, is written raw.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ecauto.atomic import read_json_record
from ecauto.records import one_line

MASK = "***"
# Shorter values would mask ordinary words; no real credential is this short.
MIN_SECRET_CHARS = 6
# The environment variables that hold credentials (README: "Credentials"). Ids of a room, a
# seller or a redirect URI are not secret: they appear in URLs and messages on purpose.
SECRET_ENV = (
    "SPAPI_LWA_CLIENT_ID",
    "SPAPI_LWA_CLIENT_SECRET",
    "SPAPI_LWA_REFRESH_TOKEN",
    "BASE_CLIENT_ID",
    "BASE_CLIENT_SECRET",
    "BASE_REFRESH_TOKEN",
    "EBAY_ACCESS_TOKEN",  # the fixed tokens of earlier versions: still masked if exported
    "YAHOO_ACCESS_TOKEN",
    "EBAY_CLIENT_ID",
    "EBAY_CLIENT_SECRET",
    "EBAY_REFRESH_TOKEN",
    "YAHOO_CLIENT_ID",
    "YAHOO_CLIENT_SECRET",
    "YAHOO_REFRESH_TOKEN",
    "CHATWORK_API_TOKEN",
)

TOKEN_STORES = ("lwa", "base", "ebay", "yahoo")  # secrets/<name>.json, written by ecauto.auth

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None
# C0 and C1 controls, DEL; newline and tab are kept only where a text may span lines.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


_ESCAPE_LETTERS = {"\n": "n", "\r": "r", "\t": "t", "\b": "b", "\f": "f", "\v": "v", "\0": "0"}
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]")


def _char(c: str) -> str:
    """A regex for one character of a secret in any of the forms a message may carry it in:
    as is, backslash-escaped to any depth (repr, JSON, a log field quoting a repr of a repr),
    as a \\x / \\u escape, percent-encoded, or (whitespace) folded by `one_line`."""
    if _PLAIN.fullmatch(c):
        return re.escape(c)
    code = ord(c)
    alts = [re.escape(c), r"\\+" + re.escape(c)]
    if c in _ESCAPE_LETTERS:
        alts.append(r"\\+" + _ESCAPE_LETTERS[c])
    if code < 0x100:
        alts.append(rf"\\+(?i:x{code:02x})")
    if code < 0x10000:
        alts.append(rf"\\+(?i:u{code:04x})")
    alts.append("(?i:" + "".join(f"%{b:02x}" for b in c.encode()) + ")")
    if c == " ":
        alts.append(r"\+")
    if c.isspace():
        alts.append(r"\s+")
    return "(?:" + "|".join(alts) + ")"


def pattern_for(secret: str) -> str:
    """A regex matching `secret` however often it was escaped or encoded on its way."""
    return "".join(_char(c) for c in secret)


def register(values: Iterable[object]) -> None:
    """Add secrets to mask from now on (empty, short or non-text values are ignored)."""
    global _pattern
    fresh = {v.strip() for v in values if isinstance(v, str)}
    fresh = {v for v in fresh if len(v) >= MIN_SECRET_CHARS}
    with _lock:
        if fresh <= _secrets:
            return
        _secrets.update(fresh)
        _pattern = None  # compiled again at the next scrub, once for all that came meanwhile


def _compiled() -> re.Pattern[str] | None:
    """The pattern of every registered secret (a few ms to compile: not once per register)."""
    global _pattern
    with _lock:
        if _pattern is None and _secrets:
            # Longest first, so a secret that contains another is masked whole.
            ordered = sorted(_secrets, key=len, reverse=True)
            _pattern = re.compile("|".join(pattern_for(x) for x in ordered))
        return _pattern


def register_env(environ: Mapping[str, str]) -> None:
    """The credentials configured in `environ` (every process calls this at start)."""
    register(environ.get(name, "") for name in SECRET_ENV)


def register_tokens(record: Mapping[str, Any] | None) -> None:
    """The tokens of a token store's record (`secrets/<name>.json`)."""
    if record:
        register([record.get("access_token"), record.get("refresh_token")])


def register_token_files(folder: Path, names: Iterable[str] = TOKEN_STORES) -> None:
    """The tokens the daemons keep in `folder` (a home's `secrets/`), for a process that never
    reads them itself (the watchdog) but shows what the daemons wrote: today's stores and every
    account's own (`base-<name>`, `ebay-<name>`, `yahoo-<name>`)."""
    try:
        own = [p.stem for p in folder.glob("*-*.json") if p.stem.split("-", 1)[0] in TOKEN_STORES]
    except OSError:
        own = []
    for name in [*names, *sorted(own)]:
        try:
            register_tokens(read_json_record(folder / f"{name}.json"))
        except (OSError, ValueError):
            continue


def scrub(text: object, multiline: bool = False) -> str:
    """`text` with every registered secret masked and control characters escaped.

    `multiline` keeps newlines and tabs (a log record with its traceback, a report, a message)."""
    s = text if isinstance(text, str) else str(text)
    pattern = _pattern  # read once: a register() meanwhile sets it to None
    if pattern is None:
        pattern = _compiled()
    if pattern is not None:
        s = pattern.sub(MASK, s)
    control = _CONTROL if multiline else _CONTROL_ONE_LINE
    return control.sub(lambda m: f"\\x{ord(m.group()):02x}", s)


def scrub_tree(value: Any) -> Any:
    """Every string inside a JSON-like value scrubbed (keys too); other values as they are."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(k) if isinstance(k, str) else k: scrub_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_tree(v) for v in value]
    return value


def error_line(text: object, limit: int = 300) -> str:
    """An error for a database field or a heartbeat: scrubbed, then one bounded line."""
    return one_line(scrub(text), limit)


def complain(text: object) -> None:
    """Why a command stops, as one scrubbed line on stderr (it may quote a config value or an
    error a library made, and stderr goes to a terminal or to a log file)."""
    register_env(os.environ)  # it may come before logging is set up (a bad argument)
    print(error_line(text, 2000), file=sys.stderr)
