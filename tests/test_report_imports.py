"""What `watchdog report` imports: only what a live look needs (issue 8: as fast as `circusctl
status`). A module that creeps back onto its path (circus's client and its tornado, http.client
with email and ssl, requests, pyzmq, psutil on Linux, the loop, the executor, the alert sender,
the dashboard) fails here, with its name, before it shows in benchmarks/report_speed.py."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support import Instance

pytestmark = [pytest.mark.process, pytest.mark.timeout(120)]

# A report run as the console script does, then the names of every module it imported.
REPORT = (
    "import json, sys\n"
    "from watchdog.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print('MODULES ' + json.dumps(sorted(sys.modules)))\n"
    "raise SystemExit(code)\n"
)

NEVER = (
    "asyncio",
    "circus",  # circus.client (tornado, asyncio), circus.config: the kept setup.json answers
    "tornado",
    "http.client",
    "email",
    "ssl",
    "requests",
    "urllib3",
    "logging.handlers",
    "tempfile",
    "subprocess",
    "shutil",
    "zmq",  # circusd is spoken to in ZMTP by hand on its ipc:// endpoint
    "ecauto.dashboard",
    "ecauto.daemon.base",
    "watchdog.loop",
    "watchdog.execute",
    "watchdog.alerts.policy",
    "watchdog.alerts.compose",
    "watchdog.alerts.attempt",
)
NEVER_ON_LINUX = ("psutil",)  # /proc is read directly; psutil stays for other systems


def report_modules(inst: Instance) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    res = subprocess.run(
        [sys.executable, "-c", REPORT, "report", "--ini", str(inst.ini)],
        cwd=inst.root,
        env=inst.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = next((x for x in res.stdout.splitlines() if x.startswith("MODULES ")), None)
    assert line is not None, res.stderr
    return res, set(json.loads(line[len("MODULES ") :]))


def test_a_report_of_a_running_instance_imports_only_what_a_look_needs(
    instance: Instance,
) -> None:
    # Something waits to be counted, so the alerts' outbox is read as well.
    (instance.home / "watchdog" / "outbox").mkdir(mode=0o700, parents=True, exist_ok=True)
    res, modules = report_modules(instance)
    assert "Status: OK" in res.stdout, res.stdout + res.stderr
    assert res.returncode == 0
    # It did look live: asked circusd (its pid is the listed processes' parent), challenged
    # the sandbox, counted the outbox.
    assert "circusd: running (pid" in res.stdout
    assert {"ecauto.clients.sandbox_check", "watchdog.alerts.outbox"} <= modules
    assert {"watchdog.report", "watchdog.policy", "ecauto.config"} <= modules
    never = NEVER + (NEVER_ON_LINUX if sys.platform.startswith("linux") else ())
    crept = sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in never))
    assert crept == [], f"watchdog report imported {crept}"
