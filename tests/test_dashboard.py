"""The dashboard in a real browser (Debian's chromium, driven by Playwright) against a real instance.

Each test starts its own instance (circusd, the sandbox, every daemon, the dashboard watcher) in
its own home and ports, and a headless chromium with a fresh profile; both are ended by pid.
Screenshots go to docs/ when ECAUTO_SCREENSHOTS=1 (README "Dashboard" shows them).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from support import CHROMIUM, CHROMIUM_ARGS, REPO, Instance, Reaper, read_hb, wait_for

from ecauto.dashboard import guard
from ecauto.words.dashboard import DASHBOARD
from ecauto.words.findings import FINDINGS
from ecauto.words.report import REPORT, death

pytestmark = [
    pytest.mark.process,
    pytest.mark.timeout(240),
    # Debian's chromium on Linux (CI); scripts/test installs it there.
    pytest.mark.skipif(os.name == "nt", reason="the browser tests run on Linux"),
]

ARGS = CHROMIUM_ARGS


@pytest.fixture
def inst(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Instance]:
    reaper = Reaper()
    # a test marked `japanese` sees the page as the shipped ecauto.toml has it (ui.language "ja")
    ja = request.node.get_closest_marker("japanese") is not None
    i = Instance(tmp_path, reaper, config_extra='\n[ui]\nlanguage = "ja"\n' if ja else "")
    with i:
        # circusd says "active" at the spawn; the page answers once uvicorn listens.
        wait_for(lambda: requests.get(f"{i.dashboard_url}/metrics", timeout=5).ok, 30, "the page")
        yield i


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} missing: .ci/run installs Debian's chromium"
    profile = tmp_path / "chromium-profile"
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


def secret(inst: Instance) -> str:
    return guard.load_secret(inst.home)


def open_page(browser: Any, inst: Instance, signed_in: bool = True) -> Any:
    page = browser.pages[0] if browser.pages else browser.new_page()
    url = f"{inst.dashboard_url}/login?key={secret(inst)}" if signed_in else inst.dashboard_url
    page.goto(url)
    page.wait_for_selector("tr[data-daemon]")
    return page


def rows(page: Any) -> dict[str, dict[str, str]]:
    return page.eval_on_selector_all(
        "tr[data-daemon]",
        "els => Object.fromEntries(els.map(e => [e.dataset.daemon,"
        " {state: e.dataset.state, pid: e.dataset.pid, css: e.dataset.css}]))",
    )


def all_green(page: Any, inst: Instance) -> None:
    wait_for(
        lambda: (
            all(r["css"] == "good" for r in rows(page).values())
            and set(rows(page)) == set(inst.watchers)
        ),
        30,
        "every daemon's row green",
    )


def shot(page: Any, name: str, tmp_path: Path) -> Path:
    folder = REPO / "docs" if os.environ.get("ECAUTO_SCREENSHOTS") == "1" else tmp_path
    path = folder / name
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.mark.japanese
def test_the_page_shows_every_daemon_running_as_the_report_does(
    inst: Instance, browser: Any, tmp_path: Path
) -> None:
    page = open_page(browser, inst)
    all_green(page, inst)
    seen = rows(page)
    assert {n: r["state"] for n, r in seen.items()} == {n: "running" for n in inst.watchers}
    assert page.get_attribute("#status", "data-status") == "ok"
    assert page.inner_text("#status") == "正常" and "現在の状態" in page.inner_text("#now")
    # in the operator's words, the report's own: 稼働中, not "running"
    for n in inst.watchers:
        assert page.inner_text(f'tr[data-daemon="{n}"] td.state') == REPORT.say(
            "ja", "state.running"
        )
    assert not re.search(r"\b(running|sleeping|working)\b", page.inner_text("#now"))
    # The page's figures are `watchdog report`'s: the same look, the same build.
    code, report = inst.watchdog("report")
    assert code == 0 and report["status"] == "ok"
    assert {d["name"]: (d["state"], str(d["pid"])) for d in report["daemons"]} == {
        n: (r["state"], r["pid"]) for n, r in seen.items()
    }
    shown = requests.get(f"{inst.dashboard_url}/api/report", timeout=10).json()
    assert [(d["name"], d["state"], d["pid"]) for d in shown["daemons"]] == [
        (d["name"], d["state"], d["pid"]) for d in report["daemons"]
    ]
    assert shown["status"] == report["status"]
    shot(page, "dashboard.png", tmp_path)


@pytest.mark.japanese
def test_on_a_phone_the_now_part_fits_the_screen_and_shows_every_daemons_state(
    inst: Instance, browser: Any, tmp_path: Path
) -> None:
    page = open_page(browser, inst)
    page.set_viewport_size({"width": 390, "height": 844})  # an iPhone 12 to 15, in CSS pixels
    all_green(page, inst)
    # Nothing to scroll sideways: not the page, not the Now part, not a box inside it (the
    # table's own scroller), and no cell drawn past the screen's right edge.
    fit = page.evaluate(
        """() => {
          const s = document.getElementById('now');
          const inner = [...s.querySelectorAll('*')].map(e => e.scrollWidth - e.clientWidth);
          const right = [...s.querySelectorAll('td, th, li, p, h2, h3')]
            .map(e => e.getBoundingClientRect()).filter(r => r.width > 0).map(r => r.right);
          return {page: document.scrollingElement.scrollWidth, screen: innerWidth,
                  now: s.scrollWidth - s.clientWidth, inner: Math.max(0, ...inner),
                  right: Math.max(0, ...right)};
        }"""
    )
    assert fit["screen"] == 390
    assert fit["page"] <= 390 and fit["now"] <= 0 and fit["inner"] <= 0, fit
    assert fit["right"] <= 390, fit
    # each state cell read in one go: the live refresh replaces the part every second
    cells = page.eval_on_selector_all(
        "tr[data-daemon] td.state",
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return [e.parentElement.dataset.daemon, r.x, r.width, r.height, e.innerText]; })",
    )
    assert sorted(c[0] for c in cells) == sorted(inst.watchers)
    for n, x, w, h, text in cells:
        assert w > 0 and h > 0, (n, w, h)
        assert 0 <= x and x + w <= 390, (n, x, w)
        assert text == REPORT.say("ja", "state.running")
    shot(page, "dashboard-phone.png", tmp_path)


@pytest.mark.japanese
def test_a_daemon_killed_with_sigkill_turns_red_and_back(inst: Instance, browser: Any) -> None:
    page = open_page(browser, inst)
    wait_for(lambda: rows(page)["upload-ebay"]["css"] == "good", 30, "upload-ebay green")
    old = inst.pid("upload-ebay")
    killed = time.monotonic()
    os.kill(old, signal.SIGKILL)
    # circusd respawns it within a second or two; the death stays red for died_red_s (8 s in
    # the tests' config), the page refreshes every second and reads at most 1.5 s old figures.
    wait_for(lambda: rows(page)["upload-ebay"]["css"] == "bad", 8, "upload-ebay red")
    red_after = time.monotonic() - killed
    # in the operator's words: "SIGKILL で強制終了", in the row and in the incidents
    killed_by = death("killed by SIGKILL", "ja")
    assert killed_by in page.inner_text('tr[data-daemon="upload-ebay"]')
    died = f'#incidents li[data-kind="died"]:has-text("pid {old} が")'
    wait_for(lambda: page.locator(died).count() == 1, 10, "the death in the incidents")
    assert killed_by in page.inner_text(died) and "killed by" not in page.inner_text("#incidents")
    new = inst.replaced("upload-ebay", old)
    wait_for(
        lambda: (r := rows(page)["upload-ebay"])["css"] == "good" and r["pid"] == str(new),
        8 + 10,
        "upload-ebay green again under its new pid",
    )
    assert red_after < 8


def test_the_quota_graph_has_points_after_a_sync(inst: Instance, browser: Any) -> None:
    wait_for(
        lambda: (hb := read_hb(inst.home, "sync-inventory")) and hb.last_success_at,
        90,
        "a sync cycle done",
    )
    page = open_page(browser, inst)
    page.goto(f"{inst.dashboard_url}/?range=1h")
    spapi = 'figure[data-key^="spapi/getCompetitivePricing/"]'
    wait_for(lambda: int(page.get_attribute(spapi, "data-points") or 0) > 0, 10, "SP-API points")
    assert page.locator(f"{spapi} svg rect").count() > 0
    base = 'figure[data-key="base/shop/hour"]'
    wait_for(lambda: int(page.get_attribute(base, "data-granted") or 0) > 0, 10, "BASE calls")
    assert page.locator("tr[data-run]").count() >= 1


def test_a_restart_clicked_in_the_page_gives_a_new_pid(inst: Instance, browser: Any) -> None:
    page = open_page(browser, inst)
    old = inst.pid("upload-base")
    page.click('button.restart[data-watcher="upload-base"]')
    new = inst.replaced("upload-base", old)
    assert new != old
    wait_for(lambda: "upload-base" in page.inner_text("#said"), 10, "the page's answer")
    wait_for(lambda: rows(page)["upload-base"]["pid"] == str(new), 15, "the new pid shown")
    # The page's own watcher: not from the page (the answer would never come), but what to type.
    page_pid = inst.pid("dashboard")
    s = secret(inst)
    self_restart = requests.post(
        f"{inst.dashboard_url}/action/restart",
        data={"watcher": "dashboard", "csrf": guard.csrf(s)},
        cookies={guard.COOKIE: guard.session(s)},
        headers={"Accept": "application/json"},
        timeout=10,
    )
    assert self_restart.status_code == 409
    assert "`./ecauto.sh restart dashboard`" in self_restart.json()["message"]
    assert inst.pid("dashboard") == page_pid
    events = (inst.home / "watchdog" / "events.jsonl").read_text().splitlines()
    done = [json.loads(e) for e in events if '"dashboard_action"' in e]
    assert [(e["action"], e["daemon"], e["result"]) for e in done] == [
        ("restart", "upload-base", "done")
    ]


@pytest.mark.japanese
def test_a_failed_listing_retried_in_the_page_is_uploaded_and_a_test_alert_reaches_chatwork(
    inst: Instance, browser: Any, tmp_path: Path
) -> None:
    # One listing given up for good, as the upload daemon leaves one after its last try (one it
    # had in fact listed: its answer was lost), ahead of the queue by its id.
    db = sqlite3.connect(inst.home / "ecauto.db", timeout=10)
    wait_for(
        lambda: db.execute(
            "SELECT 1 FROM listings WHERE platform = 'ebay' AND state = 'uploaded'"
        ).fetchone(),
        30,
        "a listing uploaded to eBay",
    )
    with db:
        lid, sku = db.execute(
            "SELECT id, sku FROM listings WHERE platform = 'ebay' AND state = 'uploaded'"
            " ORDER BY id LIMIT 1"
        ).fetchone()
        db.execute(
            "UPDATE listings SET state = 'failed', attempts = 5, last_error = ? WHERE id = ?",
            ("HTTP 500 from eBay (seeded by the test)", lid),
        )
    page = open_page(browser, inst)
    retry = f'tr[data-listing="{lid}"] button.retry'
    page.wait_for_selector(retry)
    assert "seeded by the test" in page.inner_text(f'tr[data-listing="{lid}"]')
    shot(page, "dashboard-work.png", tmp_path)
    page.click(retry)
    wait_for(lambda: f"出品 {lid}" in page.inner_text("#said"), 10, "the page's answer")

    def state() -> str:
        row = db.execute("SELECT state FROM listings WHERE id = ?", (lid,)).fetchone()
        return str(row[0])

    wait_for(lambda: state() == "uploaded", 60, f"listing {lid} uploaded after the retry")
    page.click("#test-alert")
    said = DASHBOARD.say("ja", "alert_queued")
    wait_for(lambda: said in page.inner_text("#said"), 10, "the test alert queued")
    journal = inst.home / "sandbox" / "chatwork.jsonl"

    def received() -> list[str]:
        lines = journal.read_text(encoding="utf-8").splitlines() if journal.exists() else []
        return [str(json.loads(ln).get("body", "")) for ln in lines]

    wait_for(
        lambda: any("テスト通知" in b for b in received()),
        30,
        "the test alert in the sandbox's Chatwork",
    )
    # what the operator's phone shows: the Japanese headline, and nothing to do
    (body,) = [b for b in received() if "テスト通知" in b]
    assert body.startswith("[ecauto] 注意 テスト通知\n")
    assert FINDINGS.say("ja", "dashboard.test_alert") in body
    assert "不要（テストです）" in body and "test alert" not in body
    # and the page's incidents say what was done, in Japanese
    page.reload()
    page.wait_for_selector("#incidents li")
    incidents = page.inner_text("#incidents")
    assert FINDINGS.say("ja", "dashboard.retried", id=lid, sku=sku) in incidents
    assert "queued again" not in incidents
    db.close()
    events = (inst.home / "watchdog" / "events.jsonl").read_text().splitlines()
    done = [json.loads(e) for e in events if '"dashboard_action"' in e]
    assert [(e["action"], e["result"]) for e in done] == [
        ("retry", "queued"),
        ("test_alert", "queued"),
    ]


def test_actions_without_the_secret_or_from_another_site_are_refused(
    inst: Instance, browser: Any, tmp_path: Path
) -> None:
    url = inst.dashboard_url
    old = inst.pid("upload-yahoo")
    s = secret(inst)
    cookie = {guard.COOKIE: guard.session(s)}
    form = {"watcher": "upload-yahoo", "csrf": guard.csrf(s)}
    # no secret (no cookie), a wrong cookie, no CSRF token, another site's Origin, another Host
    refused = [
        requests.post(f"{url}/action/restart", data=form, timeout=10),
        requests.post(
            f"{url}/action/restart", data=form, cookies={guard.COOKIE: "0" * 64}, timeout=10
        ),
        requests.post(f"{url}/action/restart", data={"watcher": "upload-yahoo"}, cookies=cookie),
        requests.post(
            f"{url}/action/restart",
            data=form,
            cookies=cookie,
            headers={"Origin": "http://evil.example"},
        ),
        requests.post(
            f"{url}/action/restart", data=form, cookies=cookie, headers={"Host": "evil.example"}
        ),
    ]
    assert [r.status_code for r in refused] == [403] * 5
    # without the secret, the answer says where it is
    assert (
        str(guard.key_path(inst.home)) in refused[0].text and "./ecauto.sh run" in refused[0].text
    )
    # The browser, signed in, then sent a form by another page (another origin).
    open_page(browser, inst)
    evil = browser.new_page()
    evil.route(
        "http://evil.test/",
        lambda route: route.fulfill(
            content_type="text/html",
            body=f'<form id="f" method="post" action="{url}/action/restart">'
            '<input name="watcher" value="upload-yahoo"></form>'
            "<script>document.getElementById('f').submit()</script>",
        ),
    )
    evil.goto("http://evil.test/")
    evil.wait_for_load_state()
    wait_for(lambda: evil.url.startswith(url), 10, "the other page's form sent")
    assert re.search(r"Refused|拒否", evil.inner_text("body"))
    # Nothing was restarted, and every refusal is in the events.
    assert inst.pid("upload-yahoo") == old
    events = (inst.home / "watchdog" / "events.jsonl").read_text().splitlines()
    results = [json.loads(e)["result"] for e in events if '"dashboard_action"' in e]
    assert results == ["refused"] * 6


def test_metrics_parse_in_the_prometheus_text_format(inst: Instance) -> None:
    text = requests.get(f"{inst.dashboard_url}/metrics", timeout=10).text
    sample = re.compile(r'^([a-z_]+)(\{([a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*)\})? (-?[0-9.e+]+)$')
    values: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        m = sample.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = dict(re.findall(r'([a-z_]+)="([^"]*)"', m.group(3) or ""))
        values.setdefault(m.group(1), {})[labels.get("daemon", "")] = float(m.group(5))
    assert values["ecauto_up"] == {n: 1.0 for n in inst.watchers}
    assert values["ecauto_status"] == {"": 0.0}
    assert "ecauto_quota_use_ratio" in values and "ecauto_queue_listings" in values
