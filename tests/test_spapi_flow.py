"""The sync against the sandbox (real processes, real HTTP): its prices come from the market
operation configured, batches answered out of order land on the right products, and a product
nobody offers on Amazon keeps its price (never 0) with stock 0 and is not pushed to BASE.
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

import pytest
from support import Reaper, Rig

from ecauto.config import MARKET_OPERATIONS
from ecauto.sandbox import market

PRODUCTS = 200
# Prices that do not move during the test: the sandbox's market epoch is a day long.
STEADY = ("--market-period-s", "86400")
SEED = 7  # the sandbox's default seed


@pytest.mark.process
@pytest.mark.timeout(120)
@pytest.mark.parametrize("operation", MARKET_OPERATIONS)
def test_the_sync_prices_every_product_from_the_market_by_asin(
    tmp_path: Path, reaper: Reaper, operation: str
) -> None:
    # Given a sandbox that answers every batch out of order, and a sync reading `operation`
    rig = Rig(
        tmp_path,
        reaper,
        *STEADY,
        "--op-limit",
        "getItemOffersBatch=50:1",
        products=PRODUCTS,
        config_extra="\n[spapi.limits.getItemOffersBatch]\nrate = 50.0\nburst = 1\n",
    )
    rig.config.write_text(
        rig.config.read_text().replace(
            "[spapi]\ntimeout_s = 5.0", f'[spapi]\ntimeout_s = 5.0\noperation = "{operation}"'
        )
    )

    # When one cycle runs
    done = rig.sync_once()

    # Then it read the market with that operation only, one call per 20 products
    assert done.returncode == 0, done.stderr
    stats = rig.stats()
    assert stats["endpoints"][f"spapi.{operation}"]["ok"] == math.ceil(PRODUCTS / 20)
    for other in ("getPricing", *MARKET_OPERATIONS):
        if other != operation:
            assert stats["endpoints"][f"spapi.{other}"]["requests"] == 0
    # and every product got its own ASIN's market price (a positional reading would not)
    db = rig.db()
    rows = db.execute("SELECT asin, price, stock, base_price FROM products").fetchall()
    db.close()
    assert len(rows) == PRODUCTS
    now = time.time()
    quotes = {asin: market.quote(SEED, asin, now, 86400.0) for asin, *_ in rows}
    unoffered = [a for a, q in quotes.items() if not q.offers]
    assert any(not market.has_market(SEED, a) for a in unoffered)  # the case is in the data
    for asin, price, stock, base_price in rows:
        q = quotes[asin]
        if q.offers:
            assert (price, stock, base_price) == (q.offers[0], 1, q.offers[0]), asin
        else:
            # no market offer: no price (never 0), stock 0, and nothing pushed to BASE
            assert (price, stock, base_price) == (None, 0, None), asin
    assert stats["endpoints"]["base.items_edit"]["ok"] == PRODUCTS - len(unoffered)
    assert "no market offer" in done.stderr
    # and every call said what it is in the form the SP-API developer guide asks
    agents = stats["spapi"]["user_agents"]
    assert agents and all(
        re.fullmatch(r"ecauto/\S+ \(Language=Python/[\d.]+\w*; Platform=[^()]+\)", a)
        for a in agents
    ), agents
