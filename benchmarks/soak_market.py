"""The soak's marketplaces and Chatwork: the real sandbox, in a process of its own, outside circusd.

    python benchmarks/soak_market.py --config ecauto.toml --home DIR --holdings-port-file FILE

Why outside circusd: the sandbox stands in for BASE, eBay, Yahoo and Chatwork, which do not die
with our circusd. Under circusd it would be one of the orphans a killed circusd leaves, ended by
the watchdog and started again with empty shelves, and "listed twice" or "lost" could no longer
be seen. Its home is its own folder, so the watchdog never takes it for one of the instance's.

Besides the sandbox's own port (from the config), a second loopback port answers one read-only
question the sandbox's API cannot answer without spending quota: `GET /holdings`, the SKUs each
platform holds right now ({"base": [...], "ebay": [...], "yahoo": [...]}; a SKU listed twice
appears twice). Its port is written to --holdings-port-file once both servers listen.

Exit codes: 0 stopped by SIGTERM/SIGINT; 69 cannot start; 78 bad configuration.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ecauto import config, logsetup  # noqa: E402
from ecauto.sandbox.app import Sandbox  # noqa: E402
from ecauto.sandbox.server import SandboxServer  # noqa: E402

log = logging.getLogger("soak.market")


def holdings(sandbox: Sandbox) -> dict[str, list[str]]:
    """What each platform of `sandbox` holds, read under the platforms' own locks.

    The sandbox keeps its shelves private (it is a test double with no listing API beyond the
    platforms' own, which cost quota); this benchmark helper reads them, and only reads.
    """
    base, ebay, yahoo = sandbox.base, sandbox.ebay, sandbox.yahoo
    # BASE: items with an identifier; eBay: one entry per published offer; Yahoo: what
    # reservePublish made visible.
    return {"base": base.listed_skus(), "ebay": ebay.listed_skus(), "yahoo": yahoo.listed_codes()}


def _holdings_server(sandbox: Sandbox) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/holdings":
                self.send_error(404)
                return
            data = json.dumps(holdings(sandbox)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="soak_market", description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True)
    p.add_argument("--home", required=True)
    p.add_argument("--holdings-port-file", required=True)
    p.add_argument("--key-file", help="the instance's sandbox key (default: HOME/secrets/...)")
    args = p.parse_args(argv)
    try:
        settings = config.load(args.config).sandbox
    except config.ConfigError as e:
        print(f"soak_market: {e}", file=sys.stderr)
        return 78
    logsetup.configure("soak-market")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    key_file = Path(args.key_file) if args.key_file else None
    server = SandboxServer(settings, Path(args.home), key_file=key_file)
    try:
        server.start()
    except OSError as e:
        print(f"soak_market: cannot start: {e}", file=sys.stderr)
        return 69
    side = _holdings_server(server.sandbox)
    threading.Thread(target=side.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    try:
        port_file = Path(args.holdings_port_file)
        tmp = port_file.with_name(f".{port_file.name}.tmp")
        tmp.write_text(f"{side.server_address[1]}\n")
        os.replace(tmp, port_file)
        log.info(
            "soak market listening url=%s holdings_port=%s", server.url, side.server_address[1]
        )
        while not stop.wait(0.2) and server.alive():
            pass
    finally:
        side.shutdown()
        side.server_close()
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
