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
        "stopped": {
            "en": "stopped (circusd pid {pid} gone after {seconds}s)",
            "ja": "停止しました（circusd pid {pid} は {seconds} 秒で終了）",
        },
        "none": {"en": "none", "ja": "なし"},
        "state.active": {"en": "active", "ja": "稼働中"},
        "state.stopped": {"en": "stopped", "ja": "停止"},
        "state.stopping": {"en": "stopping", "ja": "停止中"},
        "state.starting": {"en": "starting", "ja": "起動中"},
    },
)
