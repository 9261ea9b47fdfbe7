"""Words of the sync cycle reports and their warnings (watchdog/cyclereports.py).

A report's first line is what a phone's notification shows: short and complete on its own,
e.g. "[ecauto] 同期完了 10,772件 32分 エラー0.1%".
"""

from ecauto.words import Catalog

CYCLES = Catalog(
    "cycles",
    {
        # -- first lines ----------------------------------------------------------------------
        "headline": {
            "ja": "同期{state} {items}件 {duration} エラー{rate}",
            "en": "sync {state}: {items} products, {duration}, errors {rate}",
        },
        "digest": {
            "ja": "日次まとめ 同期{cycles}回 {items}件 エラー{rate}",
            "en": "daily digest: {cycles} sync cycles, {items} products, errors {rate}",
        },
        "digest_none": {
            "ja": "日次まとめ 完了した同期なし",
            "en": "daily digest: no sync cycle finished",
        },
        "complete": {"ja": "完了", "en": "done"},
        # failed batches or refused price pushes, from some to all of them
        "partial": {"ja": "完了(失敗あり)", "en": "done with failures"},
        "stopped": {"ja": "中断", "en": "stopped"},
        # -- the box below --------------------------------------------------------------------
        "cycle": {"ja": "サイクル", "en": "cycle"},
        "cycle_value": {"ja": "#{run} {start}〜{end}", "en": "#{run} {start} to {end}"},
        "cycles": {"ja": "サイクル", "en": "cycles"},
        "cycles_value": {
            "ja": "{count}回 (#{first}〜#{last}) 平均{mean} 最長{longest}",
            "en": "{count} (#{first} to #{last}), mean {mean}, longest {longest}",
        },
        "period": {"ja": "期間", "en": "period"},
        "period_value": {"ja": "{since}〜{until}", "en": "{since} to {until}"},
        "duration": {"ja": "所要時間", "en": "duration"},
        "read": {"ja": "取得 {account}", "en": "read, {account}"},
        "read_others": {"ja": "取得 他{count}店", "en": "read, {count} more shops"},
        "read_value": {"ja": "{n}件", "en": "{n} products"},
        "prices": {"ja": "価格", "en": "prices"},
        "prices_value": {
            "ja": "変更{changed}件 反映{pushed}件",
            "en": "{changed} changed, {pushed} pushed",
        },
        # More pushed than changed: a push also tells BASE a new stock (an offer gone or back)
        # and retries what an earlier cycle could not push; "changed" counts prices only.
        "prices_value_more": {
            "ja": "変更{changed}件 反映{pushed}件（在庫の変化・前回の残りを含む）",
            "en": "{changed} changed, {pushed} pushed (stock changes and earlier ones included)",
        },
        "errors": {"ja": "エラー", "en": "errors"},
        "errors_value": {
            "ja": "{batches}バッチ中{errors}件失敗 ({rate})",
            "en": "{errors} of {batches} batches failed ({rate})",
        },
        "throttled": {"ja": "制限待ち", "en": "throttled"},
        "throttled_value": {"ja": "{n}回", "en": "{n} answers"},
        "uploads": {"ja": "出品 {platform}", "en": "listings, {platform}"},
        "uploads_value": {
            "ja": "成功{uploaded}件 失敗{failed}件",
            "en": "{uploaded} uploaded, {failed} failed",
        },
        "no_uploads": {"ja": "出品", "en": "listings"},
        "no_uploads_value": {"ja": "この間なし", "en": "none in this period"},
        # -- warnings (a message of their own, WARNING) -----------------------------------------
        "warn_errors": {
            "ja": "同期エラー率{rate} (上限{limit})",
            "en": "sync error rate {rate}, above {limit}",
        },
        "warn_slow": {
            "ja": "同期に{duration}かかった (上限{limit})",
            "en": "sync cycle took {duration}, over {limit}",
        },
        "to_do": {"ja": "対処", "en": "to do"},
        "warn_errors_do": {
            "ja": "`{cmd} report` で sync-inventory の最後のエラーを確認",
            "en": "see sync-inventory's last error: `{cmd} report`",
        },
        "warn_slow_do": {
            "ja": "log/sync-inventory.log の throttled（制限待ち）を確認 (SP-API の上限か商品数の増加)",
            "en": "see throttled= in log/sync-inventory.log (SP-API limits, or more products)",
        },
        # -- durations ------------------------------------------------------------------------
        "seconds": {"ja": "{s}秒", "en": "{s} s"},
        "minutes": {"ja": "{m}分", "en": "{m} min"},
        "minutes_seconds": {"ja": "{m}分{s}秒", "en": "{m} min {s} s"},
        "hours": {"ja": "{h}時間{m}分", "en": "{h} h {m} min"},
    },
)
