"""The operator's language on a real instance: `ui.language = "ja"` in its ecauto.toml, a real
circusd running the repo's circus.ini, a daemon that exits at each start, `watchdog report` and
`watchdog scan` as the operator runs them, the alert at the sandbox's Chatwork.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from support import Instance, Reaper, read_hb, sandbox_headers, wait_for

from ecauto.circusd import Control
from ecauto.words.common import shim

pytestmark = [pytest.mark.process, pytest.mark.timeout(180)]

SETTINGS = """
[ui]
language = "ja"

[watchdog]
interval_s = 1
recovery_s = 1

[alerts]
coalesce_s = 0
"""


@pytest.fixture
def crashing(tmp_path: Path, reaper: Reaper) -> Iterator[Instance]:
    def bad_ebay(text: str) -> str:  # it refuses an argument: exits 2 at every start
        return text.replace("--platform ebay", "--platform ebay --no-such-option")

    inst = Instance(tmp_path, reaper, config_extra=SETTINGS, ini_edit=bad_ebay, watchdog=False)
    try:
        inst.start(wait=[w for w in inst.watchers if w != "upload-ebay"])
        yield inst
    finally:
        inst.stop()


def report_text(inst: Instance) -> str:
    """`watchdog report` as the operator types it in the instance's folder."""
    res = inst.watchdog_text("report")
    assert res.stdout, res.stderr
    return res.stdout


def chatwork(inst: Instance) -> list[str]:
    got = requests.get(
        f"{inst.sandbox_url}/_sandbox/chatwork", headers=sandbox_headers(inst.home), timeout=5
    ).json()
    return [str(m["body"]) for m in got]


def test_a_crash_loop_is_reported_and_alerted_in_japanese_with_what_to_type(
    crashing: Instance,
) -> None:
    inst = crashing
    # Given a daemon circusd stopped after it died young again and again
    wait_for(lambda: inst.status("upload-ebay") == "stopped", 60, "circusd to stop upload-ebay")

    # Then the report speaks Japanese: its columns, the daemon's state, what was found and
    # the command to type
    text = report_text(inst)
    lines = text.splitlines()
    assert lines[3].split()[:3] == ["デーモン", "状態", "PID"], text
    row = next(x for x in lines if x.startswith("upload-ebay "))
    assert "終了を反復" in row and "終了コード 2 で終了" in row, text
    assert any("進捗:" in x and "2/2 出品" in x for x in lines), "the legend says what 2/2 means"
    found = next(x for x in lines if x.startswith("  ") and "crash_loop" in x)
    assert "終了が" in found and "最後の終了: 終了コード 2 で終了" in found, text
    assert "--no-such-option" in found, "the last line of its log, quoted"
    assert "circusd がウォッチャーを止めました" in found, text
    todo = lines[lines.index(found) + 1].strip()
    assert todo.startswith("対処: ") and f"`{shim()} restart upload-ebay`" in todo, text
    assert lines[-1] == "総合: 異常"

    # and the machine output stays language-neutral
    rc, rep = inst.watchdog("report")
    assert (rc, rep["status"]) == (2, "critical")
    ebay = next(d for d in rep["daemons"] if d["name"] == "upload-ebay")
    assert ebay["state"] == "crash loop"
    [loop] = [f for f in rep["findings"] if f["kind"] == "crash_loop"]
    assert loop["say"][0] == "crash_loop.died"
    assert loop["say"][-1] == "then.circusd_stopped_watcher"
    assert "needs a person" in loop["summary"]

    # When a scan runs, the alert reaches Chatwork in Japanese: a short first line for the
    # phone's notification, the whole story in the box, and last what to type
    assert inst.watchdog("scan")[0] == 2

    def alert() -> list[str]:
        return [b for b in chatwork(inst) if b.startswith("[ecauto] 異常 upload-ebay")]

    wait_for(alert, 20, "the Japanese alert at the sandbox's Chatwork")
    [body] = alert()
    assert body.splitlines()[0] == "[ecauto] 異常 upload-ebay: 起動直後の終了を反復"
    assert "最後の終了: 終了コード 2 で終了" in body
    box = body.removesuffix("[/info]").splitlines()
    assert box[-1].startswith("対処: ") and f"`{shim()} restart upload-ebay`" in box[-1]
    # and the events keep the English summary, with the same words' keys beside it
    events = (inst.home / "watchdog" / "events.jsonl").read_text()
    assert "needs a person" in events and '"say": ["crash_loop.died", ' in events


def test_a_sync_stopped_mid_cycle_is_paused_not_ok_in_the_report(
    tmp_path: Path, reaper: Reaper
) -> None:
    inst = Instance(tmp_path, reaper, watchdog=False, spapi_rate=10.0)
    try:
        inst.start()

        # Given the sync in the middle of its cycle
        def midway() -> bool:
            hb = read_hb(inst.home, "sync-inventory")
            return hb is not None and hb.phase.value == "working" and 0 < hb.done < hb.total

        wait_for(midway, 60, "sync-inventory midway through its cycle")
        # When someone stops it: it finishes its batch, counts the cycle a success, and exits
        inst.ctl.call("stop", name="sync-inventory")
        wait_for(lambda: inst.status("sync-inventory") == "stopped", 60, "sync-inventory stopped")
        hb = read_hb(inst.home, "sync-inventory")
        assert hb is not None and hb.last_success_at is not None and hb.done < hb.total

        # Then the report does not call that cycle a success: it was paused, at done/total
        _, rep = inst.watchdog("report")
        row = next(d for d in rep["daemons"] if d["name"] == "sync-inventory")
        assert row["last_success_at"] is None and row["paused_at"] is not None, row
        assert row["unit"] in ("batches", "prices")
        text = report_text(inst)
        line = next(x for x in text.splitlines() if x.startswith("sync-inventory "))
        assert "paused " in line and f"({hb.done}/{hb.total})" in line, text

        # And what the words tell a person to type for a stopped watcher starts it again:
        # `ecauto restart <watcher>` is this call (launcher.restart)
        Control(inst.endpoint, timeout_s=90.0, tries=10).restart("sync-inventory")
        assert inst.status("sync-inventory") == "active"
        new = inst.pid("sync-inventory")
        wait_for(lambda: inst.fresh_heartbeat("sync-inventory", new), 30, "a fresh heartbeat")
    finally:
        inst.stop()
