"""Training history from TensorBoard event files, read without TensorFlow or protobuf.

Keras 3's ``TensorBoard`` callback writes two folders under its ``log_dir``:

* ``train/``: at the end of every epoch, one scalar per entry of the epoch logs, tagged
  ``epoch_<name>`` at step = epoch (0-based): ``epoch_loss``, ``epoch_direction_auc``,
  ``epoch_volatility_loss`` ... It adds ``epoch_learning_rate`` (``epoch_learning_rate_<opt>``
  for a multi-optimizer) and, with ``write_steps_per_second=True``, ``epoch_steps_per_second``.
  Also a ``keras`` tag at step 0 (the model config, a string tensor), and with
  ``update_freq="batch"`` or an int, ``batch_*`` scalars at step = batch.
* ``validation/`` (only when ``fit`` is given validation data): the ``val_*`` logs with the ``val_`` removed, ``epoch_<name>`` at
  step = epoch; plus ``evaluation_<name>_vs_iterations`` at step = optimizer iterations.

Scalars are tensor summaries (``DT_FLOAT``, shape ``[]``, 4 bytes of ``tensor_content``,
plugin ``scalars``). :func:`read_tensorboard_history` turns them into the table Keras'
``CSVLogger`` writes: column ``epoch`` then, in sorted order, the train names as they are
(``loss``, ``direction_auc``) and the validation names prefixed ``val_`` (``val_loss``).

What is kept and what is dropped:

* kept: every ``epoch_*`` scalar, with ``epoch_`` stripped. That includes ``learning_rate`` and
  ``steps_per_second``, which the callback computes itself and which ``CSVLogger`` only has
  when another callback (``ReduceLROnPlateau``) puts ``learning_rate`` in the logs: extra
  columns, never fewer.
* dropped: every other tag (``batch_*``, ``evaluation_*_vs_iterations``, ``keras``, weight
  histograms and images): they are not one-value-per-epoch.

Several event files in one folder (a run restarted in the same ``log_dir``) are read in the
order of their first record's wall time (then file name). As TensorBoard does when it purges
orphaned data after a restart, a later file replaces everything from its first epoch on: the
merged history is the earlier file's epochs before that one, then the later file's. So a later
file wins wherever both have an epoch, and a restart never leaves stale epochs behind it.

Fails closed: any of these is an :class:`~validators.errors.ArtefactError`, never a shorter
history: no log folder, no ``train/`` folder; a ``train/`` or ``validation/`` folder without
event files or without ``epoch_*`` scalars in them; an empty file; a file
that is not an event file; a truncated record, a CRC mismatch or an undecodable protobuf (the
file, the byte offset and the last good step); an ``epoch_*`` tag that is not a single number,
or twice at one step in one file; a column missing some epoch that another column has; a file
whose size or modification time changes while it is read (training still running).
What no reader can tell: a run cut between two epochs in every file at once (or a run that
simply stopped there) looks like a shorter run; the history's length is the checks' to judge.

The protobuf wire format is decoded here by hand for the few messages involved (``Event``,
``Summary``, ``Summary.Value``, ``SummaryMetadata``, ``TensorProto``, ``TensorShapeProto``);
unknown fields are skipped as protobuf requires, and a repeated occurrence of a singular
message field is merged (its bytes concatenated), also as protobuf requires.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from validators.artefacts.tfrecord import iter_records
from validators.errors import ArtefactError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "EPOCH_PREFIX",
    "Event",
    "ProtobufError",
    "SummaryValue",
    "event_files",
    "iter_events",
    "parse_event",
    "read_tensorboard_history",
]

EPOCH_PREFIX = "epoch_"
_EVENT_MARK = "tfevents"  # TensorBoard's test for an event file: the name contains it
_FILE_VERSION_PREFIX = "brain.Event:"


_MAX_FIELD = (1 << 29) - 1


class ProtobufError(ValueError):
    """A payload is not valid protobuf wire format for the message expected."""


# --------------------------------------------------------------------------- wire format


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    end = len(buf)
    while True:
        if pos >= end:
            raise ProtobufError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
        if shift >= 70:
            raise ProtobufError("varint longer than 10 bytes")
    if result >> 64:
        raise ProtobufError("varint does not fit in 64 bits")
    return result, pos


def _fields(buf: bytes) -> list[tuple[int, int, int | bytes]]:
    """``(field_number, wire_type, value)`` of every field: an int for a varint, bytes otherwise.

    Fixed32/fixed64 values are returned as their raw 4/8 bytes. One-byte varints, by far the
    most common keys and lengths, are decoded inline.
    """
    out = []
    pos = 0
    end = len(buf)
    while pos < end:
        key = buf[pos]
        if key < 0x80:
            pos += 1
        else:
            key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0 or number > _MAX_FIELD:
            raise ProtobufError(f"invalid field number {number}")
        if wire == 2:
            if pos < end and buf[pos] < 0x80:
                n = buf[pos]
                pos += 1
            else:
                n, pos = _varint(buf, pos)
            if n > end - pos:
                raise ProtobufError(f"field {number} says {n} bytes, {end - pos} remain")
            value, pos = buf[pos : pos + n], pos + n
        elif wire == 0:
            if pos < end and buf[pos] < 0x80:
                value = buf[pos]
                pos += 1
            else:
                value, pos = _varint(buf, pos)
        elif wire == 1:
            if pos + 8 > end:
                raise ProtobufError(f"truncated 64-bit field {number}")
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 5:
            if pos + 4 > end:
                raise ProtobufError(f"truncated 32-bit field {number}")
            value, pos = buf[pos : pos + 4], pos + 4
        else:  # 3 and 4 are the deprecated groups, 6 and 7 do not exist
            raise ProtobufError(f"unsupported wire type {wire} for field {number}")
        out.append((number, wire, value))
    return out


def _expect(number: int, wire: int, wanted: int) -> None:
    if wire != wanted:
        raise ProtobufError(f"field {number} has wire type {wire}, expected {wanted}")


def _int64(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


def _int32(v: int) -> int:
    # int32 fields are sign-extended to 64 bits on the wire; keep the low 32 bits' value.
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def _text(b: bytes, what: str) -> str:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtobufError(f"{what} is not valid UTF-8") from None


def _packed(number: int, wire: int, value, fixed: int, out: list) -> None:
    """Append the elements of a repeated numeric field, packed (wire 2) or not."""
    if wire == 2:
        if fixed:
            if len(value) % fixed:
                raise ProtobufError(f"packed field {number} is {len(value)} bytes, not a multiple of {fixed}")
            out.extend(value[i : i + fixed] for i in range(0, len(value), fixed))
        else:
            pos = 0
            while pos < len(value):
                v, pos = _varint(value, pos)
                out.append(v)
    else:
        _expect(number, wire, {4: 5, 8: 1, 0: 0}[fixed])
        out.append(value)


# --------------------------------------------------------------------------- messages

# DataType enum -> (name, struct code, width) of the dtypes whose numbers this reader decodes
_DTYPES = {1: ("float32", "f", 4), 2: ("float64", "d", 8), 3: ("int32", "i", 4), 9: ("int64", "q", 8), 19: ("float16", "e", 2)}


@dataclass(frozen=True)
class SummaryValue:
    """One ``Summary.Value``: a tag and what it holds.

    ``kind`` is ``"simple_value"``, ``"tensor"``, ``"histo"``, ``"image"``, ``"audio"`` or
    ``"none"``. A tensor is kept as its serialised ``TensorProto`` and decoded on first use
    (most tags of a log are skipped unread): ``dtype`` is its ``DataType`` enum number,
    ``shape`` its dims (``()`` for a scalar) and ``values`` its numbers (``None`` for a dtype
    this reader does not decode, such as strings). Those raise :class:`ProtobufError` when the
    tensor bytes are malformed.
    """

    tag: str
    kind: str
    plugin_name: str = ""
    simple_value: float | None = None
    tensor: bytes = b""

    @cached_property
    def _decoded(self) -> tuple[int, tuple[int, ...], tuple[float, ...] | None]:
        return _parse_tensor(self.tensor) if self.kind == "tensor" else (0, (), None)

    @property
    def dtype(self) -> int:
        return self._decoded[0]

    @property
    def shape(self) -> tuple[int, ...]:
        return self._decoded[1]

    @property
    def values(self) -> tuple[float, ...] | None:
        return self._decoded[2]

    def scalar(self) -> float:
        """The single number this value holds; ``ValueError`` saying why when it is not one."""
        if self.kind == "simple_value":
            return float(self.simple_value)
        if self.kind != "tensor":
            raise ValueError(f"holds a {self.kind} summary, not a scalar")
        if self.values is None:
            raise ValueError(f"holds a tensor of DataType {self.dtype}, not a number")
        if len(self.values) != 1 or any(d != 1 for d in self.shape):
            raise ValueError(f"holds a tensor of shape {list(self.shape)}, not a single number")
        return self.values[0]


@dataclass(frozen=True)
class Event:
    """The parts of an ``Event`` this reader uses."""

    wall_time: float
    step: int
    file_version: str | None
    values: tuple[SummaryValue, ...]


_CACHE: dict = {}


def _cached(parse, buf: bytes):
    """``parse(buf)`` memoised: every scalar of a tag repeats the same metadata and shape bytes."""
    key = (parse, buf)
    try:
        return _CACHE[key]
    except KeyError:
        pass
    result = parse(buf)  # a ProtobufError is never cached
    if len(_CACHE) >= 4096:
        _CACHE.clear()
    _CACHE[key] = result
    return result


def _plugin_name(buf: bytes) -> str:
    """``SummaryMetadata.plugin_data.plugin_name``."""
    plugin = ""
    for number, wire, value in _fields(buf):
        if number == 1:
            _expect(number, wire, 2)
            for n2, w2, v2 in _fields(value):
                if n2 == 1:
                    _expect(n2, w2, 2)
                    plugin = _text(v2, "plugin_name")
    return plugin


def _parse_shape(buf: bytes) -> tuple[tuple[int, ...], bool]:
    dims = []
    unknown_rank = False
    for number, wire, value in _fields(buf):
        if number == 2:
            _expect(number, wire, 2)
            size = 0
            for n2, w2, v2 in _fields(value):
                if n2 == 1:
                    _expect(n2, w2, 0)
                    size = _int64(v2)
                elif n2 == 2:
                    _expect(n2, w2, 2)
                    _text(v2, "dimension name")
            dims.append(size)
        elif number == 3:
            _expect(number, wire, 0)
            unknown_rank = bool(value)
    return tuple(dims), unknown_rank


# What tf.summary.scalar writes: dtype, an empty shape (a scalar), tensor_content of one value.
_FLOAT32_SCALAR = b"\x08\x01\x12\x00\x22\x04"
_FLOAT64_SCALAR = b"\x08\x02\x12\x00\x22\x08"


def _parse_tensor(buf: bytes) -> tuple[int, tuple[int, ...], tuple[float, ...] | None]:
    # Fast paths, byte for byte what the general decoder below gives for these inputs.
    if len(buf) == 10 and buf.startswith(_FLOAT32_SCALAR):
        return 1, (), struct.unpack_from("<f", buf, 6)
    if len(buf) == 14 and buf.startswith(_FLOAT64_SCALAR):
        return 2, (), struct.unpack_from("<d", buf, 6)
    dtype = 0
    shape_parts = []
    content = []
    floats: list = []
    doubles: list = []
    halves: list = []
    int32s: list = []
    int64s: list = []
    for number, wire, value in _fields(buf):
        if number == 1:
            _expect(number, wire, 0)
            dtype = _int32(value)
        elif number == 2:
            _expect(number, wire, 2)
            shape_parts.append(value)
        elif number == 4:
            _expect(number, wire, 2)
            content.append(value)
        elif number == 5:
            _packed(number, wire, value, 4, floats)
        elif number == 6:
            _packed(number, wire, value, 8, doubles)
        elif number == 7:
            _packed(number, wire, value, 0, int32s)
        elif number == 10:
            _packed(number, wire, value, 0, int64s)
        elif number == 13:
            _packed(number, wire, value, 0, halves)
    dims, unknown_rank = _cached(_parse_shape, b"".join(shape_parts))
    if unknown_rank or any(d < 0 for d in dims):
        return dtype, dims, None
    if dtype not in _DTYPES:
        return dtype, dims, None
    name, code, width = _DTYPES[dtype]
    raw = b"".join(content)
    if raw:
        if len(raw) % width:
            raise ProtobufError(f"tensor_content of {len(raw)} bytes is not a whole number of {name}")
        values = [float(v) for v in struct.unpack(f"<{len(raw) // width}{code}", raw)]
    elif dtype == 1:
        values = [struct.unpack("<f", b)[0] for b in floats]
    elif dtype == 2:
        values = [struct.unpack("<d", b)[0] for b in doubles]
    elif dtype == 3:
        values = [float(_int32(v)) for v in int32s]
    elif dtype == 9:
        values = [float(_int64(v)) for v in int64s]
    else:  # float16 values are stored as their bit patterns in half_val
        values = [struct.unpack("<e", struct.pack("<H", v & 0xFFFF))[0] for v in halves]
    return dtype, dims, tuple(values)


def _parse_value(buf: bytes) -> SummaryValue:
    tag = ""
    kind = "none"
    simple = None
    tensor_parts = []
    metadata_parts = []
    for number, wire, value in _fields(buf):
        if number == 1:
            _expect(number, wire, 2)
            tag = _text(value, "tag")
        elif number == 2:
            _expect(number, wire, 5)
            kind, simple = "simple_value", struct.unpack("<f", value)[0]
            tensor_parts = []  # members of one oneof: setting one clears the others
        elif number == 8:
            _expect(number, wire, 2)
            if kind != "tensor":
                tensor_parts = []
            kind = "tensor"
            tensor_parts.append(value)
        elif number == 9:
            _expect(number, wire, 2)
            metadata_parts.append(value)
        elif number in (3, 4, 5, 6):  # obsolete_old_style_histogram, image, histo, audio
            _expect(number, wire, 2)
            kind = {3: "histo", 4: "image", 5: "histo", 6: "audio"}[number]
            tensor_parts = []
    plugin = _cached(_plugin_name, b"".join(metadata_parts))
    if kind == "tensor":
        return SummaryValue(tag, kind, plugin, None, b"".join(tensor_parts))
    return SummaryValue(tag, kind, plugin, simple)


def parse_event(payload: bytes) -> Event:
    """Decode one serialized ``tensorflow.Event``; :class:`ProtobufError` if it is malformed."""
    wall_time = 0.0
    step = 0
    file_version = None
    summary_parts = []
    for number, wire, value in _fields(payload):
        if number == 1:
            _expect(number, wire, 1)
            wall_time = struct.unpack("<d", value)[0]
        elif number == 2:
            _expect(number, wire, 0)
            step = _int64(value)
        elif number == 3:
            _expect(number, wire, 2)
            file_version = _text(value, "file_version")
            summary_parts = []  # file_version, summary, ... are one oneof: the last one set wins
        elif number == 5:
            _expect(number, wire, 2)
            summary_parts.append(value)
            file_version = None
        elif number in (4, 6, 7, 8, 9):  # graph_def, log_message, session_log, run metadata, meta graph
            _expect(number, wire, 2)
            summary_parts = []
            file_version = None
    values = []
    for number, wire, value in _fields(b"".join(summary_parts)):
        if number == 1:
            _expect(number, wire, 2)
            values.append(_parse_value(value))
    return Event(wall_time, step, file_version, tuple(values))


# --------------------------------------------------------------------------- files


def iter_events(path) -> Iterator[tuple[int, Event]]:
    """Yield ``(offset, event)`` for every record of an event file, strictly.

    A truncated or corrupt record, or a payload that is not an ``Event``, raises
    :class:`~validators.errors.ArtefactError` with the record's byte offset and the step of the
    last event read before it.
    """
    last_step = None
    last_epoch = None
    try:
        for offset, payload in iter_records(path):
            try:
                event = parse_event(payload)
            except ProtobufError as exc:
                raise ArtefactError(path, f"record is not a valid Event protobuf: {exc}", offset=offset) from None
            last_step = event.step
            if any(v.tag.startswith(EPOCH_PREFIX) for v in event.values):
                last_epoch = event.step
            yield offset, event
    except ArtefactError as exc:
        if last_step is None:
            where = "last good step: none (no event could be read before this record)"
        elif last_epoch is None:
            where = f"last good step {last_step} (no epoch scalar before this record)"
        else:
            where = f"last good step {last_epoch} (last epoch scalar; last event at step {last_step})"
        raise ArtefactError(path, f"{exc.message}; {where}", offset=exc.offset, hint=exc.hint) from None


def event_files(folder) -> list[Path]:
    """Event files directly in ``folder`` (names containing ``tfevents``), sorted by name."""
    folder = Path(folder)
    try:
        entries = list(folder.iterdir())
    except OSError as exc:
        raise ArtefactError(folder, f"cannot list the folder: {exc.strerror or exc}") from None
    return sorted(p for p in entries if _EVENT_MARK in p.name and p.is_file())


@dataclass
class _FileScalars:
    path: Path
    first_wall_time: float
    scalars: dict[str, dict[int, float]]  # name (epoch_ stripped) -> step -> value


def _read_file(path: Path) -> _FileScalars:
    try:
        before = path.stat()
    except OSError as exc:
        raise ArtefactError(path, f"cannot read: {exc.strerror or exc}") from None
    if before.st_size == 0:
        raise ArtefactError(
            path, "empty event file (0 bytes)", hint="was the writer killed before its first flush?"
        )
    scalars: dict[str, dict[int, float]] = {}
    first_wall_time = None
    for offset, event in iter_events(path):
        if first_wall_time is None:
            if not (event.file_version or "").startswith(_FILE_VERSION_PREFIX):
                raise ArtefactError(
                    path,
                    f"not a TensorBoard event file: its first record has file_version "
                    f"{event.file_version!r}, expected {_FILE_VERSION_PREFIX + '2'!r}",
                    offset=offset,
                )
            first_wall_time = event.wall_time
        for value in event.values:
            if not value.tag.startswith(EPOCH_PREFIX):
                continue
            try:
                number = value.scalar()
            except ProtobufError as exc:
                raise ArtefactError(
                    path, f"tag {value.tag!r} at step {event.step}: invalid TensorProto: {exc}", offset=offset
                ) from None
            except ValueError as exc:
                raise ArtefactError(path, f"tag {value.tag!r} at step {event.step} {exc}", offset=offset) from None
            if event.step < 0:
                raise ArtefactError(path, f"tag {value.tag!r} has a negative step {event.step}", offset=offset)
            if event.step >= MAX_EPOCHS:  # refused here, naming this file: epochs are never filled up to it
                raise ArtefactError(path, f"tag {value.tag!r} has a scalar at step {event.step}, beyond the "
                                          f"{MAX_EPOCHS} epochs a training history may have: a corrupt or hostile "
                                          "event file, not epochs", offset=offset)
            series = scalars.setdefault(value.tag[len(EPOCH_PREFIX) :], {})
            if event.step in series:
                raise ArtefactError(
                    path, f"tag {value.tag!r} has two values at step {event.step} in one file", offset=offset
                )
            series[event.step] = number
    try:
        after = path.stat()
    except OSError as exc:
        raise ArtefactError(path, f"cannot read: {exc.strerror or exc}") from None
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        raise ArtefactError(
            path,
            f"the file changed while it was read (size {before.st_size} -> {after.st_size} bytes)",
            hint="is training still running? read the logs after it ends",
        )
    return _FileScalars(path, first_wall_time, scalars)


def _read_folder(folder: Path) -> dict[str, dict[int, float]]:
    """Merge the epoch scalars of every event file in one folder (see the module docstring)."""
    files = [_read_file(p) for p in event_files(folder)]
    files.sort(key=lambda f: (f.first_wall_time, f.path.name))
    merged: dict[str, dict[int, float]] = {}
    for f in files:
        steps = [s for series in f.scalars.values() for s in series]
        if not steps:
            continue
        first = min(steps)
        for series in merged.values():
            for s in [s for s in series if s >= first]:
                del series[s]
        for name, series in f.scalars.items():
            merged.setdefault(name, {}).update(series)
    return {name: series for name, series in merged.items() if series}


def _describe(steps) -> str:
    steps = sorted(steps)
    if len(steps) > 10:
        return ", ".join(map(str, steps[:10])) + f", ... ({len(steps)} in all)"
    return ", ".join(map(str, steps))


MAX_EPOCHS = 1_000_000  # steps of epoch scalars beyond this are not epochs


def read_tensorboard_history(log_dir) -> pd.DataFrame:
    """Read the epoch history a Keras ``TensorBoard`` callback wrote under ``log_dir``.

    ``log_dir`` is the callback's ``log_dir``: it must hold ``train/`` (with at least one event
    file and at least one ``epoch_*`` scalar) and may hold ``validation/``. Returns a
    ``pandas.DataFrame`` with one row per epoch: ``epoch`` (0-based, int64) then the scalars as
    ``CSVLogger`` names them, sorted (``direction_auc``, ``loss``, ``val_loss`` ...), float64.
    NaN and inf values are kept as they are: judging them is the checks' job.

    Raises :class:`~validators.errors.ArtefactError` as listed in the module docstring.
    """
    import pandas as pd

    return pd.DataFrame(read_tensorboard_columns(log_dir))


def read_tensorboard_columns(log_dir) -> dict[str, np.ndarray]:
    """What :func:`read_tensorboard_history` returns, as ``{"epoch": ..., column: values}`` numpy
    arrays, without importing pandas (the gate reads histories this way)."""
    root = Path(log_dir)
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise ArtefactError(
            root,
            f"TensorBoard log folder {what}",
            hint="expected the TensorBoard callback's log_dir, holding train/ and validation/",
        )
    train = root / "train"
    if not train.is_dir():
        raise ArtefactError(
            root,
            "no train/ folder: looked for event files (events.out.tfevents.*) in "
            f"{os.fspath(train)!r}",
            hint="point at the log_dir given to keras.callbacks.TensorBoard",
        )
    columns: dict[str, dict[int, float]] = {}
    sources: dict[str, Path] = {}
    tags: dict[str, str] = {}
    for sub, prefix in (("train", ""), ("validation", "val_")):
        folder = root / sub
        if sub == "validation" and not folder.exists():
            continue  # a run without validation data: no val_ columns
        if not folder.is_dir():
            raise ArtefactError(folder, "is not a folder")
        if not event_files(folder):
            raise ArtefactError(folder, "no event files (names containing 'tfevents') in this folder")
        found = _read_folder(folder)
        if not found:
            raise ArtefactError(
                folder,
                f"no epoch scalars (tags {EPOCH_PREFIX}*) in the event files",
                hint="a file cut short, or a folder written by evaluate() rather than fit()?",
            )
        for name, series in found.items():
            column = prefix + name
            if column in columns:
                raise ArtefactError(
                    folder, f"column {column!r} comes from both {sources[column]} and {folder}"
                )
            columns[column] = series
            sources[column] = folder
            tags[column] = EPOCH_PREFIX + name
    n_epochs = 1 + max(max(series) for series in columns.values())  # at most MAX_EPOCHS: _read_file refuses more
    gaps = []
    for column in sorted(columns):
        missing = set(range(n_epochs)) - set(columns[column])
        if missing:
            gaps.append(
                f"{column!r} (tag {tags[column]!r} in {sources[column].name}/) lacks epoch {_describe(missing)}"
            )
    if gaps:
        raise ArtefactError(
            root,
            f"epochs do not line up: other scalars reach epoch {n_epochs - 1}, but " + "; ".join(gaps),
        )
    frame = {"epoch": np.arange(n_epochs, dtype=np.int64)}
    for column in sorted(columns):
        series = columns[column]
        frame[column] = np.array([series[e] for e in range(n_epochs)], dtype=np.float64)
    return frame
