"""circus.ini as Circus 0.19 loads it, with Circus's Windows branches switched on (its `IS_WINDOWS`
flags) and the environment a Windows launcher gives it: every watcher is created, with no streams
(Circus refuses them on Windows and drops the watcher), hooks that resolve, and the command line
CreateProcess would be given: the venv's interpreter by absolute path, paths as single arguments.

No Windows interpreter runs here: this is Circus's own config loading and argument building, not
a process on Windows. The same checks run with the POSIX branches, paths with spaces in both.
"""

from __future__ import annotations

import configparser
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import circus.arbiter
import circus.process
import circus.util
import circus.watcher
import pytest
from circus.arbiter import Arbiter
from circus.process import Process
from circus.util import replace_gnu_args
from circus.watcher import Watcher
from support import REPO, free_port

from ecauto.circusd import CircusError, home_endpoints, python_word, read_ini
from ecauto.platform import Windows

# Every flag Circus 0.19 branches on (read from its source): util (log files, process info),
# watcher (streams refused, copy_env forced, reaping), process (no preexec, cmd split without
# POSIX rules, no pipes without fds), arbiter (no waitpid).
FLAGGED = (circus.util, circus.watcher, circus.process, circus.arbiter)

PLATFORMS = {
    "windows": (r"C:\Users\Taro Yamada\ecauto\var", r"C:\ecauto\.venv\Scripts\python.exe"),
    "posix": ("/home/taro/My Shop/ecauto/var", "/home/taro/My Shop/ecauto/.venv/bin/python"),
}
MODULES = {
    "sandbox": "ecauto.sandbox",
    "upload-base": "ecauto.daemons.upload",
    "upload-ebay": "ecauto.daemons.upload",
    "upload-yahoo": "ecauto.daemons.upload",
    "sync-inventory": "ecauto.daemons.sync",
    "dashboard": "ecauto.dashboard",
    "watchdog": "watchdog",
}


def ini_sections(ini: Path) -> dict[str, dict[str, str]]:
    cp = configparser.RawConfigParser(strict=False)
    cp.read(ini)
    return {
        s.split(":", 1)[1]: dict(cp.items(s)) for s in cp.sections() if s.startswith("watcher:")
    }


@pytest.fixture(params=sorted(PLATFORMS))
def platform(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The environment the launcher gives circusd on that platform, and Circus's branches."""
    name = str(request.param)
    windows = name == "windows"
    for mod in FLAGGED:
        monkeypatch.setattr(mod, "IS_WINDOWS", windows)
    home, python = PLATFORMS[name]
    ctl, pub = free_port(), free_port()
    monkeypatch.setenv("ECAUTO_HOME", home)
    monkeypatch.setenv("ECAUTO_PYTHON", python_word(python, windows=windows))
    if windows:  # pyzmq's Windows wheels have no ipc://
        monkeypatch.setenv("ECAUTO_ENDPOINT", f"tcp://127.0.0.1:{ctl}")
        monkeypatch.setenv("ECAUTO_PUBSUB_ENDPOINT", f"tcp://127.0.0.1:{pub}")
    else:
        monkeypatch.setenv("ECAUTO_ENDPOINT", f"ipc://{home}/circus/ctl.sock")
        monkeypatch.setenv("ECAUTO_PUBSUB_ENDPOINT", f"ipc://{home}/circus/pub.sock")
    yield name


def argv_of(w: Watcher) -> list[str]:
    """The argument list circusd would hand to Popen for this watcher's first process."""
    cmd = replace_gnu_args(w.cmd, env=w.env)  # as Watcher.spawn_process does
    p = Process(
        w.name,
        1,
        cmd,
        args=w.args,
        working_dir=str(REPO),
        env=w.env,
        executable=w.executable,
        use_fds=w.use_sockets,
        watcher=w,
        spawn=False,
        pipe_stdout=w.stdout_stream is not None,
        pipe_stderr=w.stderr_stream is not None,
    )
    return list(p.format_args())


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def load(ini: Path) -> Arbiter:
    return Arbiter.load_from_config(str(ini))


def test_circus_creates_every_watcher_of_circus_ini(platform: str) -> None:
    ini = REPO / "circus.ini"
    home, python = PLATFORMS[platform]
    arbiter = load(ini)
    wanted = ini_sections(ini)
    # The arbiter drops a watcher it fails to create (streams on Windows) with a mere warning.
    assert sorted(w.name for w in arbiter.watchers) == sorted(wanted) == sorted(MODULES)
    assert arbiter.endpoint == os.environ["ECAUTO_ENDPOINT"]
    if platform == "windows":
        assert arbiter.endpoint.startswith("tcp://127.0.0.1:")
    for w in arbiter.watchers:
        assert w.stdout_stream is None and w.stderr_stream is None, w.name
        hooks = {k[len("hooks.") :] for k in wanted[w.name] if k.startswith("hooks.")}
        assert hooks and set(w.hooks) == hooks, w.name
        assert all(callable(h) for h in w.hooks.values()), w.name
        argv = argv_of(w)
        # CreateProcess takes the program from the first word: the interpreter itself, no
        # quotes left in it (Circus splits cmd without removing them on Windows).
        assert argv[0] == python, (w.name, argv)
        assert argv[1:3] == ["-m", MODULES[w.name]], (w.name, argv)
        assert option(argv, "--home") == home, (w.name, argv)
        assert not any('"' in a for a in argv), (w.name, argv)
        if w.name != "sandbox":
            assert option(argv, "--wid") == "1"
        if platform == "windows":
            # The command line Popen gives CreateProcess, whose first word names the program.
            line = subprocess.list2cmdline(argv)
            assert line.startswith(f"{python} -m "), line
            assert f'--home "{home}"' in line, line
        log = w.env["ECAUTO_LOG_FILE"]
        assert log == f"{home}/log/{w.name}.log", w.name
        assert w.env["ECAUTO_LOG_BACKUPS"] == ("3" if w.name == "sandbox" else "5")
        assert w.env["ECAUTO_LOG_MAX_BYTES"] == "10485760"


def test_read_ini_names_each_daemons_own_log(platform: str) -> None:
    home, _ = PLATFORMS[platform]
    setup = read_ini(REPO / "circus.ini")
    assert {n: s.log for n, s in setup.watchers.items()} == {
        n: f"{home}/log/{n}.log" for n in MODULES
    }
    assert setup.logoutput == f"{home}/log/circusd.log"


def test_streams_drop_every_watcher_on_windows(
    platform: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the checks above guard against: the ini as it was (streams) loses its watchers there."""
    text = (REPO / "circus.ini").read_text()
    old = tmp_path / "circus.ini"
    old.write_text(
        text.replace(
            "[watcher:upload-base]\n",
            "[watcher:upload-base]\nstderr_stream.class = FileStream\n"
            f"stderr_stream.filename = {tmp_path}/upload-base.log\n",
        )
    )
    names = sorted(w.name for w in load(old).watchers)
    if platform == "windows":
        assert "upload-base" not in names and len(names) == len(MODULES) - 1
    else:
        assert names == sorted(MODULES)


def test_without_the_endpoints_a_reader_takes_the_homes_sockets_or_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`watchdog scan` from a timer knows the home only: on POSIX that is enough."""
    monkeypatch.delenv("ECAUTO_ENDPOINT", raising=False)
    monkeypatch.delenv("ECAUTO_PUBSUB_ENDPOINT", raising=False)
    monkeypatch.setenv("ECAUTO_HOME", "/srv/ecauto/var")
    setup = read_ini(REPO / "circus.ini")
    assert setup.endpoint == "ipc:///srv/ecauto/var/circus/ctl.sock"
    assert setup.pubsub_endpoint == "ipc:///srv/ecauto/var/circus/pub.sock"
    # On Windows the launcher's loopback ports (Circus's own defaults), as `ecauto run` gives them.
    assert home_endpoints("C:\\ecauto\\var", Windows()) == {
        "ECAUTO_ENDPOINT": "tcp://127.0.0.1:5555",
        "ECAUTO_PUBSUB_ENDPOINT": "tcp://127.0.0.1:5556",
    }
    monkeypatch.delenv("ECAUTO_HOME")
    with pytest.raises(CircusError, match=r"endpoint needs \$ECAUTO_ENDPOINT, which is not set"):
        read_ini(REPO / "circus.ini")


@pytest.mark.parametrize(
    ("path", "windows", "word"),
    [
        ("/opt/venv/bin/python", False, "/opt/venv/bin/python"),
        ("/home/taro/My Shop/.venv/bin/python", False, "'/home/taro/My Shop/.venv/bin/python'"),
        (r"C:\ecauto\.venv\Scripts\python.exe", True, r"C:\ecauto\.venv\Scripts\python.exe"),
    ],
)
def test_python_word(path: str, windows: bool, word: str) -> None:
    assert python_word(path, windows=windows) == word


def test_python_word_refuses_a_space_on_windows() -> None:
    with pytest.raises(CircusError, match="without spaces"):
        python_word(r"C:\Users\Taro Yamada\ecauto\.venv\Scripts\python.exe", windows=True)
