"""Is the sandbox's port held by this instance's sandbox? One loopback challenge a pass.

The incident behind it: another local user took the sandbox's port first; the sandbox then
crash-looped on "address already in use" while everything looked as if it ran, and the daemons
talked to the stranger. `look` asks whoever listens on the configured port to prove it holds
the instance's key (ecauto.sandbox.key; the key never goes over the wire); `check` turns a
stranger there into one critical finding. Nothing listening is not this check's business (the
sandbox watcher's state says that), and neither is a slow answer (a busy sandbox is not a thief).
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from ecauto.sandbox.key import read_key

from .findings import Do, Finding, Kind, Severity
from .snapshot import PortView


def look(sandbox_url: str, key_file: Path, timeout_s: float) -> PortView | None:
    """None when there is nothing to say (no key yet: the sandbox never started in this home)."""
    port = urllib.parse.urlsplit(sandbox_url).port or 80
    try:
        key = read_key(key_file)
    except OSError:
        return None
    from ecauto.clients.sandbox_check import challenge  # sandbox mode only

    proof = challenge(sandbox_url, key, timeout_s)
    if proof.ours or not proof.answered:
        return PortView(port, False)
    from ecauto.sandbox.port import holder  # psutil's connection table: only for a stranger

    return PortView(port, True, holder(port), proof.why)


def check(view: PortView | None, mode: str) -> list[Finding]:
    if mode != "sandbox" or view is None or not view.stranger:
        return []
    who = f" ({view.holder})" if view.holder else " (its pid is not visible to this user)"
    summary = (
        f"the sandbox's port {view.port} is taken by another program{who}: the daemons refuse "
        "to talk to it; free the port or change sandbox.port"
    )
    return [
        Finding(
            kind=Kind.SANDBOX_PORT,
            severity=Severity.CRITICAL,
            daemon="sandbox",
            summary=summary,
            action=Do.ALERT,
            details={"why": view.why},
            say=("sandbox_port",),
            params={"port": str(view.port)},
        )
    ]
