"""Hypothesis strategies for run artefacts in the plan's formats, valid and deliberately broken.

For property tests of gates: a gate should pass every healthy run, parse every valid one, and
never pass a broken one::

    from hypothesis import given
    from validators.strategies import predictions_frames, write_csv

    @given(predictions_frames(broken=True))
    def test_my_gate_never_passes_a_broken_file(tmp_path_factory, frame):
        ...  # write_csv(frame, run_dir / "predictions.csv"), run the gate, assert it does not pass

* ``predictions_frames``: one row per sample, the plan's outputs ``direction``,
  ``volatility``, ``magnitude`` as text cells the way pandas writes a one-row
  ``model.predict`` array (``[0.0123]``, ``[1.e-05]``) or plain numbers, and the labels
  ``y_direction``, ``y_volatility``, ``y_magnitude``.
* ``keras_histories`` (``History.history``: metric -> list of per-epoch values) and
  ``history_frames`` (the same as a Keras ``CSVLogger`` file: ``epoch`` first, then the
  metrics in sorted order).
* ``returns_matrices``: strategy returns, one column per trial, one row per period.
* ``specs``: the TOML text of gate specs.
* ``PLAN_SPEC``: the plan's checks on predictions, history and config, which every run drawn
  with ``healthy=True`` passes.

Every strategy takes ``broken=True`` for one deliberate defect per example (``defects=``
narrows which, from the ``*_DEFECTS`` tuples), recorded so a test can say what it expected: ``frame.attrs["defect"]`` for frames (a dict with ``defect``,
``column``, ``row``), ``.defect`` on the ``BrokenHistory`` dict, the second item of the
``(text, defect)`` pair that ``specs(broken=True)`` draws. ``write_csv`` writes a frame as
pandas does, applying a ``short_row`` defect (a row with fewer fields than the header) that a
DataFrame cannot hold.

Requires hypothesis, numpy and pandas; the gate itself never imports this module.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd
from hypothesis import strategies as st

OUTPUTS = ("direction", "volatility", "magnitude")
LABELS = ("y_direction", "y_volatility", "y_magnitude")
PLAN_METRICS = ("direction_auc", "direction_loss", "loss", "magnitude_loss", "magnitude_mae",
                "val_direction_auc", "val_loss", "volatility_loss")

# Cells the tables parser reads as missing (NaN) or non-finite: a value problem, checks fail.
MISSING_CELLS = ("", "nan", "NaN", "NA", "N/A", "null", "None", "[nan]", "<NA>")
NONFINITE_CELLS = ("inf", "-inf", "[inf]", "[-inf]", "Infinity", "1e999")
# Cells that are not a number or a one-element array: an artefact error naming file:line:column.
MALFORMED_CELLS = {
    "text": ("x", "abc", "1,234", "0.1.2", "--1", "[0.1]x", "0x1p-3", "1e", "1_000", "True", "nan(1)"),
    "multi_element": ("[0.1 0.9]", "[0.1, 0.9]", "[0.0123 0.5 0.7]"),
    "nested": ("[[0.1]]", "[[0.1 0.2]]"),
    "empty_array": ("[]", "[ ]"),
    "unbalanced": ("[0.1", "0.1]"),
    "abbreviated": ("[0.1 0.2 ... 0.8 0.9]",),
    "too_long": ("[" + "1" * 300 + "]",),
}
PREDICTION_DEFECTS = ("missing", "nonfinite", *MALFORMED_CELLS, "short_row")
HISTORY_DEFECTS = ("ragged", "text", "nonfinite_last", "empty", "not_a_list")
HISTORY_FRAME_DEFECTS = ("text", "nonfinite_last", "short_row", "header_only")
RETURNS_DEFECTS = ("missing", "nonfinite", "text", "one_trial", "constant_trial", "too_few_rows")
SPEC_DEFECTS = ("syntax", "unknown_kind", "unknown_key", "missing_severity", "bad_severity", "duplicate_id",
                "nan_bound", "inf_bound", "empty_bound", "no_bound", "no_checks", "wrong_type")


# The Run #3 plan's checks on predictions, history and config (those of checks/run3.toml that
# need no model file and no returns): every run drawn with healthy=True passes them.
PLAN_SPEC = """\
name = "Run #3 plan: predictions, history and config"

[[check]]
id = "volatility-not-saturated"
kind = "saturation"
severity = "must"
column = "volatility"
level = 0.999
side = "above"
le = 0.0

[[check]]
id = "volatility-max"
kind = "statistic"
severity = "must"
column = "volatility"
stat = "max"
lt = 0.15

[[check]]
id = "magnitude-mean"
kind = "statistic"
severity = "must"
column = "magnitude"
stat = "mean"
gt = 0.0
le = 0.10

[[check]]
id = "magnitude-max"
kind = "statistic"
severity = "must"
column = "magnitude"
stat = "max"
lt = 0.50

[[check]]
id = "volatility-range"
description = "Plan, Must Have: Volatility predictions in range [0, 0.15]"
kind = "range"
severity = "must"
column = "volatility"
ge = 0.0
le = 0.15

[[check]]
id = "magnitude-range"
kind = "range"
severity = "must"
column = "magnitude"
ge = 0.0
le = 0.50

[[check]]
id = "volatility-loss"
kind = "history"
severity = "must"
metric = "volatility_loss"
epoch = "last"
lt = 0.01

[[check]]
id = "magnitude-loss"
kind = "history"
severity = "must"
metric = "magnitude_loss"
epoch = "last"
lt = 0.05

[[check]]
id = "direction-auc"
kind = "history"
severity = "must"
metric = "val_direction_auc"
epoch = "best"
monitor = "val_direction_auc"
mode = "max"
ge = 0.65

[[check]]
id = "direction-auc-exact"
kind = "auc"
severity = "must"
column = "direction"
label_column = "y_direction"
history_metric = "val_direction_auc"
ge = 0.65

[[check]]
id = "direction-auc-improved"
description = "Plan, Nice to Have: val_direction_auc > 0.66"
kind = "history"
severity = "nice"
metric = "val_direction_auc"
epoch = "best"
monitor = "val_direction_auc"
mode = "max"
gt = 0.66

[[check]]
id = "loss-weights"
kind = "config"
severity = "must"
key = "loss_weights"
equals = { direction = 1.0, volatility = 0.3, magnitude = 0.3 }

[[check]]
id = "volatility-activation"
kind = "config"
severity = "must"
key = "heads.volatility.activation"
equals = "relu"

[[check]]
id = "magnitude-activation"
kind = "config"
severity = "must"
key = "heads.magnitude.activation"
equals = "relu"
"""


# -- cells ---------------------------------------------------------------------------------
def cell_text(value: float, style: str) -> str:
    """``value`` as a predictions cell: ``"array32"`` (``[0.0123]``, what pandas writes for a
    float32 ``model.predict`` row), ``"array64"`` or ``"plain"`` (``repr`` of a float)."""
    if style == "array32":
        return str(np.array([value], dtype=np.float32))
    if style == "array64":
        return str(np.array([value], dtype=np.float64))
    return repr(float(value))


def cell_value(text: str) -> float:
    """The number a well-formed cell holds: a slow reference parse, independent of the gate's."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1].strip()
    return float(text)


CELL_STYLES = st.sampled_from(("array32", "array64", "plain"))


# -- predictions ---------------------------------------------------------------------------
@st.composite
def predictions_frames(draw, *, min_rows=1, max_rows=40, healthy=False, broken=False, defects=PREDICTION_DEFECTS):
    """A predictions frame of text cells; ``attrs["expected"]`` maps each column to its values.

    ``healthy=True``: the plan's success criteria hold (volatility in [0, 0.14], magnitude in
    [0.001, 0.09], direction separating the two label classes, both present), so
    ``PLAN_SPEC`` passes. ``broken=True``: one defect in one of the columns the plan's
    gate reads (see ``PREDICTION_DEFECTS``), described by ``attrs["defect"]``.
    """
    n = draw(st.integers(max(min_rows, 2 if healthy else 1), max(max_rows, min_rows)))
    style = draw(CELL_STYLES)
    if healthy:
        labels = [0, 1] + draw(st.lists(st.integers(0, 1), min_size=n - 2, max_size=n - 2))
        labels = draw(st.permutations(labels))
        direction = [draw(st.floats(0.55, 0.99) if y else st.floats(0.01, 0.45)) for y in labels]
        volatility = draw(st.lists(st.floats(0.0, 0.14), min_size=n, max_size=n))
        magnitude = draw(st.lists(st.floats(0.001, 0.09), min_size=n, max_size=n))  # mean 0: a dead head
    else:
        labels = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
        direction = draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n))
        finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
        volatility = draw(st.lists(finite, min_size=n, max_size=n))
        magnitude = draw(st.lists(finite, min_size=n, max_size=n))
    columns = {
        "direction": [cell_text(v, style) for v in direction],
        "volatility": [cell_text(v, style) for v in volatility],
        "magnitude": [cell_text(v, style) for v in magnitude],
        "y_direction": [str(y) for y in labels],
        "y_volatility": [repr(v) for v in draw(st.lists(st.floats(0.0, 0.2), min_size=n, max_size=n))],
        "y_magnitude": [repr(v) for v in draw(st.lists(st.floats(0.0, 0.5), min_size=n, max_size=n))],
    }
    frame = pd.DataFrame(columns, dtype=object)
    frame.attrs["expected"] = {name: np.array([cell_value(c) for c in cells], dtype=np.float64)
                               for name, cells in columns.items()}
    if broken:
        frame.attrs["defect"] = _break_cell(draw, frame, ("direction", "volatility", "magnitude", "y_direction"),
                                            defects)
    return frame


def _break_cell(draw, frame, columns, defects) -> dict:
    defect = draw(st.sampled_from(defects))
    column = draw(st.sampled_from(columns))
    row = draw(st.integers(0, len(frame) - 1))
    if defect == "short_row":
        return {"defect": defect, "column": frame.columns[-1], "row": row}
    if defect == "missing":
        cell = draw(st.sampled_from(MISSING_CELLS))
    elif defect == "nonfinite":
        cell = draw(st.sampled_from(NONFINITE_CELLS))
    elif defect == "text":
        cell = draw(st.sampled_from(MALFORMED_CELLS["text"]) | st.text("abcxyz,;-", min_size=1, max_size=6))
    else:
        cell = draw(st.sampled_from(MALFORMED_CELLS[defect]))
    frame.loc[row, column] = cell
    return {"defect": defect, "column": column, "row": row, "cell": cell}


def write_csv(frame: pd.DataFrame, path) -> None:
    """Write ``frame`` as ``DataFrame.to_csv(index=False)`` does; a ``short_row`` defect drops
    the last field of its row, as a file cut short or hand-edited would."""
    text = frame.to_csv(index=False, lineterminator="\n")
    defect = frame.attrs.get("defect")
    if defect and defect.get("defect") == "short_row":
        lines = text.split("\n")
        line = lines[defect["row"] + 1]
        lines[defect["row"] + 1] = line[: line.rfind(",")] if "," in line else ""
        text = "\n".join(lines)
    elif defect and defect.get("defect") == "header_only":
        text = text.split("\n", 1)[0] + "\n"
    with open(os.fspath(path), "w", encoding="utf-8", newline="") as handle:
        handle.write(text)


# -- histories -----------------------------------------------------------------------------
class BrokenHistory(dict):
    """A ``History.history`` dict with one deliberate defect, described by ``.defect``."""

    def __init__(self, history=(), defect=None):
        super().__init__(history)
        self.defect = dict(defect or {})


def _metric_values(draw, name, epochs, healthy):
    if "auc" in name:
        low, high = (0.5, 0.9) if healthy else (0.0, 1.0)
    elif name == "volatility_loss":
        low, high = (0.0, 0.009) if healthy else (0.0, 2.0)
    elif name == "magnitude_loss":
        low, high = (0.0, 0.049) if healthy else (0.0, 5.0)
    else:
        low, high = (0.0, 2.0)
    values = draw(st.lists(st.floats(low, high), min_size=epochs, max_size=epochs))
    if healthy and name == "val_direction_auc":
        values[draw(st.integers(0, epochs - 1))] = draw(st.floats(0.67, 0.9))  # the best epoch passes the plan
    return values


@st.composite
def keras_histories(draw, *, metrics=PLAN_METRICS, min_epochs=1, max_epochs=20, healthy=False, broken=False,
                    defects=HISTORY_DEFECTS):
    """``History.history`` as Keras leaves it: metric name -> list of floats, one per epoch.

    ``healthy=True``: the plan's must criteria on the history hold (last ``volatility_loss``
    < 0.01, last ``magnitude_loss`` < 0.05, best ``val_direction_auc`` >= 0.67).
    ``broken=True``: a ``BrokenHistory`` with one of ``HISTORY_DEFECTS``: metrics of different
    lengths, a value that is not a number, a NaN/inf/None at the last epoch, a metric with no
    epochs, a metric that is not a list.
    """
    epochs = draw(st.integers(max(min_epochs, 2 if broken else 1), max(max_epochs, min_epochs, 2)))
    history = {name: _metric_values(draw, name, epochs, healthy) for name in metrics}
    if not broken:
        return history
    out = BrokenHistory(history)
    defect = draw(st.sampled_from([d for d in defects if d != "ragged" or len(metrics) > 1]))
    name = draw(st.sampled_from(list(metrics)))
    if defect == "ragged":
        out[name] = out[name][:-1]
    elif defect == "text":
        out[name] = list(out[name])
        out[name][draw(st.integers(0, epochs - 1))] = draw(st.sampled_from(("abc", "0.1.2", "", "[0.1]")))
    elif defect == "nonfinite_last":
        out[name] = list(out[name])
        out[name][-1] = draw(st.sampled_from((math.nan, math.inf, -math.inf, None)))
    elif defect == "empty":
        out = BrokenHistory({k: [] for k in out})
    else:  # not_a_list
        out[name] = out[name][-1]
    out.defect = {"defect": defect, "metric": name}
    return out


@st.composite
def history_frames(draw, *, metrics=PLAN_METRICS, min_epochs=1, max_epochs=20, healthy=False, broken=False,
                   defects=HISTORY_FRAME_DEFECTS):
    """A Keras ``CSVLogger`` file as a frame: ``epoch`` (0-based), then the metrics sorted.

    ``broken=True``: one of ``HISTORY_FRAME_DEFECTS`` (a cell that is not a number, NaN/inf at
    the last epoch, a short row, a header with no epochs), in ``attrs["defect"]``; write it
    with ``write_csv``.
    """
    history = draw(keras_histories(metrics=metrics, min_epochs=min_epochs, max_epochs=max_epochs, healthy=healthy))
    epochs = len(next(iter(history.values())))
    frame = pd.DataFrame({"epoch": list(range(epochs)), **{k: history[k] for k in sorted(history)}})
    if broken:
        defect = draw(st.sampled_from(defects))
        name = draw(st.sampled_from(sorted(history)))
        row = draw(st.integers(0, epochs - 1))
        frame = frame.astype(object)
        if defect == "text":
            frame.loc[row, name] = draw(st.sampled_from(("abc", "0.1.2", "[0.1 0.2]", "1,5")))
        elif defect == "nonfinite_last":
            row = epochs - 1
            frame.loc[row, name] = draw(st.sampled_from(("nan", "inf", "-inf", "")))
        elif defect == "short_row":
            name = frame.columns[-1]
        frame.attrs["defect"] = {"defect": defect, "column": name, "row": row}
    return frame


# -- returns -------------------------------------------------------------------------------
@st.composite
def returns_matrices(draw, *, min_trials=2, max_trials=6, min_periods=16, max_periods=80, broken=False,
                     defects=RETURNS_DEFECTS):
    """Strategy returns, T periods x N trials (``c=0.5``, ``c=0.55``, ...), none constant.

    ``broken=True``: one of ``RETURNS_DEFECTS`` (a missing cell, NaN/inf, text, a single trial,
    a constant trial, fewer rows than 16, the plan's PBO block count), in ``attrs["defect"]``.
    """
    n = draw(st.integers(max(min_trials, 2), max(max_trials, min_trials, 2)))
    t = draw(st.integers(max(min_periods, 16), max(max_periods, min_periods, 16)))
    values = np.array(draw(st.lists(st.lists(st.floats(-0.1, 0.1), min_size=n, max_size=n),
                                    min_size=t, max_size=t)), dtype=np.float64)
    for j in range(n):  # a constant trial has no Sharpe ratio: make each vary
        if values[:, j].max() == values[:, j].min():
            values[0, j] += 0.01
    names = [f"c={0.5 + 0.05 * j:g}" for j in range(n)]
    frame = pd.DataFrame(values, columns=names)
    if not broken:
        return frame
    defect = draw(st.sampled_from(defects))
    column = draw(st.sampled_from(names))
    row = draw(st.integers(0, t - 1))
    if defect == "one_trial":
        frame = frame[[column]].copy()
    elif defect == "constant_trial":
        frame[column] = draw(st.floats(-0.1, 0.1))
    elif defect == "too_few_rows":
        frame = frame.iloc[: draw(st.integers(2, 15))].copy()
    else:
        frame = frame.astype(object)
        cells = {"missing": MISSING_CELLS, "nonfinite": NONFINITE_CELLS, "text": MALFORMED_CELLS["text"]}
        frame.loc[row, column] = draw(st.sampled_from(cells[defect]))
    frame.attrs["defect"] = {"defect": defect, "column": column, "row": row}
    return frame


# -- specs ---------------------------------------------------------------------------------
def toml_value(value) -> str:
    """A Python value as TOML: strings, numbers (``nan``/``inf`` too), bools, lists, tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        out = []
        for ch in value:
            if ch in '"\\':
                out.append("\\" + ch)
            elif ord(ch) < 0x20 or ord(ch) == 0x7F:
                out.append(f"\\u{ord(ch):04x}")
            else:
                out.append(ch)
        return '"' + "".join(out) + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {value!r}")


def _toml_key(key: str) -> str:
    return key if key and all(c.isalnum() or c in "_-" for c in key) and key.isascii() else toml_value(key)


def spec_text(checks: list[dict], name=None, description=None) -> str:
    """TOML text of a spec with these ``[[check]]`` tables."""
    lines = []
    if name is not None:
        lines.append(f"name = {toml_value(name)}")
    if description is not None:
        lines.append(f"description = {toml_value(description)}")
    for check in checks:
        lines += ["", "[[check]]"] + [f"{_toml_key(k)} = {toml_value(v)}" for k, v in check.items()]
    return "\n".join(lines) + "\n"


@st.composite
def _bound(draw):
    low = draw(st.none() | st.floats(-10.0, 10.0))
    high = draw(st.none() | st.floats(-10.0, 10.0))
    if low is None and high is None:
        high = 1.0
    if low is not None and high is not None and low > high:
        low, high = high, low
    out = {}
    if low is not None:
        strict = draw(st.booleans()) and (high is None or low < high)
        out["gt" if strict else "ge"] = low
    if high is not None:
        strict = draw(st.booleans()) and (low is None or low < high)
        out["lt" if strict else "le"] = high
    return out


_COLUMNS = st.sampled_from(OUTPUTS)
_METRICS = st.sampled_from(PLAN_METRICS)


@st.composite
def _check_table(draw, index):
    kind = draw(st.sampled_from(("saturation", "range", "statistic", "history", "config", "auc", "sharpe", "pbo")))
    table = {"id": f"check-{index}", "kind": kind, "severity": draw(st.sampled_from(("must", "nice")))}
    if draw(st.booleans()):
        table["description"] = draw(st.text(max_size=30))
    if kind == "saturation":
        table.update(column=draw(_COLUMNS), level=draw(st.floats(0.0, 1.0)),
                     side=draw(st.sampled_from(("above", "below"))))
    elif kind == "range":
        table["column"] = draw(_COLUMNS)
    elif kind == "statistic":
        table.update(column=draw(_COLUMNS), stat=draw(st.sampled_from(("mean", "median", "std", "min", "max",
                                                                        "quantile"))))
        if table["stat"] == "quantile":
            table["q"] = draw(st.floats(0.0, 1.0))
    elif kind == "history":
        table.update(metric=draw(_METRICS), epoch=draw(st.sampled_from(("last", "best")) | st.integers(-5, 5)))
        if table["epoch"] == "best":
            table.update(monitor=draw(_METRICS), mode=draw(st.sampled_from(("min", "max"))))
    elif kind == "config":
        table.update(key=draw(st.sampled_from(("loss_weights", "heads.volatility.activation", "lr"))),
                     equals=draw(st.floats(0, 1) | st.sampled_from(("relu", "sigmoid"))
                                 | st.fixed_dictionaries({"direction": st.floats(0, 2), "volatility": st.floats(0, 2)})))
    elif kind == "auc":
        table.update(column="direction", label_column="y_direction")
    elif kind == "sharpe":
        table.update(periods_per_year=draw(st.sampled_from((1, 12, 52, 252))))
    elif kind == "pbo":
        table.update(n_splits=draw(st.sampled_from((4, 8, 16))))
    if kind != "config":
        table.update(draw(_bound()))
    return table


@st.composite
def specs(draw, *, min_checks=1, max_checks=6, broken=False, defects=SPEC_DEFECTS):
    """TOML text of a gate spec over the plan's artefacts (predictions-, history-, config- and
    returns-based kinds, none needing TensorFlow).

    ``broken=True`` draws ``(text, defect)``: the text has one of ``SPEC_DEFECTS`` (TOML syntax,
    unknown kind or key, missing or bad severity, duplicate id, a NaN/inf/empty/missing bound,
    no checks, a wrong type) that ``validators.spec.parse_spec`` must refuse with ``SpecError``.
    """
    n = draw(st.integers(max(min_checks, 1), max(max_checks, min_checks, 1)))
    checks = [draw(_check_table(i)) for i in range(n)]
    name = draw(st.none() | st.text(max_size=20))
    if not broken:
        return spec_text(checks, name=name)
    defect = draw(st.sampled_from(defects))
    target = draw(st.integers(0, n - 1))
    check = checks[target]
    bounded = [i for i, c in enumerate(checks) if c["kind"] != "config"]
    if defect in ("nan_bound", "inf_bound", "empty_bound", "no_bound") and not bounded:
        defect = "unknown_kind"
    if defect in ("nan_bound", "inf_bound", "empty_bound", "no_bound"):
        check = checks[draw(st.sampled_from(bounded))]
        for key in ("gt", "ge", "lt", "le"):
            check.pop(key, None)
        if defect == "nan_bound":
            check[draw(st.sampled_from(("gt", "ge", "lt", "le")))] = math.nan
        elif defect == "inf_bound":
            check[draw(st.sampled_from(("gt", "ge", "lt", "le")))] = draw(st.sampled_from((math.inf, -math.inf)))
        elif defect == "empty_bound":
            low = draw(st.floats(-10.0, 10.0))
            check["ge"], check["le"] = low, low - draw(st.floats(0.001, 5.0))
    elif defect == "unknown_kind":
        check["kind"] = draw(st.sampled_from(("saturaton", "ranges", "stat", "auc_exact", "")))
    elif defect == "unknown_key":
        check[draw(st.sampled_from(("colum", "bound", "min", "max", "threshold")))] = 1.0
    elif defect == "missing_severity":
        del check["severity"]
    elif defect == "bad_severity":
        check["severity"] = draw(st.sampled_from(("should", "MUST", "", "required")))
    elif defect == "duplicate_id":
        checks.append(dict(check))
    elif defect == "no_checks":
        checks = []
    elif defect == "wrong_type":
        check["id"] = draw(st.sampled_from((3, True, 1.5, "has space", "")))
    text = spec_text(checks, name=name)
    if defect == "syntax":
        text = text.replace("[[check]]", draw(st.sampled_from(("[[check]", "[[check", "[[check]]]"))), 1)
        text += draw(st.sampled_from(("", "x = \n", "= 1\n")))
    return text, {"defect": defect, "check": check.get("id")}
