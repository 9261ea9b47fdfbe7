"""`python -m ecauto.dashboard`: serve the dashboard until SIGTERM or SIGINT (the `dashboard` watcher).

Address from `[dashboard]` in ecauto.toml (127.0.0.1:8780 unless the operator opts in to the
LAN). Exit codes: 0 stopped; 2 usage error; 69 cannot start; 75 this home's own dashboard runs
already (it holds the port); 78 bad configuration or unsafe home; 98 the port is taken by another
program.
"""

from __future__ import annotations

# Under Circus, stderr goes into the dashboard's own log before the heavy imports below can fail
# (see ecauto.daemon.early).
# ruff: noqa: E402
from ecauto.daemon import early

if __name__ == "__main__":
    early.log_to_file()

import errno
import logging
import socket
import sys

from ecauto import config, logsetup, redact
from ecauto.circusd import SETUP_CACHE, CircusError, read_ini
from ecauto.cliargs import Parser
from ecauto.home import Home
from ecauto.logsetup import fields
from ecauto.sandbox.port import taken

log = logging.getLogger("ecauto.dashboard")

EXIT_UNAVAILABLE, EXIT_CONFIG = 69, 78
LOOPBACK = ("127.0.0.1", "::1")


def main(argv: list[str] | None = None) -> int:
    p = Parser(prog="python -m ecauto.dashboard", description="The operator's web dashboard.")
    p.add_argument("--home", help="runtime home (default: $ECAUTO_HOME or ./var)")
    p.add_argument("--config", help="ecauto.toml (default: $ECAUTO_CONFIG or ./ecauto.toml)")
    p.add_argument("--ini", default="circus.ini", help="circus config (default: ./circus.ini)")
    p.add_argument("--port", type=int, help="overrides dashboard.port")
    p.add_argument("--wid", type=int, help="Circus's worker id (in the command line only)")
    args = p.parse_args(argv)
    logsetup.configure("dashboard")
    try:
        cfg = config.load(args.config)
        home = Home.resolve(args.home).check()
    except config.ConfigError as e:
        redact.complain(f"dashboard: {e}")
        return EXIT_CONFIG
    d = cfg.dashboard
    port = args.port if args.port is not None else d.port
    # Bound first, so a copy started by hand while this home's dashboard runs says so before
    # anything else (it has no lock: the port is its singleton), and a taken port is one line
    # (uvicorn would log a traceback).
    sock = _bind(d.listen, port)
    if isinstance(sock, OSError):
        if sock.errno == errno.EADDRINUSE:
            code, line = taken("dashboard", port, d.listen, home.root, cfg.ui.language)
            redact.complain(line)
            return code
        redact.complain(f"dashboard: cannot listen on {d.listen}:{port}: {sock}")
        return EXIT_UNAVAILABLE
    try:
        setup = read_ini(args.ini, cache=home.root / SETUP_CACHE)
    except CircusError as e:
        sock.close()
        redact.complain(f"dashboard: {e}")
        return EXIT_CONFIG
    import uvicorn

    from ecauto.dashboard import guard
    from ecauto.dashboard.app import Site, build
    from ecauto.dashboard.read import Reader

    try:
        secret = guard.load_secret(home.root)
    except OSError as e:
        sock.close()
        redact.complain(f"dashboard: cannot read or make its secret: {e}")
        return EXIT_CONFIG
    site = Site(home, cfg, setup.endpoint, port, d.listen not in LOOPBACK, secret)
    app = build(site, Reader(home, cfg, args.ini, config=args.config))
    log.info("dashboard listening %s", fields(url=f"http://{d.listen}:{port}/", home=home.root))
    server = uvicorn.Server(
        uvicorn.Config(app, log_config=None, log_level="warning", access_log=False, lifespan="off")
    )
    server.run(sockets=[sock])
    log.info("dashboard stopped")
    return 0


def _bind(host: str, port: int) -> socket.socket | OSError:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    if sys.platform != "win32":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        return e
    return sock


if __name__ == "__main__":
    raise SystemExit(main())
