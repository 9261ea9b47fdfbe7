"""upload-ebay and upload-yahoo against the sandbox: real daemon processes, real HTTP, real SQLite.

eBay offers published through a lost answer, Yahoo items visible only once published, tokens
that expire mid-cycle refreshed once for every process of the home, and a refused refresh that
stops the daemon with one line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from support import REPO, Reaper, Rig, sandbox_headers, start_process, wait_for

pytestmark = [pytest.mark.process, pytest.mark.timeout(120)]

WORKER = str(REPO / "tests" / "token_worker.py")
LISTINGS = 6


def states(rig: Rig, platform: str) -> dict[str, int]:
    with rig.db() as db:
        rows = db.execute(
            "SELECT state, COUNT(*) FROM listings WHERE platform = ? GROUP BY state", (platform,)
        ).fetchall()
    return {state: n for state, n in rows}


def upload_all(rig: Rig, platform: str, timeout: float = 60) -> None:
    """Runs upload-<platform> until every listing is uploaded, then stops it."""
    p = rig.upload(platform, "--interval", "0.3")
    try:
        wait_for(
            lambda: states(rig, platform) == {"uploaded": LISTINGS}, timeout, f"{platform} listed"
        )
    finally:
        p.terminate()
        p.communicate(timeout=20)


def test_ebay_publish_answer_lost_lists_each_sku_once(tmp_path: Path, reaper: Reaper) -> None:
    # Given publishOffer's first two answers lost (the offer published, the answer dropped)
    rig = Rig(tmp_path, reaper, products=50, listings=LISTINGS)
    rig.fault(endpoint="ebay.publish_offer", mode="lost", times=2)

    # When upload-ebay lists everything
    upload_all(rig, "ebay")

    # Then every SKU is one listing: the retries found the published offers
    stats = rig.stats()
    assert stats["endpoints"]["ebay.publish_offer"]["injected"] >= 1
    assert stats["listings"]["ebay"] == {"created": LISTINGS, "duplicates": 0, "failed": 0}
    assert stats["endpoints"]["ebay.create_offer"]["requests"] == LISTINGS
    with rig.db() as db:
        remote = [r for (r,) in db.execute("SELECT remote_id FROM listings WHERE platform='ebay'")]
    assert len(set(remote)) == LISTINGS and all(r.isdigit() for r in remote)  # listing ids


def test_yahoo_items_are_visible_only_once_published(tmp_path: Path, reaper: Reaper) -> None:
    # Given reservePublish failing until the test clears it: editItem saves, nothing is published
    rig = Rig(tmp_path, reaper, products=50, listings=LISTINGS)
    rig.fault(endpoint="yahoo.reserve_publish", mode="500")
    p = rig.upload("yahoo", "--interval", "0.3")
    try:
        wait_for(lambda: rig.stats()["yahoo_items"]["saved"] >= 1, 30, "an item saved")
        assert rig.stats()["listings"]["yahoo"]["created"] == 0
        # When the publishing works again
        requests.delete(
            f"{rig.url}/_sandbox/faults", headers=sandbox_headers(rig.home), timeout=5
        ).raise_for_status()
        wait_for(lambda: states(rig, "yahoo") == {"uploaded": LISTINGS}, 60, "yahoo listed")
    finally:
        p.terminate()
        p.communicate(timeout=20)

    # Then every listing the daemon recorded is visible, each once
    stats = rig.stats()
    assert stats["yahoo_items"] == {"saved": LISTINGS, "published": LISTINGS}
    assert stats["listings"]["yahoo"] == {"created": LISTINGS, "duplicates": 0, "failed": 0}


def test_a_yahoo_listing_saved_on_its_last_try_is_not_given_up_while_it_may_go_on_sale(
    tmp_path: Path, reaper: Reaper
) -> None:
    # Given one try per listing, and reservePublish failing for a while: each first try saves
    # its item and fails (reservePublish would later publish it with another listing's call)
    rig = Rig(tmp_path, reaper, products=50, listings=LISTINGS)
    text = rig.config.read_text()
    rig.config.write_text(text.replace("[upload.yahoo]\n", "[upload.yahoo]\nmax_attempts = 1\n"))
    rig.fault(endpoint="yahoo.reserve_publish", mode="500", times=3)

    # When upload-yahoo runs through the outage
    upload_all(rig, "yahoo")

    # Then nothing was given up for good, and every item on sale is a listing recorded as such
    stats = rig.stats()
    assert stats["endpoints"]["yahoo.reserve_publish"]["injected"] >= 1
    assert stats["yahoo_items"] == {"saved": LISTINGS, "published": LISTINGS}


@pytest.mark.parametrize("platform", ["ebay", "yahoo"])
def test_tokens_expiring_mid_cycle_are_refreshed(
    tmp_path: Path, reaper: Reaper, platform: str
) -> None:
    # Given access tokens that live 1 s and answers 100 ms late: a run of several seconds
    rig = Rig(
        tmp_path,
        reaper,
        f"--{platform}-expires-in",
        "1",
        "--latency-ms",
        "100",
        products=50,
        listings=LISTINGS,
    )

    upload_all(rig, platform)

    stats = rig.stats()
    assert stats["refreshes"][platform] >= 2  # refreshed during the run
    assert stats["listings"][platform] == {"created": LISTINGS, "duplicates": 0, "failed": 0}
    assert stats["endpoints"][f"{platform}.token"]["errors"] == 0
    cached = json.loads((rig.home / "secrets" / f"{platform}.json").read_text())
    assert cached["lifetime"] == 1
    assert (rig.home / "secrets" / f"{platform}.json").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("platform", ["ebay", "yahoo"])
def test_two_processes_share_one_refresh(tmp_path: Path, reaper: Reaper, platform: str) -> None:
    # Given two processes of one home asking for a token at once, and again after it expired
    rig = Rig(tmp_path, reaper, f"--{platform}-expires-in", "2")
    go = tmp_path / "go"
    procs = [
        start_process(
            reaper,
            [sys.executable, WORKER, platform, str(go), "2.5"],
            rig.env,
            tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    go.write_text("go")
    answers = []
    for p in procs:
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
        answers.append(json.loads(out))

    # Then each time one of them refreshed and the other read the new token
    assert answers[0] == answers[1]
    assert answers[0]["first"] != answers[0]["second"]
    assert rig.stats()["refreshes"][platform] == 2


@pytest.mark.parametrize("platform", ["ebay", "yahoo"])
def test_a_refused_refresh_stops_with_one_line(
    tmp_path: Path, reaper: Reaper, platform: str
) -> None:
    rig = Rig(tmp_path, reaper, products=50, listings=LISTINGS)
    requests.post(
        f"{rig.url}/_sandbox/revoke",
        json={"platform": platform},
        headers=sandbox_headers(rig.home),
        timeout=5,
    ).raise_for_status()

    res = rig.run("ecauto.daemons.upload", "--platform", platform, "--once")

    assert res.returncode == 78, res.stderr
    lines = [line for line in res.stderr.splitlines() if "authorise again" in line]
    assert len(lines) == 1 and "Traceback" not in res.stderr
    # the listing it had claimed is looked up first at the next start: nothing is failed or lost
    assert states(rig, platform) == {"queued": LISTINGS - 1, "uploading": 1}


def test_a_yahoo_store_that_does_not_exist_stops_with_one_line(
    tmp_path: Path, reaper: Reaper
) -> None:
    # Given a seller id the store API does not know (ed-00004)
    rig = Rig(tmp_path, reaper, products=50, listings=LISTINGS)
    rig.env["YAHOO_SELLER_ID"] = "no-such-store"

    res = rig.run("ecauto.daemons.upload", "--platform", "yahoo", "--once")

    # Then the daemon stops on the first call, saying so once, and no listing is failed for good
    assert res.returncode == 78, res.stderr
    lines = [line for line in res.stderr.splitlines() if "ed-00004" in line]
    assert len(lines) == 1 and "YAHOO_SELLER_ID" in lines[0], res.stderr
    assert "failed" not in states(rig, "yahoo")
    assert rig.stats()["yahoo_items"] == {"saved": 0, "published": 0}
