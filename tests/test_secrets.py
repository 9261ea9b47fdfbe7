"""Secrets and the sandbox, seen from outside: real daemons, a real sandbox, a real impostor.

An impostor is a plain http.server on the sandbox's port that records what it is sent; the
daemons, the sandbox and the watchdog are real processes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from support import (
    BIN,
    REPO,
    Reaper,
    free_port,
    instance_env,
    sandbox_headers,
    start_process,
    wait_for,
    write_config,
)

from ecauto.config import PLATFORMS, TOKEN_PATHS
from ecauto.daemon.heartbeat import Heartbeat, Phase
from ecauto.sandbox.key import HEADER
from ecauto.store import Store

pytestmark = [pytest.mark.process, pytest.mark.timeout(120)]

# Real-looking credentials, each with a distinctive tail a plain search finds.
CREDENTIALS = {
    "SPAPI_LWA_CLIENT_ID": "amzn1.application-oa2-client.9f3e1c0b7a5d4e2f",
    "SPAPI_LWA_CLIENT_SECRET": "lwa-secret-c4e8a1f09b3d7e62",
    "SPAPI_LWA_REFRESH_TOKEN": "Atzr|IwEBIlwa-refresh-5d1b9e7c3a08f4e6",
    "BASE_CLIENT_ID": "base-client-0e7d2c9a4b1f",
    "BASE_CLIENT_SECRET": "base-secret-8b2f6d0e3c9a",
    "BASE_REFRESH_TOKEN": "base-refresh-1f4a7c2e9d6b",
    "EBAY_ACCESS_TOKEN": "v^1.1#i^1#ebay-token-7a3e9c1d5b2f",
    "YAHOO_ACCESS_TOKEN": "yahoo-token-2c8e4a6f0d1b",
    "CHATWORK_API_TOKEN": "chatwork-token-6e0a3d9b7c4f",
}


class Impostor(BaseHTTPRequestHandler):
    """Answers everything with 200 and a made-up proof; keeps every request it got."""

    protocol_version = "HTTP/1.0"
    seen: list[dict[str, Any]] = []

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        self.seen.append(
            {"method": self.command, "path": self.path, "headers": str(self.headers), "body": body}
        )
        data = json.dumps({"hmac": "0" * 64, "access_token": "x", "expires_in": 3600}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = _any  # noqa: N815 - http.server's names

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def impostor() -> Iterator[tuple[int, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    handler = type("Recording", (Impostor,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield int(server.server_address[1]), seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def run(
    reaper: Reaper, env: dict[str, str], cwd: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    p = start_process(reaper, list(args), env, cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=60)
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def start_sandbox_on(reaper: Reaper, env: dict[str, str], cwd: Path, port: int, *flags: str) -> str:
    start_process(
        reaper,
        [sys.executable, "-m", "ecauto.sandbox", "--port", str(port), *flags],
        env,
        cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: requests.get(f"{url}/_sandbox/health", timeout=2).ok, 20, "the sandbox")
    return url


def test_an_impostor_on_the_sandbox_port_gets_no_credential(
    tmp_path: Path, reaper: Reaper, impostor: tuple[int, list[dict[str, Any]]]
) -> None:
    port, seen = impostor
    home = tmp_path / "home"
    config = write_config(tmp_path / "ecauto.toml", port, products=20, listings=3)
    env = dict(instance_env(home, config), **CREDENTIALS)
    env.pop("CHATWORK_API_URL", None)
    # Given another program on the sandbox's port, and real credentials in the environment
    # When the daemons run a cycle each
    for args in (
        ["ecauto.daemons.upload", "--platform", "base"],
        ["ecauto.daemons.upload", "--platform", "ebay"],
        ["ecauto.daemons.upload", "--platform", "yahoo"],
        ["ecauto.daemons.sync"],
    ):
        res = run(reaper, env, tmp_path, sys.executable, "-m", *args, "--once")
        # Then each leaves with one line saying why (a configuration problem: 78)
        assert res.returncode == 78, (args, res.stderr)
        lines = [ln for ln in res.stderr.splitlines() if "not this instance's sandbox" in ln]
        assert len(lines) == 1, res.stderr
        assert "Traceback" not in res.stderr
    # And the impostor got nothing but challenges: no credential, no listing
    assert seen, "the daemons never asked"
    assert all(r["path"].startswith("/_sandbox/whoami?nonce=") for r in seen), seen
    received = json.dumps(seen)
    for name, value in CREDENTIALS.items():
        assert value not in received, f"{name} reached the impostor"
    assert "sandbox.key" not in received and (home / "secrets" / "sandbox.key").exists()
    key = sandbox_headers(home)[HEADER]
    assert key not in received

    # When the sandbox itself starts: one line naming the port and who holds it, exit 98
    res = run(reaper, env, tmp_path, sys.executable, "-m", "ecauto.sandbox")
    assert res.returncode == 98, res.stderr
    assert res.stderr.count("\n") == 1 and f"port {port}" in res.stderr
    assert "taken by another program" in res.stderr and f"pid {os.getpid()}" in res.stderr

    # And the watchdog's report says the port is taken, as critical
    res = run(
        reaper, env, tmp_path, str(BIN / "watchdog"), "report", "--ini", str(REPO / "circus.ini")
    )
    found = [ln for ln in res.stdout.splitlines() if "sandbox_port" in ln]
    assert len(found) == 1 and found[0].split()[0] == "critical", res.stdout
    assert f"the sandbox's port {port} is taken by another program (pid {os.getpid()}" in found[0]
    assert res.returncode == 2


def test_control_endpoints_want_the_instances_key(tmp_path: Path, reaper: Reaper) -> None:
    home, port = tmp_path / "home", free_port()
    config = write_config(tmp_path / "ecauto.toml", port)
    env = instance_env(home, config)
    url = start_sandbox_on(reaper, env, tmp_path, port)
    fault = {"endpoint": "spapi", "mode": "500", "seconds": 5}
    wrong = {HEADER: "0" * 64}
    for headers in ({}, wrong):
        for method, path, kw in (
            ("GET", "/_sandbox/stats", {}),
            ("GET", "/_sandbox/chatwork", {}),
            ("GET", "/_sandbox/faults", {}),
            ("POST", "/_sandbox/faults", {"json": fault}),
            ("DELETE", "/_sandbox/faults", {}),
        ):
            r = requests.request(method, url + path, headers=headers, timeout=5, **kw)
            assert r.status_code == 403, (method, path, headers, r.text)
    assert requests.get(f"{url}/_sandbox/faults", timeout=5).status_code == 403
    good = sandbox_headers(home)
    assert requests.get(f"{url}/_sandbox/faults", headers=good, timeout=5).json() == {"faults": []}
    assert requests.get(f"{url}/_sandbox/stats", headers=good, timeout=5).ok


# Refresh tokens with a control character (a paste gone wrong), which an error could quote.
EBAY_TOKEN = "ebay-live-\n-tail7c41d9e2b5"
YAHOO_TOKEN = "abc\x01def-tail3f8a0c6e91"


def test_a_token_with_a_control_character_reaches_no_file_and_no_report(
    tmp_path: Path, reaper: Reaper
) -> None:
    # Given a sandbox standing in for the live APIs, and live-mode uploads pointed at it
    port = free_port()
    sandbox_home, home = tmp_path / "sandbox-home", tmp_path / "home"
    config = tmp_path / "ecauto.toml"
    write_config(config, port, products=10, listings=2)
    text = config.read_text().replace('mode = "sandbox"', 'mode = "live"')
    for platform in ("ebay", "yahoo"):
        text = text.replace(
            f"[upload.{platform}]\n",
            f'[upload.{platform}]\nendpoint = "http://127.0.0.1:{port}"\nmax_attempts = 2\n'
            f'token_url = "http://127.0.0.1:{port}{TOKEN_PATHS[platform]}"\n',
        )
    ids = ("category_id", "fulfillment_policy_id", "payment_policy_id", "return_policy_id")
    text += "[ebay]\n" + "".join(f'{k} = "x"\n' for k in (*ids, "merchant_location_key"))
    config.write_text(text)
    env = dict(
        instance_env(home, config),
        EBAY_CLIENT_ID="ebay-client-4d2a",
        EBAY_CLIENT_SECRET="ebay-secret-9c1e",
        EBAY_REFRESH_TOKEN=EBAY_TOKEN,
        YAHOO_CLIENT_ID="yahoo-client-7b3f",
        YAHOO_CLIENT_SECRET="yahoo-secret-2e8d",
        YAHOO_REFRESH_TOKEN=YAHOO_TOKEN,
        YAHOO_SELLER_ID="sandbox-store",
    )
    start_sandbox_on(reaper, env, tmp_path, port, "--home", str(sandbox_home))
    home.mkdir()
    store = Store(home / "ecauto.db")
    store.seed_demo(10, 2, PLATFORMS, 0.0)
    store.close()
    (home / "log").mkdir()
    outputs = []
    # When each upload runs a cycle, as Circus would (its stderr into the home's log)
    for platform in ("ebay", "yahoo"):
        with open(home / "log" / f"upload-{platform}.log", "w") as log:
            p = start_process(
                reaper,
                [sys.executable, "-m", "ecauto.daemons.upload", "--platform", platform, "--once"],
                env,
                tmp_path,
                stdout=log,
                stderr=log,
            )
            assert p.wait(timeout=60) in (0, 1)
    # The refresh tokens went out in the form bodies, and the listings were made
    db = sqlite3.connect(home / "ecauto.db")
    uploaded = db.execute("SELECT COUNT(*) FROM listings WHERE state = 'uploaded'").fetchone()[0]
    dump = "\n".join(db.iterdump())
    db.close()
    assert uploaded >= 2, dump[-2000:]
    for args in (["report"], ["report", "--json"], ["scan", "--dry-run"]):
        res = run(
            reaper,
            env,
            tmp_path,
            str(BIN / "watchdog"),
            *args,
            "--ini",
            str(REPO / "circus.ini"),
        )
        outputs.append(res.stdout + res.stderr)
    # Then neither token, in any form, is in any file of the home, the database or the reports
    texts = {
        str(p): p.read_bytes().decode("utf-8", "replace") for p in home.rglob("*") if p.is_file()
    }
    texts["ecauto.db (dump)"] = dump
    texts.update({f"watchdog output {i}": o for i, o in enumerate(outputs)})
    assert any("upload-ebay" in t for t in texts.values())
    for where, text in texts.items():
        for tail in ("tail7c41d9e2b5", "tail3f8a0c6e91"):
            assert tail not in text, f"a token reached {where}"


def test_the_report_masks_a_token_of_the_token_stores(tmp_path: Path, reaper: Reaper) -> None:
    # Given an issued token in secrets/ and a heartbeat (from an older daemon) that quotes it
    home, token = tmp_path / "home", "issued-access-token-0b7e3d91c5"
    (home / "secrets").mkdir(parents=True)
    (home / "heartbeats").mkdir()
    (home / "secrets" / "base.json").write_text(json.dumps({"access_token": token}))
    hb = Heartbeat(
        "upload-base",
        os.getpid(),
        0.0,
        time.time(),
        1.0,
        Phase.SLEEPING,
        str(home),
        last_error=f"HTTP 401 for Bearer {token}",
    )
    (home / "heartbeats" / "upload-base.json").write_text(json.dumps(hb.to_json()))
    config = write_config(tmp_path / "ecauto.toml", free_port())
    env = instance_env(home, config)
    # When the watchdog reports, as a table and as JSON
    for extra in ([], ["--json"]):
        res = run(
            reaper,
            env,
            tmp_path,
            str(BIN / "watchdog"),
            "report",
            *extra,
            "--ini",
            str(REPO / "circus.ini"),
        )
        # Then the error is shown, the token is not
        assert "HTTP 401 for Bearer ***" in res.stdout, res.stdout + res.stderr
        assert token not in res.stdout + res.stderr
