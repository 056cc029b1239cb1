"""Kind judging a training-history metric at the last, the best or a given epoch."""

from __future__ import annotations

import numpy as np

from ..errors import ArtefactError
from ..registry import Param, register
from ..result import Outcome


def pick_epoch(history, epoch, monitor=None, mode=None) -> tuple[int, dict]:
    """Index of the epoch to judge and evidence on how it was chosen.

    ``"best"`` is the epoch ``EarlyStopping(restore_best_weights=True)`` keeps: the first
    epoch with the best finite ``monitor`` value (NaN never counts as best).
    """
    n = history.n_epochs
    if epoch == "last":
        return n - 1, {"epoch_rule": "last"}
    if epoch == "best":
        values = metric_values(history, monitor)
        finite = np.isfinite(values)
        if not finite.any():
            raise NoBestEpoch(f"monitor {monitor!r} has no finite value in {n} epochs")
        masked = np.where(finite, values, -np.inf if mode == "max" else np.inf)
        index = int(np.argmax(masked) if mode == "max" else np.argmin(masked))
        return index, {"epoch_rule": f"best by {monitor} ({mode})", "monitor_value": float(values[index])}
    index = int(epoch)
    if not -n <= index < n:
        raise ArtefactError(history.path, f"epoch index {index} is outside the history's {n} epochs")
    return index % n, {"epoch_rule": f"index {index}"}


class NoBestEpoch(Exception):
    """The monitor has no finite value: no epoch can be called the best."""


EPOCH = Param("epoch", "epoch", "'last', 'best' (needs monitor and mode) or a 0-based index", default="last")
MONITOR = Param("monitor", "str", "metric choosing the best epoch, e.g. 'val_direction_auc'")
MODE = Param("mode", "str", "'max' or 'min': which monitor value is best", choices=("min", "max"))


def metric_values(history, name) -> np.ndarray:
    if name not in history.metrics:
        raise ArtefactError(history.path, f"no metric {name!r} in the history; found "
                            + ", ".join(repr(m) for m in history.names()))
    return history.metrics[name]


@register(
    "history",
    params=(
        Param("metric", "str", "metric name as Keras logs it, e.g. 'val_direction_auc'", required=True),
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
    values = metric_values(hist, metric)
    try:
        index, evidence = pick_epoch(hist, epoch, monitor, mode)
    except NoBestEpoch as exc:
        return Outcome(False, None, str(exc), {"file": hist.path})
    value = float(values[index])
    recorded = int(hist.epochs[index])
    nonfinite = ~np.isfinite(values)
    evidence.update(file=hist.path, source=hist.source, epoch=recorded, epochs=hist.n_epochs)
    message = f"{metric} = {value!r} at epoch {recorded} ({evidence['epoch_rule']})"
    if epoch == "best" and monitor == metric:
        message = f"{metric} = {value!r} at its best epoch {recorded}"
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
