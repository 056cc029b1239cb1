"""Property tests with validators.strategies: valid artefacts parse exactly, healthy runs pass the
plan's gate, and the gate never passes a broken artefact (nor accepts a broken spec)."""

import ast
import json
import math
import tempfile
import tomllib
from pathlib import Path

import numpy as np
import pytest
from factory import healthy_config, healthy_history, healthy_predictions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from validators.artefacts.history import read_history
from validators.artefacts.run import Run
from validators.errors import ArtefactError, SpecError
from validators.gate import evaluate
from validators.kinds import builtin_kinds
from validators.result import ERROR, FAIL, PASS
from validators.spec import parse_spec
from validators.strategies import (
    HISTORY_DEFECTS,
    HISTORY_FRAME_DEFECTS,
    MALFORMED_CELLS,
    PLAN_METRICS,
    PLAN_SPEC,
    PREDICTION_DEFECTS,
    RETURNS_DEFECTS,
    SPEC_DEFECTS,
    history_frames,
    keras_histories,
    predictions_frames,
    returns_matrices,
    spec_text,
    specs,
    write_csv,
)

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EACH_DEFECT = settings(FAST, max_examples=12)  # per defect kind, so every kind is exercised
RUN3 = parse_spec(PLAN_SPEC, "plan.toml")  # the plan's checks that need no model file nor returns


def _columns_read_by(check) -> set:
    return {v for k, v in check.params.items() if k in ("column", "label_column") and v}


def _run_dir(tmp, predictions=None, history=None, config=None, returns=None, history_json=None) -> Path:
    root = Path(tmp)
    write_csv(healthy_predictions(n=50) if predictions is None else predictions, root / "predictions.csv")
    if history_json is not None:
        (root / "history.json").write_text(json.dumps(history_json))
    else:
        write_csv(healthy_history() if history is None else history, root / "history.csv")
    (root / "config.json").write_text(json.dumps(healthy_config() if config is None else config))
    if returns is not None:
        write_csv(returns, root / "returns.csv")
    return root


# -- predictions ---------------------------------------------------------------------------
@FAST
@given(predictions_frames())
def test_valid_predictions_parse_to_the_numbers_they_print(frame):
    with tempfile.TemporaryDirectory() as tmp:
        root = _run_dir(tmp, predictions=frame)
        table = Run(root).predictions()
        for name, expected in frame.attrs["expected"].items():
            got = table.numeric(name).values
            assert got.dtype == np.float64
            np.testing.assert_array_equal(got, expected, err_msg=name)


@FAST
@given(predictions_frames(healthy=True), history_frames(healthy=True))
def test_healthy_runs_pass_the_plans_gate(frame, history):
    with tempfile.TemporaryDirectory() as tmp:
        report = evaluate(RUN3, _run_dir(tmp, predictions=frame, history=history))
    assert [r for r in report.results if r.status != PASS] == []
    assert report.verdict == PASS


@pytest.mark.parametrize("kind", PREDICTION_DEFECTS)
def test_the_gate_never_passes_broken_predictions(kind):
    """A healthy frame with one defect: the checks reading the broken column error (malformed
    cell, short row) or fail (missing or non-finite value); the others pass."""

    @EACH_DEFECT
    @given(predictions_frames(healthy=True, broken=True, defects=(kind,)))
    def prop(frame):
        _judge_broken_predictions(frame)

    prop()


def _judge_broken_predictions(frame):
    defect = frame.attrs["defect"]
    with tempfile.TemporaryDirectory() as tmp:
        report = evaluate(RUN3, _run_dir(tmp, predictions=frame))
    assert report.verdict != PASS, defect
    by_id = {r.id: r for r in report.results}
    for check in RUN3.checks:
        columns = _columns_read_by(check)
        if not columns:
            continue
        status = by_id[check.id].status
        if defect["defect"] == "short_row":  # the file is malformed: every check reading it errors
            assert status == ERROR, (check.id, defect, by_id[check.id].message)
        elif defect["column"] in columns:
            expected = ERROR if defect["defect"] in MALFORMED_CELLS else FAIL
            assert status == expected, (check.id, defect, by_id[check.id].message)
            if expected == ERROR:
                assert f":{defect['row'] + 2}:" in by_id[check.id].message  # names file:line:column
        else:
            assert status == PASS, (check.id, defect, by_id[check.id].message)


# -- histories -----------------------------------------------------------------------------
EVERY_METRIC = parse_spec(spec_text([
    {"id": f"{m}-last", "kind": "history", "severity": "must", "metric": m, "epoch": "last", "ge": -1e300, "le": 1e300}
    for m in PLAN_METRICS
]))


@FAST
@given(keras_histories())
def test_valid_keras_histories_read_back_exactly(history):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.json"
        path.write_text(json.dumps(history))
        got = read_history(path)
    assert sorted(got.metrics) == sorted(history)
    for name, values in history.items():
        np.testing.assert_array_equal(got.metrics[name], np.asarray(values, dtype=np.float64))
    np.testing.assert_array_equal(got.epochs, np.arange(len(next(iter(history.values())))))


@FAST
@given(history_frames())
def test_valid_csvlogger_frames_read_back_exactly(frame):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.csv"
        write_csv(frame, path)
        got = read_history(path)
    assert list(frame.columns) == ["epoch", *sorted(got.metrics)]
    for name in got.metrics:
        np.testing.assert_array_equal(got.metrics[name], frame[name].to_numpy(dtype=np.float64))


@pytest.mark.parametrize("kind", HISTORY_DEFECTS)
def test_the_gate_never_passes_a_broken_keras_history(kind):
    EACH_DEFECT(given(keras_histories(healthy=True, broken=True, defects=(kind,)))(_judge_broken_keras_history))()


def _judge_broken_keras_history(history):
    with tempfile.TemporaryDirectory() as tmp:
        report = evaluate(EVERY_METRIC, _run_dir(tmp, history_json=history))
    assert report.verdict != PASS, history.defect
    statuses = {r.id: r.status for r in report.results}
    if history.defect["defect"] == "nonfinite_last":
        assert statuses[f"{history.defect['metric']}-last"] == FAIL
    else:
        assert set(statuses.values()) == {ERROR}, (history.defect, statuses)


@pytest.mark.parametrize("kind", HISTORY_FRAME_DEFECTS)
def test_the_gate_never_passes_a_broken_csvlogger_file(kind):
    EACH_DEFECT(given(history_frames(healthy=True, broken=True, defects=(kind,)))(_judge_broken_csvlogger))()


def _judge_broken_csvlogger(frame):
    defect = frame.attrs["defect"]
    with tempfile.TemporaryDirectory() as tmp:
        report = evaluate(EVERY_METRIC, _run_dir(tmp, history=frame))
    assert report.verdict != PASS, defect
    statuses = {r.id: r.status for r in report.results}
    if defect["defect"] == "nonfinite_last":
        assert statuses[f"{defect['column']}-last"] == FAIL
    else:
        assert set(statuses.values()) == {ERROR}, (defect, statuses)


# -- returns -------------------------------------------------------------------------------
PBO_AND_SHARPE = parse_spec(spec_text([
    {"id": "pbo", "kind": "pbo", "severity": "must", "n_splits": 16, "ge": 0.0, "le": 1.0},
    {"id": "sharpe", "kind": "sharpe", "severity": "must", "ge": -1e300},
]))


@FAST
@given(returns_matrices())
def test_valid_returns_read_back_exactly(frame):
    with tempfile.TemporaryDirectory() as tmp:
        got = Run(_run_dir(tmp, returns=frame)).returns()
    assert list(got.names) == list(frame.columns)
    np.testing.assert_array_equal(got.values, frame.to_numpy(dtype=np.float64))


@pytest.mark.parametrize("kind", RETURNS_DEFECTS)
def test_the_gate_never_passes_broken_returns(kind):
    EACH_DEFECT(given(returns_matrices(broken=True, defects=(kind,)))(_judge_broken_returns))()


def _judge_broken_returns(frame):
    defect = frame.attrs["defect"]
    with tempfile.TemporaryDirectory() as tmp:
        report = evaluate(PBO_AND_SHARPE, _run_dir(tmp, returns=frame))
    assert report.verdict == ERROR, (defect, [(r.id, r.status, r.message) for r in report.results])
    assert {r.id: r.status for r in report.results}["pbo"] == ERROR


# -- specs ---------------------------------------------------------------------------------
@FAST
@given(specs())
def test_valid_specs_parse(text):
    raw = tomllib.loads(text)
    spec = parse_spec(text)
    assert [c.id for c in spec.checks] == [t["id"] for t in raw["check"]]
    assert [c.kind for c in spec.checks] == [t["kind"] for t in raw["check"]]
    for check, table in zip(spec.checks, raw["check"]):
        if check.bound is not None:
            assert check.bound.as_dict() == {k: table[k] for k in ("gt", "ge", "lt", "le") if k in table}


@pytest.mark.parametrize("kind", SPEC_DEFECTS)
def test_broken_specs_are_refused_with_a_spec_error(kind):
    @EACH_DEFECT
    @given(specs(broken=True, defects=(kind,)))
    def prop(pair):
        text, defect = pair
        with pytest.raises(SpecError) as excinfo:
            parse_spec(text, "broken.toml")
        assert str(excinfo.value).startswith("broken.toml"), defect

    prop()


def test_unknown_keys_the_broken_specs_use_are_unknown_to_every_kind():
    used = {"colum", "bound", "min", "max", "threshold"}
    for kind in builtin_kinds().values():
        assert not used & {p.name for p in kind.params}, kind.name


# -- writing and the core's independence -------------------------------------------------------
@FAST
@given(predictions_frames(broken=True, defects=("short_row",)))
def test_write_csv_short_row_has_one_field_fewer(frame):
    row = frame.attrs["defect"]["row"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "predictions.csv"
        write_csv(frame, path)
        lines = path.read_text().splitlines()
        assert lines[row + 1].count(",") == lines[0].count(",") - 1
        with pytest.raises(ArtefactError, match=f":{row + 2}: row has"):
            Run(tmp).predictions()


def test_the_core_never_imports_strategies_or_hypothesis():
    package = Path(__file__).resolve().parent.parent / "validators"
    for path in package.rglob("*.py"):
        if path.name == "strategies.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [a.name for a in node.names]
            assert not any("hypothesis" in n or n.endswith("strategies") for n in names), (path, names)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_toml_values_round_trip(value):
    text = spec_text([{"id": "a", "kind": "history", "severity": "must", "metric": "loss", "lt": value}])
    got = tomllib.loads(text)["check"][0]["lt"]
    assert (math.isnan(got) and math.isnan(value)) or got == value
