"""circusd as ecauto talks to it: the watchers `circus.ini` names, and a short-fused control client.

Circus 0.19 traps handled here: a call to a dead circusd blocks for the whole timeout (so the
timeout is short), and while any watcher is stopping every other command answers "arbiter is
already running" (so commands are retried, and `status == "error"` is always checked).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecauto.atomic import read_regular, write_json_atomic
from ecauto.backoff import compute_backoff
from ecauto.daemon.early import LOG_FILE_ENV

if TYPE_CHECKING:
    from ecauto.platform import Platform

BUSY = "arbiter is already running"
# What circus.ini said, kept in the home by `read_ini` (see there).
SETUP_CACHE = "circus/setup.json"


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


def read_ini(path: str | Path, cache: Path | None = None) -> CircusSetup:
    """Read the ini the way circusd will (same parser, same environment expansion).

    Circus's parser costs a tenth of a second of imports (tornado, asyncio), more than a whole
    `circusctl status`. With `cache` (a file in the instance's own checked home), what it read
    is kept there under a digest of everything its answer depends on: the ini's bytes, the
    environment values the ini names, and the code that parsed it. Any change to one of them,
    an ini that includes others, or an unreadable cache means circus's parser reads it again."""
    p = Path(path).resolve()
    if not p.is_file():
        raise CircusError(f"{p}: circus config not found")
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise CircusError(f"{p}: cannot read circus config: {e.strerror}") from None
    key = _digest(raw) if cache is not None else None
    if key is not None and cache is not None:
        kept = _cached(cache, key, p)
        if kept is not None:
            return kept
    setup = _parse(p)
    if key is not None and cache is not None and cache.parent.is_dir():
        try:
            write_json_atomic(cache, dict(_as_json(setup), key=key))
        except OSError:
            pass  # a cache: the next reader parses again
    return setup


def _parse(p: Path) -> CircusSetup:
    from circus.config import get_config  # circus is slow to import: only when needed
    from circus.util import parse_env_dict, replace_gnu_args

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


def home_endpoints(home: str, platform: Platform | None = None) -> dict[str, str]:
    """ECAUTO_ENDPOINT and ECAUTO_PUBSUB_ENDPOINT of the instance in `home`, as the launcher
    gives them to circusd (`ecauto.platform`: unix sockets in the owner-only home on POSIX,
    the loopback ports on Windows); none without a home."""
    if not home:
        return {}
    from ecauto.platform import current

    ends = (platform or current()).endpoints(Path(home), os.environ)
    return {"ECAUTO_ENDPOINT": ends.control, "ECAUTO_PUBSUB_ENDPOINT": ends.pubsub}


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


# Circus expands $(circus.env.NAME) and ((circus.env.NAME)) from the whole environment, names
# compared without case.
_ENV_NAME = re.compile(rb"circus\.env\.([A-Za-z0-9_]+)", re.IGNORECASE)
_INCLUDES = re.compile(rb"^\s*include(_dir)?\s*[=:]", re.IGNORECASE | re.MULTILINE)


def _digest(raw: bytes) -> str | None:
    """What circus's answer for this ini depends on, or None when it cannot be known cheaply."""
    if _INCLUDES.search(raw):
        return None  # other files' bytes count too: always parse
    names = {m.group(1).decode("ascii").lower() for m in _ENV_NAME.finditer(raw)}
    env = sorted((k, v) for k, v in os.environ.items() if k.lower() in names)
    h = hashlib.sha256(raw)
    h.update(json.dumps([env, _code_stamp()]).encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _code_stamp() -> list[object]:
    """This module and circus's config reader, as installed: a new version of either parses again."""
    spec = importlib.util.find_spec("circus")  # finds the package without importing it
    origin = spec.origin if spec is not None else None
    files = [Path(__file__)] + ([Path(origin).with_name("config.py")] if origin else [])
    stamp: list[object] = []
    for f in files:
        try:
            st = f.stat()
        except OSError:
            return [None]
        stamp += [str(f), st.st_size, st.st_mtime_ns]
    return stamp


def _as_json(setup: CircusSetup) -> dict[str, Any]:
    return {
        "path": str(setup.path),
        "endpoint": setup.endpoint,
        "pubsub_endpoint": setup.pubsub_endpoint,
        "logoutput": setup.logoutput,
        "watchers": [
            [w.name, w.cmdline, w.priority, w.singleton, w.log] for w in setup.watchers.values()
        ],
    }


def _cached(cache: Path, key: str, p: Path) -> CircusSetup | None:
    try:
        data = json.loads(read_regular(cache, 1024 * 1024))
        if data.get("key") != key or data.get("path") != str(p):
            return None
        watchers = {}
        for name, cmdline, priority, singleton, log in data["watchers"]:
            if not (
                isinstance(name, str)
                and isinstance(cmdline, str)
                and type(priority) is int
                and isinstance(singleton, bool)
                and isinstance(log, str)
            ):
                return None
            watchers[name] = WatcherSpec(name, cmdline, priority, singleton, log)
        texts = [data[k] for k in ("endpoint", "pubsub_endpoint", "logoutput")]
        if not all(isinstance(t, str) for t in texts):
            return None
        return CircusSetup(p, texts[0], watchers, texts[1], texts[2])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None  # absent, foreign, half-written or old: parse again


def request(
    endpoint: str, command: str, props: Mapping[str, Any], timeout_s: float
) -> dict[str, Any]:
    """One command to circusd and its answer (see `request_many`)."""
    return request_many(endpoint, [(command, props)], timeout_s)[0]


def request_many(
    endpoint: str, commands: Sequence[tuple[str, Mapping[str, Any]]], timeout_s: float
) -> list[dict[str, Any]]:
    """Commands to circusd and their answers, in order, as `circus.client.CircusClient` sends them.

    Circus's control protocol is a JSON object {"id", "command", "properties"} on a zmq DEALER
    socket; each answer carries its command's "id". Spoken here with pyzmq directly, because
    circus.client imports tornado and asyncio (about 60 ms) for what is a few lines, and a
    `watchdog report` must cost no more than a `circusctl status`. All commands go out at once
    (circusd answers them one after the other), so a look costs one round trip, not one per
    watcher. tests/test_circusd_client.py holds the answers to circus.client's own."""
    import zmq  # circus's own transport; only when circusd is asked something

    ids = [os.urandom(16).hex() for _ in commands]
    answers: dict[str, dict[str, Any]] = {}
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(endpoint)
        for call_id, (command, props) in zip(ids, commands, strict=True):
            message = {"command": command, "properties": dict(props), "id": call_id}
            sock.send(json.dumps(message).encode("utf-8"))
        deadline = time.monotonic() + timeout_s
        while len(answers) < len(ids):
            left = deadline - time.monotonic()
            if left <= 0 or not sock.poll(max(1, int(left * 1000))):
                raise CircusUnavailable(f"circusd does not answer at {endpoint} (timed out)")
            try:
                answer = json.loads(sock.recv())
            except ValueError:
                continue  # not circus's: wait for ours
            if isinstance(answer, dict) and answer.get("id") in ids:
                answers[answer["id"]] = answer
    except zmq.ZMQError as e:  # e.g. ipc:// on a Windows build of libzmq
        raise CircusUnavailable(f"circusd cannot be reached at {endpoint} ({e})") from None
    finally:
        sock.close()
    return [answers[i] for i in ids]


class Control:
    """Commands to circusd. Every call is bounded by `timeout_s` (times `tries` when busy)."""

    def __init__(self, endpoint: str, timeout_s: float = 1.0, tries: int = 5) -> None:
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self.tries = tries

    def call(self, command: str, **props: Any) -> dict[str, Any]:
        last = ""
        for attempt in range(self.tries):
            answer = request(self.endpoint, command, props, self.timeout_s)
            if answer.get("status") != "error":
                return answer
            last = str(answer.get("reason", "unknown error"))
            if BUSY not in last:
                break
            time.sleep(compute_backoff(attempt + 1, 0.2, 2.0))  # another watcher is stopping
        raise CircusError(f"circusd refused {command}: {last}")

    def call_many(self, commands: Sequence[tuple[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
        """Several commands in one round trip; each answer as `call` would give it, except that
        a refusal other than "busy" is returned (status "error"), not raised."""
        answers = request_many(self.endpoint, commands, self.timeout_s)
        for i, answer in enumerate(answers):
            if answer.get("status") == "error" and BUSY in str(answer.get("reason", "")):
                command, props = commands[i]
                answers[i] = self.call(command, **props)  # retried alone, as `call` does
        return answers

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
