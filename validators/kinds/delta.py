"""Kind bounding a history metric's change against the baseline run."""

from __future__ import annotations

from ..baseline import NoBaseline, better_direction, history_delta
from ..registry import Param, register
from ..result import Outcome
from .history import EPOCH, MODE, MONITOR, epoch_params_problem


@register(
    "delta",
    params=(
        Param("metric", "str", "history metric, e.g. 'val_direction_auc'", required=True, role="metric"),
        EPOCH,
        MONITOR,
        MODE,
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
def delta(run, *, metric, epoch, monitor, mode, change, bound):
    """A history metric's change against the baseline run (``--baseline``), bounded.

    Without a baseline the check is an error, unless the spec's ``[baseline]`` table says
    ``allow_first_run = true``: then it passes and says it was not compared.
    """
    try:
        value, evidence = history_delta(run, metric, epoch, monitor, mode, change)
    except NoBaseline as exc:
        if run.allow_first_run:
            return Outcome(True, None, "not compared: no baseline given, and the spec allows a first run",
                           {"compared": False})
        from ..errors import ArtefactError

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
