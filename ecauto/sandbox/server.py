"""The sandbox's HTTP side: a threading HTTP/1.1 server that carries out `Sandbox.plan()`.

Keep-alive is on and Nagle is off, so a client with a session pays neither a connection set-up
nor a delayed-ACK stall (40 ms) per call: about a millisecond a call on one connection.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ecauto.config import SandboxSettings
from ecauto.logsetup import fields
from ecauto.sandbox.app import Clock, Plan, Sandbox
from ecauto.sandbox.exchange import Reply, json_reply

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20  # the APIs here take small forms and JSON; refuse anything larger
IDLE_TIMEOUT_S = 120.0  # an idle keep-alive connection is closed after this
SUMMARY_EVERY_S = 60.0
_HOLD_POLL_S = 0.05  # how soon a hung request notices its fault was cleared


class SandboxServer:
    """Binds on start(); `port` is then the real one (ask for port 0 to get a free port)."""

    def __init__(
        self,
        settings: SandboxSettings,
        home: Path,
        clock: Clock | None = None,
        key_file: Path | None = None,
    ) -> None:
        self.settings = settings
        self.sandbox = Sandbox(settings, home, clock, key_file)
        self._stop = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._threads: list[threading.Thread] = []

    def start(self) -> SandboxServer:
        """Bind and serve in background threads; OSError when the home folder cannot be
        written or the address cannot be bound."""
        self.sandbox.open()
        address = (self.settings.host, self.settings.port)
        self._httpd = _HTTPServer(address, self.sandbox, self._stop)
        self._threads = [
            threading.Thread(
                target=self._httpd.serve_forever,
                # shutdown() waits for the loop's next poll: keep stop (and test teardown) quick.
                kwargs={"poll_interval": 0.05},
                name="sandbox-http",
                daemon=True,
            ),
            threading.Thread(target=self._summaries, name="sandbox-summary", daemon=True),
        ]
        for t in self._threads:
            t.start()
        return self

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the sandbox is not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.port}"

    def alive(self) -> bool:
        return bool(self._threads) and self._threads[0].is_alive()

    def stop(self) -> None:
        """Stop serving, release held requests, close every connection, join the threads."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.close_connections()
            self._httpd.server_close()
        for t in self._threads:
            t.join(timeout=5.0)
        self.sandbox.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _summaries(self) -> None:
        last: dict[str, int] = {}
        while not self._stop.wait(SUMMARY_EVERY_S):
            totals = self.sandbox.summary()
            if totals != last:
                log.info("sandbox summary %s", fields(**totals))
                last = totals


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a burst of daemons connecting at once must not be refused

    def __init__(
        self, address: tuple[str, int], sandbox: Sandbox, stopping: threading.Event
    ) -> None:
        self.sandbox = sandbox
        self.stopping = stopping
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        # Handler threads of keep-alive connections sit in recv(); this wakes them to leave.
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-answer (timeouts, chaos tests) is normal, not a traceback.
        log.debug("sandbox connection error %s", fields(client=client_address), exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT_S
    server: _HTTPServer

    def version_string(self) -> str:
        return "ecauto-sandbox"

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        # http.server writes one stderr line per request; the sandbox logs summaries instead.
        log.debug("sandbox http %s", format % args)

    def _serve(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._send_closing(json_reply(411, {"error": "send a Content-Length"}))
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self._send_closing(json_reply(413, {"error": f"body must be 0 to {MAX_BODY} bytes"}))
            return
        body = self.rfile.read(length) if length else b""
        # The request reaches the APIs `inbound` after it was read: judged at that moment, not
        # whenever this thread wakes after it (a loaded machine must not move the arrival).
        sandbox = self.server.sandbox
        inbound, arrived = sandbox.inbound_delay(self.path), None
        if inbound > 0:
            arrived = sandbox.clock.monotonic() + inbound
            if self.server.stopping.wait(inbound):
                self.close_connection = True
                return
        headers = {k.lower(): v for k, v in self.headers.items()}
        plan = sandbox.plan(self.command, self.path, headers, body, arrived)
        if plan.delay_s > 0:
            self._wait(plan)
        if plan.reply is None or self.server.stopping.is_set():
            self.close_connection = True
            return
        self._send(plan.reply)

    def _wait(self, plan: Plan) -> None:
        stopping = self.server.stopping
        deadline = time.monotonic() + plan.delay_s
        while not stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if plan.hold_fault is None:
                stopping.wait(remaining)
                continue
            if not self.server.sandbox.fault_holds(plan.hold_fault):
                return
            stopping.wait(min(remaining, _HOLD_POLL_S))

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        # RFC 9110: a 204 has neither body nor Content-Length.
        if reply.status != 204:
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        if reply.body and reply.status != 204:
            self.wfile.write(reply.body)

    def _send_closing(self, reply: Reply) -> None:
        # The unread body would be taken for the next request: answer, then hang up.
        self.close_connection = True
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply.body)
