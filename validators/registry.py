"""Check kinds: one small function each, registered in a plain dict with its parameters as data.

A kind function takes the run (``validators.run.Run``) and its parameters as keywords, and
returns an ``Outcome``; it raises ``ArtefactError`` when an artefact it needs is unusable.
Registration refuses a duplicate name and a declared parameter the function does not take.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .bounds import is_number

_MISSING = object()


@dataclass(frozen=True)
class Param:
    """One parameter of a check kind, as the spec writes it.

    ``type`` is one of "str", "number", "int", "bool", "any", "epoch" (``"last"``, ``"best"``
    or an integer index), "number_or_list". ``role="column"`` marks a predictions column the
    gate must read (a head, bound to the run's column by the layout); ``role="metric"`` a history
    metric a check judges.
    """

    name: str
    type: str
    doc: str
    required: bool = False
    default: Any = None
    choices: tuple | None = None
    min: float | None = None
    max: float | None = None
    role: str | None = None


@dataclass(frozen=True)
class Kind:
    name: str
    func: Callable
    params: tuple[Param, ...]
    artefacts: tuple[str, ...]
    bounded: bool
    observes: str
    doc: str
    example: str

    def param(self, name):
        for p in self.params:
            if p.name == name:
                return p
        return None


KINDS: dict[str, Kind] = {}


def register(name, *, params=(), artefacts=(), bounded=True, observes="", example=""):
    """Register ``func`` as check kind ``name``. ``bounded`` kinds need gt/ge/lt/le keys."""

    def decorate(func):
        if name in KINDS:
            raise ValueError(f"check kind {name!r} is already registered by {KINDS[name].func!r}")
        accepted = set(inspect.signature(func).parameters) - {"run"}
        declared = {p.name for p in params}
        if bounded:
            declared.add("bound")
        missing = declared - accepted
        if missing:
            raise TypeError(f"kind {name!r}: {func.__name__} does not take declared {sorted(missing)}")
        undeclared = accepted - declared
        if undeclared:
            raise TypeError(f"kind {name!r}: parameters {sorted(undeclared)} are not declared")
        KINDS[name] = Kind(
            name=name,
            func=func,
            params=tuple(params),
            artefacts=tuple(artefacts),
            bounded=bounded,
            observes=observes,
            doc=inspect.cleandoc(func.__doc__ or ""),
            example=inspect.cleandoc(example),
        )
        return func

    return decorate


def type_error(param: Param, value) -> str | None:
    """Why ``value`` does not fit ``param``, or None when it does."""
    t = param.type
    if t == "str":
        ok = isinstance(value, str) and value != ""
        want = "a non-empty string"
    elif t == "number":
        ok = is_number(value)
        want = "a number"
    elif t == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
        want = "an integer"
    elif t == "bool":
        ok = isinstance(value, bool)
        want = "true or false"
    elif t == "epoch":
        ok = value in ("last", "best") or (isinstance(value, int) and not isinstance(value, bool))
        want = '"last", "best" or an integer epoch index'
    elif t == "number_list":
        ok = isinstance(value, list) and len(value) > 0 and all(is_number(v) for v in value)
        want = "a non-empty list of numbers"
    elif t == "any":
        ok = True
        want = "a value"
    else:  # pragma: no cover - a registration mistake
        raise ValueError(f"unknown parameter type {t!r}")
    if not ok:
        return f"must be {want}, got {value!r}"
    if param.choices is not None and value not in param.choices:
        return f"must be one of {', '.join(repr(c) for c in param.choices)}, got {value!r}"
    if is_number(value) and t in ("number", "int"):
        import math

        if not math.isfinite(float(value)):
            return f"must be finite, got {value!r}"
        if param.min is not None and value < param.min:
            return f"must be >= {param.min!r}, got {value!r}"
        if param.max is not None and value > param.max:
            return f"must be <= {param.max!r}, got {value!r}"
    return None
