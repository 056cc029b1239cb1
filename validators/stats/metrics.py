"""Metrics the check kinds compute, vectorised; tests hold slow reference versions of each."""

from __future__ import annotations

import numpy as np

STATISTICS = ("mean", "median", "std", "min", "max", "quantile")


def roc_auc(labels, scores) -> float:
    """Exact ROC AUC (Mann-Whitney U with average ranks for tied scores).

    ``labels`` must hold only 0 and 1 with both present; ``scores`` must be finite.
    Raises ``ValueError`` otherwise: an undefined AUC is never returned as a number.
    """
    y = np.asarray(labels, dtype=np.float64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"{y.size} labels but {s.size} scores")
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or inf")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("labels must be 0 or 1")
    n_pos = int((y == 1.0).sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"AUC is undefined with a single class ({n_pos} positives, {n_neg} negatives)")
    ranks = average_ranks(s)
    u = ranks[y == 1.0].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def average_ranks(values) -> np.ndarray:
    """1-based ranks, ties sharing the average of the ranks they span."""
    x = np.asarray(values, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    starts = np.r_[True, sorted_x[1:] != sorted_x[:-1]]
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    counts = np.diff(np.r_[first, x.size])
    avg = first + (counts + 1) / 2.0  # average of 1-based ranks first+1 .. first+count
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = avg[group]
    return ranks


def beyond_level(values, level: float, side: str = "above", inclusive: bool = False) -> np.ndarray:
    """Mask of values above (or below) ``level``; NaN is never beyond."""
    x = np.asarray(values, dtype=np.float64)
    if side == "above":
        return x >= level if inclusive else x > level
    if side == "below":
        return x <= level if inclusive else x < level
    raise ValueError(f"side must be 'above' or 'below', got {side!r}")


def column_statistic(values, stat: str, q: float | None = None, ddof: int = 0) -> float:
    """``stat`` of finite ``values``; raises ``ValueError`` on empty or non-finite input."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        raise ValueError("no values")
    if not np.isfinite(x).all():
        raise ValueError("values contain NaN or inf")
    if stat == "mean":
        return float(np.mean(x))
    if stat == "median":
        return float(np.median(x))
    if stat == "std":
        if x.size <= ddof:
            raise ValueError(f"std with ddof={ddof} needs more than {ddof} values")
        return float(np.std(x, ddof=ddof))
    if stat == "min":
        return float(np.min(x))
    if stat == "max":
        return float(np.max(x))
    if stat == "quantile":
        if q is None or not (0.0 <= q <= 1.0):
            raise ValueError(f"quantile needs q in [0, 1], got {q!r}")
        return float(np.quantile(x, q))
    raise ValueError(f"unknown statistic {stat!r}; expected one of {', '.join(STATISTICS)}")
