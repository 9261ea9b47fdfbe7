"""upload-<platform>: uploads the listings that are due, paced through the hour, one at a time.

Each listing is claimed (`uploading`, committed) before its call and settled after it. A listing a
crash left `uploading`, or one whose last try failed without a clear answer, is first looked up
on the platform: found, it is recorded as uploaded; absent, it is sent. So nothing is lost and
nothing is listed twice.

Each daemon serves every account of its platform (`[base.accounts]`, `[ebay.accounts]`,
`[yahoo.accounts]`), each account with its own token, quota and hourly cap; an account waiting
for its quota is passed over in that cycle, and one whose authorisation is refused fails the
cycle naming it while the others are served (with one account, the daemon stops as before).
"""

from __future__ import annotations

# Its own log first, and a copy of a running daemon leaves, before the heavy imports below
# (see ecauto.daemon.early).
# ruff: noqa: E402
import sys

from ecauto.daemon import early

if __name__ == "__main__":
    early.log_to_file()  # under Circus: stderr into the daemon's own log, before anything can fail
    early.leave_if_running(lambda args: f"upload-{args.platform}", sys.argv[1:])

import argparse
import math
import random
import time
from collections.abc import Sequence
from typing import Any, Protocol

from ecauto.backoff import compute_backoff
from ecauto.clients.base import BaseClient, refused_line
from ecauto.clients.http import ApiError, QuotaSpent, Throttled
from ecauto.config import (
    PLATFORMS,
    BaseAccount,
    Config,
    ConfigError,
    ListingAccount,
    UploadSettings,
)
from ecauto.daemon.base import CycleFailed, common_parser, run_daemon
from ecauto.daemons.common import BusinessDaemon
from ecauto.home import Home
from ecauto.logsetup import fields
from ecauto.quota import Stopped
from ecauto.quota.gates import Wait, WindowGate
from ecauto.store import Listing, Store
from ecauto.words.errors import ERRORS


class ListingClient(Protocol):
    def upload(self, sku: str, payload: dict[str, Any]) -> str: ...
    def find(self, sku: str) -> str | None: ...


def batch_size(
    settings: UploadSettings, interval_s: float, used_last_hour: int, hourly_cap: int | None = None
) -> int:
    """How many listings this cycle may take: the hourly cap (the account's, else the
    platform's) spread over the cycles of an hour."""
    cap = settings.hourly_cap if hourly_cap is None else hourly_cap
    per_cycle = max(1, math.ceil(cap * interval_s / 3600))
    return max(0, min(per_cycle, cap - used_last_hour))


PLATFORM_NAMES = {"base": "BASE", "ebay": "eBay", "yahoo": "Yahoo"}


def stopped_line(account: BaseAccount | ListingAccount, error: Exception) -> str:
    """What fails the cycle when one account of several cannot go on: the account named once,
    and, when its refresh token was refused, where the new one goes."""
    if isinstance(account, BaseAccount):
        return refused_line(account, error)
    platform = PLATFORM_NAMES[account.platform]
    text, token = str(error), f"{account.token_name}: "
    if text.startswith(token):  # the token store's refusal (ecauto.auth)
        return ERRORS.say(
            "en",
            "account_refused",
            platform=platform,
            account=account.name,
            error=text.removeprefix(token),
            variable=f"{account.env_prefix}_REFRESH_TOKEN",
        )
    return ERRORS.say("en", "account_stopped", platform=platform, account=account.name, error=text)


def retry_delay(settings: UploadSettings, attempts: int, rnd: float) -> float:
    """Exponential backoff with jitter; `attempts` counts the tries made so far (1 = first)."""
    return compute_backoff(
        attempts, settings.retry_base_s, settings.retry_max_s, jitter=0.5, rng=lambda: rnd
    )


class UploadDaemon(BusinessDaemon):
    def __init__(self, args: argparse.Namespace, cfg: Config, home: Home) -> None:
        self.platform = args.platform
        self.settings = cfg.upload[self.platform]
        self.default_interval_s = self.settings.interval_s
        super().__init__(self.name_for(args), args, cfg, home)
        # One client per account (BASE shop, eBay or Yahoo seller), each with its own token
        # store, quota and hourly cap; one daemon serves every account's queue.
        accounts: list[BaseAccount] | list[ListingAccount] = (
            cfg.base_accounts() if self.platform == "base" else cfg.listing_accounts(self.platform)
        )
        self.accounts: dict[str, BaseAccount | ListingAccount] = {a.name: a for a in accounts}
        self.clients: dict[str, ListingClient] = {
            a.name: self.apis.listing(self.platform, a) for a in accounts
        }
        self.client: ListingClient = next(iter(self.clients.values()))
        self.several = len(self.clients) > 1
        if self.several:
            for name, client in self.clients.items():
                gate = getattr(client, "gate", None)
                if isinstance(gate, WindowGate):
                    gate.wait = self._pass_over(name)
        self.rng = random.Random()

    @staticmethod
    def name_for(args: argparse.Namespace) -> str:
        return f"upload-{args.platform}"

    def run_once(self) -> None:
        assert self.store is not None
        uploaded = failed = 0
        refused: dict[str, ConfigError] = {}
        for account, client in self.clients.items():
            if self.stopping:
                return
            self.client = client
            if self._waits(account):
                continue
            try:
                up, down = self._serve(self.store, account)
            except ConfigError as e:
                if not self.several:
                    raise
                # Its authorisation is gone: the other accounts' queues are served first.
                refused[account] = e
                self.log.warning("uploads stopped %s", fields(account=account, error=e))
                continue
            uploaded, failed = uploaded + up, failed + down
        if refused:  # as the sync does: the cycle fails naming the account; the others go on
            raise CycleFailed(
                "; ".join(stopped_line(self.accounts[a], e) for a, e in refused.items())
            )
        if failed and not uploaded:
            raise RuntimeError(f"all {failed} uploads failed; last error: {self._last_error}")

    def _pass_over(self, account: str) -> Wait:
        """Of several accounts, one whose quota runs out within a listing (a look-up took its
        last call) is not waited for: the listing goes back to the queue untouched (as on a
        stop) and the next account is served."""

        def wait(seconds: float, why: str) -> bool:
            self.log.info("uploads waiting %s", fields(account=account, why=why))
            return False

        return wait

    def _waits(self, account: str) -> bool:
        """Of several accounts, whether this one's quota has no room now (said in the log): it
        is passed over rather than waited for, so the others need not wait with it. One account
        waits in its gate, as it always did (its heartbeat says for what)."""
        gate = getattr(self.client, "gate", None)
        if not self.several or not isinstance(gate, WindowGate):
            return False
        delay, waiting = gate.room_in()
        if delay > 0:
            self.log.info("uploads waiting %s", fields(account=account, why=waiting))
        return delay > 0

    def _serve(self, store: Store, account: str) -> tuple[int, int]:
        """One account's queue for this cycle: (uploaded, failed)."""
        now = time.time()
        for listing in store.in_flight(self.platform, account):
            if self.stopping:
                return 0, 0
            self._settle_in_flight(store, listing)
        a = self.accounts[account]
        cap = a.hourly_cap if isinstance(a, ListingAccount) else None
        used = store.attempts_since(self.platform, now - 3600, account)
        n = batch_size(self.settings, self.interval_s, used, cap)
        due = store.due(self.platform, now, n, account)
        who = f"{account}: " if self.several else ""
        uploaded = failed = 0
        for i, listing in enumerate(due):
            if self.stopping or (i and self._waits(account)):
                break
            self.progress(i, len(due), f"{who}listing {i + 1} of {len(due)}")
            result = self._upload(store, listing)
            if result is None:
                break  # out of quota, or stopping: the listing went back to the queue untouched
            if result:
                uploaded += 1
            else:
                failed += 1
        self.progress(uploaded + failed, len(due))
        extra = {"account": account} if self.several else {}
        self.log.info(
            "uploads %s",
            fields(platform=self.platform, **extra, due=len(due), uploaded=uploaded, failed=failed),
        )
        return uploaded, failed

    def _settle_in_flight(self, store: Store, listing: Listing) -> None:
        try:
            remote = self._find(store, listing)
        except (ApiError, Stopped) as e:
            self.record_error(str(e))
            return  # stays 'uploading'; looked up again next cycle
        if remote is not None:
            store.mark_uploaded(listing.id, remote, time.time())
            self.log.info("recovered %s", fields(listing=listing.id, sku=listing.sku, found="yes"))
        else:
            store.requeue(listing.id, time.time())

    def _find(self, store: Store, listing: Listing) -> str | None:
        """The listing's id on the platform, if an earlier try reached it. BASE's lookup walks
        the shop's newest items back to this listing's first try (its search index lags an
        hour: ecauto.clients.base), so it is told when that was."""
        if isinstance(self.client, BaseClient):
            return self.client.find(listing.sku, since=store.first_try_at(listing.id))
        return self.client.find(listing.sku)

    def _upload(self, store: Store, listing: Listing) -> bool | None:
        """True: uploaded; False: failed (retry scheduled or given up); None: not tried."""
        if not store.mark_uploading(listing.id, time.time()):
            return False
        try:
            # A failed try may have reached the platform before the answer was lost.
            remote = self._find(store, listing) if listing.attempts else None
            if remote is None:
                remote = self.client.upload(listing.sku, listing.payload)
        except (Stopped, QuotaSpent) as e:
            # Waiting for quota is not a failed upload: back to the queue as it was. (A
            # QuotaSpent answer means the platform refused the call, so nothing was listed.)
            store.requeue(listing.id, time.time())
            if isinstance(e, QuotaSpent):
                self.log.info("quota used up %s", fields(platform=self.platform, error=e))
            return None
        except ApiError as e:
            attempts = listing.attempts + 1
            retry = None
            if (e.retryable or isinstance(e, Throttled)) and attempts < self.settings.max_attempts:
                retry = time.time() + retry_delay(self.settings, attempts, self.rng.random())
            if retry is None:
                # Before giving up, look once more: a call of this try may have reached the
                # platform (and Yahoo's reservePublish publishes whatever any try saved, so a
                # listing given up for good would still go on sale). When that look fails too,
                # nobody can tell yet: it stays queued rather than be given up.
                try:
                    remote = self._find(store, listing)
                except (Stopped, QuotaSpent):
                    store.requeue(listing.id, time.time())
                    return None
                except ApiError:
                    remote = None
                    retry = time.time() + retry_delay(self.settings, attempts, self.rng.random())
                if remote is not None:
                    store.mark_uploaded(listing.id, remote, time.time())
                    return True
            store.mark_failed(listing.id, str(e), retry, time.time())
            self.record_error(str(e))
            self.log.warning(
                "upload failed %s",
                fields(
                    listing=listing.id,
                    **({"account": listing.account} if self.several else {}),
                    sku=listing.sku,
                    attempts=attempts,
                    retry_in_s=round(retry - time.time()) if retry else "never",
                    error=e,
                ),
            )
            return False
        store.mark_uploaded(listing.id, remote, time.time())
        return True


def parser() -> argparse.ArgumentParser:
    p = common_parser("ecauto.daemons.upload", "Upload queued listings to one marketplace.")
    p.add_argument("--platform", required=True, choices=PLATFORMS)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    return run_daemon(UploadDaemon, parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
