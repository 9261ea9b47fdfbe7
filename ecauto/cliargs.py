"""argparse, with a bad argument reported in one line (not usage text) and exit code 2."""

from __future__ import annotations

import argparse
from typing import NoReturn

from ecauto import redact


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        redact.complain(f"{self.prog}: {message} (see --help)")  # it quotes what was typed
        raise SystemExit(2)


# The longest interval a daemon's cycle or heartbeat may have (see the config's ranges).
MAX_SECONDS = 7 * 24 * 3600.0


def seconds(s: str) -> float:
    """An argparse type: a finite number of seconds, greater than 0 and at most a week."""
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {s!r}") from None
    if not 0 < v <= MAX_SECONDS:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(
            f"expected a number of seconds greater than 0 and at most {MAX_SECONDS:.0f}, got {s!r}"
        )
    return v
