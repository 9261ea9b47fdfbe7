"""ecauto's circusd client (ZMTP by hand, pyzmq for other endpoints, no tornado) and the kept reading of circus.ini, against a real
circusd: the same answers as circus's own client, one line when nobody answers, and a cache
that is never stale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from support import BIN, REPO, Reaper, wait_for

from ecauto.circusd import (
    CircusError,
    CircusUnavailable,
    Control,
    _request_zmq,
    read_ini,
    request,
    request_many,
)

pytestmark = [pytest.mark.process, pytest.mark.timeout(120)]

SLEEPER = f"{sys.executable} -c 'import time; time.sleep(600)'"


def mini_ini(folder: Path, sockdir: Path) -> Path:
    ini = folder / "mini.ini"
    ini.write_text(
        "[circus]\n"
        f"endpoint = ipc://{sockdir}/ctl.sock\n"
        f"pubsub_endpoint = ipc://{sockdir}/pub.sock\n"
        "check_delay = 1\nmulticast_endpoint =\nstatsd = False\n"
        f"logoutput = {folder}/circusd.log\n"
        "[watcher:one]\n"
        f"cmd = {SLEEPER}\n"
        "[watcher:two]\n"
        f"cmd = {SLEEPER}\nnumprocesses = 2\n"
    )
    return ini


@pytest.fixture
def circusd(tmp_path: Path, reaper: Reaper) -> Iterator[tuple[str, int]]:
    sockdir = Path(tempfile.mkdtemp(prefix="ecc-"))
    ini = mini_ini(tmp_path, sockdir)
    p = subprocess.Popen(
        [str(BIN / "circusd"), str(ini)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    reaper.track(p.pid)
    endpoint = f"ipc://{sockdir}/ctl.sock"
    ctl = Control(endpoint, timeout_s=2.0)
    wait_for(
        lambda: ctl.ping() and len(ctl.pids("one")) == 1 and len(ctl.pids("two")) == 2,
        30,
        "mini circusd with three processes",
    )
    reaper.track_tree(p.pid)
    yield endpoint, p.pid
    try:
        ctl.quit()
    except CircusError:
        pass


def circus_client_answer(endpoint: str, command: str, **props: object) -> dict[str, object]:
    """What circus's own client gets, in a fresh interpreter (it needs its tornado stack)."""
    code = (
        "import json, sys\n"
        "from circus.client import CircusClient, make_message\n"
        "c = CircusClient(endpoint=sys.argv[1], timeout=5)\n"
        "print(json.dumps(c.call(make_message(sys.argv[2], **json.loads(sys.argv[3])))))\n"
        "c.stop()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, endpoint, command, json.dumps(props)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    return dict(json.loads(out))


def by_pyzmq(endpoint: str, command: str, props: dict[str, object]) -> dict[str, object]:
    """The same request through pyzmq, the transport kept for what ZMTP-by-hand does not speak."""
    message = json.dumps({"command": command, "properties": props, "id": "p" * 32}).encode()
    return _request_zmq(endpoint, ["p" * 32], [message], time.monotonic() + 2.0)[0]


def test_answers_are_circus_clients_answers(circusd: tuple[str, int]) -> None:
    endpoint, circusd_pid = circusd
    for command, props in (
        ("status", {}),
        ("list", {}),
        ("list", {"name": "two"}),
        ("list", {"name": "nosuch"}),
        ("list", {"name": "n" * 300}),  # long frames, both ways
    ):
        ours = request(endpoint, command, props, 2.0)
        theirs = circus_client_answer(endpoint, command, **props)
        zmq_ours = by_pyzmq(endpoint, command, props)
        for answer in (ours, theirs, zmq_ours):
            answer.pop("id", None)
            answer.pop("time", None)
        assert ours == theirs == zmq_ours, command
    assert Control(endpoint).circusd_pid() == circusd_pid


def test_many_commands_go_in_one_round_trip_and_come_back_in_order(
    circusd: tuple[str, int],
) -> None:
    endpoint, _ = circusd
    answers = request_many(
        endpoint, [("list", {"name": "two"}), ("status", {}), ("list", {"name": "one"})], 2.0
    )
    assert [len(answers[0]["pids"]), len(answers[2]["pids"])] == [2, 1]
    assert answers[1]["statuses"] == {"one": "active", "two": "active"}
    refused = Control(endpoint).call_many([("list", {"name": "nosuch"})])
    assert refused[0]["status"] == "error"


def test_the_collectors_circusd_pid_is_the_listed_processes_parent(
    circusd: tuple[str, int], tmp_path: Path
) -> None:
    from watchdog.collect import _circusd_view

    endpoint, circusd_pid = circusd
    view = _circusd_view(Control(endpoint, timeout_s=2.0), ["one", "two"])
    assert view.circusd_pid == circusd_pid
    assert all(psutil.Process(p).ppid() == circusd_pid for ps in view.pids.values() for p in ps)


def test_nobody_at_the_endpoint_is_one_line_within_the_timeout(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(CircusUnavailable, match="does not answer") as e:
        request(f"ipc://{tmp_path}/none.sock", "status", {}, 0.3)
    assert time.monotonic() - started < 2.0
    assert "\n" not in str(e.value)
    # A transport this build of libzmq lacks (ipc:// on Windows) is a line too, not a traceback.
    with pytest.raises(CircusUnavailable, match="cannot be reached"):
        request("nosuch://x", "status", {}, 0.3)


# -- the kept reading of circus.ini -------------------------------------------------------------


def read_in_fresh_process(ini: Path, cache: Path, env: dict[str, str]) -> tuple[dict, bool]:
    """read_ini in a new interpreter: what it read, and whether circus's parser was imported."""
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from ecauto.circusd import read_ini\n"
        "s = read_ini(sys.argv[1], cache=Path(sys.argv[2]))\n"
        "print(json.dumps([s.endpoint, s.logoutput, sorted(s.watchers),"
        " 'circus.config' in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(ini), str(cache)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
        check=True,
    ).stdout
    endpoint, logoutput, watchers, parsed = json.loads(out)
    return {"endpoint": endpoint, "logoutput": logoutput, "watchers": watchers}, parsed


def test_the_ini_is_parsed_by_circus_once_and_again_whenever_its_answer_could_differ(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / "circus").mkdir(parents=True)
    ini = tmp_path / "circus.ini"
    ini.write_text((REPO / "circus.ini").read_text())
    cache = home / "circus" / "setup.json"
    env = dict(os.environ, ECAUTO_HOME=str(home))

    first, parsed = read_in_fresh_process(ini, cache, env)
    assert parsed and cache.is_file()
    monkeypatch.setenv("ECAUTO_HOME", str(home))
    direct = read_ini(ini)  # circus's parser, no cache
    assert first == {
        "endpoint": direct.endpoint,
        "logoutput": direct.logoutput,
        "watchers": sorted(direct.watchers),
    }
    assert first["logoutput"] == f"{home}/log/circusd.log"
    again, parsed = read_in_fresh_process(ini, cache, env)
    assert (again, parsed) == (first, False)  # kept: circus's parser not even imported

    # Another home (an environment value the ini names): parsed again, and right.
    other = tmp_path / "other"
    (other / "circus").mkdir(parents=True)
    moved, parsed = read_in_fresh_process(ini, cache, dict(env, ECAUTO_HOME=str(other)))
    assert parsed and moved["logoutput"] == f"{other}/log/circusd.log"

    # The ini edited: parsed again.
    ini.write_text(ini.read_text().replace("check_delay = 1", "check_delay = 2"))
    _, parsed = read_in_fresh_process(ini, cache, env)
    assert parsed

    # A torn or foreign cache: parsed again, and the answer is still circus's.
    cache.write_text("{not json")
    torn, parsed = read_in_fresh_process(ini, cache, env)
    assert parsed and torn == first

    # A symlink in the cache's place is not followed.
    elsewhere = tmp_path / "elsewhere.json"
    cache.unlink()
    read_in_fresh_process(ini, elsewhere, env)  # a valid cache for this ini, somewhere else
    cache.symlink_to(elsewhere)
    _, parsed = read_in_fresh_process(ini, cache, env)
    assert parsed


def test_an_ini_that_includes_others_is_never_kept(tmp_path: Path) -> None:
    (tmp_path / "circus").mkdir()
    extra = tmp_path / "extra.ini"
    extra.write_text(f"[watcher:two]\ncmd = {SLEEPER}\n")
    ini = mini_ini(tmp_path, tmp_path)
    ini.write_text(ini.read_text().replace("[circus]\n", f"[circus]\ninclude = {extra}\n"))
    cache = tmp_path / "circus" / "setup.json"
    assert sorted(read_ini(ini, cache=cache).watchers) == ["one", "two"]
    assert not cache.exists()
