"""Who holds a local TCP port, as far as this user can see (for one clear line when it is taken)."""

from __future__ import annotations

import psutil


def holder(port: int) -> str:
    """'pid N (name)' of the process listening on `port`, or "" when it cannot be seen.

    Another user's socket shows without its pid unless we are root: then the line says less."""
    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        return ""
    for c in conns:
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
            try:
                name = psutil.Process(c.pid).name()
            except psutil.Error:
                return f"pid {c.pid}"
            return f"pid {c.pid} ({name})"
    return ""
