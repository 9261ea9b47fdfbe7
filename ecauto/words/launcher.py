"""What `ecauto run|status|restart|stop|dashboard` print (ecauto/launcher.py)."""

from ecauto.words import Catalog

LAUNCHER = Catalog(
    "launcher",
    {
        "running": {
            "en": "circusd is running {watchers} watchers at {endpoint}, each daemon beating",
            "ja": "circusd が {watchers} 個のウォッチャーを動かしています（{endpoint}）。"
            "どのデーモンもハートビートを書いています",
        },
        "dashboard": {
            "en": "dashboard at {url}{lan}; with its secret: {link}",
            "ja": "ダッシュボード: {url}{lan}（操作もするときは秘密の鍵付きのこちら: {link}）",
        },
        "lan": {"en": " (and on the LAN)", "ja": "（LAN からも見られます）"},
        "next": {
            "en": "next: `{shim} status`, `{shim} report`, `{shim} stop`; {alerts}",
            "ja": "次に使うコマンド: `{shim} status`（状態）、`{shim} report`（詳しい状態）、"
            "`{shim} stop`（停止）。{alerts}",
        },
        "alerts_sandbox": {
            "en": "alerts go to the sandbox's Chatwork (room {room}): {file}",
            "ja": "通知はサンドボックスの Chatwork（ルーム {room}）に届きます: {file}",
        },
        "alerts_room": {
            "en": "alerts go to Chatwork room {room}",
            "ja": "通知は Chatwork のルーム {room} に届きます",
        },
        "alerts_off": {"en": "{why}", "ja": "通知は送られません（{why}）"},
        "stale_pidfile": {
            "en": "removed a stale {pidfile} ({why})",
            "ja": "古い {pidfile} を消しました（{why}）",
        },
        "stale_pid": {
            "en": "pid {pid} is no circusd of this home",
            "ja": "pid {pid} はこのホームの circusd ではありません",
        },
        "stale_empty": {"en": "it held no pid", "ja": "pid が書かれていませんでした"},
        "not_running": {
            "en": "not running (home {home}; `{shim} run` starts it)",
            "ja": "動いていません（ホーム {home}。`{shim} run` で起動します）",
        },
        # circusctl typed with no circusd listening (ecauto/bare.py)
        "no_circusd": {
            "en": "not running (no circusd at {endpoint}; `{shim} run` starts it)",
            "ja": "動いていません（{endpoint} に circusd がいません。`{shim} run` で起動します）",
        },
        "restarted": {
            "en": "restarted {name} (pid {old} -> {new})",
            "ja": "{name} を再起動しました（pid {old} → {new}）",
        },
        # `restart` when the new process is gone within launcher.SETTLE_S
        "ended_at_once": {
            "en": "restarted {name} (pid {old} -> {new}), but the new process ended at once"
            "{how}; `{shim} report` says why",
            "ja": "{name} を再起動しました（pid {old} → {new}）が、新しいプロセスはすぐに止まりました"
            "{how}。原因は `{shim} report` で確認してください",
        },
        "ended_how": {"en": " ({how})", "ja": "（{how}）"},
        "stopped": {
            "en": "stopped (circusd pid {pid} gone after {seconds}s)",
            "ja": "停止しました（circusd pid {pid} は {seconds} 秒で終了）",
        },
        "none": {"en": "none", "ja": "なし"},
        "state.active": {"en": "active", "ja": "稼働中"},
        "state.stopped": {"en": "stopped", "ja": "停止"},
        "state.stopping": {"en": "stopping", "ja": "停止中"},
        "state.starting": {"en": "starting", "ja": "起動中"},
        # `run` while it runs (already_running)
        "already_ours": {
            "en": "already running: circusd pid {pid} of this home "
            "(`{shim} status`; `{shim} stop` first to restart it)",
            "ja": "すでに動いています: このホームの circusd（pid {pid}）"
            "（状態は `{shim} status`。起動し直すには先に `{shim} stop`）",
        },
        "already_answers": {
            "en": "already running: a circusd answers at {endpoint} "
            "(`{shim} status`; `{shim} stop` first)",
            "ja": "すでに動いています: {endpoint} で circusd が応答します"
            "（状態は `{shim} status`。先に `{shim} stop`）",
        },
        "endpoint_taken": {
            "en": "{endpoint} is taken by a program that is not circusd: "
            "stop it, or choose other ports",
            "ja": "{endpoint} は circusd ではないプログラムが使っています。"
            "そのプログラムを止めるか、別のポートを選んでください",
        },
        "no_watcher": {
            "en": "no watcher named {name} (watchers: {known})",
            "ja": "{name} という名前のウォッチャーはありません（あるのは: {known}）",
        },
        # `dashboard` (without --print)
        "dashboard_open": {
            "en": "opening the dashboard in the browser; sign in with this link, "
            "which carries its secret: {link}",
            "ja": "ブラウザでダッシュボードを開きます。サインインには秘密の鍵付きのこのリンクを"
            "使ってください: {link}",
        },
        "no_browser": {
            "en": "no browser could be opened here: open the link above yourself",
            "ja": "ここではブラウザを開けませんでした。上のリンクを自分で開いてください",
        },
        # argparse's complaints (launcher._Parser); --help itself stays in English
        "usage": {
            "en": "{message} (see --help)",
            "ja": "{message}（使い方は --help で表示されます。ヘルプは英語です）",
        },
        "arg_required": {
            "en": "the following arguments are required: {names}",
            "ja": "次の引数が必要です: {names}",
        },
        "arg_unrecognized": {
            "en": "unrecognized arguments: {args}",
            "ja": "知らない引数です: {args}",
        },
        "arg_choice": {
            "en": "argument {name}: invalid choice: {value} (choose from {choices})",
            "ja": "{name} に {value} は使えません（使えるのは {choices}）",
        },
        # argparse's names of the arguments (ja only: English keeps argparse's own)
        "arg.command": {"en": "command", "ja": "コマンド"},
        "arg.commands": {
            "en": "a command ({commands})",
            "ja": "コマンド（{commands} のどれか）",
        },
        "arg.watcher": {"en": "watcher", "ja": "ウォッチャー名"},
        "arg_one": {
            "en": "argument {name}: expected one argument",
            "ja": "{name} には値が一つ必要です",
        },
    },
)
