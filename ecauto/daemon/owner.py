"""The mark a daemon leaves on everything it starts: `ECAUTO_OWNER=<daemon>:<pid>:<create_time>`
and `ECAUTO_HOME=<absolute home>` in its own environment, which its children inherit.

A process left behind by a daemon that is gone is proven ours only by this mark (its process
group or parent alone prove nothing: pids and process groups are reused). The watchdog reads it
from the candidate's environment and ends the process only if the mark names a daemon it saw, by
(pid, create_time), working in its own home.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping

from ecauto.frozen import frozen

OWNER_VAR = "ECAUTO_OWNER"
HOME_VAR = "ECAUTO_HOME"


@frozen
class Owner:
    daemon: str
    pid: int
    create_time: float
    home: str

    @property
    def value(self) -> str:
        return f"{self.daemon}:{self.pid}:{self.create_time!r}"


def export(owner: Owner, environ: MutableMapping[str, str] = os.environ) -> None:
    """Mark this process's environment (so every child started from now on carries it)."""
    environ[OWNER_VAR] = owner.value
    environ[HOME_VAR] = owner.home


def read(environ: Mapping[str, str]) -> Owner | None:
    """The mark in a process's environment, or None if it carries none (or a malformed one)."""
    raw, home = environ.get(OWNER_VAR), environ.get(HOME_VAR)
    if not raw or not home:
        return None
    daemon, _, rest = raw.partition(":")
    pid, _, ct = rest.partition(":")
    try:
        return Owner(daemon, int(pid), float(ct), home) if daemon else None
    except ValueError:
        return None
