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
# How a missing value was written, in History.written: a number; a NaN the metric took ("nan", a JSON
# NaN); CSVLogger's "NA", a key the epoch's logs did not hold; any other missing token ("", null: what
# pandas writes for either), which cannot tell.
WRITTEN_NUMBER, WRITTEN_NAN, WRITTEN_ABSENT, WRITTEN_UNKNOWN = 0, 1, 2, 3
NAN_TOKENS = ("nan", "-nan", "+nan")


@dataclass(frozen=True)
class History:
    path: str
    source: str  # "csv", "json" or "tensorboard"
    metrics: dict  # name -> float64 array, one value per epoch
    epochs: np.ndarray  # epoch numbers as the file records them (0-based, like CSVLogger)
    # name -> uint8 array, how each NaN was written (WRITTEN_*): CSVLogger writes "NA" for a key the
    # epoch's logs did not hold and "nan" for a NaN the metric took; None when the source cannot tell
    written: dict | None = None

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
        if token.lower() in NAN_TOKENS:
            return math.nan, WRITTEN_NAN
        return math.nan, WRITTEN_ABSENT if token == "NA" else WRITTEN_UNKNOWN
    try:
        return float(token), WRITTEN_NUMBER
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
    return _from_columns(path, "csv", *_split_written(columns), lines=[line for line, _ in body])


def _split_written(columns) -> tuple[dict, dict]:
    """``(values, written)`` of columns of ``(float, WRITTEN_*)`` pairs."""
    values = {k: np.asarray([v for v, _ in cells], dtype=np.float64) for k, cells in columns.items()}
    written = {k: np.asarray([w for _, w in cells], dtype=np.uint8) for k, cells in columns.items()}
    return values, written


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
                out.append((math.nan, WRITTEN_UNKNOWN))
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                try:
                    number = float(value)
                    out.append((number, WRITTEN_NAN if math.isnan(number) else WRITTEN_NUMBER))
                except OverflowError:  # an integer beyond any float, e.g. 10**400
                    raise ArtefactError(path, f"metric {name!r}, epoch {i}: {str(value)[:40]}... is too large "
                                              "for a number a metric can hold",
                                        **_json_position(text, [*keys, name], i)) from None
            else:
                raise ArtefactError(path, f"metric {name!r}, epoch {i}: {str(value)[:80]!r} is not a number",
                                    **_json_position(text, [*keys, name], i))
        columns[name] = out
    return _from_columns(path, "json", *_split_written(columns))


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


def _from_columns(path, source, columns, written=None, lines=None) -> History:
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
    if written is not None:
        written.pop("epoch", None)
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
    return History(path=path, source=source, metrics=columns, epochs=epochs.astype(np.int64), written=written)


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


# ---- the epoch EarlyStopping(restore_best_weights=True) restores ----------------------

# Mode "auto": how Keras 3's MonitorCallback._set_monitor_op decides. "loss" (after "val_") is
# minimised; any other name is the compiled metric of that name, maximised when its class says
# _direction = "up" (the names below are the names Keras gives its metrics and string aliases).
KERAS_METRIC_MODES = {
    **dict.fromkeys((
        "accuracy", "acc", "auc", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
        "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "precision", "recall",
        "f1_score", "fbeta_score", "r2_score", "cosine_similarity", "pearson_correlation",
        "concordance_correlation", "io_u", "mean_io_u", "binary_io_u", "one_hot_io_u", "one_hot_mean_io_u",
        "precision_at_recall", "recall_at_precision", "sensitivity_at_specificity",
        "specificity_at_sensitivity"), "max"),
    **dict.fromkeys((
        "loss", "mae", "mse", "mape", "msle", "mean_absolute_error", "mean_squared_error",
        "root_mean_squared_error", "mean_absolute_percentage_error", "mean_squared_logarithmic_error",
        "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy", "hinge",
        "squared_hinge", "categorical_hinge", "kl_divergence", "poisson", "logcosh"), "min"),
}
# A metric the team named (AUC(name="direction_auc")): its class, by the name's last words.
KERAS_SUFFIX_MODES = (("auc", "max"), ("accuracy", "max"), ("acc", "max"), ("precision", "max"),
                      ("recall", "max"), ("f1_score", "max"), ("loss", "min"), ("crossentropy", "min"),
                      ("mae", "min"), ("mse", "min"), ("rmse", "min"), ("error", "min"))


def keras_mode(monitor: str, mode: str) -> str:
    """``"min"`` or ``"max"``: ``mode``, or what EarlyStopping's ``mode="auto"`` infers for ``monitor``.

    Raises ``ValueError`` when the name does not say (Keras asks the compiled metric itself).
    """
    if mode in ("min", "max"):
        return mode
    if mode != "auto":
        raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
    base = monitor.removeprefix("val_")
    if base in KERAS_METRIC_MODES:
        return KERAS_METRIC_MODES[base]
    for suffix, inferred in KERAS_SUFFIX_MODES:
        if base.endswith("_" + suffix):
            return inferred
    raise ValueError(f"mode = 'auto' cannot tell whether {monitor!r} is maximised or minimised from its name "
                     "(Keras asks the compiled metric); give mode = 'max' or 'min'")


def restored_epoch(values, mode: str, *, min_delta=0.0, start_from_epoch=0, epochs=None,
                   unmonitored=()) -> int | None:
    """Index of the epoch whose weights ``EarlyStopping(restore_best_weights=True)`` restores, or None
    when no epoch was monitored (then Keras restores nothing: the model keeps its last weights).

    A replay of Keras 3's ``EarlyStopping.on_epoch_end``, as a pure function of the logged values:

    * an epoch is monitored when its number (``epochs[i]``, default ``i``) is at or above
      ``start_from_epoch`` and its logs hold the monitor (``unmonitored``: indices where they did not,
      e.g. epochs without validation);
    * the first monitored epoch is the best whatever its value, even NaN (``best`` starts as None);
    * a later epoch replaces it when ``current - min_delta > best`` (mode max) or
      ``current + min_delta < best`` (mode min; Keras flips min_delta's sign), compared as Keras's
      ``ops.greater``/``ops.less`` do under TensorFlow: both sides cast to float32, subnormals
      flushed to zero. Nothing compares better than a NaN best, and a NaN is never better than anything;
    * ``baseline`` plays no part: it only resets ``wait`` (when training stops), never ``best``.
    """
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max' (resolve 'auto' with keras_mode), got {mode!r}")
    shift = abs(float(min_delta)) if mode == "max" else -abs(float(min_delta))
    skip = {int(i) for i in unmonitored}
    best = best_index = None
    with np.errstate(over="ignore", invalid="ignore"):
        for i, current in enumerate(np.asarray(values, dtype=np.float64).tolist()):
            number = int(epochs[i]) if epochs is not None else i
            if i in skip or number < start_from_epoch:
                continue
            if best_index is None:
                best, best_index = current, i
                continue
            moved, reference = _as_keras_float32(current - shift), _as_keras_float32(best)
            if (moved > reference) if mode == "max" else (moved < reference):
                best, best_index = current, i
    return best_index


FLOAT32_TINY = float(np.finfo(np.float32).tiny)


def _as_keras_float32(value: float):
    """``value`` as Keras's ``ops.greater``/``ops.less`` see it under TensorFlow: cast to float32
    (floatx), a subnormal result flushed to zero as TensorFlow's CPU kernels do."""
    single = np.float32(value)
    return np.float32(0.0) if abs(single) < FLOAT32_TINY else single


def monitor_absent(history, monitor) -> np.ndarray:
    """Indices of epochs whose logs did not hold ``monitor``, so EarlyStopping skipped them: CSVLogger
    wrote "NA" there; or, where the file cannot tell a missing value from a NaN ("", null, TensorBoard),
    a ``val_*`` monitor on an epoch without validation (``unvalidated_epochs``). A NaN written as such
    ("nan") is a value EarlyStopping saw."""
    written = (history.written or {}).get(monitor)
    if written is None:
        written = np.full(history.n_epochs, WRITTEN_UNKNOWN, dtype=np.uint8)
    absent = written == WRITTEN_ABSENT
    if monitor.startswith("val_"):
        unknown = np.zeros(history.n_epochs, dtype=bool)
        unknown[unvalidated_epochs(history)] = True
        absent |= unknown & (written == WRITTEN_UNKNOWN)
    return np.flatnonzero(absent)


def pick_epoch(history, epoch, monitor=None, mode=None, *, min_delta=0.0, start_from_epoch=0,
               baseline=None) -> tuple[int, dict]:
    """Index of the epoch to judge and evidence on how it was chosen.

    ``"best"`` is the epoch ``EarlyStopping(monitor, mode, min_delta=..., start_from_epoch=...,
    baseline=..., restore_best_weights=True)`` restores (``restored_epoch``); ``mode`` may be
    ``"auto"``. Raises ``ArtefactError`` when no epoch is monitored, or when the restored epoch's
    monitor is NaN or infinite while other monitored epochs have a finite one (Keras kept weights
    whose monitor was not a number, ``KerasRestoredNonfinite``); ``NoBestEpoch`` when no monitored
    epoch has a finite value at all.
    """
    n = history.n_epochs
    if epoch == "last":
        return n - 1, {"epoch_rule": "last"}
    if epoch == "best":
        return _best_epoch(history, monitor, mode, min_delta, start_from_epoch, baseline)
    index = int(epoch)
    if not -n <= index < n:
        raise ArtefactError(history.path, f"epoch index {index} is outside the history's {n} epochs")
    return index % n, {"epoch_rule": f"index {index}"}


def _best_epoch(history, monitor, mode, min_delta, start_from_epoch, baseline) -> tuple[int, dict]:
    values = metric_values(history, monitor)
    try:
        direction = keras_mode(monitor, mode)
    except ValueError as exc:
        raise ArtefactError(history.path, str(exc)) from None
    absent = monitor_absent(history, monitor)
    index = restored_epoch(values, direction, min_delta=min_delta, start_from_epoch=start_from_epoch,
                           epochs=history.epochs, unmonitored=absent)
    n = history.n_epochs
    monitored = np.ones(n, dtype=bool)
    monitored[absent] = False
    monitored &= history.epochs >= start_from_epoch
    if index is None:
        why = (f"start_from_epoch = {start_from_epoch!r} and the history's last epoch is "
               f"{int(history.epochs[-1])}" if start_from_epoch else f"{monitor!r} has no value at any of the "
               f"{n} epochs")
        raise ArtefactError(history.path, f"no epoch is monitored ({why}): EarlyStopping never chose an epoch to "
                            "restore, and the model keeps its last weights",
                            hint="judge epoch = 'last', or check start_from_epoch against the epochs trained")
    parts = [direction if mode != "auto" else f"auto: {direction}"]
    if min_delta:
        parts.append(f"min_delta {min_delta!r}")
    if start_from_epoch:
        parts.append(f"from epoch {start_from_epoch!r}")
    rule = f"best by {monitor} ({', '.join(parts)})"
    if min_delta or start_from_epoch or mode == "auto":
        rule += ", as EarlyStopping restores"
    evidence = {"epoch_rule": rule, "monitor_value": float(values[index]), "mode": direction,
                "min_delta": min_delta, "start_from_epoch": start_from_epoch, "baseline": baseline}
    finite = np.isfinite(values) & monitored
    scope = f"{int(monitored.sum())} monitored epochs" if monitored.sum() < n else f"{n} epochs"
    if not finite.any():
        raise NoBestEpoch(f"monitor {monitor!r} has no finite value in {scope} (EarlyStopping restores epoch "
                          f"{int(history.epochs[index])}, whose {monitor} is {float(values[index])!r})")
    if not np.isfinite(values[index]):
        recorded = int(history.epochs[index])
        first = int(history.epochs[np.flatnonzero(monitored)[0]])
        how = ("it was the first monitored epoch, and no value compares better than NaN" if recorded == first
               and np.isnan(values[index]) else "nothing compares better than it")
        raise KerasRestoredNonfinite(
            history.path, f"Keras restored weights from epoch {recorded}, whose monitor {monitor} was "
                          f"{float(values[index])!r} ({how}): the model kept is not the best of the "
                          f"{int(finite.sum())} epochs with a finite {monitor}",
            hint="find why the monitor was not a number at that epoch; start_from_epoch can skip a warm-up "
                 "epoch whose validation is NaN")
    if baseline is not None:
        evidence["baseline_note"] = "baseline changes when training stops, never which epoch is restored"
    return index, evidence


class NoBestEpoch(Exception):
    """No monitored epoch has a finite monitor value: no epoch can be called the best."""


class KerasRestoredNonfinite(ArtefactError, NoBestEpoch):
    """EarlyStopping restored an epoch whose monitor was NaN or infinite, while other epochs had a
    finite one: an error (the gate cannot judge the model Keras kept), never a silent other epoch."""


# ---- EarlyStopping's parameters: from the check, else from the run's config -----------

EARLY_STOPPING_PARAMS = ("min_delta", "start_from_epoch", "baseline")
EARLY_STOPPING_NAMES = ("earlystopping", "earlystop")  # a config key, lower case without "_" and "-"
MAX_CONFIG_NODES = 100_000


def early_stopping_in_config(config) -> list[tuple[str, dict]]:
    """``(dotted key, arguments)`` of every EarlyStopping a config records, in the config's order.

    The value of a key named ``early_stopping`` (``earlystopping``, ``EarlyStopping``,
    ``early-stopping``, ``early_stop``) at any depth, e.g. ``training.callbacks.early_stopping``; or
    a callback serialised by Keras, ``{"class_name": "EarlyStopping", "config": {...}}``, e.g. in a
    list ``callbacks.0.config``.
    """
    found, queue, seen = [], [((), config)], 0
    while queue and seen < MAX_CONFIG_NODES:
        path, node = queue.pop(0)
        seen += 1
        if len(path) > 32:
            continue
        if isinstance(node, dict):
            if node.get("class_name") == "EarlyStopping" and isinstance(node.get("config"), dict):
                found.append((".".join((*path, "config")), node["config"]))
                continue
            for key, value in node.items():
                named = str(key).lower().replace("_", "").replace("-", "") in EARLY_STOPPING_NAMES
                if named and isinstance(value, dict):
                    serialised = value.get("class_name") == "EarlyStopping" and isinstance(value.get("config"), dict)
                    found.append((".".join((*path, str(key), *(["config"] if serialised else []))),
                                  value["config"] if serialised else value))
                elif isinstance(value, (dict, list)):
                    queue.append(((*path, str(key)), value))
        elif isinstance(node, list):
            queue.extend(((*path, str(i)), v) for i, v in enumerate(node) if isinstance(v, (dict, list)))
    return found


@dataclass(frozen=True)
class EarlyStoppingSettings:
    """What decides the epoch EarlyStopping restores, and where each value came from."""

    min_delta: float = 0.0
    start_from_epoch: int = 0
    baseline: float | None = None
    config_key: str | None = None  # the config's EarlyStopping arguments, when the config records them
    from_config: tuple = ()  # the parameters taken from it
    notes: tuple = ()  # disagreements and what the config says beside them

    def kwargs(self) -> dict:
        return {"min_delta": self.min_delta, "start_from_epoch": self.start_from_epoch, "baseline": self.baseline}


def early_stopping_settings(run, monitor, mode, **given) -> EarlyStoppingSettings:
    """The EarlyStopping parameters of a check judging the best epoch by ``monitor``.

    ``given``: ``min_delta``, ``start_from_epoch``, ``baseline`` as the check states them (None: not
    stated). A parameter the check does not state is taken from the run's config when it records
    the EarlyStopping that monitored ``monitor`` (``early_stopping_in_config``), else Keras's
    default. The check's values win; where the config disagrees (or monitors another metric, or
    does not restore the best weights), a note says so. ``[layout] config_keys = { early_stopping =
    "..." }`` names the config's key when conventions do not find it.
    """
    values = {"min_delta": 0.0, "start_from_epoch": 0, "baseline": None}
    values.update({k: v for k, v in given.items() if v is not None})
    found = _config_early_stopping(run)
    if found is None:
        return EarlyStoppingSettings(**values)
    key, arguments, path = found
    notes, taken = [], []
    watched = arguments.get("monitor")
    if watched is not None and watched != monitor:
        notes.append(f"the config's {key} monitors {watched!r}, not {monitor!r}: its parameters are not used, and "
                     f"the weights Keras restored are those of the best epoch by {watched!r}")
        return EarlyStoppingSettings(**values, config_key=key, notes=tuple(notes))
    if watched is None:
        notes.append(f"the config's {key} names no monitor: taken to be the callback that monitored {monitor!r}")
    for name in EARLY_STOPPING_PARAMS:
        if arguments.get(name) is None:
            continue
        recorded = _config_number(arguments[name], name, key, path)
        if given.get(name) is None:
            values[name], taken = recorded, [*taken, name]
            if name == "min_delta" and arguments[name] < 0:
                notes.append(f"the config's {key}.min_delta is {arguments[name]!r}; EarlyStopping uses its "
                             f"magnitude, {recorded!r}")
        elif recorded != given[name]:
            notes.append(f"{name} = {given[name]!r} from the check is used; the config's {key}.{name} "
                         f"says {arguments[name]!r}")
    if "mode" in arguments and mode is not None:
        try:
            recorded_mode = keras_mode(monitor, arguments["mode"])
        except ValueError:
            recorded_mode = None
        if recorded_mode is not None and recorded_mode != keras_mode(monitor, mode):
            notes.append(f"mode = {mode!r} from the check is used; the config's {key}.mode says "
                         f"{arguments['mode']!r}")
    if arguments.get("restore_best_weights") is False:
        notes.append(f"the config's {key}.restore_best_weights is false: the model keeps its last epoch's weights, "
                     "not the best epoch's")
    return EarlyStoppingSettings(**values, config_key=key, from_config=tuple(taken), notes=tuple(notes))


def _config_early_stopping(run):
    """``(dotted key, arguments, config path)`` of the EarlyStopping the run's config records, or None
    (no config, an unreadable one, or none recorded). Two different ones are an error naming both."""
    try:
        path = run.path_of("config")
        config = run.config()
    except ArtefactError:
        return None  # no config, or the config checks report why it cannot be read
    declared = run.layout.roles.get("config_keys", {}).get("early_stopping")
    if declared is not None:
        arguments, binding = run.config_value("early_stopping")
        found = [(binding.name, arguments)]
    else:
        found = early_stopping_in_config(config)
    if not found:
        return None
    if any(arguments != found[0][1] for _, arguments in found[1:]):
        raise ArtefactError(path, f"the config records two EarlyStopping callbacks, {found[0][0]!r} and "
                                  f"{found[1][0]!r}: which one restored the weights?",
                            hint='declare it: [layout] config_keys = { early_stopping = "..." } in the spec, or '
                                 "--layout config_keys.early_stopping=DOTTED.KEY")
    key, arguments = found[0]
    if not isinstance(arguments, dict):
        raise ArtefactError(path, f"{key} is {arguments!r}: expected the EarlyStopping arguments as a mapping")
    return key, arguments, path


def _config_number(value, name, key, path):
    """A config's EarlyStopping argument, checked as EarlyStopping would use it."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        try:
            ok = math.isfinite(value)
        except OverflowError:  # an integer beyond any float
            ok = False
    if not ok:
        raise ArtefactError(path, f"{key}.{name} is {str(value)[:80]!r}: EarlyStopping's {name} is a finite number",
                            hint=f"fix the config, or state {name} in the check")
    if name == "min_delta":
        return abs(value)
    if name == "start_from_epoch" and value != int(value):
        raise ArtefactError(path, f"{key}.start_from_epoch is {value!r}: an epoch count is a whole number",
                            hint="fix the config, or state start_from_epoch in the check")
    return int(value) if name == "start_from_epoch" else value


def choose_epoch(run, epoch, monitor=None, mode=None, *, min_delta=None, start_from_epoch=None,
                 baseline=None) -> tuple[int, dict]:
    """``pick_epoch`` on the run's history, EarlyStopping's parameters as ``early_stopping_settings``
    finds them (the check's, else the config's); the evidence says where each came from."""
    history = run.history()
    if epoch != "best":
        return pick_epoch(history, epoch, monitor, mode)
    settings = early_stopping_settings(run, monitor, mode, min_delta=min_delta, start_from_epoch=start_from_epoch,
                                       baseline=baseline)
    index, evidence = pick_epoch(history, epoch, monitor, mode, **settings.kwargs())
    if settings.from_config:
        evidence["epoch_rule"] += f"; {', '.join(settings.from_config)} from the config's {settings.config_key}"
        evidence["from_config"] = list(settings.from_config)
    if settings.config_key is not None:
        evidence["early_stopping_config"] = settings.config_key
    if settings.notes:
        evidence["early_stopping_notes"] = list(settings.notes)
    return index, evidence
