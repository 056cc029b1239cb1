"""The check kinds: pass, fail and error on hand-made runs, with their observed values and evidence."""

from __future__ import annotations

import copy
import json
import math
import textwrap

import numpy as np
import pandas as pd
import pytest
from factory import (
    bracket,
    healthy_config,
    healthy_history,
    healthy_predictions,
    make_run,
    saturated_run,
    write_returns,
)

from validators.gate import evaluate
from validators.kinds import builtin_kinds
from validators.spec import parse_spec
from validators.stats.metrics import roc_auc

KINDS = builtin_kinds()


def judge(run_dir, toml: str):
    """The result of the one check ``toml`` declares, on ``run_dir``."""
    text = textwrap.dedent(toml)
    if "id =" not in text:
        text = 'id = "c"\nseverity = "must"\n' + text
    spec = parse_spec("[[check]]\n" + text, "gate.toml")
    (result,) = evaluate(spec, run_dir).results
    return result


def file_line(path, line):
    return path.read_text().splitlines()[line - 1]


@pytest.fixture
def run(tmp_path):
    return make_run(tmp_path / "run")


def with_predictions(tmp_path, **columns):
    pred = healthy_predictions()
    for name, values in columns.items():
        pred[name] = values
    return make_run(tmp_path / "run", predictions=pred)


# -- saturation -----------------------------------------------------------------------------

SATURATION = """
kind = "saturation"
column = "volatility"
level = 0.999
le = 0.0
"""


def test_saturation_pass(run):
    r = judge(run, SATURATION)
    assert (r.status, r.observed) == ("pass", 0.0)
    assert r.evidence["count_beyond"] == 0 and r.evidence["evaluated"] == 400
    assert r.evidence["first_rows_beyond"] == []


def test_saturated_column_observes_the_whole_column(tmp_path):
    run_dir = saturated_run(tmp_path / "run")
    r = judge(run_dir, SATURATION)
    assert r.status == "fail"
    assert r.observed == 1.0
    assert r.evidence["count_beyond"] == r.evidence["rows"] == r.evidence["evaluated"] == 400
    assert [row["row"] for row in r.evidence["first_rows_beyond"]] == [0, 1, 2, 3, 4]
    assert [row["line"] for row in r.evidence["first_rows_beyond"]] == [2, 3, 4, 5, 6]
    assert r.evidence["first_rows_beyond"][0]["value"] == pytest.approx(0.99995, rel=1e-6)
    assert "400 of 400 values in 'volatility' are > 0.999 (share 1.0)" in r.message
    assert r.bound == "observed <= 0.0"


def test_saturation_first_offending_rows_point_at_the_file(tmp_path):
    vol = np.full(400, 0.02)
    vol[[17, 123, 399]] = 0.9999
    run_dir = with_predictions(tmp_path, volatility=bracket(vol))
    r = judge(run_dir, SATURATION)
    assert r.status == "fail" and r.observed == 3 / 400 and r.evidence["count_beyond"] == 3
    rows = r.evidence["first_rows_beyond"]
    assert [x["row"] for x in rows] == [17, 123, 399]
    header = file_line(run_dir / "predictions.csv", 1).split(",")
    for x in rows:
        cells = file_line(run_dir / "predictions.csv", x["line"]).split(",")
        assert cells[header.index("volatility")] == "[0.9999]"


def test_saturation_tolerated_share(tmp_path):
    vol = np.full(400, 0.02)
    vol[:4] = 1.0
    run_dir = with_predictions(tmp_path, volatility=bracket(vol))
    assert judge(run_dir, SATURATION.replace("le = 0.0", "le = 0.01")).status == "pass"
    assert judge(run_dir, SATURATION.replace("le = 0.0", "lt = 0.01")).status == "fail"


def test_saturation_below_and_inclusive(tmp_path):
    mag = np.full(400, 0.05)
    mag[:10] = 0.0  # a dead ReLU head
    run_dir = with_predictions(tmp_path, magnitude=bracket(mag))
    below = SATURATION.replace('"volatility"', '"magnitude"').replace("0.999", "0.0") + 'side = "below"\n'
    assert judge(run_dir, below).observed == 0.0  # strictly below 0: none
    r = judge(run_dir, below + "inclusive = true\n")
    assert r.status == "fail" and r.observed == 10 / 400 and r.evidence["side"] == "below"


def test_saturation_nan_fails_unless_allowed(tmp_path):
    vol = bracket(np.full(400, 0.02))
    vol[5] = "[nan]"
    vol[9] = "NA"
    run_dir = with_predictions(tmp_path, volatility=vol)
    r = judge(run_dir, SATURATION)
    assert r.status == "fail" and r.observed is None
    assert r.evidence["nan_count"] == 2 and r.evidence["inf_count"] == 0
    assert [x["line"] for x in r.evidence["first_nonfinite_rows"]] == [7, 11]
    assert [x["value"] for x in r.evidence["first_nonfinite_rows"]] == ["nan", "nan"]
    assert "2 of 400 values in 'volatility' are NaN, inf or missing" in r.message
    allowed = judge(run_dir, SATURATION + "allow_nonfinite_share = 0.01\n")
    assert allowed.status == "pass" and allowed.evidence["evaluated"] == 398


def test_saturation_error_on_missing_column(tmp_path):
    pred = healthy_predictions().rename(columns={"volatility": "volatilty"})
    run_dir = make_run(tmp_path / "run", predictions=pred)
    r = judge(run_dir, SATURATION)
    assert r.status == "error" and r.observed is None
    assert "missing column 'volatility'" in r.message and "found 'direction', 'volatilty'" in r.message
    assert r.evidence == {"file": str(run_dir / "predictions.csv"), "line": 1}


def test_saturation_with_element_of_two_value_arrays(tmp_path):
    probs = [f"[{1 - p:.4f} {p:.4f}]" for p in np.r_[np.full(398, 0.3), [0.9995, 0.9999]]]
    run_dir = with_predictions(tmp_path, direction=probs)
    check = SATURATION.replace('"volatility"', '"direction"')
    r = judge(run_dir, check)
    assert r.status == "error" and "several values where one is expected" in r.message
    assert r.evidence["line"] == 2 and r.evidence["column"] == 1
    r = judge(run_dir, check + "element = 1\n")
    assert r.status == "fail" and r.evidence["count_beyond"] == 2
    assert [x["row"] for x in r.evidence["first_rows_beyond"]] == [398, 399]


# -- range ----------------------------------------------------------------------------------

RANGE = """
kind = "range"
column = "volatility"
ge = 0.0
le = 0.15
"""


def test_range_pass(run):
    r = judge(run, RANGE)
    assert r.status == "pass" and r.observed == 0.0
    assert r.evidence["count_outside"] == 0 and 0.0 <= r.evidence["min"] <= r.evidence["max"] <= 0.15
    assert r.bound == "0.0 <= value <= 0.15"


def test_range_fail_counts_each_side(tmp_path):
    vol = np.full(400, 0.05)
    vol[[3, 8]] = -0.01
    vol[[50, 60, 70]] = 0.2
    vol[100] = 0.15  # on the bound: inside
    run_dir = with_predictions(tmp_path, volatility=bracket(vol))
    r = judge(run_dir, RANGE)
    assert r.status == "fail" and r.observed == 5 / 400
    ev = r.evidence
    assert (ev["count_outside"], ev["count_below"], ev["count_above"]) == (5, 2, 3)
    assert [x["row"] for x in ev["first_rows_outside"]] == [3, 8, 50, 60, 70]
    assert [x["line"] for x in ev["first_rows_outside"]] == [5, 10, 52, 62, 72]
    assert ev["min"] == pytest.approx(-0.01) and ev["max"] == pytest.approx(0.2)
    assert "5 of 400 values in 'volatility' outside 0.0 <= volatility <= 0.15" in r.message


def test_range_tolerated_share(tmp_path):
    vol = np.full(400, 0.05)
    vol[:4] = 0.5
    run_dir = with_predictions(tmp_path, volatility=bracket(vol))
    assert judge(run_dir, RANGE + "max_outside_share = 0.01\n").status == "pass"
    assert judge(run_dir, RANGE + "max_outside_share = 0.005\n").status == "fail"


def test_range_inf_fails(tmp_path):
    vol = bracket(np.full(400, 0.05))
    vol[7] = "[inf]"
    run_dir = with_predictions(tmp_path, volatility=vol)
    r = judge(run_dir, RANGE)
    assert r.status == "fail" and r.evidence["inf_count"] == 1
    assert r.evidence["first_nonfinite_rows"] == [{"row": 7, "line": 9, "value": "inf"}]


def test_range_error_on_bad_cell(tmp_path):
    vol = bracket(np.full(400, 0.05))
    vol[41] = "x"
    run_dir = with_predictions(tmp_path, volatility=vol)
    r = judge(run_dir, RANGE)
    assert r.status == "error"
    assert r.evidence["line"] == 43 and r.evidence["column"] == 2
    assert r.message.startswith(f"{run_dir / 'predictions.csv'}:43:2: column 'volatility', row 41")


# -- statistic ------------------------------------------------------------------------------

STAT = """
kind = "statistic"
column = "magnitude"
stat = "mean"
gt = 0.0
le = 0.10
"""


def test_statistic_mean_pass_and_plan_failure(tmp_path, run):
    r = judge(run, STAT)
    values = np.array([float(c[1:-1]) for c in healthy_predictions()["magnitude"]])
    assert r.status == "pass" and r.observed == pytest.approx(values.mean(), rel=1e-12)
    broken = with_predictions(tmp_path, magnitude=bracket(np.full(400, 1.22)))
    r = judge(broken, STAT)
    assert r.status == "fail" and r.observed == pytest.approx(1.22, rel=1e-6)
    assert r.message.startswith("mean of 'magnitude' is ")


def test_statistic_max_reports_its_row(tmp_path):
    mag = np.full(400, 0.05)
    mag[250] = 3.93
    run_dir = with_predictions(tmp_path, magnitude=bracket(mag))
    r = judge(run_dir, STAT.replace('"mean"', '"max"').replace("gt = 0.0\nle = 0.10", "lt = 0.50"))
    assert r.status == "fail" and r.observed == pytest.approx(3.93, rel=1e-6)
    assert r.evidence["at_row"] == 250


@pytest.mark.parametrize("stat, extra, reference", [
    ("median", "", np.median),
    ("std", "", np.std),
    ("std", "ddof = 1\n", lambda x: np.std(x, ddof=1)),
    ("min", "", np.min),
    ("quantile", "q = 0.9\n", lambda x: np.quantile(x, 0.9)),
])
def test_statistic_kinds(run, stat, extra, reference):
    r = judge(run, STAT.replace('"mean"', f'"{stat}"').replace("gt = 0.0\nle = 0.10", "le = 10") + extra)
    values = np.array([float(c[1:-1]) for c in healthy_predictions()["magnitude"]])
    assert r.status == "pass" and r.observed == pytest.approx(reference(values), rel=1e-9)


def test_statistic_nan_fails(tmp_path):
    mag = bracket(np.full(400, 0.05))
    mag[0] = ""
    run_dir = with_predictions(tmp_path, magnitude=mag)
    r = judge(run_dir, STAT)
    assert r.status == "fail" and r.observed is None and r.evidence["nan_count"] == 1


def test_statistic_error_when_predictions_missing(run):
    (run / "predictions.csv").unlink()
    r = judge(run, STAT)
    assert r.status == "error" and "no predictions artefact: looked for predictions.csv" in r.message


# -- history ------------------------------------------------------------------------------------

HIST = """
kind = "history"
metric = "volatility_loss"
lt = 0.01
"""

BEST_AUC = """
kind = "history"
metric = "val_direction_auc"
epoch = "best"
monitor = "val_direction_auc"
mode = "max"
ge = 0.65
"""


def test_history_last_epoch(run):
    r = judge(run, HIST)
    assert r.status == "pass" and r.observed == pytest.approx(0.0033)
    assert r.evidence["epoch"] == 7 and r.evidence["epochs"] == 8 and r.evidence["epoch_rule"] == "last"
    assert r.evidence["source"] == "csv"


def test_history_best_epoch_is_what_early_stopping_keeps(run):
    r = judge(run, BEST_AUC)
    assert r.status == "pass" and r.observed == 0.68 and r.evidence["epoch"] == 3
    assert "at its best epoch 3" in r.message
    # the magnitude loss at the epoch with the best val AUC, not at the last epoch
    r = judge(run, BEST_AUC.replace('metric = "val_direction_auc"', 'metric = "magnitude_loss"')
              .replace("ge = 0.65", "lt = 0.05"))
    assert r.observed == pytest.approx(0.027) and r.evidence["monitor_value"] == 0.68


def test_history_best_by_min_and_index(run):
    r = judge(run, HIST + 'epoch = "best"\nmonitor = "val_loss"\nmode = "min"\n')
    assert r.evidence["epoch"] == 7
    assert judge(run, HIST + "epoch = 0\n").observed == pytest.approx(0.004)
    assert judge(run, HIST + "epoch = -2\n").evidence["epoch"] == 6


def test_history_fail(tmp_path):
    hist = healthy_history()
    hist["val_direction_auc"] = 0.55
    run_dir = make_run(tmp_path / "run", history=hist)
    r = judge(run_dir, BEST_AUC)
    assert r.status == "fail" and r.observed == 0.55 and r.evidence["epoch"] == 0


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_history_nan_or_inf_loss_fails(tmp_path, bad):
    hist = healthy_history()
    hist.loc[7, "volatility_loss"] = bad
    run_dir = make_run(tmp_path / "run", history=hist)
    r = judge(run_dir, HIST)
    assert r.status == "fail"
    assert (math.isnan(r.observed) if math.isnan(bad) else r.observed == bad)
    assert r.evidence["nonfinite_epochs"] == [7]


def test_history_nan_monitor_is_never_best(tmp_path):
    hist = healthy_history()
    hist.loc[5, "val_direction_auc"] = math.nan  # argmax would pick NaN
    run_dir = make_run(tmp_path / "run", history=hist)
    r = judge(run_dir, BEST_AUC)
    assert r.evidence["epoch"] == 3 and r.observed == 0.68  # NaN is never chosen as the best epoch
    assert r.status == "fail" and "not finite (nan or inf) at 1 epoch (5)" in r.message  # but a NaN in training fails
    hist["val_direction_auc"] = math.nan
    run_dir = make_run(tmp_path / "run2", history=hist)
    r = judge(run_dir, BEST_AUC)
    assert r.status == "fail" and "has no finite value in 8 epochs" in r.message


def test_history_errors(run):
    r = judge(run, HIST.replace("volatility_loss", "volatilty_loss"))
    assert r.status == "error" and "no metric 'volatilty_loss' in the history; found " in r.message
    assert "'volatility_loss'" in r.message
    r = judge(run, HIST + "epoch = 8\n")
    assert r.status == "error" and "epoch index 8 is outside the history's 8 epochs" in r.message
    (run / "history.csv").write_text("epoch,loss\n0,0.5\n1,0.4,0.3\n")
    r = judge(run, HIST)
    assert r.status == "error" and r.evidence["line"] == 3


def test_history_from_json_when_no_csv(run):
    (run / "history.csv").unlink()
    (run / "history.json").write_text(json.dumps({"volatility_loss": [0.02, 0.005]}))
    r = judge(run, HIST)
    assert r.status == "pass" and r.evidence["source"] == "json" and r.observed == 0.005


# -- auc --------------------------------------------------------------------------------------

AUC = """
kind = "auc"
column = "direction"
label_column = "y_direction"
ge = 0.65
"""


def test_auc_exact_value_and_logged_keras_auc(run):
    r = judge(run, AUC + 'history_metric = "val_direction_auc"\n')
    pred = healthy_predictions()
    scores = np.array([float(c[1:-1]) for c in pred["direction"]])
    assert r.status == "pass" and r.observed == pytest.approx(roc_auc(pred["y_direction"], scores), abs=1e-12)
    assert r.evidence["positives"] + r.evidence["negatives"] == 400
    assert r.evidence["logged_best"] == 0.68 and r.evidence["logged_metric"] == "val_direction_auc"
    assert r.evidence["exact_minus_logged_best"] == pytest.approx(r.observed - 0.68)
    assert "Keras logged val_direction_auc best 0.68" in r.message


def test_auc_fail(run):
    r = judge(run, AUC.replace("0.65", "0.99"))
    assert r.status == "fail" and 0.65 < r.observed < 0.99


def test_auc_without_history_still_judged(run):
    (run / "history.csv").unlink()
    r = judge(run, AUC + 'history_metric = "val_direction_auc"\n')
    assert r.status == "pass" and "no history artefact" in r.evidence["logged_auc_unavailable"]


@pytest.mark.parametrize("column, values, fragment, rows", [
    ("direction", {3: "[1.3]", 9: "[-0.1]"}, "2 scores in 'direction' are outside [0, 1]", [3, 9]),
    ("direction", {4: "[nan]"}, "1 scores in 'direction' are NaN, inf or missing", [4]),
    ("y_direction", {2: 2, 6: -1}, "2 labels in 'y_direction' are not 0 or 1", [2, 6]),
    ("y_direction", {5: ""}, "1 labels in 'y_direction' are not 0 or 1", [5]),
])
def test_auc_bad_values_fail_with_rows(tmp_path, column, values, fragment, rows):
    pred = healthy_predictions()
    pred[column] = pred[column].astype(object)
    for row, value in values.items():
        pred.loc[row, column] = value
    run_dir = make_run(tmp_path / "run", predictions=pred)
    r = judge(run_dir, AUC)
    assert r.status == "fail" and r.observed is None and fragment in r.message
    assert [x["row"] for x in r.evidence["first_rows"]] == rows
    assert [x["line"] for x in r.evidence["first_rows"]] == [row + 2 for row in rows]


@pytest.mark.parametrize("label", [0, 1])
def test_auc_single_class_fails_never_skips(tmp_path, label):
    run_dir = with_predictions(tmp_path, y_direction=np.full(400, label))
    r = judge(run_dir, AUC)
    assert r.status == "fail" and r.observed is None
    assert "AUC is undefined" in r.message and "single class" in r.message


def test_auc_error_on_missing_label_column(tmp_path):
    pred = healthy_predictions().drop(columns=["y_direction"])
    run_dir = make_run(tmp_path / "run", predictions=pred)
    r = judge(run_dir, AUC)
    assert r.status == "error" and "missing column 'y_direction'" in r.message


def test_auc_squeezed_scores_exact(tmp_path):
    # Keras' 200-threshold AUC says 0.5 here; the exact AUC separates perfectly.
    y = np.r_[np.zeros(200, int), np.ones(200, int)]
    scores = np.r_[np.linspace(0.9991, 0.9995, 200), np.linspace(0.9996, 0.99999, 200)]
    run_dir = with_predictions(tmp_path, y_direction=y, direction=[repr(float(s)) for s in scores])
    assert judge(run_dir, AUC).observed == 1.0


# -- config -----------------------------------------------------------------------------------

CONFIG = """
kind = "config"
key = "loss_weights"
equals = { direction = 1.0, volatility = 0.3, magnitude = 0.3 }
"""


def test_config_pass(run):
    r = judge(run, CONFIG)
    assert r.status == "pass" and r.observed == {"direction": 1.0, "volatility": 0.3, "magnitude": 0.3}
    assert r.bound == "== {'direction': 1.0, 'volatility': 0.3, 'magnitude': 0.3}"
    assert judge(run, 'kind = "config"\nkey = "heads.volatility.activation"\nequals = "relu"\n').status == "pass"


def test_config_fail_lists_differences(tmp_path):
    cfg = healthy_config()
    cfg["loss_weights"] = {"direction": 1.0, "volatility": 0.5, "extra": 1}
    run_dir = make_run(tmp_path / "run", config=cfg)
    r = judge(run_dir, CONFIG)
    assert r.status == "fail"
    assert r.evidence["differences"] == [
        "loss_weights.volatility: 0.5 differs from 0.3 by more than 1e-09",
        "loss_weights.magnitude: missing",
        "loss_weights.extra: not expected (value 1)",
    ]


def test_config_tolerance_and_types(tmp_path):
    cfg = {"w": 0.30000001, "n": 1, "flag": True, "name": "ReLU", "shape": [1], "nan": math.nan}
    run_dir = make_run(tmp_path / "run", config=cfg)
    assert judge(run_dir, 'kind = "config"\nkey = "w"\nequals = 0.3\n').status == "fail"
    assert judge(run_dir, 'kind = "config"\nkey = "w"\nequals = 0.3\ntolerance = 1e-6\n').status == "pass"
    assert judge(run_dir, 'kind = "config"\nkey = "n"\nequals = 1.0\n').status == "pass"
    assert judge(run_dir, 'kind = "config"\nkey = "n"\nequals = true\n').status == "fail"
    assert judge(run_dir, 'kind = "config"\nkey = "flag"\nequals = 1\n').status == "fail"
    assert judge(run_dir, 'kind = "config"\nkey = "name"\nequals = "relu"\n').status == "fail"
    assert judge(run_dir, 'kind = "config"\nkey = "shape"\nequals = [1]\n').status == "pass"
    assert judge(run_dir, 'kind = "config"\nkey = "shape"\nequals = [1, 1]\n').status == "fail"
    r = judge(run_dir, 'kind = "config"\nkey = "nan"\nequals = 0.0\ntolerance = 1e300\n')
    assert r.status == "fail"


def test_config_huge_integer_is_compared_not_crashed(tmp_path):
    run_dir = tmp_path / "run"
    make_run(run_dir)
    (run_dir / "config.json").write_text('{"seed": 1' + "0" * 400 + "}")
    r = judge(run_dir, 'kind = "config"\nkey = "seed"\nequals = 1\n')
    assert r.status == "fail"


def test_config_error_on_missing_key_or_file(run):
    r = judge(run, CONFIG.replace('"loss_weights"', '"loss_weight"'))
    assert r.status == "error" and "no key 'loss_weight' in the config; top-level keys: 'loss_weights'" in r.message
    (run / "config.json").write_text('{"loss_weights": }')
    r = judge(run, CONFIG)
    assert r.status == "error" and r.evidence["line"] == 1 and r.evidence["column"] == 18
    (run / "config.json").unlink()
    r = judge(run, CONFIG)
    assert r.status == "error" and "no config artefact" in r.message


# -- meta-test: a broken artefact never passes, whatever the kind ------------------------------

ARTEFACT_FILES = {"predictions": "predictions.csv", "history": "history.csv", "config": "config.json",
                  "returns": "returns.csv", "model": "model.keras"}
TABLES = ("predictions", "history", "returns")


def break_artefact(root, artefact, variant):
    path = root / ARTEFACT_FILES[artefact]
    if variant == "missing":
        if path.exists():
            path.unlink()
    elif variant == "empty":
        path.write_bytes(b"")
    elif variant == "header_only":
        if artefact in TABLES:
            path.write_text(path.read_text().splitlines()[0] + "\n")
        elif artefact == "config":
            path.write_text("{}")  # a config without a single key
        else:  # a .keras zip with no model config in it
            from factory import make_zip

            make_zip(path, {"metadata.json": '{"keras_version": "3.15.1"}'})
    elif variant == "all_nan":
        if artefact in TABLES:
            frame = pd.read_csv(path)
            for name in frame.columns:
                if name != "epoch":
                    frame[name] = "nan"
            frame.to_csv(path, index=False)
        elif artefact == "config":
            def nan_leaves(node):
                if isinstance(node, dict):
                    return {k: nan_leaves(v) for k, v in node.items()}
                if isinstance(node, list):
                    return [nan_leaves(v) for v in node]
                return math.nan
            path.write_text(json.dumps(nan_leaves(json.loads(path.read_text()))))
        else:  # a .keras zip whose config has every value nulled
            import zipfile

            from factory import make_zip

            config = json.loads(zipfile.ZipFile(path).read("config.json"))

            def null_leaves(node):
                if isinstance(node, dict):
                    return {k: null_leaves(v) for k, v in node.items()}
                if isinstance(node, list):
                    return [null_leaves(v) for v in node]
                return None
            make_zip(path, {"metadata.json": '{"keras_version": "3.15.1"}',
                            "config.json": json.dumps(null_leaves(config))})


@pytest.mark.parametrize("variant", ["missing", "empty", "header_only", "all_nan"])
@pytest.mark.parametrize("name", sorted(KINDS))
def test_broken_artefact_never_passes(tmp_path, name, variant):
    kind = KINDS[name]
    spec = parse_spec(kind.example, f"{name}.toml")
    run_dir = make_run(tmp_path / "run")
    write_returns(run_dir)
    needed = [a for a in kind.artefacts if a in ARTEFACT_FILES]
    assert needed, f"kind {name!r} needs artefacts {kind.artefacts}, unknown to this test"
    for artefact in needed:
        break_artefact(run_dir, artefact, variant)
    (result,) = evaluate(spec, run_dir).results
    assert result.status != "pass", (result.status, result.message)
    if variant in ("missing", "empty") or (variant == "header_only" and set(needed) <= set(TABLES)):
        assert result.status == "error", result.message
        assert result.evidence.get("file"), result.evidence


def test_auc_names_the_logged_metrics_thresholds_from_the_model(tmp_path):
    from factory import HEALTHY_COMPILE, SHIPPED_SPEC

    trained = copy.deepcopy(HEALTHY_COMPILE)
    trained["metrics"]["direction"][0]["config"]["num_thresholds"] = 50
    run_dir = make_run(tmp_path / "run", compile_config=trained)
    spec = parse_spec(SHIPPED_SPEC.read_text(), str(SHIPPED_SPEC))
    r = next(r for r in evaluate(spec, run_dir).results if r.id == "direction-auc-exact")
    assert "a 50-threshold approximation" in r.message
    assert r.evidence["logged_num_thresholds"] == 50
    assert r.evidence["logged_num_thresholds_from"] == "the model's compile configuration"
