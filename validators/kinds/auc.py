"""Kind computing the exact ROC AUC from predictions and labels."""

from __future__ import annotations

import numpy as np

from ..errors import GateError
from ..registry import Param, register
from ..result import Outcome
from ..stats.metrics import roc_auc
from .evidence import first_rows


@register(
    "auc",
    params=(
        Param("column", "str", "predicted probability column, e.g. 'direction'", required=True, role="column"),
        Param("label_column", "str", "0/1 label column, e.g. 'y_direction'; by default the head's label found by "
              "the layout (y_H, H_true, true_H, H_label, label_H, H_target, target_H, y_true_H)", role="column"),
        Param("element", "int", "element to pick from array cells of the score column", min=0),
        Param("history_metric", "str",
              "the logged Keras AUC to show beside it (best epoch), e.g. 'val_direction_auc'", role="metric"),
    ),
    artefacts=("predictions",),
    observes="exact ROC AUC",
    example="""
        [[check]]
        id = "direction-auc-exact"
        kind = "auc"
        severity = "must"
        column = "direction"          # the head; its label is found: y_direction, direction_true, ...
        history_metric = "val_direction_auc"
        ge = 0.65
    """,
)
def auc(run, *, column, label_column, element, history_metric, bound):
    """Exact ROC AUC of a probability column against 0/1 labels (ties share average ranks).

    Keras' ``AUC`` metric approximates with 200 thresholds; when ``history_metric`` is given,
    its value at the best epoch is shown beside the exact one, for information only.
    """
    score_column = run.column(column, element)
    label = run.raw_column(label_column) if label_column is not None else run.label(column)
    scores, labels = score_column.values, label.values
    label_column = label.name
    evidence = {"rows": int(scores.size), "column": score_column.name, "label_column": label_column}
    bad_score = ~np.isfinite(scores)
    if bad_score.any():
        evidence["first_rows"] = first_rows(bad_score, scores)
        return Outcome(False, None, f"{int(bad_score.sum())} scores in {column!r} are NaN, inf or missing", evidence)
    outside = (scores < 0) | (scores > 1)
    if outside.any():
        evidence["first_rows"] = first_rows(outside, scores)
        return Outcome(False, None, f"{int(outside.sum())} scores in {column!r} are outside [0, 1]", evidence)
    bad_label = ~np.isin(labels, (0.0, 1.0))
    if bad_label.any():
        evidence["first_rows"] = first_rows(bad_label, labels)
        return Outcome(False, None, f"{int(bad_label.sum())} labels in {label_column!r} are not 0 or 1", evidence)
    positives = int((labels == 1).sum())
    evidence.update(positives=positives, negatives=int(labels.size) - positives)
    if positives in (0, labels.size):
        return Outcome(False, None, f"AUC is undefined: {label_column!r} holds a single class", evidence)
    value = roc_auc(labels, scores)
    message = f"exact AUC of {column!r} vs {label_column!r} is {value!r}"
    if history_metric:
        message += _logged(run, history_metric, value, evidence, column)
    return Outcome(bound.contains(value), value, message, evidence)


def _num_thresholds(run, head):
    """``(thresholds, where)`` of the AUC metric training used for ``head``: from the saved model's
    compile configuration when it records one, else Keras' default of 200."""
    try:
        metrics = run.model().compile.values.get("metrics", {}).get(head, {})
    except GateError:
        metrics = {}
    for config in metrics.values():
        if config.get("class_name") == "AUC" and isinstance(config.get("num_thresholds"), int):
            return config["num_thresholds"], "the model's compile configuration"
    return 200, "Keras' default"


def _logged(run, metric, exact, evidence, head) -> str:
    try:
        values = run.history().metrics[metric]
    except (GateError, KeyError) as exc:
        evidence["logged_auc_unavailable"] = str(exc)
        return ""
    finite = np.isfinite(values)
    if not finite.any():
        return ""
    best = float(np.max(values[finite]))
    thresholds, source = _num_thresholds(run, head)
    evidence.update(logged_metric=metric, logged_best=best, logged_last=float(values[-1]),
                    exact_minus_logged_best=exact - best, logged_num_thresholds=thresholds,
                    logged_num_thresholds_from=source)
    return f" (Keras logged {metric} best {best!r}, a {thresholds}-threshold approximation)"


def _auc_params(params):
    if params["label_column"] is not None and params["label_column"] == params["column"]:
        return "label_column", (f"label_column {params['label_column']!r} is the score column itself: the AUC of a "
                                "column against itself is 1.0 whatever the model did")
    return None


auc.validate_params = _auc_params
