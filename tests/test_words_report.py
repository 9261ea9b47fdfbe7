"""`watchdog report` as a person reads it, in both languages (pure rendering of a Report)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from ecauto import platform
from ecauto.daemon.heartbeat import Heartbeat, Phase
from ecauto.words import LANGUAGES, common
from ecauto.words.errors import translate
from ecauto.words.report import death
from watchdog import report
from watchdog.findings import Do, Finding, Kind, Severity
from watchdog.report import DaemonRow, Report, render

NOW = 1_800_000_000.0
HUNG = Finding(
    kind=Kind.HUNG,
    severity=Severity.WARNING,
    daemon="upload-base",
    summary="pid 12 is hung: its heartbeat is 95 s old (grace 30 s); restarting it through circusd",
    action=Do.RESTART,
    pids=(12,),
    say=("hung.old_beat", "then.restarting"),
    params={"pids": "12", "age_s": "95", "grace_s": "30"},
)
ERROR = "cycle failed: BASE answered HTTP 500 Internal Server Error while posting item 1234567"


def rows(**sync: object) -> tuple[DaemonRow, ...]:
    fields: dict[str, object] = dict(
        name="sync-inventory",
        state="running",
        pid=123,
        phase="working",
        done=16,
        total=50,
        unit="batches",
        last_success_at=NOW - 30,
        last_error=ERROR,
    )
    fields.update(sync)
    return (
        DaemonRow(**fields),  # type: ignore[arg-type]
        DaemonRow("upload-base", "hung", 12, 600, 95, "sleeping", 2, 2, unit="listings"),
    )


def rep(
    daemons: tuple[DaemonRow, ...] | None = None,
    findings: tuple[Finding, ...] = (HUNG,),
    **kw: object,
) -> Report:
    return Report(
        "warning",
        NOW,
        "/shop/var",
        "shop-pc",
        {"state": "running", "pid": 99, "detail": ""},
        rows() if daemons is None else daemons,
        findings,
        alerts_pending=0,
        **kw,  # type: ignore[arg-type]
    )


def table_row(text: str, name: str) -> str:
    return next(x for x in text.splitlines() if x.startswith(f"{name} "))


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", ["DAEMON", "STATE", "PROGRESS", "LAST OK", "LAST ERROR", "Status: WARNING"]),
        ("ja", ["デーモン", "状態", "進捗", "最終成功", "最終エラー", "総合: 注意"]),
    ],
)
def test_the_report_speaks_the_language_asked(lang: str, words: list[str]) -> None:
    text = render(rep(), lang)
    for w in words:
        assert w in text, text
    other = "ja" if lang == "en" else "en"
    assert render(rep(), other) != text


@pytest.mark.parametrize(
    ("lang", "batches", "listings"),
    [("en", "16/50 batches", "2/2 listings"), ("ja", "16/50 バッチ", "2/2 出品")],
)
def test_progress_says_what_it_counts_and_the_legend_what_2_of_2_means(
    lang: str, batches: str, listings: str
) -> None:
    text = render(rep(), lang)
    assert batches in table_row(text, "sync-inventory")
    assert listings in table_row(text, "upload-base")
    prices = render(rep(rows(done=3, total=969, unit="prices")), lang)
    assert ("3/969 prices" if lang == "en" else "3/969 価格") in table_row(prices, "sync-inventory")
    legend = [x for x in text.splitlines() if x.startswith("(")]
    assert any(listings in x for x in legend), "the legend explains the uploads' count"


@pytest.mark.parametrize(("lang", "paused"), [("en", "paused 30s ago"), ("ja", "中断 30秒前")])
def test_last_ok_does_not_claim_a_paused_cycle_succeeded(lang: str, paused: str) -> None:
    cut = rows(last_success_at=None, paused_at=NOW - 30, phase="stopping")
    row = table_row(render(rep(cut), lang), "sync-inventory")
    assert f"{paused} (16/50)" in row or f"{paused}（16/50）" in row
    done = table_row(render(rep(), lang), "sync-inventory")
    assert ("30s ago" if lang == "en" else "30秒前") in done and "中断" not in done


def test_a_cycle_cut_short_is_paused_in_the_report_and_its_json() -> None:
    hb = Heartbeat("sync-inventory", 1, 1.0, NOW, 10.0, Phase.STOPPING, done=16, total=50)
    assert report._cut_short(hb)
    assert not report._cut_short(
        Heartbeat("s", 1, 1.0, NOW, 10.0, Phase.SLEEPING, done=50, total=50)
    )
    assert not report._cut_short(Heartbeat("s", 1, 1.0, NOW, 10.0, Phase.WORKING, done=3, total=50))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_last_error_is_cut_at_a_word_with_an_ellipsis(lang: str) -> None:
    cell = table_row(render(rep(), lang), "sync-inventory").rsplit("  ", 1)[-1]
    assert cell.endswith("…") and len(cell) <= report.ERROR_CHARS
    error = translate(ERROR, lang)  # "cycle failed: " is said in the reader's language
    assert error.startswith(cell[:-1]) and error[len(cell) - 1] == " ", "cut before a word"
    if lang == "ja":
        assert cell.startswith("処理に失敗: BASE answered")


def test_clip_cuts_japanese_at_a_character_and_english_at_a_word() -> None:
    assert common.clip("在庫の同期に失敗しました。ネットワークを確認", 10) == "在庫の同期に失敗し…"
    assert common.clip("BASE: HTTP 500 Internal Server Error", 30) == "BASE: HTTP 500 Internal…"
    assert common.clip("short", 30) == "short"
    assert common.clip("x" * 40, 10) == "x" * 9 + "…"


def test_japanese_columns_line_up_in_a_terminal() -> None:
    lines = render(rep(), "ja").splitlines()
    head, first = lines[3], table_row("\n".join(lines), "sync-inventory")
    # The PID column starts at the same terminal column in the head and in each row.
    at_head = common.width(head[: head.index("PID")])
    at_row = common.width(first[: first.index("123")])
    assert at_head == at_row


@pytest.mark.parametrize(
    ("lang", "said", "todo"),
    [
        ("en", "pid 12 is hung: its heartbeat is 95 s old", "what to do: nothing now"),
        (
            "ja",
            "pid 12 が応答しません: ハートビートが95秒前で止まっています（猶予30秒）",
            "対処: 今は不要",
        ),
    ],
)
def test_each_finding_says_what_it_is_and_what_to_do(lang: str, said: str, todo: str) -> None:
    lines = render(rep(), lang).splitlines()
    i = next(i for i, x in enumerate(lines) if x.startswith("  ") and "upload-base" in x)
    assert said in lines[i]
    assert lines[i + 1].strip().startswith(todo)
    assert "log/upload-base.log" in lines[i + 1]


def test_times_shown_are_local_with_their_zone_and_the_json_stays_utc_epoch() -> None:
    header = render(rep(), "en").splitlines()[0]
    t = time.localtime(NOW)
    assert time.strftime("%Y-%m-%d %H:%M:%S", t) in header
    assert header.endswith(t.tm_zone if len(t.tm_zone) <= 5 else time.strftime("%z", t))
    assert rep().to_json()["at"] == NOW


def test_the_launcher_quoted_is_this_platforms() -> None:
    assert common.shim() == platform.current().shim


@pytest.fixture
def tokyo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is POSIX only")
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        yield
    finally:
        monkeypatch.undo()
        time.tzset()


def test_what_a_daemon_is_doing_is_said_in_japanese_with_local_times(tokyo: None) -> None:
    quota = "waiting for BASE's hourly quota until 15:00 UTC (1000 of 5000 kept for listings)"
    daemons = (
        DaemonRow("sync-inventory", "running", 1, detail=quota),
        DaemonRow("upload-base", "running", 2, detail="listing 1 of 2"),
        DaemonRow("upload-ebay", "running", 3, detail="something new"),
    )
    ja = render(rep(daemons), "ja").splitlines()
    assert (
        "  sync-inventory: BASE の1時間の利用枠を待っています（00:00 JST まで。出品用に 5000 中 "
        "1000 を確保）"
    ) in ja
    assert "  upload-base: 出品 1/2 を処理中" in ja
    assert "  upload-ebay: something new" in ja, "what it does not know, as it is"
    assert render(rep(daemons), "ja").splitlines()[0].endswith(" JST")
    # The English report keeps the daemon's own words, which name their zone
    assert f"  sync-inventory: {quota}" in render(rep(daemons), "en").splitlines()


def test_between_cycles_the_syncs_progress_counts_the_prices_it_pushed() -> None:
    # After a cycle the detail is cleared but done/total stay the price push's (94 of 94):
    # they were shown as "94/94 batches" of a 5-batch cycle.
    def beat(phase: Phase, detail: str) -> Heartbeat:
        return Heartbeat(
            "sync-inventory", 1, 1.0, NOW, 10.0, phase, done=94, total=94, detail=detail
        )

    assert report._unit("sync-inventory", beat(Phase.SLEEPING, "")) == "prices"
    assert report._unit("sync-inventory", beat(Phase.WORKING, "pushed 94 of 94 prices to BASE"))
    assert report._unit("sync-inventory", beat(Phase.WORKING, "batch 3 of 5")) == "batches"
    assert report._unit("sync-inventory", beat(Phase.STOPPING, "batch 3 of 5")) == "batches"
    # stopped between cycles (./ecauto.sh stop while it slept): still its last push's prices
    assert report._unit("sync-inventory", beat(Phase.STOPPING, "")) == "prices"
    assert report._unit("sync-inventory", beat(Phase.WORKING, "")) == "batches"  # before the push
    waiting = beat(Phase.WORKING, "waiting for BASE's hourly quota until 15:00 UTC")
    assert report._unit("sync-inventory", waiting) == "prices"


@pytest.mark.parametrize(
    ("lang", "none", "some", "death"),
    [
        ("en", "0", "2 (1 died, 1 requested)", "killed by SIGKILL"),
        ("ja", "0", "2（異常終了1・要求1）", "SIGKILL で強制終了"),
    ],
)
def test_restarts_say_only_0_when_nothing_happened_and_the_last_death_is_in_words(
    lang: str, none: str, some: str, death: str
) -> None:
    quiet = DaemonRow("upload-ebay", "running", 5, died_in_window=0, requested_in_window=0)
    killed = DaemonRow(
        "upload-yahoo",
        "running",
        6,
        restarts_in_window=2,
        died_in_window=1,
        requested_in_window=1,
        last_death_at=NOW - 60,
        last_death="killed by SIGKILL",
    )
    text = render(rep((quiet, killed)), lang)
    assert f"  {none}  " in table_row(text, "upload-ebay")
    row = table_row(text, "upload-yahoo")
    assert some in row and death in row
    exited = DaemonRow("s", "running", 7, last_death_at=NOW, last_death="exit 0 (requested)")
    want = "exit 0 (requested)" if lang == "en" else "終了コード 0 で終了（要求）"
    assert want in table_row(render(rep((exited,)), lang), "s")


def test_recent_deaths_and_what_the_watchdog_did_read_in_japanese() -> None:
    died = {
        "at": NOW - 5,
        "kind": "died",
        "daemon": "upload-ebay",
        "pid": 12650,
        "exit_code": None,
        "signal": 9,
        "requested": None,
        "life_s": 43.8,
        "summary": "pid 12650 killed by SIGKILL after 43.8 s (died)",
    }
    hung = {
        "at": NOW - 4,
        "kind": "hung",
        "daemon": "upload-yahoo",
        "summary": "pid 7 is hung",
        "result": "ended pid 7; killed 7 after 10 s; circusd starts it again",
    }
    ja = render(rep(recent=(died, hung)), "ja")
    assert "pid 12650 が SIGKILL で強制終了（起動から43秒、要求なし）" in ja, ja
    assert (
        "-> pid 7 を終了させました。7 は10秒で終わらず強制終了しました。circusd が起動し直します"
    ) in ja
    en = render(rep(recent=(died, hung)), "en")
    assert "pid 12650 killed by SIGKILL after 43.8 s (died)" in en
    assert "-> ended pid 7; killed 7 after 10 s; circusd starts it again" in en


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_watcher_stopped_on_request_says_how_to_start_it_and_shows_no_stale_phase(
    lang: str,
) -> None:
    down = Finding(
        kind=Kind.DOWN,
        severity=Severity.INFO,
        daemon="sync-inventory",
        summary="stopped on request (circusctl stop)",
        say=("watcher.stopped_request",),
    )
    stopped = DaemonRow("sync-inventory", "stopped", None, None, 7, "stopping")
    lines = render(rep((stopped,), findings=(down,)), lang, "./ecauto.sh").splitlines()
    i = next(i for i, x in enumerate(lines) if "sync-inventory" in x and x.startswith("  "))
    assert "`./ecauto.sh restart sync-inventory`" in lines[i + 1], lines
    cells = table_row("\n".join(lines), "sync-inventory").split()
    assert ("stopping" if lang == "en" else "停止中") not in cells


@pytest.mark.parametrize(
    ("lang", "stopped", "why"),
    [
        ("en", "stopped", "down: no circusd listens at ipc:///shop/var/circus/ctl.sock"),
        ("ja", "停止", "停止: ipc:///shop/var/circus/ctl.sock で待ち受ける circusd がありません"),
    ],
)
def test_after_a_stop_every_daemon_reads_stopped_with_no_live_looking_beat(
    lang: str, stopped: str, why: str
) -> None:
    # `./ecauto.sh stop`: no circusd, no process; the heartbeats are 2 s old, of dead processes.
    left = DaemonRow("upload-base", "unknown", None, None, 2.0, "stopping", 1, 2, unit="listings")
    r = Report(
        "ok",
        NOW,
        "/shop/var",
        "shop-pc",
        {
            "state": "down",
            "pid": None,
            "detail": "no circusd listens at ipc:///shop/var/circus/ctl.sock",
        },
        (left,),
        (),
    )
    text = render(r, lang)
    assert text.splitlines()[1] == f"circusd: {why}", text
    cells = table_row(text, "upload-base").split()
    assert cells[1] == stopped and cells[2:6] == ["-", "-", "-", "-"], cells
    assert r.to_json()["daemons"][0]["state"] == "unknown"  # the machine output as it was


def test_a_watcher_circusd_stopped_after_a_crash_loop_shows_no_heartbeat_of_its_dead_process() -> (
    None
):
    looped = DaemonRow("upload-base", "crash loop", None, None, 69.0, "sleeping", died_in_window=5)
    cells = table_row(render(rep((looped,)), "ja"), "upload-base").split()
    assert cells[1:6] == ["終了を反復", "-", "-", "-", "-"], cells


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT", "SIGBREAK"])
def test_a_signal_that_asks_a_process_to_end_is_no_forced_kill(sig: str) -> None:
    assert death(f"killed by {sig}", "ja") == f"{sig} で終了"
    assert death("killed by SIGKILL", "ja") == "SIGKILL で強制終了"
    assert death(f"killed by {sig}", "en") == f"killed by {sig}"
    stopped = {
        "at": NOW - 5,
        "kind": "died",
        "daemon": "dashboard",
        "pid": 13524,
        "exit_code": None,
        "signal": 15,
        "requested": True,
        "life_s": 600.0,
        "summary": "pid 13524 killed by SIGTERM after 600 s (stopped on request)",
    }
    exited = {**stopped, "pid": 7, "signal": None, "exit_code": 2, "requested": None}
    ja = render(rep(recent=(stopped, exited)), "ja")
    assert "pid 13524 が SIGTERM で終了（起動から10分、停止要求による）" in ja, ja
    assert "強制終了" not in ja
    assert "pid 7 が終了コード 2 で終了（起動から10分、要求なし）" in ja


def page_action(action: str, result: str, daemon: str | None = "upload-base") -> dict[str, object]:
    return {
        "at": NOW - 3,
        "kind": "dashboard_action",
        "daemon": daemon,
        "action": action,
        "result": result,
        "summary": "English summary",
    }


def test_recent_events_say_their_kind_and_what_an_action_did_once_in_japanese() -> None:
    lock = {
        "at": NOW - 4,
        "kind": "stale_lock",
        "daemon": "upload-base",
        "action": "remove_lock",
        "result": "removed",
        "summary": "a lock left over",
    }
    recent = (
        lock,
        page_action("restart", "done"),
        page_action("retry", "queued"),
        page_action("test_alert", "queued", None),
        page_action("test-alert", "refused", None),  # recorded so by an older version
        page_action("restart", "failed"),
    )
    ja = render(rep(recent=recent), "ja")
    lines = ja.splitlines()
    [found] = lines[lines.index("現在の検出:") + 1 : lines.index("現在の検出:") + 2]
    assert "応答なし (hung)" in found, found
    for said in (
        "ロックの残骸 (stale_lock)",
        "ダッシュボード操作 (dashboard_action)",
        "-> ロックを削除しました",
        "-> 再起動: 完了",
        "-> 再出品: 受付済み",
        "-> テスト通知: 受付済み",
        "-> テスト通知: 拒否",
        "-> 再起動: 失敗",
    ):
        assert said in ja, (said, ja)
    for raw in ("-> done", "-> queued", "-> refused", "-> failed", "ロック削除: 削除しました"):
        assert raw not in ja, raw
    # the kinds' column stays one column in a terminal
    rows = lines[lines.index("最近の出来事:") + 1 :][: len(recent)]
    daemon = [common.width(re.match(r"  \S+ .*?\) +", x).group(0)) for x in rows]  # type: ignore[union-attr]
    assert len(set(daemon)) == 1, rows
    en = render(rep(recent=recent), "en")
    assert " stale_lock " in en and " dashboard_action " in en and "-> restart: done" in en
    assert "-> lock removed" in en and "-> test_alert: refused" in en
