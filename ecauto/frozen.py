"""`@frozen`: `@dataclass(frozen=True)`, made for a tenth of the cost.

Python 3.11's dataclass compiles six methods for each frozen class, each from its own source
text (`exec`): about 0.6 ms a class, 35 ms of a `watchdog report`'s start for its 58 classes,
which `circusctl status` does not pay. `frozen` lets dataclasses do everything but the methods
(the fields, their defaults and metadata, `fields()`, `replace()`, `asdict()`, `__match_args__`),
compiles only `__init__`, exactly as dataclasses would write it, and gives the class the other
five as closures with dataclasses' own meaning: `__repr__` (recursion-safe), `__eq__` (same
class, fields compared as one tuple, in order), `__hash__` (of that tuple), and `__setattr__` /
`__delattr__` raising FrozenInstanceError. A class this does not cover (a base class with
fields, an InitVar, keyword-only fields, `__post_init__`, a field left out of the repr,
comparison or hash, a method of its own among those six) is handed to dataclass unchanged.
tests/test_frozen.py holds both kinds of class to the same answers.
"""

from __future__ import annotations

import dataclasses
import reprlib
from collections.abc import Callable
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform

T = TypeVar("T")

_OWN = ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__")


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def frozen(cls: type[T]) -> type[T]:
    if not _simple(cls):
        return dataclasses.dataclass(frozen=True)(cls)
    doc = cls.__dict__.get("__doc__")
    if doc is None:
        cls.__doc__ = "-"  # or dataclass would write one from a signature with no __init__ yet
    # Fields only: no method is generated, nothing is compiled.
    cls = dataclasses.dataclass(init=False, repr=False, eq=False)(cls)
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    compared = tuple(f.name for f in fields if f.compare)
    hashed = tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash))
    setattr_, delattr_ = _guards(cls, frozenset(f.name for f in fields))
    for name, method in (
        ("__init__", _init(cls, fields)),
        ("__repr__", _repr(cls, tuple(f.name for f in fields if f.repr))),
        ("__eq__", _eq(_values(compared))),
        ("__hash__", _hash(_values(hashed))),
        ("__setattr__", setattr_),
        ("__delattr__", delattr_),
    ):
        setattr(cls, name, method)
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    for name, value in (("init", True), ("repr", True), ("eq", True), ("frozen", True)):
        object.__setattr__(params, name, value)
    if doc is None:
        cls.__doc__ = cls.__name__ + _signature(cls, fields)
    return cls


def _signature(cls: type, fields: tuple[dataclasses.Field[Any], ...]) -> str:
    """`str(inspect.signature(cls))` as dataclass puts it in a class's missing docstring, written
    out when every annotation is a string (inspect's text for them is their repr), without
    inspect's cost; asked of inspect otherwise."""
    if not all(isinstance(f.type, str) for f in fields):
        import inspect

        return str(inspect.signature(cls)).replace(" -> None", "")
    params = []
    for f in fields:
        if f.default is not dataclasses.MISSING:
            params.append(f"{f.name}: {f.type!r} = {f.default!r}")
        elif f.default_factory is not dataclasses.MISSING:
            params.append(f"{f.name}: {f.type!r} = {_HAS_DEFAULT_FACTORY!r}")
        else:
            params.append(f"{f.name}: {f.type!r}")
    return f"({', '.join(params)})"


def _simple(cls: type) -> bool:
    """Whether every field is a plain one, and the class asks for nothing but its fields."""
    if any(hasattr(b, "__dataclass_fields__") for b in cls.__mro__[1:]):
        return False
    if any(name in cls.__dict__ for name in _OWN):
        return False
    for name, note in cls.__dict__.get("__annotations__", {}).items():
        text = note if isinstance(note, str) else repr(note)
        if any(word in text for word in ("InitVar", "KW_ONLY", "ClassVar")):
            return False
        f = cls.__dict__.get(name)
        if isinstance(f, dataclasses.Field) and not (f.init and f.kw_only is dataclasses.MISSING):
            return False
    return True


def _init(cls: type, fields: tuple[dataclasses.Field[Any], ...]) -> Callable[..., None]:
    """The one method compiled: dataclasses' own text for a frozen class's __init__."""
    missing = dataclasses.MISSING
    scope: dict[str, Any] = {"__dataclass_builtins_object__": object}
    params, body = [], []
    for f in fields:
        if f.default is not missing:
            scope[f"__dataclass_dflt_{f.name}__"] = f.default
            params.append(f"{f.name}=__dataclass_dflt_{f.name}__")
            value = f.name
        elif f.default_factory is not missing:
            scope[f"__dataclass_dflt_{f.name}__"] = f.default_factory
            scope["__dataclass_HAS_DEFAULT_FACTORY__"] = _HAS_DEFAULT_FACTORY
            params.append(f"{f.name}=__dataclass_HAS_DEFAULT_FACTORY__")
            value = (
                f"__dataclass_dflt_{f.name}__() "
                f"if {f.name} is __dataclass_HAS_DEFAULT_FACTORY__ else {f.name}"
            )
        else:
            params.append(f.name)
            value = f.name
        body.append(f"  __dataclass_builtins_object__.__setattr__(self, {f.name!r}, {value})")
    if hasattr(cls, "__post_init__"):
        body.append("  self.__post_init__()")
    text = f"def __init__(self, {', '.join(params)}):\n" + ("\n".join(body) or "  pass") + "\n"
    ns: dict[str, Any] = {}
    exec(text, scope, ns)  # noqa: S102 - our own text, from the class's field names
    fn: Callable[..., None] = ns["__init__"]
    fn.__qualname__ = f"{cls.__qualname__}.__init__"
    fn.__annotations__ = {**{f.name: f.type for f in fields}, "return": None}
    return fn


def _values(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The fields' values as one tuple, as dataclass compares and hashes them."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda self: (one(self),)
    return lambda _self: ()


class _HasDefaultFactory:
    def __repr__(self) -> str:
        return "<factory>"


_HAS_DEFAULT_FACTORY = _HasDefaultFactory()


def _repr(cls: type, names: tuple[str, ...]) -> Callable[[Any], str]:
    @reprlib.recursive_repr()
    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{self.__class__.__qualname__}({inner})"

    __repr__.__qualname__ = f"{cls.__qualname__}.__repr__"
    return __repr__


def _eq(values: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
    def __eq__(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return values(self) == values(other)
        return NotImplemented

    return __eq__


def _hash(values: Callable[[Any], Any]) -> Callable[[Any], int]:
    def __hash__(self: Any) -> int:
        return hash(values(self))

    return __hash__


def _guards(cls: type, names: frozenset[str]) -> tuple[Callable[..., None], Callable[..., None]]:
    error = dataclasses.FrozenInstanceError

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise error(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)  # type: ignore[arg-type]

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise error(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)  # type: ignore[arg-type]

    return __setattr__, __delattr__
