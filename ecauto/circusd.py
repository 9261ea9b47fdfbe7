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
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecauto.atomic import read_regular, write_json_atomic
from ecauto.backoff import compute_backoff
from ecauto.daemon.early import LOG_FILE_ENV
from ecauto.frozen import frozen

if TYPE_CHECKING:
    from ecauto.platform import Platform

BUSY = "arbiter is already running"
# What circus.ini said, kept in the home by `read_ini` (see there).
SETUP_CACHE = "circus/setup.json"


class CircusError(Exception):
    """circusd said no, or did not answer; the message is one line for a person."""


class CircusUnavailable(CircusError):
    """No circusd answered at the endpoint within the timeout."""


@frozen
class WatcherSpec:
    name: str
    cmdline: str  # cmd and args as circusd will run them, `$(circus.wid)` still unexpanded
    priority: int
    singleton: bool
    log: str = ""  # the daemon's own log ($ECAUTO_LOG_FILE): where its one-line reason goes


@frozen
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

    Circus's control protocol is a JSON object {"id", "command", "properties"} sent by a zmq
    DEALER socket to circusd's ROUTER; each answer carries its command's "id". All commands go
    out at once (circusd answers them one after the other), so a look costs one round trip, not
    one per watcher. Spoken without circus.client, which imports tornado and asyncio (about
    60 ms), and on an ipc:// or tcp:// endpoint without pyzmq either (`_Zmtp`: ZMTP 3, the
    wire protocol of every libzmq since 4.0, is a greeting, one READY each way and
    length-prefixed frames; pyzmq's import is a tenth of a `watchdog report`, which must cost
    no more than a `circusctl status`). pyzmq stays for any other endpoint and for a peer that
    does not greet in ZMTP 3. tests/test_circusd_client.py holds both to circus.client's answers."""
    ids = [os.urandom(16).hex() for _ in commands]
    messages = [
        json.dumps({"command": c, "properties": dict(props), "id": i}).encode("utf-8")
        for i, (c, props) in zip(ids, commands, strict=True)
    ]
    deadline = time.monotonic() + timeout_s
    address = _plain_address(endpoint)
    if address is not None:
        try:
            with _Zmtp(address, deadline) as wire:
                wire.send(messages)
                return _answers(ids, wire.receive, endpoint, deadline)
        except _NotZmtp3:
            pass  # nothing was sent: pyzmq may speak what this peer speaks
        except TimeoutError:
            raise CircusUnavailable(f"circusd does not answer at {endpoint} (timed out)") from None
        except OSError as e:
            why = e.strerror or type(e).__name__
            raise CircusUnavailable(f"circusd does not answer at {endpoint} ({why})") from None
    return _request_zmq(endpoint, ids, messages, deadline)


def _answers(
    ids: list[str], receive: Callable[[float], bytes | None], endpoint: str, deadline: float
) -> list[dict[str, Any]]:
    """Each id's answer, from what `receive(seconds_left)` gives (None: nothing in time)."""
    answers: dict[str, dict[str, Any]] = {}
    while len(answers) < len(ids):
        left = deadline - time.monotonic()
        raw = receive(left) if left > 0 else None
        if raw is None:
            raise CircusUnavailable(f"circusd does not answer at {endpoint} (timed out)")
        try:
            answer = json.loads(raw)
        except ValueError:
            continue  # not circus's: wait for ours
        if isinstance(answer, dict) and answer.get("id") in ids:
            answers[answer["id"]] = answer
    return [answers[i] for i in ids]


def _request_zmq(
    endpoint: str, ids: list[str], messages: list[bytes], deadline: float
) -> list[dict[str, Any]]:
    import zmq  # circus's own transport, for what _Zmtp does not speak

    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)

    def receive(left: float) -> bytes | None:
        return sock.recv() if sock.poll(max(1, int(left * 1000))) else None

    try:
        sock.connect(endpoint)
        for message in messages:
            sock.send(message)
        return _answers(ids, receive, endpoint, deadline)
    except zmq.ZMQError as e:  # e.g. ipc:// on a Windows build of libzmq
        raise CircusUnavailable(f"circusd cannot be reached at {endpoint} ({e})") from None
    finally:
        sock.close()


def _plain_address(endpoint: str) -> tuple[int, Any] | None:
    """(socket family, address) of an ipc:// or tcp:// endpoint; None for any other."""
    if endpoint.startswith("ipc://") and hasattr(socket, "AF_UNIX"):
        return socket.AF_UNIX, endpoint[len("ipc://") :]
    if endpoint.startswith("tcp://"):
        host, _, port = endpoint[len("tcp://") :].rpartition(":")
        if host and port.isdigit() and host != "*":
            host = host.strip("[]")
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            return family, (host, int(port))
    return None


class _NotZmtp3(Exception):
    """The peer does not greet in ZMTP 3 with the NULL mechanism (nothing was sent yet)."""


# ZMTP 3.0 (rfc.zeromq.org/spec/23): signature, version 3.0, mechanism NULL, as-server 0.
_GREETING = b"\xff" + b"\0" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\0") + b"\0" * 32
_MORE, _LONG, _COMMAND = 1, 2, 4
_MAX_FRAME = 64 * 1024 * 1024  # circusd's answers are kilobytes; more is not circusd


def _frame(body: bytes, flags: int = 0) -> bytes:
    if len(body) > 255:
        return bytes([flags | _LONG]) + len(body).to_bytes(8, "big") + body
    return bytes([flags, len(body)]) + body


def _ready(socket_type: bytes) -> bytes:
    prop = b"Socket-Type"
    body = b"\x05READY" + bytes([len(prop)]) + prop + len(socket_type).to_bytes(4, "big")
    return _frame(body + socket_type, _COMMAND)


class _Zmtp:
    """A DEALER's side of one ZMTP 3 connection, within one deadline."""

    def __init__(self, address: tuple[int, Any], deadline: float) -> None:
        family, where = address
        self._deadline = deadline
        self._buf = b""
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            self._sock.settimeout(max(0.001, deadline - time.monotonic()))
            self._sock.connect(where)
            self._sock.sendall(_GREETING)
            peer = self._read(64)
            if peer[0] != 0xFF or peer[9] != 0x7F or peer[10] < 3:
                raise _NotZmtp3()
            if peer[12:32].rstrip(b"\0") != b"NULL":
                raise _NotZmtp3()
        except BaseException:
            self._sock.close()
            raise

    def __enter__(self) -> _Zmtp:
        return self

    def __exit__(self, *exc: object) -> None:
        self._sock.close()

    def send(self, messages: Sequence[bytes]) -> None:
        self._sock.sendall(_ready(b"DEALER") + b"".join(_frame(m) for m in messages))

    def receive(self, left: float) -> bytes | None:
        """The next frame of a message (the peer's commands, its READY first, are skipped)."""
        while True:
            try:
                flags = self._read(1, left)[0]
                size = self._read(8 if flags & _LONG else 1, left)
                n = int.from_bytes(size, "big")
                if n > _MAX_FRAME:
                    raise ConnectionError("a frame larger than circusd sends")
                body = self._read(n, left)
            except TimeoutError:
                return None
            if flags & _COMMAND:
                if body[:6] == b"\x05ERROR":
                    raise ConnectionError(f"circusd refused the connection: {body[7:]!r}")
                continue
            return body

    def _read(self, n: int, left: float | None = None) -> bytes:
        deadline = self._deadline if left is None else min(self._deadline, time.monotonic() + left)
        while len(self._buf) < n:
            wait = deadline - time.monotonic()
            if wait <= 0:
                raise TimeoutError("timed out")
            self._sock.settimeout(wait)
            chunk = self._sock.recv(max(65536, n - len(self._buf)))
            if not chunk:
                raise ConnectionResetError("circusd closed the connection")
            self._buf += chunk
        out, self._buf = self._buf[:n], self._buf[n:]
        return out


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
