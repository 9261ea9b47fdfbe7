"""A separate process for the quota tests: `python tests/quota_worker.py KIND HOME URL ...`.

hammer HOME URL RATE CALLS   -- CALLS getCompetitivePricing calls through the home's shared bucket
token HOME URL GO_FILE       -- wait for GO_FILE, then ask the shared BASE token source once
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ecauto.auth import Credentials, OAuthTokens
from ecauto.clients.spapi import SpApiClient
from ecauto.credentials import StaticToken
from ecauto.quota import QuotaStore, TokenGate, sleep_wait


def hammer(home: Path, url: str, rate: float, calls: int) -> None:
    store = QuotaStore(home / "quota.db")
    op = "getCompetitivePricing"
    gate = TokenGate(store, f"spapi/{op}/A1", rate, 1, sleep_wait, lease_s=10)
    client = SpApiClient(url, "A1", StaticToken("t"), 5.0, {op: gate})
    for i in range(calls):
        client.get_competitive_pricing([f"B0{i:08d}"])
    print(json.dumps({"done": calls}))


def token(home: Path, url: str, go: Path) -> None:
    creds = Credentials("cid", "secret", "first-refresh-token", "urn:ietf:wg:oauth:2.0:oob")
    src = OAuthTokens("base", home / "secrets", f"{url}/1/oauth/token", creds, rotates=True)
    deadline = time.monotonic() + 20
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    print(json.dumps({"token": src.token()}))


if __name__ == "__main__":
    kind, home, url = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    if kind == "hammer":
        hammer(home, url, float(sys.argv[4]), int(sys.argv[5]))
    else:
        token(home, url, Path(sys.argv[4]))
