"""The sandbox's port held by another program (`watchdog.sandbox_port`). Reads the view alone."""

from __future__ import annotations

from .. import sandbox_port
from .step import Pass, Step
from .view import View


def check_sandbox_port(v: View, p: Pass) -> Step:
    return Step.saying(sandbox_port.check(v.snap.sandbox_port, v.snap.mode))
