"""sync-inventory: re-read every product's Amazon price and stock, then push what changed to BASE.

The price is the market's (`spapi.operation`: getCompetitivePricing's New Buy Box by default, or
getItemOffersBatch), never getPricing's, which answers only the seller's own offers.

A cycle is a row in `sync_runs` with its batches of 20 ASINs in `sync_batches`; a process claims
one batch at a time and stores its prices and its `done` mark in one transaction. So a sync
restarted mid-cycle resumes where it was, and a second copy (started by hand, past the lock)
shares the cycle instead of repeating it: every product is read once per cycle. Calls wait for
the operation's token bucket, shared by the whole instance; a throttled batch is sent again,
never dropped. Whoever settles the last batch pushes the changed prices to BASE.

Several BASE shops (`[base.accounts]`) share one cycle: its batches are each shop's products,
one shop after the other, all through the one SP-API bucket (per seller and marketplace); then
each shop's prices go out with its own token and into its own hourly and daily quota, the shops
in turn, so one waiting for its hour does not hold the others back.
"""

from __future__ import annotations

# Its own log first, and a copy of a running daemon leaves, before the heavy imports below
# (see ecauto.daemon.early).
# ruff: noqa: E402
import sys

from ecauto.daemon import early

NAME = "sync-inventory"

if __name__ == "__main__":
    early.log_to_file()  # under Circus: stderr into the daemon's own log, before anything can fail
    early.leave_if_running(lambda args: NAME, sys.argv[1:])

import argparse
import time
from collections import deque
from collections.abc import Sequence

import psutil

from ecauto.backoff import compute_backoff
from ecauto.clients.base import BaseClient, refused_line
from ecauto.clients.http import ApiError, QuotaSpent, Throttled
from ecauto.clients.spapi import Offer, SpApiClient
from ecauto.config import Config, ConfigError
from ecauto.daemon.base import CycleFailed, common_parser, run_daemon
from ecauto.daemons.common import BusinessDaemon
from ecauto.home import Home
from ecauto.logsetup import fields
from ecauto.quota import Stopped
from ecauto.store import PricePush, PriceUpdate, Store

# A batch that fails for reasons other than quota is tried this many times before it is marked
# failed for this cycle (and the error recorded); quota refusals are retried without limit.
MAX_BATCH_TRIES = 4
ERROR_BACKOFF_S = (2.0, 15.0)  # the first wait and the longest; doubling between


def claimer_alive(claimer: str) -> bool:
    """A claim names its process as "pid:create_time"; True unless that process is gone."""
    try:
        pid, created = claimer.split(":", 1)
        return abs(psutil.Process(int(pid)).create_time() - float(created)) < 0.05
    except (ValueError, psutil.NoSuchProcess):
        return False
    except psutil.AccessDenied:
        return True


def market_updates(
    offers: Sequence[Offer],
) -> tuple[list[PriceUpdate], list[tuple[str, str]], list[str]]:
    """What a batch's market answer changes: (updates, per-item errors, ASINs with no offer).

    An ASIN nobody offers on Amazon has no market price: its stored price stays (so BASE is
    never told 0 and no push follows), and its stock is recorded as 0 (nothing to buy). An
    item Amazon answered with an error changes nothing but its `last_error`."""
    updates = [PriceUpdate(o.asin, o.price, 1 if o.in_stock else 0) for o in offers if not o.error]
    errors = [(o.asin, o.error) for o in offers if o.error]
    unoffered = [o.asin for o in offers if not o.error and o.price is None and not o.in_stock]
    return updates, errors, unoffered


class SyncDaemon(BusinessDaemon):
    def __init__(self, args: argparse.Namespace, cfg: Config, home: Home) -> None:
        self.default_interval_s = cfg.sync.interval_s
        super().__init__(NAME, args, cfg, home)
        self.operation = cfg.spapi.operation
        self.claimer = f"{self._me.pid}:{self._create_time}"
        self.spapi: SpApiClient = self.apis.spapi()
        # One client per BASE shop, each with its own token store and quota; the SP-API client
        # and its bucket (one per seller and marketplace) serve them all.
        self.accounts = {a.name: a for a in cfg.base_accounts()}
        self.bases: dict[str, BaseClient] = {
            a.name: self.apis.base(account=a) for a in self.accounts.values()
        }
        self.several = len(self.bases) > 1

    @staticmethod
    def name_for(args: argparse.Namespace) -> str:
        return NAME

    def run_once(self) -> None:
        assert self.store is not None
        store = self.store
        run, started = store.join_or_start_run(
            time.time(), self.interval_s, self.config.spapi.batch_size, list(self.bases)
        )
        if started:
            unknown = {a: n for a, n in store.product_accounts().items() if a not in self.bases}
            if unknown:
                # e.g. a home that had one shop, now configured with named ones: its products
                # are the `default` account's until that shop is named `default`
                self.log.warning(
                    "products of accounts not in the config are not synced %s",
                    fields(accounts=",".join(f"{a}:{n}" for a, n in unknown.items())),
                )
        for other in store.claimers(run):
            if other != self.claimer and not claimer_alive(other):
                n = store.release_claims(run, other)
                self.log.info("took over batches %s", fields(run=run, batches=n, of=other))
        total = int(store.run_row(run).get("batches", 0))
        self.log.info(
            "sync %s", fields(run=run, action="started" if started else "resumed", batches=total)
        )
        mine = 0
        while not self.stopping:
            claim = store.claim_batch(run, self.claimer, time.time())
            if claim is None:
                break
            batch_id, idx, asins, _ = claim
            where = f"batch {idx + 1} of {total}"
            if self.several:  # e.g. "main 120/489 · second 0/51"
                where += " · " + accounts_line(store.account_progress(run))
            self.progress(store.run_progress(run)["done"], total, where)
            offers, throttled, error = self._fetch(asins)
            if offers is None:
                if self.stopping:
                    break
                store.fail_batch(batch_id, self.claimer, error or "failed", time.time())
                continue
            updates, errors, unoffered = market_updates(offers)
            if unoffered:
                self.log.info(
                    "no market offer %s",
                    fields(count=len(unoffered), asins=",".join(unoffered[:5]), kept="price"),
                )
            store.finish_batch(batch_id, self.claimer, updates, errors, time.time(), throttled)
            mine += 1
        if self.stopping:
            n = store.release_claims(run, self.claimer)
            self.log.info("sync paused %s", fields(run=run, batches_left_for_next_start=n))
            return
        progress = store.run_progress(run)
        self.progress(progress["done"], total, "")
        if not store.claim_push(run, self.claimer):
            self.log.info(
                "sync share done %s",
                fields(run=run, my_batches=mine, note="another copy finishes the cycle"),
            )
            return
        pushed, refused = self._push_prices(store)
        state = "stopped" if self.stopping else ("partial" if progress["failed"] else "complete")
        if refused and not self.stopping:
            state = "partial"
        store.finish_run(run, state, time.time(), pushed)
        row = store.run_row(run)
        self.log.info(
            "sync %s",
            fields(
                run=run,
                state=state,
                batches=total,
                items=row["items"],
                changed=row["changed"],
                pushed=pushed,
                throttled=row["throttled"],
                failed_batches=row["errors"],
            ),
        )
        if refused:
            # A person must authorise that shop again. With one shop that stops the daemon
            # (exit 78); here the other shops' work is done, and the cycle fails naming the
            # shop (the watchdog's `failing` finding alerts, quoting it). The next cycle tries
            # the shop once more (one token call) while the others carry on.
            raise CycleFailed(
                "; ".join(refused_line(self.accounts[a], e) for a, e in refused.items())
            )
        if progress["failed"]:
            raise RuntimeError(
                f"{progress['failed']} of {total} batches failed; last error: {self._last_error}"
            )

    def _fetch(self, asins: list[str]) -> tuple[list[Offer] | None, int, str | None]:
        """One batch, retried until it is in (quota) or has failed MAX_BATCH_TRIES times."""
        throttled = tries = 0
        while not self.stopping:
            try:
                return self.spapi.fetch(self.operation, asins), throttled, None
            except Stopped:
                break
            except Throttled as e:
                # The shared bucket has been emptied for every process and backs off with jitter.
                throttled += 1
                self.log.warning("throttled %s", fields(api=e.api, first=asins[0], times=throttled))
            except ApiError as e:
                tries += 1
                self.record_error(str(e))
                self.log.warning("batch failed %s", fields(tries=tries, error=e))
                if not e.retryable or tries >= MAX_BATCH_TRIES:
                    return None, throttled, str(e)
                self.wait(compute_backoff(tries, *ERROR_BACKOFF_S))
        return None, throttled, None

    def _push_prices(self, store: Store) -> tuple[int, dict[str, ConfigError]]:
        """Push every shop's changed prices with its own token and quota, the shops in turn:
        one waiting for its hour does not hold the others back. Returns (pushed, the shops
        whose authorisation was refused)."""
        todo = {name: deque(store.prices_to_push(name)) for name in self.bases}
        total = sum(len(q) for q in todo.values())
        done = dict.fromkeys(todo, 0)
        pushed = tried = 0
        refused: dict[str, ConfigError] = {}
        while not self.stopping:
            active = [n for n, q in todo.items() if q and n not in refused]
            if not active:
                break
            waits = []
            for name in active:
                client, p = self.bases[name], todo[name][0]
                if self.several and client.gate is not None:
                    delay, why = client.gate.room_in()
                    if delay > 0:
                        waits.append((delay, why))
                        continue
                self.progress(tried, total, self._push_detail(todo, done, tried, total))
                try:
                    client.edit_item(p.base_item_id, p.price, p.stock)
                except Stopped:
                    break
                except QuotaSpent:
                    continue  # the BASE gate now waits for the window to turn
                except ConfigError as e:
                    if not self.several:
                        raise
                    refused[name] = e
                    self.log.warning("price push stopped %s", fields(account=name, error=e))
                    continue
                except ApiError as e:
                    self.record_error(str(e))
                    who = {"account": name} if self.several else {}
                    self.log.warning("price push failed %s", fields(**who, asin=p.asin, error=e))
                    todo[name].popleft()
                    tried += 1
                    continue
                store.mark_pushed(p.asin, p.price, p.stock, time.time(), name)
                todo[name].popleft()
                tried += 1
                done[name] += 1
                pushed += 1
            else:
                if waits and len(waits) == len(active):
                    delay, why = min(waits)
                    self.wait(min(delay, 60.0), detail=why)
                continue
            break  # stopped mid-call
        self.progress(pushed, total, f"pushed {pushed} of {total} prices to BASE")
        return pushed, refused

    def _push_detail(
        self, todo: dict[str, deque[PricePush]], done: dict[str, int], tried: int, total: int
    ) -> str:
        if not self.several:
            return f"BASE price and stock {tried + 1} of {total}"
        line = accounts_line({n: (done[n], done[n] + len(q)) for n, q in todo.items()})
        return f"BASE prices {line}"


def accounts_line(progress: dict[str, tuple[int, int]]) -> str:
    """Each account's part of the work: "main 120/489 · second 0/51"."""
    return " · ".join(f"{name} {done}/{total}" for name, (done, total) in progress.items())


def parser() -> argparse.ArgumentParser:
    return common_parser(
        "ecauto.daemons.sync",
        "Re-read Amazon prices and stock; push changed prices and stock to BASE.",
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_daemon(SyncDaemon, parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
