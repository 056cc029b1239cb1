"""A run directory as training leaves it: artefacts found by conventional names, read lazily.

Each artefact is read at most once, and only when a check asks for it. A failure to read
is remembered and raised again for every check that needs the artefact, so each of them
reports the same ``error``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ArtefactError
from .returns import TrialReturns, read_returns

# Conventional names, tried in order; a spec's [artefacts] table replaces the list.
CANDIDATES = {
    "predictions": ("predictions.csv", "predictions.parquet"),
    "history": ("history.csv", "training.log", "history.json", "logs"),
    "config": ("config.json", "config.toml", "config.yaml", "config.yml"),
    "returns": ("returns.csv", "returns.parquet"),
    "model": ("model.keras",),
    "tensorboard": ("logs",),
}


class Run:
    def __init__(self, root, overrides: dict | None = None, prediction_columns=None, trials: dict | None = None):
        self.root = Path(root)
        self.overrides = dict(overrides or {})
        self.trials = trials
        self.baseline: Run | None = None  # the baseline run, for delta checks and advice
        self.allow_first_run = False
        self._wanted_columns = list(prediction_columns or [])
        self._cache: dict = {}
        self.files: dict[str, str] = {}  # path read -> sha256 (directories: of their files)

    # -- locating -------------------------------------------------------------------------
    def path_of(self, artefact: str) -> Path:
        """The path of ``artefact``; raises ``ArtefactError`` naming what was looked for."""
        if artefact in self.overrides:
            return self.root / self.overrides[artefact]
        names = CANDIDATES[artefact]
        for name in names:
            candidate = self.root / name
            if candidate.exists():
                return candidate
            if candidate.is_symlink():  # there, but leading nowhere: never fall back to the next name
                try:
                    target = os.readlink(candidate)
                except OSError:
                    target = "?"
                raise ArtefactError(candidate, f"is a symbolic link to {target!r}, which cannot be followed "
                                               "(its target is missing, or the links form a loop)")
        if not self.root.is_dir():
            raise ArtefactError(self.root, "run directory not found")
        looked = ", ".join(names)
        raise ArtefactError(self.root / names[0], f"no {artefact} artefact: looked for {looked} in {self.root}",
                            hint=f"set [artefacts] {artefact} = \"...\" in the spec if it has another name")

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
        """The predictions file, with every column any check of the spec needs."""
        from .tables import read_table

        return self._artefact("predictions",
                              lambda path: read_table(path, self._wanted_columns or None, skip_missing=True))

    def column(self, name: str, element: int | None = None):
        """One parsed predictions column (a ``tables.Column``)."""

        def load():
            table = self.predictions()
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
        from .history import read_history

        return self._artefact("history", read_history)

    def config(self) -> dict:
        from .config_file import read_config

        return self._artefact("config", read_config)

    def model(self):
        """The saved model's architecture (``keras_archive.KerasArchive``), read as data."""
        from .keras_archive import read_keras_archive

        return self._artefact("model", read_keras_archive)

    def returns(self):
        """Strategy returns (``TrialReturns``): T periods x N trials, one name per trial.

        From ``returns.csv``, or built from the predictions when the spec has ``[trials]``.
        """
        if self.trials is not None:
            return self._cached("returns", self._trials_from_predictions)
        return self._artefact("returns", read_returns)

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
