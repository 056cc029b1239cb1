"""The Keras callback: a real (tiny) training run leaves a run the CLI accepts."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from validators.keras import GateFailed, RunVerdict

SPEC = """
[[check]]
id = "volatility-range"
kind = "range"
severity = "must"
column = "volatility"
ge = 0.0
le = 1000.0

[[check]]
id = "loss-weights"
kind = "config"
severity = "must"
key = "loss_weights"
equals = { direction = 1.0, volatility = 0.3 }

[[check]]
id = "volatility-head"
kind = "architecture"
severity = "must"
layer = "volatility"
activation = "relu"
kernel_initializer = "he_normal"
output_shape = [1]

[[check]]
id = "auc-logged"
kind = "history"
severity = "must"
metric = "val_direction_auc"
epoch = "best"
monitor = "val_direction_auc"
mode = "max"
ge = 0.0

[[check]]
id = "auc-exact"
kind = "auc"
severity = "must"
column = "direction"
label_column = "y_direction"
history_metric = "val_direction_auc"
ge = 0.0
"""


def _model():
    keras.utils.set_random_seed(0)
    a = keras.Input((4,), name="prices")
    b = keras.Input((2,), name="volumes")
    fusion = keras.layers.Dense(8, activation="relu", name="fusion")(keras.layers.Concatenate()([a, b]))
    direction = keras.layers.Dense(1, activation="sigmoid", name="direction")(fusion)
    volatility = keras.layers.Dense(1, activation="relu", kernel_initializer="he_normal", name="volatility")(fusion)
    model = keras.Model([a, b], {"direction": direction, "volatility": volatility})
    model.compile(optimizer="adam", loss={"direction": "binary_crossentropy", "volatility": "mse"},
                  loss_weights={"direction": 1.0, "volatility": 0.3},
                  metrics={"direction": [keras.metrics.AUC(name="auc")], "volatility": ["mae"]})
    return model


def _data(n, seed):
    rng = np.random.default_rng(seed)
    xa = rng.normal(size=(n, 4)).astype("float32")
    xb = rng.normal(size=(n, 2)).astype("float32")
    y_dir = (xa[:, 0] + 0.5 * rng.normal(size=n) > 0).astype("float32")
    y_vol = np.abs(rng.normal(0.03, 0.01, n)).astype("float32")
    return [xa, xb], {"direction": y_dir, "volatility": y_vol}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("callback") / "run"
    spec = out.parent / "spec.toml"
    spec.write_text(SPEC)
    x, y = _data(256, 0)
    xv, yv = _data(128, 1)
    callback = RunVerdict(spec, out, validation_data=(xv, yv), extra_columns={"forward_return": np.zeros(128)},
                          verbose=False)
    _model().fit(x, y, validation_data=(xv, yv), epochs=3, batch_size=64, verbose=0, callbacks=[callback])
    return out, spec, callback


def test_callback_writes_the_run_layout(trained):
    out, _, callback = trained
    for name in ("predictions.csv", "history.csv", "config.json", "model.keras", "verdict.json"):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert config["loss_weights"] == {"direction": 1.0, "volatility": 0.3}
    assert config["heads"]["volatility"] == {"activation": "relu", "kernel_initializer": "he_normal"}
    header = (out / "predictions.csv").read_text().splitlines()[0].split(",")
    assert {"direction", "volatility", "y_direction", "y_volatility", "forward_return"} <= set(header)
    assert callback.report.verdict == "pass", [(r.id, r.status, r.message) for r in callback.report.results]


def test_cli_accepts_the_run_the_callback_wrote(trained):
    out, spec, _ = trained
    done = subprocess.run([sys.executable, "-m", "validators", "check", str(out), "--spec", str(spec)],
                          capture_output=True, text=True, check=False, env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed, 0 failed, 0 errors" in done.stdout


def test_raise_on_fail_stops_the_training_script(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.replace("le = 1000.0", "le = -1.0").replace("ge = 0.0\nle = -1.0", "le = -1.0"))
    x, y = _data(64, 2)
    callback = RunVerdict(spec, tmp_path / "run", validation_data=(x, y), raise_on_fail=True, verbose=False,
                          save_model=False)
    with pytest.raises(GateFailed) as caught:
        _model().fit(x, y, validation_data=(x, y), epochs=1, verbose=0, callbacks=[callback])
    assert caught.value.report.verdict in ("fail", "error")


def test_wrong_spec_fails_before_training(tmp_path):
    from validators.errors import SpecError

    spec = tmp_path / "spec.toml"
    spec.write_text("[[check]]\nid = 'x'\nkind = 'nope'\nseverity = 'must'\n")
    with pytest.raises(SpecError, match="unknown check kind"):
        RunVerdict(spec, tmp_path / "run", validation_data=None)
