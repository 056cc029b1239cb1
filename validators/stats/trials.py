"""Strategy trials built from direction probabilities and realised forward returns.

A trial is one confidence threshold ``c`` in [0.5, 1]: long when ``p >= c``, short when
the confidence in a fall ``1 - p >= c``, flat otherwise (at ``c = 0.5`` a probability of
exactly 0.5 is both, and is flat). Both sides compare a confidence with ``c`` the same way,
so ``p = 0.45`` is short at ``c = 0.55`` exactly as ``p = 0.55`` is long (``p <= 1 - c``
would not be: ``1 - 0.55`` is ``0.44999999999999996`` in binary floating point). Each period's return is ``position * forward_return`` minus ``cost`` per unit of
turnover ``|position_t - position_{t-1}|`` (the book starts flat).
"""

from __future__ import annotations

import math

import numpy as np

DEFAULT_THRESHOLDS = tuple(round(0.50 + 0.01 * i, 2) for i in range(21))  # 0.50 .. 0.70


def trial_name(threshold: float) -> str:
    """Column name of the trial for one threshold, e.g. ``c=0.55``; exact, so distinct
    thresholds never share a name (``c=1`` and ``c=0.9999999999999999``)."""
    short = f"{threshold:g}"
    return f"c={short}" if float(short) == threshold else f"c={float(threshold)!r}"


def threshold_positions(probability: np.ndarray, threshold: float) -> np.ndarray:
    """Positions (+1, 0, -1) for one threshold."""
    p = np.asarray(probability, dtype=np.float64)
    long = p >= threshold
    short = (1.0 - p) >= threshold
    return long.astype(np.int8) - short.astype(np.int8)


def check_thresholds(thresholds) -> list[float]:
    """The thresholds as floats; ``ValueError`` unless distinct, in [0.5, 1], at least one."""
    cs = [float(c) for c in thresholds]
    if not cs:
        raise ValueError("no thresholds given")
    if len(set(cs)) != len(cs):
        raise ValueError(f"duplicate thresholds in {cs!r}")
    for c in cs:
        if not (0.5 <= c <= 1.0):
            raise ValueError(f"threshold {c!r} is outside [0.5, 1]")
    return cs


def check_cost(cost) -> None:
    """``ValueError`` unless the cost per unit of turnover is a finite number >= 0."""
    if not (math.isfinite(cost) and cost >= 0):
        raise ValueError(f"cost must be a finite number >= 0, got {cost!r}")


def threshold_trials(probability, forward_return, thresholds=DEFAULT_THRESHOLDS, cost: float = 0.0):
    """Return a T x N ``pandas.DataFrame`` of trial returns, one column per threshold.

    Raises ``ValueError`` as ``threshold_trial_matrix`` does.
    """
    import pandas as pd

    names, matrix = threshold_trial_matrix(probability, forward_return, thresholds, cost)
    return pd.DataFrame({name: matrix[:, j] for j, name in enumerate(names)}, columns=list(names))


def threshold_trial_matrix(probability, forward_return, thresholds=DEFAULT_THRESHOLDS, cost: float = 0.0):
    """``(names, matrix)``: trial names and a T x N float64 array of trial returns (no pandas).

    Raises ``ValueError`` for inputs that would make trials meaningless: different lengths,
    non-finite probabilities or returns, probabilities outside [0, 1], thresholds outside
    [0.5, 1], duplicate thresholds, or a negative or non-finite cost.
    """
    p = np.asarray(probability, dtype=np.float64).ravel()
    r = np.asarray(forward_return, dtype=np.float64).ravel()
    if p.shape != r.shape:
        raise ValueError(f"probability has {p.size} rows but forward_return has {r.size}")
    if p.size == 0:
        raise ValueError("no rows to build trials from")
    if not np.isfinite(p).all():
        raise ValueError(f"probability has {int((~np.isfinite(p)).sum())} non-finite values")
    if not np.isfinite(r).all():
        raise ValueError(f"forward_return has {int((~np.isfinite(r)).sum())} non-finite values")
    if (p < 0).any() or (p > 1).any():
        raise ValueError("probability has values outside [0, 1]")
    cs = check_thresholds(thresholds)
    check_cost(cost)

    matrix = np.empty((p.size, len(cs)), dtype=np.float64)
    for j, c in enumerate(cs):
        pos = threshold_positions(p, c).astype(np.float64)
        turnover = np.abs(np.diff(pos, prepend=0.0))
        matrix[:, j] = pos * r - cost * turnover
    return tuple(trial_name(c) for c in cs), matrix
