"""An upload daemon that does not hear SIGTERM: `python tests/deaf_daemon.py <upload options>`.

The real `ecauto.daemons.upload`, except that SIGTERM is ignored instead of handled, as on
Windows, where Circus's SIGTERM is TerminateProcess and no handler runs. Under circusd it can
only stop gracefully through the stop request; a SIGTERM would not move it, and Circus would
SIGKILL it at the end of `graceful_timeout`.
"""

from __future__ import annotations

import signal

from ecauto.daemon import base
from ecauto.daemons import upload


def _deaf(self: base.Daemon) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


if __name__ == "__main__":
    base.Daemon._install_signals = _deaf  # type: ignore[method-assign]  # the one change
    raise SystemExit(upload.main())
