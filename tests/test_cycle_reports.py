"""Sync cycle reports to Chatwork: a real store with finished runs, the real alerter over HTTP
against the sandbox's Chatwork (in-process, hand-moved alert clock), and one whole instance.

What is asserted is what the sandbox received: the message text, in both languages.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from support import (
    Clock,
    Instance,
    Reaper,
    Sandbox,
    deliver_all,
    make,
    read_hb,
    sandbox_headers,
    wait_for,
)

from ecauto.config import Config, ConfigError, ReportSettings, UiSettings, parse
from ecauto.home import Home
from ecauto.store import PriceUpdate, Store
from ecauto.words.common import shim
from watchdog import cyclereports
from watchdog.alerts import Alerter, policy
from watchdog.alerts.outbox import Entry
from watchdog.cyclereports import Cycle, ReportState, plan, step
from watchdog.notices import Notice

JST = timezone(timedelta(hours=9), "JST")
# 2026-12-01 08:00 JST, a Tuesday morning.
MORNING = datetime(2026, 12, 1, 8, 0, tzinfo=JST).timestamp()


class Shop:
    """A home whose ecauto.db has finished sync runs and listings, and a watchdog's alerter."""

    def __init__(self, root: Path, sandbox: Sandbox, clock: Clock, lang: str = "ja") -> None:
        self.home = Home(root / "home")
        self.home.watchdog.mkdir(parents=True)
        self.store = Store(self.home.db)
        self.sandbox, self.clock = sandbox, clock
        self.cfg = Config(ui=UiSettings(lang))
        self.alerter = self.restart()

    def restart(self) -> Alerter:
        """A new alerter on the same outbox: what a watchdog restart makes."""
        self.alerter = make(self.home.watchdog / "outbox", self.sandbox.url, self.clock)
        return self.alerter

    def run(
        self,
        started: float,
        took_s: float,
        items: int = 10_772,
        changed: int = 312,
        pushed: int = 298,
        errors: int = 1,
        batches: int = 539,
        state: str = "complete",
    ) -> int:
        """A sync cycle as the sync daemon leaves it: started, counted, finished."""
        run, _ = self.store.join_or_start_run(started, 1.0, 20)
        with self.store.tx() as db:
            db.execute(
                "UPDATE sync_runs SET items = ?, changed = ?, errors = ?, batches = ?,"
                " throttled = 3 WHERE id = ?",
                (items, changed, errors, batches, run),
            )
        self.store.finish_run(run, state, started + took_s, pushed)
        return run

    def listing(self, platform: str, sku: str, at: float, ok: bool) -> None:
        lid = self.store.enqueue(platform, sku, {"title": sku}, at - 1)
        if ok:
            self.store.mark_uploaded(lid, f"r-{sku}", at)
        else:
            self.store.mark_failed(lid, "HTTP 400: bad category", None, at)

    def step(self, now: float, **reports: Any) -> int:
        cfg = replace(self.cfg, reports=ReportSettings(**reports)) if reports else self.cfg
        return step(self.home, cfg, self.alerter, now, JST)

    def received(self) -> list[str]:
        deliver_all(self.alerter, self.clock)
        return [m["body"] for m in self.sandbox.messages()]


@pytest.fixture
def shop(tmp_path: Path, sandbox: Sandbox, clock: Clock) -> Iterator[Shop]:
    s = Shop(tmp_path, sandbox, clock)
    try:
        yield s
    finally:
        s.store.close()


def test_a_finished_cycle_is_reported_once_in_japanese_with_its_figures(shop: Shop) -> None:
    shop.step(MORNING)  # the watchdog was there before the cycle
    run = shop.run(MORNING, 32 * 60)
    shop.listing("base", "a", MORNING + 60, ok=True)
    shop.listing("base", "b", MORNING + 70, ok=True)
    shop.listing("yahoo", "c", MORNING + 80, ok=False)
    shop.listing("ebay", "old", MORNING - 3600, ok=True)  # before the cycle: not this report's

    assert shop.step(MORNING + 33 * 60) == 1

    [body] = shop.received()
    lines = body.splitlines()
    assert lines[0] == "[ecauto] 同期完了 10,772件 32分 エラー0.2%"
    assert len(lines[0]) <= 40  # a phone's notification line
    assert lines[1] == "[info][title]shop-pc[/title]サイクル: #1 12/01 08:00〜08:32 JST"
    for part in (
        "所要時間: 32分",
        "取得 default: 10,772件",
        "価格: 変更312件 反映298件",
        "エラー: 539バッチ中1件失敗 (0.2%)",
        "制限待ち: 3回",
        "出品 BASE: 成功2件 失敗0件",
        "出品 Yahoo: 成功0件 失敗1件",
    ):
        assert part in body
    assert "eBay" not in body
    assert run == 1
    # Nothing new: nothing more, pass after pass.
    for i in range(3):
        assert shop.step(MORNING + 34 * 60 + i) == 0
    assert len(shop.received()) == 1


def test_in_english_too(tmp_path: Path, sandbox: Sandbox, clock: Clock) -> None:
    shop = Shop(tmp_path, sandbox, clock, lang="en")
    shop.step(MORNING)
    shop.run(MORNING, 2 * 3600 - 300, errors=0, state="partial")
    shop.step(MORNING + 7200)

    [body] = shop.received()
    assert body.splitlines()[0] == (
        "[ecauto] sync done with failures: 10,772 products, 1 h 55 min, errors 0.0%"
    )
    for part in (
        "cycle: #1 12/01 08:00 to 09:55 JST",
        "read, default: 10,772 products",
        "prices: 312 changed, 298 pushed",
        "errors: 0 of 539 batches failed (0.0%)",
        "listings: none in this period",
    ):
        assert part in body
    shop.store.close()


def test_more_pushed_than_changed_says_why(shop: Shop) -> None:
    # "changed" counts new prices; a push also tells BASE a new stock, and retries what an
    # earlier cycle could not push: 7 changed and 8 pushed is right, and the report says why.
    shop.step(MORNING)
    shop.run(MORNING, 600, changed=7, pushed=8)
    shop.step(MORNING + 3600)
    [body] = shop.received()
    assert "価格: 変更7件 反映8件（在庫の変化・前回の残りを含む）" in body
    shop.store.close()


def test_a_cycle_above_a_threshold_gets_a_warning_of_its_own(shop: Shop) -> None:
    shop.step(MORNING)
    shop.run(MORNING, 2.5 * 3600, errors=54, batches=539)  # 10.0 % of the batches, 2 h 30 min

    assert shop.step(MORNING + 3 * 3600) == 3

    bodies = shop.received()
    assert bodies[0].splitlines()[0] == "[ecauto] 同期完了 10,772件 2時間30分 エラー10.0%"
    report, warning = bodies
    assert "WARNING" not in report
    head = warning.splitlines()[0]
    assert head.startswith("[ecauto] WARNING")
    assert "同期エラー率10.0% (上限5.0%)" in warning
    assert "同期に2時間30分かかった (上限2時間0分)" in warning
    # each warning ends with its own what to do (the sender's words here are English)
    assert f"what to do: `{shim()} report` で sync-inventory の最後のエラーを確認" in warning
    # Under the thresholds (or with them off): the report alone.
    shop.run(MORNING + 4 * 3600, 600, errors=54)
    assert shop.step(MORNING + 5 * 3600, error_rate_warn=0.0, cycle_time_warn_s=0.0) == 1
    assert [b.splitlines()[0] for b in shop.received()][2:] == [
        "[ecauto] 同期完了 10,772件 10分 エラー10.0%"
    ]


def test_a_watchdog_restart_neither_repeats_nor_skips_a_report(shop: Shop) -> None:
    shop.step(MORNING)
    shop.run(MORNING, 600)
    shop.step(MORNING + 700)
    assert len(shop.received()) == 1

    # The watchdog restarts (a new alerter, the state read from the home again) ...
    shop.restart()
    assert shop.step(MORNING + 800) == 0
    # ... and a cycle that finished while it was away is reported, once.
    shop.run(MORNING + 3600, 600, items=42)
    shop.restart()
    assert shop.step(MORNING + 4300) == 1
    shop.restart()
    assert shop.step(MORNING + 4400) == 0

    heads = [b.splitlines()[0] for b in shop.received()]
    assert heads == [
        "[ecauto] 同期完了 10,772件 10分 エラー0.2%",
        "[ecauto] 同期完了 42件 10分 エラー0.2%",
    ]


def test_a_crash_between_queueing_and_remembering_is_not_a_second_message(shop: Shop) -> None:
    shop.step(MORNING)
    shop.run(MORNING, 600)
    path = shop.home.watchdog / cyclereports.STATE_NAME
    before = path.read_bytes() if path.exists() else None
    shop.step(MORNING + 700)
    # As if the watchdog died after the outbox took the report, before its state was saved.
    if before is None:
        path.unlink()
    else:
        path.write_bytes(before)
    shop.restart()
    shop.step(MORNING + 710)

    assert len(shop.received()) == 1


def test_a_chatwork_outage_keeps_the_report_until_it_is_back(shop: Shop) -> None:
    shop.step(MORNING)
    shop.sandbox.fault("down")
    shop.run(MORNING, 600)
    shop.step(MORNING + 700)

    for _ in range(3):
        shop.alerter.deliver()
        shop.clock.advance(200)
    assert shop.sandbox.messages() == []
    assert shop.alerter.pending() == 1
    # The watchdog restarts during the outage: the report waits in the outbox, not in memory.
    shop.restart()
    assert shop.step(MORNING + 800) == 0

    shop.sandbox.clear()
    [body] = shop.received()
    assert body.startswith("[ecauto] 同期完了 10,772件 10分")


def test_the_daily_digest_goes_at_the_configured_local_time(shop: Shop) -> None:
    daily = {"cycle": "daily", "daily_at": "09:00", "error_rate_warn": 0.5}
    nine = datetime(2026, 12, 1, 9, 0, tzinfo=JST).timestamp()
    shop.step(nine - 86400 + 60, **daily)  # yesterday, after 09:00: the watchdog starts
    shop.run(nine - 20 * 3600, 1800, items=100, errors=0, batches=5)
    shop.run(nine - 10 * 3600, 3600, items=200, errors=1, batches=10)
    shop.listing("base", "a", nine - 5 * 3600, ok=True)

    assert shop.step(nine - 60, **daily) == 0  # 08:59: not yet
    assert shop.step(nine, **daily) == 1
    assert shop.step(nine + 60, **daily) == 0
    shop.restart()
    assert shop.step(nine + 120, **daily) == 0  # restarted at 09:02: already sent today
    # A cycle after 09:00 is tomorrow's.
    shop.run(nine + 3600, 600, items=7, errors=0, batches=1)
    assert shop.step(nine + 2 * 3600, **daily) == 0

    [body] = shop.received()
    assert body.splitlines()[0] == "[ecauto] 日次まとめ 同期2回 300件 エラー6.7%"
    for part in (
        "サイクル: 2回 (#1〜#2) 平均45分 最長1時間0分",
        "期間: 11/30 09:00〜12/01 09:00 JST",
        "取得 default: 300件",
        "出品 BASE: 成功1件 失敗0件",
    ):
        assert part in body
    assert shop.step(nine + 86400, **daily) == 1
    assert shop.received()[-1].splitlines()[0] == "[ecauto] 日次まとめ 同期1回 7件 エラー0.0%"


def test_products_read_are_per_account_where_batches_name_their_shop(shop: Shop) -> None:
    # A store whose batches say which BASE shop they read (store migration 4).
    shop.store.seed_demo(50, 0, (), MORNING)
    shop.step(MORNING)
    run, _ = shop.store.join_or_start_run(MORNING, 60.0, 20)  # batches of 20, 20 and 10
    while (claimed := shop.store.claim_batch(run, "me", MORNING + 1)) is not None:
        updates = [PriceUpdate(a, 1000, 1) for a in claimed.asins]
        shop.store.finish_batch(claimed.id, "me", updates, [], MORNING + 2)
    with shop.store.tx() as db:
        db.execute(
            "UPDATE sync_batches SET account = 'outlet' WHERE run_id = ? AND idx = 2", (run,)
        )
    shop.store.finish_run(run, "complete", MORNING + 300, 0)

    assert shop.step(MORNING + 400) == 1

    [body] = shop.received()
    assert body.splitlines()[0] == "[ecauto] 同期完了 50件 5分 エラー0.0%"
    assert "取得 default: 40件\n取得 outlet: 10件" in body


# -- the decision alone ---------------------------------------------------------------------------


def cycle(run_id: int, finished_at: float, took_s: float = 600.0, errors: int = 0) -> Cycle:
    return Cycle(run_id, finished_at - took_s, finished_at, "complete", {"default": 10}, 1, 1, 0,
                 errors, 10)  # fmt: skip


@pytest.mark.parametrize(
    ("state", "cycles", "reported", "new_reported"),
    [
        (ReportState(), [cycle(1, 10), cycle(2, 20)], [2], 2),  # first sight: the newest only
        (ReportState(reported=1), [cycle(2, 20), cycle(3, 30)], [2, 3], 3),
        (ReportState(reported=3), [], [], 3),
        (
            ReportState(reported=1),
            [cycle(i, i * 10.0) for i in range(2, 12)],
            [7, 8, 9, 10, 11],
            11,
        ),
    ],
)
def test_each_cycle_is_reported_once_from_where_the_state_left_off(
    state: ReportState, cycles: list[Cycle], reported: list[int], new_reported: int
) -> None:
    p = plan(cycles, ReportSettings(), state, 100.0)
    assert [r.cycles[0].run_id for r in p.reports] == reported
    assert p.state.reported == new_reported


def test_listings_are_counted_from_the_last_report_to_this_cycle_end() -> None:
    p = plan([cycle(2, 500.0)], ReportSettings(), ReportState(reported=1, until=300.0), 600.0)
    assert [(r.since, r.until) for r in p.reports] == [(300.0, 500.0)]
    assert p.state.until == 500.0


def test_off_reports_nothing_and_keeps_up_so_turning_it_on_brings_no_backlog() -> None:
    p = plan([cycle(5, 50.0, errors=9)], ReportSettings(cycle="off"), ReportState(reported=1), 60)
    assert (p.reports, p.warn, p.state.reported, p.state.checked) == ((), (), 5, 5)


def test_the_digest_moment_is_local_and_the_latest_one_passed() -> None:
    utc_midnight = datetime(2026, 12, 1, 0, 30, tzinfo=UTC).timestamp()  # 09:30 JST
    assert cyclereports.digest_moment(utc_midnight, "09:00", JST).isoformat() == (
        "2026-12-01T09:00:00+09:00"
    )
    assert cyclereports.digest_moment(utc_midnight, "10:00", JST).isoformat() == (
        "2026-11-30T10:00:00+09:00"
    )


def test_a_warning_says_what_crossed_and_what_to_do_in_english() -> None:
    slow = cycle(9, 10_000.0, took_s=3 * 3600 + 65, errors=1)
    [errors, took] = cyclereports.say_warnings(slow, ReportSettings(), "en", 10_000.0)
    assert (errors.key, errors.severity, errors.summary) == (
        "cycle_errors/9",
        "warning",
        "sync error rate 10.0%, above 5.0%",
    )
    assert (took.key, took.summary) == ("cycle_slow/9", "sync cycle took 3 h 1 min, over 2 h 0 min")
    assert took.details["to do"].startswith("see throttled= in log/sync-inventory.log")


def test_many_shops_are_the_ten_busiest_then_one_line() -> None:
    shops = {f"shop{i:02d}": 100 + i for i in range(25)}
    c = replace(cycle(1, 1000.0), read=shops)
    n = cyclereports.say_report(cyclereports.Report("k", (c,), 0.0, 1000.0), {}, "ja", 1000.0)
    lines = list(n.details.values())
    assert [ln.split(":")[0] for ln in lines if ln.startswith("取得")] == [
        *(f"取得 shop{i}" for i in range(15, 25)),
        "取得 他15店",
    ]
    assert "取得 他15店: 1,605件" in lines


def test_a_report_is_a_message_of_its_own_among_alerts() -> None:
    alert = Notice("hung/upload-base", "incident", "critical", "upload-base", "hung", "", {}, 1.0)
    report = replace(alert, key="cycle_report/1", kind="report", severity="info")
    entries = [Entry(1, 1.0, (alert,)), Entry(2, 1.0, (report,)), Entry(3, 1.0, (alert,))]
    assert [e.seq for e in policy.next_group(entries, 100.0, 10.0) or []] == [1]
    assert [e.seq for e in policy.next_group(entries[1:], 1.0, 10.0) or []] == [2]


@pytest.mark.parametrize("bad", ["9:00", "24:00", "09:60", "0900", "０９:００", 900])
def test_a_bad_daily_time_is_one_line_naming_the_key(bad: object) -> None:
    with pytest.raises(ConfigError, match=r"^reports\.daily_at must be a time of day \"HH:MM\""):
        parse({"reports": {"daily_at": bad}})


def test_the_report_settings_read_from_the_file() -> None:
    cfg = parse({"reports": {"cycle": "daily", "daily_at": "07:30", "error_rate_warn": 0.1}})
    assert cfg.reports == ReportSettings("daily", "07:30", 0.1, 7200.0)
    with pytest.raises(ConfigError, match='^reports.cycle must be "each", "daily" or "off"'):
        parse({"reports": {"cycle": "weekly"}})


# -- a whole instance: the watchdog's run loop reports the sync's first cycle --------------------


@pytest.mark.process
@pytest.mark.timeout(180)
def test_the_watchdog_loop_reports_a_real_sync_cycle_to_the_sandbox_chatwork(
    tmp_path: Path, reaper: Reaper
) -> None:
    inst = Instance(tmp_path, reaper, config_extra='\n[ui]\nlanguage = "ja"\n', products=200)

    def reports() -> list[str]:
        got = requests.get(
            f"{inst.sandbox_url}/_sandbox/chatwork",
            headers=sandbox_headers(inst.home),
            timeout=5,
        ).json()
        return [m["body"] for m in got if m["body"].startswith("[ecauto] 同期")]

    with inst:
        [body] = wait_for(reports, 90, "the sync cycle's report at the sandbox's Chatwork")
        assert body.splitlines()[0].startswith("[ecauto] 同期完了 200件 ")
        assert "取得 default: 200件" in body
        # The watchdog restarted by circusd: its passes send no second report of that cycle.
        old = inst.pid("watchdog")
        inst.ctl.call("restart", name="watchdog")

        def passes_of_a_new_watchdog() -> int:
            hb = read_hb(inst.home, "watchdog")
            return hb.cycles if hb is not None and hb.pid != old else 0

        wait_for(lambda: passes_of_a_new_watchdog() >= 2, 60, "two passes of a new watchdog")
        assert len(reports()) == 1


def test_a_short_cycle_is_said_to_the_second() -> None:
    # 97 s was "2分" next to 21:03〜21:04: to the second under ten minutes, whole minutes above
    from watchdog.cyclereports import duration

    assert [duration(s, "ja") for s in (45, 97, 120, 599, 600, 1930)] == [
        "45秒",
        "1分37秒",
        "2分",
        "9分59秒",
        "10分",
        "32分",
    ]
    assert duration(97, "en") == "1 min 37 s"
