"""`@frozen` answers as `@dataclass(frozen=True)` does, for the same class (pure logic)."""

from __future__ import annotations

import copy
import dataclasses
import inspect
from typing import Any

import pytest

from ecauto.frozen import frozen


def make(deco: Any) -> tuple[type, type, type]:
    @deco
    class Plain:
        """A documented one."""

        a: int
        b: str = "x"
        c: tuple[str, ...] = ()
        d: dict[str, int] = dataclasses.field(default_factory=dict, metadata={"unit": "s"})
        e: float = dataclasses.field(default=1.5)

        def total(self) -> float:
            return self.a + self.e

        @property
        def twice(self) -> int:
            return self.a * 2

    @deco
    class Bare:
        x: Any
        y: int = 0

    @deco
    class Empty:
        pass

    return Plain, Bare, Empty


OURS, THEIRS = make(frozen), make(dataclasses.dataclass(frozen=True))


def answers(Plain: type, Bare: type, Empty: type) -> list[Any]:
    p = Plain(1)
    q = Plain(1, "y", ("t",), {"k": 2}, e=2.0)
    out: list[Any] = [
        repr(p),
        repr(q),
        p == Plain(1),
        p == q,
        p != Plain(1),
        p.__eq__(object()),
        p == (1, "x", (), {}, 1.5),
        hash(Bare(1)) == hash(Bare(1)),
        hash(Bare(1, 2)) == hash((1, 2)),
        hash(Bare("z")) == hash(("z", 0)),
        Plain(1).d is not Plain(1).d,  # one factory call an instance
        q.total(),
        q.twice,
        dataclasses.asdict(q),
        dataclasses.astuple(q),
        repr(dataclasses.replace(q, a=5)),
        [(f.name, f.type, dict(f.metadata)) for f in dataclasses.fields(Plain)],
        dataclasses.is_dataclass(Plain),
        Plain.__match_args__,
        str(inspect.signature(Plain)),
        Plain.__doc__,
        Bare.__doc__,
        Empty.__doc__,
        repr(Empty()),
        Empty() == Empty(),
        hash(Empty()) == hash(()),
        copy.deepcopy(Bare(3, [4])) == Bare(3, [4]),
        Plain.__dataclass_params__.frozen,  # type: ignore[attr-defined]
        Plain.__dataclass_params__.eq,  # type: ignore[attr-defined]
    ]
    nan = float("nan")
    out.append(Bare(nan) == Bare(nan))  # a tuple compares the same object as equal
    loop: list[Any] = []
    b = Bare(loop)
    loop.append(b)
    out.append(repr(b))
    return out


def test_frozen_answers_as_a_frozen_dataclass() -> None:
    assert answers(*OURS) == answers(*THEIRS)


@pytest.mark.parametrize("kind", [OURS, THEIRS])
def test_frozen_refuses_what_a_frozen_dataclass_refuses(kind: tuple[type, type, type]) -> None:
    Plain, Bare, _ = kind
    p = Plain(1)
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'a'"):
        p.a = 2
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'z'"):
        p.z = 2
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'b'"):
        del p.b
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'a'"):
        Plain()
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        Bare(1, nope=2)
    with pytest.raises(TypeError, match="unhashable"):
        hash(Plain(1))  # its dict field, as a dataclass's


def checked(deco: Any) -> type:
    @deco
    class Checked:
        a: int
        b: int = dataclasses.field(default=0, compare=False)
        token: str = dataclasses.field(default="", repr=False)
        c: int = dataclasses.field(default=0, hash=False)

        def __post_init__(self) -> None:
            if self.a < 0:
                raise ValueError("a must not be negative")
            object.__setattr__(self, "a", self.a * 10)

    return Checked


def test_post_init_and_fields_left_out_of_repr_comparison_or_hash() -> None:
    def answers(Checked: type) -> list[Any]:
        return [
            Checked(1) == Checked(1, 5),
            Checked(2).a,
            repr(Checked(1, 2, "secret", 3)),
            hash(Checked(1, 2, "t", 3)) == hash(Checked(1, 7, "t", 4)),
            Checked(1, c=1) == Checked(1, c=2),
            Checked.__doc__,
            str(inspect.signature(Checked)),
        ]

    ours, theirs = checked(frozen), checked(dataclasses.dataclass(frozen=True))
    assert answers(ours) == answers(theirs)
    for kind in (ours, theirs):
        with pytest.raises(ValueError, match="must not be negative"):
            kind(-1)


def test_a_class_it_does_not_cover_is_a_frozen_dataclass_all_the_same() -> None:
    @frozen
    class Later:
        a: int
        b: list[int] = dataclasses.field(default_factory=list, init=False)

    assert Later(1) == Later(1)
    assert Later(1).b == []
    assert "b=[]" in repr(Later(2))
    with pytest.raises(dataclasses.FrozenInstanceError):
        Later(1).a = 3
