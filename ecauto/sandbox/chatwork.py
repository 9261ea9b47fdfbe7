"""Chatwork's message API, where alerts go: posts are kept in a JSON-lines journal.

Chatwork documents one limit: 300 requests per 5 minutes per API token, with every answer's
x-ratelimit-limit, x-ratelimit-remaining and x-ratelimit-reset (the epoch second the window
frees), and 429 over it (https://developer.chatwork.com/docs/endpoints, "利用制限"). A request
over it is refused before anything else is looked at. No source was found for a per-room limit
(once kept here as 10 messages per 10 s), so rooms are not limited.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from pathlib import Path
from typing import Any, TextIO

from ecauto.sandbox.exchange import Reply, Request, json_reply
from ecauto.sandbox.windows import SlidingWindow

TOKEN_LIMIT, TOKEN_WINDOW_S = 300, 300.0
MAX_KEPT = 10_000  # messages served by /_sandbox/chatwork; the journal keeps them all


class Chatwork:
    def __init__(self, journal: Path) -> None:
        self.journal = journal
        self._file: TextIO | None = None
        self._tokens: dict[str, SlidingWindow] = {}
        self._messages: list[dict[str, Any]] = []
        self._next_id = 1_000_000_001
        self._lock = threading.Lock()

    def post(self, req: Request) -> Reply:
        token = req.headers.get("x-chatworktoken", "")
        if not token:
            return json_reply(401, {"errors": ["Invalid API token"]})
        token_sha = hashlib.sha256(token.encode()).hexdigest()
        room = req.params["room_id"]
        with self._lock:
            window = self._tokens.setdefault(token_sha, SlidingWindow(TOKEN_LIMIT, TOKEN_WINDOW_S))
            if not window.admit(req.mono):
                return _limited(window, req)
            body = req.form().get("body", "")
            if not body.strip():
                return json_reply(
                    400, {"errors": ["Parameter [body] is required"]}, _headers(window, req)
                )
            message_id = str(self._next_id)
            self._next_id += 1
            record = {
                "at": req.now,
                "room": room,
                "body": body,
                "token_sha256": token_sha,
                "message_id": message_id,
            }
            self._write(record)
            self._messages.append(record)
            del self._messages[:-MAX_KEPT]
            headers = _headers(window, req)
        return json_reply(200, {"message_id": message_id}, headers)

    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(m) for m in self._messages]

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def open(self) -> None:
        """Create the journal's folder (owner only) and open the journal; OSError if we cannot."""
        with self._lock:
            self._open()

    def _open(self) -> TextIO:
        if self._file is None:
            folder = self.journal.parent
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            # mkdir's mode is filtered by the umask, and the folder may predate us.
            os.chmod(folder, 0o700)
            fd = os.open(self.journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._file = os.fdopen(fd, "a", encoding="utf-8")
        return self._file

    def _write(self, record: dict[str, Any]) -> None:
        file = self._open()
        file.write(json.dumps(record, ensure_ascii=False) + "\n")
        # One line per message, on disk at once: a test or the watchdog may read it right away.
        file.flush()


def _headers(window: SlidingWindow, req: Request) -> tuple[tuple[str, str], ...]:
    # Chatwork's headers describe the token's 5-minute window; reset is an epoch second.
    reset = math.ceil(req.now + window.frees_in(req.mono))
    return (
        ("x-ratelimit-limit", str(window.limit)),
        ("x-ratelimit-remaining", str(window.remaining(req.mono))),
        ("x-ratelimit-reset", str(reset)),
    )


def _limited(refused_by: SlidingWindow, req: Request) -> Reply:
    # The window's headers, so a client that waits for its reset is let in.
    headers = _headers(refused_by, req)
    return json_reply(429, {"errors": ["Rate limit exceeded"]}, headers, throttled=True)
