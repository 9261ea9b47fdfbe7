"""What the watchdog remembers between passes (and across its own restarts).

`<home>/watchdog/state.json`, written atomically, with a schema version. Restarts and respawns
in the window, open incidents, the managed processes seen (so their orphans and leftovers are
recognised after circusd is gone). A file that cannot be read is moved aside with one warning
and a fresh state is used: forgetting is better than stopping.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, field, replace
from pathlib import Path
from typing import Any

from ecauto.atomic import read_json_record, write_json_atomic
from ecauto.frozen import frozen
from ecauto.logsetup import fields

log = logging.getLogger(__name__)

SCHEMA = 1
# Bounds that keep the file small (read_json_record refuses records over 64 KiB).
MAX_SEEN = 128  # managed processes remembered; the least recently seen forgotten first
MAX_TIMES = 64  # restart and respawn times kept per daemon (budgets are far smaller)


@frozen
class DaemonState:
    pid: int | None = None  # the managed process last seen
    create_time: float | None = None
    last_beat_at: float | None = None  # newest good heartbeat of that process
    beat_s: float | None = None
    restarts: tuple[float, ...] = ()  # restarts the watchdog made (UTC epoch seconds)
    respawns: tuple[float, ...] = ()  # new pids the watchdog did not cause (crashes)
    expect_new_pid: bool = False  # the watchdog restarted it: the next new pid is its doing
    healthy_since: float | None = None
    overlap_since: float | None = None  # two managed copies (a graceful reload) since
    gave_up: bool = False  # the restart budget is spent: needs a person
    stopped: bool = False  # the watchdog stopped its watcher after a crash loop

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["restarts"], d["respawns"] = list(self.restarts), list(self.respawns)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DaemonState:
        d = dict(d)
        d["restarts"] = tuple(float(x) for x in d.get("restarts", ()))
        d["respawns"] = tuple(float(x) for x in d.get("respawns", ()))
        return cls(**d)


@frozen
class Incident:
    kind: str
    daemon: str | None
    severity: str
    opened_at: float
    last_seen: float
    summary: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Incident:
        return cls(**d)


@frozen
class Seen:
    """A process circusd managed as `daemon`: if it outlives circusd it is an orphan, and what is
    left in its process group after it is gone are leftovers."""

    daemon: str
    pid: int
    create_time: float
    last_seen: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Seen:
        return cls(**d)


@frozen
class State:
    daemons: dict[str, DaemonState] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    seen: dict[int, Seen] = field(default_factory=dict)
    # The findings of the last pass (Finding.ident): one that merely goes on is not written to
    # the events file again every few seconds.
    noted: tuple[str, ...] = ()
    # The newest circusd journal entry already judged: its deaths are in the events file.
    journal_until: float = 0.0
    updated_at: float = 0.0
    schema: int = SCHEMA

    def daemon(self, name: str) -> DaemonState:
        return self.daemons.get(name, DaemonState())

    def with_daemon(self, name: str, ds: DaemonState) -> State:
        return replace(self, daemons={**self.daemons, name: ds})

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "updated_at": self.updated_at,
            "daemons": {k: v.to_json() for k, v in sorted(self.daemons.items())},
            "incidents": {k: v.to_json() for k, v in sorted(self.incidents.items())},
            "seen": [v.to_json() for _, v in sorted(self.seen.items())],
            "noted": list(self.noted),
            "journal_until": self.journal_until,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> State:
        if d.get("schema") != SCHEMA:
            raise ValueError(f"unknown schema {d.get('schema')!r}")
        try:
            seen = [Seen.from_json(x) for x in d.get("seen", [])]
            return cls(
                daemons={str(k): DaemonState.from_json(v) for k, v in d.get("daemons", {}).items()},
                incidents={
                    str(k): Incident.from_json(v) for k, v in d.get("incidents", {}).items()
                },
                seen={s.pid: s for s in seen},
                noted=tuple(str(x) for x in d.get("noted", ()))[:MAX_SEEN],
                journal_until=float(d.get("journal_until", 0.0)),
                updated_at=float(d.get("updated_at", 0.0)),
            )
        except (TypeError, ValueError, AttributeError) as e:
            raise ValueError(f"malformed record: {e}") from None


class StateFile:
    """Load and save the state (read as untrusted, like every record in a home)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> State:
        try:
            data = read_json_record(self.path)
            return State.from_json(data)
        except FileNotFoundError:
            return State()
        except ValueError as e:
            aside = self.path.with_name(f"{self.path.name}.bad")
            try:
                os.replace(self.path, aside)
            except OSError:
                aside = self.path
            log.warning(
                "state unreadable, starting afresh %s",
                fields(path=self.path, reason=e, kept_as=aside),
            )
            return State()

    def save(self, state: State) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_json_atomic(self.path, state.to_json())
