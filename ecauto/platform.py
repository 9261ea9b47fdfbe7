"""What differs between POSIX and Windows when ecauto starts circusd, behind one small seam.

The launcher asks a Platform three things: circusd's endpoints, to close the home to other
users, and to start circusd; everything else is the same code everywhere. A Platform runs
programs only through its `Commands`, so a test on Linux can drive the Windows branch and see
the exact commands it would run (the icacls argv, the creation flags).

Why the two differ (../shared/CIRCUS_NOTES.md, "Windows"): pyzmq's Windows wheels have no ipc,
so circusd listens on 127.0.0.1 TCP there; `umask`, `chmod` and `mkdir(mode)` only set the
read-only bit, so privacy is an ACL; there is no fork, so `circusd --daemon` raises and a
detached process is made with creation flags instead.
"""

from __future__ import annotations

import csv
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ecauto.config import ConfigError
from ecauto.home import HomeError

# Win32 process creation flags (subprocess defines them only on Windows).
CREATE_NEW_PROCESS_GROUP = 0x00000200
CREATE_NO_WINDOW = 0x08000000

# Circus's own default control port: `circusctl status` typed with no endpoint reaches it.
DEFAULT_PORT = 5555
PORT_VARIABLE = "ECAUTO_CIRCUS_PORT"


@dataclass(frozen=True)
class Endpoints:
    control: str
    pubsub: str


class Commands:
    """Programs as the OS runs them. A test passes its own to record what would run."""

    def run(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=False)

    def popen(self, argv: Sequence[str], **kw: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen(list(argv), **kw)


class Platform(Protocol):
    name: str
    shim: str  # how the operator types the daily commands from the repository root
    transports: tuple[str, ...]  # the zmq endpoints that work here

    def endpoints(self, home: Path, environ: Mapping[str, str]) -> Endpoints: ...

    def protect(self, home: Path) -> None:
        """Close the (existing, checked) home to everyone but this user; HomeError if it can't."""

    def start(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: Path, *, detach: bool
    ) -> subprocess.Popen[bytes] | None:
        """Start circusd (`argv`): its process, or None once it has detached itself."""


def _quiet() -> dict[str, Any]:
    return {
        "stdin": subprocess.DEVNULL,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
    }


class Posix:
    name = "posix"
    shim = "./ecauto.sh"
    transports: tuple[str, ...] = ("ipc://", "tcp://")

    def __init__(self, commands: Commands | None = None) -> None:
        self.commands = commands or Commands()

    def endpoints(self, home: Path, environ: Mapping[str, str]) -> Endpoints:
        # Unix sockets in the owner-only home: only its owner can reach them (Circus has no
        # authentication; whoever reaches the endpoint runs commands as the operator).
        return Endpoints(f"ipc://{home}/circus/ctl.sock", f"ipc://{home}/circus/pub.sock")

    def protect(self, home: Path) -> None:
        return None  # Home.ensure has set the modes, and the launcher's umask keeps them

    def start(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: Path, *, detach: bool
    ) -> subprocess.Popen[bytes] | None:
        if detach:
            # circusd forks and its first process exits 0 at once, whatever happens next.
            p = self.commands.popen([*argv, "--daemon"], env=dict(env), cwd=cwd, **_quiet())
            p.wait()
            return None
        # A session of its own: a Ctrl-C at the terminal reaches the launcher only, which asks
        # circusd to quit once (two SIGINTs would make circusd stop twice over).
        return self.commands.popen(
            list(argv), env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL, start_new_session=True
        )


class Windows:
    name = "windows"
    shim = r".\ecauto.cmd"
    transports: tuple[str, ...] = ("tcp://",)  # pyzmq's Windows wheels are built without ipc

    def __init__(self, commands: Commands | None = None) -> None:
        self.commands = commands or Commands()

    def endpoints(self, home: Path, environ: Mapping[str, str]) -> Endpoints:
        raw = environ.get(PORT_VARIABLE, "").strip() or str(DEFAULT_PORT)
        try:
            port = int(raw)
        except ValueError:
            port = 0
        if not 1024 <= port <= 65534:
            raise ConfigError(
                f"{PORT_VARIABLE}={raw!r}: expected a port from 1024 to 65534 "
                f"(circusd takes it and the next one)"
            )
        # Loopback only; any local user can still reach it (README: "Windows: the endpoint").
        return Endpoints(f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{port + 1}")

    def user_sid(self) -> str:
        """This user's SID: locale-proof, unlike the account name (`whoami` is in every Windows)."""
        res = self.commands.run(["whoami", "/user", "/fo", "csv", "/nh"])
        rows = list(csv.reader(res.stdout.splitlines())) if res.returncode == 0 else []
        sid = rows[0][-1].strip() if rows and rows[0] else ""
        if not sid.startswith("S-"):
            raise HomeError(f"cannot tell this user's SID (whoami said {res.stdout.strip()!r})")
        return sid

    def protect(self, home: Path) -> None:
        # Inherited entries go (a home under C:\ inherits "Authenticated Users: Modify"); this
        # user gets full control, inherited by every folder and file made in the home later.
        argv = ["icacls", str(home), "/inheritance:r", "/grant:r", f"*{self.user_sid()}:(OI)(CI)F"]
        res = self.commands.run(argv)
        if res.returncode != 0:
            said = (res.stderr or res.stdout).strip().splitlines()
            raise HomeError(
                f"cannot make {home} private to this user with icacls: "
                f"{said[-1] if said else f'exit {res.returncode}'}"
            )

    def start(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: Path, *, detach: bool
    ) -> subprocess.Popen[bytes] | None:
        # A process group of its own, so a Ctrl-C at the operator's console is not circusd's.
        # CREATE_NO_WINDOW rather than DETACHED_PROCESS: circusd keeps a console without a
        # window, which the daemons inherit; a detached circusd would give each daemon it
        # starts a console window of its own.
        flags = CREATE_NEW_PROCESS_GROUP | (CREATE_NO_WINDOW if detach else 0)
        extra = _quiet() if detach else {"stdin": subprocess.DEVNULL}
        return self.commands.popen(
            list(argv), env=dict(env), cwd=cwd, creationflags=flags, close_fds=True, **extra
        )


def current(commands: Commands | None = None) -> Platform:
    return Windows(commands) if os.name == "nt" else Posix(commands)
