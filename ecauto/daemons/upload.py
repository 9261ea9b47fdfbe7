"""upload-<platform>: uploads the listings that are due, paced through the hour, one at a time.

Each listing is claimed (`uploading`, committed) before its call and settled after it. A listing a
crash left `uploading`, or one whose last try failed without a clear answer, is first looked up
on the platform: found, it is recorded as uploaded; absent, it is sent. So nothing is lost and
nothing is listed twice.
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
from ecauto.clients.base import BaseClient
from ecauto.clients.http import ApiError, QuotaSpent, Throttled
from ecauto.config import PLATFORMS, Config, UploadSettings
from ecauto.daemon.base import common_parser, run_daemon
from ecauto.daemons.common import BusinessDaemon
from ecauto.home import Home
from ecauto.logsetup import fields
from ecauto.quota import Stopped
from ecauto.store import Listing, Store


class ListingClient(Protocol):
    def upload(self, sku: str, payload: dict[str, Any]) -> str: ...
    def find(self, sku: str) -> str | None: ...


def batch_size(settings: UploadSettings, interval_s: float, used_last_hour: int) -> int:
    """How many listings this cycle may take: the hourly cap spread over the cycles of an hour."""
    per_cycle = max(1, math.ceil(settings.hourly_cap * interval_s / 3600))
    return max(0, min(per_cycle, settings.hourly_cap - used_last_hour))


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
        self.client: ListingClient = self.apis.listing(self.platform)
        self.rng = random.Random()

    @staticmethod
    def name_for(args: argparse.Namespace) -> str:
        return f"upload-{args.platform}"

    def run_once(self) -> None:
        assert self.store is not None
        store = self.store
        now = time.time()
        for listing in store.in_flight(self.platform):
            if self.stopping:
                return
            self._settle_in_flight(store, listing)
        n = batch_size(
            self.settings, self.interval_s, store.attempts_since(self.platform, now - 3600)
        )
        due = store.due(self.platform, now, n)
        uploaded = failed = 0
        for i, listing in enumerate(due):
            if self.stopping:
                break
            self.progress(i, len(due), f"listing {i + 1} of {len(due)}")
            result = self._upload(store, listing)
            if result is None:
                break  # out of quota, or stopping: the listing went back to the queue untouched
            if result:
                uploaded += 1
            else:
                failed += 1
        self.progress(uploaded + failed, len(due))
        self.log.info(
            "uploads %s",
            fields(platform=self.platform, due=len(due), uploaded=uploaded, failed=failed),
        )
        if failed and not uploaded:
            raise RuntimeError(f"all {failed} uploads failed; last error: {self._last_error}")

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
