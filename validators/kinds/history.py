"""Kind judging a training-history metric at the last, the best or a given epoch."""

from __future__ import annotations

import numpy as np

from ..artefacts.history import NoBestEpoch, choose_epoch, metric_values, unvalidated_epochs
from ..errors import ArtefactError
from ..registry import Param, register
from ..result import Outcome

EPOCH = Param("epoch", "epoch", "'last', 'best' (needs monitor and mode) or a 0-based index", default="last")
MONITOR = Param("monitor", "str", "metric choosing the best epoch, e.g. 'val_direction_auc'", role="metric")
MODE = Param("mode", "str", "'max' or 'min': which monitor value is best", choices=("min", "max"))
# EarlyStopping's own parameters, with epoch = "best": None (not stated) takes the run's config's, else Keras's default
MIN_DELTA = Param("min_delta", "number", "with epoch = 'best': EarlyStopping's min_delta, the least change that "
                  "counts as an improvement (default: the config's, else 0)", min=0.0)
START_FROM_EPOCH = Param("start_from_epoch", "int", "with epoch = 'best': EarlyStopping's start_from_epoch, the "
                         "first epoch it monitors (default: the config's, else 0)", min=0)
EARLY_STOPPING_BASELINE = Param("baseline", "number", "with epoch = 'best': EarlyStopping's baseline (default: "
                                "the config's); it changes when training stops, never which epoch is restored")
EARLY_STOPPING = (MIN_DELTA, START_FROM_EPOCH, EARLY_STOPPING_BASELINE)


@register(
    "history",
    params=(
        Param("metric", "str", "metric name as Keras logs it, e.g. 'val_direction_auc'", required=True, role="metric"),
        EPOCH,
        MONITOR,
        MODE,
        *EARLY_STOPPING,
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
def history(run, *, metric, epoch, monitor, mode, min_delta, start_from_epoch, baseline, bound):
    """A training-history metric at the last epoch, the best epoch by a monitor, or an index.

    The best epoch is the one ``EarlyStopping(restore_best_weights=True)`` restores, with its
    ``min_delta``, ``start_from_epoch`` and ``baseline`` as the check states them, else as the run's
    config records them (an ``early_stopping`` mapping at any depth), else Keras's defaults. An
    epoch Keras restored whose monitor was NaN is an error, never another epoch's pass.
    """
    hist = run.history()
    values = metric_values(hist, metric, run.loss_is_nonnegative(metric))
    try:
        index, evidence = choose_epoch(run, epoch, monitor, mode, min_delta=min_delta,
                                       start_from_epoch=start_from_epoch, baseline=baseline)
    except NoBestEpoch as exc:
        if isinstance(exc, ArtefactError):  # Keras restored a NaN epoch: the gate cannot judge that model
            raise
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
        if evidence["epoch_rule"] != f"best by {monitor} ({mode})":
            message += f" ({evidence['epoch_rule']})"
    if nonfinite.any():  # a NaN or inf anywhere in training fails, whatever the judged epoch shows
        epochs = [int(hist.epochs[i]) for i in np.flatnonzero(nonfinite)]
        evidence["nonfinite_epochs"] = epochs[:5]
        evidence["nonfinite_count"] = len(epochs)
        shown = ", ".join(str(e) for e in epochs[:5]) + (", ..." if len(epochs) > 5 else "")
        return Outcome(False, value, f"{message}; but {metric} is not finite (nan or inf) at {len(epochs)} epoch"
                       f"{'s' if len(epochs) > 1 else ''} ({shown}): training was unstable", evidence)
    return Outcome(bound.contains(value), value, message, evidence)


def epoch_params_problem(params):
    """Why ``epoch``, ``monitor``, ``mode`` and EarlyStopping's parameters do not fit together, as
    ``(key, message)``, or None."""
    if params["epoch"] != "best":
        for param in EARLY_STOPPING:
            if params.get(param.name) is not None:
                return param.name, (f"{param.name} is only used with epoch = 'best' (it is EarlyStopping's "
                                    "parameter, deciding which epoch is restored)")
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
