"""Comparison of a candidate run with a baseline run: values, deltas, which way is better.

Every history metric (at its last epoch) and every check's numeric observed value is put
side by side with the baseline's. Which way is better comes from the name, as in
scikit-learn (``*_score`` higher, ``*_loss``/``*_error`` lower): see ``better_direction``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .artefacts.history import NoBestEpoch
from .bounds import is_finite_number, is_number
from .errors import ArtefactError, GateError

HIGHER_IS_BETTER = ("auc", "acc", "accuracy", "precision", "recall", "f1", "score", "sharpe", "psr", "dsr")
LOWER_IS_BETTER = ("loss", "error", "mae", "mse", "rmse", "mape", "pbo", "crossentropy")


def better_direction(name: str) -> str | None:
    """``"higher"``, ``"lower"`` or None (unknown) for a metric or check name."""
    words = name.lower().replace("-", "_").split("_")
    for word in reversed(words):  # the last word decides: val_direction_auc -> auc
        if word in HIGHER_IS_BETTER:
            return "higher"
        if word in LOWER_IS_BETTER:
            return "lower"
    return None


@dataclass(frozen=True)
class Delta:
    name: str
    source: str  # "history" (value at the last epoch) or "check" (observed value)
    candidate: float | None
    baseline: float | None
    delta: float | None  # candidate - baseline
    relative: float | None  # delta / |baseline|, None when the baseline is 0
    better: str | None  # "higher", "lower" or None
    change: str  # "improved", "worse", "same", "changed" (direction unknown) or "not compared"


@dataclass(frozen=True)
class Comparison:
    baseline_dir: str
    rows: tuple[Delta, ...]
    baseline_verdict: str | None
    baseline_results: tuple = ()

    def row(self, name: str, source: str | None = None) -> Delta | None:
        for r in self.rows:
            if r.name == name and (source is None or r.source == source):
                return r
        return None


def make_delta(name, source, candidate, baseline, better=None) -> Delta:
    better = better if better is not None else better_direction(name)
    if not (is_finite_number(candidate) and is_finite_number(baseline)):
        return Delta(name, source, _num(candidate), _num(baseline), None, None, better, "not compared")
    c, b = float(candidate), float(baseline)
    d = c - b
    rel = d / abs(b) if b != 0 else None
    if d == 0:
        change = "same"
    elif better is None:
        change = "changed"
    else:
        change = "improved" if (d > 0) == (better == "higher") else "worse"
    return Delta(name, source, c, b, d, rel, better, change)


def _num(value):
    return float(value) if is_finite_number(value) or (isinstance(value, float) and math.isnan(value)) else None


def compare(candidate_report, baseline_report) -> Comparison:
    """Side by side: each history metric at its last epoch, then each check's observed value."""
    rows = []
    cand_hist = _history(candidate_report.run)
    base_hist = _history(baseline_report.run)
    if cand_hist is not None and base_hist is not None:
        for name in sorted(set(cand_hist.metrics) & set(base_hist.metrics)):
            rows.append(make_delta(name, "history", float(cand_hist.metrics[name][-1]),
                                   float(base_hist.metrics[name][-1])))
    base_by_id = {r.id: r for r in baseline_report.results}
    for result in candidate_report.results:
        other = base_by_id.get(result.id)
        if other is None or not (_numeric(result.observed) or _numeric(other.observed)):
            continue
        rows.append(make_delta(result.id, "check", result.observed, other.observed,
                               better=_check_direction(result, candidate_report.spec)))
    return Comparison(baseline_report.run_dir, tuple(rows), baseline_report.verdict, baseline_report.results)


def _numeric(value) -> bool:
    return is_number(value)  # numpy scalars too (np.float32, np.int64), never bool


def _history(run):
    if run is None:
        return None
    try:
        return run.history()
    except GateError:
        return None


def _check_direction(result, spec) -> str | None:
    """A check bounded only below wants higher values; only above, lower."""
    for check in spec.checks:
        if check.id == result.id and check.bound is not None:
            low, high = check.bound.lower, check.bound.upper
            if result.kind == "range":
                return "lower"  # observes the share outside the bound
            if low and not high:
                return "higher"
            if high and not low:
                return "lower"
    return better_direction(result.id)


def history_delta(run, metric, epoch="last", monitor=None, mode=None, change="absolute", *, min_delta=None,
                  start_from_epoch=None):
    """``(value, evidence)`` of a history metric's change against the run's baseline.

    ``min_delta`` and ``start_from_epoch`` (None: each run's config's, else Keras's default) choose
    the best epoch as ``EarlyStopping`` restores it (``Run.metric_at``).

    Raises ``ArtefactError`` when either history cannot be read or lacks the metric, and
    ``NoBaseline`` when the run has no baseline.
    """
    if run.baseline is None:
        raise NoBaseline("no baseline run was given (--baseline BASELINE_DIR)")
    values = []
    evidence = {"metric": metric, "change": change}
    for label, which in (("candidate", run), ("baseline", run.baseline)):
        try:
            value, recorded = which.metric_at(metric, epoch, monitor, mode, min_delta=min_delta,
                                              start_from_epoch=start_from_epoch)
        except NoBestEpoch as exc:  # no finite monitor value
            if isinstance(exc, ArtefactError):  # Keras restored a NaN epoch: the message names the history
                raise
            raise ArtefactError(which.history().path, f"cannot choose the {epoch} epoch: {exc}") from None
        values.append(value)
        evidence[label] = value
        evidence[f"{label}_epoch"] = recorded
    cand, base = values
    delta = cand - base
    if change == "relative":
        if base == 0 or not np.isfinite(base):
            return None, {**evidence, "note": "relative change undefined: the baseline value is 0 or not finite"}
        value = delta / abs(base)
    else:
        value = delta
    evidence["delta"] = delta
    return value, evidence


class NoBaseline(Exception):
    pass
