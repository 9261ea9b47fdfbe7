"""The chaos soak, short: every kind of fault, and not one of the instance's promises broken.

benchmarks/soak.py in small: a whole instance from circus.ini, the sandbox beside it, two faults
of each kind (kill -9 of a daemon and of circusd, SIGSTOP, copies by hand with and without the
lock, a stale lock, broken heartbeats, the sandbox failing five ways, Chatwork down) over a
minute, then every invariant checked. The long run and its figures: `benchmarks/soak.py --help`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import soak  # noqa: E402


@pytest.mark.process
@pytest.mark.timeout(300)
def test_a_short_soak_keeps_every_promise() -> None:
    # Given a seeded minute of faults, two of every kind
    opts = soak.Options(
        minutes=1.0,
        seed=20,
        faults_per_kind=2,
        progress=False,
        recovery_deadline_s=120.0,
        settle_timeout_s=150.0,
    )
    # When the soak runs it and stops the instance
    res = soak.run_soak(opts)
    table = res.table()
    # Then every kind was injected and every fault recovered ...
    injected = [f for f in res.faults if f.injected_at is not None]
    assert sorted({f.kind for f in injected}) == sorted(soak.KINDS), table
    assert len(injected) == 2 * len(soak.KINDS), table
    assert all(f.recovered_at is not None for f in injected), table
    # ... and no invariant was broken (nothing left running, no secret written, no alert lost)
    assert res.checks and res.violations == 0, table
