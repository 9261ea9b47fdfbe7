"""`python -m watchdog`: the same as the `watchdog` command."""

# Under Circus (`watchdog run`), stderr goes into the watchdog's own log before the imports of
# the command can fail (see ecauto.daemon.early).
# ruff: noqa: E402
from ecauto.daemon import early

early.log_to_file()

from watchdog.cli import main

raise SystemExit(main())
