"""Training histories: Keras ``CSVLogger`` files and JSON dumps of ``History.history``.

Names are kept as Keras writes them for a multi-output model (``volatility_loss``,
``val_direction_auc``). Every metric has one value per epoch; ``NA``/``nan`` become NaN,
which history checks fail on. Anything else malformed is an ``ArtefactError``.
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass

import numpy as np

from ..errors import ArtefactError
from .tables import MISSING_TOKENS

MAX_HISTORY_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class History:
    path: str
    source: str  # "csv", "json" or "tensorboard"
    metrics: dict  # name -> float64 array, one value per epoch
    epochs: np.ndarray  # epoch numbers as the file records them (0-based, like CSVLogger)

    @property
    def n_epochs(self) -> int:
        return int(self.epochs.size)

    def names(self) -> list[str]:
        return sorted(self.metrics)


def read_history(path) -> History:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ArtefactError(path, "file not found")
    if os.path.isdir(path):
        from .tensorboard import read_tensorboard_columns

        columns = read_tensorboard_columns(path)  # numpy only: reading a history never imports pandas
        return _from_columns(path, "tensorboard", {c: v.astype(np.float64) for c, v in columns.items()})
    size = os.path.getsize(path)
    if size == 0:
        raise ArtefactError(path, "file is empty (0 bytes)")
    if size > MAX_HISTORY_BYTES:
        raise ArtefactError(path, f"file is {size} bytes, more than the {MAX_HISTORY_BYTES} a history may have")
    from .tables import unchanged_while_read

    with unchanged_while_read(path):  # a history still being written is refused, not read half
        if path.endswith(".json"):
            return _read_json(path)
        return _read_csv(path)


def _number(text, path, line, column, name):
    token = text.strip()
    if token.lower() in MISSING_TOKENS:
        return math.nan
    try:
        return float(token)
    except ValueError:
        raise ArtefactError(path, f"metric {name!r}: {token[:80]!r} is not a number", line=line, column=column) from None


def _not_utf8(path) -> ArtefactError:
    """The error for a file that is not UTF-8, at its first bad byte (a decoding error raised while
    reading text gives an offset into the chunk being decoded, not into the file)."""
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        return ArtefactError(path, f"not UTF-8 text (byte offset {exc.start})", line=line, column=column)
    return ArtefactError(path, "not UTF-8 text")


def _read_csv(path) -> History:
    reader = None
    try:
        with open(path, "r", encoding="utf-8-sig", newline="") as handle:  # -sig: drop a BOM
            reader = csv.reader(handle)
            rows = list(reader)
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    except csv.Error as exc:
        raise ArtefactError(path, f"not a CSV file: {exc}", line=reader.line_num if reader else None) from None
    header = [h.strip() for h in rows[0]] if rows else []
    if not header or header == [""]:
        raise ArtefactError(path, "the first line is empty: expected a CSVLogger header such as 'epoch,loss,...'",
                            line=1)
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise ArtefactError(path, f"metric {duplicated[0]!r} appears more than once in the header", line=1)
    body = [(i + 2, row) for i, row in enumerate(rows[1:]) if row]
    if not body:
        raise ArtefactError(path, "has a header but no epochs", line=2)
    columns = {name: [] for name in header}
    for line, row in body:
        if len(row) != len(header):
            raise ArtefactError(path, f"row has {len(row)} fields, the header has {len(header)}", line=line)
        for col, (name, cell) in enumerate(zip(header, row), start=1):
            columns[name].append(_number(cell, path, line, col, name))
    return _from_columns(path, "csv", {k: np.asarray(v, dtype=np.float64) for k, v in columns.items()},
                         lines=[line for line, _ in body])


def _read_json(path) -> History:
    try:
        with open(path, "r", encoding="utf-8-sig") as handle:
            text = handle.read()
        data = json.loads(text)
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    except json.JSONDecodeError as exc:
        raise ArtefactError(path, f"invalid JSON: {exc.msg}", line=exc.lineno, column=exc.colno) from None
    except ValueError as exc:  # an integer of more digits than Python converts (4300)
        raise ArtefactError(path, f"invalid JSON: {exc}") from None
    except RecursionError:
        raise ArtefactError(path, "JSON nested too deeply") from None
    keys = []
    if isinstance(data, dict) and isinstance(data.get("history"), dict):
        data = data["history"]
        keys = ["history"]
    if not isinstance(data, dict) or not data:
        raise ArtefactError(path, "expected a JSON object mapping each metric to its list of per-epoch values")
    columns = {}
    for name, values in data.items():
        if not isinstance(values, list):
            raise ArtefactError(path, f"metric {name!r}: expected a list of per-epoch values, got {type(values).__name__}",
                                **_json_position(text, [*keys, name]))
        out = []
        for i, value in enumerate(values):
            if value is None:
                out.append(math.nan)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                try:
                    out.append(float(value))
                except OverflowError:  # an integer beyond any float, e.g. 10**400
                    raise ArtefactError(path, f"metric {name!r}, epoch {i}: {str(value)[:40]}... is too large "
                                              "for a number a metric can hold",
                                        **_json_position(text, [*keys, name], i)) from None
            else:
                raise ArtefactError(path, f"metric {name!r}, epoch {i}: {str(value)[:80]!r} is not a number",
                                    **_json_position(text, [*keys, name], i))
        columns[name] = np.asarray(out, dtype=np.float64)
    return _from_columns(path, "json", columns)


def _json_position(text, keys, index=None) -> dict:
    """``{"line": ..., "column": ...}`` of the value at ``keys`` (then list element ``index``) in the JSON
    ``text``, which ``json.loads`` has accepted; ``{}`` if it cannot be found. As ``json.loads``, the last
    of duplicated keys counts. Only the objects on the way are scanned; other values are skipped whole."""
    decoder = json.JSONDecoder()
    ws = json.decoder.WHITESPACE.match

    def skip(pos):
        return ws(text, pos).end()

    def member(pos, key):  # pos: at "{"; the start of the last value of key
        found = None
        pos = skip(pos + 1)
        while text[pos] != "}":
            name, pos = json.decoder.scanstring(text, pos + 1)
            pos = skip(skip(pos) + 1)  # past ":"
            if name == key:
                found = pos
            _, pos = decoder.raw_decode(text, pos)
            pos = skip(pos)
            if text[pos] == ",":
                pos = skip(pos + 1)
        return found

    try:
        pos = skip(0)
        for key in keys:
            if text[pos] != "{":
                return {}
            pos = member(pos, key)
            if pos is None:
                return {}
        if index is not None:
            if text[pos] != "[":
                return {}
            pos = skip(pos + 1)
            for _ in range(index):
                _, pos = decoder.raw_decode(text, pos)
                pos = skip(skip(pos) + 1)  # past ","
    except (ValueError, IndexError, RecursionError):
        return {}
    line = text.count("\n", 0, pos) + 1
    return {"line": line, "column": pos - (text.rfind("\n", 0, pos) + 1) + 1}


def _from_columns(path, source, columns, lines=None) -> History:
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        longest = max(lengths.values())
        short = {n: k for n, k in lengths.items() if k != longest}
        shown = ", ".join(f"{n!r} has {k}" for n, k in sorted(short.items())[:5])
        raise ArtefactError(path, f"metrics have different numbers of epochs: most have {longest}, but {shown}")
    n = next(iter(lengths.values()), 0)
    if n == 0:
        raise ArtefactError(path, "the history has no epochs")
    epochs = columns.pop("epoch", None)
    if epochs is None:
        epochs = np.arange(n, dtype=np.float64)
    elif not np.all(np.isfinite(epochs)):
        raise ArtefactError(path, "the 'epoch' column has missing values")
    else:  # a restarted training appended to the same file: which epochs would "last" and "best" mean?
        back = np.flatnonzero(np.diff(epochs) <= 0)
        if back.size:
            i = int(back[0]) + 1
            raise ArtefactError(
                path, f"the epoch counter goes back from {epochs[i - 1]:g} to {epochs[i]:g} (row {i}): two trainings "
                      "were appended to one history (CSVLogger(append=True) after a restart?); keep only the epochs "
                      "of the run being judged", line=lines[i] if lines else None)
    if not columns:
        raise ArtefactError(path, "the history has an epoch column but no metrics")
    return History(path=path, source=source, metrics=columns, epochs=epochs.astype(np.int64))


# ---- the epoch a check judges -------------------------------------------------------

# Metrics whose values have a known range, by the suffix Keras names them with.
UNIT_INTERVAL_SUFFIXES = ("auc", "accuracy", "acc", "precision", "recall")
NONNEGATIVE_SUFFIXES = ("mae", "mse", "rmse", "mape", "msle", "crossentropy", "mean_squared_error",
                        "mean_absolute_error", "hinge", "kl_divergence", "poisson", "huber", "log_cosh")


def known_range(name: str, nonnegative_loss: bool = False) -> tuple[float, float] | None:
    """The values ``name`` can take, when its name says (``val_direction_auc``: [0, 1]), else None.

    A loss (``loss``, ``volatility_loss``) is at or above 0 only when the loss function is known
    to be (``nonnegative_loss``, from the model's compile configuration): Keras allows any loss.
    """
    base = name.removeprefix("val_")
    if base.endswith(UNIT_INTERVAL_SUFFIXES):
        return 0.0, 1.0
    if base.endswith(NONNEGATIVE_SUFFIXES) or (nonnegative_loss and base.endswith("loss")):
        return 0.0, np.inf
    return None


def metric_values(history, name, nonnegative_loss: bool = False) -> np.ndarray:
    """The values of ``name`` per epoch; ``ArtefactError`` when it is absent, or a finite value lies
    outside what such a metric can take (an AUC of 1.5, a negative MSE): the history is corrupt."""
    if name not in history.metrics:
        raise ArtefactError(history.path, f"no metric {name!r} in the history; found "
                            + ", ".join(repr(m) for m in history.names()))
    values = history.metrics[name]
    limits = known_range(name, nonnegative_loss)
    if limits is not None:
        low, high = limits
        with np.errstate(invalid="ignore"):
            outside = np.isfinite(values) & ((values < low) | (values > high))
        if outside.any():
            i = int(np.flatnonzero(outside)[0])
            what = f"[{low:g}, {high:g}]" if np.isfinite(high) else f">= {low:g}"
            raise ArtefactError(history.path, f"{name} = {float(values[i])!r} at epoch {int(history.epochs[i])}: "
                                f"such a metric is always {what}, so the history is corrupt "
                                f"({int(outside.sum())} epoch{'s' if outside.sum() > 1 else ''} outside)")
    return values


def unvalidated_epochs(history) -> np.ndarray:
    """Indices of epochs without validation (``fit(validation_freq=2)``): every ``val_*`` metric is
    missing (NaN, never inf) there while a training metric is finite."""
    val = [v for k, v in history.metrics.items() if k.startswith("val_")]
    train = [v for k, v in history.metrics.items() if not k.startswith("val_")]
    if not val or not train:
        return np.empty(0, dtype=np.int64)
    no_val = np.logical_and.reduce([np.isnan(v) for v in val])
    trained = np.logical_or.reduce([np.isfinite(v) for v in train])
    return np.flatnonzero(no_val & trained)


def pick_epoch(history, epoch, monitor=None, mode=None) -> tuple[int, dict]:
    """Index of the epoch to judge and evidence on how it was chosen.

    ``"best"`` is the epoch ``EarlyStopping(restore_best_weights=True)`` keeps: the first
    epoch with the best finite ``monitor`` value (NaN never counts as best).
    """
    n = history.n_epochs
    if epoch == "last":
        return n - 1, {"epoch_rule": "last"}
    if epoch == "best":
        values = metric_values(history, monitor)
        finite = np.isfinite(values)
        if not finite.any():
            raise NoBestEpoch(f"monitor {monitor!r} has no finite value in {n} epochs")
        masked = np.where(finite, values, -np.inf if mode == "max" else np.inf)
        index = int(np.argmax(masked) if mode == "max" else np.argmin(masked))
        return index, {"epoch_rule": f"best by {monitor} ({mode})", "monitor_value": float(values[index])}
    index = int(epoch)
    if not -n <= index < n:
        raise ArtefactError(history.path, f"epoch index {index} is outside the history's {n} epochs")
    return index % n, {"epoch_rule": f"index {index}"}


class NoBestEpoch(Exception):
    """The monitor has no finite value: no epoch can be called the best."""
