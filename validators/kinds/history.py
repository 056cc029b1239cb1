"""Kind judging a training-history metric at the last, the best or a given epoch."""

from __future__ import annotations

import numpy as np

from ..artefacts.history import NoBestEpoch, metric_values, pick_epoch, unvalidated_epochs
from ..registry import Param, register
from ..result import Outcome

EPOCH = Param("epoch", "epoch", "'last', 'best' (needs monitor and mode) or a 0-based index", default="last")
MONITOR = Param("monitor", "str", "metric choosing the best epoch, e.g. 'val_direction_auc'", role="metric")
MODE = Param("mode", "str", "'max' or 'min': which monitor value is best", choices=("min", "max"))


@register(
    "history",
    params=(
        Param("metric", "str", "metric name as Keras logs it, e.g. 'val_direction_auc'", required=True, role="metric"),
        EPOCH,
        MONITOR,
        MODE,
    ),
    artefacts=("history",),
    observes="the metric's value at the chosen epoch",
    example="""
        [[check]]
        id = "volatility-loss"
        kind = "history"
        severity = "must"
        metric = "volatility_loss"
        epoch = "last"
        lt = 0.01         # plan: "volatility_loss should be < 0.01"
    """,
)
def history(run, *, metric, epoch, monitor, mode, bound):
    """A training-history metric at the last epoch, the best epoch by a monitor, or an index."""
    hist = run.history()
    values = metric_values(hist, metric, run.loss_is_nonnegative(metric))
    try:
        index, evidence = pick_epoch(hist, epoch, monitor, mode)
    except NoBestEpoch as exc:
        return Outcome(False, None, str(exc), {"file": hist.path})
    nonfinite = ~np.isfinite(values)
    skipped = unvalidated_epochs(hist) if metric.startswith("val_") else np.empty(0, dtype=np.int64)
    note = ""
    if skipped.size:  # validation_freq > 1: val_* metrics exist only on validated epochs
        nonfinite[skipped] = False
        if epoch == "last" and index in set(skipped.tolist()):
            validated = np.setdiff1d(np.arange(hist.n_epochs), skipped)
            if validated.size:
                index = int(validated[-1])
                evidence["epoch_rule"] = "last validated"
        note = (f" ({skipped.size} epoch{'s' if skipped.size > 1 else ''} without validation skipped: "
                f"{', '.join(str(int(hist.epochs[i])) for i in skipped[:5])}{', ...' if skipped.size > 5 else ''})")
        evidence["epochs_without_validation"] = [int(hist.epochs[i]) for i in skipped[:20]]
    value = float(values[index])
    recorded = int(hist.epochs[index])
    evidence.update(file=hist.path, source=hist.source, epoch=recorded, epochs=hist.n_epochs)
    message = f"{metric} = {value!r} at epoch {recorded} ({evidence['epoch_rule']}){note}"
    if epoch == "best" and monitor == metric:
        message = f"{metric} = {value!r} at its best epoch {recorded}{note}"
    if nonfinite.any():  # a NaN or inf anywhere in training fails, whatever the judged epoch shows
        epochs = [int(hist.epochs[i]) for i in np.flatnonzero(nonfinite)]
        evidence["nonfinite_epochs"] = epochs[:5]
        evidence["nonfinite_count"] = len(epochs)
        shown = ", ".join(str(e) for e in epochs[:5]) + (", ..." if len(epochs) > 5 else "")
        return Outcome(False, value, f"{message}; but {metric} is not finite (nan or inf) at {len(epochs)} epoch"
                       f"{'s' if len(epochs) > 1 else ''} ({shown}): training was unstable", evidence)
    return Outcome(bound.contains(value), value, message, evidence)


def epoch_params_problem(params):
    """Why ``epoch``, ``monitor`` and ``mode`` do not fit together, as ``(key, message)``, or None."""
    if params["epoch"] == "best":
        if params["monitor"] is None:
            return "epoch", "epoch = 'best' needs monitor, the metric that chooses the best epoch"
        if params["mode"] is None:
            return "epoch", "epoch = 'best' needs mode = 'max' or 'min'"
    elif params["monitor"] is not None or params["mode"] is not None:
        key = "monitor" if params["monitor"] is not None else "mode"
        return key, f"{key} is only used with epoch = 'best'"
    return None


history.validate_params = epoch_params_problem
