"""What a daemon does first, before its heavy imports: its own log, and leaving if it runs already.

Under Circus (`ECAUTO_LOG_FILE` set by circus.ini) stdout and stderr are pointed at the daemon's
own log file first of all, so that a daemon that dies before its logging starts (an import
error, a bad argument) still leaves its traceback there: Circus 0.19 has no streams on Windows.

A copy started while its daemon runs leaves at once, before the daemon's heavy imports.

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
import stat
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from ecauto.daemon.lock import LockHeld

# Nothing but the standard library at import time: an import that fails here would leave no trace.

EXIT_LOCKED = 75  # EX_TEMPFAIL: the daemon runs already
_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
# ecauto.config's DEFAULT_CONFIG_NAME and MAX_CONFIG_BYTES (tests/test_daemon.py holds them equal).
CONFIG_NAME, MAX_CONFIG_BYTES = "ecauto.toml", 1024 * 1024
# The daemon's own log file, named per watcher in circus.ini; unset when started by hand.
LOG_FILE_ENV = "ECAUTO_LOG_FILE"


def log_to_file(environ: Mapping[str, str] = os.environ) -> None:
    """Point stdout and stderr (fds 1 and 2) at `$ECAUTO_LOG_FILE`, opened for append, when set.

    The first thing an entry point does: from here on even the interpreter's own traceback of
    a failed import lands in the daemon's log. `logsetup.configure` later takes the same file
    over for its rotating handler. A file that cannot be opened leaves stderr where it was (a
    line there says why), so nothing is lost that was not lost before."""
    path = environ.get(LOG_FILE_ENV)
    if not path:
        return
    try:
        fd = open_log(path)
    except OSError as e:
        print(f"cannot open the log file {path}: {e.strerror or e}", file=sys.stderr)
        return
    try:
        point_stdio_at(fd)
    finally:
        os.close(fd)


def open_log(path: str) -> int:
    """The log opened for append, the owner's only, never through a symbolic link (the home's
    own checks come later than this, the very first thing a daemon does)."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    return os.open(path, flags, 0o600)


def point_stdio_at(fd: int) -> None:
    """Make fds 1 and 2 the file open at `fd` (they share its offset and append mode), and
    sys.stdout and sys.stderr line-buffered UTF-8 writers on them."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            try:
                stream.flush()
            except (OSError, ValueError):
                pass  # a closed or broken stream: nothing of it to keep
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.stdout = _writer(1, sys.stdout)
    sys.stderr = _writer(2, sys.stderr)


_OURS: list[TextIO] = []


def _writer(fd: int, current: TextIO | None) -> TextIO:
    # Made once: the interpreter's own writer may not follow a dup2 (on a Windows console it
    # keeps the console's handle; under pythonw it is None). Ours never closes the fd.
    if current is not None and any(current is w for w in _OURS):
        return current
    w = open(fd, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)  # noqa: SIM115
    _OURS.append(w)
    return w


def leave_if_running(name_for: Callable[[argparse.Namespace], str], argv: Sequence[str]) -> None:
    """Exit 75 with the daemon's one line when another process holds its lock; else return.

    Anything unusual (a bad argument, an unsafe or missing home) returns too: the full start
    then reports it as it always does."""
    from ecauto.daemon.lock import LockHeld, LockOwner, is_held, read_owner  # noqa: F811

    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--home")
    p.add_argument("--platform")
    p.add_argument("--config")
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

    redact.complain(refused(name, LockHeld(path, holder), language_of(args.config)))
    sys.exit(EXIT_LOCKED)


def refused(name: str, e: LockHeld, lang: str) -> str:
    """The one line of a copy that finds its daemon already running (here or in `serve`)."""
    from ecauto.words.errors import ERRORS

    if e.owner is None:
        return ERRORS.say(lang, "lock_held_unreadable", name=name, daemon=e.path.stem, path=e.path)
    return ERRORS.say(
        lang, "lock_held", name=name, daemon=e.path.stem, pid=e.owner.pid, path=e.path
    )


def language_of(explicit: str | None) -> str:
    """`ui.language` of the config the full start would read (`ecauto.config.load`, which this
    module cannot import), or the default when it cannot be read or names no language of ours:
    a copy refused here says so in the operator's language, as the full start would."""
    from ecauto.words import DEFAULT_LANGUAGE, LANGUAGES

    raw = explicit or os.environ.get("ECAUTO_CONFIG") or CONFIG_NAME
    try:
        # Never blocks on a FIFO in its place; never reads more than the full start would.
        fd = os.open(Path.cwd() / raw, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return DEFAULT_LANGUAGE
            data = f.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            return DEFAULT_LANGUAGE
        import tomllib

        ui = tomllib.loads(data.decode("utf-8")).get("ui")
    except (OSError, ValueError, RecursionError):  # TOMLDecodeError, UnicodeDecodeError too
        return DEFAULT_LANGUAGE
    lang = ui.get("language") if isinstance(ui, dict) else None
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


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
