"""Logging for entry points: one event per line, flushed at once (no buffered minutes)."""

from __future__ import annotations

import logging
import os
import sys
import time

from ecauto import redact


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
    """Send the root logger to stderr, one line per event, tagged with the daemon name and pid.

    stdout and stderr are switched to line buffering too, so that Circus's log files show each
    event the moment it happens even when the interpreter was not started with -u.
    Every entry point calls this first, so it is also where the environment's credentials are
    registered for redaction (ecauto.redact).
    """
    redact.register_env(os.environ)
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(line_buffering=True)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(name))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or os.environ.get("ECAUTO_LOG_LEVEL", "INFO"))
    # urllib3 logs every new connection at DEBUG only; keep INFO readable either way.
    logging.getLogger("urllib3").setLevel(logging.WARNING)


def fields(**kv: object) -> str:
    """`key=value` pairs for a log line; values with spaces are quoted."""
    out = []
    for k, v in kv.items():
        s = str(v)
        if not s or any(c.isspace() for c in s) or '"' in s:
            s = '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'
        out.append(f"{k}={s}")
    return " ".join(out)
