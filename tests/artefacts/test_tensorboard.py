"""TensorBoard history: against a real Keras run (and TensorFlow's own parsing), and hand-made logs."""

from __future__ import annotations

import math
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from validators.artefacts import tensorboard as tb
from validators.artefacts.tensorboard import ProtobufError, parse_event, read_tensorboard_history
from validators.artefacts.tfrecord import crc32c, iter_records
from validators.errors import ArtefactError

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------- a tiny Event writer


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def tensor(values, dtype=1, shape=()) -> bytes:
    code = {1: "<f", 2: "<d"}[dtype]
    dims = b"".join(field(2, varint(1 << 3) + varint(d)) for d in shape)
    content = b"".join(struct.pack(code, v) for v in values)
    return varint(1 << 3) + varint(dtype) + field(2, dims) + field(4, content)


def value(tag: str, *, scalar=None, simple=None, raw_tensor=None) -> bytes:
    body = field(1, tag.encode())
    if simple is not None:
        body += varint(2 << 3 | 5) + struct.pack("<f", simple)
    else:
        body += field(8, raw_tensor if raw_tensor is not None else tensor([scalar]))
    return body + field(9, field(1, field(1, b"scalars")))


def event(step: int, *values: bytes, wall: float = 1.0) -> bytes:
    out = varint(1 << 3 | 1) + struct.pack("<d", wall) + varint(2 << 3) + varint(step)
    return out + field(5, b"".join(field(1, v) for v in values))


def version_event(wall: float = 1.0) -> bytes:
    return varint(1 << 3 | 1) + struct.pack("<d", wall) + field(3, b"brain.Event:2")


def frame(payloads) -> bytes:
    def masked(c):
        return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF

    out = b""
    for p in payloads:
        n = struct.pack("<Q", len(p))
        out += n + struct.pack("<I", masked(crc32c(n))) + p + struct.pack("<I", masked(crc32c(p)))
    return out


def epochs_file(path: Path, series: dict[str, list[float]], *, wall=1.0, first=0) -> Path:
    """An event file with ``epoch_<name>`` scalars at steps first, first+1, ..."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = max(len(v) for v in series.values())
    payloads = [version_event(wall)]
    for i in range(n):
        payloads += [event(first + i, value(f"epoch_{k}", scalar=v[i]), wall=wall + i) for k, v in series.items() if i < len(v)]
    path.write_bytes(frame(payloads))
    return path


def small_run(root: Path, epochs=3) -> Path:
    logs = root / "logs"
    loss = [1.0 - 0.1 * e for e in range(epochs)]
    epochs_file(logs / "train" / "events.out.tfevents.100.host.1.0.v2", {"loss": loss, "direction_auc": [0.6] * epochs})
    epochs_file(logs / "validation" / "events.out.tfevents.100.host.1.1.v2", {"loss": [x + 0.05 for x in loss]})
    return logs


def f32(x: float) -> float:
    return float(np.float32(x))


# --------------------------------------------------------------------------- hand-made logs


def test_columns_named_as_csvlogger_names_them(tmp_path):
    df = read_tensorboard_history(small_run(tmp_path))
    assert list(df.columns) == ["epoch", "direction_auc", "loss", "val_loss"]
    assert df["epoch"].tolist() == [0, 1, 2]
    assert df["epoch"].dtype == np.int64 and df["loss"].dtype == np.float64
    assert df["loss"].tolist() == [f32(1.0), f32(0.9), f32(0.8)]
    assert df["val_loss"].tolist() == [f32(1.05), f32(0.95), f32(0.85)]


def test_without_validation_folder_there_are_no_val_columns(tmp_path):
    logs = small_run(tmp_path)
    shutil.rmtree(logs / "validation")
    assert list(read_tensorboard_history(logs).columns) == ["epoch", "direction_auc", "loss"]


def test_non_epoch_tags_are_ignored_and_simple_values_read(tmp_path):
    path = tmp_path / "logs" / "train" / "events.out.tfevents.1.h"
    path.parent.mkdir(parents=True)
    payloads = [
        version_event(),
        event(0, value("keras", raw_tensor=varint(1 << 3) + varint(7) + field(2, b"") + field(8, b"{}"))),
        event(0, value("batch_loss", scalar=3.0), value("epoch_loss", simple=0.5)),
        event(7, value("evaluation_loss_vs_iterations", scalar=9.0)),
        event(1, value("epoch_loss", simple=float("nan"))),
    ]
    path.write_bytes(frame(payloads))
    df = read_tensorboard_history(tmp_path / "logs")
    assert list(df.columns) == ["epoch", "loss"]
    assert df["loss"].iloc[0] == 0.5 and math.isnan(df["loss"].iloc[1])  # NaN kept for the checks to judge


def test_restarted_run_later_file_wins_from_its_first_epoch(tmp_path):
    train = tmp_path / "logs" / "train"
    # The later file sorts first by name: the order comes from the first record's wall time.
    epochs_file(train / "events.out.tfevents.9.b", {"loss": [10, 11, 12, 13, 14]}, wall=100.0)
    epochs_file(train / "events.out.tfevents.1.a", {"loss": [23, 24, 25]}, wall=200.0, first=3)
    df = read_tensorboard_history(tmp_path / "logs")
    assert df["loss"].tolist() == [10, 11, 12, 23, 24, 25]


def test_restart_from_scratch_drops_the_older_epochs_after_it(tmp_path):
    # TensorBoard's purge of orphaned data: a run restarted at epoch 0 replaces the old run.
    train = tmp_path / "logs" / "train"
    epochs_file(train / "events.out.tfevents.1.a", {"loss": [10, 11, 12, 13]}, wall=100.0)
    epochs_file(train / "events.out.tfevents.2.a", {"loss": [20, 21]}, wall=200.0)
    assert read_tensorboard_history(tmp_path / "logs")["loss"].tolist() == [20, 21]


def test_restart_that_drops_a_metric_is_an_error(tmp_path):
    train = tmp_path / "logs" / "train"
    epochs_file(train / "events.out.tfevents.1.a", {"loss": [10, 11, 12], "auc": [1, 2, 3]}, wall=100.0)
    epochs_file(train / "events.out.tfevents.2.a", {"loss": [21, 22]}, wall=200.0, first=1)
    with pytest.raises(ArtefactError, match=r"'auc' \(tag 'epoch_auc' in train/\) lacks epoch 1, 2"):
        read_tensorboard_history(tmp_path / "logs")


def test_missing_epoch_names_the_column_and_the_epochs(tmp_path):
    logs = small_run(tmp_path, epochs=4)
    epochs_file(next((logs / "validation").iterdir()), {"loss": [1, 2, 3]})
    with pytest.raises(ArtefactError) as info:
        read_tensorboard_history(logs)
    msg = str(info.value)
    assert "epochs do not line up" in msg and "reach epoch 3" in msg
    assert "'val_loss' (tag 'epoch_loss' in validation/) lacks epoch 3" in msg


def test_a_gap_in_the_middle_is_an_error(tmp_path):
    path = tmp_path / "logs" / "train" / "events.out.tfevents.1.h"
    path.parent.mkdir(parents=True)
    path.write_bytes(frame([version_event()] + [event(s, value("epoch_loss", scalar=1.0)) for s in (0, 1, 3)]))
    with pytest.raises(ArtefactError, match=r"'loss' .* lacks epoch 2"):
        read_tensorboard_history(tmp_path / "logs")


def test_same_step_twice_in_one_file_is_an_error(tmp_path):
    path = tmp_path / "logs" / "train" / "events.out.tfevents.1.h"
    path.parent.mkdir(parents=True)
    path.write_bytes(frame([version_event()] + [event(s, value("epoch_loss", scalar=1.0)) for s in (0, 1, 1)]))
    with pytest.raises(ArtefactError, match=r"tag 'epoch_loss' has two values at step 1 in one file"):
        read_tensorboard_history(tmp_path / "logs")


@pytest.mark.parametrize(
    "raw, why",
    [
        (tensor([1.0, 2.0], shape=(2,)), r"shape \[2\], not a single number"),
        (varint(1 << 3) + varint(7) + field(2, b"") + field(8, b"x"), "DataType 7, not a number"),
        (tensor([]), r"shape \[\], not a single number"),
    ],
)
def test_an_epoch_tag_that_is_not_one_number_is_an_error(tmp_path, raw, why):
    path = tmp_path / "logs" / "train" / "events.out.tfevents.1.h"
    path.parent.mkdir(parents=True)
    path.write_bytes(frame([version_event(), event(0, value("epoch_loss", raw_tensor=raw))]))
    with pytest.raises(ArtefactError, match=f"tag 'epoch_loss' at step 0 holds a tensor of {why}"):
        read_tensorboard_history(tmp_path / "logs")


def test_a_malformed_tensor_in_an_epoch_tag_is_an_error(tmp_path):
    path = tmp_path / "logs" / "train" / "events.out.tfevents.1.h"
    path.parent.mkdir(parents=True)
    bad = value("epoch_loss", raw_tensor=b"\x22\x09abc")  # tensor_content says 9 bytes, 3 follow
    path.write_bytes(frame([version_event(), event(0, value("batch_x", raw_tensor=b"\xff")), event(0, bad)]))
    with pytest.raises(ArtefactError, match=r"tag 'epoch_loss' at step 0: invalid TensorProto: field 4 says 9 bytes"):
        read_tensorboard_history(tmp_path / "logs")


def test_missing_folders_and_files_say_what_was_looked_for(tmp_path):
    with pytest.raises(ArtefactError, match="TensorBoard log folder does not exist"):
        read_tensorboard_history(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ArtefactError, match="TensorBoard log folder is not a folder"):
        read_tensorboard_history(tmp_path / "file")
    (tmp_path / "logs").mkdir()
    with pytest.raises(ArtefactError, match=r"no train/ folder: looked for event files \(events.out.tfevents.\*\)"):
        read_tensorboard_history(tmp_path / "logs")
    (tmp_path / "logs" / "train").mkdir()
    (tmp_path / "logs" / "train" / "history.csv").write_text("epoch,loss\n")
    with pytest.raises(ArtefactError, match=r"train: no event files \(names containing 'tfevents'\)"):
        read_tensorboard_history(tmp_path / "logs")


def test_empty_validation_folder_is_an_error(tmp_path):
    logs = small_run(tmp_path)
    for p in (logs / "validation").iterdir():
        p.unlink()
    with pytest.raises(ArtefactError, match="validation: no event files"):
        read_tensorboard_history(logs)


def test_empty_event_file_is_an_error(tmp_path):
    logs = small_run(tmp_path)
    (logs / "train" / "events.out.tfevents.200.host.2.0.v2").write_bytes(b"")
    with pytest.raises(ArtefactError, match=r"empty event file \(0 bytes\)"):
        read_tensorboard_history(logs)


def test_no_epoch_scalars_is_an_error(tmp_path):
    path = tmp_path / "logs" / "train" / "events.out.tfevents.1.h"
    path.parent.mkdir(parents=True)
    path.write_bytes(frame([version_event(), event(0, value("batch_loss", scalar=1.0))]))
    with pytest.raises(ArtefactError, match=r"no epoch scalars \(tags epoch_\*\)"):
        read_tensorboard_history(tmp_path / "logs")


def test_validation_folder_without_epoch_scalars_is_an_error(tmp_path):
    logs = small_run(tmp_path)
    path = next((logs / "validation").iterdir())
    path.write_bytes(frame([version_event(), event(9, value("evaluation_loss_vs_iterations", scalar=1.0))]))
    with pytest.raises(ArtefactError, match=r"validation: no epoch scalars"):
        read_tensorboard_history(logs)


def test_a_tfrecord_file_that_is_not_an_event_file(tmp_path):
    path = tmp_path / "logs" / "train" / "events.out.tfevents.1.h"
    path.parent.mkdir(parents=True)
    path.write_bytes(frame([event(0, value("epoch_loss", scalar=1.0))]))
    with pytest.raises(ArtefactError, match="not a TensorBoard event file: its first record has file_version None"):
        read_tensorboard_history(tmp_path / "logs")


def test_undecodable_protobuf_names_offset_and_last_good_step(tmp_path):
    path = tmp_path / "logs" / "train" / "events.out.tfevents.1.h"
    path.parent.mkdir(parents=True)
    good = [version_event(), event(0, value("epoch_loss", scalar=1.0)), event(1, value("epoch_loss", scalar=1.0))]
    path.write_bytes(frame(good + [b"\x0a\x05ab"]))
    offset = len(frame(good))
    with pytest.raises(ArtefactError) as info:
        read_tensorboard_history(tmp_path / "logs")
    assert str(info.value).startswith(f"{path}: byte offset {offset}: record is not a valid Event protobuf")
    assert "last good step 1" in str(info.value)


def test_truncated_and_corrupt_hand_made_file(tmp_path):
    logs = small_run(tmp_path)
    path = next((logs / "train").iterdir())
    data = path.read_bytes()
    records = list(iter_records(path))
    last = records[-1][0]
    path.write_bytes(data[: last + 20])
    with pytest.raises(ArtefactError) as info:
        read_tensorboard_history(logs)
    assert f"byte offset {last}: truncated record" in str(info.value)
    assert "last good step 2" in str(info.value)  # the record before the cut is epoch 2's loss
    corrupt = bytearray(data)
    corrupt[records[2][0] + 14] ^= 0x10
    path.write_bytes(bytes(corrupt))
    with pytest.raises(ArtefactError, match=rf"byte offset {records[2][0]}: corrupt record: CRC .*; last good step 0"):
        read_tensorboard_history(logs)


def test_a_file_growing_while_read_is_an_error(tmp_path, monkeypatch):
    logs = small_run(tmp_path)
    path = next((logs / "train").iterdir())
    real = tb.iter_events

    def growing(p):
        for i, item in enumerate(real(p)):
            if i == 1 and p == path:
                with open(p, "ab") as f:  # the writer appends an epoch while we read
                    f.write(frame([event(3, value("epoch_loss", scalar=0.1))]))
            yield item

    monkeypatch.setattr(tb, "iter_events", growing)
    with pytest.raises(ArtefactError, match=r"changed while it was read .*is training still running"):
        read_tensorboard_history(logs)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_arbitrary_payloads_raise_only_protobuf_errors(data):
    try:
        ev = parse_event(data)
    except ProtobufError:
        return
    for v in ev.values:
        try:
            v.scalar()
        except ValueError:
            pass


@FAST
@given(st.binary(min_size=4, max_size=4), st.binary(min_size=8, max_size=8))
def test_scalar_fast_paths_agree_with_the_general_decoder(f4, f8):
    for dtype, raw in ((1, f4), (2, f8)):
        fast = varint(1 << 3) + varint(dtype) + field(2, b"") + field(4, raw)
        reordered = field(4, raw) + field(2, b"") + varint(1 << 3) + varint(dtype)  # not the fast path
        a, b = tb._parse_tensor(fast), tb._parse_tensor(reordered)
        assert (a[0], a[1]) == (b[0], b[1]) == (dtype, ())
        assert struct.pack("<d", a[2][0]) == struct.pack("<d", b[2][0])  # NaN payloads too


def test_validators_import_without_tensorflow():
    code = (
        "import sys, validators.artefacts.tfrecord, validators.artefacts.tensorboard, validators.artefacts.keras_archive\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tensorboard', 'google'))\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


# --------------------------------------------------------------------------- a real Keras run


@pytest.fixture(scope="session")
def keras_run(tmp_path_factory):
    """Train a tiny 2-input, 3-head model with the TensorBoard callback and CSVLogger."""
    pytest.importorskip("tensorflow")
    pytest.importorskip("tensorboard")
    keras = pytest.importorskip("keras")
    root = tmp_path_factory.mktemp("keras_run")
    keras.utils.set_random_seed(0)
    prices = keras.Input((4,), name="prices")
    volume = keras.Input((3,), name="volume")
    x = keras.layers.Concatenate()([prices, volume])
    x = keras.layers.Dense(8, activation="relu", name="fusion")(x)
    outputs = {
        "direction": keras.layers.Dense(1, activation="sigmoid", name="direction")(x),
        "volatility": keras.layers.Dense(1, activation="relu", kernel_initializer="he_normal", name="volatility")(x),
        "magnitude": keras.layers.Dense(1, activation="linear", name="magnitude")(x),
    }
    model = keras.Model([prices, volume], outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss={"direction": "binary_crossentropy", "volatility": "mse", "magnitude": "mse"},
        loss_weights={"direction": 1.0, "volatility": 0.3, "magnitude": 0.3},
        metrics={"direction": [keras.metrics.AUC(name="auc")]},
    )
    rng = np.random.default_rng(0)
    a = rng.normal(size=(192, 4)).astype("float32")
    b = rng.normal(size=(192, 3)).astype("float32")
    y = {"direction": (a[:, 0] > 0).astype("float32"), "volatility": np.abs(b[:, 0]), "magnitude": a[:, 1]}
    model.fit(
        [a, b], y, validation_split=0.25, epochs=4, batch_size=48, verbose=0,
        callbacks=[keras.callbacks.TensorBoard(str(root / "logs")), keras.callbacks.CSVLogger(str(root / "history.csv"))],
    )
    return root


def one_file(folder: Path) -> Path:
    (path,) = tb.event_files(folder)
    return path


def copy_run(keras_run, tmp_path) -> Path:
    shutil.copytree(keras_run / "logs", tmp_path / "logs")
    return tmp_path / "logs"


def test_real_run_matches_csvlogger_exactly(keras_run):
    df = read_tensorboard_history(keras_run / "logs")
    csv = pd.read_csv(keras_run / "history.csv")
    assert set(df.columns) - set(csv.columns) == {"learning_rate"}  # the callback adds it; CSVLogger has not
    assert set(csv.columns) <= set(df.columns)
    assert list(df.columns) == ["epoch"] + sorted(set(df.columns) - {"epoch"})
    for column in csv.columns:
        assert df[column].tolist() == csv[column].tolist(), column  # bit for bit: both are float32 values


def test_tags_keras_writes(keras_run):
    def tags(folder):
        return {v.tag for _, ev in tb.iter_events(one_file(folder)) for v in ev.values}

    heads = {"direction_auc", "direction_loss", "loss", "magnitude_loss", "volatility_loss"}
    assert tags(keras_run / "logs" / "train") == {"keras", "epoch_learning_rate"} | {f"epoch_{h}" for h in heads}
    assert tags(keras_run / "logs" / "validation") == {f"epoch_{h}" for h in heads} | {
        f"evaluation_{h}_vs_iterations" for h in heads
    }


def test_records_match_tensorflows_reader(keras_run):
    tf = pytest.importorskip("tensorflow")
    for folder in ("train", "validation"):
        path = one_file(keras_run / "logs" / folder)
        ours = [payload for _, payload in iter_records(path)]
        theirs = [r.numpy() for r in tf.data.TFRecordDataset(str(path))]
        assert ours == theirs


def test_events_match_tensorflows_parsing(keras_run):
    tf = pytest.importorskip("tensorflow")
    for folder in ("train", "validation"):
        path = one_file(keras_run / "logs" / folder)
        ours = [ev for _, ev in tb.iter_events(path)]
        theirs = list(tf.compat.v1.train.summary_iterator(str(path)))
        assert len(ours) == len(theirs)
        for mine, ev in zip(ours, theirs):
            assert (mine.wall_time, mine.step) == (ev.wall_time, ev.step)
            assert mine.file_version == (ev.file_version if ev.WhichOneof("what") == "file_version" else None)
            assert [v.tag for v in mine.values] == [v.tag for v in ev.summary.value]
            for v, w in zip(mine.values, ev.summary.value):
                assert v.plugin_name == w.metadata.plugin_data.plugin_name
                assert v.dtype == w.tensor.dtype and list(v.shape) == [d.size for d in w.tensor.tensor_shape.dim]
                if w.tensor.dtype == tf.float32.as_datatype_enum:
                    assert v.scalar() == float(tf.make_ndarray(w.tensor))


def test_truncated_real_events_file_names_offset_and_last_good_step(keras_run, tmp_path):
    logs = copy_run(keras_run, tmp_path)
    path = one_file(logs / "train")
    records = list(iter_records(path))
    last_offset = records[-1][0]
    path.write_bytes(path.read_bytes()[: last_offset + 30])
    with pytest.raises(ArtefactError) as info:
        read_tensorboard_history(logs)
    msg = str(info.value)
    assert msg.startswith(f"{path}: byte offset {last_offset}: truncated record")
    assert "last good step 3" in msg  # the last epoch (3) was partly read before the cut


def test_every_record_boundary_cut_of_one_real_file_is_an_error(keras_run, tmp_path):
    # A cut between records is invisible to the framing; the epochs of the tags give it away.
    logs = copy_run(keras_run, tmp_path)
    for folder in ("train", "validation"):
        path = one_file(logs / folder)
        data = path.read_bytes()
        for offset, _ in list(iter_records(path))[1:]:
            path.write_bytes(data[:offset])
            with pytest.raises(ArtefactError):
                read_tensorboard_history(logs)
        path.write_bytes(data)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(cut=st.floats(0, 1, exclude_max=True), flip=st.integers(1, 255), which=st.sampled_from(["train", "validation"]))
def test_any_cut_or_flipped_byte_of_a_real_file_is_an_error(keras_run, tmp_path, cut, flip, which):
    logs = tmp_path / "logs"
    if not logs.exists():
        copy_run(keras_run, tmp_path)
    path = one_file(logs / which)
    original = (keras_run / "logs" / which / path.name).read_bytes()
    pos = int(cut * len(original))
    for data in (original[:pos], original[:pos] + bytes([original[pos] ^ flip]) + original[pos + 1 :]):
        path.write_bytes(data)
        with pytest.raises(ArtefactError):
            read_tensorboard_history(logs)
    path.write_bytes(original)


def _tf_event(draw, event_pb2, summary_pb2):
    ev = event_pb2.Event(wall_time=draw(st.floats(allow_nan=False)), step=draw(st.integers(-(2**63), 2**63 - 1)))
    if draw(st.booleans()):
        ev.file_version = draw(st.text(max_size=20))
        return ev
    for _ in range(draw(st.integers(0, 4))):
        v = ev.summary.value.add(tag=draw(st.text(max_size=20)))
        kind = draw(st.sampled_from(["simple", "float_val", "double_val", "content", "int64", "histo"]))
        x = draw(st.floats(width=32, allow_nan=False))
        if kind == "simple":
            v.simple_value = x
        elif kind == "float_val":
            v.tensor.dtype = 1
            v.tensor.float_val.append(x)
        elif kind == "double_val":
            v.tensor.dtype = 2
            v.tensor.double_val.append(draw(st.floats(allow_nan=False)))
        elif kind == "content":
            v.tensor.dtype = 2
            v.tensor.tensor_shape.dim.add(size=1)
            v.tensor.tensor_content = struct.pack("<d", x)
        elif kind == "int64":
            v.tensor.dtype = 9
            v.tensor.int64_val.append(draw(st.integers(-(2**53), 2**53)))
        else:
            v.histo.num = 3
        if draw(st.booleans()):
            v.metadata.plugin_data.plugin_name = draw(st.text(max_size=10))
    return ev


def _scalar_of(v) -> float | None:
    kind = v.WhichOneof("value")
    t = v.tensor
    if kind == "simple_value":
        return v.simple_value
    if kind != "tensor":
        return None
    if t.tensor_content:
        return struct.unpack("<d", t.tensor_content)[0]
    return float((list(t.float_val) + list(t.double_val) + list(t.int64_val))[0])


@FAST
@given(st.data())
def test_decoder_agrees_with_protobuf_on_generated_events(data):
    pytest.importorskip("tensorflow")
    from tensorflow.core.framework import summary_pb2
    from tensorflow.core.util import event_pb2

    ev = _tf_event(data.draw, event_pb2, summary_pb2)
    mine = parse_event(ev.SerializeToString())
    assert (mine.wall_time, mine.step) == (ev.wall_time, ev.step)
    assert mine.file_version == (ev.file_version if ev.WhichOneof("what") == "file_version" else None)
    assert [v.tag for v in mine.values] == [v.tag for v in ev.summary.value]
    for v, w in zip(mine.values, ev.summary.value):
        assert v.plugin_name == w.metadata.plugin_data.plugin_name
        expected = _scalar_of(w)
        if expected is None:
            with pytest.raises(ValueError):
                v.scalar()
        else:
            assert v.scalar() == expected


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_decoder_agrees_with_protobuf_on_arbitrary_bytes(data):
    pytest.importorskip("tensorflow")
    from google.protobuf.message import DecodeError
    from tensorflow.core.util import event_pb2

    try:
        mine = parse_event(data)
    except ProtobufError:
        return
    theirs = event_pb2.Event()
    try:
        theirs.ParseFromString(data)
    except DecodeError:
        return  # stricter than us somewhere we do not look (e.g. UTF-8 in a field we skip)
    assert mine.step == theirs.step
    assert struct.pack("<d", mine.wall_time) == struct.pack("<d", theirs.wall_time)
    assert [v.tag for v in mine.values] == [v.tag for v in theirs.summary.value]


@pytest.mark.parametrize("step", [2**26, 2**40])
def test_a_step_far_beyond_any_epoch_count_is_an_error_in_no_time(tmp_path, step):
    # 150 bytes that used to take 8.5 GB and 21 s (2**26) or a MemoryError (2**40)
    train = tmp_path / "logs" / "train" / "events.out.tfevents.1.host.1.v2"
    train.parent.mkdir(parents=True)
    train.write_bytes(frame([version_event(), event(0, value("epoch_loss", scalar=0.5)),
                             event(step, value("epoch_loss", scalar=0.4))]))
    assert train.stat().st_size < 200
    with pytest.raises(ArtefactError, match=f"step {step}, beyond the {tb.MAX_EPOCHS} epochs") as refused:
        tb.read_tensorboard_columns(tmp_path / "logs")
    assert refused.value.path == train and refused.value.offset is not None  # the file and the record, not the folder


def test_reading_a_history_from_logs_never_imports_pandas(tmp_path):
    small_run(tmp_path / "run")
    code = ("import sys; from validators.artefacts.history import read_history; "
            f"h = read_history({str(tmp_path / 'run' / 'logs')!r}); assert h.n_epochs == 3, h; "
            "assert 'pandas' not in sys.modules, 'pandas was imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])
