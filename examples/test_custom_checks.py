"""Custom checks in Python, next to a gate spec, with runverdict's pytest fixtures.

Run them on a training run (with or without the spec's own checks):

    pytest examples/test_custom_checks.py --run-dir RUN_DIR --baseline BASELINE_DIR
    pytest checks/run3.toml examples/test_custom_checks.py --run-dir RUN_DIR --baseline BASELINE_DIR

``run`` is the run of ``--run-dir`` (predictions, history, config, returns as pandas
objects), ``baseline_run`` the run of ``--baseline``; ``assert_within`` fails with the same
message a built-in check shows: observed vs bound, and the first rows outside it.
"""

from validators.pytest_plugin import assert_within


def test_volatility_within_plan_range(run):
    # The built-in `range` kind, written by hand: every value, the first offending rows on failure.
    assert_within(run.predictions["volatility"], ge=0.0, le=0.15, what="volatility")


def test_volatility_head_not_dead(run):
    # A ReLU head stuck at zero passes a range check; its spread gives it away.
    assert_within(run.column("volatility").std(), gt=1e-4, what="std of volatility predictions")


def test_no_overfitting_gap(run):
    history = run.history
    last = history.iloc[-1]
    assert_within(last["val_loss"] - last["loss"], lt=0.05, what="val_loss - loss at the last epoch")


def test_direction_head_is_primary(run):
    weights = run.config["loss_weights"]
    assert weights["direction"] >= max(weights["volatility"], weights["magnitude"])


def test_val_auc_not_worse_than_baseline(run, baseline_run):
    best = run.history["val_direction_auc"].max()
    baseline_best = baseline_run.history["val_direction_auc"].max()
    assert_within(best, ge=baseline_best - 0.01, what="best val_direction_auc")
