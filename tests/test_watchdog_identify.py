"""Which process is which: daemon names, homes, ours or not, Windows launcher pairs (pure)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ecauto import roster
from ecauto.circusd import read_ini
from ecauto.roster import ROSTER
from watchdog.collect import watcher_views
from watchdog.identify import (
    VenvLaunchers,
    claimed,
    copies,
    identify,
    is_circusd,
    is_ours,
    launched_by,
    process_home,
)
from watchdog.snapshot import ProcInfo, Role

PATTERNS = {
    "sync-inventory": (
        "scheduled_tasks/sync_inventory_daemon.py",
        "inventory/scripts/sync_inventory.py",
    )
}


@pytest.mark.parametrize(
    ("cmdline", "daemon", "role", "by_pattern", "home"),
    [
        (
            [
                "python",
                "-m",
                "ecauto.daemons.upload",
                "--platform",
                "base",
                "--home",
                "/h",
                "--wid",
                "1",
            ],
            "upload-base",
            Role.DAEMON,
            False,
            "/h",
        ),
        (
            ["/venv/bin/python3.11", "-u", "-m", "ecauto.daemons.upload", "--platform=ebay"],
            "upload-ebay",
            Role.DAEMON,
            False,
            None,
        ),
        (
            ["python", "-X", "dev", "-m", "ecauto.daemons.upload", "--platform", "yahoo"],
            "upload-yahoo",
            Role.DAEMON,
            False,
            None,
        ),
        (
            ["python", "-m", "ecauto.daemons.upload", "--platform", "amazon"],
            None,
            Role.OTHER,
            False,
            None,
        ),
        (["python", "-m", "ecauto.daemons.upload"], None, Role.OTHER, False, None),
        (
            ["python", "-m", "ecauto.daemons.sync", "--home", "var"],
            "sync-inventory",
            Role.DAEMON,
            False,
            "var",
        ),
        (["python", "-mecauto.daemons.sync"], "sync-inventory", Role.DAEMON, False, None),
        (["python", "ecauto/daemons/sync.py"], "sync-inventory", Role.DAEMON, False, None),
        (
            [r"C:\ecauto\.venv\Scripts\python.exe", "-m", "ecauto.daemons.sync"],
            "sync-inventory",
            Role.DAEMON,
            False,
            None,
        ),
        (["python", "-m", "ecauto.sandbox", "--home", "/h"], "sandbox", Role.DAEMON, False, "/h"),
        (["python", "-m", "watchdog", "run", "--home", "/h"], "watchdog", Role.DAEMON, False, "/h"),
        (["/venv/bin/python", "/venv/bin/watchdog", "run"], "watchdog", Role.DAEMON, False, None),
        (["python", "-m", "watchdog", "scan", "--home", "/h"], None, Role.OTHER, False, None),
        (["/venv/bin/python", "/venv/bin/watchdog", "report"], None, Role.OTHER, False, None),
        (["/venv/bin/python", "/venv/bin/circusd", "circus.ini"], None, Role.CIRCUSD, False, None),
        (["python", "-c", "import ecauto.daemons.sync"], None, Role.OTHER, False, None),
        (
            ["python", "-m", "pytest", "tests/test_watchdog_scenarios.py"],
            None,
            Role.OTHER,
            False,
            None,
        ),
        (["sleep", "1000"], None, Role.OTHER, False, None),
        ([], None, Role.OTHER, False, None),
        (
            ["python", "/old/scheduled_tasks/sync_inventory_daemon.py", "--interval", "10800"],
            "sync-inventory",
            Role.DAEMON,
            True,
            None,
        ),
        (
            [
                r"C:\Users\op\ecauto\venv\Scripts\python.exe",
                r"C:\Users\op\ecauto\Scheduled_Tasks\sync_inventory_daemon.py",
            ],
            "sync-inventory",
            Role.DAEMON,
            True,
            None,
        ),
        (
            ["python", "inventory/scripts/sync_inventory.py", "--dry-run"],
            "sync-inventory",
            Role.DAEMON,
            True,
            None,
        ),
        (["python", "inventory/scripts/other.py"], None, Role.OTHER, False, None),
        (
            ["/old/scheduled_tasks/sync_inventory_daemon.py"],
            "sync-inventory",
            Role.DAEMON,
            True,
            None,
        ),
        (
            ["python", "-m", "inventory.scripts.sync_inventory", "--home", "/h"],
            "sync-inventory",
            Role.DAEMON,
            True,
            "/h",
        ),
        # A path that is only mentioned is no copy: editors, pagers, grep, sleep, -c, pytest.
        (["vim", "inventory/scripts/sync_inventory.py"], None, Role.OTHER, False, None),
        (["less", "/old/scheduled_tasks/sync_inventory_daemon.py"], None, Role.OTHER, False, None),
        (["grep", "-r", "x", "inventory/scripts/sync_inventory.py"], None, Role.OTHER, False, None),
        (["sleep", "300", "inventory/scripts/sync_inventory.py"], None, Role.OTHER, False, None),
        (
            ["python", "-c", "1", "inventory/scripts/sync_inventory.py"],
            None,
            Role.OTHER,
            False,
            None,
        ),
        (
            ["python", "-m", "pytest", "inventory/scripts/sync_inventory.py"],
            None,
            Role.OTHER,
            False,
            None,
        ),
        (
            ["python", "edit.py", "inventory/scripts/sync_inventory.py"],
            None,
            Role.OTHER,
            False,
            None,
        ),
        (["python", "my_inventory/scripts/sync_inventory.py"], None, Role.OTHER, False, None),
    ],
)
def test_identify(
    cmdline: list[str], daemon: str | None, role: Role, by_pattern: bool, home: str | None
) -> None:
    ident = identify(cmdline, PATTERNS)
    assert (ident.daemon, ident.role, ident.by_pattern, ident.explicit_home) == (
        daemon,
        role,
        by_pattern,
        home,
    )


def test_patterns_are_only_used_when_given() -> None:
    assert identify(["python", "scheduled_tasks/sync_inventory_daemon.py"]).daemon is None


@pytest.mark.parametrize(
    ("cmdline", "name", "circusd"),
    [
        (["circusd", "circus.ini"], "circusd", True),
        (["/venv/bin/circusd", "--daemon", "circus.ini"], "circusd", True),
        (["python", "/venv/bin/circusd", "circus.ini"], "python", True),
        (["python3.11", "-m", "circus.circusd", "other.ini"], "python3.11", True),
        (["python", "-X", "dev", "-I", "-u", "-m", "circus.circusd", "o.ini"], "python", True),
        (["python", "-mcircus.circusd", "o.ini"], "python", True),
        ([r"C:\venv\Scripts\circusd.exe", "circus.ini"], "circusd.exe", True),
        ([r"C:\Python311\python.exe", r"C:\venv\Scripts\circusd-script.py", "c.ini"], "", True),
        ([], "circusd", True),  # a command line that could not be read: the name says
        (["python", "-m", "circus.circusctl", "quit"], "python", False),
        (["vim", "/venv/bin/circusd"], "vim", False),
        (["python", "-c", "import circus.circusd"], "python", False),
        (["sleep", "300"], "sleep", False),
    ],
)
def test_one_circusd_rule(cmdline: list[str], name: str, circusd: bool) -> None:
    assert is_circusd(cmdline, name) is circusd
    assert (identify(cmdline).role is Role.CIRCUSD) is (circusd and bool(cmdline))


def test_circusd_keeps_its_ini() -> None:
    assert identify(["circusd", "--daemon", "/srv/circus.ini"]).ini == "/srv/circus.ini"


@pytest.mark.parametrize(
    ("cmdline", "cwd", "environ", "home"),
    [
        (["python", "-m", "ecauto.daemons.sync", "--home", "/abs/h"], "/x", {}, "/abs/h"),
        (["python", "-m", "ecauto.daemons.sync", "--home", "rel"], "/x", {}, "/x/rel"),
        (["python", "-m", "ecauto.daemons.sync"], "/x", {"ECAUTO_HOME": "/e"}, "/e"),
        (["python", "-m", "ecauto.daemons.sync"], "/x", {"ECAUTO_HOME": "e"}, "/x/e"),
        (["python", "-m", "ecauto.daemons.sync"], "/x", {}, "/x/var"),
        (["python", "-m", "ecauto.daemons.sync", "--home", "/a/../b"], "/x", {}, "/b"),
        (["python", "-m", "ecauto.daemons.sync"], None, {}, None),
        (["python", "-m", "ecauto.daemons.sync"], None, {"ECAUTO_HOME": "/e"}, "/e"),
        (["python", "scheduled_tasks/sync_inventory_daemon.py"], "/old", {}, None),
        (
            ["python", "scheduled_tasks/sync_inventory_daemon.py"],
            "/old",
            {"ECAUTO_HOME": "/e"},
            "/e",
        ),
    ],
)
def test_process_home(
    cmdline: list[str], cwd: str | None, environ: dict[str, str], home: str | None
) -> None:
    assert process_home(identify(cmdline, PATTERNS), cwd, environ) == home


def p(
    pid: int,
    ppid: int,
    *,
    daemon: str | None = "sync-inventory",
    home: str | None = "/h",
    uid: int = 1000,
    launcher: bool = False,
    by_pattern: bool = False,
    ct: float = 100.0,
) -> ProcInfo:
    return ProcInfo(
        pid,
        ct,
        ppid,
        uid,
        pid,
        "sleeping",
        "python.exe",
        ("python.exe",),
        "/",
        home,
        daemon,
        Role.DAEMON,
        by_pattern,
        False,
        launcher,
    )


@pytest.mark.parametrize(
    ("proc", "ours"),
    [
        (p(1, 0), True),
        (p(1, 0, home="/h/"), True),
        (p(1, 0, home="/other"), False),
        (p(1, 0, uid=0), False),
        (p(1, 0, home=None), False),
        (p(1, 0, home=None, by_pattern=True), False),
        (p(1, 0, home="/other", by_pattern=True), False),
    ],
)
def test_is_ours(proc: ProcInfo, ours: bool) -> None:
    assert is_ours(proc, "/h", 1000) is ours


# The Windows shapes: the instance's clone in C:\ecauto, its venv beside circus.ini.
WIN = VenvLaunchers((r"C:\ecauto\.venv",))
WIN_LAUNCHER = r"C:\ecauto\.venv\Scripts\python.exe"
BASE = r"C:\Users\op\AppData\Local\Programs\Python\Python311\python.exe"
ARGS = ("-m", "ecauto.inventory.sync_daemon", "--home", r"C:\ecauto\var")


@pytest.mark.parametrize(
    ("launchers", "exe", "launcher"),
    [
        (WIN, WIN_LAUNCHER, True),
        (WIN, r"C:\ecauto\.venv\Scripts\pythonw.exe", True),
        (WIN, "c:/ECAUTO/.venv/scripts/PYTHON.EXE", True),  # Windows paths ignore case
        (WIN, f'"{WIN_LAUNCHER}"', True),
        (WIN, BASE, False),  # the base interpreter
        (WIN, r"C:\ecauto\.venv\Scripts\watchdog.exe", False),  # a console script
        (WIN, r"C:\other\.venv\Scripts\python.exe", False),  # another clone's venv
        (WIN, r"C:\ecauto\.venv\Scripts\x\python.exe", False),
        (WIN, "", False),  # the image could not be read
        (VenvLaunchers(), WIN_LAUNCHER, False),  # no venv of the instance known
        (VenvLaunchers(("/srv/ecauto/.venv",)), "/srv/ecauto/.venv/Scripts/python.exe", True),
        (VenvLaunchers(("/srv/ecauto/.venv",)), "/srv/ecauto/.venv/scripts/python.exe", False),
        (VenvLaunchers(("/srv/ecauto/.venv",)), "/srv/ecauto/.venv/bin/python", False),
    ],
)
def test_a_venv_launcher_is_known_by_its_image_in_the_instances_venv(
    launchers: VenvLaunchers, exe: str, launcher: bool
) -> None:
    assert launchers.is_launcher(exe) is launcher


def test_the_instances_venvs_are_beside_its_ini_and_the_one_running(tmp_path: Path) -> None:
    import sys

    venvs = VenvLaunchers.of(str(tmp_path)).venvs
    assert venvs[0] == str(tmp_path / ".venv")
    assert (sys.prefix in venvs) is (sys.prefix != sys.base_prefix)


def win(
    pid: int,
    ppid: int,
    exe0: str,
    *,
    args: tuple[str, ...] = ARGS,
    launcher: bool = False,
    uid: int | None = None,
    ct: float = 100.0,
    home: str | None = r"C:\ecauto\var",
) -> ProcInfo:
    """A process as the collector reads it on Windows (no uids there: psutil has none)."""
    x = p(pid, ppid, home=home, launcher=launcher, ct=ct)
    return replace(x, uid=uid, pgid=None, cmdline=(exe0, *args), cwd=r"C:\ecauto")


LAUNCHER = win(500, 400, WIN_LAUNCHER, launcher=True)


@pytest.mark.parametrize(
    ("child", "paired"),
    [
        # older venvlaunchers: the base interpreter in argv[0], the rest handed on as typed
        (win(501, 500, BASE, ct=100.02), True),
        # newer ones hand on their command line unchanged
        (win(501, 500, WIN_LAUNCHER, ct=100.3), True),
        # started in the same clock tick
        (win(501, 500, BASE, ct=99.97), True),
        # not its child
        (win(501, 400, BASE), False),
        # older than the launcher: its parent pid was reused by the launcher
        (win(501, 500, BASE, ct=90.0), False),
        # other arguments: the launcher did not start it for its own command
        (win(501, 500, BASE, args=(*ARGS, "--once")), False),
        (win(501, 500, BASE, args=ARGS[:-1]), False),
        # argv[0] that is no interpreter
        (win(501, 500, r"C:\tools\notepad.exe"), False),
        # another user
        (win(501, 500, BASE, uid=1001), False),
        # another home
        (win(501, 500, BASE, home=r"C:\other\var"), False),
        # itself
        (win(500, 500, BASE), False),
    ],
)
def test_the_launcher_rule(child: ProcInfo, paired: bool) -> None:
    assert launched_by(LAUNCHER, child) is paired


def test_no_launcher_no_pair() -> None:
    # The same shape from a python.exe that is not a venv launcher of this instance (another
    # clone's venv, or the base interpreter running a child of its own): two processes.
    not_ours = win(500, 400, r"C:\other\.venv\Scripts\python.exe", launcher=False)
    assert not launched_by(not_ours, win(501, 500, BASE))
    assert [len(g) for g in copies([not_ours, win(501, 500, BASE)])] == [1, 1]


def test_a_windows_launcher_pair_is_one_copy_launcher_first() -> None:
    child = win(501, 500, BASE, ct=100.02)
    other = win(601, 600, BASE, ct=50.0)  # a copy of its own, started by hand
    assert sorted([x.pid for x in g] for g in copies([child, other, LAUNCHER])) == [
        [500, 501],
        [601],
    ]


@pytest.mark.parametrize(
    ("procs", "groups"),
    [
        # a venv launcher and its interpreter child: one copy, launcher first
        ([p(10, 1, launcher=True), p(11, 10, ct=100.5)], [[10, 11]]),
        # the same pair listed child first, and with equal start times
        ([p(11, 10), p(10, 1, launcher=True)], [[10, 11]]),
        # two pairs: two copies
        (
            [p(10, 1, launcher=True), p(11, 10), p(20, 1, launcher=True), p(21, 20)],
            [[10, 11], [20, 21]],
        ),
        # a child of a plain interpreter (not a launcher) is a copy of its own
        ([p(10, 1), p(11, 10)], [[10], [11]]),
        # a launcher whose child is another daemon: two copies
        ([p(10, 1, launcher=True), p(11, 10, daemon="upload-base")], [[10], [11]]),
        # a launcher whose child works in another home: two copies
        ([p(10, 1, launcher=True), p(11, 10, home="/other")], [[10], [11]]),
        # a child whose launcher parent is not in the list
        ([p(11, 10)], [[11]]),
    ],
)
def test_copies_collapse_launcher_pairs(procs: list[ProcInfo], groups: list[list[int]]) -> None:
    assert sorted([x.pid for x in g] for g in copies(procs)) == groups


@pytest.mark.parametrize(
    ("cwd", "cmdline", "ours"),
    [
        ("/srv/ecauto", ["python", "scheduled_tasks/sync_inventory_daemon.py"], True),
        ("/srv/ecauto/scheduled_tasks", ["python", "sync_inventory_daemon.py"], True),
        ("/home/op", ["python", "/srv/ecauto/scheduled_tasks/sync_inventory_daemon.py"], True),
        ("/home/op", ["python", "scheduled_tasks/sync_inventory_daemon.py"], False),
        ("/srv/ecauto-old", ["python", "scheduled_tasks/sync_inventory_daemon.py"], False),
        ("/srv", ["python", "/srv/ecauto-old/scheduled_tasks/sync_inventory_daemon.py"], False),
        (None, ["python", "--x", "/srv/ecauto/inventory/scripts/sync_inventory.py"], True),
        (None, ["python", "inventory/scripts/sync_inventory.py"], False),
    ],
)
def test_a_pattern_copy_naming_no_home_is_ours_from_our_folder_only(
    cwd: str | None, cmdline: list[str], ours: bool
) -> None:
    assert claimed("/srv/ecauto", cwd, cmdline) is ours


def test_the_roster_is_what_circus_ini_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    # One entry per watcher, and each watcher's command line identifies as that entry's daemon.
    monkeypatch.setenv("ECAUTO_HOME", "/srv/ecauto/var")
    views = watcher_views(read_ini(Path(__file__).resolve().parent.parent / "circus.ini"))
    assert {(w.name, w.daemon) for w in views.values()} == {(e.watcher, e.name) for e in ROSTER}
    assert roster.BEATING == set(roster.NAMES) - {"sandbox", "dashboard"}
    assert not roster.wanted("sandbox", "live") and roster.wanted("sandbox", "sandbox")
    assert roster.wanted("upload-base", "live")
