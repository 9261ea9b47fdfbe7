"""The project's one configuration file, `ecauto.toml`, read with the standard library.

Every section is a frozen dataclass; the loader walks them, so an unknown key or a value of the
wrong form stops the start with one line that names the key and the form it expects.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import stat
import tomllib
import typing
from dataclasses import field
from pathlib import Path
from typing import Any

from ecauto import roster
from ecauto.frozen import frozen
from ecauto.words import DEFAULT_LANGUAGE, LANGUAGES
from ecauto.words.errors import ERRORS, FORMS

DEFAULT_CONFIG_NAME = "ecauto.toml"
MAX_CONFIG_BYTES = 1024 * 1024
PLATFORMS = ("base", "ebay", "yahoo")


class ConfigError(Exception):
    """A configuration problem, worded as the one line an operator will read.

    `language` is the file's own `ui.language` when that much of it could be read (the rest
    being wrong), so the line can be said in the operator's language (`said()`)."""

    def __init__(self, message: str, language: str = DEFAULT_LANGUAGE) -> None:
        super().__init__(message)
        self.language = language

    def said(self, lang: str | None = None) -> str:
        from ecauto.words import errors

        return errors.translate(str(self), lang or self.language)


def file_language(data: Any) -> str:
    """`ui.language` from a config file's raw table when it is one of ours, else the default."""
    ui = data.get("ui") if isinstance(data, dict) else None
    lang = ui.get("language") if isinstance(ui, dict) else None
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def _rule(check: typing.Callable[[Any], bool], form: str, **params: object) -> dict[str, Any]:
    """`form` is the key, in `FORMS`, of what "must be ..." says the value must be; `params`
    fill it in (its bounds), with `kind` ("a number", "a whole number") from the field's type.
    Keyed, not worded: the line is said in the operator's language (ecauto/words/errors.py)."""
    return {"check": check, "form": form, "params": params}


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def between(lo: float, hi: float, *, above: bool = False) -> dict[str, Any]:
    """A finite number from `lo` (or, with `above`, greater than `lo`) to `hi`.

    Every number in the file has an upper bound: `inf` (or `1e400`, which TOML reads as inf) as
    an interval meant a watchdog that never scanned again while its heartbeat stayed fresh."""

    def check(v: float) -> bool:
        return math.isfinite(v) and (v > lo if above else v >= lo) and v <= hi

    return _rule(check, "above" if above else "from_to", lo=_num(lo), hi=_num(hi))


MINUTE, HOUR, DAY, WEEK = 60.0, 3600.0, 86400.0, 7 * 86400.0
# The bounds, by kind of setting (README "Settings"): a network call waits minutes at most.
INTERVAL = between(0, DAY, above=True)
LONG_INTERVAL = between(0, WEEK, above=True)
WINDOW = between(0, WEEK)
SHORT_WAIT = between(0, HOUR)
TIMEOUT = between(0, 10 * MINUTE, above=True)
RATE = between(0, 1000, above=True)
COUNT = between(1, 10**6)
CAP = between(1, 10**9)
# For settings without a narrower range: finite, and no more than a billion.
POSITIVE = between(0, 1e9, above=True)
NON_NEGATIVE = between(0, 1e9)
FRACTION = between(0, 1)
PORT = between(0, 65535)
SEED = between(0, 2**63 - 1)
MODE = _rule(lambda v: v in ("sandbox", "live"), "mode")
# The SP-API operations that read the market, the sync's default first (README "SP-API"). Not
# getPricing: it answers the seller's own offers, and the shop sells nothing on Amazon itself.
MARKET_OPERATIONS = ("getCompetitivePricing", "getItemOffersBatch")
DEFAULT_OPERATION = MARKET_OPERATIONS[0]
OPERATION = _rule(lambda v: v in MARKET_OPERATIONS, "operation")
BATCH = between(1, 20)
# The live SP-API endpoints, used when mode = "live" and spapi.endpoint is left empty.
SPAPI_REGIONS = {
    "na": "https://sellingpartnerapi-na.amazon.com",
    "eu": "https://sellingpartnerapi-eu.amazon.com",
    "fe": "https://sellingpartnerapi-fe.amazon.com",
}

REGION = _rule(lambda v: v in SPAPI_REGIONS, "region")

# The other live APIs, used when mode = "live" and an endpoint is left empty.
LIVE = {
    "lwa": "https://api.amazon.com/auth/o2/token",
    "base": "https://api.thebase.in",
    "base_token": "https://api.thebase.in/1/oauth/token",
    "ebay": "https://api.ebay.com",
    "ebay_token": "https://api.ebay.com/identity/v1/oauth2/token",
    "yahoo": "https://circus.shopping.yahooapis.jp",
    "yahoo_token": "https://auth.login.yahoo.co.jp/yconnect/v2/token",
}
# Where the sandbox answers each token endpoint (the live paths).
TOKEN_PATHS = {"ebay": "/identity/v1/oauth2/token", "yahoo": "/yconnect/v2/token"}


@frozen
class Limit:
    """A token bucket: `rate` tokens a second, at most `burst` saved up."""

    rate: float = field(default=0.5, metadata=RATE)
    burst: int = field(default=1, metadata=COUNT)


def _spapi_limits() -> dict[str, Limit]:
    # Amazon's documented limits for the pricing operations (they change them: keep configurable).
    return {
        "getPricing": Limit(0.5, 1),
        "getCompetitivePricing": Limit(0.5, 1),
        "getItemOffersBatch": Limit(0.1, 1),
        "getListingOffersBatch": Limit(0.5, 1),
    }


@frozen
class SandboxSettings:
    host: str = "127.0.0.1"
    port: int = field(default=8765, metadata=PORT)
    spapi_rate: float = field(default=0.5, metadata=RATE)
    spapi_burst: int = field(default=1, metadata=COUNT)
    base_hourly_cap: int = field(default=5000, metadata=CAP)
    listing_failure_rate: float = field(default=0.02, metadata=FRACTION)
    market_period_s: float = field(default=600.0, metadata=LONG_INTERVAL)
    seed: int = field(default=7, metadata=SEED)
    # SP-API operations other than the sync's default (whose limit is spapi_rate/spapi_burst).
    op_limits: dict[str, Limit] = field(
        default_factory=lambda: {k: v for k, v in _spapi_limits().items() if k != DEFAULT_OPERATION}
    )
    base_daily_cap: int = field(default=100000, metadata=CAP)
    base_expires_in: int = field(default=3600, metadata=between(1, WEEK))
    lwa_expires_in: int = field(default=3600, metadata=between(1, WEEK))
    # eBay user access tokens live 7200 s, Yahoo ID access tokens 3600 s (their OAuth docs).
    ebay_expires_in: int = field(default=7200, metadata=between(1, WEEK))
    yahoo_expires_in: int = field(default=3600, metadata=between(1, WEEK))
    # BASE: "a new item can take up to an hour to reach the search index"
    # (baseinc/api-docs base_api_v1_items_search.md); tests shorten it.
    base_search_lag_s: float = field(default=3600.0, metadata=between(0, DAY))
    latency_ms: float = field(default=0.0, metadata=between(0, 60000))  # answers, on the way out
    latency_in_ms: float = field(default=0.0, metadata=between(0, 60000))  # requests, on the way in
    jitter_ms: float = field(default=0.0, metadata=between(0, 60000))  # up to this more, each way


@frozen
class SpapiSettings:
    endpoint: str = ""
    region: str = field(default="fe", metadata=REGION)
    lwa_url: str = ""
    marketplace_id: str = "A1VC38T7YXB528"
    operation: str = field(default=DEFAULT_OPERATION, metadata=OPERATION)
    batch_size: int = field(default=20, metadata=BATCH)
    timeout_s: float = field(default=15.0, metadata=TIMEOUT)
    limits: dict[str, Limit] = field(default_factory=_spapi_limits)


# The one BASE shop of a config without [base.accounts]. An account of that name keeps
# today's environment variables, token store and quota (README "Credentials"), so an existing
# home adds a second shop without authorising its first one again.
DEFAULT_ACCOUNT = "default"
ACCOUNT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
ENV_PREFIX = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
UNSET = -1  # an account's number left to the [base] ([demo], [upload.<platform>]) value


def unset_or(lo: int, hi: int, kept: str) -> dict[str, Any]:
    """An account's whole number from `lo` to `hi`, or UNSET: the value `kept` (a key of
    `FORMS`) names."""
    return _rule(
        lambda v: v == UNSET or lo <= v <= hi,
        "unset_or",
        lo=lo,
        hi=hi,
        unset=UNSET,
        kept=FORMS.say("en", kept),
    )


ACCOUNT_CAP = unset_or(1, 10**9, "kept_base")
ACCOUNT_PRODUCTS = unset_or(0, 10**7, "kept_demo")
LISTING_CAP = unset_or(1, 10**9, "kept_upload")


@frozen
class BaseAccountSettings:
    """One BASE shop, `[base.accounts.<name>]`: its credentials come from `<env_prefix>_CLIENT_ID`
    and the rest (default BASE_<NAME>); its quota is its own (BASE counts per shop)."""

    env_prefix: str = ""
    hourly_limit: int = field(default=UNSET, metadata=ACCOUNT_CAP)
    daily_limit: int = field(default=UNSET, metadata=ACCOUNT_CAP)
    demo_products: int = field(default=UNSET, metadata=ACCOUNT_PRODUCTS)  # sandbox demo data


@frozen
class BaseAccount:
    """A BASE shop as the daemons use it: names of its credentials, token store and quota."""

    name: str
    env_prefix: str
    token_name: str  # <home>/secrets/<token_name>.json and .lock
    quota_key: str  # in <home>/quota.db
    hourly_limit: int
    daily_limit: int
    demo_products: int


@frozen
class BaseApiSettings:
    endpoint: str = ""
    token_url: str = ""
    hourly_limit: int = field(default=5000, metadata=CAP)
    daily_limit: int = field(default=100000, metadata=CAP)
    # Of each hour and day, the share price pushes may not take: kept for listings (items/add
    # and its lookups), so a first sync's 5,000 edits cannot leave upload-base a whole hour idle.
    # Listings may still use the pushes' part when it is free. 0 keeps nothing, at most 0.9.
    # Each account's hour and day keep this share.
    listing_share: float = field(default=0.2, metadata=between(0, 0.9))
    timeout_s: float = field(default=15.0, metadata=TIMEOUT)
    accounts: dict[str, BaseAccountSettings] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_accounts("base", self.accounts)


def check_accounts(platform: str, accounts: dict[str, Any]) -> None:
    """Each account of `[<platform>.accounts]` has a name of the allowed form and credentials
    of its own (no two accounts share an environment prefix)."""
    prefixes: dict[str, str] = {}
    for name, a in accounts.items():
        key = f"{platform}.accounts.{name}"
        if not ACCOUNT_NAME.match(name):
            raise ConfigError(ERRORS.say("en", "config_account_name", key=key))
        if a.env_prefix and not ENV_PREFIX.match(a.env_prefix):
            raise ConfigError(
                ERRORS.say("en", "config_env_prefix", key=key, value=repr(a.env_prefix))
            )
        prefix = account_env_prefix(name, a.env_prefix, platform.upper())
        if prefix in prefixes:
            other = f"{platform}.accounts.{prefixes[prefix]}"
            raise ConfigError(
                ERRORS.say("en", "config_prefix_shared", key=key, prefix=prefix, other=other)
            )
        prefixes[prefix] = name


@frozen
class ListingAccountSettings:
    """One eBay or Yahoo seller account, `[ebay.accounts.<name>]` or `[yahoo.accounts.<name>]`:
    its credentials come from `<env_prefix>_CLIENT_ID` and the rest (default EBAY_<NAME> or
    YAHOO_<NAME>), its caps are its own (each marketplace counts per seller account); -1 keeps
    `[upload.<platform>]`'s."""

    env_prefix: str = ""
    hourly_cap: int = field(default=UNSET, metadata=LISTING_CAP)
    daily_cap: int = field(default=UNSET, metadata=LISTING_CAP)


@frozen
class EbayAccountSettings(ListingAccountSettings):
    """An eBay seller account: its credentials and caps, and its own business policies and
    inventory location (each seller has their own); an empty one keeps `[ebay]`'s."""

    category_id: str = ""
    fulfillment_policy_id: str = ""
    payment_policy_id: str = ""
    return_policy_id: str = ""
    merchant_location_key: str = ""


@frozen
class ListingAccount:
    """An eBay or Yahoo seller account as upload-<platform> uses it: the names of its
    credentials, token store and quota, and its caps."""

    platform: str
    name: str
    env_prefix: str
    token_name: str  # <home>/secrets/<token_name>.json and .lock
    quota_key: str  # its daily cap, in <home>/quota.db
    hourly_cap: int
    daily_cap: int


@frozen
class UploadSettings:
    endpoint: str = ""
    hourly_cap: int = field(default=120, metadata=CAP)
    daily_cap: int = field(default=5000, metadata=CAP)
    max_attempts: int = field(default=5, metadata=COUNT)
    retry_base_s: float = field(default=60.0, metadata=INTERVAL)
    retry_max_s: float = field(default=3600.0, metadata=LONG_INTERVAL)
    interval_s: float = field(default=60.0, metadata=INTERVAL)
    timeout_s: float = field(default=15.0, metadata=TIMEOUT)
    token_url: str = ""  # eBay and Yahoo: their OAuth token endpoint, if not the live one


@frozen
class EbaySettings:
    """What an eBay offer needs besides the product (createOffer): the seller's marketplace,
    category, business policies and inventory location. Empty ones stop a live start."""

    marketplace_id: str = "EBAY_US"
    currency: str = "USD"
    content_language: str = "en-US"
    category_id: str = ""
    fulfillment_policy_id: str = ""
    payment_policy_id: str = ""
    return_policy_id: str = ""
    merchant_location_key: str = ""
    accounts: dict[str, EbayAccountSettings] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_accounts("ebay", self.accounts)


@frozen
class YahooSettings:
    """Yahoo! Shopping's store accounts; each store's seller id comes from
    `<env_prefix>_SELLER_ID` (YAHOO_SELLER_ID for the one store of a config without accounts)."""

    accounts: dict[str, ListingAccountSettings] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_accounts("yahoo", self.accounts)


def _uploads() -> dict[str, UploadSettings]:
    return {p: UploadSettings() for p in PLATFORMS}


@frozen
class SyncSettings:
    interval_s: float = field(default=10800.0, metadata=LONG_INTERVAL)


@frozen
class DaemonSettings:
    beat_s: float = field(default=10.0, metadata=between(0, HOUR, above=True))


@frozen
class DemoSettings:
    products: int = field(default=1000, metadata=between(0, 10**7))
    listings: int = field(default=300, metadata=between(0, 10**7))


@frozen
class AlertSettings:
    """Chatwork alerts from the watchdog; the token and room come from the environment."""

    dedupe_window_s: float = field(default=1800.0, metadata=WINDOW)
    coalesce_s: float = field(default=10.0, metadata=SHORT_WAIT)
    timeout_s: float = field(default=10.0, metadata=TIMEOUT)
    deliver_budget_s: float = field(default=2.0, metadata=TIMEOUT)
    max_outbox: int = field(default=1000, metadata=COUNT)


@frozen
class WatchdogDaemonSettings:
    """Per-daemon overrides for the watchdog; 0 means "the watchdog's default"."""

    grace_s: float = field(default=0.0, metadata=between(0, DAY))
    start_grace_s: float = field(default=0.0, metadata=between(0, DAY))
    # Scripts that are this daemon's job started another way (the old system's), e.g.
    # "scheduled_tasks/sync_inventory_daemon.py": matched against the script an interpreter runs
    # (or its -m module) by trailing path components, either slash, ignoring case.
    patterns: tuple[str, ...] = ()


WATCHED = roster.NAMES  # the daemons that can have [watchdog.daemons.<name>] settings


def _watched() -> dict[str, WatchdogDaemonSettings]:
    return {n: WatchdogDaemonSettings() for n in WATCHED}


@frozen
class WatchdogSettings:
    interval_s: float = field(default=5.0, metadata=between(0, HOUR, above=True))
    # hung: heartbeat older than grace_beats beats (the daemon's own beat_s), at least min_grace_s.
    grace_beats: float = field(default=3.0, metadata=between(0, 1000, above=True))
    min_grace_s: float = field(default=30.0, metadata=INTERVAL)
    start_grace_s: float = field(default=60.0, metadata=INTERVAL)
    # A copy younger than this is looked at again later: one refused by the lock leaves by itself.
    copy_settle_s: float = field(default=3.0, metadata=SHORT_WAIT)
    # Two copies managed by circusd (a graceful reload) are fine for this long.
    reload_settle_s: float = field(default=10.0, metadata=SHORT_WAIT)
    term_timeout_s: float = field(default=10.0, metadata=TIMEOUT)  # SIGTERM, then SIGKILL
    # Restarts of one daemon: the back-off doubles from restart_backoff_s; restarts plus crashes
    # (new pids circusd started) in restart_window_s are limited to restart_budget, then a
    # person is asked for; healthy for healthy_reset_s, the count starts over.
    restart_backoff_s: float = field(default=30.0, metadata=between(0, DAY))
    restart_backoff_max_s: float = field(default=900.0, metadata=WINDOW)
    restart_budget: int = field(default=5, metadata=COUNT)
    restart_window_s: float = field(default=3600.0, metadata=LONG_INTERVAL)
    healthy_reset_s: float = field(default=900.0, metadata=LONG_INTERVAL)
    # A crash loop: this many new pids within the window (seen by polling, where circusd keeps
    # no journal), or crash_loop_deaths deaths nobody asked for, each under crash_loop_young_s
    # after its start, in circusd's journal (its hooks stop the watcher at that count).
    crash_loop_respawns: int = field(default=3, metadata=COUNT)
    crash_loop_window_s: float = field(default=120.0, metadata=INTERVAL)
    crash_loop_deaths: int = field(default=5, metadata=COUNT)
    crash_loop_young_s: float = field(default=10.0, metadata=INTERVAL)
    # An incident is over (a recovery message) once its finding has been gone this long.
    recovery_s: float = field(default=30.0, metadata=between(0, DAY))
    circus_timeout_s: float = field(
        default=1.0, metadata=between(0, MINUTE, above=True)
    )  # per call to circusd
    # Less free space than this on the home's filesystem is a critical finding (disk_full).
    min_free_mb: float = field(default=100.0, metadata=between(0, 10**7))
    # A pass waits this long for another pass (a `watchdog scan`) to end, then fails.
    pass_lock_wait_s: float = field(default=30.0, metadata=SHORT_WAIT)
    daemons: dict[str, WatchdogDaemonSettings] = field(default_factory=_watched)


REPORT_MODE = _rule(lambda v: v in ("each", "daily", "off"), "report_mode")


def _is_clock_time(v: str) -> bool:
    hh, sep, mm = v.partition(":")
    ok = sep == ":" and len(hh) == len(mm) == 2 and v.isascii() and (hh + mm).isdigit()
    return ok and int(hh) < 24 and int(mm) < 60


CLOCK_TIME = _rule(_is_clock_time, "clock_time")


@frozen
class ReportSettings:
    """Sync cycle reports to Chatwork, through the alerts' outbox (README "Sync cycle reports")."""

    cycle: str = field(default="each", metadata=REPORT_MODE)  # after each cycle, daily, or off
    daily_at: str = field(default="09:00", metadata=CLOCK_TIME)  # the digest's local time
    # A warning of its own when a cycle's failed batches, or its duration, are above these;
    # 0 turns that warning off.
    error_rate_warn: float = field(default=0.05, metadata=FRACTION)
    cycle_time_warn_s: float = field(default=7200.0, metadata=between(0, WEEK))


LANGUAGE = _rule(lambda v: v in LANGUAGES, "language")


@frozen
class UiSettings:
    """What people read: alerts, `watchdog report`, the dashboard, one-line errors."""

    language: str = field(default=DEFAULT_LANGUAGE, metadata=LANGUAGE)


LISTEN = _rule(lambda v: v in ("127.0.0.1", "::1", "0.0.0.0", "::"), "listen")


@frozen
class DashboardSettings:
    """The operator's web page (ecauto/dashboard), served by its own watcher."""

    port: int = field(default=8780, metadata=PORT)
    # Loopback only unless the operator opts in to the LAN (then the secret still guards actions).
    listen: str = field(default="127.0.0.1", metadata=LISTEN)
    refresh_s: float = field(default=2.0, metadata=between(0.5, MINUTE))
    # A death nobody asked for keeps the daemon's row red this long, though circusd has
    # already started it again (it did die: the operator should see that it did).
    died_red_s: float = field(default=30.0, metadata=between(0, DAY))


@frozen
class Config:
    mode: str = field(default="sandbox", metadata=MODE)
    sandbox: SandboxSettings = field(default_factory=SandboxSettings)
    spapi: SpapiSettings = field(default_factory=SpapiSettings)
    base: BaseApiSettings = field(default_factory=BaseApiSettings)
    upload: dict[str, UploadSettings] = field(default_factory=_uploads)
    ebay: EbaySettings = field(default_factory=EbaySettings)
    yahoo: YahooSettings = field(default_factory=YahooSettings)
    sync: SyncSettings = field(default_factory=SyncSettings)
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    demo: DemoSettings = field(default_factory=DemoSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    watchdog: WatchdogSettings = field(default_factory=WatchdogSettings)
    ui: UiSettings = field(default_factory=UiSettings)
    reports: ReportSettings = field(default_factory=ReportSettings)
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)

    @property
    def sandbox_url(self) -> str:
        return f"http://{self.sandbox.host}:{self.sandbox.port}"

    def url_for(self, endpoint: str, live: str, sandbox_path: str = "") -> str:
        """The configured endpoint; else the live API's (`live`) or the sandbox's."""
        if endpoint:
            return endpoint.rstrip("/")
        return live if self.mode == "live" else self.sandbox_url + sandbox_path

    def spapi_url(self) -> str:
        return self.url_for(self.spapi.endpoint, SPAPI_REGIONS[self.spapi.region])

    def lwa_url(self) -> str:
        return self.url_for(self.spapi.lwa_url, LIVE["lwa"], "/auth/o2/token")

    def base_accounts(self) -> list[BaseAccount]:
        """The BASE shops, in the file's order; without [base.accounts], the one of today."""
        b = self.base
        products = self.demo.products
        named = b.accounts or {DEFAULT_ACCOUNT: BaseAccountSettings()}
        out = []
        for name, a in named.items():
            legacy = name == DEFAULT_ACCOUNT
            out.append(
                BaseAccount(
                    name=name,
                    env_prefix=account_env_prefix(name, a.env_prefix),
                    token_name="base" if legacy else f"base-{name}",
                    quota_key="base/shop" if legacy else f"base/shop/{name}",
                    hourly_limit=b.hourly_limit if a.hourly_limit == UNSET else a.hourly_limit,
                    daily_limit=b.daily_limit if a.daily_limit == UNSET else a.daily_limit,
                    demo_products=products if a.demo_products == UNSET else a.demo_products,
                )
            )
        return out

    def listing_accounts(self, platform: str) -> list[ListingAccount]:
        """eBay's or Yahoo's seller accounts, in the file's order; without
        `[<platform>.accounts]`, the one of today (its token store, quota and variables)."""
        u = self.upload[platform]
        section: Any = self.ebay if platform == "ebay" else self.yahoo
        named = section.accounts or {DEFAULT_ACCOUNT: ListingAccountSettings()}
        out = []
        for name, a in named.items():
            legacy = name == DEFAULT_ACCOUNT
            out.append(
                ListingAccount(
                    platform=platform,
                    name=name,
                    env_prefix=account_env_prefix(name, a.env_prefix, platform.upper()),
                    token_name=platform if legacy else f"{platform}-{name}",
                    quota_key=f"{platform}/listing" if legacy else f"{platform}/listing/{name}",
                    hourly_cap=u.hourly_cap if a.hourly_cap == UNSET else a.hourly_cap,
                    daily_cap=u.daily_cap if a.daily_cap == UNSET else a.daily_cap,
                )
            )
        return out

    def base_url(self) -> str:
        return self.url_for(self.base.endpoint, LIVE["base"])

    def base_token_url(self) -> str:
        return self.url_for(self.base.token_url, LIVE["base_token"], "/1/oauth/token")

    def upload_url(self, platform: str) -> str:
        if platform == "base":
            return self.url_for(self.upload["base"].endpoint, self.base_url())
        return self.url_for(self.upload[platform].endpoint, LIVE[platform])

    def listing_token_url(self, platform: str) -> str:
        """eBay's or Yahoo's OAuth token endpoint."""
        token = self.upload[platform].token_url
        return self.url_for(token, LIVE[f"{platform}_token"], TOKEN_PATHS[platform])


def account_env_prefix(name: str, configured: str = "", platform: str = "BASE") -> str:
    """BASE_CLIENT_ID etc. for the default account, BASE_<NAME>_CLIENT_ID for another (EBAY_
    and YAHOO_ likewise)."""
    if configured:
        return configured
    if name == DEFAULT_ACCOUNT:
        return platform
    return f"{platform}_" + re.sub(r"[^A-Z0-9]", "_", name.upper())


def config_path(explicit: str | os.PathLike[str] | None = None) -> tuple[Path, bool]:
    """Where the config is, and whether someone named it (a named file must exist)."""
    if explicit:
        return Path(explicit).resolve(), True
    env = os.environ.get("ECAUTO_CONFIG")
    if env:
        return Path(env).resolve(), True
    return (Path.cwd() / DEFAULT_CONFIG_NAME).resolve(), False


def load(path: str | os.PathLike[str] | None = None) -> Config:
    where, named = config_path(path)
    if not where.exists():
        if named:
            raise ConfigError(ERRORS.say("en", "config_not_found", where=where))
        return Config()
    try:
        # Never blocks on a FIFO in its place (the watchdog's report would hang); a link to the
        # config is fine, it is not in the home.
        fd = os.open(where, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with open(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise ConfigError(_unreadable(where, "not a regular file"))
            raw = f.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError(_unreadable(where, f"larger than {MAX_CONFIG_BYTES} bytes"))
        data = tomllib.loads(raw.decode("utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(_unreadable(where, str(e))) from None
    except RecursionError:  # tomllib parses nested arrays and tables by recursion
        raise ConfigError(_unreadable(where, "a value is nested too deeply")) from None
    try:
        return parse(data)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}", file_language(data)) from None


def _unreadable(where: Path, why: str) -> str:
    return ERRORS.say("en", "config_unreadable", where=where, why=why)


def parse(data: dict[str, Any]) -> Config:
    return _build(Config, data, "")


def _build(cls: type, data: Any, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(ERRORS.say("en", "config_not_table", key=prefix.rstrip(".") or "config"))
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        known = ", ".join(fields)
        raise ConfigError(
            ERRORS.say("en", "config_unknown_key", key=f"{prefix}{unknown[0]}", known=known)
        )
    values = {}
    for name, value in data.items():
        values[name] = _value(hints[name], fields[name], value, prefix + name, cls)
    return cls(**values)


def _value(hint: Any, f: dataclasses.Field[Any], value: Any, key: str, owner: type) -> Any:
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, key + ".")
    if typing.get_origin(hint) is dict:
        item_cls = typing.get_args(hint)[1]
        if not isinstance(value, dict):
            raise ConfigError(ERRORS.say("en", "config_not_table", key=key))
        defaults = f.default_factory() if f.default_factory is not dataclasses.MISSING else {}
        allowed = set(defaults)
        out = dict(defaults)
        for sub, subvalue in value.items():
            if allowed and sub not in allowed:
                known = ", ".join(sorted(allowed))
                raise ConfigError(
                    ERRORS.say("en", "config_unknown_key", key=f"{key}.{sub}", known=known)
                )
            out[sub] = _build(item_cls, subvalue, f"{key}.{sub}.")
        return out
    if typing.get_origin(hint) is tuple:
        if typing.get_args(hint) != (str, Ellipsis):  # pragma: no cover - a schema error
            raise TypeError(f"unsupported config type {hint} for {key}")
        if not isinstance(value, list) or not all(isinstance(x, str) and x.strip() for x in value):
            listed = FORMS.say("en", "string_list")
            raise ConfigError(
                ERRORS.say("en", "config_bad_value", key=key, form=listed, value=repr(value))
            )
        return tuple(value)
    original = value
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
        kind = "number"
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        kind = "whole_number"
    elif hint is str:
        ok = isinstance(value, str)
        kind = "string"
    else:  # pragma: no cover - a programming error in the schema
        raise TypeError(f"unsupported config type {hint} for {key}")
    check = f.metadata.get("check")
    if not ok or (check is not None and not check(value)):
        kind = FORMS.say("en", kind)
        form = f.metadata.get("form")
        said = {
            "key": key,
            "form": FORMS.say("en", form, kind=kind, **f.metadata["params"]) if form else kind,
            "value": repr(original),
        }
        raise ConfigError(ERRORS.say("en", "config_bad_value", **said))
    return value
