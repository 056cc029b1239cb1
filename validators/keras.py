"""A Keras callback that leaves a run directory the gate reads, then runs the gate.

    from validators.keras import RunVerdict

    gate = RunVerdict("checks/run3.toml", "runs/run3", validation_data=(x_val, y_val),
                      extra_columns={"forward_return": fwd_val}, index=dates_val)
    model.fit(x, y, validation_data=(x_val, y_val), epochs=50, callbacks=[
        keras.callbacks.EarlyStopping(monitor="val_direction_auc", mode="max",
                                      restore_best_weights=True),
        gate,
    ])
    ...                       # the rest of the training script still runs
    sys.exit(gate.exit_code)  # 0 pass, 1 fail, 2 error: the CI job fails with the gate

The weights gated are the weights training ends with, wherever the callback sits in the list:
an ``EarlyStopping(restore_best_weights=True)`` placed after it has its restore applied first;
another callback after it that runs its own ``on_train_end`` (and so might change the weights)
is refused when training starts, naming the order to use.

At the end of ``fit`` it writes, where the spec's ``[artefacts]`` say (else the conventional
names): ``predictions.csv`` (each head as a one-element list per cell, ``[0.0123]``, the way
pandas writes a one-element array and the plan's snippets read it; labels named by the spec's
``[layout] labels`` or ``y_<head>``; the ``extra_columns``; the ``index`` first),
``history.csv`` (as ``CSVLogger`` writes it), ``config.json`` (loss weights and each head's
activation and initializer, read from the model), ``model.keras`` and, when the spec judges
strategy returns and the predictions hold its ``forward_return`` column, ``returns.csv`` (one
trial per confidence threshold, as ``runverdict trials`` writes it). Then it runs the gate on
what it wrote, never on a file an earlier run left in the folder, prints the verdict and writes
``verdict.json``. What a failing verdict does is ``on_fail``: ``"report"`` (default: only the
report, kept on ``callback.report``), ``"raise"`` (``GateFailed`` out of ``fit``) or ``"stop"``
(the ``epoch_checks`` are also judged after every epoch, and training stops at the first epoch
one of them does not pass).

Importing this module imports Keras; nothing else in ``validators`` does.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import warnings
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np

ON_FAIL = ("report", "raise", "stop")
DEFAULT_FILES = {"predictions": "predictions.csv", "history": "history.csv", "config": "config.json",
                 "model": "model.keras", "returns": "returns.csv"}
RETURNS_KINDS = ("pbo", "sharpe", "psr", "dsr")
# Callbacks whose on_train_end never changes the weights: they may come after RunVerdict.
_HARMLESS_AFTER = ("History", "ProgbarLogger", "CSVLogger", "TensorBoard", "ModelCheckpoint", "TerminateOnNaN",
                   "ReduceLROnPlateau", "LearningRateScheduler", "BackupAndRestore", "RemoteMonitor")


class GateFailed(RuntimeError):
    """The gate's verdict was not pass; ``report`` holds the whole report."""

    def __init__(self, report):
        self.report = report
        super().__init__(f"runverdict: verdict {report.verdict} (exit {int(report.exit_code)}) "
                         f"for {report.run_dir}")


class RunVerdict(keras.callbacks.Callback):
    def __init__(self, spec, out_dir, validation_data, *, extra_columns=None, index=None, index_name=None,
                 labels=None, files=None, cells="list", returns="auto", on_fail="report", epoch_checks=(),
                 raise_on_fail=False, save_model=True, verbose=True):
        super().__init__()
        from .spec import load_spec

        self.spec = load_spec(spec)  # a wrong spec fails before training starts, not after
        if raise_on_fail:
            on_fail = "raise"
        if on_fail not in ON_FAIL:
            raise ValueError(f"on_fail must be one of {', '.join(map(repr, ON_FAIL))}, got {on_fail!r}")
        ids = {c.id for c in self.spec.checks}
        unknown = [i for i in epoch_checks if i not in ids]
        if unknown:
            raise ValueError(f"epoch_checks {unknown!r} are not check ids of {self.spec.path}; "
                             f"its checks are {sorted(ids)!r}")
        if on_fail == "stop" and not epoch_checks:
            raise ValueError("on_fail='stop' judges epoch_checks after every epoch: name them, e.g. "
                             "epoch_checks=['volatility-not-saturated']")
        if cells not in ("list", "plain"):
            raise ValueError(f"cells must be 'list' ([0.0123], the plan's format) or 'plain', got {cells!r}")
        unknown_files = sorted(set(files or {}) - set(DEFAULT_FILES))
        if unknown_files:
            raise ValueError(f"files: unknown artefacts {unknown_files!r}; known: {sorted(DEFAULT_FILES)!r}")
        self.out_dir = Path(out_dir)
        self.validation_data = validation_data
        self.extra_columns = dict(extra_columns or {})
        self.index = index
        self.index_name = index_name
        self.labels = dict(labels or {})
        self.files = self._file_names(files or {})
        self.cells = cells
        self.returns = returns
        self.on_fail = on_fail
        self.epoch_checks = tuple(epoch_checks)
        self.save_model = save_model
        self.verbose = verbose
        self.epochs: list[dict] = []
        self.report = None
        self.stopped_at = None  # the epoch whose epoch_checks stopped training (on_fail="stop")
        self.epoch_report = None
        self.notes: list[str] = []
        self._restorers: list = []
        self._started_ns = None
        self._written: dict = {}
        self._outputs: dict = {}

    @property
    def verdict(self):
        return None if self.report is None else self.report.verdict

    @property
    def exit_code(self) -> int:
        """The gate's exit code (2 when the gate has not run), for ``sys.exit`` at the script's end."""
        return 2 if self.report is None else int(self.report.exit_code)

    # -- training ---------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self.epochs, self.notes, self._written = [], [], {}
        self.report = self.epoch_report = self.stopped_at = None
        self._restorers = self._check_order()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._started_ns = _now_on_disk(self.out_dir)

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch}
        row.update({k: _scalar(v) for k, v in (logs or {}).items()})
        self.epochs.append(row)
        if self.on_fail == "stop":
            self._judge_epoch(epoch)

    def on_train_end(self, logs=None):
        from .gate import evaluate
        from .reports.jsonreport import write_json
        from .reports.text import render, use_colour

        self._apply_later_restores()
        self._write_run()
        if self.save_model:
            self.model.save(self.out_dir / self.files["model"])
            self._written["model"] = self.files["model"]
        report = evaluate(self.spec, self.out_dir, artefacts=dict(self._written), written_since=self._started_ns)
        report = replace(report, notes=tuple(dict.fromkeys(self.notes + list(report.notes))))
        write_json(report, self.out_dir / "verdict.json")
        self.report = report
        if self.verbose:
            sys.stdout.write(render(report, colour=use_colour(sys.stdout)))
        if self.on_fail == "raise" and report.verdict != "pass":
            raise GateFailed(report)

    # -- the order of callbacks -------------------------------------------------------------
    def _check_order(self) -> list:
        """EarlyStopping callbacks after this one that will restore weights; refuse other late changers."""
        callbacks = _callback_list_of(self)
        if callbacks is None:
            warnings.warn("RunVerdict could not see the list of callbacks; put it last so that it gates "
                          "the weights training ends with", stacklevel=3)
            return []
        position = next(i for i, c in enumerate(callbacks) if c is self)
        restorers = []
        for later in callbacks[position + 1:]:
            name = type(later).__name__
            if isinstance(later, keras.callbacks.EarlyStopping):
                if later.restore_best_weights:
                    restorers.append(later)
            elif name not in _HARMLESS_AFTER and _has_own_train_end(later):
                raise ValueError(
                    f"RunVerdict comes before {name} in callbacks, and {name}.on_train_end runs after "
                    f"RunVerdict's and may change the weights it would gate: put RunVerdict last, "
                    f"callbacks=[..., {name}(...), RunVerdict(...)]")
        return restorers

    def _apply_later_restores(self):
        for stopper in self._restorers:
            if stopper.best_weights is not None:
                self.model.set_weights(stopper.best_weights)
                self.notes.append(f"weights of epoch {stopper.best_epoch} gated: the EarlyStopping after "
                                  "RunVerdict in callbacks restores them when training ends")

    # -- stop on a failing epoch ------------------------------------------------------------
    def _judge_epoch(self, epoch):
        from .gate import evaluate

        self._write_run()
        spec = replace(self.spec, checks=tuple(c for c in self.spec.checks if c.id in self.epoch_checks),
                       advice=())
        report = evaluate(spec, self.out_dir, artefacts=dict(self._written), written_since=self._started_ns)
        bad = [r for r in report.results if r.status != "pass"]
        if bad:
            self.epoch_report, self.stopped_at = report, epoch
            self.model.stop_training = True
            self.notes.append(f"training stopped after epoch {epoch}: "
                              + ", ".join(f"{r.id} {r.status}" for r in bad))

    # -- artefacts --------------------------------------------------------------------------
    def _file_names(self, overrides) -> dict:
        names = dict(DEFAULT_FILES)
        for role, declared in (self.spec.artefacts or {}).items():
            if role in names and not any(ch in str(declared) for ch in "*?["):
                names[role] = str(declared)
        names.update({role: os.fspath(path) for role, path in overrides.items()})
        return names

    def _heads(self) -> list[str]:
        return list(self.model.output_names)

    def _write_run(self):
        frame = self._predictions()
        self._save(frame, "predictions")
        self._write_history()
        self._write_config()
        returns = self._returns(frame)
        if returns is not None:
            self._save(returns, "returns")

    def _save(self, frame, role):
        path = self.out_dir / self.files[role]
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".parquet":
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False, float_format="%.17g")
        self._written[role] = self.files[role]

    def _predictions(self):
        import pandas as pd

        x, y = self.validation_data[0], self.validation_data[1]
        outputs = self.model.predict(x, verbose=0)
        heads = self._heads()
        if isinstance(outputs, dict):
            outputs = [outputs[h] for h in heads]
        elif not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        self._outputs = dict(zip(heads, outputs))
        columns = {}
        if self.index is not None:
            index = np.asarray(self.index)
            columns[self.index_name or ("timestamp" if np.issubdtype(index.dtype, np.datetime64) else "index")] = index
        declared_columns = (self.spec.layout or {}).get("columns", {})
        for head, values in zip(heads, outputs):
            columns.update(_columns(declared_columns.get(head, head), np.asarray(values), self.cells))
        labels = y if isinstance(y, dict) else dict(zip(heads, y if isinstance(y, (list, tuple)) else [y]))
        declared_labels = (self.spec.layout or {}).get("labels", {})
        for head, values in labels.items():
            name = self.labels.get(head) or declared_labels.get(head) or f"y_{head}"
            columns.update(_columns(name, np.asarray(values), "plain"))
        for name, values in self.extra_columns.items():
            columns[name] = np.asarray(values).ravel()
        return pd.DataFrame(columns)

    def _returns(self, predictions):
        """The trial returns to write, or None: as given, from a callable, or built from the predictions."""
        import pandas as pd

        given = self.returns
        if callable(given):
            given = given(self.model, predictions)
        if given is None:
            return None
        if not (isinstance(given, str) and given == "auto"):
            frame = given if isinstance(given, pd.DataFrame) else pd.DataFrame(np.asarray(given, dtype=float))
            frame.columns = [str(c) for c in frame.columns]
            return frame
        if self.spec.trials is not None or not any(c.kind in RETURNS_KINDS for c in self.spec.checks):
            return None  # the gate builds the trials from the predictions itself, or judges none
        from .stats.trials import DEFAULT_THRESHOLDS, threshold_trials

        return_column = "forward_return"
        if return_column not in self.extra_columns:
            self.notes.append("returns not written: the spec judges strategy returns, and the callback builds them "
                              "from extra_columns={'forward_return': ...}, which was not given")
            return None
        probability = np.asarray(self._outputs[self._direction_head()], dtype=np.float64).reshape(-1)
        trials = threshold_trials(probability, self.extra_columns[return_column], DEFAULT_THRESHOLDS, 0.0)
        if self.index is not None:
            trials.insert(0, predictions.columns[0], predictions.iloc[:, 0].to_numpy())
        return trials

    def _direction_head(self) -> str:
        heads = self._heads()
        return "direction" if "direction" in heads else heads[0]

    def _write_history(self):
        import pandas as pd

        frame = pd.DataFrame(self.epochs)
        names = sorted(c for c in frame.columns if c != "epoch")
        path = self.out_dir / self.files["history"]
        path.parent.mkdir(parents=True, exist_ok=True)
        frame[["epoch"] + names].to_csv(path, index=False, float_format="%.17g")
        self._written["history"] = self.files["history"]

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
        name = self.files["config"]
        if Path(name).suffix.lower() not in (".json", ".yaml", ".yml"):
            name = DEFAULT_FILES["config"]  # JSON is YAML too; a .toml name gets config.json
        path = self.out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(config, handle, indent=2)
            handle.write("\n")
        self._written["config"] = name


def _callback_list_of(callback):
    """The list of callbacks ``fit`` runs, found from the caller's frame; None when not found."""
    frame = sys._getframe(1)
    for _ in range(12):
        if frame is None:
            return None
        owner = frame.f_locals.get("self")
        if isinstance(owner, keras.callbacks.CallbackList) and any(c is callback for c in owner.callbacks):
            return owner.callbacks
        frame = frame.f_back
    return None


def _has_own_train_end(callback) -> bool:
    if "on_train_end" in vars(callback):  # LambdaCallback(on_train_end=...)
        return True
    return type(callback).on_train_end is not keras.callbacks.Callback.on_train_end


def _now_on_disk(folder: Path) -> int:
    """The file system's clock now, as a file written next would carry it (``st_mtime_ns``)."""
    handle, name = tempfile.mkstemp(dir=folder, prefix=".runverdict-")
    try:
        os.close(handle)
        return os.stat(name).st_mtime_ns
    finally:
        os.unlink(name)


def _scalar(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _columns(name, values, cells) -> dict:
    values = values.reshape(values.shape[0], -1) if values.ndim > 1 else values.reshape(-1, 1)
    if values.shape[1] == 1:
        column = values[:, 0].astype(np.float64)
        if cells == "list":
            return {name: [f"[{v!r}]" for v in column.tolist()]}
        return {name: column}
    return {f"{name}_{i}": values[:, i].astype(np.float64) for i in range(values.shape[1])}


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


__all__ = ["GateFailed", "RunVerdict", "ON_FAIL"]
