"""A daemon's own log file, written and rotated by the daemon itself (see ecauto.logsetup).

Apart from logsetup so that commands that log to stderr (`watchdog report`) never import
logging.handlers (and with it socket, pickle and queue).
"""

from __future__ import annotations

import io
import logging.handlers
import os

from ecauto.daemon import early


class OwnLog(logging.handlers.RotatingFileHandler):
    """The daemon's own log file, rotated by the daemon itself: one writer per file.

    fds 1 and 2 always point at the current file (`early.point_stdio_at`), so a traceback the
    interpreter prints, or a line `redact.complain` writes, lands beside the events and moves
    with them at each rotation. On Windows they point at the null device during the renames,
    since it cannot rename a file that any handle holds open; on POSIX a line written meanwhile
    goes to the file just renamed, not nowhere."""

    closed_during_renames = os.name == "nt"

    def _open(self) -> io.TextIOWrapper:
        fd = early.open_log(self.baseFilename)
        stream = open(fd, "a", encoding=self.encoding, errors=self.errors)  # noqa: SIM115
        early.point_stdio_at(stream.fileno())
        return stream

    def doRollover(self) -> None:  # noqa: N802 - logging's name
        if self.closed_during_renames:
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                early.point_stdio_at(null)
            finally:
                os.close(null)
        try:
            super().doRollover()
        finally:
            if self.stream is None:  # a rename refused (a reader holds it on Windows): go on
                self.stream = self._open()
