"""circusd as ecauto talks to it: the watchers `circus.ini` names, and a short-fused control client.

Circus 0.19 traps handled here: a call to a dead circusd blocks for the whole timeout (so the
timeout is short), and while any watcher is stopping every other command answers "arbiter is
already running" (so commands are retried, and `status == "error"` is always checked).
"""

from __future__ import annotations

import os
import re
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecauto.backoff import compute_backoff
from ecauto.daemon.early import LOG_FILE_ENV

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
    log: str = ""  # the daemon's own log ($ECAUTO_LOG_FILE): where its one-line reason goes


@dataclass(frozen=True)
class CircusSetup:
    path: Path
    endpoint: str
    watchers: dict[str, WatcherSpec]
    pubsub_endpoint: str = ""
    logoutput: str = ""  # circusd's own log


def read_ini(path: str | Path) -> CircusSetup:
    """Read the ini the way circusd will (same parser, same environment expansion)."""
    from circus.config import get_config  # circus is slow to import: only when needed
    from circus.util import parse_env_dict, replace_gnu_args

    p = Path(path).resolve()
    if not p.is_file():
        raise CircusError(f"{p}: circus config not found")
    try:
        cfg = get_config(str(p))
    except Exception as e:  # circus raises bare Exceptions and configparser errors alike
        raise CircusError(f"{p}: cannot read circus config: {e}") from None
    # Circus has no default for $(circus.env.X). A reader outside circusd (`watchdog scan` from
    # a timer, say) knows the home only: on POSIX the endpoints follow from it.
    defaults = home_endpoints(os.environ.get("ECAUTO_HOME", ""))
    ends = {}
    for key in ("endpoint", "pubsub_endpoint"):
        ends[key] = replace_gnu_args(str(cfg.get(key) or ""), env=defaults)
        unset = re.search(r"\$\(circus\.env\.(\w+)\)", ends[key])
        if unset:
            raise CircusError(
                f"{p}: {key} needs ${unset.group(1).upper()}, which is not set "
                f"(the launcher, scripts/run, sets it)"
            )
    watchers = {}
    for w in cfg.get("watchers", []):
        line = " ".join(x for x in (w.get("cmd", ""), w.get("args", "") or "") if x)
        # $NAME in an env value is expanded when circusd makes the watcher, not by get_config.
        try:
            log = parse_env_dict({"log": str((w.get("env") or {}).get(LOG_FILE_ENV, ""))})["log"]
        except TypeError:  # a $NAME that is not set: circusd cannot make this watcher either
            log = ""
        watchers[w["name"]] = WatcherSpec(
            w["name"],
            line,
            int(w.get("priority", 0)),
            str(w.get("singleton", "")).lower() in ("true", "1"),
            log,
        )
    return CircusSetup(
        p,
        ends["endpoint"],
        watchers,
        ends["pubsub_endpoint"],
        str(cfg.get("logoutput") or ""),
    )


def home_endpoints(home: str, windows: bool = os.name == "nt") -> dict[str, str]:
    """ECAUTO_ENDPOINT and ECAUTO_PUBSUB_ENDPOINT of the instance in `home`: unix sockets in the
    owner-only home on POSIX. None on Windows (pyzmq has no ipc there; the TCP ports are the
    launcher's to choose), nor without a home."""
    if windows or not home:
        return {}
    return {
        "ECAUTO_ENDPOINT": f"ipc://{home}/circus/ctl.sock",
        "ECAUTO_PUBSUB_ENDPOINT": f"ipc://{home}/circus/pub.sock",
    }


def python_word(path: str, windows: bool = os.name == "nt") -> str:
    """`path` written so that Circus reads it back as one word of a watcher's `cmd`: circus.ini's
    `cmd = $(circus.env.ECAUTO_PYTHON)`. Circus splits cmd with shell rules on POSIX (so the
    path is shell-quoted when it needs it) but keeps quotes inside the word on Windows, where a
    path with a space therefore cannot be written at all (CircusError, one line)."""
    if not windows:
        return shlex.quote(path)
    if any(c.isspace() or c == '"' for c in path):
        raise CircusError(
            f"the interpreter {path} has a space in its path, which Circus cannot run on "
            f"Windows: make the venv in a folder without spaces"
        )
    return path


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
