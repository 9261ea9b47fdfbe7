"""The dashboard's pure parts and its history: guard, quota history written by real gates, bars,
metrics, the row colours. (tests/test_dashboard.py drives the whole page in a browser.)"""

from __future__ import annotations

import html as html_mod
import os
import re
import sys
from pathlib import Path

import pytest
from support import REPO, Reaper, start_process, wait_for

from ecauto.config import Config
from ecauto.dashboard import charts, guard, metrics
from ecauto.dashboard.app import environment, now_view, row_class
from ecauto.dashboard.read import BARS, Reader, Work, limiter, read_only, tail_log
from ecauto.home import Home
from ecauto.quota import QuotaStore, TokenGate, WindowGate, history, sleep_wait
from ecauto.quota.rules import Window
from ecauto.words import common
from watchdog import report as report_mod
from watchdog.alerts.outbox import Outbox
from watchdog.findings import Do, Finding, Kind, Severity
from watchdog.report import DaemonRow, Report

SECRET = "ab" * 32
HOST = "127.0.0.1:8780"


def test_an_action_needs_the_session_the_token_and_this_page_as_origin() -> None:
    ok = {guard.COOKIE: guard.session(SECRET)}
    token = guard.csrf(SECRET)
    assert guard.refusal(SECRET, ok, token, None, HOST, 8780, False) is None
    assert guard.refusal(SECRET, ok, token, f"http://{HOST}", HOST, 8780, False) is None
    assert guard.refusal(SECRET, {}, token, None, HOST, 8780, False) == "refused_secret"
    wrong = {guard.COOKIE: guard.session("cd" * 32)}
    assert guard.refusal(SECRET, wrong, token, None, HOST, 8780, False) == "refused_secret"
    assert guard.refusal(SECRET, ok, "", None, HOST, 8780, False) == "refused_csrf"
    assert guard.refusal(SECRET, ok, token, "http://evil.example", HOST, 8780, False) == (
        "refused_origin"
    )
    assert guard.refusal(SECRET, ok, token, "null", HOST, 8780, False) == "refused_origin"
    # a DNS-rebinding page reaches 127.0.0.1 under its own name
    assert guard.refusal(SECRET, ok, token, None, "evil.example:8780", 8780, False) == (
        "refused_host"
    )
    assert guard.refusal(SECRET, ok, token, None, "192.168.1.5:8780", 8780, True) is None
    assert guard.session(SECRET) != SECRET and guard.csrf(SECRET) != guard.session(SECRET)


def test_the_secret_is_made_once_owner_only(tmp_path: Path) -> None:
    s = guard.load_secret(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{64}", s) and guard.load_secret(tmp_path) == s
    assert guard.key_path(tmp_path).stat().st_mode & 0o077 == 0


def test_gates_write_the_history_in_their_own_transaction(tmp_path: Path) -> None:
    store = QuotaStore(tmp_path / "quota.db")
    now = [1_800_000_000.0]
    bucket = TokenGate(store, "spapi/op/M", 10.0, 5, sleep_wait, clock=lambda: now[0])
    for _ in range(3):
        bucket.settle(bucket.acquire())
    bucket.refused(bucket.acquire())
    windows = [Window("hour", 3600, 100), Window("day", 86400, 1000)]
    shop = WindowGate(store, "base/shop", windows, sleep_wait, clock=lambda: now[0])
    shop.acquire()
    shop.acquire()
    shop.refused("hour")
    rows = {r.key: r for r in history.since(store.db, now[0] - 60)}
    assert (rows["spapi/op/M"].granted, rows["spapi/op/M"].throttled) == (4, 1)
    assert rows["spapi/op/M"].quota == 600.0 and rows["spapi/op/M"].used is None
    hour = rows["base/shop/hour"]
    assert (hour.granted, hour.throttled, hour.quota, hour.used) == (2, 1, 100.0, 100)
    assert (rows["base/shop/day"].granted, rows["base/shop/day"].used) == (2, 2)
    bins = {b.key: b for b in history.binned(store.db, now[0] - 3600, 60)}
    assert (bins["spapi/op/M"].granted, bins["base/shop/hour"].used) == (4, 100)
    hourly = {b.key: b for b in history.binned(store.db, now[0] - 30 * 86400, 12 * 3600)}
    assert (hourly["spapi/op/M"].granted, hourly["base/shop/day"].used) == (4, 2)
    drawn = limiter("base/shop/hour", [bins["base/shop/hour"]], now[0], 3600)
    assert (drawn.granted, drawn.throttled, drawn.now_share) == (2, 1, 1.0)
    # a month and a day (and an hour) later, the first new minute and hour prune the old rows
    now[0] += history.KEEP_S + 3600
    shop.acquire()
    assert {r.key for r in history.since(store.db, 0)} == {"base/shop/hour", "base/shop/day"}
    assert all(r.minute == int(now[0] // 60) for r in history.since(store.db, 0))
    kept = store.db.execute("SELECT DISTINCT key FROM quota_hourly").fetchall()
    assert sorted(k for (k,) in kept) == ["base/shop/day", "base/shop/hour"]
    store.close()


def test_bars_show_a_bucket_against_its_rate_and_a_window_against_its_limit() -> None:
    now = 1_800_000_000.0
    minute = int(now // 60)
    bucket = [history.Bin("spapi/op/M", BARS - 1, 30, 2, 30.0, None, minute - 1)]
    lim = limiter("spapi/op/M", bucket, now, 3600)
    assert len(lim.bars) == BARS and lim.points == 1 and lim.throttled == 2
    assert lim.bars[-1].share == 30 / 30.0  # 30 calls in a one-minute bar allowing 30
    window = [history.Bin("base/shop/hour", BARS - 1, 1, 0, 100.0, 80, minute)]
    w = limiter("base/shop/hour", window, now, 3600)
    assert w.measure == "hour" and w.now_share == 0.8 and w.label == "BASE"
    svg = charts.quota_chart(lim.bars, lim.label)
    assert 'data-points="1"' in svg and 'class="throttled"' in svg


def test_rows_are_red_unless_running_and_for_a_fresh_death_nobody_asked_for() -> None:
    run = {"state": "running", "last_death_at": None, "last_death": None}
    assert row_class(run, 100.0, 30) == "good"
    assert row_class(dict(run, state="hung"), 100.0, 30) == "bad"
    died = dict(run, last_death_at=90.0, last_death="killed by SIGKILL")
    assert row_class(died, 100.0, 30) == "bad" and row_class(died, 130.0, 30) == "good"
    asked = dict(died, last_death="exit 0 (requested)")
    assert row_class(asked, 100.0, 30) == "good"
    assert row_class(dict(run, state="off (live mode)"), 100.0, 30) == "neutral"


def test_metrics_are_language_neutral_prometheus_text() -> None:
    report = {
        "status": "warning",
        "daemons": [
            {
                "name": "upload-base",
                "state": "running",
                "restarts_in_window": 1,
                "heartbeat_age_s": 0.5,
            },
            {
                "name": "sandbox",
                "state": "stopped",
                "restarts_in_window": 0,
                "heartbeat_age_s": None,
            },
        ],
        "alerts_pending": 2,
    }
    work = Work(({"started_at": 10.0, "finished_at": 40.5},), {"base": {"failed": 3}}, ())
    text = metrics.render(report, (), work)
    assert 'ecauto_up{daemon="upload-base"} 1\n' in text
    assert 'ecauto_up{daemon="sandbox"} 0\n' in text
    assert "ecauto_status 1\n" in text and "ecauto_sync_last_cycle_seconds 30.5\n" in text
    assert 'ecauto_queue_listings{platform="base",state="failed"} 3\n' in text
    assert 'ecauto_heartbeat_age_seconds{daemon="sandbox"}' not in text


def test_a_log_tail_keeps_a_traceback_with_its_event_and_never_reads_a_link(tmp_path: Path) -> None:
    log = tmp_path / "upload-base.log"
    log.write_text(
        "2026-12-01T10:00:00.000Z INFO upload-base[7] started\n"
        "2026-12-01T10:00:01.000Z ERROR upload-base[7] boom\nTraceback (most recent call last):\n"
    )
    lines = tail_log(log, "upload-base")
    assert [(ln.level, ln.text.splitlines()[0]) for ln in lines] == [
        ("INFO", "started"),
        ("ERROR", "boom"),
    ]
    assert "Traceback" in lines[1].text
    (tmp_path / "link.log").symlink_to(log)
    assert tail_log(tmp_path / "link.log", "x") == []


def test_reading_creates_nothing_in_a_fresh_home(tmp_path: Path) -> None:
    assert read_only(tmp_path / "ecauto.db") is None
    reader = Reader(Home(tmp_path), Config(), "circus.ini")
    assert reader.work() == Work((), {}, ())
    quotas = reader.quotas("24h")
    assert {q.key for q in quotas} >= {"base/shop/hour", "base/shop/day", "chatwork"}
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# The two writers of the outbox, each its own process: the watchdog's alerter (one Outbox kept for
# its life) and the dashboard's test-alert action (a fresh one each click). Both wait for `go`.
WRITER = r"""
import sys, time
from pathlib import Path
home, who, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
from ecauto.home import Home
from ecauto.words import common
from watchdog import report as report_mod
from watchdog.alerts.outbox import Outbox
from watchdog.findings import Finding, Kind, Severity
from watchdog.report import DaemonRow, Report
from watchdog.notices import Notice
from ecauto.dashboard import actions
(home / f"ready-{who}").touch()
while not (home / "go").exists():
    time.sleep(0.001)
box = Outbox(home / "watchdog" / "outbox")
for i in range(n):
    if who == "dashboard":
        ok, key, _ = actions.test_alert(Home(home), "sandbox", 1_800_000_000.0 + i, {})
        assert ok, key
    else:
        notice = Notice(f"hung/w{i}", "incident", "critical", "upload-base", f"watchdog {i}", "", {}, 1.0)
        box.append(time.time(), [notice])
"""


@pytest.mark.process
@pytest.mark.timeout(120)
def test_the_dashboards_test_alert_and_the_watchdog_append_at_once_and_lose_no_entry(
    tmp_path: Path,
) -> None:
    n = 40
    (tmp_path / "watchdog").mkdir()
    reaper = Reaper()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    try:
        writers = [
            start_process(
                reaper, [sys.executable, "-c", WRITER, str(tmp_path), who, str(n)], env, REPO
            )
            for who in ("watchdog", "dashboard")
        ]
        # both interpreters up and imported before `go`, so their appends overlap
        wait_for(lambda: len(list(tmp_path.glob("ready-*"))) == 2, 60, "both writers ready")
        (tmp_path / "go").touch()
        assert [w.wait(timeout=90) for w in writers] == [0, 0]
    finally:
        reaper.reap()
    entries = Outbox(tmp_path / "watchdog" / "outbox").entries()
    said = sorted(n.summary for e in entries for n in e.notices)
    assert len(said) == 2 * n, f"{2 * n - len(said)} entries lost"
    assert said.count("test alert from the dashboard: alerts reach this room") == n
    assert len({e.seq for e in entries}) == 2 * n


def _report(now: float) -> Report:
    paused = DaemonRow(
        "sync-inventory",
        "running",
        41,
        3600.0,
        2.0,
        "sleeping",
        16,
        50,
        detail="batch 16 of 50",
        unit="batches",
        paused_at=now - 30,
    )
    failing = DaemonRow(
        "upload-ebay",
        "failing",
        42,
        600.0,
        1.0,
        "working",
        1,
        2,
        unit="listings",
        last_success_at=now - 7200,
        last_error="cycle failed: " + "HTTP 500 from eBay while listing sku-123 " * 4,
    )
    finding = Finding(
        Kind.FAILING,
        Severity.WARNING,
        "upload-ebay",
        "its last 3 cycle(s) failed: boom",
        say=("failing",),
        params={"failures": "3", "error": "boom"},
    )
    circusd = {"state": "running", "pid": 40, "detail": ""}
    return Report("warning", now, "/h", "shop", circusd, (paused, failing), (finding,))


def test_the_now_part_says_the_reports_own_words_in_the_operators_language() -> None:
    now = 1_800_000_000.0
    r = _report(now)
    for lang in ("ja", "en"):
        shown = now_view(r, lang, now, 8.0)
        html = (
            environment(lang)
            .get_template("_now.html")
            .render(shown, signed_in=False, restartable=(), now=now)
        )
        text = html_mod.unescape(re.sub(r"<[^>]+>", "", html))
        sync, ebay = r.daemons
        # state, phase, PROGRESS with its unit, LAST OK (a paused cycle is not a success),
        # LAST ERROR clipped: each as `watchdog report` says it
        for d in r.daemons:
            for col in ("state", "phase", "progress", "last_ok", "last_error", "restarts"):
                said = report_mod.cells(d, now, lang)[col]
                assert said in text, (lang, d.name, col, said)
        assert report_mod.progress_text(sync, lang) in text
        assert report_mod.last_ok_text(sync, now, lang) in text
        assert report_mod.detail_text(sync.detail, now, lang) in text
        assert ebay.last_error is not None and ebay.last_error not in text
        f = r.findings[0]
        assert f.text(lang) in text and f.todo(lang, common.shim()) in text
        assert all(line in text for line in report_mod.legend(r.window_s, lang))
        assert 'data-state="running"' in html  # the machine's word stays for scripts
    ja = re.sub(
        r"<[^>]+>",
        "",
        environment("ja")
        .get_template("_now.html")
        .render(now_view(r, "ja", now, 8.0), signed_in=False, restartable=(), now=now),
    )
    assert "稼働中" in ja and "待機中" in ja and "16/50 バッチ" in ja and "中断" in ja
    assert "running" not in ja and "sleeping" not in ja and "working" not in ja


def test_the_incidents_say_each_kind_and_what_each_action_did_once_in_japanese(
    tmp_path: Path,
) -> None:
    from ecauto.config import UiSettings
    from ecauto.dashboard import actions
    from watchdog.events import EventLog
    from watchdog.notices import Notice

    # Given the page's actions (one refused, recorded under its URL's name), a lock the watchdog
    # removed, a death on a stop request, and an alert still waiting in the outbox
    home = Home(tmp_path)
    home.watchdog.mkdir(parents=True)
    actions.record(home, "test-alert", None, "refused", "dashboard.refused_secret")
    assert '"action": "test_alert"' in (home.watchdog / "events.jsonl").read_text()
    actions.record(home, "test_alert", None, "queued", "dashboard.test_alert_queued", seq=1)
    actions.record(home, "restart", "upload-base", "done", "dashboard.restarted")
    actions.record(home, "retry", "upload-ebay", "queued", "dashboard.retried", id=3, sku="A1")
    now = 1_800_000_000.0
    died = {"kind": "died", "daemon": "dashboard", "pid": 13524, "signal": 15, "requested": True}
    EventLog(home.watchdog / "events.jsonl").append(
        [
            {"at": now, "kind": "stale_lock", "daemon": "upload-base", "action": "remove_lock"}
            | {"result": "removed", "summary": "a lock left over", "severity": "info"},
            {**died, "at": now, "exit_code": None, "life_s": 60.0, "summary": "killed"},
        ]
    )
    hung = Finding(
        Kind.HUNG,
        Severity.WARNING,
        "upload-yahoo",
        "hung",
        Do.ALERT,
        say=("hung.old_beat", "then.restarting"),
        params={"pids": "7", "age_s": "95", "grace_s": "30"},
    )
    waiting = Notice(
        "hung/upload-yahoo", "incident", "warning", "upload-yahoo", "hung", "", {}, now
    )
    waiting = Notice(
        **{**waiting.__dict__, "action": "nothing automatic (what to do is below)"}
        | {"say": hung.say, "params": hung.params}
    )
    Outbox(home.watchdog / "outbox").append(now, [waiting])
    for lang in ("ja", "en"):
        reader = Reader(home, Config(ui=UiSettings(lang)), "circus.ini")
        html = (
            environment(lang).get_template("_incidents.html").render(incidents=reader.incidents())
        )
        text = html_mod.unescape(re.sub(r"<[^>]+>", "", html))
        if lang == "en":
            assert "→ test_alert: refused" in text and "test-alert" not in text, text
            assert "→ nothing automatic (what to do is below)" in text
            continue
        # Then each reads once, in Japanese, with the kind's words and its code for the guide
        for said in (
            "ダッシュボード操作 (dashboard_action)",
            "→ テスト通知: 拒否",
            "→ テスト通知: 受付済み",
            "→ 再起動: 完了",
            "→ 再出品: 受付済み",
            "ロックの残骸 (stale_lock)",
            "→ ロックを削除しました",
            "プロセス終了 (died)",
            "pid 13524 が SIGTERM で終了",
            "応答なし (hung)",
        ):
            assert said in text, (said, text)
        for raw in ("test-alert", ": refused", ": queued", ": done", "削除: 削除", "強制終了"):
            assert raw not in text, (raw, text)
        assert "nothing automatic" not in text and "<b>died</b>" not in html
