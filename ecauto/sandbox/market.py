"""A deterministic, stateless market: what any ASIN costs at any moment.

Every figure is a hash of (seed, ASIN, ...) so two sandboxes with one seed quote the same prices,
a restarted sandbox goes on where it was, and no catalogue has to be loaded: any ASIN exists.
Time is cut into epochs of `period_s` seconds; in each epoch about `CHANGE_SHARE` of ASINs move to
a new price level a few percent from their base price, and about `OUT_OF_STOCK_SHARE` are out of
stock (in spells of a few epochs, as real stock-outs last a while). About `NO_MARKET_SHARE` of
ASINs have no offer at all, ever: products the shop sources elsewhere, which Amazon answers with
no price (the sync's "no market offer" path).
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass

PRICE_MIN = 500
PRICE_MAX = 50_000
CHANGE_SHARE = 0.10
OUT_OF_STOCK_SHARE = 0.03
NO_MARKET_SHARE = 0.02
DRIFT = 0.05  # price levels stay within +-5 % of the base price
STOCK_SPELL_EPOCHS = 6
MAX_OFFERS = 3
# How far back to look for an ASIN's last price change: 0.9**400 is about 5e-19, so never reached
# in practice, but it bounds the work per quote.
_LOOKBACK = 400


@dataclass(frozen=True)
class Quote:
    asin: str
    epoch: int
    price: int  # JPY, whole yen
    in_stock: bool
    offers: tuple[int, ...]  # listing prices, lowest (the buy box) first; empty when out of stock


def is_valid_asin(asin: str) -> bool:
    """Any ASIN exists, except those starting with "BAD" (for per-item error paths)."""
    return bool(asin) and not asin.startswith("BAD")


def epoch_of(now: float, period_s: float) -> int:
    return math.floor(now / period_s)


def base_price(seed: int, asin: str) -> int:
    # Log-uniform, as a shop's catalogue has many cheap items and a few dear ones.
    u = _unit(seed, asin, "base")
    return _clamp(round(PRICE_MIN * (PRICE_MAX / PRICE_MIN) ** u))


def last_change(seed: int, asin: str, epoch: int) -> int:
    """The latest epoch at or before `epoch` in which the ASIN's price moved."""
    for k in range(epoch, epoch - _LOOKBACK, -1):
        if _unit(seed, asin, "change", k) < CHANGE_SHARE:
            return k
    return epoch - _LOOKBACK


def price_at(seed: int, asin: str, epoch: int) -> int:
    level = 1 + DRIFT * (2 * _unit(seed, asin, "level", last_change(seed, asin, epoch)) - 1)
    return _clamp(round(base_price(seed, asin) * level))


def has_market(seed: int, asin: str) -> bool:
    """False for the ASINs nobody offers on Amazon at any time."""
    return _unit(seed, asin, "market") >= NO_MARKET_SHARE


def in_stock_at(seed: int, asin: str, epoch: int) -> bool:
    # Each ASIN's spells start at its own phase, so stock does not flip for all ASINs at once.
    phase = int(_unit(seed, asin, "phase") * STOCK_SPELL_EPOCHS)
    spell = (epoch + phase) // STOCK_SPELL_EPOCHS
    return _unit(seed, asin, "stock", spell) >= OUT_OF_STOCK_SHARE


def quote(seed: int, asin: str, now: float, period_s: float) -> Quote:
    """What the market shows for `asin` at `now` (epoch seconds)."""
    return _quote_at(seed, asin, epoch_of(now, period_s))


# A quote is fixed for an epoch: caching it keeps the sandbox's answer time (which a benchmark of
# the clients' pacing measures) about that of the network, not of the hashing.
@functools.lru_cache(maxsize=1 << 16)
def _quote_at(seed: int, asin: str, epoch: int) -> Quote:
    price = price_at(seed, asin, epoch)
    stocked = has_market(seed, asin) and in_stock_at(seed, asin, epoch)
    offers: tuple[int, ...] = ()
    if stocked:
        # Competitors ask a little more than the buy box; how many there are is per ASIN.
        n = 1 + int(_unit(seed, asin, "sellers") * MAX_OFFERS)
        rivals = (
            _clamp(round(price * (1.01 + 0.14 * _unit(seed, asin, "rival", epoch, i))))
            for i in range(1, n)
        )
        offers = (price, *sorted(rivals))
    return Quote(asin=asin, epoch=epoch, price=price, in_stock=stocked, offers=offers)


def _clamp(price: int) -> int:
    return max(PRICE_MIN, min(PRICE_MAX, price))


def _unit(seed: int, asin: str, *parts: object) -> float:
    """A uniform number in [0, 1) fixed by its arguments."""
    key = "|".join(str(p) for p in (seed, asin, *parts)).encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64
