"""Which process is which: ours, a circusd, or a stranger; daemon names from command lines, a
process's home, copies of a daemon, the leftovers a daemon left behind.

The one place that decides identity: the collector, the policy, the executor's re-check and the
watchdog's own parent check all ask these functions. Pure functions over strings and records;
`collect` feeds them what it read from the OS.
"""

from __future__ import annotations

import enum
import ntpath
import os
import posixpath
import sys
from collections.abc import Mapping, Sequence

from ecauto import roster
from ecauto.frozen import frozen
from ecauto.home import resolve_home

from .snapshot import SAME_START_S, ProcInfo, Role
from .state import Seen

# Interpreter options that take a separate value (`python -X dev -m ...`).
_OPTS_WITH_VALUE = frozenset({"-X", "-W", "--check-hash-based-pycs"})
# circusd, whichever way it was started: `circusd`, `circusd.exe` (a Windows launcher),
# `circusd-script.py` (what that launcher runs), `python /venv/bin/circusd`, `python -m
# circus.circusd`. The process name (Linux comm) is truncated to 15 characters.
CIRCUSD_FILES = frozenset({"circusd", "circusd.exe", "circusd-script.py", "circusd-script."})
CIRCUSD_MODULE = "circus.circusd"


class Who(enum.StrEnum):
    OURS = "ours"  # a daemon of this instance: its command line, our home, our user
    CIRCUSD = "circusd"  # a circusd of any instance: never signalled
    STRANGER = "stranger"  # anything else (a leftover is proven ours separately: `leftover_of`)


@frozen
class Identity:
    daemon: str | None = None
    role: Role = Role.OTHER
    by_pattern: bool = False
    explicit_home: str | None = None  # --home as written on the command line
    ini: str | None = None  # for a circusd: the config file it was given


def _base(path: str) -> str:
    # Command lines from Windows carry backslashes; ntpath splits on both kinds.
    return ntpath.basename(path.strip('"')).lower()


def is_python(arg0: str) -> bool:
    b = _base(arg0)
    if b.endswith(".exe"):
        b = b[:-4]
    return b in ("py", "pyw") or b.startswith("python")


def _entry(cmdline: Sequence[str]) -> tuple[str, str, list[str]] | None:
    """What a command line runs: ("module", name, rest) or ("script", path, rest), the script
    being the program itself unless that is an interpreter; None for `-c` and the like."""
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


def _parts(path: str) -> list[str]:
    return [x.lower() for x in path.strip('"').replace("\\", "/").split("/") if x and x != "."]


def _runs(kind: str, target: str, path: str) -> bool:
    """Whether the module or script a command line runs is the file `path` names: its trailing
    path components, either slash, ignoring case (`-m a.b` runs a/b.py or a/b/__main__.py)."""
    want = _parts(path)
    if not want:
        return False
    if kind == "module":
        mod = target.split(".")
        candidates = [[*mod[:-1], mod[-1] + ".py"], [*mod, "__main__.py"]]
    else:
        candidates = [_parts(target)]
    return any(c[-len(want) :] == want for c in (x for x in candidates if x))


def is_circusd(cmdline: Sequence[str], name: str = "") -> bool:
    """THE circusd rule: by what the command line runs, or by the process name."""
    if name and _base(name) in CIRCUSD_FILES:
        return True
    entry = _entry(cmdline)
    if entry is None:
        return False
    kind, target, _ = entry
    if kind == "module":
        return target == CIRCUSD_MODULE
    return _base(target) in CIRCUSD_FILES


def _known(kind: str, target: str, rest: list[str]) -> str | None:
    """The roster's daemon that this module or script is, if any."""
    for e in roster.ROSTER:
        by_file = kind == "script" and (
            _base(target) in e.consoles or _runs(kind, target, e.script)
        )
        if not (by_file or (kind == "module" and target == e.module)):
            continue
        if e.option is not None and _option(rest, e.option[0]) != e.option[1]:
            continue
        if e.command is not None and rest[:1] != [e.command]:
            continue
        return e.name
    return None


def identify(
    cmdline: Sequence[str], patterns: Mapping[str, Sequence[str]] | None = None
) -> Identity:
    """What a command line starts, as far as the line itself tells."""
    entry = _entry(cmdline)
    if entry is None:
        return Identity()
    kind, target, rest = entry
    if is_circusd(cmdline):
        ini = next((a for a in rest if not a.startswith("-")), None)
        return Identity(role=Role.CIRCUSD, ini=ini)
    daemon = _known(kind, target, rest)
    if daemon is not None:
        return Identity(daemon, Role.DAEMON, explicit_home=_option(rest, "--home"))
    # The old system's scripts: only the script the interpreter runs counts, never a path that
    # is merely mentioned (an editor, `less`, `grep` on the file is no copy of the daemon).
    for name, pats in (patterns or {}).items():
        if any(_runs(kind, target, p) for p in pats if p):
            return Identity(
                name, Role.DAEMON, by_pattern=True, explicit_home=_option(rest, "--home")
            )
    return Identity()


def who(p: ProcInfo, home: str, my_uid: int | None) -> Who:
    """Ours, a circusd (of any instance), or a stranger."""
    if p.role is Role.CIRCUSD or is_circusd(p.cmdline, p.name):
        return Who.CIRCUSD
    if p.role is Role.DAEMON and p.daemon and is_ours(p, home, my_uid):
        return Who.OURS
    return Who.STRANGER


def leftover_of(p: ProcInfo, seen: Mapping[int, Seen], home: str) -> Seen | None:
    """The remembered daemon `p` was started by, when what `p` carries proves it: the mark the
    daemon base puts in its environment names a daemon seen by (pid, create_time), in this home.
    A process group or a parent pid alone proves nothing (both are reused)."""
    o = p.owner
    if o is None:
        return None
    s = seen.get(o.pid)
    if s is None or s.daemon != o.daemon or abs(s.create_time - o.create_time) > SAME_START_S:
        return None
    return s if same_home(o.home, home) else None


def same_home(a: str | None, b: str) -> bool:
    return a is not None and os.path.normpath(a) == os.path.normpath(b)


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
    return same_home(p.home, home)


# -- the Windows venv launcher: one copy with the interpreter it starts -------------------------


@frozen
class VenvLaunchers:
    """The platform fact, kept apart so that it can be tested anywhere: where a venv launcher's
    executable lives. On Windows `<venv>\\Scripts\\python.exe` is not the interpreter but a copy
    of CPython's venvlauncher.exe: it reads the venv's pyvenv.cfg, sets `__PYVENV_LAUNCHER__` to
    its own path, starts the base interpreter (`C:\\...\\Python311\\python.exe`) as its child
    with its own command line (older launchers put the base interpreter's path in argv[0]), puts
    it in a job object that kills it when the launcher dies, ignores Ctrl events, waits, and
    exits with the child's code. The daemon runs in the child.

    Only the instance's own venvs count: the one beside its circus.ini (where scripts/run makes
    it) and the one this watchdog runs from (circusd and so every daemon is started from it)."""

    venvs: tuple[str, ...] = ()
    folder: str = "Scripts"
    names: frozenset[str] = frozenset({"python.exe", "pythonw.exe"})

    @classmethod
    def of(cls, project: str | None) -> VenvLaunchers:
        """This instance's: `project` is the folder of its circus.ini."""
        venvs = [os.path.join(os.path.abspath(project), ".venv")] if project else []
        if sys.prefix != sys.base_prefix and sys.prefix not in venvs:
            venvs.append(sys.prefix)
        return cls(tuple(venvs))

    def is_launcher(self, exe: str | None) -> bool:
        """Whether an executable (the OS's path of a process's image, not its argv[0], which
        is whatever was typed) is a venv launcher of this instance."""
        if not exe:
            return False
        folder, name = ntpath.split(exe.strip('"'))  # ntpath splits on either slash
        if name.lower() not in self.names:
            return False
        return any(_same_dir(folder, v, self.folder) for v in self.venvs)


def _same_dir(folder: str, venv: str, sub: str) -> bool:
    """Whether `folder` is `venv`/`sub`: Windows paths without case and with either slash,
    POSIX paths exactly."""
    if "\\" in folder + venv or ntpath.splitdrive(folder)[0] or ntpath.splitdrive(venv)[0]:
        want = ntpath.normcase(ntpath.normpath(ntpath.join(venv, sub)))
        return ntpath.normcase(ntpath.normpath(folder)) == want
    return posixpath.normpath(folder) == posixpath.normpath(posixpath.join(venv, sub))


def launched_by(launcher: ProcInfo, child: ProcInfo) -> bool:
    """THE launcher rule: `child` is the interpreter that `launcher`, a venv launcher of this
    instance (`ProcInfo.launcher`, from `VenvLaunchers`), started for its own command: the two
    are one copy of a daemon. Every part is needed: the parent relation and the start order by
    (pid, create_time) (a pid reused after the launcher died is no child of it), the same
    arguments, the same user, the same daemon and home."""
    return (
        launcher.launcher
        and child.ppid == launcher.pid
        and child.pid != launcher.pid
        and child.create_time + SAME_START_S >= launcher.create_time
        and _passed_on(launcher.cmdline, child.cmdline)
        and launcher.uid == child.uid
        and launcher.daemon == child.daemon
        and launcher.home == child.home
    )


def _passed_on(launcher: Sequence[str], child: Sequence[str]) -> bool:
    """The launcher's command line, as it hands it on: the same, or (older launchers) with the
    base interpreter in argv[0]."""
    if not launcher or not child or tuple(launcher[1:]) != tuple(child[1:]):
        return False
    return launcher[0] == child[0] or is_python(child[0])


def copies(procs: Sequence[ProcInfo]) -> list[tuple[ProcInfo, ...]]:
    """Group one daemon's processes into copies: a venv launcher and the interpreter it started
    (`launched_by`) are one copy, the launcher first."""
    by_pid = {p.pid: p for p in procs}

    def head(p: ProcInfo) -> ProcInfo:
        seen = {p.pid}
        while True:
            parent = by_pid.get(p.ppid)
            if parent is None or parent.pid in seen or not launched_by(parent, p):
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
