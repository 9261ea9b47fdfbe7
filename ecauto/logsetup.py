"""Logging for entry points: one event per line, flushed at once (no buffered minutes)."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping

from ecauto import redact
from ecauto.daemon import early

# Rotation of a daemon's own log (circus.ini sets them per watcher; these when it does not).
MAX_BYTES_ENV = "ECAUTO_LOG_MAX_BYTES"
BACKUPS_ENV = "ECAUTO_LOG_BACKUPS"
MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5


class _Formatter(logging.Formatter):
    converter = time.gmtime  # type: ignore[assignment]  # typeshed types it as a method

    def __init__(self, name: str) -> None:
        super().__init__(
            f"%(asctime)s.%(msecs)03dZ %(levelname)s {name}[%(process)d] %(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )

    # The one place every log line passes: secrets masked, control characters escaped. The
    # event itself stays on one line; a traceback appended to it keeps its lines.
    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        return redact.scrub(super().formatMessage(record))

    def format(self, record: logging.LogRecord) -> str:
        return redact.scrub(super().format(record), multiline=True)


def configure(name: str, level: str | None = None) -> None:
    """Send the root logger to stderr, one line per event, tagged with the daemon name and pid;
    under Circus (`$ECAUTO_LOG_FILE`, see ecauto.daemon.early) to that file, rotated here.

    stdout and stderr are switched to line buffering too, so that each event shows the moment
    it happens even when the interpreter was not started with -u.
    Every entry point calls this first, so it is also where the environment's credentials are
    registered for redaction (ecauto.redact).
    """
    redact.register_env(os.environ)
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(line_buffering=True)
    handler = _handler(os.environ)
    handler.setFormatter(_Formatter(name))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or os.environ.get("ECAUTO_LOG_LEVEL", "INFO"))
    # urllib3 logs every new connection at DEBUG only; keep INFO readable either way.
    logging.getLogger("urllib3").setLevel(logging.WARNING)


def _handler(env: Mapping[str, str]) -> logging.Handler:
    path = env.get(early.LOG_FILE_ENV)
    if not path:
        return logging.StreamHandler(sys.stderr)
    from ecauto.ownlog import OwnLog  # logging.handlers: a daemon's, not a report's

    try:
        return OwnLog(
            path,
            maxBytes=_count(env, MAX_BYTES_ENV, MAX_BYTES),
            backupCount=_count(env, BACKUPS_ENV, BACKUPS),
            encoding="utf-8",
            errors="backslashreplace",
        )
    except OSError as e:  # a log folder gone or read-only: the events still go somewhere
        redact.complain(f"cannot open the log file {path}: {e.strerror or e}; logging to stderr")
        return logging.StreamHandler(sys.stderr)


def _count(env: Mapping[str, str], key: str, default: int) -> int:
    text = env.get(key, "")
    if text.isdigit():
        return int(text)
    if text:
        redact.complain(f"{key}={text!r} is not a whole number; using {default}")
    return default


def fields(**kv: object) -> str:
    """`key=value` pairs for a log line; values with spaces are quoted."""
    out = []
    for k, v in kv.items():
        s = str(v)
        if not s or any(c.isspace() for c in s) or '"' in s:
            s = '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'
        out.append(f"{k}={s}")
    return " ".join(out)
