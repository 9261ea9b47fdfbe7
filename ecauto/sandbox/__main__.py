"""`python -m ecauto.sandbox`: run the local marketplace sandbox until SIGTERM or SIGINT.

Settings come from the [sandbox] table of ecauto.toml; each flag overrides its key.

Exit codes: 0 stopped by a signal; 2 usage error; 69 cannot start (home not writable, address
not available) or the server thread died; 73 cannot write --port-file; 78 bad configuration (in
the file or in flag values) or an unsafe home (as the daemons', see ecauto.home); 75 this home's own sandbox runs already
(it holds the port); 98 the port is taken by another program (98 is EADDRINUSE).
"""

from __future__ import annotations

# Under Circus, stderr goes into the sandbox's own log before the heavy imports below can fail
# (see ecauto.daemon.early).
# ruff: noqa: E402
import sys

from ecauto.daemon import early

if __name__ == "__main__":
    early.log_to_file()

import argparse
import dataclasses
import errno
import logging
import os
import re
import signal
import time
from pathlib import Path
from types import FrameType
from typing import Any

from ecauto import config, logsetup, redact
from ecauto.cliargs import Parser
from ecauto.home import Home
from ecauto.logsetup import fields
from ecauto.sandbox.port import taken
from ecauto.sandbox.server import SandboxServer
from ecauto.sandbox.spapi import OPERATIONS

# Named for the package: under `python -m` this module is "__main__".
log = logging.getLogger("ecauto.sandbox")

EXIT_OK = 0
EXIT_UNAVAILABLE = 69
EXIT_CANTCREAT = 73
EXIT_CONFIG = 78
# How soon the main thread notices a signal (see _Stop for why it polls).
_POLL_S = 0.1

# Flags that override the [sandbox] key of the same name.
_FLAG_KEYS = (
    "host",
    "port",
    "spapi_rate",
    "spapi_burst",
    "base_hourly_cap",
    "base_daily_cap",
    "listing_failure_rate",
    "latency_ms",
    "latency_in_ms",
    "jitter_ms",
    "market_period_s",
    "seed",
    "lwa_expires_in",
    "base_expires_in",
    "ebay_expires_in",
    "yahoo_expires_in",
    "base_search_lag_s",
)


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="python -m ecauto.sandbox",
        description="Local sandbox of SP-API, LWA, BASE, eBay, Yahoo Shopping and Chatwork.",
    )
    p.add_argument("--config", help="ecauto.toml (default: $ECAUTO_CONFIG or ./ecauto.toml)")
    p.add_argument("--home", help="state folder (default: $ECAUTO_HOME or ./var)")
    p.add_argument("--host", help="address to bind")
    p.add_argument("--port", type=int, help="port to bind; 0 picks a free one")
    p.add_argument("--port-file", help="write the bound port to this file once listening")
    p.add_argument(
        "--key-file",
        help="the instance's sandbox key (default: HOME/secrets/sandbox.key; made if missing)",
    )
    p.add_argument("--spapi-rate", type=float, help=f"{config.DEFAULT_OPERATION} tokens per second")
    p.add_argument("--spapi-burst", type=int, help=f"{config.DEFAULT_OPERATION} bucket size")
    p.add_argument(
        "--op-limit",
        action="append",
        default=[],
        metavar="OP=RATE:BURST",
        help=f"an SP-API operation's bucket, repeatable; OP is one of {', '.join(OPERATIONS)}",
    )
    p.add_argument("--base-hourly-cap", type=int, help="BASE calls per UTC clock hour")
    p.add_argument("--base-daily-cap", type=int, help="BASE calls per UTC day")
    p.add_argument(
        "--listing-failure-rate", type=float, help="share of listing calls that fail, 0 to 1"
    )
    p.add_argument("--latency-ms", type=float, help="delay added to every API answer")
    p.add_argument(
        "--latency-in-ms", type=float, help="delay before a request reaches the APIs' buckets"
    )
    p.add_argument("--jitter-ms", type=float, help="up to this much more each way, at random")
    p.add_argument("--market-period-s", type=float, help="seconds between market price moves")
    p.add_argument("--seed", type=int, help="seed of the market and the failure dice")
    p.add_argument("--lwa-expires-in", type=int, help="lifetime of LWA access tokens, seconds")
    p.add_argument("--base-expires-in", type=int, help="lifetime of BASE access tokens, seconds")
    p.add_argument("--ebay-expires-in", type=int, help="lifetime of eBay access tokens, seconds")
    p.add_argument("--yahoo-expires-in", type=int, help="lifetime of Yahoo access tokens, seconds")
    p.add_argument(
        "--base-search-lag-s", type=float, help="seconds before a new BASE item is searchable"
    )
    return p


def settings_from(args: argparse.Namespace) -> config.SandboxSettings:
    """The config file's [sandbox] with the flags applied; ConfigError when anything is wrong."""
    base = config.load(args.config).sandbox
    overrides: dict[str, Any] = {k: getattr(args, k) for k in _FLAG_KEYS}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    op_limits: dict[str, dict[str, Any]] = {}
    for text in args.op_limit:
        op, rate, burst = _op_limit(text)
        if op == config.DEFAULT_OPERATION:
            overrides.update(spapi_rate=rate, spapi_burst=burst)
        else:
            op_limits[op] = {"rate": rate, "burst": burst}
    # The loader's own checks, so a flag is held to the same rules as the key it overrides.
    try:
        checked = config.parse({"sandbox": {**overrides, "op_limits": op_limits}}).sandbox
    except config.ConfigError as e:
        raise config.ConfigError(_flag_names(str(e))) from None
    values = {k: getattr(checked, k) for k in overrides}
    values["op_limits"] = {**base.op_limits, **{op: checked.op_limits[op] for op in op_limits}}
    return dataclasses.replace(base, **values)


def _flag_names(message: str) -> str:
    """The loader names keys ("sandbox.spapi_rate"); name the flag the operator typed."""
    message = re.sub(r"sandbox\.op_limits\.(\w+)\.(\w+)", r"--op-limit \1 \2", message)
    return re.sub(r"sandbox\.(\w+)", lambda m: "--" + m.group(1).replace("_", "-"), message)


def _op_limit(text: str) -> tuple[str, float, int]:
    op, _, limit = text.partition("=")
    rate, _, burst = limit.partition(":")
    if op not in OPERATIONS:
        raise config.ConfigError(
            f"--op-limit {text!r}: the operation must be one of {', '.join(OPERATIONS)}"
        )
    try:
        return op, float(rate), int(burst)
    except ValueError:
        raise config.ConfigError(f"--op-limit {text!r} must look like OP=RATE:BURST") from None


def write_port_file(path: Path, port: int) -> None:
    """Write atomically, so a reader polling the file never sees it half written."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(f"{port}\n", encoding="ascii")
    os.replace(tmp, path)


class _Stop:
    """Set by the signal handlers; the main thread polls it.

    The handler only assigns an attribute: setting a threading.Event from a signal handler can
    deadlock, since the handler runs in the main thread and may interrupt it inside that same
    Event's lock.
    """

    def __init__(self) -> None:
        self.signum: int | None = None

    def handle(self, signum: int, frame: FrameType | None) -> None:
        self.signum = signum
        # A second signal is not caught: leave at once if a clean stop is stuck.
        signal.signal(signum, signal.SIG_DFL)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from(args)
    except config.ConfigError as e:
        redact.complain(f"sandbox: {e}")
        return EXIT_CONFIG
    logsetup.configure("sandbox")
    try:
        # Checked as the daemons check theirs: it holds the key the daemons prove it with.
        home = Home.resolve(args.home).ensure().root
    except config.ConfigError as e:  # HomeError: a link, another user's, open to others
        redact.complain(f"sandbox: {e}")
        return EXIT_CONFIG
    except OSError as e:
        redact.complain(f"sandbox: cannot make its home: {e}")
        return EXIT_UNAVAILABLE
    # Caught before the start, so a signal during it stops us cleanly rather than killing.
    stop = _Stop()
    for name in ("SIGTERM", "SIGINT"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), stop.handle)
    server = SandboxServer(settings, home, key_file=Path(args.key_file) if args.key_file else None)
    try:
        server.start()
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            # This home's own sandbox (a copy started by hand) runs already: 75, as a daemon's.
            lang = early.language_of(args.config)
            code, line = taken("sandbox", settings.port, settings.host, home, lang)
            redact.complain(line)
            return code
        where = f"{settings.host}:{settings.port}"
        redact.complain(f"sandbox: cannot start (listen={where} home={home}): {e}")
        return EXIT_UNAVAILABLE
    try:
        if args.port_file:
            try:
                write_port_file(Path(args.port_file), server.port)
            except OSError as e:
                redact.complain(f"sandbox: cannot write {args.port_file}: {e}")
                return EXIT_CANTCREAT
        log.info(
            "sandbox listening %s",
            fields(
                url=server.url,
                home=home,
                spapi_rate=settings.spapi_rate,
                spapi_burst=settings.spapi_burst,
                base_hourly_cap=settings.base_hourly_cap,
                listing_failure_rate=settings.listing_failure_rate,
                latency_ms=settings.latency_ms,
                seed=settings.seed,
            ),
        )
        while stop.signum is None and server.alive():
            time.sleep(_POLL_S)
    finally:
        server.stop()
    if stop.signum is None:
        log.error("sandbox server thread died %s", fields(url=server.url))
        return EXIT_UNAVAILABLE
    log.info(
        "sandbox stopped %s",
        fields(signal=signal.Signals(stop.signum).name, **server.sandbox.summary()),
    )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
