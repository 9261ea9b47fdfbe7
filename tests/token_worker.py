"""A separate process for the token tests: `python tests/token_worker.py PLATFORM GO_FILE GAP_S`.

Builds the listing client of PLATFORM (ebay, yahoo) exactly as upload-<platform> does, from the
environment's ECAUTO_CONFIG and ECAUTO_HOME; waits for GO_FILE; asks its shared token store for a
token, waits GAP_S, asks again, and prints both tokens as JSON.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ecauto import config
from ecauto.apis import Apis
from ecauto.home import Home
from ecauto.quota import sleep_wait


def main(platform: str, go: Path, gap_s: float) -> None:
    apis = Apis(config.load(None), Home.resolve(None), sleep_wait)
    source = apis.listing(platform).tokens
    deadline = time.monotonic() + 20
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    first = source.token()
    time.sleep(gap_s)
    print(json.dumps({"first": first, "second": source.token()}))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), float(sys.argv[3]))
