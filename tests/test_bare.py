"""ecauto/bare.py's decisions: which plain `circusd`/`circusctl` it takes over, and how."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import REPO

from ecauto import bare
from ecauto.platform import Posix, Windows

FULL = {k: "x" for k in bare.ENVIRONMENT}


@pytest.mark.parametrize(
    ("argv0", "want"),
    [
        ("/r/.venv/bin/circusd", "circusd"),
        (r"C:\r\.venv\Scripts\circusd.exe", "circusd"),
        (r"C:\r\.venv\Scripts\circusctl.EXE", "circusctl"),
        ("circusd-script.py", "circusd"),
        ("/r/.venv/bin/circusd-stats", None),
        ("-m", None),
        ("/usr/bin/python3", None),
    ],
)
def test_which_scripts_are_taken(argv0: str, want: str | None) -> None:
    assert bare.command(argv0) == want
    # The .pth line's cheap first test (its script's first 9 letters) lets each of them through.
    first = argv0.replace("\\", "/").rsplit("/", 1)[-1][:9].lower()
    assert want is None or f"'{first}'" in bare.PTH_LINE


def test_circusd_of_our_ini_without_the_environment_becomes_the_launchers_run() -> None:
    assert bare.circusd_plan(["circus.ini"], {}, str(REPO)) == ["--ini", "circus.ini", "run"]
    assert bare.circusd_plan(["--daemon", "circus.ini"], {"ECAUTO_HOME": "/h"}, str(REPO)) == [
        "--ini",
        "circus.ini",
        "run",
        "--daemon",
    ]


def test_circusd_is_left_alone_with_the_environment_or_with_another_ini(tmp_path: Path) -> None:
    assert bare.circusd_plan(["circus.ini"], FULL, str(REPO)) is None
    (tmp_path / "other.ini").write_text("[circus]\nendpoint = tcp://127.0.0.1:5555\n")
    assert bare.circusd_plan(["other.ini"], {}, str(tmp_path)) is None
    assert bare.circusd_plan(["missing.ini"], {}, str(tmp_path)) is None
    assert bare.circusd_plan(["--version"], {}, str(REPO)) is None


def test_circusd_with_an_option_the_launcher_lacks_is_one_line() -> None:
    with pytest.raises(ValueError, match="takes only --daemon"):
        bare.circusd_plan(["--log-level", "debug", "circus.ini"], {}, str(REPO))


def test_circusctl_gets_the_homes_endpoint_on_each_platform() -> None:
    env = {"ECAUTO_HOME": "/srv/shop"}
    assert (
        bare.circusctl_endpoint(["status"], env, "/", Posix()) == "ipc:///srv/shop/circus/ctl.sock"
    )
    assert bare.circusctl_endpoint(["status"], {}, "/r", Posix()) == "ipc:///r/var/circus/ctl.sock"
    assert bare.circusctl_endpoint(["status"], env, "/", Windows()) == "tcp://127.0.0.1:5555"
    set_ = {"CIRCUSCTL_ENDPOINT": "tcp://127.0.0.1:7000"}
    assert bare.circusctl_endpoint(["status"], set_, "/", Posix()) == "tcp://127.0.0.1:7000"


@pytest.mark.parametrize(
    "args", [[], ["--help"], ["help"], ["--version"], ["--endpoint", "tcp://h:1", "status"]]
)
def test_circusctl_help_its_shell_and_an_explicit_endpoint_are_left_alone(args: list[str]) -> None:
    assert bare.circusctl_endpoint(args, {}, "/", Posix()) is None


def test_install_writes_the_line_once(tmp_path: Path) -> None:
    path = bare.install(tmp_path)
    assert path.name == bare.PTH_NAME and path.read_text() == bare.PTH_LINE
    assert bare.install(tmp_path).read_text() == bare.PTH_LINE
    assert sorted(["__editable__.ecauto-0.1.0.pth", path.name])[-1] == path.name
