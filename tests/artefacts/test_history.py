"""validators.artefacts.history: Keras CSVLogger files and JSON dumps of History.history."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from factory import healthy_history
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from validators.artefacts.history import read_history
from validators.errors import ArtefactError


def test_csvlogger_file(tmp_path):
    path = tmp_path / "history.csv"
    healthy_history().to_csv(path, index=False)
    h = read_history(path)
    assert h.source == "csv" and h.n_epochs == 8
    assert h.epochs.tolist() == list(range(8)) and h.epochs.dtype == np.int64
    assert "epoch" not in h.metrics
    assert h.names() == sorted(healthy_history().columns.drop("epoch"))
    assert h.metrics["val_direction_auc"].tolist() == [0.62, 0.64, 0.66, 0.68, 0.67, 0.66, 0.665, 0.66]
    assert h.metrics["volatility_loss"][-1] == pytest.approx(0.0033)


def test_training_log_as_keras_writes_it(tmp_path):
    # CSVLogger's default separator and NaN spelling; epochs start at 0; a resumed run may start later.
    path = tmp_path / "training.log"
    path.write_text("epoch,loss,val_loss\r\n3,0.5,nan\r\n4,0.4,NA\r\n5,0.3,0.35\r\n")
    h = read_history(path)
    assert h.epochs.tolist() == [3, 4, 5]
    assert h.metrics["loss"].tolist() == [0.5, 0.4, 0.3]
    vl = h.metrics["val_loss"]
    assert math.isnan(vl[0]) and math.isnan(vl[1]) and vl[2] == 0.35


def test_json_dump_of_history(tmp_path):
    path = tmp_path / "history.json"
    path.write_text('{"loss": [0.5, NaN, 0.3], "val_direction_auc": [0.6, null, Infinity]}')
    h = read_history(path)
    assert h.source == "json" and h.n_epochs == 3 and h.epochs.tolist() == [0, 1, 2]
    assert math.isnan(h.metrics["loss"][1])
    auc = h.metrics["val_direction_auc"]
    assert auc[0] == 0.6 and math.isnan(auc[1]) and auc[2] == math.inf


def test_json_wrapped_in_history_key(tmp_path):
    path = tmp_path / "history.json"
    path.write_text(json.dumps({"history": {"loss": [1.0, 0.5]}, "params": {"epochs": 2}}))
    assert read_history(path).metrics["loss"].tolist() == [1.0, 0.5]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.from_regex(r"[a-z][a-z_]{0,12}", fullmatch=True).filter(lambda k: k != "epoch"),
                       st.just(None), min_size=1, max_size=4),
       st.integers(1, 6), st.data())
def test_csv_and_json_agree(tmp_path_factory, names, epochs, data):
    values = {n: data.draw(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32),
                                    min_size=epochs, max_size=epochs)) for n in names}
    folder = tmp_path_factory.mktemp("h")
    (folder / "history.json").write_text(json.dumps(values))
    lines = ["epoch," + ",".join(values)] + [
        f"{e}," + ",".join(repr(values[n][e]) for n in values) for e in range(epochs)]
    (folder / "history.csv").write_text("\n".join(lines) + "\n")
    a, b = read_history(folder / "history.json"), read_history(folder / "history.csv")
    assert a.n_epochs == b.n_epochs == epochs
    for n in names:
        assert a.metrics[n].tolist() == b.metrics[n].tolist() == values[n]


# -- errors -------------------------------------------------------------------------------

def test_lengths_differ_json(tmp_path):
    path = tmp_path / "history.json"
    path.write_text(json.dumps({"loss": [1, 2, 3], "val_loss": [1, 2], "auc": [1, 2, 3]}))
    with pytest.raises(ArtefactError) as info:
        read_history(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ")
    assert "different numbers of epochs: most have 3, but 'val_loss' has 2" in text


def test_bad_cell_names_line_and_column(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("epoch,loss,volatility_loss\n0,0.5,0.01\n1,0.4,oops\n2,0.3,0.008\n")
    with pytest.raises(ArtefactError) as info:
        read_history(path)
    assert (info.value.line, info.value.column) == (3, 3)
    assert str(info.value).startswith(f"{path}:3:3: metric 'volatility_loss': 'oops' is not a number")


def test_short_row_names_its_line(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("epoch,loss,val_loss\n0,0.5,0.6\n1,0.4\n")
    with pytest.raises(ArtefactError, match=r"history.csv:3: row has 2 fields, the header has 3"):
        read_history(path)


def test_blank_lines_keep_line_numbers(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("epoch,loss\n0,0.5\n\n1,x\n")
    with pytest.raises(ArtefactError, match=r"history.csv:4:2: "):
        read_history(path)


@pytest.mark.parametrize("name, content, message", [
    ("history.csv", b"", r"file is empty \(0 bytes\)"),
    ("history.json", b"", r"file is empty \(0 bytes\)"),
    ("history.csv", b"epoch,loss,val_loss\n", r"history.csv:2: has a header but no epochs"),
    ("history.csv", b"epoch,loss,val_loss", r"history.csv:2: has a header but no epochs"),
    ("history.csv", b"\n0,1\n", r"history.csv:1: the first line is empty"),
    ("history.csv", b"epoch,loss,loss\n0,1,2\n", r"'loss' appears more than once"),
    ("history.csv", b"epoch\n0\n1\n", r"epoch column but no metrics"),
    ("history.csv", b"epoch,loss\n0,1\nNA,2\n", r"'epoch' column has missing values"),
    ("history.csv", b"epoch,loss\n0,\xff\n", r"not UTF-8"),
    ("history.json", b"{}", r"expected a JSON object mapping each metric"),
    ("history.json", b"[1, 2]", r"expected a JSON object mapping each metric"),
    ("history.json", b'{"loss": []}', r"no epochs"),
    ("history.json", b'{"loss": 0.5}', r"metric 'loss': expected a list"),
    ("history.json", b'{"loss": [0.5, "0.4"]}', r"metric 'loss', epoch 1: '0.4' is not a number"),
    ("history.json", b'{"loss": [0.5, true]}', r"metric 'loss', epoch 1: 'True' is not a number"),
    ("history.json", b'{"loss": [0.5, [0.4]]}', r"epoch 1: '\[0.4\]' is not a number"),
    ("history.json", b'{"loss": [0.5,\n  0.4,, 0.3]}', r"history.json:2:7: invalid JSON: Expecting value"),
])
def test_unusable_history_is_an_artefact_error(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ArtefactError, match=message):
        read_history(path)


def test_missing_file(tmp_path):
    with pytest.raises(ArtefactError, match="history.csv: file not found"):
        read_history(tmp_path / "history.csv")


def test_nan_literal_in_csv_is_kept_as_nan(tmp_path):
    # A NaN loss is a value problem (the history check fails on it), not a parse error.
    path = tmp_path / "history.csv"
    path.write_text("epoch,loss,volatility_loss\n0,0.5,0.01\n1,nan,inf\n")
    h = read_history(path)
    assert math.isnan(h.metrics["loss"][1]) and h.metrics["volatility_loss"][1] == math.inf


@pytest.mark.parametrize("name, text", [("history.csv", "epoch,loss\n0,0.5\n1,0.4\n"),
                                        ("history.json", '{"loss": [0.5, 0.4]}')])
def test_utf8_bom_is_accepted(tmp_path, name, text):
    path = tmp_path / name
    path.write_bytes("\ufeff".encode() + text.encode())
    h = read_history(path)
    assert h.names() == ["loss"] and h.epochs.tolist() == [0, 1]
