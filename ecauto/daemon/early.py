"""A copy started while its daemon runs leaves at once, before the daemon's heavy imports.

Started by hand (or by a second supervisor), a copy used to import requests, psutil and the
store before it found the lock taken: about half a second on an idle machine, over the three
seconds the watchdog gives a copy to leave by itself on a busy one, so the watchdog ended it
(SIGTERM) instead of letting it say why. This look needs only the standard library and the
lock; it decides nothing: a lock not held here is taken, for real, by `Daemon.serve`.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ecauto.daemon.lock import LockHeld, LockOwner, is_held, read_owner

EXIT_LOCKED = 75  # EX_TEMPFAIL: the daemon runs already
_NAME = re.compile(r"^[a-z][a-z0-9-]*$")


def leave_if_running(name_for: Callable[[argparse.Namespace], str], argv: Sequence[str]) -> None:
    """Exit 75 with the daemon's one line when another process holds its lock; else return.

    Anything unusual (a bad argument, an unsafe or missing home) returns too: the full start
    then reports it as it always does."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--home")
    p.add_argument("--platform")
    try:
        args, _ = p.parse_known_args(argv)
        name = name_for(args)
    except (SystemExit, TypeError, ValueError):
        return
    if not _NAME.match(name):
        return
    root = home_of(args.home)
    locks = root / "locks"
    path = locks / f"{name}.lock"
    # Only in a home the full start would accept as far as the lock goes: never through a link.
    if not (_plain_folder(root) and _plain_folder(locks)):
        return
    try:
        if not is_held(path):
            return
    except OSError:
        return
    try:
        holder: LockOwner | None = read_owner(path)
    except (OSError, ValueError):
        holder = None
    from ecauto import redact

    redact.complain(refused(name, LockHeld(path, holder)))
    sys.exit(EXIT_LOCKED)


def refused(name: str, e: LockHeld) -> str:
    """The one line of a copy that finds its daemon already running (here or in `serve`)."""
    return f"{name}: not started: {e}"


def home_of(explicit: str | None) -> Path:
    """`ecauto.home.resolve_home`, which this module cannot import (it imports the config)."""
    raw = explicit or os.environ.get("ECAUTO_HOME") or "var"
    return Path(os.path.normpath(Path.cwd() / Path(raw).expanduser()))


def _plain_folder(path: Path) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    owned = not hasattr(os, "getuid") or st.st_uid == os.getuid()
    return os.path.isdir(path) and not os.path.islink(path) and owned and not st.st_mode & 0o022
