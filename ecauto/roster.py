"""The instance's daemons, in one place: their names, watchers and how their command lines look.

Everything that needs to know "which daemons are there" reads this roster: the config's per-daemon
watchdog settings, the watchdog's identification of command lines, its heartbeat checks and its
report. Adding a daemon takes one module on the daemon base (`ecauto.daemon.base`), one entry here
and its watcher in circus.ini.
"""

from __future__ import annotations

from ecauto.frozen import frozen


@frozen
class Entry:
    name: str  # the daemon's name: its heartbeat, lock and log are named after it
    watcher: str  # its watcher in circus.ini
    module: str  # it runs as `python -m <module>` ...
    script: str  # ... or as that module's file, whose path ends like this
    # Console scripts that start it (`/venv/bin/watchdog run`), compared by file name.
    consoles: tuple[str, ...] = ()
    # An option that tells which daemon a shared module runs (`--platform base`), or None.
    option: tuple[str, str] | None = None
    command: str | None = None  # a first argument it needs (`watchdog run`, not `watchdog scan`)
    beats: bool = True  # keeps a heartbeat and a singleton lock (the sandbox keeps neither)
    sandbox_only: bool = False  # stopped on purpose in live mode


def _upload(platform: str) -> Entry:
    return Entry(
        f"upload-{platform}",
        f"upload-{platform}",
        "ecauto.daemons.upload",
        "ecauto/daemons/upload.py",
        option=("--platform", platform),
    )


ROSTER: tuple[Entry, ...] = (
    Entry(
        "sandbox",
        "sandbox",
        "ecauto.sandbox",
        "ecauto/sandbox/__main__.py",
        beats=False,
        sandbox_only=True,
    ),
    _upload("base"),
    _upload("ebay"),
    _upload("yahoo"),
    Entry("sync-inventory", "sync-inventory", "ecauto.daemons.sync", "ecauto/daemons/sync.py"),
    # The web page (ecauto/dashboard): supervised by its watcher's status, as the sandbox.
    Entry(
        "dashboard", "dashboard", "ecauto.dashboard", "ecauto/dashboard/__main__.py", beats=False
    ),
    Entry(
        "watchdog",
        "watchdog",
        "watchdog",
        "watchdog/__main__.py",
        consoles=("watchdog", "watchdog.exe", "watchdog-script.py"),
        command="run",
    ),
)

NAMES: tuple[str, ...] = tuple(e.name for e in ROSTER)
BY_NAME: dict[str, Entry] = {e.name: e for e in ROSTER}
# The daemons whose heartbeat (and lock) the watchdog checks.
BEATING: frozenset[str] = frozenset(e.name for e in ROSTER if e.beats)


def wanted(name: str, mode: str) -> bool:
    """Whether the daemon (or watcher) `name` should run in `mode` ("sandbox" or "live")."""
    return not any(e.sandbox_only and name in (e.name, e.watcher) for e in ROSTER) or (
        mode != "live"
    )
