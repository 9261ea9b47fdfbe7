"""Each daemon writes and rotates its own log (circus.ini has no streams: Circus 0.19 refuses them on
Windows). Real processes: circusd on the repo's circus.ini runs daemons that die before their
logging starts, and each leaves its reason in `$ECAUTO_HOME/log/<daemon>.log`; a process rotating
its own log keeps every line, its stray prints and its final traceback in the current file.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support import REPO, Instance, Reaper, start_process, wait_for

pytestmark = [pytest.mark.process, pytest.mark.timeout(120)]

BROKEN = "psutil, shadowed by the test"


def only(names: tuple[str, ...], shadow: Path) -> object:
    """An ini edit: just the watchers `names`; sync-inventory imports a broken psutil, and
    upload-base gets an argument its parser refuses."""

    def edit(text: str) -> str:
        keep = []
        for part in re.split(r"(?m)^(?=\[)", text):
            m = re.match(r"\[(?:watcher|env):([\w*-]+)\]", part)
            if m is None or m.group(1) == "*" or m.group(1) in names:
                keep.append(part)
        text = "".join(keep)
        text = text.replace(
            "ECAUTO_LOG_FILE = $ECAUTO_HOME/log/sync-inventory.log\n",
            f"ECAUTO_LOG_FILE = $ECAUTO_HOME/log/sync-inventory.log\nPYTHONPATH = {shadow}\n",
        )
        return re.sub(
            r"(?m)^(args = -m ecauto.daemons.upload --platform base .*)$", r"\1 --beat never", text
        )

    return edit


def test_a_daemon_that_dies_before_logging_leaves_its_reason_in_its_log(
    tmp_path: Path, reaper: Reaper
) -> None:
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "psutil.py").write_text(f"raise ImportError({BROKEN!r})\n")
    names = ("sync-inventory", "upload-base")
    inst = Instance(tmp_path, reaper, ini_edit=only(names, shadow))  # type: ignore[arg-type]
    log = inst.home / "log"
    try:
        inst.start(wait=[])
        sync = wait_for(
            lambda: (t := (log / "sync-inventory.log").read_text()) and BROKEN in t and t,
            30,
            "the import error in sync-inventory.log",
        )
        # The interpreter's own traceback, written to fd 2 after the import failed.
        assert "Traceback (most recent call last)" in sync
        assert f"ImportError: {BROKEN}" in sync
        upload = wait_for(
            lambda: (t := (log / "upload-base.log").read_text()) and "--beat" in t and t,
            30,
            "the argument error in upload-base.log",
        )
        line = next(ln for ln in upload.splitlines() if "--beat" in ln)
        assert "argument --beat" in line and "'never'" in line, upload
        assert "Traceback" not in upload  # a bad argument is one line
    finally:
        inst.stop()
    # One file per daemon; nothing of theirs anywhere else in the log folder.
    assert {p.name for p in log.iterdir()} <= {
        "circusd.log",
        "sync-inventory.log",
        "upload-base.log",
    }


ROTATING = textwrap.dedent(
    """
    from ecauto.daemon import early
    early.log_to_file()
    import logging, sys
    from ecauto import logsetup, ownlog
    ownlog.OwnLog.closed_during_renames = sys.argv[1] == "windows"
    logsetup.configure("rot")
    for i in range(300):
        logging.getLogger("t").info("line %03d %s", i, "x" * 40)
    print("printed after the rotations")
    sys.stderr.write("written to stderr after the rotations\\n")
    raise RuntimeError("the end, after the rotations")
    """
)


@pytest.mark.parametrize("renames", ["posix", "windows"])
def test_a_daemon_rotates_its_own_log_and_keeps_stderr_on_the_current_file(
    tmp_path: Path, reaper: Reaper, renames: str
) -> None:
    """`windows`: the log's handles, fds 1 and 2 included, are closed while it renames, as
    Windows needs (the branch runs here on Linux; no Windows file system is involved)."""
    log = tmp_path / "rot.log"
    env = {
        "PATH": "/usr/bin:/bin",
        "ECAUTO_LOG_FILE": str(log),
        "ECAUTO_LOG_MAX_BYTES": "2000",
        "ECAUTO_LOG_BACKUPS": "2",
    }
    p = start_process(
        reaper,
        [sys.executable, "-c", ROTATING, renames],
        env,
        REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = p.communicate(timeout=60)
    assert p.returncode == 1
    assert out == err == "", (out, err)  # all of it went into the log
    files = sorted(x.name for x in tmp_path.iterdir())
    assert files == ["rot.log", "rot.log.1", "rot.log.2"]
    texts = [(tmp_path / f).read_text() for f in ("rot.log.2", "rot.log.1", "rot.log")]
    for t in texts[:2]:
        assert len(t.encode()) <= 2000
    current = texts[2]
    assert "printed after the rotations" in current
    assert "written to stderr after the rotations" in current
    assert "RuntimeError: the end, after the rotations" in current
    # The kept lines are the last ones, in order, none lost between the files.
    numbers = [int(m) for t in texts for m in re.findall(r"line (\d{3}) x", t)]
    assert numbers == list(range(numbers[0], 300)) and numbers[0] > 0


def test_a_log_that_is_a_symbolic_link_is_not_written_through(
    tmp_path: Path, reaper: Reaper
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("untouched\n")
    log = tmp_path / "rot.log"
    log.symlink_to(victim)
    p = start_process(
        reaper,
        [sys.executable, "-c", ROTATING, "posix"],
        {"PATH": "/usr/bin:/bin", "ECAUTO_LOG_FILE": str(log)},
        REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = p.communicate(timeout=60)
    assert victim.read_text() == "untouched\n"
    assert f"cannot open the log file {log}" in err
    assert "RuntimeError: the end, after the rotations" in err  # nothing lost: on stderr instead
