"""The heartbeat file: a daemon's own word on what it is doing, with its own deadline."""

from __future__ import annotations

import enum
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from ecauto import redact
from ecauto.atomic import read_json_record, write_json_atomic
from ecauto.frozen import frozen
from ecauto.records import get, get_pid

SCHEMA = 1


class Phase(enum.StrEnum):
    STARTING = "starting"
    WORKING = "working"
    SLEEPING = "sleeping"
    STOPPING = "stopping"


@frozen
class Heartbeat:
    name: str
    pid: int
    create_time: float
    beat_at: float  # UTC epoch seconds
    beat_s: float
    phase: Phase
    home: str = ""
    watcher: str = ""
    wid: int | None = None
    started_at: float | None = None
    done: int = 0
    total: int = 0
    detail: str = ""
    next_run_at: float | None = None
    last_success_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    cycles: int = 0
    # Cycles failed in a row since the last one that succeeded; None from writers older than
    # the counter (watchdog.work then reads an error newer than the last success as one).
    failures: int | None = 0
    schema: int = SCHEMA

    def age(self, now: float) -> float:
        return now - self.beat_at

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["phase"] = self.phase.value
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Heartbeat:
        schema = get(d, "schema", int)
        if schema != SCHEMA:
            raise ValueError(f"unknown schema {schema}")
        phase = get(d, "phase", str)
        try:
            ph = Phase(phase)
        except ValueError:
            raise ValueError(f"unknown phase {phase!r}") from None
        wid = get(d, "wid", int, optional=True)
        return cls(
            name=get(d, "name", str),
            pid=get_pid(d),
            create_time=get(d, "create_time", float),
            beat_at=get(d, "beat_at", float),
            beat_s=get(d, "beat_s", float),
            phase=ph,
            home=get(d, "home", str, optional=True) or "",
            watcher=get(d, "watcher", str, optional=True) or "",
            wid=wid,
            started_at=get(d, "started_at", float, optional=True),
            done=get(d, "done", int, optional=True) or 0,
            total=get(d, "total", int, optional=True) or 0,
            detail=get(d, "detail", str, optional=True) or "",
            next_run_at=get(d, "next_run_at", float, optional=True),
            last_success_at=get(d, "last_success_at", float, optional=True),
            last_error=get(d, "last_error", str, optional=True),
            last_error_at=get(d, "last_error_at", float, optional=True),
            cycles=get(d, "cycles", int, optional=True) or 0,
            failures=get(d, "failures", int, optional=True),
        )


def write_heartbeat(path: Path, hb: Heartbeat) -> None:
    # The texts a daemon puts here come from errors of its own and of libraries: redacted.
    error = redact.error_line(hb.last_error) if hb.last_error is not None else None
    write_json_atomic(path, replace(hb, last_error=error, detail=redact.scrub(hb.detail)).to_json())


def read_heartbeat(path: Path) -> Heartbeat:
    """Raise FileNotFoundError when absent, ValueError (with a reason) when unreadable."""
    return Heartbeat.from_json(read_json_record(path))
