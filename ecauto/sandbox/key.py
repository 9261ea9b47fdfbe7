"""The instance's sandbox key: how a daemon knows the sandbox on its port is its own.

The incident behind it: another local user who took the sandbox's port first received every
credential the daemons sent. The key is a random secret in the home (`secrets/sandbox.key`,
owner-only), made by whichever of the sandbox or a daemon needs it first. A client proves the
sandbox's identity by challenge-response (`GET /_sandbox/whoami?nonce=N` answered with
HMAC-SHA256(key, N)), so the key itself never goes to an impostor; the sandbox's control
endpoints want the key itself in `X-Ecauto-Sandbox-Key` (only this instance's own tools hold it).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

HEADER = "X-Ecauto-Sandbox-Key"
WHOAMI = "/_sandbox/whoami"
_KEY = re.compile(r"^[0-9a-f]{64}$")


class BadKey(OSError):
    """The key file exists but cannot be used (wrong owner, not a key); the message says which."""


def key_path(home: Path) -> Path:
    return home / "secrets" / "sandbox.key"


def answer(key: str, nonce: str) -> str:
    """The sandbox's answer to a challenge: HMAC-SHA256(key, nonce), hex."""
    return hmac.new(key.encode(), nonce.encode(), hashlib.sha256).hexdigest()


def read_key(path: Path) -> str:
    """The key; FileNotFoundError when there is none yet, BadKey when it is not usable."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)  # a link could name anyone's file
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if hasattr(os, "getuid") and st.st_uid != os.getuid():
            raise BadKey(f"{path} belongs to another user: not this instance's key")
        if st.st_mode & 0o077 and hasattr(os, "fchmod"):  # Windows: ACLs instead
            os.fchmod(fd, 0o600)  # ours but too open (a copied home): owner-only again
        text = os.read(fd, 256).decode("ascii", "replace").strip()
    finally:
        os.close(fd)
    if not _KEY.match(text):
        raise BadKey(f"{path} is not a sandbox key (64 hex digits)")
    return text


def load_or_create(path: Path) -> str:
    """This instance's key, made now (atomically, owner-only) if there is none yet.

    Safe to race: the new key is written to a temp file and linked into place, which fails if
    another process linked its own first; then that one is read."""
    try:
        return read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (secrets.token_hex(32) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return read_key(path)


def matches(key: str, presented: str) -> bool:
    return hmac.compare_digest(key.encode(), presented.strip().encode())
