"""A run directory as training leaves it: artefacts found by conventional names, read lazily.

Each artefact is read at most once, and only when a check asks for it. A failure to read
is remembered and raised again for every check that needs the artefact, so each of them
reports the same ``error``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ArtefactError
from .layout import Layout
from .returns import TrialReturns, read_returns


class Run:
    """One run directory: its layout (``layout.Layout``) and its artefacts, each read once.

    ``prediction_columns`` are the heads (or columns) the spec's checks read, ``label_heads``
    the heads whose label column a check needs, ``judged_metrics`` the history metrics the
    checks judge (two history files that disagree on one of them are an error).
    """

    def __init__(self, root, overrides: dict | None = None, prediction_columns=None, trials: dict | None = None,
                 *, layout: Layout | None = None, label_heads=(), judged_metrics=()):
        self.root = Path(root)
        self.layout = layout if layout is not None else Layout.of(self.root, overrides)
        self.trials = trials
        self.baseline: Run | None = None  # the baseline run, for delta checks and advice
        self.allow_first_run = False
        self._wanted_columns = list(prediction_columns or [])
        self._label_heads = list(label_heads)
        self._judged_metrics = list(judged_metrics)
        self._cache: dict = {}
        self.files: dict[str, str] = {}  # path read -> sha256 (directories: of their files)
        self.bindings: list = []  # layout.Binding of every role bound by convention or declaration, in order
        self.notes: list[str] = []  # what else the layout checked, for the report

    # -- locating -------------------------------------------------------------------------
    def path_of(self, artefact: str) -> Path:
        """The path of ``artefact``; raises ``ArtefactError`` naming what was looked for."""
        return self.layout.find(artefact).path

    def choices(self) -> dict:
        """``layout.Choice`` of every artefact located so far."""
        return self.layout.chosen()

    def _bound(self, binding):
        if binding.how != "as named":
            self.bindings.append(binding)
        return binding

    def _cached(self, key, load):
        if key not in self._cache:
            try:
                self._cache[key] = (True, load())
            except ArtefactError as exc:
                self._cache[key] = (False, exc)
        ok, value = self._cache[key]
        if not ok:
            raise value
        return value

    def _artefact(self, artefact, read):
        """``read(path)`` of ``artefact``, once; the file's SHA-256 is kept for the report.

        A reader that hashed the file on its way (``.sha256`` on what it returns) is not read again.
        """

        def load():
            path = self.path_of(artefact)
            value = read(path)
            digest = getattr(value, "sha256", None) or _sha256_of(path)
            if digest is not None:
                self.files[os.fspath(path)] = digest
            return value

        return self._cached(artefact, load)

    # -- artefacts ------------------------------------------------------------------------
    def predictions(self):
        """The predictions file, with every column any check of the spec needs (bound to the run's names)."""
        from .tables import read_header, read_table

        def read(path):
            try:
                header = read_header(path)
            except ArtefactError:  # the full read names what is wrong, as precisely as it can
                return read_table(path, self._wanted_columns or None, skip_missing=True)
            names = []
            for head in self._wanted_columns:
                names += self._try(self.layout.prediction_column, header, head, path)
            for head in self._label_heads:
                names += self._try(self.layout.label_column, header, head, path)
            return read_table(path, names or None, skip_missing=True)

        return self._artefact("predictions", read)

    @staticmethod
    def _try(bind, *args) -> list:
        """``[bind(*args).name]``, or ``[]`` when the role cannot be bound."""
        try:
            return [bind(*args).name]
        except ArtefactError:  # the check that needs this column reports it
            return []

    def column(self, name: str, element: int | None = None):
        """One parsed predictions column (a ``tables.Column``): head ``name``, bound by the layout."""
        table = self.predictions()
        binding = self._bound(self.layout.prediction_column(table.header, name, table.path))
        return self._read_column(table, binding.name, element)

    def label(self, head: str, element: int | None = None):
        """The label column of head ``head`` (``y_direction``, ``direction_true``, ... or as declared)."""
        table = self.predictions()
        binding = self._bound(self.layout.label_column(table.header, head, table.path))
        return self._read_column(table, binding.name, element)

    def raw_column(self, name: str, element: int | None = None):
        """A predictions column by its exact name, no binding (a check that names the column itself)."""
        return self._read_column(self.predictions(), name, element)

    def _read_column(self, table, name, element):
        def load():
            if name not in table.columns:
                from .tables import read_table

                if name not in table.header:
                    raise ArtefactError(table.path, f"missing column {name!r}; found "
                                        + ", ".join(repr(c) for c in table.header), line=1)
                extra = read_table(table.path, [name])
                table.columns[name] = extra.columns[name]
            return table.numeric(name, element)

        return self._cached(("column", name, element), load)

    def history(self):
        """The training history; other history files present must agree on every judged metric."""
        from .history import read_history

        def read(path):
            history = read_history(path)
            others = self.layout.find("history").not_read
            if self._judged_metrics and others:
                agreed = [other for other in others if _agree(history, self.root / other, self._judged_metrics)]
                if agreed:
                    self.notes.append(f"history: {', '.join(agreed)} agree with {self.layout.find('history').pattern} "
                                      "on every judged metric")
            return history

        return self._artefact("history", read)

    def config(self) -> dict:
        from .config_file import read_config

        return self._artefact("config", read_config)

    def metric_at(self, metric: str, epoch, monitor=None, mode=None, *, min_delta=None, start_from_epoch=None,
                  baseline=None) -> tuple[float, int]:
        """``(value, epoch number)`` of a history metric at the chosen epoch, its range checked
        (``history.metric_values``); raises ``history.NoBestEpoch`` when no epoch is the best.

        ``"best"`` is the epoch EarlyStopping restores, its ``min_delta``, ``start_from_epoch`` and
        ``baseline`` as given, else as the run's config records them (``history.choose_epoch``)."""
        from .history import choose_epoch, metric_values

        history = self.history()
        values = metric_values(history, metric, self.loss_is_nonnegative(metric))
        index, _ = choose_epoch(self, epoch, monitor, mode, min_delta=min_delta, start_from_epoch=start_from_epoch,
                                baseline=baseline)
        return float(values[index]), int(history.epochs[index])

    def config_value(self, key: str):
        """``(value, binding)`` of a dotted config key, found as the layout says."""
        config = self.config()
        value, binding = self.layout.config_key(config, key, self.path_of("config"))
        self._bound(binding)
        return value, binding

    def model(self):
        """The saved model's architecture (``keras_archive.KerasArchive``), read as data.

        A ``.keras`` archive, or a legacy HDF5 ``.h5`` model (read with h5py, never deserialised).
        """

        def read(path):
            if os.fspath(path).lower().endswith((".h5", ".hdf5")):
                from .keras_h5 import read_keras_h5

                return read_keras_h5(path)
            from .keras_archive import read_keras_archive

            return read_keras_archive(path)

        return self._artefact("model", read)

    def loss_is_nonnegative(self, metric: str) -> bool:
        """Whether the loss ``metric`` logs (``loss``, ``val_volatility_loss``) cannot be negative:
        the saved model compiled it with a loss function that never is (MSE, MAE, crossentropy...)."""
        from .history import NONNEGATIVE_SUFFIXES

        base = metric.removeprefix("val_")
        if not base.endswith("loss"):
            return False
        try:
            facts = self.model().compile
        except ArtefactError:
            return False
        losses = facts.values.get("loss") or {}
        weights = facts.values.get("loss_weights") or {}
        head = base[:-len("_loss")] if base.endswith("_loss") else None
        chosen = [losses.get(head)] if head else list(losses.values())
        if not chosen or any(not isinstance(name, str) or not name.endswith(NONNEGATIVE_SUFFIXES) for name in chosen):
            return False
        return head is not None or all(isinstance(w, (int, float)) and w >= 0 for w in weights.values())

    def heads(self) -> tuple[str, ...] | None:
        """The model's output names in order, or None when the run has no readable model."""
        try:
            return self.model().output_keys
        except ArtefactError:
            return None

    def returns(self):
        """Strategy returns (``TrialReturns``): T periods x N trials, one name per trial.

        From ``returns.csv``, or built from the predictions when the spec has ``[trials]``.
        """
        if self.trials is not None:
            return self._cached("returns", self._trials_from_predictions)
        index = self.layout.returns_index

        def read(path):
            returns = read_returns(path, index=index)
            if returns.index_column is not None:
                period = f", {returns.period[0]} .. {returns.period[1]}" if returns.period else ""
                self.notes.append(f"returns: index {returns.index_column!r} ({returns.index_kind}{period}, "
                                  f"{returns.values.shape[0]} periods): {returns.index_note}")
            return returns

        return self._artefact("returns", read)

    def _trials_from_predictions(self):
        from ..stats.trials import threshold_trial_matrix

        t = self.trials
        probability = self.column(t["probability_column"])
        forward = self.column(t["return_column"])
        try:
            names, values = threshold_trial_matrix(probability.values, forward.values, t["thresholds"], t["cost"])
        except ValueError as exc:
            raise ArtefactError(probability.path, f"cannot build trials from the predictions: {exc}") from None
        where = f"{probability.path} ([trials] from {t['probability_column']!r}, {t['return_column']!r})"
        return TrialReturns(names, values, where)


def _sha256_of(path) -> str | None:
    """SHA-256 of a file, or of a folder's files (names and contents); None if it cannot be read."""
    import hashlib

    from .tables import sha256_of

    path = Path(path)
    try:
        if path.is_dir():
            digest = hashlib.sha256()
            for f in sorted(p for p in path.rglob("*") if p.is_file()):
                digest.update(str(f.relative_to(path)).encode())
                digest.update(sha256_of(f).encode())
            return digest.hexdigest()
        return sha256_of(path) if path.is_file() else None
    except OSError:
        return None


def _agree(history, other_path, metrics) -> bool:
    """Raise ``ArtefactError`` when another readable history file disagrees on a judged metric.

    True when ``other_path`` was read and holds at least one of the metrics, all agreeing.
    """
    import numpy as np

    from .history import read_history

    try:
        other = read_history(other_path)
    except ArtefactError:
        return False  # unreadable: not judged, as the report says
    compared = False
    for metric in metrics:
        if metric not in history.metrics or metric not in other.metrics:
            continue
        compared = True
        a, b = history.metrics[metric], other.metrics[metric]
        if a.size != b.size:
            raise ArtefactError(history.path, f"{metric} has {a.size} epochs here but {b.size} in "
                                f"{os.fspath(other_path)}: two histories of different trainings",
                                hint="keep one history, or name the right one with --artefact history=PATH")
        with np.errstate(invalid="ignore", over="ignore"):  # equal, both NaN, or finite and within float32 rounding
            close = np.isfinite(a) & np.isfinite(b) & (np.abs(a - b) <= 1e-6 * np.maximum(np.abs(a), np.abs(b)))
        same = (a == b) | (np.isnan(a) & np.isnan(b)) | close
        if not same.all():
            i = int(np.flatnonzero(~same)[0])
            raise ArtefactError(history.path, f"{metric} at epoch {int(history.epochs[i])} is {float(a[i])!r} here but "
                                f"{float(b[i])!r} in {os.fspath(other_path)}: the run's histories disagree",
                                hint="keep one history, or name the right one with --artefact history=PATH")
    return compared
