"""A second start of what already runs, and a mistyped command, said in the operator's language
(`ui.language = "ja"`): the sandbox and the dashboard (which keep no lock: the port is their
singleton), circusd through the launcher, and argparse's complaints."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import (
    BIN,
    REPO,
    Reaper,
    free_port,
    instance_env,
    start_process,
    wait_for,
    write_config,
)

from ecauto import launcher
from ecauto.home import Home
from ecauto.platform import Posix

JA = '\n[ui]\nlanguage = "ja"\n'


@pytest.fixture
def home() -> Iterator[Path]:
    """A home in a short folder of its own (its unix sockets must fit 107 bytes)."""
    where = Path(tempfile.mkdtemp(prefix="cp"))
    try:
        yield Home(where / "home").ensure().root
    finally:
        shutil.rmtree(where, ignore_errors=True)


def env_for(home: Path, sandbox_port: int, dashboard_port: int) -> dict[str, str]:
    cfg = write_config(home.parent / "ecauto.toml", sandbox_port, dashboard_port=dashboard_port)
    cfg.write_text(cfg.read_text() + JA)
    e = instance_env(home, cfg)
    for k in ("ECAUTO_ENDPOINT", "ECAUTO_PUBSUB_ENDPOINT", "ECAUTO_PYTHON", "ECAUTO_LOG_FILE"):
        e.pop(k, None)  # as a shell has it: what the launcher sets, a hand start lacks
    return e


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=90)


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def one_line(res: subprocess.CompletedProcess[str]) -> str:
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0]


@pytest.mark.process
@pytest.mark.timeout(120)
def test_a_second_sandbox_of_this_home_says_it_runs_and_a_stranger_is_named(
    home: Path, reaper: Reaper, tmp_path: Path
) -> None:
    port = free_port()
    env = env_for(home, port, free_port())
    cmd = [sys.executable, "-m", "ecauto.sandbox", "--home", str(home)]
    first = start_process(reaper, cmd, env, home.parent, stderr=subprocess.DEVNULL)
    wait_for(lambda: listening(port), 30, "the sandbox")

    copy = run(cmd, env, home.parent)
    assert copy.returncode == 75, copy.stderr
    assert one_line(copy) == (
        f"sandbox: 起動しませんでした: このホームですでに pid {first.pid} で動いています（ポート {port}）"
    )
    assert first.poll() is None  # the one that runs is untouched

    # The same program in another home is not this home's: another program, named.
    other = Home(tmp_path / "other").ensure().root
    res = run([*cmd[:-1], str(other)], env, home.parent)
    assert res.returncode == 98, res.stderr
    line = one_line(res)
    assert line.startswith(
        f"sandbox: 127.0.0.1 のポート {port} は別のプログラム（pid {first.pid} ("
    )
    assert line.endswith("）が使っています。起動しませんでした")


@pytest.mark.process
@pytest.mark.timeout(120)
def test_a_second_dashboard_started_by_hand_says_it_runs_and_a_stranger_is_named(
    home: Path, reaper: Reaper
) -> None:
    port = free_port()
    env = env_for(home, free_port(), port)
    # Exactly circus.ini's command line, from the clone, as circusd runs it (with its environment)
    cmd = [sys.executable, "-m", "ecauto.dashboard", "--home", str(home), "--ini", "circus.ini"]
    cmd += ["--wid", "1"]
    circus_env = launcher.instance(Posix(), env, str(REPO), home=str(home)).env
    first = start_process(reaper, cmd, circus_env, REPO, stderr=subprocess.DEVNULL)
    wait_for(lambda: listening(port), 30, "the dashboard")

    copy = run(cmd, env, REPO)  # by hand: no ECAUTO_ENDPOINT in a shell
    assert copy.returncode == 75, copy.stderr
    assert one_line(copy) == (
        f"dashboard: 起動しませんでした: このホームですでに pid {first.pid} で動いています"
        f"（ポート {port}）"
    )
    assert first.poll() is None
    first.terminate()
    first.wait(timeout=20)

    # A stranger on the port: this test's own socket, named by its pid.
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        res = run(cmd, circus_env, REPO)
    assert res.returncode == 98, res.stderr
    assert one_line(res).startswith(
        f"dashboard: 127.0.0.1 のポート {port} は別のプログラム（pid {os.getpid()} ("
    )
    assert one_line(res).endswith("が使っています。起動しませんでした")


def ecauto(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run([str(BIN / "ecauto"), *args], env, REPO)


def test_argparse_complaints_are_said_in_the_operators_language(home: Path) -> None:
    env = env_for(home, free_port(), free_port())
    hint = "（使い方は --help で表示されます。ヘルプは英語です）"
    res = ecauto(env)
    assert res.returncode == 2
    assert one_line(res) == (
        "ecauto: 次の引数が必要です: コマンド（run, status, restart, stop, report, dashboard"
        f" のどれか）{hint}"
    )
    res = ecauto(env, "restart")
    assert (
        res.returncode == 2
        and one_line(res) == f"ecauto restart: 次の引数が必要です: ウォッチャー名{hint}"
    )
    res = ecauto(env, "status", "upload-base")
    assert res.returncode == 2 and one_line(res) == f"ecauto: 知らない引数です: upload-base{hint}"
    res = ecauto(env, "nosuch")
    assert (
        res.returncode == 2
        and "コマンド に 'nosuch' は使えません（使えるのは 'run'," in one_line(res)
    )
    # --help stays English (README.ja.md says so)
    assert "usage: ecauto" in ecauto(env, "--help").stdout


MINI_INI = """\
[circus]
endpoint = ipc://{home}/circus/ctl.sock
pubsub_endpoint = ipc://{home}/circus/pub.sock
pidfile = {home}/circusd.pid
"""


@pytest.mark.process
@pytest.mark.timeout(120)
def test_run_while_running_and_an_unknown_watcher_are_said_in_the_operators_language(
    home: Path, reaper: Reaper
) -> None:
    env = env_for(home, free_port(), free_port())
    (home / "circus").mkdir(mode=0o700, exist_ok=True)
    ini = home.parent / "mini.ini"
    ini.write_text(MINI_INI.format(home=home))
    # A real circusd of this home (no watchers: what the launcher checks is circusd itself).
    circusd = start_process(
        reaper, [sys.executable, "-m", "circus.circusd", str(ini)], env, home.parent
    )
    wait_for(lambda: launcher.read_pid(home / "circusd.pid") == circusd.pid, 30, "circusd")
    wait_for(lambda: (home / "circus" / "ctl.sock").exists(), 30, "circusd's endpoint")

    res = ecauto(env, "run", "--daemon")
    assert res.returncode == 1, res.stderr
    assert one_line(res) == (
        f"ecauto: すでに動いています: このホームの circusd（pid {circusd.pid}）"
        "（状態は `./ecauto.sh status`。起動し直すには先に `./ecauto.sh stop`）"
    )
    res = ecauto(env, "restart", "nosuch")
    assert res.returncode == 1, res.stderr
    assert one_line(res).startswith(
        "ecauto: 'nosuch' という名前のウォッチャーはありません（あるのは: "
    )
    assert "dashboard" in res.stderr and "sandbox" in res.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="the browser here is a shell script")
def test_the_dashboard_command_says_what_it_opens_and_which_link_signs_in(home: Path) -> None:
    env = env_for(home, free_port(), free_port())
    # The browser: a program that writes down what it was asked to open.
    opened = home.parent / "opened"
    browser = home.parent / "browser"
    browser.write_text(f'#!/bin/sh\nprintf %s "$1" > "{opened}"\n')
    browser.chmod(0o700)
    env["BROWSER"] = str(browser)
    res = ecauto(env, "dashboard")
    assert res.returncode == 0, res.stderr
    link = opened.read_text()
    assert link.split("?key=")[1] == (home / "secrets" / "dashboard.key").read_text().strip()
    assert res.stdout == (
        "ecauto: ブラウザでダッシュボードを開きます。サインインには秘密の鍵付きのこのリンクを"
        f"使ってください: {link}\n"
    )
    # `--print`: the link alone, for a script
    assert ecauto(env, "dashboard", "--print").stdout == f"{link}\n"


def test_the_listener_is_found_process_by_process_where_the_table_is_roots() -> None:
    # macOS gives the whole connection table to root only: this user's processes are asked instead.
    from ecauto.sandbox.port import listener_of_ours

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert listener_of_ours(port) == os.getpid()
    assert listener_of_ours(port) is None
