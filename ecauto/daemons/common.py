"""What the business daemons share on top of the base: the store, with demo data in sandbox mode."""

from __future__ import annotations

import argparse
import logging
import time

from ecauto.apis import Apis
from ecauto.config import PLATFORMS, Config
from ecauto.daemon.base import Daemon
from ecauto.home import Home
from ecauto.logsetup import fields
from ecauto.store import Store

log = logging.getLogger(__name__)


def open_store(cfg: Config, home: Home) -> Store:
    store = Store(home.db)
    if cfg.mode != "sandbox":
        return store
    # eBay's and Yahoo's demo listings: their first account's (README "Listing on eBay and Yahoo")
    owners = {p: cfg.listing_accounts(p)[0].name for p in PLATFORMS if p != "base"}
    for index, account in enumerate(cfg.base_accounts()):
        demo = (account.demo_products, cfg.demo.listings, PLATFORMS, time.time())
        if store.seed_demo(*demo, account.name, index, owners):
            log.info(
                "demo data seeded %s",
                fields(
                    account=account.name,
                    products=account.demo_products,
                    listings_per_platform=cfg.demo.listings,
                ),
            )
    return store


class BusinessDaemon(Daemon):
    """A daemon of the shop's work: the store once the lock is held, clients on shared quotas."""

    def __init__(self, name: str, args: argparse.Namespace, cfg: Config, home: Home) -> None:
        super().__init__(name, args, cfg, home)
        self.apis = Apis(cfg, home, self.quota_wait)
        self.store: Store | None = None

    def setup(self) -> None:
        self.store = open_store(self.config, self.home)

    def teardown(self) -> None:
        if self.store is not None:
            self.store.close()
        self.apis.close()

    def quota_wait(self, seconds: float, why: str) -> bool:
        """Waits for quota. A pause of a beat or two is ordinary pacing: the heartbeat keeps
        saying what is being worked on; a longer one says what it waits for."""
        return self.wait(seconds, detail=why if seconds > self.beat_s else None)
