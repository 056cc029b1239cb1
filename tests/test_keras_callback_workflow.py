"""The Keras callback in a team's own training script: real training, real EarlyStopping.

Each test is one thing a team hit: the callback's place in the list, the README example with the
plan's own spec, an old file left in the output folder, the plan's cell format, what a failing
verdict does to the rest of the script, and file names and labels the spec declares.
"""

from __future__ import annotations

import ast
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

keras = pytest.importorskip("keras")

from validators.keras import GateFailed, RunVerdict  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PLAN_SPEC = ROOT / "checks" / "run3.toml"

SMALL_SPEC = """
[[check]]
id = "volatility-range"
kind = "range"
severity = "must"
column = "volatility"
ge = 0.0
le = 1000.0

[[check]]
id = "auc-logged"
kind = "history"
severity = "must"
metric = "val_direction_auc"
ge = 0.0
"""
FAILING_SPEC = SMALL_SPEC.replace("ge = 0.0\nle = 1000.0", "ge = 500.0\nle = 1000.0")


def plan_model(seed=0):
    """The plan's architecture, as a team writes it: two inputs, three heads, ReLU auxiliaries."""
    keras.utils.set_random_seed(seed)
    prices = keras.Input((6,), name="prices")
    volumes = keras.Input((3,), name="volumes")
    fusion = keras.layers.Dense(16, activation="relu", name="fusion")(
        keras.layers.Concatenate()([prices, volumes]))
    direction = keras.layers.Dense(1, activation="sigmoid", name="direction")(fusion)
    volatility = keras.layers.Dense(1, activation="relu", kernel_initializer="he_normal", name="volatility")(fusion)
    magnitude = keras.layers.Dense(1, activation="relu", kernel_initializer="he_normal", name="magnitude")(fusion)
    model = keras.Model([prices, volumes], {"direction": direction, "volatility": volatility,
                                            "magnitude": magnitude})
    model.compile(optimizer=keras.optimizers.RMSprop(1e-2),
                  loss={"direction": "binary_crossentropy", "volatility": "mse", "magnitude": "mse"},
                  loss_weights={"direction": 1.0, "volatility": 0.3, "magnitude": 0.3},
                  metrics={"direction": [keras.metrics.AUC(name="auc")], "volatility": ["mae"],
                           "magnitude": ["mae"]})
    return model


def market(n, seed):
    """Features in natural return units, a direction with an edge, volatility and magnitude ~0.05."""
    rng = np.random.default_rng(seed)
    prices = rng.normal(0, 0.05, size=(n, 6)).astype("float32")
    volumes = rng.normal(0, 0.05, size=(n, 3)).astype("float32")
    forward = prices[:, 0] + rng.normal(0, 0.03, n)
    y = {"direction": (forward > 0).astype("float32"),
         "volatility": np.abs(rng.normal(0.04, 0.01, n)).astype("float32"),
         "magnitude": np.abs(forward).astype("float32")}
    dates = pd.bdate_range("2024-01-01", periods=n).to_numpy()
    return [prices, volumes], y, forward, dates


def small_spec(tmp_path, text=SMALL_SPEC):
    path = tmp_path / "gate.toml"
    path.write_text(text)
    return path


def fit(model, callbacks, epochs=4, seed=1):
    x, y, _, _ = market(1024, seed)
    xv, yv, _, _ = market(96, seed + 1)
    return model.fit(x, y, validation_data=(xv, yv), epochs=epochs, batch_size=64, verbose=0, callbacks=callbacks)


# -- the callback's place in the list ------------------------------------------------------------
@pytest.mark.parametrize("gate_first", [False, True], ids=["after-early-stopping", "before-early-stopping"])
def test_the_weights_gated_are_the_ones_training_ends_with(tmp_path, gate_first):
    xv, yv, _, _ = market(96, 2)
    gate = RunVerdict(small_spec(tmp_path), tmp_path / "run", validation_data=(xv, yv), verbose=False,
                      save_model=False)
    # mode "min" on an AUC that rises: the best epoch is the first, so the restore changes the weights
    stopper = keras.callbacks.EarlyStopping(monitor="val_direction_auc", mode="min", patience=2,
                                            restore_best_weights=True)
    model = plan_model()
    history = fit(model, [gate, stopper] if gate_first else [stopper, gate], epochs=8)
    assert stopper.best_epoch < len(history.history["loss"]) - 1  # the restore did change the weights
    written = pd.read_csv(tmp_path / "run" / "predictions.csv")
    gated = np.array([ast.literal_eval(cell)[0] for cell in written["volatility"]])
    final = np.asarray(model.predict(xv, verbose=0)["volatility"], dtype=np.float64).ravel()
    np.testing.assert_array_equal(gated, final)
    if gate_first:
        assert any("EarlyStopping after RunVerdict" in note for note in gate.report.notes)


def test_a_later_callback_that_may_change_the_weights_is_refused_at_the_start(tmp_path):
    xv, yv, _, _ = market(32, 2)
    gate = RunVerdict(small_spec(tmp_path), tmp_path / "run", validation_data=(xv, yv), verbose=False)
    late = keras.callbacks.LambdaCallback(on_train_end=lambda logs: None)
    with pytest.raises(ValueError, match=r"put RunVerdict last, callbacks=\[\.\.\., LambdaCallback"):
        fit(plan_model(), [gate, late], epochs=1)
    assert not (tmp_path / "run" / "predictions.csv").exists()  # refused before any epoch


# -- the README example, with the plan's own spec ---------------------------------------------------
def test_the_readme_example_judges_a_fresh_training_with_the_plans_spec_without_artefact_errors(tmp_path):
    xv, yv, forward, dates = market(240, 2)
    gate = RunVerdict(PLAN_SPEC, tmp_path / "run3", validation_data=(xv, yv),
                      extra_columns={"forward_return": forward}, index=dates, verbose=False)
    stopper = keras.callbacks.EarlyStopping(monitor="val_direction_auc", mode="max", patience=3,
                                            restore_best_weights=True)
    fit(plan_model(), [stopper, gate], epochs=6)
    errors = [(r.id, r.message) for r in gate.report.results if r.status == "error"]
    assert errors == []
    assert {r.id for r in gate.report.results} >= {"pbo", "sharpe", "loss-weights", "direction-auc-exact"}
    returns = pd.read_csv(tmp_path / "run3" / "returns.csv")
    assert returns.columns[0] == "timestamp" and returns.shape == (240, 22)  # the date index, 21 thresholds
    assert gate.exit_code == int(gate.report.exit_code) in (0, 1)


# -- an old file in the output folder ----------------------------------------------------------------
def test_an_artefact_an_earlier_run_left_is_never_judged_as_this_runs(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    old = out / "returns.csv"
    rng = np.random.default_rng(0)
    pd.DataFrame({"c=0.5": rng.normal(0.01, 0.01, 200), "c=0.6": rng.normal(0.01, 0.01, 200)}).to_csv(old, index=False)
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    spec = small_spec(tmp_path, SMALL_SPEC + '\n[[check]]\nid = "sharpe"\nkind = "sharpe"\nseverity = "must"\n'
                                              'trial = "c=0.5"\nge = 0.0\n')
    xv, yv, _, _ = market(64, 2)
    gate = RunVerdict(spec, out, validation_data=(xv, yv), verbose=False, save_model=False)
    fit(plan_model(), [gate], epochs=1)
    sharpe = next(r for r in gate.report.results if r.id == "sharpe")
    assert sharpe.status == "error"
    assert "before this training started" in sharpe.message and "returns.csv" in sharpe.evidence["file"]
    assert any("returns not written" in note for note in gate.report.notes)


# -- the plan's cell format and the rest of the script ------------------------------------------------
def test_cells_are_written_as_the_plans_snippets_read_them(tmp_path):
    xv, yv, _, _ = market(48, 2)
    RunVerdict(small_spec(tmp_path), tmp_path / "lists", validation_data=(xv, yv), verbose=False, save_model=False)
    for cells in ("list", "plain"):
        gate = RunVerdict(small_spec(tmp_path), tmp_path / cells, validation_data=(xv, yv), verbose=False,
                          save_model=False, cells=cells)
        fit(plan_model(), [gate], epochs=1)
        row = pd.read_csv(tmp_path / cells / "predictions.csv").iloc[0]
        if cells == "list":
            assert isinstance(ast.literal_eval(row["volatility"])[0], float)  # the team's own snippet
        else:
            assert isinstance(row["volatility"], float)
        assert gate.report.verdict == "pass", [(r.id, r.message) for r in gate.report.results]


def test_on_fail_report_lets_the_script_go_on_with_the_verdict_on_the_callback(tmp_path):
    failing = small_spec(tmp_path, FAILING_SPEC)
    xv, yv, _, _ = market(48, 2)
    gate = RunVerdict(failing, tmp_path / "run", validation_data=(xv, yv), verbose=False, save_model=False)
    fit(plan_model(), [gate], epochs=1)  # no exception: the script's own artefacts still get written
    assert gate.verdict == "fail" and gate.exit_code == 1


def test_on_fail_raise_raises_out_of_fit(tmp_path):
    failing = small_spec(tmp_path, FAILING_SPEC)
    xv, yv, _, _ = market(48, 2)
    gate = RunVerdict(failing, tmp_path / "run", validation_data=(xv, yv), verbose=False, save_model=False,
                      on_fail="raise")
    with pytest.raises(GateFailed, match="verdict fail"):
        fit(plan_model(), [gate], epochs=1)


def test_on_fail_stop_ends_training_at_the_first_epoch_an_epoch_check_fails(tmp_path):
    failing = small_spec(tmp_path, FAILING_SPEC)
    xv, yv, _, _ = market(48, 2)
    gate = RunVerdict(failing, tmp_path / "run", validation_data=(xv, yv), verbose=False, save_model=False,
                      on_fail="stop", epoch_checks=["volatility-range"])
    history = fit(plan_model(), [gate], epochs=6)
    assert len(history.history["loss"]) == 1 and gate.stopped_at == 0
    assert [r.status for r in gate.epoch_report.results] == ["fail"]
    assert gate.verdict == "fail" and any("training stopped after epoch 0" in n for n in gate.report.notes)


@pytest.mark.parametrize("kwargs, message", [
    ({"on_fail": "explode"}, "on_fail must be one of"),
    ({"on_fail": "stop"}, "name them"),
    ({"epoch_checks": ["no-such-check"]}, "are not check ids"),
    ({"cells": "arrays"}, "cells must be"),
    ({"files": {"weights": "w.h5"}}, "unknown artefacts"),
])
def test_wrong_options_fail_before_training(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        RunVerdict(small_spec(tmp_path), tmp_path / "run", validation_data=None, **kwargs)


# -- names the spec declares --------------------------------------------------------------------------
def test_file_names_and_labels_follow_the_specs_layout(tmp_path):
    spec = small_spec(tmp_path, '[artefacts]\npredictions = "eval/val_preds.csv"\nhistory = "training_log.csv"\n\n'
                                '[layout.labels]\ndirection = "direction_true"\n' + SMALL_SPEC
                      + '\n[[check]]\nid = "auc"\nkind = "auc"\nseverity = "must"\ncolumn = "direction"\nge = 0.0\n')
    xv, yv, _, _ = market(64, 2)
    gate = RunVerdict(spec, tmp_path / "run", validation_data=(xv, yv), verbose=False, save_model=False)
    fit(plan_model(), [gate], epochs=1)
    header = pd.read_csv(tmp_path / "run" / "eval" / "val_preds.csv").columns
    assert "direction_true" in header and "y_direction" not in header
    assert (tmp_path / "run" / "training_log.csv").is_file() and not (tmp_path / "run" / "history.csv").exists()
    assert gate.report.verdict == "pass", [(r.id, r.message) for r in gate.report.results]
