"""The runtime home: the one folder a running instance writes to.

Two homes on one machine are two independent instances; every path an instance uses is derived
from its home, and the home is always absolute in what is written to disk.

A home holds tokens, the listing queue and the locks that decide which process may run, so
whoever can write to it controls the instance. A home, or a folder or file in it that ecauto
uses, is refused when it is a symlink, belongs to another user, or is writable by group or
others: a home made beforehand by another user let that user read the queue and swap `locks/`
for a link, and the stale-lock removal then deleted files in the folder the link pointed to.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ecauto.config import ConfigError
from ecauto.frozen import frozen
from ecauto.words.errors import ERRORS

DEFAULT_HOME = "var"

# What ecauto uses in a home, checked before it is used (missing ones are fine: made later).
FOLDERS = (
    "log",
    "locks",
    "heartbeats",
    "circus",
    "secrets",
    "watchdog",
    "watchdog/outbox",
    "sandbox",
)
FILES = tuple(
    f"{db}{suffix}" for db in ("ecauto.db", "quota.db") for suffix in ("", "-wal", "-shm")
) + ("circusd.pid", "watchdog/state.json", "watchdog/events.jsonl")
# Made by `ensure`; the others by whoever needs them (circus/ by the launcher, secrets/ ...).
_MADE = ("heartbeats", "locks", "log", "watchdog", "circus")


class HomeError(ConfigError):
    """A home that cannot be used safely, in one line naming the path and what is wrong."""


def resolve_home(
    explicit: str | os.PathLike[str] | None = None,
    *,
    cwd: str | None = None,
    environ: dict[str, str] | None = None,
) -> Path:
    """`explicit`, else `$ECAUTO_HOME`, else `var/`, made absolute against `cwd`."""
    env = os.environ if environ is None else environ
    raw = explicit or env.get("ECAUTO_HOME") or DEFAULT_HOME
    base = Path(cwd) if cwd else Path.cwd()
    return Path(os.path.normpath(base / Path(raw).expanduser()))


@frozen
class Home:
    root: Path

    @classmethod
    def resolve(cls, explicit: str | os.PathLike[str] | None = None) -> Home:
        return cls(resolve_home(explicit))

    @property
    def heartbeats(self) -> Path:
        return self.root / "heartbeats"

    @property
    def locks(self) -> Path:
        return self.root / "locks"

    @property
    def log(self) -> Path:
        return self.root / "log"

    @property
    def db(self) -> Path:
        return self.root / "ecauto.db"

    @property
    def watchdog(self) -> Path:
        return self.root / "watchdog"

    def heartbeat_path(self, name: str) -> Path:
        return self.heartbeats / f"{name}.json"

    def lock_path(self, name: str) -> Path:
        return self.locks / f"{name}.lock"

    def problem(self, path: Path, *, folder: bool = True) -> str | None:
        """What makes `path` unsafe to use (a symlink, another user's, writable by others), or
        None; a path that does not exist is no problem."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return None
        except OSError as e:
            return ERRORS.say("en", "path_unchecked", path=path, why=e.strerror)
        if stat.S_ISLNK(st.st_mode):
            return ERRORS.say("en", "path_symlink", path=path)
        if folder and not stat.S_ISDIR(st.st_mode):
            return ERRORS.say("en", "path_not_folder", path=path)
        if not folder and not stat.S_ISREG(st.st_mode):
            return ERRORS.say("en", "path_not_file", path=path)
        if not hasattr(os, "getuid"):  # pragma: no cover - Windows: ACLs, not modes, decide
            return None
        if st.st_uid != os.getuid():
            return ERRORS.say("en", "path_owner", path=path, uid=st.st_uid, me=os.getuid())
        if st.st_mode & 0o022:
            who = (
                "both"
                if st.st_mode & 0o022 == 0o022
                else ("group" if st.st_mode & 0o020 else "others")
            )
            mode = f"{stat.S_IMODE(st.st_mode):o}"
            return ERRORS.say("en", f"path_writable_{who}", path=path, mode=mode)
        return None

    def check(self) -> Home:
        """Raise HomeError unless the home exists and it and all it holds are safe to use."""
        if not os.path.lexists(self.root):
            raise HomeError(ERRORS.say("en", "home_missing", root=self.root))
        self._refuse(self.problem(self.root))
        for name in FOLDERS:
            self._refuse(self.problem(self.root / name))
        for name in FILES:
            self._refuse(self.problem(self.root / name, folder=False))
        return self

    @staticmethod
    def _refuse(problem: str | None) -> None:
        if problem:
            raise HomeError(ERRORS.say("en", "home_unsafe", problem=problem))

    def ensure(self) -> Home:
        """Create the layout, readable by the owner only (it holds tokens and business data);
        HomeError when the home or anything in it is unsafe (see `problem`).

        A folder of ours that a tool created with the default umask is closed again. The home
        is checked before anything is made in it: a home nobody else can write to cannot have
        its folders swapped between the check and their use."""
        self._refuse(self.problem(self.root))
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        for name in _MADE:
            self._refuse(self.problem(self.root / name))
            (self.root / name).mkdir(mode=0o700, exist_ok=True)
        self.check()
        for d in (self.root, *(self.root / n for n in _MADE)):
            if hasattr(os, "getuid") and os.lstat(d).st_mode & 0o077:
                os.chmod(d, 0o700)  # checked above: a folder of ours, not a link
        return self


def main(argv: list[str] | None = None) -> int:
    """`python -m ecauto.home HOME`: make the layout (the launcher's first step), or one line."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    try:
        Home(resolve_home(args[0] if args else None)).ensure()
    except (HomeError, OSError) as e:
        from ecauto import redact

        redact.complain(f"ecauto: {e}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
