"""Quotas held per instance, checked from the server's side with real processes and real HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from support import REPO, Reaper, Rig, sandbox_headers, start_process, wait_for

pytestmark = [pytest.mark.process, pytest.mark.timeout(120)]

WORKER = str(REPO / "tests" / "quota_worker.py")


def test_three_processes_share_one_bucket_and_never_overdraw_it(
    tmp_path: Path, reaper: Reaper
) -> None:
    # Given a sandbox enforcing 20 calls/s, burst 1, and three processes of one home
    sb = Rig(tmp_path, reaper, "--spapi-rate", "20", "--spapi-burst", "1")
    sb.home.mkdir(parents=True, exist_ok=True)  # the sandbox made it for the key
    procs = [
        start_process(
            reaper,
            [sys.executable, WORKER, "hammer", str(sb.home), sb.url, "20", "15"],
            sb.env,
            tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    # Then the server accepted all 45 calls, refused none, and saw them at the quota's pace
    stats = sb.stats()
    assert stats["endpoints"]["spapi.getCompetitivePricing"]["throttled"] == 0
    span = stats["spapi"]["accepted"]["getCompetitivePricing"]
    assert span["calls"] == 45
    assert span["first_to_last_s"] >= 44 / 20 * 0.999


def sync_through_fault(sb: Rig, mode: str, tmp_path: Path) -> None:
    """Run one sync while SP-API answers `mode` until the sync has met it twice."""
    before = sb.stats()["endpoints"]["spapi.getCompetitivePricing"]["injected"]
    sb.fault(endpoint="spapi.getCompetitivePricing", mode=mode)
    log = tmp_path / f"sync-{mode}.log"
    with open(log, "w") as err:
        p = start_process(
            sb.reaper,
            [sys.executable, "-m", "ecauto.daemons.sync", "--once"],
            sb.env,
            tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        wait_for(
            lambda: (
                sb.stats()["endpoints"]["spapi.getCompetitivePricing"]["injected"] >= before + 2
            ),
            60,
            f"the sync to meet {mode} twice",
        )
        requests.delete(
            f"{sb.url}/_sandbox/faults", headers=sandbox_headers(sb.home), timeout=5
        ).raise_for_status()
        assert p.wait(timeout=90) == 0, log.read_text()


def test_a_sync_cycle_retries_injected_429s_and_5xx_and_loses_nothing(
    tmp_path: Path, reaper: Reaper
) -> None:
    sb = Rig(tmp_path, reaper, products=200)
    # Given SP-API answering 429 until the sync has been refused twice
    sync_through_fault(sb, "429", tmp_path)
    stats = sb.stats()
    assert stats["spapi"]["asins_by_times"] == {"1": 200}  # each ASIN served once, none skipped
    db = sb.db()
    assert db.execute("SELECT COUNT(*) FROM products WHERE synced_at IS NULL").fetchone()[0] == 0
    state, throttled = db.execute("SELECT state, throttled FROM sync_runs").fetchone()
    assert state == "complete" and throttled >= 2
    # And 500s are retried the same way
    sync_through_fault(sb, "500", tmp_path)
    assert sb.stats()["spapi"]["asins_by_times"] == {"2": 200}


def test_a_hung_call_times_out_and_the_batch_is_sent_again(tmp_path: Path, reaper: Reaper) -> None:
    sb = Rig(tmp_path, reaper, products=40)
    sb.config.write_text(
        sb.config.read_text().replace("[spapi]\ntimeout_s = 5.0", "[spapi]\ntimeout_s = 1.0")
    )
    # Given SP-API holding every call unanswered until the fault is cleared
    sb.fault(endpoint="spapi.getCompetitivePricing", mode="hang")
    log = tmp_path / "sync.log"
    with open(log, "w") as err:
        p = start_process(
            reaper,
            [sys.executable, "-m", "ecauto.daemons.sync", "--once"],
            sb.env,
            tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        # When the client has given up on a call, Amazon answers again
        wait_for(lambda: "timed out after 1s" in log.read_text(), 60, "the call to time out")
        requests.delete(
            f"{sb.url}/_sandbox/faults", headers=sandbox_headers(sb.home), timeout=5
        ).raise_for_status()
        # Then the batch is sent again and the cycle completes, each ASIN read once
        assert p.wait(timeout=60) == 0, log.read_text()
    assert sb.stats()["spapi"]["asins_by_times"] == {"1": 40}


def test_the_access_token_expiring_mid_cycle_is_refreshed_and_shared(
    tmp_path: Path, reaper: Reaper
) -> None:
    # Given access tokens that live 2 s, and a cycle of about 5 s at 10 calls/s
    sb2 = Rig(tmp_path, reaper, "--lwa-expires-in", "2", spapi_rate=10.0, products=1000)
    res = sb2.sync_once()
    assert res.returncode == 0, res.stderr
    stats = sb2.stats()
    assert stats["endpoints"]["lwa.token"]["ok"] >= 2  # refreshed during the cycle
    assert stats["spapi"]["asins_by_times"] == {"1": 1000}
    assert stats["endpoints"]["spapi.getCompetitivePricing"]["throttled"] == 0
    cached = json.loads((sb2.home / "secrets" / "lwa.json").read_text())
    assert cached["access_token"].startswith("Atza|")
    assert (sb2.home / "secrets" / "lwa.json").stat().st_mode & 0o077 == 0


def test_two_processes_refreshing_at_once_spend_the_refresh_token_once(
    tmp_path: Path, reaper: Reaper
) -> None:
    sb = Rig(tmp_path, reaper)
    sb.home.mkdir(parents=True, exist_ok=True)  # the sandbox made it for the key
    go = tmp_path / "go"
    procs = [
        start_process(
            reaper,
            [sys.executable, WORKER, "token", str(sb.home), sb.url, str(go)],
            sb.env,
            tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    go.write_text("go")
    tokens = set()
    for p in procs:
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
        tokens.add(json.loads(out)["token"])
    assert len(tokens) == 1  # both use the one access token
    assert sb.stats()["endpoints"]["base.token"]["requests"] == 1
    cached = json.loads((sb.home / "secrets" / "base.json").read_text())
    assert cached["refresh_token"] != "first-refresh-token"  # the rotated one is kept


def test_the_rate_limit_header_lowers_our_pace(tmp_path: Path, reaper: Reaper) -> None:
    # Given our config says 40/s, but Amazon (the sandbox) enforces and announces 10/s
    sb = Rig(tmp_path, reaper, "--spapi-rate", "10", spapi_rate=40.0, products=300)
    res = sb.sync_once()
    assert res.returncode == 0, res.stderr
    stats = sb.stats()
    # at most the very first call after the first answer could have come early
    assert stats["endpoints"]["spapi.getCompetitivePricing"]["throttled"] <= 1
    assert stats["spapi"]["asins_by_times"] == {"1": 300}
