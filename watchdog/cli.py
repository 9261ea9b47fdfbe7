"""The `watchdog` command.

    watchdog report [--json]            what runs, how it is, what was found (read-only)
    watchdog scan [--dry-run] [--json]  one pass: find, act, alert, then exit
    watchdog run [--interval S]         the loop (a singleton daemon, as the `watchdog` watcher)

Common options: --home (default $ECAUTO_HOME or ./var), --config (default $ECAUTO_CONFIG or
./ecauto.toml), --ini (default ./circus.ini).

Exit codes of report and scan (the monitoring-plugin convention): 0 all well, 1 warning,
2 critical, 3 could not tell (a config or ini that cannot be read, a home that does not exist,
a mistyped option: exit 2 would read as "critical" to a monitoring system). An ecauto.toml that
cannot be read, where the watchdog kept a last good one, is not "could not tell": they look with
what the watchdog runs on, and the error is their `config_error` finding (critical, exit 2).
`run` exits like every ecauto daemon: 0 stopped (or its circusd is gone), 75 another watchdog of
this home runs, 78 a circus.ini or home it cannot use. A bad `ecauto.toml` does not stop it: it
runs on the last good configuration (see `lastgood`) and reports a `config_error`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from ecauto import config as config_mod
from ecauto import logsetup
from ecauto.circusd import SETUP_CACHE, CircusError, CircusSetup, read_ini
from ecauto.cliargs import Parser
from ecauto.config import Config, ConfigError
from ecauto.home import Home

from . import report as report_mod
from .findings import Severity
from .service import Busy, PassResult, Watchdog, make_notifier

if TYPE_CHECKING:
    from .lastgood import Loaded

NAME = "watchdog"
log = logging.getLogger(__name__)


class Unknown(Exception):
    """The watchdog cannot tell: one line for the operator, exit 3."""


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--home", help="runtime home (default: $ECAUTO_HOME or ./var)")
    p.add_argument("--config", help="config file (default: $ECAUTO_CONFIG or ./ecauto.toml)")
    p.add_argument("--ini", default="circus.ini", help="circus config (default: ./circus.ini)")


class _Formatter(argparse.HelpFormatter):
    """argparse's own, given the terminal's width as shutil.get_terminal_size finds it: asked
    itself, at every add_argument, it imports shutil (with bz2 and lzma) for a help text a
    report never prints."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        if width is None:
            width = _columns() - 2
        super().__init__(prog, indent_increment, max_help_position, width)


def _columns() -> int:
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Parser(Parser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)  # the subcommands' parsers too
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        _complain(f"{self.prog}: {message} (see --help)")  # it quotes what was typed
        raise SystemExit(report_mod.EXIT["unknown"])


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=NAME,
        description="Finds duplicate, orphaned and hung ecauto "
        "daemons and stale locks; acts safely; alerts; reports.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="{report,scan,run}")
    r = sub.add_parser("report", help="show each daemon's state and what was found (read-only)")
    _common(r)
    r.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    s = sub.add_parser("scan", help="one pass: find, act, alert, then exit")
    _common(s)
    s.add_argument("--dry-run", action="store_true", help="find and plan, but do nothing")
    s.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    sub.add_parser("run", help="the loop; see `watchdog run --help`", add_help=False)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["run"]:
        from .loop import run  # the daemon base and the alert sender: the loop's, not a report's

        return run(args_list[1:])
    args = parser().parse_args(args_list)
    logsetup.configure(NAME, os.environ.get("ECAUTO_LOG_LEVEL", "ERROR"))
    try:
        if args.command == "report":
            return _report(args)
        return _scan(args)
    except ConfigError as e:
        _complain(f"watchdog: {e.said()}")
        return report_mod.EXIT["unknown"]
    except (Unknown, CircusError, Busy, OSError) as e:
        _complain(f"watchdog: {e}")
        return report_mod.EXIT["unknown"]


def _load(args: argparse.Namespace) -> tuple[Home, Config, Watchdog]:
    loaded = None
    try:
        cfg = config_mod.load(args.config)
    except ConfigError as e:
        loaded = _last_good(args, e)
        cfg = loaded.config
    # Never made here: a mistyped --home is one line, not a new home watching another's circusd.
    home = Home.resolve(args.home).check()
    # The ini expands $(circus.env.ECAUTO_HOME) (the control socket lives in the home): read it
    # as the circusd of this home did, whatever the calling shell has set.
    os.environ["ECAUTO_HOME"] = str(home.root)
    setup = read_ini(args.ini, cache=home.root / SETUP_CACHE)
    return home, cfg, looking(home, cfg, setup, loaded)


def looking(home: Home, cfg: Config, setup: CircusSetup, loaded: Loaded | None) -> Watchdog:
    """The watchdog a report looks with (this command's, and the dashboard's): on `loaded`, the
    last good configuration, ecauto.toml's error is one of its findings."""
    dog = Watchdog(home, cfg, setup, None)
    if loaded is not None:
        dog.config_error, dog.config_from = loaded.error, loaded.source
    return dog


def _last_good(args: argparse.Namespace, e: ConfigError) -> Loaded:
    """With ecauto.toml wrong, what the watchdog runs on: the configuration its last good read
    kept (the operator keeps the report exactly when something is wrong, the error one of its
    findings), said in one line. None kept: the report cannot tell, `e` is raised (exit 3)."""
    from ecauto.home import HomeError
    from ecauto.words.errors import ERRORS

    from . import lastgood

    try:
        home = Home.resolve(args.home).check()
    except HomeError:
        raise e from None
    loaded = last_good(home, e)
    lang, path = loaded.config.ui.language, home.watchdog / lastgood.NAME
    _complain(f"watchdog: {ERRORS.say(lang, 'config_last_good', error=e.said(lang), path=path)}")
    return loaded


def last_good(home: Home, e: ConfigError) -> Loaded:
    """ecauto.toml's error `e` with the configuration the watchdog runs on meanwhile (the one its
    last good read kept); `e` raised when none was kept."""
    from ecauto.records import one_line

    from . import lastgood  # only when the file is wrong: a report imports what it needs

    loaded = lastgood.last_good(home, one_line(str(e)))
    if loaded is None:
        raise e
    return loaded


def _report(args: argparse.Namespace) -> int:
    home, cfg, dog = _load(args)
    r = report(home, cfg, dog)
    print(json.dumps(r.to_json(), indent=2) if args.json else report_mod.render(r, cfg.ui.language))
    return report_mod.EXIT[r.status]


def report(home: Home, cfg: Config, dog: Watchdog) -> report_mod.Report:
    """What `watchdog report` shows (and the dashboard's 監視の判定): one look, judged."""
    look = dog.look()
    recent = dog.events.tail(10)
    return report_mod.build(
        look.snapshot, look.assessment, look.state_before, cfg.watchdog, recent, _pending(home, cfg)
    )


def _pending(home: Home, cfg: Config) -> int | None:
    """Alerts queued and not yet sent; None when alerts are off."""
    from watchdog.alerts import not_configured, queued  # not the sender: a report only counts

    if not_configured(os.environ, cfg.mode):
        return None
    if not (home.watchdog / "outbox").is_dir():
        return 0  # nothing was ever queued (and a report creates nothing)
    return queued(home.watchdog / "outbox")


def _scan(args: argparse.Namespace) -> int:
    home, cfg, dog = _load(args)
    if args.dry_run:
        res = dog.look()
    else:
        home.ensure()
        dog.executor.notifier = make_notifier(home, cfg)
        dog.executor.flush_alerts = True
        res = dog.run_pass()
    from ecauto import redact  # here, not with the imports above (merged from another branch)

    # Findings quote what processes, locks and databases say: redacted, as the report is.
    print(
        json.dumps(redact.scrub_tree(scan_json(res, args.dry_run)), indent=2)
        if args.json
        else redact.scrub(scan_text(res, args.dry_run, cfg.ui.language), multiline=True)
    )
    return _exit(res)


def _complain(text: str) -> None:
    from ecauto import redact  # here, not with the imports above (merged from another branch)

    redact.complain(text)


def _exit(res: PassResult) -> int:
    worst = res.assessment.status
    if worst is Severity.CRITICAL:
        return report_mod.EXIT["critical"]
    return report_mod.EXIT["warning"] if worst is Severity.WARNING else report_mod.EXIT["ok"]


def _results(res: PassResult) -> dict[int, str]:
    return {o.action.ref: o.result for o in res.outcomes}


def scan_json(res: PassResult, dry_run: bool) -> dict[str, Any]:
    worst = res.assessment.status
    results = _results(res)
    findings = []
    for i, f in enumerate(res.assessment.findings):
        d = f.to_json()
        d["result"] = results.get(
            i, "planned" if dry_run and f.action.value not in ("none", "alert") else ""
        )
        findings.append(d)
    return {
        "status": worst.value if worst else "ok",
        "dry_run": dry_run,
        "at": res.snapshot.now,
        "home": res.snapshot.home,
        "processes_listed": res.snapshot.scanned,
        "circusd_answered": res.snapshot.circus.answered,
        "findings": findings,
        "actions": [a.to_json() for a in res.assessment.actions],
        "notices": [n.to_json() for n in res.assessment.notices],
    }


def scan_text(res: PassResult, dry_run: bool, lang: str = "en") -> str:
    a = res.assessment
    results = _results(res)
    head = f"watchdog scan of {res.snapshot.home}" + (" (dry run: nothing done)" if dry_run else "")
    lines = [head]
    if not a.findings:
        lines.append("  nothing wrong")
    for i, f in enumerate(a.findings):
        done = results.get(i)
        act = "" if f.action.value == "none" else f" -> {f.action.value}"
        if done:
            act += f": {done}"
        elif dry_run and f.action.value not in ("none", "alert"):
            act += " (planned)"
        lines.append(
            f"  {f.severity.value:<8} {f.kind.value:<12} {f.daemon or '-':<15} {f.text(lang)}{act}"
        )
    if a.notices and not dry_run:
        lines.append(f"  alerts queued: {len(a.notices)}")
    worst = a.status
    lines.append(f"status: {worst.value if worst else 'ok'}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
