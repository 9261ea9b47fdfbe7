"""The dashboard's words (ecauto/dashboard): every text the page shows, in both languages.

Machine output stays out of here: /metrics, /api/report and the events are keys and numbers.
"""

from ecauto.words import Catalog

DASHBOARD = Catalog(
    "dashboard",
    {
        "title": {"en": "ecauto dashboard", "ja": "ecauto ダッシュボード"},
        "now": {"en": "Now", "ja": "現在の状態"},
        "quotas": {"en": "Quotas over time", "ja": "API 使用量の推移"},
        "work": {"en": "Work", "ja": "処理の実績"},
        "incidents": {"en": "Incidents", "ja": "出来事"},
        "logs": {"en": "Logs", "ja": "ログ"},
        # The launcher calls it 秘密の鍵 too (ecauto/words/launcher.py, "dashboard").
        "secret_ask": {
            "en": "Dashboard secret (for actions):",
            "ja": "ダッシュボードの秘密の鍵（操作に必要）:",
        },
        "secret_wrong": {
            "en": "That is not this instance's secret.",
            "ja": "秘密の鍵が違います。",
        },
        "secret_where": {
            "en": "It is in the link `{shim} run` printed (`{shim} dashboard` opens it), or in "
            "the file {path}.",
            "ja": "`{shim} run` が表示したリンクに含まれています（`{shim} dashboard` で開けます）。"
            "ファイルは {path} です。",
        },
        "unlock": {"en": "Unlock", "ja": "解除"},
        "live": {"en": "live", "ja": "自動更新"},
        "updated": {"en": "updated", "ja": "更新"},
        "zone": {"en": "(times in {zone})", "ja": "（時刻は {zone}）"},
        "alerts_waiting": {"en": "alerts waiting to be sent: {n}", "ja": "送信待ちの通知: {n} 件"},
        "alerts_off": {
            "en": "alerts off (CHATWORK_API_TOKEN or CHATWORK_ROOM_ID not set)",
            "ja": "通知はオフ（CHATWORK_API_TOKEN か CHATWORK_ROOM_ID が未設定）",
        },
        "daemon": {"en": "Daemon", "ja": "デーモン"},
        "state": {"en": "State", "ja": "状態"},
        # The Now table's columns are the report's (REPORT "col.*"), as its legend names them.
        "last_error": {"en": "Last error", "ja": "最終エラー"},
        "died": {"en": "{column}: {what}", "ja": "{column}: {what}"},
        "restart": {"en": "Restart", "ja": "再起動"},
        "legend": {"en": "What the columns mean", "ja": "各列の意味"},
        "findings": {"en": "What the watchdog finds", "ja": "監視の判定"},
        "nothing_wrong": {"en": "Nothing wrong.", "ja": "問題はありません。"},
        "test_alert": {"en": "Send a test alert", "ja": "テスト通知を送る"},
        "quota_legend": {
            "en": "bars: use against the limit (dashed line); red marks: throttled answers",
            "ja": "棒: 上限（破線）に対する使用量、赤い印: 制限で断られた応答",
        },
        "limit_minute": {"en": "limit {limit} a minute", "ja": "上限 毎分 {limit} 回"},
        "limit_window": {"en": "limit {limit} per {window}", "ja": "上限 {limit} 回／{window}"},
        "measure_hour": {"en": "hour", "ja": "時間"},
        "measure_day": {"en": "day", "ja": "日"},
        "measure_5 min": {"en": "5 min", "ja": "5分"},
        # the ranges of the quota charts (the ?range= values stay these keys)
        "range.1h": {"en": "1h", "ja": "1時間"},
        "range.6h": {"en": "6h", "ja": "6時間"},
        "range.24h": {"en": "24h", "ja": "24時間"},
        "range.7d": {"en": "7d", "ja": "7日"},
        "range.30d": {"en": "30d", "ja": "30日"},
        "now_use": {"en": "now {pct}%", "ja": "現在 {pct}%"},
        "calls": {"en": "{n} calls", "ja": "{n} 回"},
        "throttled": {"en": "{n} throttled", "ja": "制限 {n} 回"},
        "sync_cycles": {"en": "Sync cycles", "ja": "在庫同期のサイクル"},
        # a sync cycle's state (sync_runs.state)
        "run.running": {"en": "reading", "ja": "取得中"},
        "run.pushing": {"en": "pushing prices", "ja": "価格送信中"},
        "run.complete": {"en": "complete", "ja": "完了"},
        "run.partial": {"en": "partly failed", "ja": "一部失敗"},
        "run.stopped": {"en": "stopped before its end", "ja": "途中で停止"},
        "run.abandoned": {"en": "abandoned", "ja": "放棄"},
        "started": {"en": "Started", "ja": "開始"},
        "duration": {"en": "Took", "ja": "所要時間"},
        "read": {"en": "Read", "ja": "取得"},
        "changed": {"en": "Changed", "ja": "変更"},
        "pushed": {"en": "Pushed", "ja": "反映"},
        "throttled_col": {"en": "Throttled", "ja": "制限"},
        "errors": {"en": "Errors", "ja": "エラー"},
        "no_cycles": {"en": "No sync cycle yet.", "ja": "まだ同期していません。"},
        "uploads": {"en": "Upload queue", "ja": "出品キュー"},
        "platform": {"en": "Platform", "ja": "販売先"},
        "queued": {"en": "Queued", "ja": "待ち"},
        "uploading": {"en": "Uploading", "ja": "出品中"},
        "uploaded": {"en": "Uploaded", "ja": "出品済み"},
        "failed": {"en": "Failed", "ja": "失敗"},
        "no_listings": {"en": "No listings.", "ja": "出品はありません。"},
        "failed_listings": {"en": "Failed listings", "ja": "失敗した出品"},
        "attempts": {"en": "Tries", "ja": "試行"},
        "retry": {"en": "Retry", "ja": "再試行"},
        "alert_waiting": {"en": "alert waiting", "ja": "通知待ち"},
        "no_incidents": {"en": "Nothing has happened yet.", "ja": "まだ何も起きていません。"},
        "all": {"en": "all", "ja": "すべて"},
        "level": {"en": "Level", "ja": "レベル"},
        "filter": {"en": "Show", "ja": "表示"},
        "no_logs": {"en": "No log lines.", "ja": "ログはありません。"},
        "refused_host": {
            "en": "Refused: this address is not the dashboard's.",
            "ja": "拒否: ダッシュボードのアドレスではありません。",
        },
        "refused_origin": {
            "en": "Refused: the request came from another site.",
            "ja": "拒否: 別のサイトからの要求です。",
        },
        # an event's words too (ecauto/words/findings.py): no parameters; the page adds
        # secret_where
        "refused_secret": {
            "en": "Refused: give the dashboard secret first.",
            "ja": "拒否: 先に秘密の鍵を入力してください。",
        },
        "refused_csrf": {
            "en": "Refused: the page is out of date; reload it.",
            "ja": "拒否: ページが古くなっています。再読み込みしてください。",
        },
        "bad_request": {"en": "Not understood.", "ja": "要求を理解できません。"},
        "unknown_daemon": {
            "en": "No daemon {name} to restart.",
            "ja": "{name} というデーモンはありません。",
        },
        "restart_self": {
            "en": "The page cannot restart its own dashboard (it would not see the answer): "
            "type `{shim} restart dashboard`.",
            "ja": "このページからダッシュボード自身は再起動できません。"
            "`{shim} restart dashboard` と入力してください。",
        },
        "restart_failed": {
            "en": "{name} was not restarted: {error}",
            "ja": "{name} を再起動できませんでした: {error}",
        },
        "restarted": {"en": "{name} restarted.", "ja": "{name} を再起動しました。"},
        "retry_none": {
            "en": "Listing {id} is not failed (any more): nothing to retry.",
            "ja": "出品 {id} は失敗状態ではありません。",
        },
        "retried": {
            "en": "Listing {id} ({sku}, {platform}) is queued again.",
            "ja": "出品 {id}（{sku}、{platform}）を再びキューに入れました。",
        },
        "alert_queued": {
            "en": "Test alert queued: it goes out with the next watchdog pass.",
            "ja": "テスト通知をキューに入れました。次の監視で送信されます。",
        },
    },
)
