"""BASE by its published docs (baseinc/api-docs): the client parses the docs' own examples, the
sandbox answers with the fields and errors they show, and the upload daemon's BASE path holds up
against BASE's awkward parts (400s for tokens, a search index an hour behind)."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from support import ManualClock, Reaper, Rig, sandbox_headers, send_signal, wait_for

from ecauto.auth import Credentials, OAuthTokens, env_credentials
from ecauto.clients.base import (
    TOKEN_REFUSED,
    BaseClient,
    added_item_id,
    error_for,
    scan,
    token_refused,
)
from ecauto.clients.http import QuotaSpent, Rejected
from ecauto.config import ConfigError, SandboxSettings
from ecauto.credentials import StaticToken
from ecauto.sandbox.key import HEADER
from ecauto.sandbox.server import SandboxServer
from ecauto.store import Store

DOCS = Path(__file__).parent / "data" / "base"  # the docs' examples; see its README.md
BEARER = {"Authorization": "Bearer test-token"}


def doc(name: str) -> Any:
    return json.loads((DOCS / name).read_text(encoding="utf-8"))


def answer(status: int, body: Any) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp._content = json.dumps(body).encode()
    return resp


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Callable[..., SandboxServer]]:
    """An in-process sandbox on a free port: BASE with no failures."""
    started: list[SandboxServer] = []

    def _start(clock: ManualClock | None = None, **settings: Any) -> SandboxServer:
        s = SandboxSettings(port=0, listing_failure_rate=0.0, **settings)
        server = SandboxServer(s, tmp_path / f"sb{len(started)}", clock).start()
        started.append(server)
        return server

    yield _start
    for server in started:
        server.stop()


def calls(server: SandboxServer, key: str) -> int:
    got = requests.get(
        f"{server.url}/_sandbox/stats", headers={HEADER: server.sandbox.key}, timeout=5
    )
    return int(got.json()["endpoints"][key]["requests"])


def base_refresh(url: str, creds: Credentials | None = None) -> requests.Response:
    c = creds or Credentials("c", "s", "r", "http://localhost/cb")
    form = {
        "grant_type": "refresh_token",
        "client_id": c.client_id,
        "client_secret": c.client_secret,
        "refresh_token": c.refresh_token,
        "redirect_uri": c.redirect_uri,
    }
    return requests.post(f"{url}/1/oauth/token", data=form, timeout=5)


def add(server: SandboxServer, sku: str, title: str = "") -> dict[str, Any]:
    form = {"title": title or f"Item {sku}", "price": "1200", "stock": "1", "identifier": sku}
    r = requests.post(f"{server.url}/1/items/add", data=form, headers=BEARER, timeout=5)
    assert r.status_code == 200, r.text
    return dict(r.json()["item"])


# -- the client and the docs' own examples (pure) ---------------------------------------------


def test_the_client_reads_the_docs_answers() -> None:
    assert added_item_id(doc("base_api_v1_items_add.json")) == "1234"
    listed = doc("base_api_v1_items.json")["items"]
    assert scan(listed, "abcd-1234", None) == ("1234", True)
    assert scan(listed, "other-sku", None) == (None, False)
    # the first item was last modified at 1414731171: nothing from 1414731172 on is further down
    assert scan(listed, "other-sku", 1414731172) == (None, True)
    assert scan(listed, "other-sku", 1414731171) == (None, False)


def test_the_client_sorts_the_docs_errors() -> None:
    token = answer(400, doc("README.invalid_request.json"))
    assert token_refused(400, doc("README.invalid_request.json"))
    assert isinstance(error_for("items", token), Rejected)
    digital = {
        "error": "invalid_request",
        "error_description": "デジタルコンテンツの商品は編集できません。",
    }
    assert not token_refused(400, digital)  # same code, but no refresh would cure it
    bad_id = error_for("items/edit", answer(400, doc("base_api_v1_items_edit.bad_item_id.json")))
    assert isinstance(bad_id, Rejected) and not bad_id.retryable
    assert str(bad_id) == "BASE items/edit: HTTP 400 bad_item_id: 不正なitem_idです。"
    hour = error_for("items/edit", answer(400, doc("README.hour_api_limit.json")))
    day = error_for("items/edit", answer(400, doc("README.day_api_limit.json")))
    assert isinstance(hour, QuotaSpent) and hour.window == "hour"
    assert isinstance(day, QuotaSpent) and day.window == "day"
    assert doc("base_api_v1_oauth_refresh_token.refused.json")["error"] in TOKEN_REFUSED


# -- the sandbox answers as the docs say ------------------------------------------------------


def same_shape(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    """Every field the docs show, with the docs' type where the docs give a value."""
    missing = set(theirs) - set(ours)
    assert not missing, f"fields the docs declare are missing: {sorted(missing)}"
    for k, v in theirs.items():
        if v is not None and ours[k] is not None:
            assert type(ours[k]) is type(v), (k, ours[k], v)


def test_the_sandbox_answers_carry_the_documented_fields(
    shop: Callable[..., SandboxServer],
) -> None:
    clock = ManualClock()
    sb = shop(clock, base_search_lag_s=60)
    url = sb.url
    token = base_refresh(url).json()
    same_shape(token, doc("base_api_v1_oauth_refresh_token.json"))
    auth = {"Authorization": f"Bearer {token['access_token']}"}

    added = add(sb, "abcd-1234")
    same_shape(added, doc("base_api_v1_items_add.json")["item"])
    edit = {"item_id": str(added["item_id"]), "price": "4900"}
    edited = requests.post(f"{url}/1/items/edit", data=edit, headers=auth).json()["item"]
    same_shape(edited, doc("base_api_v1_items_edit.json")["item"])
    listed = requests.get(f"{url}/1/items", headers=auth).json()["items"]
    same_shape(listed[0], doc("base_api_v1_items.json")["items"][0])
    clock.advance(60)
    params = {"q": "Item"}
    found = requests.get(f"{url}/1/items/search", params=params, headers=auth).json()["items"]
    same_shape(found[0], doc("base_api_v1_items_search.json")["items"][0])


def test_the_sandbox_refuses_as_the_docs_say(shop: Callable[..., SandboxServer]) -> None:
    clock = ManualClock()
    sb = shop(clock, base_expires_in=100, base_hourly_cap=3)
    url = sb.url
    token = base_refresh(url).json()["access_token"]
    spent = base_refresh(url)
    clock.advance(100)
    expired = requests.get(f"{url}/1/items", headers={"Authorization": f"Bearer {token}"})
    unknown = requests.post(f"{url}/1/items/edit", data={"item_id": "42"}, headers=BEARER)
    not_yet = requests.post(f"{url}/1/items/edit", data={"item_id": "100000001"}, headers=BEARER)
    requests.get(f"{url}/1/items", headers=BEARER)
    over = requests.get(f"{url}/1/items", headers=BEARER)

    assert (spent.status_code, spent.json()) == (
        400,
        doc("base_api_v1_oauth_refresh_token.refused.json"),
    )
    assert (expired.status_code, expired.json()) == (400, doc("README.invalid_request.json"))
    bad_id = doc("base_api_v1_items_edit.bad_item_id.json")
    assert (unknown.status_code, unknown.json()) == (400, bad_id)
    assert (not_yet.status_code, not_yet.json()) == (400, bad_id)  # never added: not created
    assert (over.status_code, over.json()) == (400, doc("README.hour_api_limit.json"))


def test_search_lags_and_matches_title_detail_categories(
    shop: Callable[..., SandboxServer],
) -> None:
    clock = ManualClock()
    sb = shop(clock, base_search_lag_s=3600)
    add(sb, "SKU-7", title="Green tea")
    add(sb, "SKU-8", title="Tea cup SKU-7 set")

    def search(**params: str) -> Any:
        return requests.get(f"{sb.url}/1/items/search", params=params, headers=BEARER)

    assert search(q="tea").json() == {"items": []}  # not in the index yet
    clock.advance(3599)
    assert search(q="tea").json() == {"items": []}
    clock.advance(1)
    assert len(search(q="tea").json()["items"]) == 2
    # q matches text, not the identifier: SKU-7's own item is not found, another item is
    assert [i["identifier"] for i in search(q="SKU-7").json()["items"]] == ["SKU-8"]
    assert [i["identifier"] for i in search(q="green tea").json()["items"]] == ["SKU-7"]
    assert search(q="tea", fields="identifier").status_code == 400
    deep = search(q="tea", offset="10000", limit="1").json()
    assert deep == {
        "error": "search_error",
        "error_description": "Request depth (10001) exceeded, limit=10000",
    }


def test_the_items_list_orders_and_pages_as_documented(shop: Callable[..., SandboxServer]) -> None:
    sb = shop()
    ids = [add(sb, f"L-{i}")["item_id"] for i in range(3)]

    def listed(**params: str) -> Any:
        return requests.get(f"{sb.url}/1/items", params=params, headers=BEARER, timeout=5)

    # list_order ascending by default; new items go last (base_api_v1_items_add.md)
    assert [i["item_id"] for i in listed().json()["items"]] == ids
    newest = listed(order="created", sort="desc", limit="2").json()["items"]
    assert [i["item_id"] for i in newest] == ids[:0:-1]
    rest = listed(order="created", sort="desc", limit="2", offset="2").json()["items"]
    assert [i["item_id"] for i in rest] == ids[:1]
    assert listed(limit="101").status_code == 400  # limit MAX 100
    assert listed(order="price").status_code == 400


def test_find_walks_the_newest_items_back_to_the_first_try(
    shop: Callable[..., SandboxServer],
) -> None:
    # Given a shop with 150 items added yesterday and one just now
    clock = ManualClock()
    sb = shop(clock)
    for i in range(150):
        add(sb, f"OLD-{i}")
    clock.advance(86400)
    fresh = add(sb, "NEW-1")
    client = BaseClient(sb.url, StaticToken("t"), 5)
    # When the client looks up SKUs whose first try began a minute ago
    since = clock.time() - 60
    assert client.find("NEW-1", since=since) == str(fresh["item_id"])
    assert client.find("NEVER-SENT", since=since) is None
    # Then each lookup took one page; without a bound the whole shop is read (two pages)
    assert calls(sb, "base.items_list") == 2
    assert client.find("OLD-0") is not None
    assert calls(sb, "base.items_list") == 4


def test_a_fresh_token_refused_too_stops_rather_than_failing_the_call(
    shop: Callable[..., SandboxServer],
) -> None:
    # Given a token source whose every token BASE refuses (here: one the sandbox has expired)
    clock = ManualClock()
    sb = shop(clock, base_expires_in=10)
    token = base_refresh(sb.url).json()
    clock.advance(10)
    client = BaseClient(sb.url, StaticToken(token["access_token"]), 5)
    # When a call is made, Then it is tried twice and stops with one line to authorise again
    with pytest.raises(ConfigError, match="BASE refused a fresh access token .*authorise again"):
        client.edit_item("100001", 1000, 1)
    assert calls(sb, "base.items_edit") == 2


def test_an_edit_of_an_unknown_item_is_a_clear_failure(shop: Callable[..., SandboxServer]) -> None:
    sb = shop()
    client = BaseClient(sb.url, StaticToken("t"), 5)
    client.edit_item("100042", 1500, 2)  # one of the shop's items from before
    with pytest.raises(Rejected) as e:
        client.edit_item("777", 1500, 2)
    assert str(e.value) == "BASE items/edit: HTTP 400 bad_item_id: 不正なitem_idです。"


# -- the upload daemon against a real sandbox process ------------------------------------------


def uploaded(rig: Rig) -> int:
    with rig.db() as db:
        row = db.execute(
            "SELECT COUNT(*) FROM listings WHERE platform = 'base' AND state = 'uploaded'"
        ).fetchone()
    return int(row[0])


def endpoint(rig: Rig, key: str) -> int:
    return int(rig.stats()["endpoints"][key]["requests"])


def spend_refresh_token(rig: Rig) -> None:
    """Exchange the sandbox-mode refresh token once, as a lost answer would have."""
    creds = env_credentials("BASE", sandbox=True, redirect=True)
    assert base_refresh(rig.url, creds).status_code == 200


@pytest.mark.process
@pytest.mark.timeout(120)
def test_an_access_token_refused_with_400_is_refreshed_once(tmp_path: Path, reaper: Reaper) -> None:
    # Given a cached BASE token the home believes good for an hour, which BASE has expired
    rig = Rig(tmp_path, reaper, "--base-expires-in", "2")
    cache = OAuthTokens(
        "base",
        rig.home / "secrets",
        f"{rig.url}/1/oauth/token",
        env_credentials("BASE", sandbox=True, redirect=True),
        rotates=True,
        clock=lambda: time.time() + 3600,
        refused=TOKEN_REFUSED,
    )
    stale = cache.token()
    wait_for(
        lambda: (
            requests.get(
                f"{rig.url}/1/items", headers={"Authorization": f"Bearer {stale}"}, timeout=5
            ).status_code
            == 400
        ),
        10,
        "the sandbox to expire the token",
    )
    # When the upload daemon runs a cycle
    done = rig.run("ecauto.daemons.upload", "--platform", "base", "--once")
    # Then the 400 made it refresh once, and the listings went through
    assert done.returncode == 0, done.stderr
    assert uploaded(rig) == 2
    assert endpoint(rig, "base.token") == 2  # the cache's, and the one refresh
    assert rig.stats()["listings"]["base"] == {"created": 2, "duplicates": 0, "failed": 0}


@pytest.mark.process
@pytest.mark.timeout(120)
def test_a_refused_refresh_token_stops_the_daemon_with_one_line(
    tmp_path: Path, reaper: Reaper
) -> None:
    # Given a refresh token BASE has already exchanged (so it answers invalid_request)
    rig = Rig(tmp_path, reaper)
    spend_refresh_token(rig)
    # When the upload daemon starts, to run every 2 s
    p = rig.upload("base")
    _, err = p.communicate(timeout=60)
    # Then it stops at once with the one line the README promises, exit 78, nothing retried
    said = [ln for ln in err.splitlines() if "refresh token" in ln]
    assert p.returncode == 78, err
    assert said == [
        "upload-base: base: the refresh token was refused (不正なリフレッシュトークンです。); "
        "authorise again and set a new refresh token"
    ], err
    assert endpoint(rig, "base.token") == 2  # ours, and the daemon's one try
    assert endpoint(rig, "base.items_add") == 0


@pytest.mark.process
@pytest.mark.timeout(120)
def test_a_crash_after_the_add_reached_base_lists_nothing_twice(
    tmp_path: Path, reaper: Reaper
) -> None:
    # Given BASE's search an hour behind (the sandbox's default) and an add whose answer is slow
    rig = Rig(tmp_path, reaper)
    rig.fault(endpoint="base.items_add", mode="slow", delay_s=60, seconds=120)
    p = rig.upload("base")
    # When the daemon is killed once the add has created the item, before the answer came
    wait_for(lambda: rig.stats()["listings"]["base"]["created"] == 1, 30, "the first add")
    send_signal(p.pid, signal.SIGKILL)
    p.wait(timeout=10)
    requests.delete(f"{rig.url}/_sandbox/faults", headers=sandbox_headers(rig.home), timeout=5)
    store = Store(rig.home / "ecauto.db")
    (caught,) = store.in_flight("base")
    # And it starts again
    done = rig.run("ecauto.daemons.upload", "--platform", "base", "--once")
    # Then the caught listing is found on BASE, not sent again, and the queue moves on
    assert done.returncode == 0, done.stderr
    row = store.db.execute(
        "SELECT state, remote_id FROM listings WHERE id = ?", (caught.id,)
    ).fetchone()
    assert row[0] == "uploaded" and row[1].isdigit()
    assert rig.stats()["listings"]["base"] == {"created": 3, "duplicates": 0, "failed": 0}
    assert endpoint(rig, "base.items_list") == 1  # the lookup: one page of the newest items
    assert endpoint(rig, "base.items_search") == 0
    store.close()


@pytest.mark.process
@pytest.mark.timeout(120)
def test_a_price_push_to_an_unknown_item_is_a_clear_failure(tmp_path: Path, reaper: Reaper) -> None:
    # Given a product whose BASE item id the shop does not have (deleted, or mistyped)
    rig = Rig(tmp_path, reaper, products=20)
    store = Store(rig.home / "ecauto.db")
    assert store.seed_demo(20, 0, ["base"], time.time())
    store.db.execute("UPDATE products SET base_item_id = '777' WHERE sku = 'SKU-00003'")
    store.db.commit()
    # When the sync runs a cycle
    done = rig.sync_once()
    # Then that push fails with BASE's own words, the others go through, and nothing was created
    failed = [ln for ln in done.stderr.splitlines() if "price push failed" in ln]
    assert len(failed) == 1, done.stderr
    assert 'error="BASE items/edit: HTTP 400 bad_item_id: 不正なitem_idです。"' in failed[0]
    rows = dict(store.db.execute("SELECT sku, base_pushed_at FROM products").fetchall())
    assert rows.pop("SKU-00003") is None
    edits = rig.stats()["endpoints"]["base.items_edit"]
    assert edits["errors"] == 1 and edits["ok"] == sum(at is not None for at in rows.values()) > 0
    store.close()
