"""`ecauto run|status|restart|stop|report|dashboard`: the instance started, and the operator's daily
commands, the same on every platform and with nothing to activate.

`run` does what `scripts/run` did in bash: checks the config and the home, refuses a second
circusd, clears a stale pidfile, sets the environment circus.ini reads, starts circusd (in the
foreground, or detached), and says it started only when every watcher runs and every daemon
beats. What differs by platform is behind `ecauto.platform`.

Whether circusd runs is decided from the pidfile and the endpoint before any call: a call to a
circusd that is gone blocks for Circus's whole timeout, so `status` after a `stop` says "not
running" at once. A pidfile's pid counts only when it is a live circusd of this home (psutil,
never `os.kill(pid, 0)`, which on Windows sends a Ctrl-C); anything else there is stale, and is
removed before circusd starts (Circus's own check would call that `os.kill`).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sys
import time
from argparse import ArgumentTypeError
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from ecauto import config, redact
from ecauto.circusd import (
    CircusError,
    CircusSetup,
    CircusUnavailable,
    Control,
    python_word,
    read_ini,
)
from ecauto.cliargs import Parser, seconds
from ecauto.home import Home, resolve_home
from ecauto.platform import Endpoints, Platform, current
from ecauto.records import one_line
from ecauto.supervisor import preflight, wait_started
from ecauto.words.launcher import LAUNCHER

REPO = Path(__file__).resolve().parent.parent  # the clone: circus.ini sits beside ecauto/
PIDFILE = "circusd.pid"  # circus.ini: pidfile = $(circus.env.ECAUTO_HOME)/circusd.pid
NOT_RUNNING = 3  # `status` and `restart` when no circusd runs (the LSB status convention)
ENDED_AT_ONCE = 4  # `restart`: circusd restarted it, but the new process ended at once
# How long `restart` watches the new process. A daemon that cannot start (a wrong value in
# ecauto.toml: exit 78) is gone well within this on a busy machine: it reads its config before
# any work (0.37-0.65 s after its start on a shared 2-core machine); one that outlives it has got
# past its start. Every healthy restart waits this long.
SETTLE_S = 2.0
# Once it is gone, how long to wait for its exit code: circusd reaps a dead child at its next
# check (check_delay = 1 in circus.ini), and its hook journals the reap then.
REAP_S = 2.0
POLL_S = 0.1


@dataclass(frozen=True)
class Instance:
    """One instance as the launcher sees it: where it lives and what circusd runs with."""

    root: Path  # circusd's working folder: circus.ini names `--ini circus.ini` relative to it
    ini: Path
    home: Home
    env: dict[str, str]
    endpoints: Endpoints
    platform: Platform

    @property
    def pidfile(self) -> Path:
        return self.home.root / PIDFILE


def instance(
    platform: Platform,
    environ: Mapping[str, str],
    cwd: str,
    ini: str | None = None,
    home: str | None = None,
) -> Instance:
    """The instance for this home, with relative paths taken from where the operator stands."""
    root_home = resolve_home(home, cwd=cwd, environ=dict(environ))
    ini_path = Path(cwd, ini).resolve() if ini else REPO / "circus.ini"
    env = dict(environ)
    env["ECAUTO_HOME"] = str(root_home)
    cfg = env.get("ECAUTO_CONFIG", "")
    if cfg and not os.path.isabs(cfg):
        env["ECAUTO_CONFIG"] = os.path.normpath(os.path.join(cwd, cfg))
    ends = platform.endpoints(root_home, environ)
    env.update(
        # The interpreter by absolute path, as one word of circus.ini's `cmd`: on Windows
        # `python` would be found in circusd's own folder (the base interpreter) before PATH.
        ECAUTO_PYTHON=python_word(sys.executable, platform.name == "windows"),
        ECAUTO_ENDPOINT=ends.control,
        ECAUTO_PUBSUB_ENDPOINT=ends.pubsub,
        CIRCUSCTL_ENDPOINT=ends.control,
    )
    # Whatever a daemon starts by name (`python`) is the venv's too.
    env["PATH"] = os.pathsep.join(
        x for x in (str(Path(sys.executable).parent), env.get("PATH")) if x
    )
    if sys.prefix != sys.base_prefix:
        env["VIRTUAL_ENV"] = sys.prefix
    return Instance(ini_path.parent, ini_path, Home(root_home), env, ends, platform)


# -- is circusd running ---------------------------------------------------------------------


@dataclass(frozen=True)
class Holder:
    """The live process a pidfile names, as far as telling our circusd goes."""

    pid: int
    circusd: bool  # its command line runs circusd (watchdog.identify's rule)
    home: str | None  # its ECAUTO_HOME, made absolute; None when unreadable


def verdict(pid: int | None, holder: Holder | None, home: Path) -> str:
    """What a pidfile means: "none" (no pidfile, or no pid in it), "ours" (a live circusd of this
    home: it runs), or "stale" (a dead pid, or a live process that is not our circusd: remove
    the file, touch the process never)."""
    if pid is None:
        return "none"
    if holder is None or not holder.circusd or holder.home is None:
        return "stale"
    same = os.path.normcase(os.path.normpath(holder.home)) == os.path.normcase(str(home))
    return "ours" if same else "stale"


def read_pid(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def holder(pid: int) -> Holder | None:
    import psutil

    from watchdog.identify import is_circusd

    try:
        p = psutil.Process(pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            return None
        is_it = is_circusd(p.cmdline(), p.name())
    except psutil.Error:
        return None  # gone, or not ours to look at: not our circusd either way
    home = None
    if is_it:
        try:
            env, cwd = p.environ(), p.cwd()
            if env.get("ECAUTO_HOME"):
                home = str(resolve_home(env["ECAUTO_HOME"], cwd=cwd, environ={}))
        except psutil.Error:
            home = None
    return Holder(pid, is_it, home)


def our_circusd(inst: Instance) -> int | None:
    """The pid of the live circusd of this home its pidfile names, or None."""
    pid = read_pid(inst.pidfile)
    return pid if verdict(pid, holder(pid) if pid else None, inst.home.root) == "ours" else None


def listening(endpoint: str) -> bool:
    """Whether anything accepts a connection at a zmq endpoint: a connect is refused at once
    where nothing listens, where a zmq call would wait for its whole timeout."""
    try:
        if endpoint.startswith("ipc://"):
            if not hasattr(socket, "AF_UNIX"):
                return False
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(0.5)
                s.connect(endpoint[len("ipc://") :])
            return True
        if endpoint.startswith("tcp://"):
            host, _, port = endpoint[len("tcp://") :].rpartition(":")
            with socket.create_connection((host.strip("[]"), int(port)), timeout=0.5):
                return True
    except (OSError, ValueError):
        return False
    return True  # another transport: let the call tell


def running(inst: Instance, endpoint: str) -> tuple[int | None, bool]:
    """(our circusd's pid from the pidfile or None, whether `endpoint` takes connections).
    The daily commands ask first with the endpoint the launcher gives circusd, before reading
    circus.ini (Circus's import alone takes a quarter of a second)."""
    return our_circusd(inst), listening(endpoint)


# -- run ------------------------------------------------------------------------------------


def already_running(inst: Instance, setup: CircusSetup) -> str | None:
    pid, open_ = running(inst, setup.endpoint)
    shim, end = inst.platform.shim, setup.endpoint
    if pid is not None:
        return LAUNCHER.say(_language(), "already_ours", pid=pid, shim=shim)
    if open_:
        if Control(setup.endpoint, timeout_s=1.0, tries=1).ping():
            return LAUNCHER.say(_language(), "already_answers", endpoint=end, shim=shim)
        return LAUNCHER.say(_language(), "endpoint_taken", endpoint=end)
    return None


def clear_stale_pidfile(inst: Instance) -> int | None:
    """Remove a pidfile that names no live circusd of this home; the pid it held, if removed.
    Checked again right here, after the home was made safe to act in."""
    pid = read_pid(inst.pidfile)
    if not os.path.lexists(inst.pidfile):
        return None
    if verdict(pid, holder(pid) if pid else None, inst.home.root) == "ours":
        return None
    inst.pidfile.unlink(missing_ok=True)
    return pid or 0


def alerts_line(home: Path, cfg: config.Config, environ: Mapping[str, str]) -> str:
    from watchdog.alerts.chatwork import not_configured, target_from_env

    lang = cfg.ui.language
    why = not_configured(environ, cfg.mode)
    target = target_from_env(environ, cfg.mode, cfg.sandbox_url)
    if why or target is None:
        from ecauto.words.errors import translate

        why = translate(why or "alerts not configured", lang)
        return LAUNCHER.say(lang, "alerts_off", why=why)
    if cfg.mode == "sandbox" and not environ.get("CHATWORK_API_URL", "").strip():
        file = home / "sandbox" / "chatwork.jsonl"
        return LAUNCHER.say(lang, "alerts_sandbox", room=target.room_id, file=file)
    return LAUNCHER.say(lang, "alerts_room", room=target.room_id)


def dashboard_url(home: Path, cfg: config.Config, with_key: bool = True) -> str:
    """The dashboard's address; with the key, the link that unlocks its actions once."""
    from ecauto.dashboard.guard import load_secret  # the guard only: no web stack imported

    d = cfg.dashboard
    host = "127.0.0.1" if d.listen in ("127.0.0.1", "0.0.0.0") else "[::1]"
    url = f"http://{host}:{d.port}/"
    return f"{url}login?key={load_secret(home)}" if with_key else url


def dashboard_line(home: Path, cfg: config.Config) -> str:
    lang = cfg.ui.language
    lan = "" if cfg.dashboard.listen in ("127.0.0.1", "::1") else LAUNCHER.say(lang, "lan")
    url, link = dashboard_url(home, cfg, with_key=False), dashboard_url(home, cfg)
    return LAUNCHER.say(lang, "dashboard", url=url, lan=lan, link=link)


def dashboard(inst: Instance, open_it: bool) -> int:
    """Print the dashboard's link (with its secret) and open it in the browser."""
    cfg = config.load()
    inst.home.ensure()
    url = dashboard_url(inst.home.root, cfg)
    if not open_it:
        print(url, flush=True)  # `--print`: the link alone, for a script or a copy and paste
        return 0
    import webbrowser

    # The link signs the browser in once (a cookie); the page's address alone only shows it.
    print(f"ecauto: {LAUNCHER.say(cfg.ui.language, 'dashboard_open', link=url)}", flush=True)
    if not webbrowser.open(url):
        print(f"ecauto: {LAUNCHER.say(cfg.ui.language, 'no_browser')}", flush=True)
    return 0


def unusable(inst: Instance, setup: CircusSetup) -> str | None:
    """An endpoint circus.ini names that cannot work on this platform (circusd would die)."""
    for endpoint in (setup.endpoint, setup.pubsub_endpoint):
        if endpoint and not endpoint.startswith(inst.platform.transports):
            return (
                f"{inst.ini} names {endpoint}, which cannot work on {inst.platform.name}: name "
                f"$(circus.env.ECAUTO_ENDPOINT) and $(circus.env.ECAUTO_PUBSUB_ENDPOINT) there"
            )
    return None


def run(inst: Instance, detach: bool, timeout_s: float) -> int:
    setup = read_ini(inst.ini)
    problem = unusable(inst, setup) or preflight(setup, inst.home.root)
    problem = problem or already_running(inst, setup)
    if problem:
        raise CircusError(problem)
    inst.home.ensure()
    inst.platform.protect(inst.home.root)
    stale = clear_stale_pidfile(inst)
    if stale is not None:
        lang = _language()
        why = (
            LAUNCHER.say(lang, "stale_pid", pid=stale)
            if stale
            else LAUNCHER.say(lang, "stale_empty")
        )
        print(f"ecauto: {LAUNCHER.say(lang, 'stale_pidfile', pidfile=PIDFILE, why=why)}")
    argv = [sys.executable, "-m", "circus.circusd", str(inst.ini)]
    proc = inst.platform.start(argv, inst.env, inst.root, detach=detach)
    if proc is not None and not detach:
        _quit_on_signals(setup.endpoint, proc)
    cfg = config.load()
    problem = wait_started(
        setup, inst.home, timeout_s, cfg.mode, (lambda: proc.poll()) if proc else lambda: None
    )
    if problem:
        redact.complain(f"ecauto: {problem}")  # it may quote the last line of a daemon's log
    else:
        shim, lang = inst.platform.shim, cfg.ui.language
        running_ = LAUNCHER.say(
            lang, "running", watchers=len(setup.watchers), endpoint=setup.endpoint
        )
        print(f"ecauto: {running_}")
        print(f"ecauto: {dashboard_line(inst.home.root, cfg)}")
        alerts = alerts_line(inst.home.root, cfg, inst.env)
        print(f"ecauto: {LAUNCHER.say(lang, 'next', shim=shim, alerts=alerts)}", flush=True)
    if detach or proc is None:
        return 1 if problem else 0
    return proc.wait()  # the foreground: as long as circusd runs, with its exit code


def _quit_on_signals(endpoint: str, proc: Any) -> None:
    """The foreground launcher stands for circusd (systemd, the Task Scheduler, a terminal):
    a stop request to it becomes one `quit` to circusd, which stops each daemon gracefully."""

    def handler(signum: int, frame: FrameType | None) -> None:
        try:
            Control(endpoint, timeout_s=1.0, tries=1).quit()
        except CircusUnavailable:
            if proc.poll() is None:
                proc.terminate()  # our own child: a circusd that does not answer
        except CircusError:
            pass  # busy with the quit already asked for: it is on its way

    names = ("SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK")
    for sig in (getattr(signal, n) for n in names if hasattr(signal, n)):
        signal.signal(sig, handler)


# -- the daily commands ---------------------------------------------------------------------


def _language(path: str | os.PathLike[str] | None = None) -> str:
    """The operator's language from ecauto.toml, even when the rest of it is wrong; English
    when not even that can be read (the command that needs the file says why)."""
    try:
        return config.load(path).ui.language
    except config.ConfigError as e:
        return e.language  # the file's own ui.language when that much of it reads
    except OSError:
        return "en"


def _not_running(inst: Instance) -> str:
    said = LAUNCHER.say(_language(), "not_running", home=inst.home.root, shim=inst.platform.shim)
    return f"ecauto: {said}"


def status(inst: Instance) -> int:
    pid, open_ = running(inst, inst.endpoints.control)
    if pid is None and not open_:
        print(_not_running(inst))
        return NOT_RUNNING
    setup = read_ini(inst.ini)
    try:
        statuses = Control(setup.endpoint, timeout_s=2.0, tries=3).statuses()
    except CircusUnavailable:
        who = f"circusd pid {pid}" if pid else "something"
        raise CircusError(f"{who} holds {setup.endpoint} but does not answer") from None
    width = max((len(n) for n in statuses), default=0)
    lang = _language()
    for name in sorted(statuses):
        state = statuses[name]
        key = f"state.{state}"
        print(f"{name:<{width}}  {LAUNCHER.say(lang, key) if key in LAUNCHER.entries else state}")
    return 0 if all(s == "active" for s in statuses.values()) else 1


def restart(inst: Instance, name: str) -> int:
    pid, open_ = running(inst, inst.endpoints.control)
    if pid is None and not open_:
        print(_not_running(inst))
        return NOT_RUNNING
    setup = read_ini(inst.ini)
    if name not in setup.watchers:
        known = ", ".join(setup.watchers)
        raise CircusError(LAUNCHER.say(_language(), "no_watcher", name=repr(name), known=known))
    # It waits for the daemon to finish its unit of work (graceful_timeout, 30 s at most).
    ctl = Control(setup.endpoint, timeout_s=90.0, tries=10)
    old = ctl.pids(name)
    ctl.restart(name)
    new = ctl.pids(name)
    lang = _language()
    pids = {"name": name, "old": _pids(old, lang), "new": _pids(new, lang)}
    ended = _ended_at_once(ctl, name, new, inst.home.root)
    if ended is None:
        print(f"ecauto: {LAUNCHER.say(lang, 'restarted', **pids)}")
        return 0
    from ecauto.words.report import death

    how = LAUNCHER.say(lang, "ended_how", how=death(ended, lang)) if ended else ""
    said = LAUNCHER.say(lang, "ended_at_once", how=how, shim=inst.platform.shim, **pids)
    print(f"ecauto: {said}", file=sys.stderr)
    return ENDED_AT_ONCE


def _ended_at_once(
    ctl: Control, name: str, new: Sequence[int], home: Path, settle_s: float = SETTLE_S
) -> str | None:
    """None when each new process of `name` still runs `settle_s` after the restart; else how
    the first one gone ended ("exit 78", from circusd's journal), or "" when that is not known.

    Gone means: no such process, a zombie (circusd has not reaped it yet), another process
    under its pid, or circusd naming other pids for the watcher (it respawned already)."""
    import psutil

    from watchdog.deaths import deaths
    from watchdog.journal import journal_path, read_journal

    look = Control(ctl.endpoint, timeout_s=1.0, tries=1)  # a look, not the restart's patience
    born: dict[int, float] = {}
    for pid in new:
        try:
            born[pid] = psutil.Process(pid).create_time()
        except psutil.Error:
            pass

    def gone() -> int | None:
        for pid in new:
            try:
                p = psutil.Process(pid)
                if p.create_time() != born.get(pid) or p.status() == psutil.STATUS_ZOMBIE:
                    return pid
            except psutil.Error:
                return pid
        try:
            now = look.pids(name)
        except CircusError:
            return None  # busy or slow this once: the processes themselves tell
        return next((p for p in new if p not in now), None)

    if not new:
        return ""  # circusd runs none for it right after the restart
    deadline = time.monotonic() + settle_s
    while (dead := gone()) is None:
        if time.monotonic() >= deadline:
            return None
        time.sleep(POLL_S)
    deadline = time.monotonic() + REAP_S
    path = journal_path(home)
    while True:
        reaped = [d for d in deaths(read_journal(path), name) if d.pid == dead]
        if reaped:
            return reaped[-1].how()
        if time.monotonic() >= deadline:
            return ""
        time.sleep(POLL_S)


def _pids(pids: Sequence[int], lang: str = "en") -> str:
    return ",".join(map(str, pids)) or LAUNCHER.say(lang, "none")


def stop(inst: Instance, timeout_s: float) -> int:
    """`quit`, then wait until that circusd process is gone (each daemon stops gracefully)."""
    import psutil

    pid, open_ = running(inst, inst.endpoints.control)
    if pid is None and not open_:
        print(_not_running(inst))
        return 0
    setup = read_ini(inst.ini)
    ctl = Control(setup.endpoint, timeout_s=2.0, tries=3)
    if pid is None:
        pid = ctl.circusd_pid()  # it answers without a pidfile: ask it who it is
    try:
        proc = psutil.Process(pid) if pid else None
    except psutil.NoSuchProcess:
        proc = None
    started = time.monotonic()
    ctl.quit()
    while proc is not None and _alive(proc):
        if time.monotonic() - started > timeout_s:
            raise CircusError(f"circusd pid {pid} still runs {timeout_s:g}s after quit")
        time.sleep(0.1)
    took = f"{time.monotonic() - started:.1f}"
    print(f"ecauto: {LAUNCHER.say(_language(), 'stopped', pid=pid, seconds=took)}")
    return 0


def _alive(proc: Any) -> bool:
    import psutil

    try:
        return bool(proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def report(inst: Instance, extra: Sequence[str]) -> int:
    from watchdog import cli

    return cli.main(["report", "--home", str(inst.home.root), "--ini", str(inst.ini), *extra])


# -- the command line -----------------------------------------------------------------------


class _Parser(Parser):
    """argparse's common complaints (and the pointer to --help) in the operator's language;
    `--help` itself stays in English (README.ja.md says so)."""

    def error(self, message: str) -> NoReturn:
        # Before main() stands in the clone: the config it would read from there.
        lang = _language(
            None if os.environ.get("ECAUTO_CONFIG") else REPO / config.DEFAULT_CONFIG_NAME
        )
        said = LAUNCHER.say(lang, "usage", message=usage_message(message, lang))
        redact.complain(f"{self.prog}: {said}")  # it quotes what was typed
        raise SystemExit(2)


# argparse's own words (3.11 to 3.13) for the mistakes an operator makes at the prompt.
_ARGPARSE = (
    ("arg_required", re.compile(r"the following arguments are required: (?P<names>.+)")),
    ("arg_unrecognized", re.compile(r"unrecognized arguments: (?P<args>.+)")),
    (
        "arg_choice",
        re.compile(
            r"argument (?P<name>.+?): invalid choice: (?P<value>.+?) \(choose from (?P<choices>.+)\)"
        ),
    ),
    ("arg_one", re.compile(r"argument (?P<name>.+?): expected one argument")),
)


COMMANDS = "{run,status,restart,stop,report,dashboard}"  # the commands' metavar


def usage_message(message: str, lang: str) -> str:
    """argparse's `message` in `lang` when it is one of its common ones; as it is otherwise."""
    for key, pattern in _ARGPARSE:
        m = pattern.fullmatch(message)
        if m:
            parts = m.groupdict()
            if lang != "en":  # argparse's names for the arguments, as the operator calls them
                for name in ("name", "names"):
                    if parts.get(name) == COMMANDS:
                        plain = ", ".join(COMMANDS.strip("{}").split(","))
                        which = "arg.commands" if name == "names" else "arg.command"
                        parts[name] = LAUNCHER.say(lang, which, commands=plain)
                    elif parts.get(name) == "watcher":
                        parts[name] = LAUNCHER.say(lang, "arg.watcher")
            return LAUNCHER.say(lang, key, **parts)
    return message


def parser() -> Parser:
    p = _Parser(prog="ecauto", description="Run ecauto under circusd, and the daily commands.")
    p.add_argument("--home", help="runtime home (default: $ECAUTO_HOME or ./var)")
    p.add_argument("--ini", help="circus config (default: the clone's circus.ini)")
    sub = p.add_subparsers(dest="command", required=True, metavar=COMMANDS)
    r = sub.add_parser("run", help="start circusd and every daemon (in the foreground)")
    r.add_argument("--daemon", action="store_true", help="detach once every daemon beats")
    r.add_argument(
        "--timeout",
        type=seconds,
        default=None,
        help="seconds to wait for every daemon to beat (default $ECAUTO_START_TIMEOUT or 60)",
    )
    sub.add_parser("status", help="each watcher's status (exit 3: not running)")
    rs = sub.add_parser("restart", help="restart one daemon")
    rs.add_argument("watcher")
    st = sub.add_parser("stop", help="stop everything, and wait until circusd is gone")
    st.add_argument("--timeout", type=seconds, default=120.0, help="seconds to wait (default 120)")
    rp = sub.add_parser("report", help="the watchdog's report (`watchdog report`)")
    rp.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    dp = sub.add_parser("dashboard", help="print the dashboard's link and open it in the browser")
    dp.add_argument("--print", action="store_true", help="print the link only")
    return p


def _start_timeout(explicit: float | None, environ: Mapping[str, str]) -> float:
    if explicit is not None:
        return explicit
    raw = environ.get("ECAUTO_START_TIMEOUT", "").strip()
    try:
        return seconds(raw) if raw else 60.0
    except ArgumentTypeError as e:
        raise config.ConfigError(f"ECAUTO_START_TIMEOUT: {e}") from None


def main(argv: Sequence[str] | None = None, platform: Platform | None = None) -> int:
    args = parser().parse_args(argv)
    os.umask(0o077)  # the home holds tokens and business data: owner only (POSIX)
    try:
        inst = instance(platform or current(), os.environ, os.getcwd(), args.ini, args.home)
        # circusd's `$(circus.env.X)` and the config loader read this process's environment;
        # circusd runs in the clone, where circus.ini names its paths from.
        os.environ.update(inst.env)
        os.chdir(inst.root)
        if args.command == "run":
            return run(inst, args.daemon, _start_timeout(args.timeout, os.environ))
        if args.command == "status":
            return status(inst)
        if args.command == "restart":
            return restart(inst, args.watcher)
        if args.command == "stop":
            return stop(inst, args.timeout)
        if args.command == "dashboard":
            return dashboard(inst, not args.print)
        return report(inst, ["--json"] if args.json else [])
    except config.ConfigError as e:  # HomeError among them
        # In the file's own language when it names one, else as far as ecauto.toml says.
        lang = e.language if e.language != config.DEFAULT_LANGUAGE else _language()
        redact.complain(f"ecauto: {one_line(e.said(lang), limit=2000)}")
        return 1
    except (CircusError, OSError, ValueError) as e:
        redact.complain(f"ecauto: {one_line(str(e), limit=2000)}")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
