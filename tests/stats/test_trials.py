"""Strategy trials from predictions: validators.stats.trials.threshold_trials against a slow
per-row reference, the ``runverdict trials`` command that writes returns.csv, and the
spec's ``[trials]`` table building the same returns on the fly."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from factory import healthy_predictions, make_run
from hypothesis import given, settings
from hypothesis import strategies as st

from validators import cli
from validators.gate import evaluate
from validators.spec import parse_spec
from validators.stats.trials import DEFAULT_THRESHOLDS, threshold_positions, threshold_trials, trial_name


def reference_trials(probability, forward_return, thresholds, cost):
    """One row at a time: long when p >= c, short when 1 - p >= c (both: flat), cost on turnover."""
    out = []
    for c in thresholds:
        c = float(c)
        position, column = 0, []
        for p, r in zip(probability, forward_return):
            p, r = float(p), float(r)
            long, short = p >= c, 1.0 - p >= c
            new = 0 if long == short else (1 if long else -1)
            column.append(new * r - cost * abs(new - position))
            position = new
        out.append(column)
    return dict(enumerate(out))


# -- threshold_trials ------------------------------------------------------------------------------

def test_examples_by_hand():
    p = [0.9, 0.1, 0.5, 0.55, 0.45, 0.6]
    r = [0.01, -0.02, 0.03, 0.04, -0.05, 0.06]
    frame = threshold_trials(p, r, [0.5, 0.6], cost=0.001)
    assert list(frame.columns) == ["c=0.5", "c=0.6"]
    # c = 0.5: long, short, flat (0.5 is both), long, short, long
    assert frame["c=0.5"].tolist() == pytest.approx([0.01 - 0.001, 0.02 - 0.002, -0.001, 0.04 - 0.001,
                                                     0.05 - 0.002, 0.06 - 0.002], abs=1e-15)
    # c = 0.6: long, short, flat, flat, flat, long
    assert frame["c=0.6"].tolist() == pytest.approx([0.01 - 0.001, 0.02 - 0.002, -0.001, 0.0, 0.0,
                                                     0.06 - 0.001], abs=1e-15)
    assert threshold_positions(np.array(p), 0.5).tolist() == [1, -1, 0, 1, -1, 1]
    assert threshold_positions(np.array(p), 0.6).tolist() == [1, -1, 0, 0, 0, 1]


def test_default_grid_and_names():
    assert DEFAULT_THRESHOLDS == tuple(round(0.5 + 0.01 * i, 2) for i in range(21))
    assert DEFAULT_THRESHOLDS[0] == 0.5 and DEFAULT_THRESHOLDS[-1] == 0.7
    frame = threshold_trials([0.7, 0.2], [0.01, 0.02])
    assert list(frame.columns) == [trial_name(c) for c in DEFAULT_THRESHOLDS]
    assert frame.columns[5] == "c=0.55" and frame.shape == (2, 21)
    assert trial_name(1.0) == "c=1" and trial_name(0.5) == "c=0.5"


@pytest.mark.parametrize("thresholds", [(1.0, 0.9999999999999999), (0.5, 0.5000001), (0.55, 0.5500001, 0.55000011)])
def test_close_thresholds_keep_one_trial_each(thresholds):
    frame = threshold_trials([0.9, 0.1, 0.55], [0.01, 0.02, 0.03], thresholds)
    assert frame.shape == (3, len(thresholds))
    assert len(set(frame.columns)) == len(thresholds)
    assert [float(name[2:]) for name in frame.columns] == list(thresholds)  # each name is its threshold


def test_the_book_starts_flat_and_pays_for_a_flip():
    frame = threshold_trials([0.9, 0.1, 0.1], [0.0, 0.0, 0.0], [0.6], cost=0.5)
    assert frame["c=0.6"].tolist() == [-0.5, -1.0, 0.0]  # open long 1, flip 2, hold 0


def test_threshold_1_trades_only_certainties():
    frame = threshold_trials([1.0, 0.999, 0.0, 0.001], [0.1, 0.1, 0.1, 0.1], [1.0])
    assert frame["c=1"].tolist() == [0.1, 0.0, -0.1, 0.0]


def test_inputs_may_be_columns_of_any_shape_and_type():
    p = pd.Series([0.9, 0.1], dtype="float32")
    r = np.array([[0.01], [0.02]])
    frame = threshold_trials(p, r, (0.6,))
    assert frame["c=0.6"].tolist() == [0.01, -0.02]


probabilities = st.one_of(st.floats(0, 1), st.sampled_from([0.0, 0.5, 1.0, 0.45, 0.55, 0.4, 0.6, 0.3, 0.7]))
thresholds = st.lists(st.one_of(st.floats(0.5, 1), st.sampled_from(DEFAULT_THRESHOLDS + (1.0, 0.6, 0.55))),
                      min_size=1, max_size=6, unique=True)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40).flatmap(lambda n: st.tuples(
    st.lists(probabilities, min_size=n, max_size=n),
    st.lists(st.floats(-1, 1), min_size=n, max_size=n))),
    thresholds, st.one_of(st.just(0.0), st.floats(0, 0.01)))
def test_matches_the_per_row_reference(rows, cs, cost):
    p, r = rows
    frame = threshold_trials(p, r, cs, cost)
    expected = reference_trials(p, r, cs, cost)
    assert frame.shape == (len(p), len(cs))  # one trial per threshold, none lost to a shared name
    assert list(frame.columns) == [trial_name(c) for c in cs]
    for j, column in enumerate(expected.values()):
        assert frame.iloc[:, j].tolist() == column  # the same arithmetic, exactly
    # without cost a trial's return is at most the absolute forward return
    if cost == 0.0:
        assert (frame.abs().to_numpy() <= np.abs(np.asarray(r))[:, None]).all()


@settings(max_examples=50, deadline=None)
@given(st.lists(probabilities, min_size=1, max_size=30), st.lists(st.floats(0.5, 1), min_size=2, max_size=2))
def test_a_higher_threshold_only_drops_positions(p, pair):
    """Raising c turns positions flat, never opens one or flips its side."""
    low, high = sorted(pair)
    before = threshold_positions(np.asarray(p), low)
    after = threshold_positions(np.asarray(p), high)
    assert ((after == 0) | (after == before)).all()
    assert set(np.unique(before)) <= {-1, 0, 1}


def test_decimal_mirror_of_a_threshold_is_short():
    assert threshold_positions(np.array([0.55, 0.45]), 0.55).tolist() == [1, -1]


@pytest.mark.parametrize("p, r, cs, cost, message", [
    ([0.6, 0.4], [0.01], (0.6,), 0.0, "probability has 2 rows but forward_return has 1"),
    ([], [], (0.6,), 0.0, "no rows"),
    ([0.6, math.nan], [0.01, 0.02], (0.6,), 0.0, "probability has 1 non-finite values"),
    ([0.6, 0.4], [math.inf, math.nan], (0.6,), 0.0, "forward_return has 2 non-finite values"),
    ([0.6, 1.2], [0.01, 0.02], (0.6,), 0.0, r"outside \[0, 1\]"),
    ([-0.1, 0.4], [0.01, 0.02], (0.6,), 0.0, r"outside \[0, 1\]"),
    ([0.6, 0.4], [0.01, 0.02], (), 0.0, "no thresholds"),
    ([0.6, 0.4], [0.01, 0.02], (0.6, 0.6), 0.0, "duplicate thresholds"),
    ([0.6, 0.4], [0.01, 0.02], (0.4,), 0.0, r"threshold 0.4 is outside \[0.5, 1\]"),
    ([0.6, 0.4], [0.01, 0.02], (1.01,), 0.0, r"outside \[0.5, 1\]"),
    ([0.6, 0.4], [0.01, 0.02], (math.nan,), 0.0, r"outside \[0.5, 1\]"),
    ([0.6, 0.4], [0.01, 0.02], (0.6,), -0.001, "cost must be a finite number >= 0"),
    ([0.6, 0.4], [0.01, 0.02], (0.6,), math.nan, "cost must be a finite number >= 0"),
    ([0.6, 0.4], [0.01, 0.02], (0.6,), math.inf, "cost must be a finite number >= 0"),
])
def test_value_errors(p, r, cs, cost, message):
    with pytest.raises(ValueError, match=message):
        threshold_trials(p, r, cs, cost)


# -- the runverdict trials command -----------------------------------------------------------------

@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("trials") / "run")


def expected_frame(csv_path, cs=DEFAULT_THRESHOLDS, cost=0.0, p_col="direction", r_col="forward_return"):
    """The trials straight from the CSV with pandas, cells like [0.61] unwrapped."""
    pred = pd.read_csv(csv_path)
    p = pred[p_col].map(lambda cell: float(str(cell).strip("[]")) if isinstance(cell, str) else float(cell))
    return threshold_trials(p.to_numpy(), pred[r_col].to_numpy(dtype=float), cs, cost)


def read_exact(path):
    """Header and values of a CSV, each cell parsed by Python's float (correctly rounded)."""
    import csv

    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], np.array([[float(x) for x in row] for row in rows[1:]])


def test_command_writes_returns_csv(run, tmp_path, capsys):
    out = tmp_path / "returns.csv"
    assert cli.main(["trials", str(run), "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert stdout.strip() == (f"{out}: 21 trials x 400 periods from {run / 'predictions.csv'}; no index column "
                              "(the predictions have no column named like one)")
    columns, written = read_exact(out)
    expected = expected_frame(run / "predictions.csv")
    assert columns == list(expected.columns)
    assert (written == expected.to_numpy()).all()  # %.17g: every float round-trips


def test_command_options(run, tmp_path):
    pred = healthy_predictions()
    pred = pred.rename(columns={"direction": "p_up", "forward_return": "fwd"})
    src = tmp_path / "src"
    src.mkdir()
    pred.to_csv(src / "preds.csv", index=False)
    out = tmp_path / "r.csv"
    code = cli.main(["trials", str(src / "preds.csv"), "--out", str(out), "--probability-column", "p_up",
                     "--return-column", "fwd", "--thresholds", "0.5,0.55,0.6", "--cost", "0.0005"])
    assert code == 0
    columns, written = read_exact(out)
    expected = expected_frame(src / "preds.csv", (0.5, 0.55, 0.6), 0.0005, "p_up", "fwd")
    assert columns == ["c=0.5", "c=0.55", "c=0.6"]
    assert (written == expected.to_numpy()).all()
    # the cost is paid: without it every trial earns more or the same
    free = tmp_path / "free.csv"
    assert cli.main(["trials", str(src / "preds.csv"), "--out", str(free), "--probability-column", "p_up",
                     "--return-column", "fwd", "--thresholds", "0.5,0.55,0.6"]) == 0
    assert (read_exact(free)[1] >= written).all()


@pytest.mark.parametrize("thresholds", ["0.4,0.6", "0.6,0.6", "0.5,1.5", "nan,0.6", "0.6,inf", "0.5,x", "0.5,,0.6"])
def test_bad_thresholds_exit_4(run, tmp_path, capsys, thresholds):
    out = tmp_path / "r.csv"
    assert cli.main(["trials", str(run), "--out", str(out), "--thresholds", thresholds]) == 4
    err = capsys.readouterr().err
    assert "--thresholds" in err and thresholds in err
    assert "predictions.csv" not in err  # the command line is wrong, not the file
    assert not out.exists()


@pytest.mark.parametrize("cost", ["-0.001", "nan", "inf"])
def test_bad_cost_exit_4(run, tmp_path, capsys, cost):
    out = tmp_path / "r.csv"
    assert cli.main(["trials", str(run), "--out", str(out), f"--cost={cost}"]) == 4
    assert "--cost" in capsys.readouterr().err
    assert not out.exists()


def test_missing_column_exit_2_with_file_and_line(run, tmp_path, capsys):
    out = tmp_path / "r.csv"
    assert cli.main(["trials", str(run), "--out", str(out), "--probability-column", "p_up"]) == 2
    err = capsys.readouterr().err
    assert f"{run / 'predictions.csv'}:1: missing column 'p_up'; found 'direction'" in err
    assert not out.exists()


def test_bad_probabilities_exit_2_naming_the_file(tmp_path, capsys):
    pred = healthy_predictions(n=40)
    pred["direction"] = np.linspace(0.0, 1.5, 40)
    run = tmp_path / "run"
    run.mkdir()
    pred.to_csv(run / "predictions.csv", index=False)
    assert cli.main(["trials", str(run), "--out", str(tmp_path / "r.csv")]) == 2
    err = capsys.readouterr().err
    assert f"{run / 'predictions.csv'}: cannot build trials: probability has values outside [0, 1]" in err


def test_missing_predictions_exit_2(tmp_path, capsys):
    assert cli.main(["trials", str(tmp_path), "--out", str(tmp_path / "r.csv")]) == 2
    assert "predictions" in capsys.readouterr().err


def test_unwritable_out_exit_2(run, tmp_path, capsys):
    assert cli.main(["trials", str(run), "--out", str(tmp_path / "no-such-folder" / "r.csv")]) == 2
    assert "cannot write" in capsys.readouterr().err


# -- [trials] in a spec: the same numbers as the command's returns.csv ---------------------------------

BACKTEST_CHECKS = """
[[check]]
id = "pbo"
kind = "pbo"
severity = "must"
n_splits = 16
lt = 0.5

[[check]]
id = "sharpe"
kind = "sharpe"
severity = "nice"
periods_per_year = 252
gt = 0.0
"""


def test_spec_trials_equal_the_commands_returns_csv(run, tmp_path):
    cs, cost = "0.5,0.52,0.55,0.58,0.6,0.65", 0.0002
    from_file = tmp_path / "from-file"
    from_file.mkdir()
    (from_file / "predictions.csv").write_bytes((run / "predictions.csv").read_bytes())
    assert cli.main(["trials", str(from_file), "--out", str(from_file / "returns.csv"), "--thresholds", cs,
                     "--cost", str(cost)]) == 0
    on_the_fly = parse_spec(f"[trials]\nthresholds = [{cs}]\ncost = {cost}\n" + BACKTEST_CHECKS)
    from_csv = parse_spec(BACKTEST_CHECKS)
    a = evaluate(on_the_fly, run)
    b = evaluate(from_csv, from_file)
    assert [r.status for r in a.results] == [r.status for r in b.results]
    for ra, rb in zip(a.results, b.results):
        assert ra.observed == rb.observed  # exactly
        assert {k: v for k, v in ra.evidence.items() if k != "file"} == \
            {k: v for k, v in rb.evidence.items() if k != "file"}
        assert ra.message == rb.message
    pbo = a.results[0]
    assert pbo.evidence["trials"] == 6 and pbo.evidence["combinations"] == 12870
    assert "[trials] from 'direction', 'forward_return'" in pbo.evidence["file"]
    assert b.results[0].evidence["file"] == str(from_file / "returns.csv")
    # the run's own returns.csv is ignored when the spec builds trials
    assert a.results[0].observed != evaluate(from_csv, run).results[0].observed


def test_spec_trials_with_other_columns(tmp_path):
    pred = healthy_predictions().rename(columns={"direction": "p_up", "forward_return": "fwd"})
    run = make_run(tmp_path / "run", predictions=pred)
    spec = parse_spec('[trials]\nprobability_column = "p_up"\nreturn_column = "fwd"\n' + BACKTEST_CHECKS)
    report = evaluate(spec, run)
    assert report.results[0].status == "pass" and report.results[0].evidence["trials"] == 21
    missing = parse_spec('[trials]\nprobability_column = "nope"\n' + BACKTEST_CHECKS)
    report = evaluate(missing, run)
    assert [r.status for r in report.results] == ["error", "error"]
    assert "missing column 'nope'" in report.results[0].message


def test_spec_trials_bad_predictions_error_the_checks(tmp_path):
    pred = healthy_predictions(n=40)
    pred["forward_return"] = np.nan
    run = make_run(tmp_path / "run", predictions=pred)
    report = evaluate(parse_spec("[trials]\n" + BACKTEST_CHECKS), run)
    assert report.exit_code == 2
    assert "cannot build trials from the predictions: forward_return has 40 non-finite values" in \
        report.results[0].message
