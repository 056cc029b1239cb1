"""``epoch = "best"`` is the epoch ``EarlyStopping(restore_best_weights=True)`` restores, with its
``min_delta``, ``start_from_epoch``, ``baseline`` and ``mode`` (issue 13, item 8).

Three kinds of evidence: real Keras trainings with the real callback (TensorFlow imported only
inside those tests), a property test against the real ``EarlyStopping`` class fed the logs by hand,
and the ``history`` and ``delta`` kinds end to end, parameters from the check or the run's config.
"""

from __future__ import annotations

import copy
import json
import math
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest
from factory import healthy_config, healthy_history, make_run
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from validators.artefacts.history import (
    WRITTEN_ABSENT,
    WRITTEN_NAN,
    WRITTEN_NUMBER,
    History,
    KerasRestoredNonfinite,
    NoBestEpoch,
    early_stopping_in_config,
    keras_mode,
    pick_epoch,
    read_history,
    restored_epoch,
)
from validators.errors import ArtefactError, SpecError
from validators.gate import evaluate
from validators.spec import parse_spec

# -- real Keras training ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras():
    pytest.importorskip("tensorflow")
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    return keras


def _data(seed=0, n=300):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=1.0, size=n) > 0).astype("float32")
    return x, y


def _fit(keras, folder, callbacks, epochs, nan_at_epoch=None):
    """Train a small seeded Dense model; returns (model, weights at the end of each epoch, history).

    ``nan_at_epoch``: a callback placed before all others writes NaN into ``val_loss`` at that epoch,
    so EarlyStopping and CSVLogger see it as a NaN the metric took."""
    keras.utils.set_random_seed(0)
    x, y = _data()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.SGD(0.05), "binary_crossentropy", metrics=[keras.metrics.AUC(name="auc")])
    weights = []

    class WeightsAtEpochEnd(keras.callbacks.Callback):  # a ModelCheckpoint of every epoch, in memory
        def on_epoch_end(self, epoch, logs=None):
            weights.append([w.copy() for w in self.model.get_weights()])

    class NaNIntoLogs(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == nan_at_epoch:
                logs["val_loss"] = math.nan

    first = [NaNIntoLogs()] if nan_at_epoch is not None else []
    csv = folder / "history.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x, y, validation_split=0.3, epochs=epochs, batch_size=64, verbose=0, shuffle=False,
                  callbacks=[*first, WeightsAtEpochEnd(), *callbacks, keras.callbacks.CSVLogger(str(csv))])
    return model, weights, read_history(csv)


def _same_weights(a, b) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def _picked(history, callback, mode=None):
    index, evidence = pick_epoch(history, "best", callback.monitor, mode or callback.mode,
                                 min_delta=abs(callback.min_delta), start_from_epoch=callback.start_from_epoch,
                                 baseline=callback.baseline)
    return int(history.epochs[index]), evidence


def test_keras_restores_the_epoch_pick_epoch_picks(keras, tmp_path):
    """One training, several real EarlyStopping callbacks watching it (patience never runs out):
    each one's best_epoch and best_weights, and the weights the last one restores."""
    es = keras.callbacks.EarlyStopping
    callbacks = {
        "min_delta": es(monitor="val_loss", mode="min", min_delta=0.004, patience=99, restore_best_weights=True),
        "min_delta_large": es(monitor="val_loss", mode="min", min_delta=10.0, patience=99, restore_best_weights=True),
        "min_delta_max": es(monitor="val_auc", mode="max", min_delta=0.003, patience=99, restore_best_weights=True),
        "start_from_epoch": es(monitor="val_loss", mode="max", start_from_epoch=4, patience=99,
                               restore_best_weights=True),
        "baseline": es(monitor="val_auc", mode="max", baseline=0.99, patience=99, restore_best_weights=True),
        "auto_auc": es(monitor="val_auc", mode="auto", patience=99, restore_best_weights=True),
        "auto_loss": es(monitor="val_loss", mode="auto", min_delta=0.002, start_from_epoch=2, patience=99,
                        restore_best_weights=True),
    }
    model, weights, history = _fit(keras, tmp_path, list(callbacks.values()), epochs=12)
    assert history.n_epochs == 12
    for name, callback in callbacks.items():
        epoch, _ = _picked(history, callback)
        assert epoch == callback.best_epoch, (name, epoch, callback.best_epoch)
        assert _same_weights(callback.best_weights, weights[epoch]), name
    assert _same_weights(model.get_weights(), weights[callbacks["auto_loss"].best_epoch])  # the last one restored
    # the cases differ from the first best value, which the gate used to take
    val_loss = history.metrics["val_loss"]
    assert callbacks["min_delta_large"].best_epoch == 0 != int(np.argmin(val_loss))
    assert callbacks["start_from_epoch"].best_epoch == 4 != int(np.argmax(val_loss))
    assert "min_delta 10.0" in _picked(history, callbacks["min_delta_large"])[1]["epoch_rule"]
    assert _picked(history, callbacks["auto_auc"])[1]["mode"] == "max"


def test_baseline_stops_training_but_does_not_move_the_restored_epoch(keras, tmp_path):
    # the largest val_loss (falling as the model learns) is at epoch 0; the baseline no epoch beats
    # keeps wait from being reset there, so training stops one epoch sooner than without it
    callback = keras.callbacks.EarlyStopping(monitor="val_loss", mode="max", baseline=10.0, patience=3,
                                             restore_best_weights=True)
    model, weights, history = _fit(keras, tmp_path, [callback], epochs=30)
    assert history.n_epochs == 3 and callback.stopped_epoch == 2  # without the baseline: 4 epochs
    epoch, evidence = _picked(history, callback)
    assert epoch == callback.best_epoch == 0 and _same_weights(model.get_weights(), weights[epoch])
    assert evidence["baseline"] == 10.0 and "never which epoch" in evidence["baseline_note"]


def test_a_nan_first_monitor_value_keeps_keras_on_that_epoch_and_the_gate_errors(keras, tmp_path):
    callback = keras.callbacks.EarlyStopping(monitor="val_loss", mode="min", patience=99, restore_best_weights=True)
    model, weights, history = _fit(keras, tmp_path, [callback], epochs=6, nan_at_epoch=0)
    assert callback.best_epoch == 0 and _same_weights(model.get_weights(), weights[0])  # Keras kept the NaN epoch
    assert math.isnan(history.metrics["val_loss"][0]) and np.isfinite(history.metrics["val_loss"][1:]).all()
    with pytest.raises(KerasRestoredNonfinite, match="Keras restored weights from epoch 0, whose monitor val_loss"):
        _picked(history, callback)
    spec = parse_spec(_check('metric = "val_auc"\nepoch = "best"\nmonitor = "val_loss"\nmode = "min"\nge = 0.0'),
                      "gate.toml")
    (result,) = evaluate(spec, tmp_path).results
    assert result.status == "error"
    assert "Keras restored weights from epoch 0, whose monitor val_loss was nan" in result.message


# -- property: pick_epoch against the real EarlyStopping class, fed the logs by hand ------------

class _EpochWeights:
    """A model for EarlyStopping without Keras: its "weights" are the epoch index they are from."""

    def __init__(self):
        self.index, self.restored, self.stop_training = None, None, False

    def get_weights(self):
        return self.index

    def set_weights(self, weights):
        self.restored = weights


def keras_restores(values, mode, min_delta, start_from_epoch, baseline, epochs):
    """The index whose weights the real ``keras.callbacks.EarlyStopping`` restores, or None.
    A value None is an epoch whose logs lack the monitor (no validation that epoch)."""
    import keras

    callback = keras.callbacks.EarlyStopping(monitor="val_loss", mode=mode, min_delta=min_delta, baseline=baseline,
                                             start_from_epoch=start_from_epoch, patience=10**9,
                                             restore_best_weights=True)
    model = _EpochWeights()
    callback.set_model(model)
    callback.on_train_begin()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Early stopping conditioned on metric ... which is not available"
        for i, (value, epoch) in enumerate(zip(values, epochs)):
            model.index = i
            callback.on_epoch_end(epoch, {} if value is None else {"val_loss": value, "loss": 1.0})
    callback.on_train_end()
    return model.restored


GRID = [0.5, 0.51, 0.52, 0.6, 0.61, 0.62, 0.7, 0.500000001, 0.61000001, -0.5, 0.0]
_values = st.one_of(st.sampled_from(GRID), st.floats(-10, 10, width=32),
                    st.sampled_from([math.nan, math.inf, -math.inf]), st.none())


@settings(max_examples=300, deadline=None)
@example([6.432240210943775e-41, 0.0], "min", 0, 0, None, 0)  # TensorFlow flushes float32 subnormals to 0
@example([0.6, 0.61000001], "max", 0.01, 0, None, 0)  # equal in float32, not in float64
@given(st.lists(_values, min_size=1, max_size=12), st.sampled_from(["min", "max", "auto"]),
       st.one_of(st.sampled_from([0, 0.01, 0.1, 0.009999999, 1e-9, 0.11]), st.floats(0, 2)),
       st.integers(0, 14), st.one_of(st.none(), st.sampled_from(GRID), st.floats(-5, 5)), st.integers(0, 3))
def test_pick_epoch_is_the_epoch_keras_restores(values, mode, min_delta, start_from_epoch, baseline, first_epoch):
    pytest.importorskip("tensorflow")
    epochs = list(range(first_epoch, first_epoch + len(values)))  # a resumed run numbers from initial_epoch
    expected = keras_restores(values, mode, min_delta, start_from_epoch, baseline, epochs)
    numbers = np.asarray([math.nan if v is None else v for v in values], dtype=np.float64)
    written = np.asarray([WRITTEN_ABSENT if v is None else WRITTEN_NAN if math.isnan(v) else WRITTEN_NUMBER
                          for v in values], dtype=np.uint8)
    history = History("history.csv", "csv", {"val_loss": numbers, "loss": np.ones(len(values))},
                      np.asarray(epochs, dtype=np.int64), written={"val_loss": written})
    kwargs = {"min_delta": min_delta, "start_from_epoch": start_from_epoch, "baseline": baseline}
    if expected is None:
        with pytest.raises(ArtefactError, match="no epoch is monitored"):
            pick_epoch(history, "best", "val_loss", mode, **kwargs)
        return
    monitored = [v for v, e in zip(values, epochs) if v is not None and e >= start_from_epoch]
    if not math.isfinite(values[expected]):
        error = NoBestEpoch if not any(math.isfinite(v) for v in monitored) else KerasRestoredNonfinite
        with pytest.raises(error) as info:
            pick_epoch(history, "best", "val_loss", mode, **kwargs)
        assert (type(info.value) is NoBestEpoch) == (error is NoBestEpoch)
        assert f"epoch {epochs[expected]}" in str(info.value)
        return
    index, evidence = pick_epoch(history, "best", "val_loss", mode, **kwargs)
    assert index == expected and evidence["monitor_value"] == values[expected]
    assert restored_epoch(numbers, keras_mode("val_loss", mode), min_delta=min_delta,
                          start_from_epoch=start_from_epoch, epochs=epochs,
                          unmonitored=np.flatnonzero(written == WRITTEN_ABSENT)) == expected


def test_mode_auto_infers_as_keras_does():
    assert keras_mode("val_loss", "auto") == "min" and keras_mode("loss", "auto") == "min"
    assert keras_mode("val_auc", "auto") == "max" and keras_mode("val_accuracy", "auto") == "max"
    assert keras_mode("val_mae", "auto") == "min" and keras_mode("val_direction_auc", "auto") == "max"
    with pytest.raises(ValueError, match="give mode = 'max' or 'min'"):
        keras_mode("val_sharpness", "auto")


def test_min_delta_compares_in_float32_as_keras_ops_do():
    # 0.61000001 - 0.01 > 0.6 in float64, not in float32: Keras keeps epoch 0
    assert 0.61000001 - 0.01 > 0.6
    assert restored_epoch([0.6, 0.61000001], "max", min_delta=0.01) == 0
    assert restored_epoch([0.6, 0.6101], "max", min_delta=0.01) == 1
    assert restored_epoch([6.432240210943775e-41, 0.0], "min") == 0  # a float32 subnormal is 0 to TensorFlow


# -- the history and delta kinds, end to end -------------------------------------------------------

def _check(body, kind="history"):
    return f'[[check]]\nid = "c"\nkind = "{kind}"\nseverity = "must"\n' + textwrap.dedent(body) + "\n"


BEST_AUC = 'metric = "val_direction_auc"\nepoch = "best"\nmonitor = "val_direction_auc"\nmode = "max"\n'
# healthy_history's val_direction_auc: [0.62, 0.64, 0.66, 0.68, 0.67, 0.66, 0.665, 0.66]


def _config_with(early_stopping, where=("training", "callbacks", "early_stopping")) -> dict:
    config = copy.deepcopy(healthy_config())
    node = config
    for key in where[:-1]:
        node = node.setdefault(key, {})
    node[where[-1]] = early_stopping
    return config


def _judge(tmp_path, body, config=None, history=None, name="run"):
    run = make_run(tmp_path / name, config=config, history=history)
    (result,) = evaluate(parse_spec(_check(body), "gate.toml"), run).results
    return result


def test_min_delta_in_the_check(tmp_path):
    r = _judge(tmp_path, BEST_AUC + "min_delta = 0.03\nge = 0.65")
    assert r.evidence["epoch"] == 2 and r.observed == 0.66  # 0.68 is not 0.03 better than 0.66
    assert r.evidence["epoch_rule"] == "best by val_direction_auc (max, min_delta 0.03), as EarlyStopping restores"
    assert "at its best epoch 2 (best by val_direction_auc (max, min_delta 0.03)" in r.message
    assert _judge(tmp_path, BEST_AUC + "ge = 0.65", name="plain").evidence["epoch"] == 3


def test_parameters_from_a_config_nested_as_another_team_writes_it(tmp_path):
    config = _config_with({"monitor": "val_direction_auc", "mode": "max", "patience": 4, "min_delta": 0.03,
                           "start_from_epoch": 2, "restore_best_weights": True})
    r = _judge(tmp_path, BEST_AUC + "ge = 0.67", config=config)
    assert r.status == "fail" and r.observed == 0.66 and r.evidence["epoch"] == 2  # 0.68 is not 0.03 better
    assert r.evidence["early_stopping_config"] == "training.callbacks.early_stopping"
    assert r.evidence["from_config"] == ["min_delta", "start_from_epoch"]
    assert r.evidence["epoch_rule"] == ("best by val_direction_auc (max, min_delta 0.03, from epoch 2), as "
                                        "EarlyStopping restores; min_delta, start_from_epoch from the config's "
                                        "training.callbacks.early_stopping")
    assert "from the config's training.callbacks.early_stopping" in r.message


def test_the_checks_values_win_over_the_configs_and_the_evidence_says_so(tmp_path):
    config = _config_with({"monitor": "val_direction_auc", "mode": "min", "min_delta": 0.03, "start_from_epoch": 5})
    r = _judge(tmp_path, BEST_AUC + "min_delta = 0.0\nge = 0.65", config=config)
    assert r.evidence["epoch"] == 6 and r.evidence["from_config"] == ["start_from_epoch"]
    notes = r.evidence["early_stopping_notes"]
    assert "min_delta = 0.0 from the check is used; the config's training.callbacks.early_stopping.min_delta " \
           "says 0.03" in notes
    assert any("mode = 'max' from the check is used" in n for n in notes)


def test_a_config_early_stopping_on_another_monitor_is_not_used(tmp_path):
    config = _config_with({"monitor": "val_loss", "min_delta": 0.03}, where=("early_stopping",))
    r = _judge(tmp_path, BEST_AUC + "ge = 0.65", config=config)
    assert r.evidence["epoch"] == 3 and "from_config" not in r.evidence
    assert "monitors 'val_loss', not 'val_direction_auc'" in r.evidence["early_stopping_notes"][0]


def test_a_keras_serialised_callback_list_in_the_config(tmp_path):
    config = {"callbacks": [{"class_name": "ModelCheckpoint", "config": {"monitor": "val_loss"}},
                            {"class_name": "EarlyStopping", "config": {"monitor": "val_direction_auc",
                                                                       "start_from_epoch": 5}}]}
    assert early_stopping_in_config(config) == [("callbacks.1.config", config["callbacks"][1]["config"])]
    r = _judge(tmp_path, BEST_AUC + "ge = 0.65", config=config)
    assert r.evidence["epoch"] == 6 and r.evidence["early_stopping_config"] == "callbacks.1.config"


def test_two_different_early_stoppings_in_the_config_are_an_error_naming_both(tmp_path):
    config = _config_with({"monitor": "val_direction_auc", "min_delta": 0.03})
    config["earlystopping"] = {"monitor": "val_direction_auc", "min_delta": 0.0}
    r = _judge(tmp_path, BEST_AUC + "ge = 0.65", config=config)
    assert r.status == "error" and "two EarlyStopping callbacks" in r.message
    assert "'earlystopping'" in r.message and "'training.callbacks.early_stopping'" in r.message


def test_a_bad_value_in_the_configs_early_stopping_is_an_error_naming_the_key(tmp_path):
    config = _config_with({"monitor": "val_direction_auc", "min_delta": "0.01"})
    r = _judge(tmp_path, BEST_AUC + "ge = 0.65", config=config)
    assert r.status == "error" and "training.callbacks.early_stopping.min_delta is '0.01'" in r.message


def test_start_from_epoch_beyond_the_history_is_an_error(tmp_path):
    r = _judge(tmp_path, BEST_AUC + "start_from_epoch = 8\nge = 0.65")
    assert r.status == "error" and "no epoch is monitored (start_from_epoch = 8" in r.message


def _history_with_first_auc(text):
    frame = healthy_history().astype({"val_direction_auc": object})
    frame.loc[0, "val_direction_auc"] = text
    return frame


def test_a_nan_first_monitor_is_an_error_but_a_missing_one_is_skipped(tmp_path):
    r = _judge(tmp_path, BEST_AUC + "ge = 0.0", history=_history_with_first_auc("nan"))
    assert r.status == "error"
    assert "Keras restored weights from epoch 0, whose monitor val_direction_auc was nan" in r.message
    r = _judge(tmp_path, BEST_AUC + "ge = 0.0", history=_history_with_first_auc("NA"), name="na")
    assert r.evidence["epoch"] == 3  # no value logged at epoch 0 (CSVLogger's NA): EarlyStopping skipped it
    r = _judge(tmp_path, BEST_AUC + "start_from_epoch = 1\nge = 0.0", history=_history_with_first_auc("nan"),
               name="later")
    assert r.evidence["epoch"] == 3 and r.status == "fail"  # monitored from epoch 1; the NaN still fails


def test_the_delta_kind_and_metric_at_pick_the_same_epoch(tmp_path):
    config = _config_with({"monitor": "val_direction_auc", "min_delta": 0.03})
    candidate = make_run(tmp_path / "candidate", config=config)
    baseline = make_run(tmp_path / "baseline")
    body = BEST_AUC + "ge = -0.05\n"
    (r,) = evaluate(parse_spec(_check(body, kind="delta"), "gate.toml"), candidate, baseline).results
    assert r.evidence["candidate_epoch"] == 2 and r.evidence["baseline_epoch"] == 3
    assert r.observed == pytest.approx(0.66 - 0.68)
    (r,) = evaluate(parse_spec(_check(body + "min_delta = 0.0", kind="delta"), "gate.toml"), candidate,
                    baseline).results
    assert r.evidence["candidate_epoch"] == 3


@pytest.mark.parametrize("extra, key, fragment", [
    ("min_delta = -1\n", "min_delta", "'min_delta' must be >= 0.0, got -1"),
    ("min_delta = nan\n", "min_delta", "'min_delta' must be finite"),
    ("start_from_epoch = -1\n", "start_from_epoch", "'start_from_epoch' must be >= 0"),
    ("start_from_epoch = 1.5\n", "start_from_epoch", "'start_from_epoch' must be an integer"),
    ("baseline = inf\n", "baseline", "'baseline' must be finite"),
])
def test_spec_errors_in_early_stopping_parameters(extra, key, fragment):
    with pytest.raises(SpecError, match=fragment):
        parse_spec(_check(BEST_AUC + extra + "ge = 0.65"), "gate.toml")


@pytest.mark.parametrize("kind", ["history", "delta"])
def test_early_stopping_parameters_need_epoch_best(kind):
    with pytest.raises(SpecError, match="start_from_epoch is only used with epoch = 'best'"):
        parse_spec(_check('metric = "val_loss"\nstart_from_epoch = 2\nlt = 1.0', kind=kind), "gate.toml")
    with pytest.raises(SpecError, match="min_delta is only used with epoch = 'best'"):
        parse_spec(_check('metric = "val_loss"\nepoch = "last"\nmin_delta = 0.01\nlt = 1.0', kind=kind),
                   "gate.toml")


def test_reading_a_history_keeps_how_missing_values_were_written(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("epoch,loss,val_loss\n0,0.5,NA\n1,0.4,nan\n2,0.3,\n3,0.2,0.1\n")
    h = read_history(path)
    assert h.written["val_loss"].tolist() == [2, 1, 3, 0] and "epoch" not in h.written
    json_path = tmp_path / "history.json"
    json_path.write_text(json.dumps({"val_loss": [None, math.nan, 0.1]}))
    assert read_history(json_path).written["val_loss"].tolist() == [3, 1, 0]
    assert pd.isna(read_history(json_path).metrics["val_loss"][0])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.floats(0, 0.05), st.integers(0, 7))
def test_the_gate_agrees_with_restored_epoch_on_healthy_histories(tmp_path_factory, min_delta, start):
    run = make_run(tmp_path_factory.mktemp("r"))
    body = BEST_AUC + f"min_delta = {min_delta!r}\nstart_from_epoch = {start}\nge = 0.0"
    (r,) = evaluate(parse_spec(_check(body), "gate.toml"), run).results
    values = healthy_history()["val_direction_auc"].to_numpy()
    assert r.evidence["epoch"] == restored_epoch(values, "max", min_delta=min_delta, start_from_epoch=start)
