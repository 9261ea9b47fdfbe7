"""What a check reads beyond the view, and what it gives back: a `Pass` in, a `Step` out.

A check is a pure function `(View, Pass) -> Step`. The `Pass` is what the checks before it
produced (findings, actions, the state so far, which copies are legitimate and which daemons are
being ended); the `Step` is what the check adds. `Pass.then` folds a step in and numbers each
action by the finding it answers (`Action.ref`), so a check pairs an action with its finding and
never counts indexes itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import field, replace

from ecauto.frozen import frozen

from ..findings import Action, Finding, Target
from ..snapshot import ProcInfo
from ..state import State

Copy = tuple[ProcInfo, ...]
# A finding, and the action that answers it (None: nothing to do but say it).
Found = tuple[Finding, Action | None]


@frozen
class Judged:
    """Per daemon, what the copies check learnt and the later checks use."""

    legit: tuple[Copy, ...]
    ending: bool = False  # some copy of it is being ended this pass


@frozen
class Step:
    """What one check adds to the pass."""

    found: tuple[Found, ...] = ()
    state: State | None = None  # the state after it; None: unchanged
    recheck: float | None = None  # look again this soon
    judged: Mapping[str, Judged] = field(default_factory=dict)

    @classmethod
    def saying(cls, findings: Iterable[Finding]) -> Step:
        """Findings nothing is done about but saying them."""
        return cls(found=tuple(said(f) for f in findings))

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for f, _ in self.found)

    @property
    def actions(self) -> tuple[Action, ...]:
        return tuple(a for _, a in self.found if a is not None)


@frozen
class Pass:
    """The input of each check beyond the view: what the checks before it produced."""

    state: State
    findings: tuple[Finding, ...] = ()
    actions: tuple[Action, ...] = ()  # each with `ref`, its finding's index in `findings`
    recheck: float | None = None
    judged: Mapping[str, Judged] = field(default_factory=dict)

    def then(self, step: Step) -> Pass:
        findings, actions = list(self.findings), list(self.actions)
        for f, a in step.found:
            findings.append(f)
            if a is not None:
                actions.append(replace(a, ref=len(findings) - 1))
        return Pass(
            state=step.state if step.state is not None else self.state,
            findings=tuple(findings),
            actions=tuple(actions),
            recheck=sooner(self.recheck, step.recheck),
            judged={**self.judged, **step.judged},
        )


def said(f: Finding) -> Found:
    """A finding with no action: it is only said."""
    return (f, None)


def sooner(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def pid_list(group: Iterable[ProcInfo]) -> str:
    return ", ".join(str(p.pid) for p in group)


def targets(group: Iterable[ProcInfo]) -> tuple[Target, ...]:
    # Everything the executor re-reads and compares right before the signal.
    return tuple(
        Target(
            pid=x.pid,
            create_time=x.create_time,
            cmdline=x.cmdline,
            uid=x.uid,
            cwd=x.cwd,
            home=x.home,
            owner=x.owner,
        )
        for x in group
    )
