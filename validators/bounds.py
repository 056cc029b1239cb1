"""Bounds on an observed number: ``gt``/``ge`` below, ``lt``/``le`` above.

A value satisfies a bound only when it is a finite number and every comparison is true:
NaN, inf, None and non-numbers never pass (``nan < 0.3`` is False; so is "not above").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

BOUND_KEYS = ("gt", "ge", "lt", "le")
_SYMBOL = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def is_number(value) -> bool:
    """True for int and float (and numpy scalars) but not bool."""
    return isinstance(value, Real) and not isinstance(value, bool)


def is_finite_number(value) -> bool:
    if not is_number(value):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int too large for a float
        return False


@dataclass(frozen=True)
class Bound:
    """At most one lower (``gt`` or ``ge``) and one upper (``lt`` or ``le``) limit."""

    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None

    def __post_init__(self):
        for key in BOUND_KEYS:
            value = getattr(self, key)
            if value is None:
                continue
            if not is_number(value):
                raise ValueError(f"bound {key} must be a number, got {value!r}")
            if not is_finite_number(value):
                raise ValueError(f"bound {key} must be finite, got {value!r}")
        if self.gt is not None and self.ge is not None:
            raise ValueError("give at most one lower bound: gt or ge, not both")
        if self.lt is not None and self.le is not None:
            raise ValueError("give at most one upper bound: lt or le, not both")
        low, high = self.lower, self.upper
        if low is not None and high is not None:
            (low_key, low_value), (high_key, high_value) = low, high
            empty = low_value > high_value or (
                low_value == high_value and (low_key == "gt" or high_key == "lt")
            )
            if empty:
                raise ValueError(
                    f"no value can satisfy {low_key}={low_value!r} and {high_key}={high_value!r} "
                    "(the lower bound is above the upper bound)"
                )

    @classmethod
    def from_mapping(cls, mapping) -> Bound:
        return cls(**{key: mapping[key] for key in BOUND_KEYS if key in mapping})

    @property
    def lower(self):
        if self.gt is not None:
            return ("gt", self.gt)
        if self.ge is not None:
            return ("ge", self.ge)
        return None

    @property
    def upper(self):
        if self.lt is not None:
            return ("lt", self.lt)
        if self.le is not None:
            return ("le", self.le)
        return None

    @property
    def is_empty(self) -> bool:
        return self.lower is None and self.upper is None

    def contains(self, value) -> bool:
        """True only for a finite number satisfying every limit."""
        if not is_finite_number(value):
            return False
        x = float(value)
        if self.gt is not None and not x > self.gt:
            return False
        if self.ge is not None and not x >= self.ge:
            return False
        if self.lt is not None and not x < self.lt:
            return False
        return self.le is None or x <= self.le

    def mask(self, values):
        """Vectorised ``contains`` over a numpy array: NaN and inf are outside."""
        import numpy as np

        x = np.asarray(values, dtype=np.float64)
        inside = np.isfinite(x)
        if self.gt is not None:
            inside &= x > self.gt
        if self.ge is not None:
            inside &= x >= self.ge
        if self.lt is not None:
            inside &= x < self.lt
        if self.le is not None:
            inside &= x <= self.le
        return inside

    def describe(self, name: str = "x") -> str:
        """``0 <= x <= 0.15``, ``x < 0.01``, ``x >= 0.65``: exact values, never rounded."""
        low, high = self.lower, self.upper
        if low and high:
            low_sym = "<" if low[0] == "gt" else "<="
            return f"{_exact(low[1])} {low_sym} {name} {_SYMBOL[high[0]]} {_exact(high[1])}"
        if low:
            return f"{name} {_SYMBOL[low[0]]} {_exact(low[1])}"
        if high:
            return f"{name} {_SYMBOL[high[0]]} {_exact(high[1])}"
        return "no bound"

    def as_dict(self) -> dict:
        return {key: getattr(self, key) for key in BOUND_KEYS if getattr(self, key) is not None}


def _exact(value) -> str:
    """``repr`` of a limit as Python writes it (numpy 2 would say ``np.float64(0.15)``)."""
    return repr(value.item() if hasattr(value, "item") else value)
