"""The words of a Chatwork alert (watchdog/alerts/compose.py).

The first line is what a phone's notification shows: severity, daemon, and what happened in a
few words (`head.<kind>`, one per finding kind, short enough for a Japanese notification line).
The box below says it whole, then the details, the time, and last what to do.
"""

from ecauto.words import Catalog

ALERTS = Catalog(
    "alerts",
    {
        "tag.warning": {"en": "WARNING", "ja": "注意"},
        "tag.critical": {"en": "CRITICAL", "ja": "異常"},
        "tag.recovered": {"en": "RECOVERED", "ja": "復旧"},
        "title.one": {"en": "{daemon} on {host}", "ja": "{host} の {daemon}"},
        "title.instance": {"en": "on {host}", "ja": "{host}"},
        "title.many": {
            "en": "{count} alerts on {host}, oldest first",
            "ja": "{host} の通知 {count}件（古い順）",
        },
        "count.problems": {"en": "{count} problem(s)", "ja": "問題{count}件"},
        "count.recovered": {"en": "{count} recovered", "ja": "復旧{count}件"},
        "done": {"en": "done: {what}", "ja": "実施: {what}"},
        "at": {"en": "at: {when}", "ja": "時刻: {when}"},
        "todo": {"en": "what to do: {what}", "ja": "対処: {what}"},
        "todo.default": {
            "en": "look at `{cmd} report` and log/{watcher}.log",
            "ja": "`{cmd} report` と log/{watcher}.log を確認",
        },
        "more_lines": {"en": "… (more in the watchdog log)", "ja": "…（続きは watchdog のログ）"},
        "more_alerts": {
            "en": "… and {count} more (see the watchdog log)",
            "ja": "…ほか{count}件（watchdog のログ参照）",
        },
        # What happened, in a few words: the end of the notification line.
        "head.duplicate": {"en": "a second copy runs", "ja": "二重起動"},
        "head.orphan": {"en": "a copy no circusd manages", "ja": "管理外のプロセス"},
        "head.stale_lock": {"en": "a lock left over", "ja": "ロックの残骸"},
        "head.hung": {"en": "hung (no heartbeat)", "ja": "応答なし"},
        "head.down": {"en": "stopped", "ja": "停止中"},
        "head.test": {"en": "a test alert", "ja": "テスト通知"},
        "head.crash_loop": {"en": "keeps dying at start", "ja": "起動直後の終了を反復"},
        "head.missing": {"en": "not run by circusd", "ja": "circusd が起動していない"},
        "head.leftovers": {"en": "processes left behind", "ja": "プロセスの残留"},
        "head.circusd_down": {"en": "circusd is not running", "ja": "circusd 停止"},
        "head.watchdog_failing": {"en": "the watchdog fails", "ja": "watchdog の異常"},
        "head.disk_full": {"en": "disk full", "ja": "ディスク不足"},
        "head.config_error": {"en": "ecauto.toml has an error", "ja": "設定ファイルの誤り"},
        "head.sandbox_port": {"en": "sandbox port taken", "ja": "サンドボックスのポート競合"},
        "head.failing": {"en": "its cycles fail", "ja": "処理が失敗"},
        "head.db_corrupt": {"en": "database damaged", "ja": "データベース破損"},
        "head.home_unsafe": {"en": "home folder unsafe", "ja": "ホームが安全でない"},
        "head.recovered": {"en": "healthy again", "ja": "復旧しました"},
        # The names of a notice's details.
        "detail.pid": {"en": "pid", "ja": "pid"},
        "detail.pids": {"en": "pids", "ja": "pid"},
        "detail.heartbeat age": {"en": "heartbeat age", "ja": "ハートビート経過"},
        "detail.last error": {"en": "last error", "ja": "最後のエラー"},
        "detail.last error at": {"en": "last error at", "ja": "エラー発生"},
        "detail.state": {"en": "process state", "ja": "プロセスの状態"},
        "detail.restarts in window": {"en": "restarts in window", "ja": "期間内の再起動"},
        "detail.window": {"en": "window", "ja": "集計期間"},
        # A crash loop's "last error" is the last line of its log, whatever that line says.
        "detail.log line": {"en": "last line of its log", "ja": "ログの最後の行"},
        "detail.deaths": {"en": "deaths", "ja": "終了回数"},
        "detail.last death": {"en": "last death", "ja": "最後の終了"},
        "detail.lasted": {"en": "seen for", "ja": "検出されていた時間"},
        "detail.was": {"en": "was", "ja": "内容"},
        "detail.command": {"en": "command", "ja": "コマンド"},
        "detail.parent": {"en": "parent", "ja": "親プロセス"},
        "detail.started by": {"en": "started by", "ja": "起動元"},
        "detail.free": {"en": "free", "ja": "空き容量"},
        "detail.failed passes": {"en": "failed passes", "ja": "失敗した巡回"},
        "detail.failed in a row": {"en": "failed in a row", "ja": "連続失敗"},
        "detail.running on": {"en": "running on", "ja": "使用中の設定"},
        "detail.cause": {"en": "cause", "ja": "原因"},
        "value.ecauto.toml or a credential": {
            "en": "ecauto.toml or a credential",
            "ja": "ecauto.toml か認証情報",
        },
        "detail.check": {"en": "check", "ja": "検査"},
        "detail.sqlite says": {"en": "sqlite says", "ja": "SQLite の結果"},
        "detail.problem": {"en": "problem", "ja": "問題"},
        "detail.why": {"en": "why", "ja": "理由"},
        # A process's state as the OS gives it (a hung alert's "process state").
        "pstate.running": {"en": "running", "ja": "実行中"},
        "pstate.sleeping": {"en": "sleeping", "ja": "待機中"},
        "pstate.idle": {"en": "idle", "ja": "待機中"},
        "pstate.disk-sleep": {"en": "disk-sleep (waiting for the disk)", "ja": "ディスク待ち"},
        "pstate.stopped": {
            "en": "stopped (paused by a signal such as SIGSTOP)",
            "ja": "一時停止中（SIGSTOP などのシグナルによる）",
        },
        "pstate.tracing-stop": {
            "en": "tracing-stop (paused by a debugger)",
            "ja": "一時停止中（デバッガによる）",
        },
        "pstate.zombie": {"en": "zombie (ended, not yet reaped)", "ja": "終了済み（ゾンビ）"},
        # Details' values the checks write in English words (watchdog/checks/).
        "value.none": {"en": "none", "ja": "なし"},
        "value.unknown": {"en": "unknown", "ja": "不明"},
        "value.the last good configuration": {
            "en": "the last good configuration",
            "ja": "最後に正しかった設定",
        },
        "value.the defaults": {"en": "the defaults", "ja": "既定の設定"},
        "value.gone (reparented)": {
            "en": "gone (reparented)",
            "ja": "終了済み（別の親プロセスに引き継がれた）",
        },
    },
)
