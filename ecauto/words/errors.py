"""The daemons' one-line errors that reach the operator (a refused token, a missing variable, a
home or config that cannot be used), and how they read in the operator's language.

Where an error is raised, its English line is made from here (`ERRORS.say("en", key, ...)`): logs,
heartbeats and `--json` keep that English. What a person reads (the report's LAST ERROR, an
alert's details, a finding quoting an error) goes through `translate`, which knows each English
line by its template and says it in the reader's language; text it does not know is left as it
is. So a daemon needs no language of its own, and an error from a bad config (read before any
language is known) is translated all the same.
"""

from __future__ import annotations

import re

from ecauto.words import Catalog
from ecauto.words.common import Reworder

ERRORS = Catalog(
    "errors",
    {
        "token_refused": {
            "en": "{name}: the refresh token was refused ({what}); "
            "authorise again and set a new refresh token",
            "ja": "{name}: リフレッシュトークンが拒否されました（{what}）。"
            "認可をやり直し、新しいリフレッシュトークンを設定してください",
        },
        "env_missing": {
            "en": "environment variable {name} is not set (needed in live mode)",
            "ja": "環境変数 {name} が設定されていません（live モードで必要）",
        },
        "home_missing": {
            "en": "no ecauto home at {root} (set --home or ECAUTO_HOME)",
            "ja": "{root} に ecauto のホームがありません（--home か ECAUTO_HOME を指定）",
        },
        "home_unsafe": {
            "en": "unsafe home: {problem}",
            "ja": "ホームが安全ではありません: {problem}",
        },
        # What makes a path in the home unsafe (ecauto/home.py), inside "unsafe home: ...".
        "path_unchecked": {
            "en": "{path} cannot be checked: {why}",
            "ja": "{path} を確認できません: {why}",
        },
        "path_symlink": {
            "en": "{path} is a symlink (name the real folder, or remove the link)",
            "ja": "{path} はシンボリックリンクです（実際のフォルダを指定するか、リンクを消してください）",
        },
        "path_not_folder": {
            "en": "{path} is not a folder",
            "ja": "{path} はフォルダではありません",
        },
        "path_not_file": {
            "en": "{path} is not a regular file",
            "ja": "{path} は通常のファイルではありません",
        },
        "path_owner": {
            "en": "{path} belongs to uid {uid}, not to this user (uid {me})",
            "ja": "{path} の持ち主は uid {uid} で、このユーザー（uid {me}）ではありません",
        },
        "path_writable_both": {
            "en": "{path} is writable by group and others (mode {mode}): chmod go-w it",
            "ja": "{path} はグループと他のユーザーが書き込めます（モード {mode}）: chmod go-w で直してください",
        },
        "path_writable_group": {
            "en": "{path} is writable by group (mode {mode}): chmod go-w it",
            "ja": "{path} はグループが書き込めます（モード {mode}）: chmod go-w で直してください",
        },
        "path_writable_others": {
            "en": "{path} is writable by others (mode {mode}): chmod go-w it",
            "ja": "{path} は他のユーザーが書き込めます（モード {mode}）: chmod go-w で直してください",
        },
        # Why the watchdog sends no alerts (watchdog/alerts/chatwork.py not_configured).
        "alerts_unset": {
            "en": "alerts not configured: {variable} is not set",
            "ja": "通知の設定がありません: 環境変数 {variable} が未設定です",
        },
        "alerts_room_number": {
            "en": "alerts not configured: CHATWORK_ROOM_ID must be a number",
            "ja": "通知の設定がありません: CHATWORK_ROOM_ID は数字にしてください",
        },
        "alerts_url": {
            "en": "alerts not configured: CHATWORK_API_URL must start with https://",
            "ja": "通知の設定がありません: CHATWORK_API_URL は https:// で始めてください",
        },
        "config_not_found": {
            "en": "{where}: config file not found",
            "ja": "{where}: 設定ファイルがありません",
        },
        "config_unknown_key": {
            "en": "unknown key '{key}' (known: {known})",
            "ja": "不明な設定キー '{key}'（使えるキー: {known}）",
        },
        "config_bad_value": {
            "en": "{key} must be {form}, got {value}",
            "ja": "{key} の値が不正です: {value}（正しい値: {form}）",
        },
        # A report or scan when ecauto.toml cannot be read, on what the watchdog runs on.
        "config_last_good": {
            "en": "{error}; using the last good configuration ({path})",
            "ja": "{error}。最後に正しく読めた設定（{path}）を使います",
        },
        "config_unreadable": {
            "en": "{where}: cannot read config: {why}",
            "ja": "{where}: 設定ファイルを読めません: {why}",
        },
        "config_not_table": {
            "en": "{key} must be a table",
            "ja": "{key} はテーブル（[...] の節）にしてください",
        },
        "config_account_name": {
            "en": "{key}: an account's name must be 1 to 32 of a-z, 0-9, _ and -, "
            "starting with a letter or digit",
            "ja": "{key}: アカウント名は a-z、0-9、_、- の1〜32文字で、英小文字か数字で始めてください",
        },
        "config_env_prefix": {
            "en": "{key}.env_prefix must be upper-case letters, digits and _, got {value}",
            "ja": "{key}.env_prefix の値が不正です: {value}（正しい値: 英大文字、数字、_）",
        },
        "config_prefix_shared": {
            "en": "{key}: its credentials' prefix {prefix} is also {other}'s",
            "ja": "{key}: 認証情報の接頭辞 {prefix} は {other} と同じです（アカウントごとに別にしてください）",
        },
        # One account of several (an eBay or Yahoo seller) that cannot go on, named.
        "account_refused": {
            "en": "{platform} account {account}: {error} ({variable} in the environment)",
            "ja": "{platform} のアカウント {account}: {error}（環境変数 {variable}）",
        },
        "account_stopped": {
            "en": "{platform} account {account}: {error}",
            "ja": "{platform} のアカウント {account}: {error}",
        },
        # A copy started while its daemon runs (ecauto/daemon/early.py, Daemon.serve).
        "lock_held": {
            "en": "{name}: not started: {daemon} is already running as pid {pid}; lock {path}",
            "ja": "{name}: 起動しませんでした: {daemon} はすでに pid {pid} で動いています（ロック {path}）",
        },
        "lock_held_unreadable": {
            "en": "{name}: not started: {daemon} is already running as another process "
            "(owner unreadable); lock {path}",
            "ja": "{name}: 起動しませんでした: {daemon} はすでに別のプロセスで動いています"
            "（持ち主は読めません。ロック {path}）",
        },
        "cycle_failed": {"en": "cycle failed: {error}", "ja": "処理に失敗: {error}"},
        "crashed": {"en": "crashed: {error}", "ja": "異常終了: {error}"},
        # A second sandbox or dashboard of this home, and a port held by a stranger
        # (ecauto/sandbox/__main__.py, ecauto/dashboard/__main__.py).
        "serving_already": {
            "en": "{name}: not started: it is already running in this home as pid {pid} "
            "(port {port})",
            "ja": "{name}: 起動しませんでした: このホームですでに pid {pid} で動いています"
            "（ポート {port}）",
        },
        "port_taken_by": {
            "en": "{name}: port {port} on {host} is taken by another program ({holder}); "
            "not started",
            "ja": "{name}: {host} のポート {port} は別のプログラム（{holder}）が使っています。"
            "起動しませんでした",
        },
        "port_taken": {
            "en": "{name}: port {port} on {host} is taken by another program; not started",
            "ja": "{name}: {host} のポート {port} は別のプログラムが使っています。起動しませんでした",
        },
    },
)

# What a config value must be, in `config_bad_value`'s {form} (ecauto/config.py `_rule`): keyed,
# so the whole line reads in the operator's language. `kind` is the field's type, said as
# "number", "whole_number" or "string" are; `kept_*` what an account's -1 keeps.
FORMS = Catalog(
    "config_forms",
    {
        "number": {"en": "a number", "ja": "数値"},
        "whole_number": {"en": "a whole number", "ja": "整数"},
        "string": {"en": "a string", "ja": "文字列"},
        "string_list": {"en": "a list of non-empty strings", "ja": "空でない文字列のリスト"},
        "above": {
            "en": "{kind} greater than {lo} and at most {hi}",
            "ja": "{lo} より大きく {hi} 以下の{kind}",
        },
        "from_to": {"en": "{kind} from {lo} to {hi}", "ja": "{lo} 以上 {hi} 以下の{kind}"},
        "unset_or": {
            "en": "a whole number from {lo} to {hi} (or {unset}: {kept})",
            "ja": "{lo} 以上 {hi} 以下の整数（{unset} なら{kept}）",
        },
        "kept_base": {"en": "the [base] value", "ja": "[base] の値"},
        "kept_demo": {"en": "demo.products", "ja": "demo.products の値"},
        "kept_upload": {"en": "the [upload.<platform>] value", "ja": "[upload.<platform>] の値"},
        "mode": {"en": '"sandbox" or "live"', "ja": '"sandbox" か "live"'},
        "operation": {
            "en": '"getCompetitivePricing" or "getItemOffersBatch" (getPricing answers only the'
            " seller's own offers, not the market)",
            "ja": '"getCompetitivePricing" か "getItemOffersBatch"'
            "（getPricing は出品者自身の出品だけを返し、市場の価格を返しません）",
        },
        "region": {"en": '"na", "eu" or "fe"', "ja": '"na"、"eu"、"fe" のいずれか'},
        "report_mode": {
            "en": '"each", "daily" or "off"',
            "ja": '"each"、"daily"、"off" のいずれか',
        },
        "clock_time": {
            "en": 'a time of day "HH:MM" from "00:00" to "23:59"',
            "ja": '"00:00" から "23:59" までの時刻（"HH:MM"）',
        },
        "language": {"en": '"ja" or "en"', "ja": '"ja" か "en"'},
        "listen": {
            "en": '"127.0.0.1" (this machine only) or "0.0.0.0" (the LAN too; README "Dashboard")',
            "ja": '"127.0.0.1"（このマシンのみ）か "0.0.0.0"（LAN からも。README.ja.md「ダッシュボード」）',
        },
    },
)

REWORDER = Reworder(ERRORS)
FORM_REWORDER = Reworder(FORMS)


def translate(text: str, lang: str) -> str:
    """`text` in `lang` where it is a known error (or quotes one); as it is otherwise."""

    def shown(name: str, value: str) -> str | None:
        # A config value's form is said from its own catalog (its kind and bounds within).
        return FORM_REWORDER.translate(value, lang) if name == "form" else None

    return REWORDER.translate(text, lang, shown)


# The key a config error names, as `config_bad_value` and `config_unknown_key` say it (either
# language: a daemon says its error in the file's).
_CONFIG_KEY = re.compile(
    r"(?:^|: )(?:unknown key '(?P<unknown>[^']+)'|不明な設定キー '(?P<fumei>[^']+)'"
    r"|(?P<bad>[\w.<>-]+)(?: must be | の値が不正です: ))"
)


def config_key(text: str) -> str | None:
    """The key of ecauto.toml a config error names, None when `text` is not one that does."""
    m = _CONFIG_KEY.search(text)
    return next((k for k in m.groups() if k), None) if m else None
