"""Circus as ecauto sees it: the watchers `circus.ini` names, and a short-fused control client.

Circus 0.19 traps handled here: a call to a dead circusd blocks for the whole timeout (so the
timeout is short), and while any watcher is stopping every other command answers "arbiter is
already running" (so commands are retried, and `status == "error"` is always checked).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecauto.backoff import compute_backoff
from ecauto.cliargs import Parser

BUSY = "arbiter is already running"


class CircusError(Exception):
    """circusd said no, or did not answer; the message is one line for a person."""


class CircusUnavailable(CircusError):
    """No circusd answered at the endpoint within the timeout."""


@dataclass(frozen=True)
class WatcherSpec:
    name: str
    cmdline: str  # cmd and args as circusd will run them, `$(circus.wid)` still unexpanded
    priority: int
    singleton: bool


@dataclass(frozen=True)
class CircusSetup:
    path: Path
    endpoint: str
    watchers: dict[str, WatcherSpec]


def read_ini(path: str | Path) -> CircusSetup:
    """Read the ini the way circusd will (same parser, same environment expansion)."""
    from circus.config import get_config  # circus is slow to import: only when needed

    p = Path(path).resolve()
    if not p.is_file():
        raise CircusError(f"{p}: circus config not found")
    try:
        cfg = get_config(str(p))
    except Exception as e:  # circus raises bare Exceptions and configparser errors alike
        raise CircusError(f"{p}: cannot read circus config: {e}") from None
    watchers = {}
    for w in cfg.get("watchers", []):
        line = " ".join(x for x in (w.get("cmd", ""), w.get("args", "") or "") if x)
        watchers[w["name"]] = WatcherSpec(
            w["name"],
            line,
            int(w.get("priority", 0)),
            str(w.get("singleton", "")).lower() in ("true", "1"),
        )
    return CircusSetup(p, cfg["endpoint"], watchers)


class Control:
    """Commands to circusd. Every call is bounded by `timeout_s` (times `tries` when busy)."""

    def __init__(self, endpoint: str, timeout_s: float = 1.0, tries: int = 5) -> None:
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self.tries = tries

    def call(self, command: str, **props: Any) -> dict[str, Any]:
        from circus.client import CircusClient, make_message
        from circus.exc import CallError

        last = ""
        for attempt in range(self.tries):
            client = CircusClient(endpoint=self.endpoint, timeout=self.timeout_s)
            try:
                answer = client.call(make_message(command, **props))
            except CallError as e:
                raise CircusUnavailable(
                    f"circusd does not answer at {self.endpoint} ({e})"
                ) from None
            finally:
                client.stop()
            if not isinstance(answer, dict):
                raise CircusError(f"circusd gave an odd answer to {command}: {answer!r}")
            if answer.get("status") != "error":
                return answer
            last = str(answer.get("reason", "unknown error"))
            if BUSY not in last:
                break
            time.sleep(compute_backoff(attempt + 1, 0.2, 2.0))  # another watcher is stopping
        raise CircusError(f"circusd refused {command}: {last}")

    def ping(self) -> bool:
        try:
            self.call("list")
        except CircusUnavailable:
            return False
        return True

    def statuses(self) -> dict[str, str]:
        return dict(self.call("status").get("statuses", {}))

    def pids(self, watcher: str) -> list[int]:
        return [int(p) for p in self.call("list", name=watcher).get("pids", [])]

    def circusd_pid(self) -> int | None:
        # `dstats` answers with circusd's own process info, without a stats endpoint.
        info = self.call("dstats").get("info", {})
        pid = info.get("pid") if isinstance(info, dict) else None
        return int(pid) if isinstance(pid, int) else None

    def restart(self, watcher: str) -> None:
        self.call("restart", name=watcher, waiting=True)

    def stop(self, watcher: str) -> None:
        self.call("stop", name=watcher, waiting=True)

    def quit(self) -> None:
        self.call("quit", waiting=False)


def preflight(setup: CircusSetup) -> str | None:
    """Why circusd must not be started now, or None."""
    ctl = Control(setup.endpoint, timeout_s=1.0, tries=1)
    if ctl.ping():
        return (
            f"already running: a circusd answers at {setup.endpoint}. "
            f"Use `circusctl status`, or stop it first with `circusctl quit`."
        )
    return None


def wait_started(setup: CircusSetup, timeout_s: float) -> str | None:
    """After `circusd --daemon`: None once circusd runs every watcher the ini names."""
    ctl = Control(setup.endpoint, timeout_s=1.0, tries=3)
    deadline = time.monotonic() + timeout_s
    missing: list[str] = sorted(setup.watchers)
    answered = False
    while time.monotonic() < deadline:
        try:
            running = set(ctl.statuses())
            answered = True
        except CircusError:
            time.sleep(0.2)
            continue
        missing = sorted(set(setup.watchers) - running)
        if not missing:
            return None
        time.sleep(0.2)
    if not answered:
        return (
            f"circusd did not come up at {setup.endpoint} within {timeout_s:g}s; "
            f"see its log (logoutput in {setup.path.name})"
        )
    return (
        f"circusd runs without watcher(s) {', '.join(missing)} named in {setup.path.name}: "
        f"a hook or stream option it could not load drops a watcher silently"
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = Parser(prog="ecauto.supervisor", description="Checks around starting circusd.")
    p.add_argument("check", choices=("preflight", "started"))
    p.add_argument("ini", nargs="?", default="circus.ini")
    p.add_argument("--timeout", type=float, default=30.0)
    args = p.parse_args(argv)
    try:
        setup = read_ini(args.ini)
        problem = (
            preflight(setup) if args.check == "preflight" else wait_started(setup, args.timeout)
        )
    except CircusError as e:
        problem = str(e)
    if problem:
        print(f"ecauto: {problem}", file=sys.stderr)
        return 1
    if args.check == "started":
        print(f"ecauto: circusd is running {len(setup.watchers)} watchers at {setup.endpoint}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
