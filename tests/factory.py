"""Small hand-made run directories for tests, in the formats Keras and pandas write."""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

SHIPPED_SPEC = Path(__file__).resolve().parent.parent / "checks" / "run3.toml"

# The plan's criteria on a team's own config file, as a team adds them to the shipped spec (which
# reads what training used from the model, not from a config whose layout every team chooses):
# tests of config reading judge runs with the shipped spec plus these.
CONFIG_CHECKS_TOML = """
[[check]]
id = "config-loss-weights"
description = "The config file records the plan's loss weights (1.0, 0.3, 0.3)"
kind = "config"
severity = "must"
key = "loss_weights"
equals = { direction = 1.0, volatility = 0.3, magnitude = 0.3 }

[[check]]
id = "config-volatility-activation"
description = "The config file records volatility_out = layers.Dense(1, activation='relu', ...)"
kind = "config"
severity = "must"
key = "heads.volatility.activation"
equals = "relu"

[[check]]
id = "config-magnitude-activation"
description = "The config file records magnitude_out = layers.Dense(1, activation='relu', ...)"
kind = "config"
severity = "must"
key = "heads.magnitude.activation"
equals = "relu"
"""
CONFIG_CHECK_IDS = ("config-loss-weights", "config-volatility-activation", "config-magnitude-activation")


def spec_with_config_checks() -> str:
    """checks/run3.toml with the config checks inserted after its loss-weights check."""
    text = SHIPPED_SPEC.read_text()
    at = text.index("# ---- The fix itself")
    return text[:at] + CONFIG_CHECKS_TOML.lstrip("\n") + "\n" + text[at:]


def _write_spec() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="runverdict-spec-"))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "run3.toml"
    path.write_text(spec_with_config_checks())
    return path


SPEC = _write_spec()  # the shipped spec plus CONFIG_CHECKS_TOML, in a folder of this process's own


def bracket(values) -> list[str]:
    """Cells as pandas writes a one-element numpy array: ``[0.0123]``."""
    return [str(np.array([v], dtype=np.float32)) for v in values]


def healthy_predictions(n=400, seed=0) -> pd.DataFrame:
    return _healthy_predictions(n, seed).copy()  # a fresh frame each call: callers change it


@functools.lru_cache(maxsize=8)
def _healthy_predictions(n, seed) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.clip(0.5 + (y - 0.5) * 0.4 + rng.normal(0, 0.2, n), 0.001, 0.999)
    return pd.DataFrame({
        "direction": bracket(p),
        "volatility": bracket(rng.uniform(0.005, 0.08, n)),
        "magnitude": bracket(rng.uniform(0.01, 0.09, n)),
        "y_direction": y,
        "y_volatility": rng.uniform(0, 0.107, n),
        "y_magnitude": rng.uniform(0, 0.2, n),
        "forward_return": rng.normal(0, 0.02, n),
    })


def healthy_history(epochs=8) -> pd.DataFrame:
    e = np.arange(epochs)
    return pd.DataFrame({
        "epoch": e,
        "direction_auc": 0.60 + 0.01 * e,
        "direction_loss": 0.66 - 0.01 * e,
        "loss": 0.70 - 0.01 * e,
        "magnitude_loss": 0.03 - 0.001 * e,
        "magnitude_mae": 0.1 - 0.002 * e,
        "val_direction_auc": [0.62, 0.64, 0.66, 0.68, 0.67, 0.66, 0.665, 0.66][:epochs],
        "val_loss": 0.71 - 0.01 * e,
        "volatility_loss": 0.004 - 0.0001 * e,
    })


def healthy_config() -> dict:
    return {
        "loss_weights": {"direction": 1.0, "volatility": 0.3, "magnitude": 0.3},
        "heads": {
            "direction": {"activation": "sigmoid", "kernel_initializer": "glorot_uniform"},
            "volatility": {"activation": "relu", "kernel_initializer": "he_normal"},
            "magnitude": {"activation": "relu", "kernel_initializer": "he_normal"},
        },
    }


def make_run(root, predictions=None, history=None, config=None, returns=None, heads=None,
             compile_config=None) -> Path:
    """A run directory with every artefact checks/run3.toml reads; each part replaceable."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (healthy_predictions() if predictions is None else predictions).to_csv(root / "predictions.csv", index=False)
    (healthy_history() if history is None else history).to_csv(root / "history.csv", index=False)
    (root / "config.json").write_text(json.dumps(healthy_config() if config is None else config, indent=2))
    write_returns(root, returns)
    write_model(root / "model.keras", heads, compile_config)
    return root


# --- .keras archives written as data: a zip with config.json, the layout Keras 3 saves ---

def make_zip(path: Path, members: dict) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def dense(name, units=1, activation="relu", init="HeNormal", inbound=None, **extra):
    return {
        "module": "keras.layers",
        "class_name": "Dense",
        "config": {
            "name": name,
            "units": units,
            "activation": activation,
            "kernel_initializer": {"module": "keras.initializers", "class_name": init, "config": {}},
        },
        "name": name,
        "build_config": {"input_shape": [None, 8]},
        "inbound_nodes": inbound or [],
        **extra,
    }


def functional(layers, outputs):
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "config": {"name": "m", "layers": layers, "output_layers": outputs}}


def keras_file(path, config) -> Path:
    return make_zip(Path(path), {"metadata.json": '{"keras_version": "3.15.1"}', "config.json": json.dumps(config)})


HEALTHY_HEADS = {"direction": ("sigmoid", "GlorotUniform"), "volatility": ("relu", "HeNormal"),
                 "magnitude": ("relu", "HeNormal")}


HEALTHY_COMPILE = {"loss": {"direction": "binary_crossentropy", "volatility": "mse", "magnitude": "mse"},
                   "loss_weights": {"direction": 1.0, "volatility": 0.3, "magnitude": 0.3},
                   "metrics": {"direction": [{"module": "keras.metrics", "class_name": "AUC",
                                              "config": {"name": "auc", "num_thresholds": 200}}],
                               "volatility": ["mae"], "magnitude": ["mae"]}}


def write_model(path, heads=None, compile_config=None) -> Path:
    """The plan's three heads on a ``fusion`` layer; ``heads`` maps name -> (activation, initializer).

    ``compile_config`` is what ``model.compile`` was given, as Keras 3 saves it (default: the plan's).
    """
    heads = HEALTHY_HEADS if heads is None else heads
    layers = [dense("fusion", units=8, activation="relu", init="GlorotUniform")]
    layers += [dense(name, activation=act, init=init) for name, (act, init) in heads.items()]
    model = functional(layers, [[name, 0, 0] for name in heads])
    model["compile_config"] = HEALTHY_COMPILE if compile_config is None else compile_config
    return keras_file(path, model)


def saturated_run(root) -> Path:
    pred = healthy_predictions()
    n = len(pred)
    pred["volatility"] = bracket(np.full(n, 0.99995))
    return make_run(root, predictions=pred)


def healthy_returns(rows=240, trials=6, seed=0) -> pd.DataFrame:
    """Per-period strategy returns, one column per trial, as ``returns.csv`` holds them."""
    rng = np.random.default_rng(seed)
    drift = np.linspace(0.0, 0.002, trials)
    return pd.DataFrame(rng.normal(drift, 0.01, size=(rows, trials)), columns=[f"t{i}" for i in range(trials)])


def write_returns(root, returns=None) -> Path:
    path = Path(root) / "returns.csv"
    (healthy_returns() if returns is None else returns).to_csv(path, index=False)
    return path
