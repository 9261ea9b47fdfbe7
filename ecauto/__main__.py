"""`python -m ecauto run|status|restart|stop|report` (see ecauto/launcher.py)."""

from ecauto.launcher import main

raise SystemExit(main())
