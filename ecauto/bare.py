"""Plain `circusd circus.ini` and `circusctl ...`, typed with the venv's own commands but without
its activate script (a shell that has `.venv/bin` on its PATH some other way, a shortcut to
`.venv\\Scripts\\circusd.exe`): what they do instead of Circus's traceback or its 5 s "Timed out".

Circus has no default for `$(circus.env.X)`: started without the variables the launcher sets,
circusd fails on a file named `$(circus.env.ECAUTO_HOME)/log/circusd.log`. So the venv runs
`intercept()` at each interpreter start, from a one-line `.pth` file in its site-packages
(`python -m ecauto.bare --install` writes it; scripts/_venv.sh and scripts/_venv.ps1 run that).
It costs other programs one comparison of their script's name, and does something only for:

- `circusd <ini>` of an ini that names `$(circus.env.ECAUTO_...)` while one of those variables
  is unset: it becomes the launcher's `run` in the foreground (the same checks, the same home,
  the same "what to type next"), `--daemon` passed on; any other option is one line.
- `circusctl <command>` without `--endpoint`: the endpoint is the home's (as the launcher
  gives circusd) when `CIRCUSCTL_ENDPOINT` is unset, and when nothing listens there it says so
  in one line at once (exit 3, as `ecauto status`) instead of waiting for Circus's timeout.

With the variables set (an activated shell, the launcher, the tests), circusd is left alone.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ecauto.platform import Platform

PTH_NAME = "zz_ecauto_commands.pth"  # after `__editable__*.pth`: .pth files run in name order
PTH_LINE = (
    "import sys; sys.argv and __import__('os').path.basename(sys.argv[0])[:9].lower()"
    " in ('circusd', 'circusd.e', 'circusd-s', 'circusctl') and"
    " __import__('ecauto.bare').bare.intercept()\n"
)
ENVIRONMENT = ("ECAUTO_HOME", "ECAUTO_PYTHON", "ECAUTO_ENDPOINT", "ECAUTO_PUBSUB_ENDPOINT")
NOT_RUNNING = 3
USAGE = 2
# circusctl's words that need no circusd (its own help, or its interactive shell's).
_OFFLINE = {"-h", "--help", "help", "--version", "version"}


def command(argv0: str) -> str | None:
    """'circusd' or 'circusctl' for the venv's console scripts of those names (on Windows
    `circusd.exe`, or `circusd-script.py`), None for anything else (circusd-stats included)."""
    name = argv0.replace("\\", "/").rsplit("/", 1)[-1].lower()
    for suffix in (".exe", "-script.py", ".py"):
        name = name.removesuffix(suffix)
    return name if name in ("circusd", "circusctl") else None


def ini_argument(args: Sequence[str]) -> str | None:
    inis = [a for a in args if a.lower().endswith(".ini") and not a.startswith("-")]
    return inis[-1] if inis else None


def names_our_environment(ini: Path) -> bool:
    try:
        return "$(circus.env.ECAUTO_" in ini.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False  # Circus says what is wrong with it


def circusd_plan(args: Sequence[str], environ: Mapping[str, str], cwd: str) -> list[str] | None:
    """The launcher's arguments that stand for `circusd <args>`, or None to leave circusd be.
    ValueError (one line) for an option the launcher does not take."""
    ini = ini_argument(args)
    if ini is None or all(environ.get(k) for k in ENVIRONMENT):
        return None
    if not names_our_environment(Path(cwd, ini)):
        return None
    extra = [a for a in args if a != ini]
    unknown = [a for a in extra if a != "--daemon"]
    if unknown:
        raise ValueError(
            f"circusd {' '.join(unknown)}: without the venv activated, `circusd {ini}` runs "
            "through the launcher, which takes only --daemon (`./ecauto.sh run --help`)"
        )
    return ["--ini", ini, "run", *extra]


def circusctl_endpoint(
    args: Sequence[str], environ: Mapping[str, str], cwd: str, platform: Platform | None = None
) -> str | None:
    """The endpoint circusctl will call and that we should check, or None to leave it be."""
    if any(a == "--endpoint" or a.startswith("--endpoint=") for a in args):
        return None
    words = [a for a in args if not a.startswith("-")]
    if not words or any(a in _OFFLINE for a in args):
        return None  # its interactive shell, or its help
    if environ.get("CIRCUSCTL_ENDPOINT"):
        return environ["CIRCUSCTL_ENDPOINT"]
    from ecauto.home import resolve_home
    from ecauto.platform import current

    home = resolve_home(cwd=cwd, environ=dict(environ))
    return (platform or current()).endpoints(home, environ).control


def intercept() -> None:
    """Run from the venv's .pth line when the script is circusd or circusctl."""
    which = command(sys.argv[0])
    args, cwd = sys.argv[1:], os.getcwd()
    try:
        if which == "circusd":
            plan = circusd_plan(args, os.environ, cwd)
            if plan is not None:
                from ecauto.launcher import main

                _leave(main(plan))
        elif which == "circusctl":
            endpoint = circusctl_endpoint(args, os.environ, cwd)
            if endpoint is not None:
                from ecauto.launcher import listening

                os.environ["CIRCUSCTL_ENDPOINT"] = endpoint
                if not listening(endpoint):
                    from ecauto.daemon.early import language_of
                    from ecauto.words.launcher import LAUNCHER

                    shim = "./ecauto.sh" if os.name != "nt" else r".\ecauto.cmd"
                    said = LAUNCHER.say(
                        language_of(None), "no_circusd", endpoint=endpoint, shim=shim
                    )
                    print(f"ecauto: {said}", file=sys.stderr)
                    _leave(NOT_RUNNING)
    except ValueError as e:
        print(f"ecauto: {e}", file=sys.stderr)
        _leave(USAGE)


def _leave(code: int) -> None:
    # Raising SystemExit inside a .pth line ends in "Error processing line" and a traceback.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def install(site_packages: Path) -> Path:
    path = site_packages / PTH_NAME
    if not path.exists() or path.read_text() != PTH_LINE:
        path.write_text(PTH_LINE)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args != ["--install"]:
        print("usage: python -m ecauto.bare --install", file=sys.stderr)
        return USAGE
    import sysconfig

    install(Path(sysconfig.get_paths()["purelib"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
