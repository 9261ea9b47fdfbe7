"""The `watchdog` command's answers when it cannot look: one line on stderr, documented codes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from support import BIN

pytestmark = [pytest.mark.process, pytest.mark.timeout(60)]


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECAUTO_", "CHATWORK_"))}
    return subprocess.run(
        [str(BIN / "watchdog"), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["scan", "--bogus"], 3, "unrecognized arguments: --bogus"),
        ([], 3, "required"),
        (["report", "--home", "/nonexistent/home"], 3, "no ecauto home at /nonexistent/home"),
        (["scan", "--config", "/nonexistent.toml"], 3, "config file not found"),
        (["scan", "--home", ".", "--ini", "nope.ini"], 3, "circus config not found"),
        (["run", "--bogus"], 2, "unrecognized arguments"),
        (["run", "--ini", "nope.ini", "--once"], 78, "circus config not found"),
    ],
)
def test_cannot_tell_is_one_line(tmp_path: Path, args: list[str], code: int, says: str) -> None:
    res = run(tmp_path, *args)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip() and "INFO" not in ln]
    assert res.returncode == code, res.stderr
    assert len(lines) == 1 and says in lines[0], res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize("args", [["report", "--home"], ["scan", "--home"], ["scan", "--bogus"]])
def test_the_one_line_passes_the_redaction(tmp_path: Path, args: list[str]) -> None:
    """What a command says back quotes what it was given: a terminal escape in it is written
    escaped (it could clear the operator's screen or forge a line), as in every log line."""
    res = run(tmp_path, *args, str(tmp_path / "no\x1b[2Jhome"))
    assert res.returncode == 3, res.stderr
    assert "\x1b" not in res.stderr and "no\\x1b[2Jhome" in res.stderr
