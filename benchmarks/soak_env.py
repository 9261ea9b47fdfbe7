"""The soak's world: a whole instance from the repo's circus.ini, the marketplaces beside it, secrets.

Built on tests/support.py (Instance, Reaper, wait_for): the repo's circus.ini under a real circusd,
in a temp folder with its own home, config, ipc endpoints and sandbox port. Two changes to what
support.Instance writes, both for the soak's sake:
  - its config is the soak's fast config below (timings scaled down so that recoveries take
    seconds; every value is one an operator could set in ecauto.toml);
  - the [watcher:sandbox] section is dropped from the temp copy of circus.ini: the sandbox runs
    beside the instance instead (benchmarks/soak_market.py says why); so is [watcher:dashboard]
    (the web page is not what the soak tries). Every other watcher is the repo's own, unchanged.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import requests

REPO = Path(__file__).resolve().parent.parent
for p in (REPO, REPO / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from support import Instance, Reaper, sandbox_headers, wait_for  # noqa: E402

from ecauto import config as config_mod  # noqa: E402
from ecauto.sandbox.key import key_path  # noqa: E402

DAEMONS = ("upload-base", "upload-ebay", "upload-yahoo", "sync-inventory")
MANAGED = (*DAEMONS, "watchdog")  # the watchers the soak's circus.ini runs
PLATFORMS = ("base", "ebay", "yahoo")

# Secrets set in the instance's environment: distinctive, so that a plain search finds a leak.
SECRETS = {
    "CHATWORK_API_TOKEN": "soak-cw-token-5f0b2a9e71c4d386",
    "CHATWORK_ROOM_ID": "31337",
    "SPAPI_LWA_CLIENT_ID": "soak-lwa-client-2c7d41e9b0",
    "SPAPI_LWA_CLIENT_SECRET": "soak-lwa-secret-9a1f03bd6e5c",
    "SPAPI_LWA_REFRESH_TOKEN": "soak-lwa-refresh-4e6b9d02c8f1",
    "BASE_CLIENT_ID": "soak-base-client-71d3c05a9f",
    "BASE_CLIENT_SECRET": "soak-base-secret-e2b8470c1d6a",
    "BASE_REFRESH_TOKEN": "soak-base-refresh-0c9e5a3b7d24",
    "BASE_REDIRECT_URI": "https://soak.invalid/callback-8d2f",
    "EBAY_REFRESH_TOKEN": "soak-ebay-refresh-6a4c19e0b7f3",
    "YAHOO_REFRESH_TOKEN": "soak-yahoo-refresh-3b8e0f6d2a91",
}
# Not secret (it is in every Yahoo request), so not searched for.
NOT_SECRET = ("CHATWORK_ROOM_ID", "BASE_REDIRECT_URI")

# The "old system" scripts a copy that ignores the lock is started as: one pattern per daemon
# (sync-inventory's is the one ecauto.toml ships with).
LEGACY = {
    "upload-base": "legacy_tasks/upload_base_daemon.py",
    "upload-ebay": "legacy_tasks/upload_ebay_daemon.py",
    "upload-yahoo": "legacy_tasks/upload_yahoo_daemon.py",
    "sync-inventory": "scheduled_tasks/sync_inventory_daemon.py",
}


@dataclass(frozen=True)
class Timings:
    """The soak's scaled-down timings; everything else follows from these."""

    beat_s: float = 1.0
    http_timeout_s: float = 1.5
    watchdog_interval_s: float = 0.5
    # Above the longest silence of a healthy daemon: two HTTP calls of one listing (a look-up and
    # the upload) at their timeout, plus a beat.
    grace_s: float = 5.0
    recovery_s: float = 2.0
    sync_interval_s: float = 10.0
    upload_interval_s: float = 2.0


def soak_config(port: int, seed: int, t: Timings, products: int, listings: int) -> str:
    http = t.http_timeout_s
    uploads = "".join(
        f"""
[upload.{p}]
hourly_cap = 3600
interval_s = {t.upload_interval_s}
retry_base_s = 1
retry_max_s = 8
timeout_s = {http}
"""
        for p in PLATFORMS
    )
    patterns = "".join(
        f'\n[watchdog.daemons.{d}]\npatterns = ["{pat}"]\n' for d, pat in LEGACY.items()
    )
    return f"""\
# The soak's instance (benchmarks/soak.py): ecauto.toml's keys, timings scaled down.
mode = "sandbox"

[sandbox]
port = {port}
seed = {seed}
spapi_rate = 20
spapi_burst = 1
# Prices move every minute, so a sync cycle has a few prices to push to BASE.
market_period_s = 60
# A few listing calls fail (500 or 400), as the real platforms' do.
listing_failure_rate = 0.02
base_hourly_cap = 20000
# Tokens expire within the soak, so refreshes (and BASE's rotating refresh token) meet faults.
lwa_expires_in = 90
base_expires_in = 90

[spapi]
timeout_s = {http}

[spapi.limits.getCompetitivePricing]
rate = 20
burst = 1

[base]
timeout_s = {http}
hourly_limit = 20000
{uploads}
[sync]
interval_s = {t.sync_interval_s}

[daemon]
beat_s = {t.beat_s}

[demo]
products = {products}
listings = {listings}

[alerts]
# The policy opens one notice per incident and one per recovery; a dedupe window would also
# drop a second incident of the same kind after its recovery (see the soak's report).
dedupe_window_s = 0
coalesce_s = 1
timeout_s = {http}

[reports]
# A report after each of the soak's 10-second cycles is 360 messages an hour on top of the
# alerts: with Chatwork's 300 requests per 5 minutes, the queue after an outage then drained
# too slowly to count as recovered (10-minute soak, seed 1: 2 violations). A daily digest is
# what a shop with 3-hour cycles and many alerts would choose; tests/test_cycle_reports.py
# holds the reports' exactly-once and outage promises.
cycle = "daily"

[watchdog]
interval_s = {t.watchdog_interval_s}
grace_beats = 3
min_grace_s = {t.grace_s}
start_grace_s = 15
copy_settle_s = 3
term_timeout_s = 5
recovery_s = {t.recovery_s}
# Faults come by the dozen here: respawns and restarts are the soak's doing, not a crash loop
# for a person to look at.
restart_backoff_s = 0
restart_budget = 1000000
crash_loop_respawns = 1000000
crash_loop_deaths = 1000000
{patterns}"""


def soak_env(base_env: dict[str, str]) -> dict[str, str]:
    env = dict(base_env)
    env.update(SECRETS)
    env.pop("CHATWORK_API_URL", None)  # alerts go to the sandbox's Chatwork
    return env


def drop_sandbox_watcher(text: str) -> str:
    return re.sub(r"(?ms)^\[watcher:(sandbox|dashboard)\].*?(?=^\[|\Z)", "", text)


@dataclass
class Lab:
    """Everything the soak started, and where it is."""

    root: Path
    reaper: Reaper
    inst: Instance
    market_home: Path
    holdings_url: str = ""
    market: subprocess.Popen[bytes] | None = None
    innocent: psutil.Process | None = None  # a bystander named in bad files: never signalled
    dead_pids: list[tuple[int, float]] = field(default_factory=list)  # pids known to be gone
    cfg: Any = None

    @property
    def home(self) -> Path:
        return self.inst.home

    @property
    def sandbox_url(self) -> str:
        return self.inst.sandbox_url

    @property
    def key(self) -> dict[str, str]:
        """The header the sandbox's control endpoints want (the instance's sandbox key)."""
        return sandbox_headers(self.home)

    def get(self, path: str, timeout: float = 5.0) -> Any:
        r = requests.get(f"{self.sandbox_url}{path}", headers=self.key, timeout=timeout)
        r.raise_for_status()
        return r.json()

    def holdings(self) -> dict[str, list[str]]:
        r = requests.get(self.holdings_url, timeout=10)
        r.raise_for_status()
        return dict(r.json())


def make_lab(
    root: Path, reaper: Reaper, seed: int, t: Timings, products: int, listings: int
) -> Lab:
    inst = Instance(root, reaper, ini_edit=drop_sandbox_watcher)
    inst.config.write_text(soak_config(inst.port, seed, t, products, listings))
    inst.env = soak_env(inst.env)
    lab = Lab(root, reaper, inst, root / "market")
    lab.cfg = config_mod.load(inst.config)
    return lab


def start_market(lab: Lab, timeout: float = 30.0) -> None:
    lab.market_home.mkdir(parents=True, exist_ok=True)
    port_file = lab.root / "holdings.port"
    env = {k: v for k, v in lab.inst.env.items() if k != "ECAUTO_HOME"}
    log = open(lab.root / "market.log", "ab")  # noqa: SIM115 - the child owns it from here
    try:
        lab.market = subprocess.Popen(
            [
                sys.executable,
                str(REPO / "benchmarks" / "soak_market.py"),
                "--config",
                str(lab.inst.config),
                "--home",
                str(lab.market_home),
                "--holdings-port-file",
                str(port_file),
                "--key-file",  # the market has a home of its own; the instance's key is this
                str(key_path(lab.home)),
            ],
            cwd=lab.root,
            env=env,
            stdout=log,
            stderr=log,
        )
    finally:
        log.close()
    lab.reaper.track(lab.market.pid)
    port = wait_for(
        lambda: port_file.exists() and port_file.read_text().strip(),
        timeout,
        "the soak market's holdings port",
    )
    lab.holdings_url = f"http://127.0.0.1:{port}/holdings"
    wait_for(
        lambda: requests.get(f"{lab.sandbox_url}/_sandbox/health", timeout=2).ok,
        timeout,
        "the sandbox's health",
    )


def start_bystanders(lab: Lab) -> None:
    """An innocent process (alive all along) and a few pids known to be dead, for bad files."""
    innocent = subprocess.Popen(["sleep", "100000"], cwd=lab.root)
    lab.reaper.track(innocent.pid)
    lab.innocent = psutil.Process(innocent.pid)
    for _ in range(3):
        p = subprocess.Popen([sys.executable, "-c", "pass"], cwd=lab.root)
        ct = psutil.Process(p.pid).create_time() if psutil.pid_exists(p.pid) else 0.0
        p.wait()
        lab.dead_pids.append((p.pid, ct))


def short_tmp() -> Path:
    """A short temp root: the instance's unix socket paths must stay under ~100 bytes."""
    return Path(tempfile.mkdtemp(prefix="soak-"))


def own_files(lab: Lab) -> list[Path]:
    """Every file the soak's instance wrote, except `secrets/` (where tokens belong)."""
    out = []
    for path in sorted(lab.home.rglob("*")):
        rel = path.relative_to(lab.home)
        if rel.parts and rel.parts[0] == "secrets":
            continue
        if path.is_file() and not path.is_symlink():
            out.append(path)
    return out
