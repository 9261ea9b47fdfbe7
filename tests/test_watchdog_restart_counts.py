"""The restarts circusd's journal tells of, counted as the report's RESTARTS column shows them:
each a process end followed by a new process, after a death or on request, so that the two add
up; a stop someone asked for, circusd quitting and a crash-loop refusal are none (pure).

The journals below are written as the hooks (ecauto/circus_hooks.py) write them under Circus 0.19.
"""

from __future__ import annotations

from watchdog import deaths
from watchdog.deaths import BY_CRASH_LOOP, BY_QUIT, BY_REQUEST, Entry

W = "upload-base"
NOW = 1_800_000_000.0
WINDOW = 600.0


def spawn(at: float, pid: int) -> Entry:
    return Entry(at, W, deaths.SPAWN, pid=pid)


def reap(at: float, pid: int, code: int, by: str | None = None) -> Entry:
    return Entry(at, W, deaths.REAP, pid=pid, exit_code=code, by=by)


def stop(at: float, pid: int, by: str) -> list[Entry]:
    """Circus's `_stop`: before_stop, the process reaped, after_stop."""
    return [
        Entry(at, W, deaths.STOP, by=by),
        reap(at + 0.2, pid, 0, by),
        Entry(at + 0.21, W, deaths.STOPPED, by=by),
    ]


def start(at: float, pid: int) -> list[Entry]:
    return [Entry(at, W, deaths.START), spawn(at + 0.01, pid)]


def counted(journal: list[Entry]) -> tuple[int, int]:
    died, requested, _ = deaths.counts(journal, W, NOW, WINDOW)
    return died, requested


T = NOW - 300
FIRST = start(T, 10)
KILLED = [reap(T + 10, 10, -9), spawn(T + 11, 11)]  # kill -9, circusd respawns it
RESTART = stop(T + 20, 11, BY_REQUEST) + start(T + 20.22, 12)  # circusctl restart
STOPPED_THEN_STARTED = stop(T + 30, 12, BY_REQUEST) + start(T + 45, 13)
QUIT_THEN_RUN = stop(T + 60, 13, BY_QUIT) + start(T + 70, 14)  # ecauto.sh stop, run --daemon


def test_a_stop_and_a_quit_are_no_restart_even_with_a_start_after() -> None:
    # kill -9 once, restart once, then `ecauto.sh stop` and `run --daemon`: 2 (1 died, 1 requested)
    assert counted(FIRST + KILLED + RESTART + QUIT_THEN_RUN) == (1, 1)
    assert counted(FIRST + KILLED + RESTART + STOPPED_THEN_STARTED + QUIT_THEN_RUN) == (1, 1)
    assert counted(FIRST + QUIT_THEN_RUN) == (0, 0)


def test_a_quit_a_moment_before_the_next_start_is_still_no_restart() -> None:
    assert counted(FIRST + stop(T + 60, 10, BY_QUIT) + start(T + 60.3, 11)) == (0, 0)


def test_a_death_not_yet_respawned_or_refused_is_no_restart_but_still_the_last_death() -> None:
    loop = FIRST + [reap(T + 1, 10, 2), spawn(T + 2, 11), reap(T + 3, 11, 2)]
    died, requested, last = deaths.counts(loop, W, NOW, WINDOW)
    assert (died, requested) == (1, 0)
    assert last is not None and last.pid == 11 and last.how() == "exit 2"
    refused = [*loop, Entry(T + 4, W, deaths.REFUSED, deaths=5)]
    refused += [Entry(T + 4, W, deaths.STOP, by=BY_CRASH_LOOP)]
    refused += [Entry(T + 4, W, deaths.STOPPED, by=BY_CRASH_LOOP), spawn(T + 90, 12)]
    assert counted(refused) == (1, 0)


def test_a_death_that_someone_signalled_and_circusd_respawned_is_requested() -> None:
    signalled = [Entry(T + 5, W, "signal", pid=10, by=BY_REQUEST), reap(T + 6, 10, -15, BY_REQUEST)]
    then_stopped = [spawn(T + 7, 11), *stop(T + 30, 11, BY_REQUEST)]
    assert counted([*FIRST, *signalled, *then_stopped]) == (0, 1)
