from __future__ import annotations

import pytest

from ecauto.config import UploadSettings
from ecauto.daemons.upload import batch_size, retry_delay


@pytest.mark.parametrize(
    ("cap", "interval", "used", "expected"),
    [
        (120, 60, 0, 2),  # 120 an hour through 60 cycles
        (100, 60, 0, 2),  # rounded up, never 0 while the hour has room
        (120, 60, 119, 1),
        (120, 60, 120, 0),  # the hour's cap is reached: wait
        (3600, 2, 0, 2),
        (10, 3600, 0, 10),
    ],
)
def test_batch_size_spreads_the_cap(cap: int, interval: float, used: int, expected: int) -> None:
    assert batch_size(UploadSettings(hourly_cap=cap), interval, used) == expected


@pytest.mark.parametrize(
    ("attempts", "rnd", "expected"),
    [(1, 1.0, 60.0), (2, 1.0, 120.0), (3, 0.0, 120.0), (10, 1.0, 3600.0)],
)
def test_retry_delay_backs_off_with_jitter(attempts: int, rnd: float, expected: float) -> None:
    s = UploadSettings(retry_base_s=60, retry_max_s=3600)
    assert retry_delay(s, attempts, rnd) == pytest.approx(expected)
