"""The dashboard's words and times as an operator reads them (pure: templates rendered, no server).

The browser tests (tests/test_dashboard.py) see the same templates on a real instance.
"""

from __future__ import annotations

import html as html_mod
import re
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from ecauto.dashboard.app import environment, log_stamp, now_view, stamp, zone
from ecauto.dashboard.read import RANGES, Work
from ecauto.words import common
from ecauto.words.dashboard import DASHBOARD
from ecauto.words.launcher import LAUNCHER
from watchdog import report as report_mod
from watchdog.report import DaemonRow, Report

NOW = 1_796_156_026.578  # 2026-12-01T20:13:46.578Z


@pytest.fixture
def tokyo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process's zone as the operator's machine has it, for the test only."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def text_of(html: str) -> str:
    return html_mod.unescape(re.sub(r"<[^>]+>", "", html))


def _report(now: float) -> Report:
    died = DaemonRow(
        "upload-ebay",
        "running",
        42,
        5.0,
        1.0,
        "working",
        1,
        2,
        unit="listings",
        last_success_at=now - 60,
        last_death_at=now - 3,
        last_death="killed by SIGKILL",
        died_in_window=1,
        requested_in_window=0,
    )
    circusd = {"state": "running", "pid": 40, "detail": ""}
    return Report("ok", now, "/h", "shop", circusd, (died, DaemonRow("dashboard", "running")), ())


def test_tooltips_and_the_page_say_local_time_and_its_zone(tokyo: None) -> None:
    assert stamp(NOW) == "2026-12-02 05:13:46 JST"
    assert log_stamp("2026-12-01T20:13:46.578Z") == "2026-12-02 05:13:46 JST"
    assert zone(NOW) == "JST"
    env = environment("ja")
    line = {"at": "2026-12-01T20:13:46.578Z", "level": "INFO", "daemon": "watchdog", "text": "x"}
    logs = env.get_template("_logs.html").render(
        logs=[line], log_names=[], daemon="", level="", span="6h"
    )
    assert 'title="2026-12-02 05:13:46 JST"' in logs and ">05:13:46</time>" in logs
    shown = now_view(_report(NOW), "ja", NOW, 8.0)
    now = env.get_template("_now.html").render(shown, signed_in=False, restartable=(), now=NOW)
    assert 'title="2026-12-02 05:12:46 JST"' in now  # the last success, as the report's header
    assert not re.search(r'title="[^"]*Z"', logs + now)


def test_the_now_headers_are_the_report_columns_its_legend_names() -> None:
    for lang in ("ja", "en"):
        shown = now_view(_report(NOW), lang, NOW, 8.0)
        html = (
            environment(lang)
            .get_template("_now.html")
            .render(shown, signed_in=False, restartable=(), now=NOW)
        )
        heads = text_of(" | ".join(re.findall(r"<th[^>]*>(.*?)</th>", html)))
        words = [report_mod.REPORT.say(lang, f"col.{c}") for c in report_mod.COLUMNS]
        for w in words:  # every column the report has, LAST DEATH too
            assert w in heads, (lang, w, heads)
        legend = " ".join(shown["legend"])
        named = [w for w in words if re.search(rf"(^|[ 。;]){re.escape(w)}:", legend)]
        assert len(named) >= 4, (lang, named)  # UPTIME, BEAT, PROGRESS, LAST OK, RESTARTS
        for old in ("稼働時間", "最終応答", "進み具合", "最後の成功", "再起動（1時間）"):
            assert old not in heads
        # the death in its own column, as the report says it
        death = report_mod.cells(_report(NOW).daemons[0], NOW, lang)["last_death"]
        assert f">{death}</td>" in html


def test_the_secret_has_the_launchers_name_and_the_page_says_where_it_is() -> None:
    assert "秘密の鍵" in LAUNCHER.say("ja", "dashboard", url="u", lan="", link="l")
    for key, forms in DASHBOARD.entries.items():
        assert "合言葉" not in forms["ja"], key
    for lang in ("ja", "en"):
        login = text_of(
            environment(lang, "/h/secrets/dashboard.key").get_template("login.html").render()
        )
        assert f"{common.shim()} run" in login and "/h/secrets/dashboard.key" in login, login
    assert "秘密の鍵" in DASHBOARD.say("ja", "refused_secret")


def test_the_page_says_it_cannot_restart_itself_and_what_to_type() -> None:
    for lang in ("ja", "en"):
        said = DASHBOARD.say(lang, "restart_self", shim="./ecauto.sh", path="")
        assert "`./ecauto.sh restart dashboard`" in said


def test_range_buttons_are_in_the_operators_language_and_keep_their_values() -> None:
    html = environment("ja").get_template("_quotas.html").render(quotas=[], span="6h")
    links = re.findall(r'<a href="\?range=([^"#]+)#quotas"[^>]*>([^<]*)</a>', html)
    assert links == [
        ("1h", "1時間"),
        ("6h", "6時間"),
        ("24h", "24時間"),
        ("7d", "7日"),
        ("30d", "30日"),
    ]
    assert [r for r, _ in links] == list(RANGES)


def test_the_upload_queue_names_platforms_as_the_alerts_do() -> None:
    work = Work(
        runs=(),
        queue={"base": {"queued": 1}, "ebay": {"failed": 1}, "yahoo": {"uploaded": 2}},
        failed=({"id": 7, "platform": "ebay", "sku": "s", "attempts": 5, "last_error": ""},),
    )
    html = (
        environment("ja")
        .get_template("_work.html")
        .render(work=work, runs=[], durations=[], signed_in=False)
    )
    names = re.findall(r'<tr data-platform="([a-z]+)"><td>([^<]+)</td>', html)
    assert names == [("base", "BASE"), ("ebay", "eBay"), ("yahoo", "Yahoo")]
    assert '<td data-platform="ebay">eBay</td>' in html


def test_what_the_watchdog_found_names_its_kind_in_words() -> None:
    from watchdog.findings import Do, Finding, Kind, Severity

    found = Finding(Kind.DUPLICATE, Severity.WARNING, "upload-ebay", "a copy", Do.TERMINATE)
    report = replace(_report(NOW), findings=(found,))
    for lang, said in (("ja", "二重起動 (duplicate)"), ("en", "duplicate")):
        html = (
            environment(lang)
            .get_template("_now.html")
            .render(now_view(report, lang, NOW, 8.0), signed_in=False, restartable=(), now=NOW)
        )
        (item,) = re.findall(r'<li class="warning" data-kind="duplicate".*?</li>', html, re.S)
        assert f"</b> {said} upload-ebay:" in item, item
