"""sync-inventory: re-read every product's Amazon price and stock, then push changed prices to BASE.

Amazon's pricing operations allow one call every two seconds; the pacer spends that quota to the
last token and a throttled batch is sent again, never dropped. Progress (batch i of n) is in the
heartbeat throughout.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from ecauto.clients.base import BaseClient
from ecauto.clients.http import ApiError, QuotaSpent, Throttled
from ecauto.clients.spapi import SpApiClient
from ecauto.config import Config
from ecauto.credentials import bearer
from ecauto.daemon.base import Daemon, common_parser, run_daemon
from ecauto.daemons.common import open_store
from ecauto.home import Home
from ecauto.logsetup import fields
from ecauto.quota import HourWindow, Pacer, TokenBucket
from ecauto.store import PriceUpdate, Store

NAME = "sync-inventory"
# A batch that fails for reasons other than quota is tried this many times before it is skipped
# for this cycle (and the error recorded); quota refusals are retried without limit.
MAX_BATCH_TRIES = 4
ERROR_BACKOFF_S = (2.0, 5.0, 15.0)


def batches(items: Sequence[str], size: int) -> list[list[str]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


class SyncDaemon(Daemon):
    default_interval_s = 10800.0

    def __init__(self, args: argparse.Namespace, cfg: Config, home: Home) -> None:
        self.default_interval_s = cfg.sync.interval_s
        super().__init__(NAME, args, cfg, home)
        sp = cfg.spapi
        self.operation = sp.operation
        limit = sp.limits.get(self.operation)
        if limit is None:  # pragma: no cover - the config's own defaults name both operations
            raise ValueError(f"no limit configured for {self.operation}")
        self.spapi = SpApiClient(cfg.url_for(sp.endpoint), sp.marketplace_id,
                                 bearer(cfg, "SPAPI_ACCESS_TOKEN"), sp.timeout_s)
        self.base = BaseClient(cfg.url_for(cfg.base.endpoint), bearer(cfg, "BASE_ACCESS_TOKEN"),
                               cfg.base.timeout_s)
        now = time.monotonic()
        self.sp_pacer = Pacer(f"SP-API {self.operation}",
                              TokenBucket.full(limit.rate, limit.burst, now), time.monotonic)
        self.base_pacer = Pacer("BASE", HourWindow(cfg.base.hourly_limit))
        self.store: Store | None = None

    @staticmethod
    def name_for(args: argparse.Namespace) -> str:
        return NAME

    def setup(self) -> None:
        self.store = open_store(self.config, self.home)

    def teardown(self) -> None:
        if self.store is not None:
            self.store.close()

    def _wait(self, seconds: float, why: str) -> bool:
        # A pause of a beat or two is ordinary pacing: keep "batch i of n" in the heartbeat.
        return self.wait(seconds, detail=why if seconds > self.beat_s else None)

    def run_once(self) -> None:
        assert self.store is not None
        store = self.store
        run = store.start_run(time.time())
        asins = store.all_asins()
        parts = batches(asins, self.config.spapi.batch_size)
        total = len(parts)
        items = changed = throttled = errors = 0
        for i, batch in enumerate(parts):
            if self.stopping:
                break
            self.progress(i, total, f"batch {i + 1} of {total}")
            offers, t = self._fetch(batch)
            throttled += t
            if offers is None:
                errors += 1
                continue
            updates = []
            for o in offers:
                if o.error:
                    store.record_product_error(o.asin, o.error)
                    continue
                updates.append(PriceUpdate(o.asin, o.price, 1 if o.in_stock else 0))
            items += len(updates)
            changed += store.apply_prices(updates, time.time())
        complete = not self.stopping and errors == 0
        self.progress(total, total, "pushing changed prices to BASE")
        pushed = self._push_prices(store) if not self.stopping else 0
        state = "complete" if complete and not self.stopping else (
            "stopped" if self.stopping else "partial")
        store.finish_run(run, state, time.time(), items=items, changed=changed, pushed=pushed,
                         throttled=throttled, errors=errors)
        self.log.info("sync %s", fields(state=state, products=len(asins), batches=total,
                                        items=items, changed=changed, pushed=pushed,
                                        throttled=throttled, failed_batches=errors))
        if errors:
            raise RuntimeError(f"{errors} of {total} batches failed; last error: {self._last_error}")

    def _fetch(self, batch: list[str]) -> tuple[list | None, int]:
        """One batch, retried until it is in (quota) or has failed MAX_BATCH_TRIES times."""
        throttled = tries = 0
        while not self.stopping:
            if not self.sp_pacer.acquire(self._wait):
                break
            try:
                offers = self.spapi.fetch(self.operation, batch)
                self.sp_pacer.settle()
                return offers, throttled
            except Throttled as e:
                self.sp_pacer.settle()
                throttled += 1
                self.sp_pacer.refused()
                self.log.warning("throttled %s", fields(api=e.api, batch_first=batch[0]))
            except ApiError as e:
                self.sp_pacer.settle()
                tries += 1
                self.record_error(str(e))
                self.log.warning("batch failed %s", fields(tries=tries, error=e))
                if not e.retryable or tries >= MAX_BATCH_TRIES:
                    return None, throttled
                self.wait(ERROR_BACKOFF_S[min(tries, len(ERROR_BACKOFF_S)) - 1])
        return None, throttled

    def _push_prices(self, store: Store) -> int:
        todo = store.prices_to_push()
        pushed = 0
        for i, p in enumerate(todo):
            while not self.stopping:
                self.progress(i, len(todo), f"BASE price {i + 1} of {len(todo)}")
                if not self.base_pacer.acquire(self._wait):
                    break
                try:
                    self.base.edit_item(p.base_item_id, p.price, p.stock)
                except QuotaSpent:
                    self.base_pacer.refused()
                    continue
                except ApiError as e:
                    self.record_error(str(e))
                    self.log.warning("price push failed %s", fields(asin=p.asin, error=e))
                    break
                store.mark_pushed(p.asin, p.price, time.time())
                pushed += 1
                break
            if self.stopping:
                break
        self.progress(pushed, len(todo), f"pushed {pushed} of {len(todo)} prices to BASE")
        return pushed


def parser() -> argparse.ArgumentParser:
    return common_parser("ecauto.daemons.sync",
                         "Re-read Amazon prices and stock; push changed prices to BASE.")


def main(argv: Sequence[str] | None = None) -> int:
    return run_daemon(SyncDaemon, parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
