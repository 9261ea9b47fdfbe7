"""Before the first call to the sandbox, make it prove it is this instance's (ecauto.sandbox.key).

One process talks to one sandbox, and every client (and the token refresh) goes through
`clients.http.call`, so the check lives there: `install(check)` once in sandbox mode, and each
call to the sandbox's origin first runs `check.ensure()`. A proof holds for the process until a
call to that origin fails to connect (the sandbox went away; whoever answers next must prove
itself again). A wrong answer raises `NotOurSandbox`, a ConfigError: the daemon leaves with one
line, having sent nothing but the random challenge.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

from ecauto.config import ConfigError
from ecauto.frozen import frozen
from ecauto.sandbox import key as sandbox_key


class NotOurSandbox(ConfigError):
    """What answers on the sandbox's port is not this instance's sandbox."""


@frozen
class Proof:
    """What one challenge came to: `ours`, or `answered` (something else listens) with why."""

    ours: bool
    answered: bool
    why: str = ""


def origin(url: str) -> str:
    u = urllib.parse.urlsplit(url)
    return f"{u.scheme}://{u.netloc}".lower()


def challenge(url: str, key: str, timeout_s: float) -> Proof:
    """One whoami round trip to the server at `url` (its origin). Network trouble: not answered.

    One HTTP/1.1 GET on a plain socket, not requests nor http.client: the watchdog asks once a
    pass, `watchdog report` included, and http.client alone imports email and ssl (about 15 ms
    of a report that must cost no more than a `circusctl status`)."""
    nonce = os.urandom(16).hex()
    u = urllib.parse.urlsplit(url)
    if u.scheme != "http" or not u.hostname:
        return Proof(False, False, f"not an http URL: {origin(url)}")
    try:
        status, raw = _get(
            u.hostname, u.port or 80, f"{sandbox_key.WHOAMI}?nonce={nonce}", timeout_s
        )
    except (OSError, UnicodeError, _BadAnswer) as e:
        return Proof(False, False, f"no answer ({type(e).__name__})")
    try:
        said = json.loads(raw).get("hmac", "")
    except (ValueError, AttributeError):
        said = ""
    if not isinstance(said, str) or not said:
        return Proof(False, True, f"it answered HTTP {status} without a sandbox proof")
    if not sandbox_key.matches(sandbox_key.answer(key, nonce), said):
        return Proof(False, True, "it is a sandbox of another instance (its proof does not match)")
    return Proof(True, True)


class _BadAnswer(Exception):
    """What answered does not speak HTTP (as http.client's HTTPException: not an answer)."""


_MAX_ANSWER = 64 * 1024  # a whoami answer is under 100 bytes; a stranger's flood is cut here


def _get(host: str, port: int, target: str, timeout_s: float) -> tuple[int, bytes]:
    """(status, body) of one `GET target` with `Connection: close`, all of it within
    `timeout_s`; the body is what Content-Length says (or all until the server closes)."""
    deadline = time.monotonic() + timeout_s
    # The name as bytes (getaddrinfo takes them; typeshed says str): for a str it imports the
    # idna codec (a few ms), even for 127.0.0.1.
    name = host.encode("ascii") if host.isascii() else host.encode("idna")
    address: Any = (name, port)
    with socket.create_connection(address, timeout=timeout_s) as sock:
        sock.sendall(
            b"GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n"
            % (target.encode("ascii"), name, port)
        )
        data = b""
        length: int | None = None
        head_end = -1
        while len(data) < _MAX_ANSWER:
            if head_end >= 0 and length is not None and len(data) - head_end >= length:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("timed out")
            sock.settimeout(left)
            chunk = sock.recv(_MAX_ANSWER - len(data))
            if not chunk:
                break
            data += chunk
            if head_end < 0 and b"\r\n\r\n" in data:
                head_end = data.index(b"\r\n\r\n") + 4
                length = _content_length(data[:head_end])
    if head_end < 0:
        raise _BadAnswer("no complete status line and headers")
    line = data[: data.index(b"\r\n")].split(None, 2)
    if len(line) < 2 or not line[0].startswith(b"HTTP/") or not line[1].isdigit():
        raise _BadAnswer("not an HTTP status line")
    body = data[head_end:]
    return int(line[1]), body[:length] if length is not None else body


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return int(value.strip())
    return None


class SandboxCheck:
    def __init__(self, url: str, key_path: Path, timeout_s: float = 5.0) -> None:
        self.origin = origin(url)
        self.key_path = key_path
        self.timeout_s = timeout_s
        self._proven = False
        self._lock = threading.Lock()

    def covers(self, url: str) -> bool:
        return origin(url) == self.origin

    def ensure(self) -> None:
        """Nothing when proven; NotOurSandbox when something else answers; else leave it to the
        call itself to meet (and report) the network trouble."""
        if self._proven:
            return
        with self._lock:
            if self._proven:
                return
            try:
                key = sandbox_key.load_or_create(self.key_path)
            except OSError as e:
                raise ConfigError(f"sandbox key {self.key_path}: {e}") from None
            proof = challenge(self.origin, key, self.timeout_s)
            if proof.ours:
                self._proven = True
            elif proof.answered:
                raise NotOurSandbox(
                    f"the program on the sandbox's port ({self.origin}) is not this instance's "
                    f"sandbox: {proof.why}; nothing was sent to it"
                )

    def forget(self) -> None:
        self._proven = False


_active: SandboxCheck | None = None


def install(check: SandboxCheck | None) -> None:
    global _active
    _active = check


def before(url: str) -> None:
    """Called by `http.call` before each request."""
    check = _active
    if check is not None and check.covers(url):
        check.ensure()


def unreachable(url: str) -> None:
    """Called by `http.call` when a request could not connect."""
    check = _active
    if check is not None and check.covers(url):
        check.forget()
