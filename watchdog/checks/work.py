"""The truth about the work: a daemon whose cycles keep failing, a database that fails its
check (`watchdog.work`, shared with the report). Reads the view alone."""

from __future__ import annotations

from .. import work
from .step import Pass, Step
from .view import View


def check_work(v: View, p: Pass) -> Step:
    return Step.saying(work.check(v.snap, v.now))
