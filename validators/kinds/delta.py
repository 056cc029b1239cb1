"""Kind bounding a history metric's change against the baseline run."""

from __future__ import annotations

from ..baseline import NoBaseline, better_direction, history_delta
from ..errors import ArtefactError
from ..registry import Param, register
from ..result import Outcome
from .history import EPOCH, MIN_DELTA, MODE, MONITOR, START_FROM_EPOCH, epoch_params_problem


@register(
    "delta",
    params=(
        Param("metric", "str", "history metric, e.g. 'val_direction_auc'", required=True, role="metric"),
        EPOCH,
        MONITOR,
        MODE,
        MIN_DELTA,
        START_FROM_EPOCH,
        Param("change", "str", "'absolute' (candidate - baseline) or 'relative' ((candidate - baseline) / |baseline|)",
              default="absolute", choices=("absolute", "relative")),
    ),
    artefacts=("history",),
    observes="change against the baseline (candidate - baseline, or relative)",
    example="""
        [[check]]
        id = "direction-auc-vs-baseline"
        kind = "delta"
        severity = "must"
        metric = "val_direction_auc"
        epoch = "best"
        monitor = "val_direction_auc"
        mode = "max"
        ge = -0.01        # may drop at most 0.01
    """,
)
def delta(run, *, metric, epoch, monitor, mode, min_delta, start_from_epoch, change, bound):
    """A history metric's change against the baseline run (``--baseline``), bounded.

    Without a baseline the check is an error, unless the spec's ``[baseline]`` table says
    ``allow_first_run = true``: then the candidate's own metric is still read (a missing history
    or a misspelt metric is an error, never a pass), and the check passes saying it was not compared.
    With ``epoch = "best"``, both runs' best epochs are the ones EarlyStopping restores, as the
    ``history`` kind chooses them (``min_delta`` and ``start_from_epoch`` from the check, else from
    each run's config).
    """
    early_stopping = {"min_delta": min_delta, "start_from_epoch": start_from_epoch}
    try:
        value, evidence = history_delta(run, metric, epoch, monitor, mode, change, **early_stopping)
    except NoBaseline as exc:
        if run.allow_first_run:
            from ..artefacts.history import NoBestEpoch

            try:
                candidate, epoch_index = run.metric_at(metric, epoch, monitor, mode, **early_stopping)
            except NoBestEpoch as why:  # a value problem, as the history kind says: fail, never pass
                if isinstance(why, ArtefactError):  # Keras restored a NaN epoch: an error, as the history kind says
                    raise
                return Outcome(False, None, f"not compared, and the candidate has no {epoch} epoch: {why}",
                               {"compared": False})
            return Outcome(True, None, f"not compared: no baseline given, and the spec allows a first run "
                           f"({metric} = {candidate!r} at epoch {epoch_index})",
                           {"compared": False, "candidate": candidate, "candidate_epoch": epoch_index})
        raise ArtefactError(run.root, f"{exc}; or set allow_first_run = true in the spec's [baseline] table") \
            from None
    evidence["compared"] = True
    evidence["better"] = better_direction(metric)
    if value is None:
        return Outcome(False, None, f"{metric}: {evidence['note']}", evidence)
    word = "relative change" if change == "relative" else "change"
    message = (f"{metric} {word} {value!r}: {evidence['candidate']!r} (epoch {evidence['candidate_epoch']}) "
               f"vs baseline {evidence['baseline']!r} (epoch {evidence['baseline_epoch']})")
    return Outcome(bound.contains(value), value, message, evidence)


delta.validate_params = epoch_params_problem
