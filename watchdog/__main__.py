"""`python -m watchdog`: the same as the `watchdog` command."""

from watchdog.cli import main

raise SystemExit(main())
