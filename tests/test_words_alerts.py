"""Chatwork alerts in the operator's language, each ending with what to do (pure rendering), and
the findings' words: every phrase renders in every language and has what to do; every command
they quote is one the launcher takes."""

from __future__ import annotations

import re
import shlex
import string
from datetime import UTC

import pytest

from ecauto import launcher
from ecauto.config import ReportSettings
from ecauto.words import LANGUAGES
from ecauto.words.alerts import ALERTS
from ecauto.words.findings import FINDINGS, TODO
from watchdog import findings
from watchdog.alerts.compose import HEADLINE_CHARS_JA, MAX_BODY_CHARS, compose
from watchdog.cyclereports import Cycle, say_warnings
from watchdog.findings import Do, Finding, Kind, Severity
from watchdog.incidents import incidents
from watchdog.notices import Notice

T0 = 1_800_000_000.0
CMD = "./ecauto.sh"


def names(template: str) -> set[str]:
    return {n for _, n, _, _ in string.Formatter().parse(template) if n}


def sample(key: str) -> dict[str, str]:
    """A param for each placeholder of `key`: seconds for durations, a word for the rest."""
    return {n: "95" if n.endswith("_s") else "x" for n in names(FINDINGS.entries[key]["en"])}


def found(kind: Kind, severity: Severity, daemon: str | None, *say: str, **params: str) -> Finding:
    p = {k: v for key in say for k, v in sample(key).items()} | params
    return Finding(
        kind=kind,
        severity=severity,
        daemon=daemon,
        summary="English summary",
        action=Do.ALERT,
        say=say,
        params=p,
    )


def notices_of(*fs: Finding) -> list[Notice]:
    return incidents(fs, {}, 30.0, T0)[0]


@pytest.mark.parametrize("key", sorted(FINDINGS.entries))
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_phrase_renders_and_has_what_to_do(key: str, lang: str) -> None:
    said = findings.phrase(lang, (key,), sample(key))
    assert said and "{" not in said
    assert key in TODO.entries, f"{key} has no todo"
    todo = findings.todo(lang, (key,), sample(key), "upload-base", CMD)
    assert todo and "{" not in todo


def test_every_todo_is_for_a_phrase() -> None:
    assert set(TODO.entries) <= set(FINDINGS.entries)


@pytest.mark.parametrize("kind", list(Kind))
def test_every_finding_kind_has_a_few_words_for_the_notification_line(kind: Kind) -> None:
    for lang in LANGUAGES:
        head = ALERTS.say(lang, f"head.{kind.value}")
        assert head and len(head) <= (40 if lang == "en" else 16)


def quoted_commands() -> list[str]:
    out = []
    for catalog in (TODO, ALERTS):
        for forms in catalog.entries.values():
            for text in forms.values():
                out += re.findall(r"`\{cmd\} ([^`]+)`", text)
    return sorted(set(out))


@pytest.mark.parametrize("command", quoted_commands())
def test_every_command_the_words_quote_is_one_the_launcher_takes(command: str) -> None:
    argv = shlex.split(command.replace("{watcher}", "upload-base"))
    launcher.parser().parse_args(argv)  # SystemExit(2) on a command it does not take


@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_alert_ends_with_what_to_do(lang: str) -> None:
    f = found(Kind.DOWN, Severity.WARNING, "upload-ebay", "watcher.stopped")
    text = compose(notices_of(f), "shop-pc", UTC, lang, CMD)
    last = text.removesuffix("[/info]").splitlines()[-1]
    assert last.startswith("what to do: " if lang == "en" else "対処: ")
    assert "`./ecauto.sh restart upload-ebay`" in last


def test_a_japanese_alert_fits_a_phones_notification_line_and_says_it_all_below() -> None:
    f = found(
        Kind.HUNG,
        Severity.WARNING,
        "sync-inventory",
        "hung.old_beat",
        "then.restarting",
        pids="4321",
    )
    f = Finding(**{**f.__dict__, "details": {"heartbeat age": "95 s", "restarts in window": "1"}})
    text = compose(notices_of(f), "shop-pc", UTC, "ja", CMD)
    first, *rest = text.splitlines()
    assert first == "[ecauto] 注意 sync-inventory: 応答なし"
    assert len(first) <= HEADLINE_CHARS_JA
    body = "\n".join(rest)
    assert "[title]shop-pc の sync-inventory[/title]" in body
    assert "pid 4321 が応答しません: ハートビートが95秒前で止まっています（猶予95秒）" in body
    assert "circusd で再起動します" in body
    assert "ハートビート経過: 95秒" in body and "期間内の再起動: 1" in body
    assert "時刻: 2027-01-15 08:00:00 UTC" in body
    assert "English summary" not in body


def test_circusd_stopped_says_whether_someone_asked_and_what_to_type() -> None:
    f = found(Kind.CIRCUSD_DOWN, Severity.CRITICAL, None, "circusd.none")
    ja = compose(notices_of(f), "shop-pc", UTC, "ja", CMD)
    assert ja.splitlines()[0] == "[ecauto] 異常 circusd 停止"
    assert "停止要求の記録はなく" in ja and "`./ecauto.sh run --daemon`" in ja
    en = compose(notices_of(f), "shop-pc", UTC, "en", CMD)
    assert "what to do: read log/circusd.log, then start it again: `./ecauto.sh run --daemon`" in en


@pytest.mark.parametrize(
    ("lang", "first", "todo"),
    [
        ("en", "[ecauto] RECOVERED upload-base:", "what to do: nothing: it is healthy again"),
        ("ja", "[ecauto] 復旧 upload-base: 応答なし", "対処: 不要（復旧済み）"),
    ],
)
def test_a_recovery_says_nothing_is_to_be_done(lang: str, first: str, todo: str) -> None:
    f = found(Kind.HUNG, Severity.WARNING, "upload-base", "hung.old_beat", "then.restarting")
    _, open_ = incidents([f], {}, 30.0, T0)
    [back] = incidents([], open_, 30.0, T0 + 60)[0]
    text = compose([back], "shop-pc", UTC, lang, CMD)
    assert text.splitlines()[0].startswith(first)
    assert text.removesuffix("[/info]").splitlines()[-1] == todo


def test_several_japanese_alerts_make_one_short_first_line() -> None:
    fs = [
        found(Kind.CIRCUSD_DOWN, Severity.CRITICAL, None, "circusd.none"),
        found(Kind.HUNG, Severity.WARNING, "upload-base", "hung.old_beat", "then.restarting"),
    ]
    text = compose(notices_of(*fs), "shop-pc", UTC, "ja", CMD)
    assert text.splitlines()[0] == "[ecauto] 異常 問題2件: circusd 停止、upload-base: 応答なし"
    assert "shop-pc の通知 2件（古い順）" in text
    assert text.count("対処: ") == 2


def test_a_long_japanese_alert_is_cut_but_keeps_what_to_do() -> None:
    f = found(Kind.FAILING, Severity.CRITICAL, "upload-base", "failing", error="エラー" * 400)
    f = Finding(**{**f.__dict__, "details": {f"detail {i}": "長い" * 300 for i in range(8)}})
    text = compose(notices_of(f), "shop-pc", UTC, "ja", CMD)
    assert len(text) <= MAX_BODY_CHARS
    assert text.removesuffix("[/info]").splitlines()[-1].startswith("対処: ")


def test_notices_queued_by_an_older_version_still_render_in_english_words() -> None:
    old = Notice("hung/upload-base", "incident", "warning", "upload-base", "stuck", "", {}, T0)
    back = Notice.from_json({k: v for k, v in old.to_json().items() if k not in ("say", "params")})
    assert back == old
    ja = compose([back], "pc", UTC, "ja", CMD)
    assert ja.splitlines()[0] == "[ecauto] 注意 upload-base: 応答なし"
    assert "対処: `./ecauto.sh report` と log/upload-base.log を確認" in ja


def test_a_finding_with_a_mistyped_phrase_or_a_missing_param_fails_where_it_is_made() -> None:
    with pytest.raises(ValueError, match="no phrase 'hung.olde'"):
        Finding(Kind.HUNG, Severity.WARNING, "x", "s", say=("hung.olde",))
    with pytest.raises(ValueError, match="no param 'pids'"):
        Finding(Kind.HUNG, Severity.WARNING, "x", "s", say=("hung.old_beat",), params={})
    # Words from another version, read back from disk, are dropped, not fatal.
    f = found(Kind.HUNG, Severity.WARNING, "x", "hung.old_beat")
    d = {**f.to_json(), "say": ["gone.phrase"]}
    assert Finding.from_json(d).say == () and Finding.from_json(d).text("ja") == "English summary"


@pytest.mark.parametrize(
    ("english", "japanese"),
    [
        ("95 s", "95秒"),
        ("12 min", "12分"),
        ("3 h 5 min", "3時間5分"),
        ("40 s ago", "40秒前"),
        ("none", "none"),
        ("1234, 5678", "1234, 5678"),
    ],
)
def test_durations_in_details_read_in_japanese(english: str, japanese: str) -> None:
    from ecauto.words.common import reword_duration

    assert reword_duration(english, "ja") == japanese
    assert reword_duration(english, "en") == english


def test_a_long_first_line_is_cut_at_a_word_with_an_ellipsis() -> None:
    long = Notice(
        "failing/upload-base",
        "incident",
        "warning",
        "upload-base",
        "its last 3 cycles failed: " + "BASE answered with an internal server error " * 5,
        "",
        {},
        T0,
    )
    first = compose([long], "pc", UTC, "en", CMD).splitlines()[0]
    assert len(first) <= 160 and first.endswith("…")
    assert first[:-1] == first[:-1].rstrip() and long.summary.split()[-1] not in first[-4:]
    words_in = first[:-1].split()
    assert all(
        w in long.summary.split() or w in ("[ecauto]", "WARNING", "upload-base:") for w in words_in
    )


def test_a_hung_alert_says_what_the_process_state_means() -> None:
    f = found(Kind.HUNG, Severity.WARNING, "upload-yahoo", "hung.old_beat", "then.restarting")
    f = Finding(**{**f.__dict__, "details": {"heartbeat age": "none", "state": "stopped"}})
    ja = compose(notices_of(f), "shop-pc", UTC, "ja", CMD)
    assert "プロセスの状態: 一時停止中（SIGSTOP などのシグナルによる）" in ja, ja
    assert "ハートビート経過: なし" in ja
    en = compose(notices_of(f), "shop-pc", UTC, "en", CMD)
    assert "process state: stopped (paused by a signal such as SIGSTOP)" in en


def test_a_japanese_recovery_names_what_recovered_in_japanese_and_quotes_no_english() -> None:
    f = found(Kind.HUNG, Severity.WARNING, "upload-base", "hung.old_beat", "then.restarting")
    _, open_ = incidents([f], {}, 30.0, T0)
    [back] = incidents([], open_, 30.0, T0 + 60)[0]
    ja = compose([back], "shop-pc", UTC, "ja", CMD)
    assert "復旧しました（「応答なし」は解消）" in ja, ja
    assert "English summary" not in ja and "hung" not in ja
    assert "検出されていた時間" not in ja, "seen by one pass: no 'seen for 0 s'"
    [longer] = incidents([], incidents([f], open_, 30.0, T0 + 20)[1], 30.0, T0 + 90)[0]
    assert "検出されていた時間: 20秒" in compose([longer], "shop-pc", UTC, "ja", CMD)
    assert "English summary" in compose([back], "shop-pc", UTC, "en", CMD)


@pytest.mark.parametrize(
    ("lang", "first"),
    [
        (
            "ja",
            "[ecauto] 復旧 復旧2件: 設定ファイルの誤り、upload-base: 起動直後の終了を反復",
        ),
        (
            "en",
            "[ecauto] RECOVERED 2 recovered: healthy again (config error over); upload-base: "
            "healthy again (crash loop over)",
        ),
    ],
)
def test_a_recovery_says_what_ended_on_the_notification_line(lang: str, first: str) -> None:
    # Given a configuration error and a crash loop, both over
    config = found(Kind.CONFIG_ERROR, Severity.CRITICAL, None, "config_error", error="bad key")
    loop = found(Kind.CRASH_LOOP, Severity.CRITICAL, "upload-base", "crash_loop.died", how="exit 2")
    _, open_ = incidents([config, loop], {}, 30.0, T0)
    back = incidents([], open_, 30.0, T0 + 60)[0]
    # Then the first line names what ended, each in its first alert's few words
    line = compose(back, "shop-pc", UTC, lang, CMD).splitlines()[0]
    assert line == first
    if lang == "ja":
        assert len(line) <= HEADLINE_CHARS_JA and "復旧しました" not in line
        [one] = incidents([], incidents([config], {}, 30.0, T0)[1], 30.0, T0 + 60)[0]
        assert compose([one], "shop-pc", UTC, "ja", CMD).splitlines()[0] == (
            "[ecauto] 復旧 設定ファイルの誤り"
        )


def test_a_crash_loop_says_how_it_died_in_japanese() -> None:
    f = found(
        Kind.CRASH_LOOP,
        Severity.CRITICAL,
        "upload-base",
        "crash_loop.died",
        "crash_loop.last",
        how="exit 2",
    )
    log = "2026-12-01T17:19:13.481Z INFO upload-base[23348] cycle done"
    f = Finding(**{**f.__dict__, "details": {"last death": "killed by SIGKILL", "last error": log}})
    ja = compose(notices_of(f), "shop-pc", UTC, "ja", CMD)
    assert "最後の終了: 終了コード 2 で終了" in ja, ja
    assert "最後の終了: SIGKILL で強制終了" in ja
    # its log's last line, an INFO line here, is not called an error
    assert f"ログの最後の行: {log}" in ja and "最後のエラー" not in ja
    assert f"last line of its log: {log}" in compose(notices_of(f), "pc", UTC, "en", CMD)


def test_a_crash_loops_log_line_and_cause_are_said_once_in_japanese() -> None:
    log = "2026-12-01T17:19:13.481Z ERROR upload-base[23348] watchdog.interval_s must be a number"
    f = found(
        Kind.CRASH_LOOP,
        Severity.CRITICAL,
        "upload-base",
        "crash_loop.died",
        "crash_loop.log",
        words=log,
    )
    details = {"last error": log, "cause": "ecauto.toml or a credential"}
    f = Finding(**{**f.__dict__, "details": details})
    ja = compose(notices_of(f), "shop-pc", UTC, "ja", CMD)
    assert ja.count(log) == 1, ja  # in the words' line, not again as a detail
    assert "原因: ecauto.toml か認証情報" in ja and "cause" not in ja


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_cycle_warning_ends_with_its_own_what_to_do_once(lang: str) -> None:
    slow = Cycle(3, T0, T0 + 9000, "complete", {"default": 100}, 5, 5, 0, 0, 10)
    [n] = say_warnings(slow, ReportSettings(), lang, T0 + 9000)
    box = compose([n], "shop-pc", UTC, lang, CMD).removesuffix("[/info]").splitlines()
    todo = "対処: " if lang == "ja" else "what to do: "
    assert [x for x in box if x.startswith(todo) or x.startswith("to do: ")] == [box[-1]], box
    assert "log/sync-inventory.log" in box[-1] and "throttled" in box[-1]


def test_a_japanese_config_error_alert_has_no_english_words_of_the_watchdogs_own() -> None:
    error = (
        "/x/ecauto.toml: sync.interval_s must be a number greater than 0 and at most 604800, got -1"
    )
    f = found(Kind.CONFIG_ERROR, Severity.CRITICAL, None, "config_error", error=error)
    f = Finding(**{**f.__dict__, "details": {"running on": "the last good configuration"}})
    ja = compose(notices_of(f), "shop-pc", UTC, "ja", CMD)
    assert "使用中の設定: 最後に正しかった設定" in ja, ja
    # the form the value must have too (ecauto/words/errors.py FORMS)
    assert "sync.interval_s の値が不正です: -1（正しい値: 0 より大きく 604800 以下の数値）" in ja


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_duplicate_says_to_find_what_starts_it_not_to_read_the_daemons_log(lang: str) -> None:
    f = found(Kind.DUPLICATE, Severity.WARNING, "sync-inventory", "duplicate.beside_managed")
    last = compose(notices_of(f), "shop-pc", UTC, lang, CMD).removesuffix("[/info]")
    todo = last.splitlines()[-1]
    assert ("old scheduled task" if lang == "en" else "古いタスクやサービス") in todo, todo
    assert "log/sync-inventory.log" not in todo


def test_an_english_alert_left_to_a_person_points_at_what_to_do() -> None:
    f = found(Kind.CONFIG_ERROR, Severity.CRITICAL, None, "config_error", error="bad key")
    en = compose(notices_of(f), "shop-pc", UTC, "en", CMD)
    assert "done: nothing automatic (what to do is below)" in en, en
    assert "a person should look" not in en
