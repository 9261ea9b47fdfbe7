"""What the business daemons share on top of the base: the store, with demo data in sandbox mode."""

from __future__ import annotations

import logging
import time

from ecauto.config import PLATFORMS, Config
from ecauto.home import Home
from ecauto.logsetup import fields
from ecauto.store import Store

log = logging.getLogger(__name__)


def open_store(cfg: Config, home: Home) -> Store:
    store = Store(home.db)
    if cfg.mode == "sandbox" and store.seed_demo(cfg.demo.products, cfg.demo.listings,
                                                 PLATFORMS, time.time()):
        log.info("demo data seeded %s", fields(products=cfg.demo.products,
                                               listings_per_platform=cfg.demo.listings))
    return store
