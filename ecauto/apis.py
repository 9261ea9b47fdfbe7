"""Clients wired to the instance's shared quotas and tokens: what a daemon asks for by name."""

from __future__ import annotations

import dataclasses
import os

from ecauto import redact
from ecauto.auth import Credentials, OAuthTokens, env_credentials
from ecauto.clients.base import TOKEN_REFUSED, BaseClient
from ecauto.clients.ebay import SCOPE, EbayClient, OfferTerms
from ecauto.clients.sandbox_check import SandboxCheck, install
from ecauto.clients.spapi import SpApiClient
from ecauto.clients.yahoo import YahooClient
from ecauto.config import DEFAULT_ACCOUNT, BaseAccount, Config, ConfigError, ListingAccount
from ecauto.credentials import require_env
from ecauto.home import Home
from ecauto.quota import QuotaStore, TokenGate, WindowGate
from ecauto.quota.gates import Wait
from ecauto.quota.rules import Window, kept_calls
from ecauto.sandbox.key import key_path

# A Yahoo account's store: <env_prefix>_SELLER_ID, YAHOO_SELLER_ID for the default account
# (README: "Credentials"); the sandbox's stand-in when it is not set.
SELLER_ID = "SELLER_ID"
SANDBOX_STORE = "sandbox-store"


class Apis:
    """One per daemon process; `wait` is the daemon's, so quota waits keep it beating."""

    def __init__(self, cfg: Config, home: Home, wait: Wait) -> None:
        self.cfg, self.home, self.wait = cfg, home, wait
        self.quota = QuotaStore(home.root / "quota.db")
        self.secrets = home.root / "secrets"
        self.sandbox = cfg.mode == "sandbox"
        if self.sandbox:  # nothing goes to the sandbox's port before it proves it is ours
            install(SandboxCheck(cfg.sandbox_url, key_path(home.root)))

    def close(self) -> None:
        self.quota.close()

    def spapi_gate(self, operation: str) -> TokenGate:
        limit = self.cfg.spapi.limits[operation]
        # one bucket per (API, operation, account): the account is the marketplace's seller
        key = f"spapi/{operation}/{self.cfg.spapi.marketplace_id}"
        return TokenGate(
            self.quota,
            key,
            limit.rate,
            limit.burst,
            self.wait,
            lease_s=self.cfg.spapi.timeout_s + 5,
            label=f"SP-API {operation}",
        )

    def spapi(self) -> SpApiClient:
        s = self.cfg.spapi
        tokens = OAuthTokens(
            "lwa",
            self.secrets,
            self.cfg.lwa_url(),
            env_credentials("SPAPI_LWA", self.sandbox),
            s.timeout_s,
        )
        gates = {op: self.spapi_gate(op) for op in s.limits}
        return SpApiClient(self.cfg.spapi_url(), s.marketplace_id, tokens, s.timeout_s, gates)

    def base(
        self,
        timeout_s: float | None = None,
        listing: bool = False,
        account: BaseAccount | None = None,
    ) -> BaseClient:
        """One shop's client (`account`; None: the first), with its own token store and its
        own hourly and daily quota. The sync's price pushes (listing=False) may not take
        `listing_share` of them."""
        b = self.cfg.base
        a = account or self.cfg.base_accounts()[0]
        creds = self._credentials(a.env_prefix, redirect=True)
        if self.sandbox and a.name != DEFAULT_ACCOUNT:
            # The sandbox's shops: a refresh token it never issued names its shop after a colon.
            creds = dataclasses.replace(creds, refresh_token=f"{creds.refresh_token}:{a.name}")
        tokens = OAuthTokens(
            a.token_name,
            self.secrets,
            self.cfg.base_token_url(),
            creds,
            b.timeout_s,
            rotates=True,
            refused=TOKEN_REFUSED,
        )
        share = b.listing_share
        gate = WindowGate(
            self.quota,
            a.quota_key,
            [
                Window("hour", 3600, a.hourly_limit, kept_calls(a.hourly_limit, share)),
                Window("day", 86400, a.daily_limit, kept_calls(a.daily_limit, share)),
            ],
            self.wait,
            label="BASE" if a.name == DEFAULT_ACCOUNT else f"BASE {a.name}",
            privileged=listing,
        )
        return BaseClient(self.cfg.base_url(), tokens, timeout_s or b.timeout_s, gate, a.name)

    def listing(
        self, platform: str, account: BaseAccount | ListingAccount | None = None
    ) -> BaseClient | EbayClient | YahooClient:
        """The listing client of one account of `platform` (None: its first)."""
        s = self.cfg.upload[platform]
        if platform == "base":
            assert account is None or isinstance(account, BaseAccount)
            return self.base(s.timeout_s, listing=True, account=account)
        assert account is None or isinstance(account, ListingAccount)
        a = account or self.cfg.listing_accounts(platform)[0]
        legacy = a.name == DEFAULT_ACCOUNT
        # Each account's daily cap is its own: the marketplace counts per seller account.
        gate = WindowGate(
            self.quota,
            a.quota_key,
            [Window("day", 86400, a.daily_cap)],
            self.wait,
            label=platform if legacy else f"{platform} {a.name}",
        )
        url = self.cfg.upload_url(platform)
        creds = self._credentials(a.env_prefix)
        if self.sandbox and not legacy:
            # The sandbox's accounts: a refresh token it never issued names its account after a
            # colon, as with BASE's shops.
            creds = dataclasses.replace(creds, refresh_token=f"{creds.refresh_token}:{a.name}")
        # eBay and Yahoo user tokens: the refresh grant, Basic client auth, one shared store
        # (and its refresh lock) per account
        tokens = OAuthTokens(
            a.token_name,
            self.secrets,
            self.cfg.listing_token_url(platform),
            creds,
            s.timeout_s,
            basic_auth=True,
            scope=SCOPE if platform == "ebay" else "",
        )
        if platform == "ebay":
            return EbayClient(url, tokens, s.timeout_s, self._offer_terms(a.name), gate)
        variable = f"{a.env_prefix}_{SELLER_ID}"
        if self.sandbox:
            stand_in = SANDBOX_STORE if legacy else f"{SANDBOX_STORE}-{a.name}"
            seller = os.environ.get(variable, "").strip() or stand_in
        else:
            seller = require_env(variable)
        return YahooClient(url, tokens, s.timeout_s, gate, seller, variable)

    def _credentials(self, prefix: str, redirect: bool = False) -> Credentials:
        """An account's credentials, masked from now on: redact.SECRET_ENV names only today's
        variables, not an account's own `<prefix>_*`."""
        creds = env_credentials(prefix, self.sandbox, redirect)
        if not self.sandbox:
            redact.register([creds.client_id, creds.client_secret, creds.refresh_token])
        return creds

    def _offer_terms(self, account: str = DEFAULT_ACCOUNT) -> OfferTerms:
        """`[ebay]`, with what `[ebay.accounts.<account>]` sets instead; in sandbox mode an
        empty id is a stand-in, live it stops the start."""
        e = self.cfg.ebay
        own = e.accounts.get(account)
        ids = {
            "category_id": e.category_id,
            "fulfillment_policy_id": e.fulfillment_policy_id,
            "payment_policy_id": e.payment_policy_id,
            "return_policy_id": e.return_policy_id,
            "merchant_location_key": e.merchant_location_key,
        }
        for name in ids:
            if own is not None and getattr(own, name):
                ids[name] = getattr(own, name)
        for name, value in ids.items():
            if not value:
                if not self.sandbox:
                    where = "ebay" if own is None else f"ebay.accounts.{account}"
                    raise ConfigError(f"{where}.{name} is not set (needed to list on eBay)")
                ids[name] = f"sandbox-{name.replace('_', '-')}"
        return OfferTerms(e.marketplace_id, e.currency, content_language=e.content_language, **ids)
