"""The runtime home: the one folder a running instance writes to.

Two homes on one machine are two independent instances; every path an instance uses is derived
from its home, and the home is always absolute in what is written to disk.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = "var"


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


@dataclass(frozen=True)
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

    def ensure(self) -> Home:
        """Create the layout, readable by the owner only (it holds tokens and business data).

        A folder of ours that someone made more open (or that a tool created with the default
        umask) is closed again; one that belongs to another user is left alone."""
        for d in (self.root, self.heartbeats, self.locks, self.log, self.watchdog):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
            st = d.stat()
            mine = not hasattr(os, "getuid") or st.st_uid == os.getuid()  # Windows: ACLs instead
            if st.st_mode & 0o077 and mine:
                os.chmod(d, 0o700)
        return self
