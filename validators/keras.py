"""A Keras callback that leaves a run directory the gate reads, then runs the gate.

    from validators.keras import RunVerdict

    model.fit(x, y, validation_data=(x_val, y_val), epochs=50, callbacks=[
        keras.callbacks.EarlyStopping(monitor="val_direction_auc", mode="max",
                                      restore_best_weights=True),
        RunVerdict("checks/run3.toml", "runs/run3", validation_data=(x_val, y_val),
                   extra_columns={"forward_return": fwd_val}, raise_on_fail=True),
    ])

Put it after ``EarlyStopping``: callbacks run in list order, so the predictions are made
with the restored best weights. At the end of ``fit`` it writes ``predictions.csv`` (one
column per output head, plus ``y_<head>`` labels and any ``extra_columns``),
``history.csv`` (as ``CSVLogger`` writes it), ``config.json`` (loss weights and each head's
activation and kernel initializer, read from the model), ``model.keras``, and then runs the
gate, prints the verdict and writes ``verdict.json``. With ``raise_on_fail=True`` a
verdict other than pass raises ``GateFailed``, so a training script exits non-zero.

Importing this module imports Keras; nothing else in ``validators`` does.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import keras
import numpy as np


class GateFailed(RuntimeError):
    """The gate's verdict was not pass; ``report`` holds the whole report."""

    def __init__(self, report):
        self.report = report
        super().__init__(f"runverdict: verdict {report.verdict} (exit {int(report.exit_code)}) "
                         f"for {report.run_dir}")


class RunVerdict(keras.callbacks.Callback):
    def __init__(self, spec, out_dir, validation_data, *, extra_columns=None, raise_on_fail=False,
                 save_model=True, verbose=True):
        super().__init__()
        from .spec import load_spec

        self.spec = load_spec(spec)  # a wrong spec fails before training starts, not after
        self.out_dir = Path(out_dir)
        self.validation_data = validation_data
        self.extra_columns = dict(extra_columns or {})
        self.raise_on_fail = raise_on_fail
        self.save_model = save_model
        self.verbose = verbose
        self.epochs: list[dict] = []
        self.report = None

    def on_train_begin(self, logs=None):
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch}
        row.update({k: _scalar(v) for k, v in (logs or {}).items()})
        self.epochs.append(row)

    def on_train_end(self, logs=None):
        from .gate import evaluate
        from .reports.jsonreport import write_json
        from .reports.text import render, use_colour

        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._write_predictions()
        self._write_history()
        self._write_config()
        if self.save_model:
            self.model.save(self.out_dir / "model.keras")
        report = evaluate(self.spec, self.out_dir)
        write_json(report, self.out_dir / "verdict.json")
        self.report = report
        if self.verbose:
            sys.stdout.write(render(report, colour=use_colour(sys.stdout)))
        if self.raise_on_fail and report.verdict != "pass":
            raise GateFailed(report)

    # -- artefacts --------------------------------------------------------------------------
    def _heads(self) -> list[str]:
        return list(self.model.output_names)

    def _write_predictions(self):
        import pandas as pd

        x, y = self.validation_data[0], self.validation_data[1]
        outputs = self.model.predict(x, verbose=0)
        heads = self._heads()
        if isinstance(outputs, dict):
            outputs = [outputs[h] for h in heads]
        elif not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        columns = {}
        for head, values in zip(heads, outputs):
            columns.update(_columns(head, np.asarray(values)))
        labels = y if isinstance(y, dict) else dict(zip(heads, y if isinstance(y, (list, tuple)) else [y]))
        for head, values in labels.items():
            columns.update(_columns(f"y_{head}", np.asarray(values)))
        for name, values in self.extra_columns.items():
            columns[name] = np.asarray(values).ravel()
        pd.DataFrame(columns).to_csv(self.out_dir / "predictions.csv", index=False, float_format="%.17g")

    def _write_history(self):
        import pandas as pd

        frame = pd.DataFrame(self.epochs)
        names = sorted(c for c in frame.columns if c != "epoch")
        frame[["epoch"] + names].to_csv(self.out_dir / "history.csv", index=False, float_format="%.17g")

    def _write_config(self):
        heads = self._heads()
        compiled = self.model.get_compile_config() or {}
        weights = compiled.get("loss_weights")
        if isinstance(weights, (list, tuple)):
            weights = dict(zip(heads, weights))
        config = {
            "loss_weights": weights,
            "heads": {h: _head_config(self.model.get_layer(h)) for h in heads},
            "epochs_trained": len(self.epochs),
        }
        with open(self.out_dir / "config.json", "w", encoding="utf-8") as handle:
            json.dump(config, handle, indent=2)
            handle.write("\n")


def _scalar(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _columns(name, values) -> dict:
    values = values.reshape(values.shape[0], -1) if values.ndim > 1 else values.reshape(-1, 1)
    if values.shape[1] == 1:
        return {name: values[:, 0]}
    return {f"{name}_{i}": values[:, i] for i in range(values.shape[1])}


def _head_config(layer) -> dict:
    cfg = layer.get_config()
    out = {}
    activation = cfg.get("activation")
    if activation is not None:
        out["activation"] = activation if isinstance(activation, str) else str(activation)
    init = cfg.get("kernel_initializer")
    if isinstance(init, dict):
        from .artefacts.keras_archive import keras_name

        out["kernel_initializer"] = keras_name(init.get("class_name", ""))
    elif init is not None:
        out["kernel_initializer"] = str(init)
    return out


__all__ = ["GateFailed", "RunVerdict"]
