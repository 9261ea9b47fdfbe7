"""What the watchdog found, and what a person should type about it.

A finding's words are a chain of phrase keys (`Finding.say`) over one set of params
(`Finding.params`): "what" first, then what follows from it ("restarting it", "left alone: ...").
Joined, they make its line in the operator's language. `TODO` has an entry for every phrase: the
last phrase of a chain that has one decides what the alert and the report tell a person to do.
The English `summary` (events.jsonl, logs) keeps its fuller wording; these are the short forms.

Params that end in `_s` are durations in seconds, shown in the reader's language ("95 s",
"95秒"). Params every todo may use: `cmd` (the launcher as typed: `./ecauto.sh`, `.\\ecauto.cmd`),
`watcher` (the finding's watcher, or "-").
"""

import string

from ecauto.words import Catalog
from ecauto.words.dashboard import DASHBOARD

# Why the dashboard refused an action (ecauto/dashboard/guard.py), as its page says it.
REFUSALS = ("refused_host", "refused_origin", "refused_secret", "refused_csrf")

FINDINGS = Catalog(
    "findings",
    {
        # circusd itself
        # The dashboard's actions (ecauto/dashboard/actions.py): its test alert and the events
        # each action records.
        "dashboard.test_alert": {
            "en": "test alert from the dashboard: alerts reach this room",
            "ja": "ダッシュボードからのテスト通知です。このルームに通知が届きます",
        },
        "dashboard.restarted": {
            "en": "restarted from the dashboard",
            "ja": "ダッシュボードから再起動しました",
        },
        "dashboard.restart_failed": {
            "en": "restart from the dashboard failed: {error}",
            "ja": "ダッシュボードからの再起動に失敗: {error}",
        },
        "dashboard.retried": {
            "en": "listing {id} ({sku}) queued again",
            "ja": "出品 {id}（{sku}）をもう一度キューに入れました",
        },
        **{f"dashboard.{why}": DASHBOARD.entries[why] for why in REFUSALS},
        "dashboard.test_alert_queued": {
            "en": "test alert queued (outbox entry {seq})",
            "ja": "テスト通知を送信待ちにしました（送信待ちの {seq} 番）",
        },
        "circusd.not_answering": {
            "en": "circusd (pid {pids}) runs but does not answer",
            "ja": "circusd（pid {pids}）は動いていますが応答しません",
        },
        "circusd.quit": {
            "en": "circusd was stopped on request (a stop or quit): nothing runs",
            "ja": "circusd は停止の要求で止められました。何も動いていません",
        },
        "circusd.none": {
            "en": "no circusd runs, and nobody asked it to stop: it died or was killed",
            "ja": "circusd が動いていません。停止要求の記録はなく、異常終了か強制終了です",
        },
        # watchers
        "watcher.missing": {
            "en": "circus.ini names this watcher but circusd does not run it",
            "ja": "circus.ini にあるウォッチャーを circusd が動かしていません",
        },
        "watcher.stopped_by_watchdog": {
            "en": "stopped by the watchdog after a crash loop: it stays stopped",
            "ja": "異常終了の繰り返しのため watchdog が止めました。止まったままです",
        },
        "watcher.stopped": {
            "en": "stopped, and no stop request was recorded: nobody asked for it",
            "ja": "停止しています。停止要求の記録はありません（人が止めたのではありません）",
        },
        "watcher.stopped_unknown": {
            "en": "stopped; circusd keeps no record of who stopped it",
            "ja": "停止しています。誰が止めたかの記録はありません",
        },
        "watcher.stopped_request": {
            "en": "stopped on request (circusctl stop)",
            "ja": "停止要求で止められています（circusctl stop）",
        },
        # crash loops
        "crash_loop.died": {
            "en": "died {deaths} times, each under {young_s} after its start",
            "ja": "起動後{young_s}以内の終了が{deaths}回続きました",
        },
        "crash_loop.last": {"en": "last death: {how}", "ja": "最後の終了: {how}"},
        "crash_loop.log": {"en": "its log says: {words}", "ja": "ログの最後の行: {words}"},
        # Its deaths were all exit 78 (EX_CONFIG): ecauto.toml (or a credential) it cannot use;
        # with the key, when the watchdog's own read of the file names one.
        "crash_loop.config": {
            "en": "each start exits 78: ecauto.toml or a credential cannot be used",
            "ja": "起動のたびに終了コード 78: ecauto.toml か認証情報が使えません",
        },
        "crash_loop.config_key": {
            "en": "each start exits 78: ecauto.toml cannot be used ({key})",
            "ja": "起動のたびに終了コード 78: ecauto.toml の {key} が使えません",
        },
        "crash_loop.respawns": {
            "en": "keeps exiting and being started again ({count} new pids in {window_s})",
            "ja": "終了と再起動を繰り返しています（{window_s}で新しい pid が{count}個）",
        },
        # copies
        "duplicate.beside_managed": {
            "en": "a second copy (pid {pids}) runs beside the one circusd manages",
            "ja": "circusd 管理下のものとは別に、2つ目のコピー（pid {pids}）が動いています",
        },
        "duplicate.beside_holder": {
            "en": "a second copy (pid {pids}) runs beside the lock holder",
            "ja": "ロックを持つプロセスとは別に、2つ目のコピー（pid {pids}）が動いています",
        },
        "duplicate.overlap": {
            "en": "circusd has run two copies (pid {pids}) for {age_s}",
            "ja": "circusd が2つのコピー（pid {pids}）を{age_s}動かしています",
        },
        "orphan.unmanaged": {
            "en": "pid {pids} runs but no circusd of this instance manages it",
            "ja": "pid {pids} はこの環境の circusd の管理外で動いています",
        },
        # leftovers, locks
        "leftovers": {
            "en": "{count} process(es) (pid {pids}) outlived the daemon that started them",
            "ja": "起動元のデーモンが終わった後も {count} 個のプロセス（pid {pids}）が残っています",
        },
        "lock.not_regular": {
            "en": "lock file {file} is not a regular file in locks/: left alone",
            "ja": "ロックファイル {file} は locks/ の通常ファイルではありません（触りません）",
        },
        "lock.stale": {
            "en": "lock file {file} is left over (nobody holds it): removing it",
            "ja": "ロックファイル {file} は使われていない残骸です。削除します",
        },
        "lock.held_odd": {
            "en": "lock file {file} says something odd, but a live process holds it: left alone",
            "ja": "ロックファイル {file} の内容は不正ですが、使用中のため触りません",
        },
        # hung
        "hung.bad_file": {
            "en": "its heartbeat file is wrong; its last good beat is within grace",
            "ja": "ハートビートファイルが読めないか、今のプロセスのものではありません"
            "（最後の正常な記録は猶予内のため様子見）",
        },
        "hung.no_beat": {
            "en": "pid {pids} is hung: no heartbeat for {age_s} (grace {grace_s})",
            "ja": "pid {pids} が応答しません: ハートビートが{age_s}ありません（猶予{grace_s}）",
        },
        "hung.old_beat": {
            "en": "pid {pids} is hung: its heartbeat is {age_s} old (grace {grace_s})",
            "ja": "pid {pids} が応答しません: ハートビートが{age_s}前で止まっています（猶予{grace_s}）",
        },
        # failing work, databases
        "failing": {
            "en": "its last {failures} cycle(s) failed: {error}",
            "ja": "直近{failures}回の処理が失敗しました: {error}",
        },
        "db_corrupt": {
            "en": "{db} fails its integrity check: {message}",
            "ja": "{db} が整合性チェックに失敗しました: {message}",
        },
        # the watchdog itself, the home, the sandbox
        "watchdog_failing": {
            "en": "the watchdog's passes fail (for {age_s}): {error}",
            "ja": "watchdog の巡回が失敗しています（{age_s}前から）: {error}",
        },
        "disk_full": {
            "en": "the home's disk is full ({free})",
            "ja": "ホームのディスクが一杯です（{free}）",
        },
        "config_error": {
            "en": "ecauto.toml cannot be used: {error}",
            "ja": "ecauto.toml が読めません: {error}",
        },
        "home_unsafe": {
            "en": "unsafe home: {problem}",
            "ja": "ホームが安全ではありません: {problem}",
        },
        "sandbox_port": {
            "en": "the sandbox's port {port} is taken by another program",
            "ja": "サンドボックスのポート {port} を別のプログラムが使っています",
        },
        "recovered": {
            "en": "healthy again ({kind} over)",
            "ja": "復旧しました（「{kind}」は解消）",
        },
        # what follows (the second phrase of a chain)
        "then.restarting": {
            "en": "restarting it through circusd",
            "ja": "circusd で再起動します",
        },
        "then.ending_for_circusd": {
            "en": "circusd does not answer: ending it so that circusd starts it again",
            "ja": "circusd が応答しないため終了させ、circusd に起動し直させます",
        },
        "then.ending": {"en": "ending it", "ja": "終了させます"},
        "then.backoff": {
            "en": "next restart in {left_s} (backoff)",
            "ja": "次の再起動は{left_s}後（間隔を空けています）",
        },
        "then.budget_spent": {
            "en": "needs a person: the restart budget is spent; not restarting it",
            "ja": "要対応: 再起動の上限に達したため、再起動しません",
        },
        "then.budget_spent_stop": {
            "en": "needs a person: the restart budget is spent; stopping its watcher",
            "ja": "要対応: 再起動の上限に達したため、ウォッチャーを止めます",
        },
        "then.left_alone": {
            "en": "left alone: {why}",
            "ja": "手を出しません: {why}",
        },
        "then.not_done": {
            "en": "not done: {why}",
            "ja": "実行しません: {why}",
        },
        "then.circusd_stopped_watcher": {
            "en": "needs a person: circusd stopped its watcher",
            "ja": "要対応: circusd がウォッチャーを止めました",
        },
        "then.watchdog_stopped_watcher": {
            "en": "needs a person: the watchdog stopped its watcher",
            "ja": "要対応: watchdog がウォッチャーを止めました",
        },
        "then.stopping_watcher": {
            "en": "needs a person: stopping its watcher",
            "ja": "要対応: ウォッチャーを止めます",
        },
        "then.other_copy_ending": {
            "en": "another copy holds its lock and is being ended",
            "ja": "ロックを持つ別のコピーを終了させています",
        },
    },
)

_LOG = {
    "en": "read log/{watcher}.log",
    "ja": "log/{watcher}.log を確認",
}
_NOTHING = {
    "en": "nothing now: the watchdog deals with it; if it comes back, read log/{watcher}.log",
    "ja": "今は不要（watchdog が対処します）。繰り返すなら log/{watcher}.log を確認",
}
# A copy comes back from what started it, which no daemon log names.
_COPY = {
    "en": "nothing now: the watchdog ends it; if it comes back, find what starts it "
    "(an old scheduled task or service)",
    "ja": "今は不要（watchdog が終了させます）。繰り返すなら、それを起動している古いタスクやサービスを"
    "探してください",
}
_START = {
    "en": "read log/{watcher}.log, fix the cause, then type `{cmd} restart {watcher}`",
    "ja": "log/{watcher}.log で原因を直してから `{cmd} restart {watcher}` と入力",
}
_RUN = {
    "en": "start it again: `{cmd} run --daemon`",
    "ja": "`{cmd} run --daemon` で起動し直してください",
}

TODO = Catalog(
    "todo",
    {
        "dashboard.test_alert": {"en": "nothing: this is a test", "ja": "不要（テストです）"},
        "dashboard.test_alert_queued": {
            "en": "nothing: this is a test",
            "ja": "不要（テストです）",
        },
        "dashboard.restarted": {"en": "nothing: it was asked for", "ja": "不要（依頼どおり）"},
        "dashboard.retried": {"en": "nothing: it was asked for", "ja": "不要（依頼どおり）"},
        "dashboard.restart_failed": {
            "en": "look at `{cmd} status`; restart it again with `{cmd} restart {watcher}`",
            "ja": "`{cmd} status` を確認し、`{cmd} restart {watcher}` でもう一度再起動",
        },
        **dict.fromkeys(
            (f"dashboard.{why}" for why in REFUSALS),
            {
                "en": "nothing if it was you (sign in with the dashboard secret); "
                "else find who reached the page",
                "ja": "自分なら不要（合言葉でサインイン）。心当たりがなければ誰がアクセスしたか確認",
            },
        ),
        "circusd.not_answering": {
            "en": "wait a minute; if it still does not answer: `{cmd} stop`, then `{cmd} run --daemon`",
            "ja": "1分待っても応答しなければ `{cmd} stop` の後 `{cmd} run --daemon`",
        },
        "circusd.quit": {
            "en": "nothing, unless it should run: `{cmd} run --daemon`",
            "ja": "不要（動かすなら `{cmd} run --daemon`）",
        },
        "circusd.none": {
            "en": "read log/circusd.log, then start it again: `{cmd} run --daemon`",
            "ja": "log/circusd.log を確認し `{cmd} run --daemon` で起動し直してください",
        },
        "watcher.missing": {
            "en": "read log/circusd.log (a hook or option it could not load), fix circus.ini, "
            "then `{cmd} stop` and `{cmd} run --daemon`",
            "ja": "log/circusd.log で circus.ini の誤りを直し `{cmd} stop` の後 `{cmd} run --daemon`",
        },
        "watcher.stopped_by_watchdog": _START,
        "watcher.stopped": {
            "en": "start it: `{cmd} restart {watcher}` (and read log/{watcher}.log)",
            "ja": "`{cmd} restart {watcher}` で起動（log/{watcher}.log も確認）",
        },
        "watcher.stopped_unknown": {
            "en": "if nobody meant to stop it: `{cmd} restart {watcher}`",
            "ja": "意図した停止でなければ `{cmd} restart {watcher}`",
        },
        "watcher.stopped_request": {
            "en": "nothing; to start it again: `{cmd} restart {watcher}`",
            "ja": "不要（再開は `{cmd} restart {watcher}`）",
        },
        "crash_loop.died": _START,
        "crash_loop.last": _START,
        "crash_loop.log": _START,
        "crash_loop.respawns": _LOG,
        # The cause is in ecauto.toml, not in the log; the daemon starts only once it is fixed.
        "crash_loop.config": {
            "en": "fix ecauto.toml (the key its error in log/{watcher}.log names) or the credential,"
            " then type `{cmd} restart {watcher}`",
            "ja": "ecauto.toml（log/{watcher}.log のエラーが示すキー）か認証情報を直してから"
            " `{cmd} restart {watcher}` と入力",
        },
        "crash_loop.config_key": {
            "en": "fix {key} in ecauto.toml, then type `{cmd} restart {watcher}`",
            "ja": "ecauto.toml の {key} を直してから `{cmd} restart {watcher}` と入力",
        },
        "duplicate.beside_managed": _COPY,
        "duplicate.beside_holder": _COPY,
        "duplicate.overlap": _NOTHING,
        "orphan.unmanaged": _NOTHING,
        "leftovers": _NOTHING,
        "lock.not_regular": {
            "en": "look at what is in locks/ and remove what is not a lock file",
            "ja": "locks/ の中を確認し、ロックファイル以外を取り除いてください",
        },
        "lock.stale": {
            "en": "nothing: the watchdog removes it",
            "ja": "不要（watchdog が削除します）",
        },
        "lock.held_odd": {"en": "nothing", "ja": "不要"},
        "hung.bad_file": {"en": "nothing yet", "ja": "今は不要"},
        "hung.no_beat": _NOTHING,
        "hung.old_beat": _NOTHING,
        "failing": {
            "en": "read the error above and log/{watcher}.log (a credential, the network, "
            "a marketplace down or refusing); once it is fixed, `{cmd} restart {watcher}` "
            "tries again at once",
            "ja": "上のエラーと log/{watcher}.log を確認（認証情報、ネットワーク、相手側の障害や拒否）。"
            "直したら `{cmd} restart {watcher}` ですぐに再試行",
        },
        "db_corrupt": {
            "en": "`{cmd} stop`, restore the database from a backup, then `{cmd} run --daemon`",
            "ja": "`{cmd} stop` の後バックアップから復元し `{cmd} run --daemon`",
        },
        "watchdog_failing": {
            "en": "read log/watchdog.log; `{cmd} restart watchdog`",
            "ja": "log/watchdog.log を確認し `{cmd} restart watchdog`",
        },
        "disk_full": {
            "en": "free space on the home's disk (old logs, backups); nothing else to type",
            "ja": "ホームのディスクを空けてください（古いログやバックアップ）",
        },
        "config_error": {
            "en": "fix the key it names in ecauto.toml; the watchdog picks it up by itself "
            "(a daemon restarted before then exits 78)",
            "ja": "ecauto.toml の示されたキーを直してください（watchdog は自動で読み直します。"
            "それまでに再起動したデーモンは起動できません）",
        },
        "home_unsafe": {
            "en": "fix the folder it names (owner only, no links); the watchdog acts again by itself",
            "ja": "示されたフォルダを直してください（所有者のみ、リンク不可）。直れば自動で再開します",
        },
        "sandbox_port": {
            "en": "stop the program on that port, or change sandbox.port in ecauto.toml",
            "ja": "そのポートのプログラムを止めるか ecauto.toml の sandbox.port を変更",
        },
        "recovered": {
            # true whether it recovered by itself or after the restart a person typed
            "en": "nothing: it is healthy again",
            "ja": "不要（復旧済み）",
        },
        "then.restarting": _NOTHING,
        "then.ending_for_circusd": _NOTHING,
        "then.ending": _NOTHING,
        "then.backoff": _NOTHING,
        "then.budget_spent": _START,
        "then.budget_spent_stop": _START,
        "then.left_alone": {
            "en": "look at the process it names; end it yourself if it is not wanted",
            "ja": "示されたプロセスを確認し、不要なら自分で終了させてください",
        },
        "then.not_done": {
            "en": "fix the home first (see the home_unsafe alert)",
            "ja": "先にホームを直してください（home_unsafe の通知を参照）",
        },
        "then.circusd_stopped_watcher": _START,
        "then.watchdog_stopped_watcher": _START,
        "then.stopping_watcher": _START,
        "then.other_copy_ending": _NOTHING,
    },
)

# Joins the phrases of a chain, per language.
JOIN = {"en": "; ", "ja": "。"}


def unfilled(say: tuple[str, ...], params: dict[str, str]) -> list[str]:
    """What is wrong with a chain of words: a phrase unknown, or a placeholder without its
    param (each phrase's English form names them; tests/test_words.py keeps the others equal)."""
    out = []
    for key in say:
        forms = FINDINGS.entries.get(key)
        if forms is None:
            out.append(f"no phrase {key!r}")
            continue
        names = {n for _, n, _, _ in string.Formatter().parse(forms["en"]) if n}
        out += [f"{key}: no param {n!r}" for n in sorted(names - params.keys())]
    return out
