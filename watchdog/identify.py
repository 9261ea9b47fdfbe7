"""Which process is which: daemon names from command lines, a process's home, copies of a daemon.

Pure functions over strings and records; `collect` feeds them what it read from the OS.
"""

from __future__ import annotations

import ntpath
import os
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ecauto.config import PLATFORMS
from ecauto.home import resolve_home

from .snapshot import ProcInfo, Role

# The daemons that keep a heartbeat and a singleton lock (the sandbox keeps neither).
HEARTBEAT_DAEMONS = frozenset(
    {"upload-base", "upload-ebay", "upload-yahoo", "sync-inventory", "watchdog"}
)

# Interpreter options that take a separate value (`python -X dev -m ...`).
_OPTS_WITH_VALUE = frozenset({"-X", "-W", "--check-hash-based-pycs"})
_WATCHDOG_SCRIPTS = frozenset({"watchdog", "watchdog.exe", "watchdog-script.py"})
_CIRCUSD_SCRIPTS = frozenset({"circusd", "circusd.exe", "circusd-script.py"})


@dataclass(frozen=True)
class Identity:
    daemon: str | None = None
    role: Role = Role.OTHER
    by_pattern: bool = False
    explicit_home: str | None = None  # --home as written on the command line
    ini: str | None = None  # for a circusd: the config file it was given


def _base(path: str) -> str:
    # Command lines from Windows carry backslashes; ntpath splits on both kinds.
    return ntpath.basename(path).lower()


def is_python(arg0: str) -> bool:
    b = _base(arg0)
    if b.endswith(".exe"):
        b = b[:-4]
    return b in ("py", "pyw") or b.startswith("python")


def is_venv_launcher(arg0: str) -> bool:
    """Windows venvs start `<venv>\\Scripts\\python.exe`, a launcher that runs the base interpreter
    as its child with the same arguments: the pair is one copy, not two."""
    p = arg0.replace("\\", "/").lower().strip('"')
    return p.endswith(("/scripts/python.exe", "/scripts/pythonw.exe"))


def _entry(cmdline: Sequence[str]) -> tuple[str, str, list[str]] | None:
    """("module", name, rest) or ("script", path, rest); None for `-c` and the like."""
    if not cmdline:
        return None
    args = list(cmdline)
    if not is_python(args[0]):
        return ("script", args[0], args[1:])
    i = 1
    while i < len(args):
        a = args[i]
        if a == "-m":
            return ("module", args[i + 1], args[i + 2 :]) if i + 1 < len(args) else None
        if a.startswith("-m") and not a.startswith("--"):
            return ("module", a[2:], args[i + 1 :])
        if a == "-" or a.startswith("-c"):
            return None
        if a in _OPTS_WITH_VALUE:
            i += 2
            continue
        if a.startswith("-"):
            i += 1
            continue
        return ("script", a, args[i + 1 :])
    return None


def _option(rest: Sequence[str], name: str) -> str | None:
    for i, a in enumerate(rest):
        if a == name and i + 1 < len(rest):
            return rest[i + 1]
        if a.startswith(name + "="):
            return a[len(name) + 1 :]
    return None


def _script_is(path: str, *tail: str) -> bool:
    parts = [x.lower() for x in path.replace("\\", "/").split("/") if x]
    return parts[-len(tail) :] == list(tail)


def _known(kind: str, target: str, rest: list[str]) -> tuple[str | None, Role]:
    mod = target if kind == "module" else ""
    script = target if kind == "script" else ""

    def is_(module: str, *tail: str) -> bool:
        return mod == module or (bool(script) and _script_is(script, *tail))

    if is_("ecauto.daemons.upload", "ecauto", "daemons", "upload.py"):
        platform = _option(rest, "--platform")
        return (f"upload-{platform}" if platform in PLATFORMS else None), Role.DAEMON
    if is_("ecauto.daemons.sync", "ecauto", "daemons", "sync.py"):
        return "sync-inventory", Role.DAEMON
    if is_("ecauto.sandbox", "ecauto", "sandbox", "__main__.py"):
        return "sandbox", Role.DAEMON
    # Only `watchdog run` is the watchdog daemon; `scan` and `report` are one-shot commands.
    if mod == "watchdog" or (script and _base(script) in _WATCHDOG_SCRIPTS):
        return ("watchdog" if rest[:1] == ["run"] else None), Role.DAEMON
    if mod == "circus.circusd" or (script and _base(script) in _CIRCUSD_SCRIPTS):
        return None, Role.CIRCUSD
    return None, Role.OTHER


def _normalise(text: str) -> str:
    return text.replace("\\", "/").lower()


def identify(
    cmdline: Sequence[str], patterns: Mapping[str, Sequence[str]] | None = None
) -> Identity:
    """What a command line starts, as far as the line itself tells."""
    entry = _entry(cmdline)
    if entry is not None:
        kind, target, rest = entry
        daemon, role = _known(kind, target, rest)
        if role is Role.CIRCUSD:
            ini = next((a for a in rest if not a.startswith("-")), None)
            return Identity(role=Role.CIRCUSD, ini=ini)
        if daemon is not None:
            return Identity(daemon, Role.DAEMON, explicit_home=_option(rest, "--home"))
    if patterns:
        joined = _normalise(" ".join(cmdline))
        for name, pats in patterns.items():
            if any(_normalise(p) in joined for p in pats if p):
                rest = list(cmdline)
                return Identity(
                    name, Role.DAEMON, by_pattern=True, explicit_home=_option(rest, "--home")
                )
    return Identity()


def process_home(ident: Identity, cwd: str | None, environ: Mapping[str, str] | None) -> str | None:
    """The home a daemon works in: --home, else $ECAUTO_HOME, else <cwd>/var; against its cwd.

    A copy recognised only by a configured pattern (the old system's script) knows nothing of
    homes unless it names one: None then (see `claimed`).
    """
    env = dict(environ or {})
    if ident.by_pattern and not ident.explicit_home and "ECAUTO_HOME" not in env:
        return None
    if cwd is None and not _is_abs(ident.explicit_home or env.get("ECAUTO_HOME", "")):
        return None  # cannot resolve a relative home without the cwd: not provably ours
    return str(resolve_home(ident.explicit_home, cwd=cwd or "/", environ=env))


def claimed(project: str, cwd: str | None, cmdline: Sequence[str]) -> bool:
    """Whether a pattern copy that names no home belongs to the instance in folder `project` (where
    its circus.ini is): it runs from that folder, or runs a file inside it. The old system was run
    from the same clone (`python scheduled_tasks\\sync_inventory_daemon.py`); a copy of another
    instance, or anyone else's script of the same name, is not ours to end."""
    root = os.path.normcase(os.path.normpath(project))

    def inside(path: str) -> bool:
        full = os.path.normcase(os.path.normpath(path))
        return full == root or full.startswith(root.rstrip(os.sep) + os.sep)

    if cwd is not None and inside(cwd):
        return True
    for arg in cmdline[1:]:
        if arg.startswith("-"):
            continue
        if _is_abs(arg) and inside(arg):
            return True
    return False


def _is_abs(p: str) -> bool:
    return bool(p) and (posixpath.isabs(p) or ntpath.isabs(p))


def same_file(a: str | None, b: str, cwd: str | None) -> bool:
    """Whether path `a` (as a process wrote it, relative to its cwd) names `b`."""
    if not a:
        return False
    full = a if _is_abs(a) or cwd is None else os.path.join(cwd, a)
    return os.path.normpath(full) == os.path.normpath(b)


def is_ours(p: ProcInfo, home: str, my_uid: int | None) -> bool:
    """A process of this instance: our user, and our home."""
    if my_uid is not None and p.uid != my_uid:
        return False
    return p.home is not None and os.path.normpath(p.home) == os.path.normpath(home)


def copies(procs: Sequence[ProcInfo]) -> list[tuple[ProcInfo, ...]]:
    """Group one daemon's processes into copies: a venv launcher and its interpreter child (same
    daemon, same home) are one copy, the launcher first."""
    by_pid = {p.pid: p for p in procs}

    def head(p: ProcInfo) -> ProcInfo:
        seen = {p.pid}
        while True:
            parent = by_pid.get(p.ppid)
            if (
                parent is None
                or parent.pid in seen
                or not parent.launcher
                or parent.daemon != p.daemon
                or parent.home != p.home
            ):
                return p
            seen.add(parent.pid)
            p = parent

    groups: dict[int, list[ProcInfo]] = {}
    for p in sorted(procs, key=lambda x: (x.create_time, x.pid)):
        h = head(p)
        groups.setdefault(h.pid, []).append(p)
    out = []
    for pid, group in groups.items():
        group.sort(key=lambda x: x.pid != pid)  # the head (launcher) first
        out.append(tuple(group))
    return out
