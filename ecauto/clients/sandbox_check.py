"""Before the first call to the sandbox, make it prove it is this instance's (ecauto.sandbox.key).

One process talks to one sandbox, and every client (and the token refresh) goes through
`clients.http.call`, so the check lives there: `install(check)` once in sandbox mode, and each
call to the sandbox's origin first runs `check.ensure()`. A proof holds for the process until a
call to that origin fails to connect (the sandbox went away; whoever answers next must prove
itself again). A wrong answer raises `NotOurSandbox`, a ConfigError: the daemon leaves with one
line, having sent nothing but the random challenge.
"""

from __future__ import annotations

import http.client
import json
import secrets
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from ecauto.config import ConfigError
from ecauto.sandbox import key as sandbox_key


class NotOurSandbox(ConfigError):
    """What answers on the sandbox's port is not this instance's sandbox."""


@dataclass(frozen=True)
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

    Plain http.client, not requests: the watchdog asks once a pass, `watchdog report` included,
    and should not pay for importing requests to do it."""
    nonce = secrets.token_hex(16)
    u = urllib.parse.urlsplit(url)
    if u.scheme != "http" or not u.hostname:
        return Proof(False, False, f"not an http URL: {origin(url)}")
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout_s)
    try:
        conn.request("GET", f"{sandbox_key.WHOAMI}?nonce={nonce}")
        resp = conn.getresponse()
        status, raw = resp.status, resp.read(4096)
    except (OSError, http.client.HTTPException) as e:
        return Proof(False, False, f"no answer ({type(e).__name__})")
    finally:
        conn.close()
    try:
        said = json.loads(raw).get("hmac", "")
    except (ValueError, AttributeError):
        said = ""
    if not isinstance(said, str) or not said:
        return Proof(False, True, f"it answered HTTP {status} without a sandbox proof")
    if not sandbox_key.matches(sandbox_key.answer(key, nonce), said):
        return Proof(False, True, "it is a sandbox of another instance (its proof does not match)")
    return Proof(True, True)


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
