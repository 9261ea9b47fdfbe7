"""The words of `watchdog report` (watchdog/report.py) and of the pages that show the same."""

from ecauto.words import Catalog
from ecauto.words.alerts import ALERTS
from ecauto.words.common import Reworder

REPORT = Catalog(
    "report",
    {
        "header": {
            "en": "ecauto on {host}, home {home}, {when}",
            "ja": "ecauto（{host}、ホーム {home}）{when}",
        },
        "circusd": {"en": "circusd: {state}", "ja": "circusd: {state}"},
        "circusd.pid": {"en": " (pid {pid})", "ja": "（pid {pid}）"},
        "col.daemon": {"en": "DAEMON", "ja": "デーモン"},
        "col.state": {"en": "STATE", "ja": "状態"},
        "col.pid": {"en": "PID", "ja": "PID"},
        "col.uptime": {"en": "UPTIME", "ja": "稼働"},
        "col.beat": {"en": "BEAT", "ja": "鼓動"},
        "col.phase": {"en": "PHASE", "ja": "段階"},
        "col.progress": {"en": "PROGRESS", "ja": "進捗"},
        "col.last_ok": {"en": "LAST OK", "ja": "最終成功"},
        "col.restarts": {"en": "RESTARTS", "ja": "再起動"},
        "col.last_death": {"en": "LAST DEATH", "ja": "最終終了"},
        "col.last_error": {"en": "LAST ERROR", "ja": "最終エラー"},
        # durations (the table is narrow: a number and one unit)
        "dur.s": {"en": "{n}s", "ja": "{n}秒"},
        "dur.m": {"en": "{n}m", "ja": "{n}分"},
        "dur.h": {"en": "{n}h", "ja": "{n}時間"},
        "dur.d": {"en": "{n}d", "ja": "{n}日"},
        "ago": {"en": "{dur} ago", "ja": "{dur}前"},
        "paused": {"en": "paused {when} ({done}/{total})", "ja": "中断 {when}（{done}/{total}）"},
        "restarts.journal": {
            "en": "{n} ({died} died, {requested} requested)",
            "ja": "{n}（異常終了{died}・要求{requested}）",
        },
        "requested": {"en": " (requested)", "ja": "（要求）"},
        # A death seen in circusd's journal (the recent events' "died" lines)
        "event.died": {
            "en": "pid {pid} {how} after {life} (died)",
            "ja": "pid {pid} が{how}（起動から{life}、要求なし）",
        },
        "event.died_requested": {
            "en": "pid {pid} {how} after {life} (stopped on request)",
            "ja": "pid {pid} が{how}（起動から{life}、停止要求による）",
        },
        "unit.batches": {"en": "{done}/{total} batches", "ja": "{done}/{total} バッチ"},
        "unit.prices": {"en": "{done}/{total} prices", "ja": "{done}/{total} 価格"},
        "unit.listings": {"en": "{done}/{total} listings", "ja": "{done}/{total} 出品"},
        "unit.none": {"en": "{done}/{total}", "ja": "{done}/{total}"},
        # The legend under the table, a line per column that needs one.
        "legend.beat": {
            "en": "UPTIME: since the process started; BEAT: age of its last heartbeat",
            "ja": "稼働: プロセス起動からの時間。鼓動: 最後のハートビートからの経過",
        },
        "legend.progress": {
            "en": "PROGRESS: this cycle's work: sync-inventory reads batches of products from "
            "Amazon, then pushes prices to BASE; an upload daemon counts the listings it "
            "handled of those due this cycle (2/2 listings: both due listings done)",
            "ja": "進捗: 今回のサイクルの処理数。sync-inventory は Amazon から読む商品のバッチ数、"
            "その後 BASE へ送る価格数。出品デーモンは今回対象の出品のうち処理した数"
            "（2/2 出品 = 対象2件をすべて処理）",
        },
        "legend.last_ok": {
            "en": "LAST OK: when its last cycle ended without error; 'paused' when that cycle "
            "ended before all its work was done (a stop request, a spent quota, items that "
            "failed)",
            "ja": "最終成功: 最後のサイクルがエラーなく終わった時刻。「中断」は停止要求やクォータ、"
            "失敗した項目のため途中で終わったサイクル",
        },
        "legend.restarts": {
            "en": "RESTARTS: by the watchdog or circusd in the last {window} (died: after it "
            "exited on its own; requested: restarted on request; a stop is none, per circusd's "
            "journal)",
            "ja": "再起動: 直近{window}に watchdog か circusd が再起動した回数"
            "（異常終了: 要求なしに終わった後、要求: 再起動の要求による。停止は数えない。"
            "circusd の記録より）",
        },
        "do.terminate": {"en": "terminate", "ja": "終了"},
        "do.restart": {"en": "restart", "ja": "再起動"},
        "do.stop_watcher": {"en": "stop_watcher", "ja": "ウォッチャー停止"},
        "do.remove_lock": {"en": "remove_lock", "ja": "ロック削除"},
        "do.alert": {"en": "alert", "ja": "通知"},
        # the dashboard's actions (ecauto/dashboard/actions.py)
        "do.retry": {"en": "retry", "ja": "再出品"},
        "do.test_alert": {"en": "test_alert", "ja": "テスト通知"},
        "found": {"en": "Found now:", "ja": "現在の検出:"},
        "found.nothing": {"en": "Found now: nothing wrong", "ja": "現在の検出: 問題なし"},
        "found.todo": {"en": "what to do: {what}", "ja": "対処: {what}"},
        "recent": {"en": "Recent events:", "ja": "最近の出来事:"},
        "alerts.off": {
            "en": "Alerts: off (CHATWORK_API_TOKEN or CHATWORK_ROOM_ID not set)",
            "ja": "通知: オフ（CHATWORK_API_TOKEN か CHATWORK_ROOM_ID が未設定）",
        },
        "alerts.pending": {
            "en": "Alerts waiting to be sent: {count}",
            "ja": "送信待ちの通知: {count}件",
        },
        "status": {"en": "Status: {status}", "ja": "総合: {status}"},
        # a daemon's state (report.py's state words, circusd's statuses)
        "state.running": {"en": "running", "ja": "稼働中"},
        "state.stopped": {"en": "stopped", "ja": "停止"},
        "state.stopping": {"en": "stopping", "ja": "停止処理中"},
        "state.starting": {"en": "starting", "ja": "起動中"},
        "state.missing": {"en": "missing", "ja": "未起動"},
        "state.crash loop": {"en": "crash loop", "ja": "終了を反復"},
        "state.failing": {"en": "failing", "ja": "失敗中"},
        "state.hung": {"en": "hung", "ja": "応答なし"},
        "state.duplicated": {"en": "duplicated", "ja": "二重起動"},
        "state.orphaned": {"en": "orphaned", "ja": "管理外"},
        "state.no heartbeat": {"en": "no heartbeat", "ja": "鼓動なし"},
        "state.needs a person": {"en": "needs a person", "ja": "要対応"},
        "state.off (live mode)": {"en": "off (live mode)", "ja": "オフ（live モード）"},
        "state.unknown": {"en": "unknown", "ja": "不明"},
        "state.busy": {"en": "busy", "ja": "処理中"},
        "state.not answering": {"en": "not answering", "ja": "応答なし"},
        "state.down": {"en": "down", "ja": "停止"},
        "phase.starting": {"en": "starting", "ja": "起動中"},
        "phase.working": {"en": "working", "ja": "処理中"},
        "phase.sleeping": {"en": "sleeping", "ja": "待機中"},
        "phase.stopping": {"en": "stopping", "ja": "停止中"},
        "severity.info": {"en": "info", "ja": "情報"},
        "severity.warning": {"en": "warning", "ja": "注意"},
        "severity.critical": {"en": "critical", "ja": "異常"},
    },
)

# What a daemon's heartbeat says it is doing (its `detail`), as the daemons write it in
# English; `watchdog report` says it again in the reader's language (common.Reworder).
DETAILS = Catalog(
    "details",
    {
        "batch": {"en": "batch {i} of {n}", "ja": "バッチ {i}/{n} を取得中"},
        "push": {
            "en": "BASE price and stock {i} of {n}",
            "ja": "BASE の価格・在庫 {i}/{n} を送信中",
        },
        "pushed": {
            "en": "pushed {i} of {n} prices to BASE",
            "ja": "BASE へ価格を {n} 件中 {i} 件送信済み",
        },
        "listing": {"en": "listing {i} of {n}", "ja": "出品 {i}/{n} を処理中"},
        "quota_kept": {
            "en": "waiting for {label}'s {which} quota until {until} ({kept} of {limit} kept "
            "for listings)",
            "ja": "{label} の{which}の利用枠を待っています（{until} まで。出品用に {limit} 中 "
            "{kept} を確保）",
        },
        "quota_until": {
            "en": "waiting for {label}'s {which} quota until {until}",
            "ja": "{label} の{which}の利用枠を待っています（{until} まで）",
        },
        "quota": {"en": "waiting for {label} quota", "ja": "{label} の利用枠を待っています"},
        "which.hourly": {"en": "hourly", "ja": "1時間"},
        "which.daily": {"en": "daily", "ja": "1日"},
    },
)

# How a process ended, as watchdog/deaths.py writes it ("killed by SIGKILL", "exit 2"): the
# report's LAST DEATH, an alert's "last death", a crash loop's words.
DEATHS = Catalog(
    "deaths",
    {
        "signal": {"en": "killed by {sig}", "ja": "{sig} で強制終了"},
        # The signals that ask a process to end (a stop, Ctrl-C, Ctrl-Break): not a forced kill.
        "sigterm": {"en": "killed by SIGTERM", "ja": "SIGTERM で終了"},
        "sigint": {"en": "killed by SIGINT", "ja": "SIGINT で終了"},
        "sigbreak": {"en": "killed by SIGBREAK", "ja": "SIGBREAK で終了"},
        "exit": {"en": "exit {code}", "ja": "終了コード {code} で終了"},
    },
)
_DEATHS = Reworder(DEATHS)


def death(how: str, lang: str) -> str:
    """How a process ended, in `lang` ("killed by SIGKILL": "SIGKILL で強制終了")."""
    return _DEATHS.translate(how, lang)


# What the watchdog's action did (an event's `result`, watchdog/execute.py), one part at a time
# (the executor joins parts with "; ").
RESULTS = Catalog(
    "results",
    {
        "restart_asked": {
            "en": "asked circusd to restart it",
            "ja": "circusd に再起動を依頼しました",
        },
        "stop_asked": {
            "en": "asked circusd to stop the watcher",
            "ja": "circusd にウォッチャーの停止を依頼しました",
        },
        "gone": {
            "en": "not restarted: the hung process is already gone",
            "ja": "再起動せず: 応答のないプロセスは既に終わっています",
        },
        "ended": {"en": "ended pid {pids}", "ja": "pid {pids} を終了させました"},
        "killed": {
            "en": "killed {pids} after {t} s",
            "ja": "{pids} は{t}秒で終わらず強制終了しました",
        },
        "respawn": {"en": "circusd starts it again", "ja": "circusd が起動し直します"},
        "no_restart": {
            "en": "circusd did not restart it ({why})",
            "ja": "circusd が再起動しませんでした（{why}）",
        },
        "removed": {"en": "removed", "ja": "削除しました"},
        "already_gone": {"en": "already gone", "ja": "既にありません"},
        "nothing": {"en": "nothing to do", "ja": "することはありません"},
        "not_done": {"en": "not done", "ja": "実行していません"},
        "not_stopped": {"en": "not stopped: {why}", "ja": "止めていません: {why}"},
        "not_removed": {"en": "not removed: {why}", "ja": "削除していません: {why}"},
        "not_signalled": {"en": "not signalled: {why}", "ja": "シグナルを送っていません: {why}"},
        "failed": {"en": "failed: {why}", "ja": "失敗: {why}"},
    },
)
_RESULTS = Reworder(RESULTS)


def result(text: str, lang: str) -> str:
    """What an action did, in `lang`, part by part; a part it does not know stays as it is."""
    if lang == "en":
        return text
    return "。".join(_result_part(part, lang) for part in text.split("; "))


def _result_part(part: str, lang: str) -> str:
    if f"bare.{part}" in OUTCOMES.entries:  # matched whole: "done" ends many a sentence
        return OUTCOMES.say(lang, f"bare.{part}")
    return _RESULTS.translate(part, lang)


# How an action ended, said once with what it was. The page's actions record a bare outcome
# (ecauto/dashboard/actions.py), said after the action's word ("再起動: 完了": the event's own
# words say the rest); the watchdog's removed lock says only "removed", said whole here.
OUTCOMES = Catalog(
    "outcomes",
    {
        "bare.done": {"en": "done", "ja": "完了"},
        "bare.queued": {"en": "queued", "ja": "受付済み"},
        "bare.refused": {"en": "refused", "ja": "拒否"},
        "bare.failed": {"en": "failed", "ja": "失敗"},
        "remove_lock.removed": {"en": "lock removed", "ja": "ロックを削除しました"},
        "remove_lock.already gone": {"en": "lock already gone", "ja": "ロックは既にありません"},
    },
)


# Results that do not say which action they are the result of.
_VAGUE = ("done", "queued", "refused", "failed", "removed", "already gone", "nothing to do")


def outcome(action: str, text: str, lang: str) -> str:
    """An action and what it did, said once ("ロックを削除しました", not "ロック削除:
    削除しました"): a result that says what was done alone ("circusd に再起動を依頼しました"),
    a vague one after the action's word; the word alone while there is no result yet."""
    action = action.replace("-", "_")  # a refusal recorded under the URL's name
    if f"{action}.{text}" in OUTCOMES.entries:
        return OUTCOMES.say(lang, f"{action}.{text}")
    key = f"do.{action}"
    word = REPORT.say(lang, key) if key in REPORT.entries else action
    if not text:
        return "" if action in ("", "none") else word
    said = result(text, lang)
    first = text.split("; ")[0]
    vague = first in _VAGUE or first.startswith(("failed: ", "not done"))
    return f"{word}: {said}" if vague and action not in ("", "none") else said


# What an event or a finding is (its `kind`), in a few words: the notification line's words
# (ecauto/words/alerts.py `head.<kind>`) for a finding, these for the rest. In another language
# than English the code follows in brackets, as README.ja.md's table pairs them.
KINDS = Catalog(
    "kinds",
    {
        "died": {"en": "died", "ja": "プロセス終了"},
        "dashboard_action": {"en": "dashboard_action", "ja": "ダッシュボード操作"},
        "incident": {"en": "incident", "ja": "問題"},
        "recovery": {"en": "recovery", "ja": "復旧"},
        "report": {"en": "report", "ja": "同期の報告"},
    },
)


def kind(code: str, lang: str) -> str:
    """An event's or a finding's kind as a person reads it: the code in English, in another
    language its words and the code to look it up by ("二重起動 (duplicate)")."""
    if lang == "en":
        return code
    if code in KINDS.entries:
        return f"{KINDS.say(lang, code)} ({code})"
    if f"head.{code}" in ALERTS.entries:
        return f"{ALERTS.say(lang, f'head.{code}')} ({code})"
    return code


# Why circusd did not answer (watchdog/collect.py), after "circusd: down: ".
CIRCUSD = Catalog(
    "circusd",
    {
        "refused": {
            "en": "no circusd listens at {endpoint}",
            "ja": "{endpoint} で待ち受ける circusd がありません",
        },
        "gone": {
            "en": "no circusd: its socket {path} is gone",
            "ja": "circusd がありません（ソケット {path} がありません）",
        },
    },
)
_CIRCUSD = Reworder(CIRCUSD)


def circusd_reason(text: str, lang: str) -> str:
    """Why circusd did not answer, in `lang` where it is a known reason."""
    return _CIRCUSD.translate(text, lang)
