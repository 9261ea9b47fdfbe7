"""README.md's "When something goes wrong" and README.ja.md stay true: every finding kind and
every alert has its entry in both, the words they quote are the ones the report and the alerts
print, and every command they quote is one the launcher, `watchdog` or circusctl takes."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from ecauto import launcher
from ecauto.words.alerts import ALERTS
from ecauto.words.findings import TODO
from ecauto.words.report import REPORT, death, kind, outcome, result
from watchdog import cli as watchdog_cli
from watchdog.findings import Kind

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
JA = (REPO / "README.ja.md").read_text(encoding="utf-8")


def section(text: str, title: str) -> str:
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else len(text)]


WRONG = section(README, "When something goes wrong")
GUIDES = {"README.md": WRONG, "README.ja.md": JA}


@pytest.mark.parametrize("kind", list(Kind))
@pytest.mark.parametrize("guide", GUIDES)
def test_every_finding_kind_has_an_entry(guide: str, kind: Kind) -> None:
    rows = [x for x in GUIDES[guide].splitlines() if x.startswith(f"| `{kind.value}`")]
    assert len(rows) == 1, f"{guide} has no row for {kind.value}"
    assert rows[0].count(" | ") >= 2, "what it means and what to type"


@pytest.mark.parametrize("kind", list(Kind))
def test_the_japanese_guide_quotes_each_alerts_first_line_words(kind: Kind) -> None:
    head = ALERTS.say("ja", f"head.{kind.value}")
    assert f"| `{kind.value}`（{head}）" in JA


def test_every_alert_severity_is_explained_in_both() -> None:
    for tag in ("warning", "critical", "recovered"):
        assert f"`{ALERTS.say('en', f'tag.{tag}')}`" in WRONG
        assert f"`{ALERTS.say('ja', f'tag.{tag}')}`" in JA
    assert "| `RECOVERED` (recovery) |" in WRONG and "| `復旧` |" in JA
    assert "`what to do:`" in WRONG and "`対処:`" in JA


def test_the_japanese_guide_names_the_reports_columns_as_it_prints_them() -> None:
    for col in ("state", "uptime", "beat", "phase", "progress", "last_ok", "restarts"):
        assert REPORT.say("ja", f"col.{col}") in JA
    assert "2/2 出品" in JA and "16/50 バッチ" in JA and "中断 3分前（16/50）" in JA


def test_the_readme_links_the_japanese_guide_at_its_top() -> None:
    assert "[README.ja.md](README.ja.md)" in "\n".join(README.splitlines()[:6])


def commands() -> list[str]:
    found = set()
    for text in GUIDES.values():
        found |= set(
            re.findall(r"`((?:\./ecauto\.sh|\.\\ecauto\.cmd|watchdog|circusctl) [^`]*)`", text)
        )
    return sorted(found)


@pytest.mark.parametrize("command", commands())
def test_every_quoted_command_exists(command: str) -> None:
    argv = shlex.split(re.sub(r"<[^>]+>", "upload-base", command), posix=False)
    tool, args = argv[0], argv[1:]
    if tool in ("./ecauto.sh", r".\ecauto.cmd"):
        launcher.parser().parse_args(args)  # SystemExit(2) on what it does not take
    elif tool == "watchdog":
        if args[:1] != ["run"]:
            watchdog_cli.parser().parse_args(args)
    else:
        assert args[0] in {"start", "stop", "restart", "status", "quit", "signal"}, command


def test_the_commands_are_found() -> None:
    assert "./ecauto.sh run --daemon" in commands()
    assert "./ecauto.sh restart upload-base" in commands()


def test_the_japanese_guide_quotes_restarts_deaths_and_the_recovery_as_printed() -> None:
    printed = REPORT.say("ja", "restarts.journal", n=2, died=1, requested=1)
    assert f"`{printed}`" in JA
    for how in ("exit 2", "killed by SIGKILL", "killed by SIGTERM"):
        assert f"`{death(how, 'ja')}`" in JA, how
    assert f"`{REPORT.say('ja', 'requested')}`" in JA
    assert f"`{result('asked circusd to restart it', 'ja')}`" in JA
    for action, done in (("remove_lock", "removed"), ("restart", "done")):
        assert f"`{outcome(action, done, 'ja')}`" in JA, action
    assert f"`{kind('duplicate', 'ja')}`" in JA
    for lang, guide in (("ja", JA), ("en", WRONG)):
        said = TODO.say(lang, "recovered")
        assert f"| {said} |" in guide, (lang, said)
