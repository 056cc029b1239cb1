"""validators.artefacts.tables: the vectorised cell parser and the CSV/Parquet readers."""

from __future__ import annotations

import csv
import math
import re
import struct

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from validators.artefacts.tables import (
    MAX_ARRAY_CELL_CHARS,
    MAX_CELL_CHARS,
    MISSING_TOKENS,
    line_of,
    parse_cells,
    read_table,
    sha256_of,
)
from validators.errors import ArtefactError

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def parse(cells, element=None):
    return parse_cells(pa.array(cells, type=pa.string()), path="p.csv", column="c", column_index=3,
                       element=element)


def bits(x: float) -> bytes:
    """Exact identity of a float, -0.0 and every NaN payload aside (NaN compares as one value)."""
    return b"nan" if math.isnan(x) else struct.pack("<d", x)


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


# -- round trip of what pandas writes for model.predict output -------------------------------

floats64 = st.floats(allow_nan=True, allow_infinity=True)
floats32 = st.floats(width=32, allow_nan=True, allow_infinity=True)


def inner_token(cell: str) -> str:
    assert cell.startswith("[") and cell.endswith("]"), cell
    return cell[1:-1].strip()


@FAST
@given(st.lists(st.one_of(floats64.map(lambda v: (v, np.float64)), floats32.map(lambda v: (v, np.float32))),
                min_size=1, max_size=20))
@example([(1.2e-05, np.float64), (-0.0, np.float64), (1e300, np.float64), (5e-324, np.float64),
          (1.4e-45, np.float32), (-3.4028235e38, np.float32), (0.0123, np.float32)])
def test_one_element_arrays_round_trip_exactly(values):
    cells = [str(np.array([v], dtype=dtype)) for v, dtype in values]
    parsed = parse(cells)
    assert parsed.dtype == np.float64
    assert [bits(x) for x in parsed.tolist()] == [bits(float(inner_token(c))) for c in cells]


@FAST
@given(st.lists(floats64, min_size=1, max_size=10))
def test_plain_repr_of_floats_round_trips_exactly(values):
    parsed = parse([repr(v) for v in values])
    assert [bits(x) for x in parsed.tolist()] == [bits(v) for v in values]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(floats64.map(lambda v: (v, np.float64)), floats32.map(lambda v: (v, np.float32))),
                min_size=1, max_size=15))
def test_pandas_written_csv_round_trips(tmp_path_factory, values):
    """What the plan's pipeline writes: a column of one-element arrays, written by DataFrame.to_csv."""
    path = tmp_path_factory.mktemp("rt") / "predictions.csv"
    arrays = [np.array([v], dtype=dtype) for v, dtype in values]
    pd.DataFrame({"volatility": arrays, "y": range(len(values))}).to_csv(path, index=False)
    table = read_table(path, ["volatility"])
    got = table.numeric("volatility").values
    assert [bits(x) for x in got.tolist()] == [bits(float(inner_token(str(a)))) for a in arrays]


def test_plan_format_sample(tmp_path):
    path = tmp_path / "predictions.csv"
    path.write_text("direction,volatility\n[0.0123],[1.2e-05]\n[-0.5],[3.]\n[1.],[nan]\n")
    table = read_table(path)
    assert table.numeric("direction").values.tolist() == [0.0123, -0.5, 1.0]
    vol = table.numeric("volatility").values
    assert vol[:2].tolist() == [1.2e-05, 3.0] and math.isnan(vol[2])


# -- slow reference parser -------------------------------------------------------------------

REF_NUMBER = re.compile(
    r"[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity)", re.IGNORECASE)
REF_SPLIT = re.compile(r"[\t\n\f\r ,]+")
REJECT = "reject"


def slow_parse_cell(cell: str, element=None):
    """One cell, the obvious way: strip, unwrap one pair of brackets, float() a plain token."""
    text = cell.strip()
    if len(text) > (MAX_CELL_CHARS if element is None else MAX_ARRAY_CELL_CHARS):
        return REJECT
    opened, closed = text.startswith("["), text.endswith("]")
    if opened != closed:
        return REJECT
    inner = text[1:-1].strip() if opened else text
    if opened and ("[" in inner or "]" in inner):
        return REJECT
    if opened and inner == "":
        return REJECT  # an empty array holds no value
    if element is None:
        if opened and REF_SPLIT.search(inner):
            return REJECT
        token = inner
    else:
        parts = REF_SPLIT.split(inner)
        if len(parts) <= element or "..." in " ".join(parts):
            return REJECT
        token = parts[element]
    if token.lower() in MISSING_TOKENS:
        return math.nan
    if REF_NUMBER.fullmatch(token):
        return float(token)
    return REJECT


def vectorised_parse_cell(cell: str, element=None):
    try:
        return float(parse([cell], element)[0])
    except ArtefactError:
        return REJECT


ALPHABET = "0123456789" * 3 + ".eE+-[], \t" + "naifNIyt/lu" + "x_\u00a0\v."
cells = st.one_of(
    st.text(alphabet=ALPHABET, max_size=14),
    st.builds(lambda a, b, c: f"{a}[{b}]{c}", st.sampled_from(["", " ", "\t"]),
              st.text(alphabet=ALPHABET, max_size=12), st.sampled_from(["", " "])),
    st.sampled_from(list(MISSING_TOKENS) + ["NA", "N/A", "NULL", "None", "<NA>", "NaT", "inf", "-Infinity",
                                            "[1 ... 9]", "[...]", "[0.1 0.9]", "[0.1,0.9]", "1,234"]),
)


@FAST
@given(cells)
@example("1.")
@example(".5e-3")
@example("[]")
@example("[ 0.5 ]")
@example("+inf")
@example("1e400")
def test_vectorised_parser_agrees_with_slow_reference(cell):
    expected = slow_parse_cell(cell)
    got = vectorised_parse_cell(cell)
    if expected is REJECT or got is REJECT:
        assert got == expected, (cell, got, expected)
    else:
        assert bits(got) == bits(expected), (cell, got, expected)


@FAST
@given(cells, st.integers(0, 2))
@example("[0.1 0.9]", 1)
@example("[0.1, 0.9]", 0)
@example("[1 ... 9]", 0)
def test_vectorised_parser_agrees_with_reference_when_picking_an_element(cell, element):
    expected = slow_parse_cell(cell, element)
    got = vectorised_parse_cell(cell, element)
    if expected is REJECT or got is REJECT:
        assert got == expected, (cell, element, got, expected)
    else:
        assert bits(got) == bits(expected), (cell, element, got, expected)


@FAST
@given(st.lists(st.text(max_size=40), min_size=1, max_size=8), st.one_of(st.none(), st.integers(0, 3)))
def test_arbitrary_text_raises_only_artefact_error(texts, element):
    try:
        out = parse(texts, element)
    except ArtefactError as exc:
        assert str(exc).startswith("p.csv:")
    else:
        assert out.shape == (len(texts),) and out.dtype == np.float64


@FAST
@given(st.text(max_size=200))
def test_arbitrary_file_content_raises_only_artefact_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("fuzz") / "predictions.csv"
    path.write_text(text, encoding="utf-8")
    try:
        table = read_table(path)
        for name in table.columns:
            table.numeric(name)
    except ArtefactError as exc:
        assert "predictions.csv" in str(exc)


@FAST
@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_artefact_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "predictions.csv"
    path.write_bytes(data)
    try:
        table = read_table(path)
        for name in table.columns:
            table.numeric(name)
    except ArtefactError as exc:
        assert "predictions.csv" in str(exc)


# -- cells: errors name file, line and column ------------------------------------------------

@pytest.mark.parametrize("token", ["", "NA", "N/A", "null", "None", "nan", "NaN", "<NA>", "#N/A", "NaT", "-nan",
                                   "[nan]", "  "])
def test_missing_tokens_are_nan(token):
    assert math.isnan(parse([token])[0])


@pytest.mark.parametrize("cell, why", [
    ("1,234", "not a number"),
    ("[]", "empty array"),
    ("[ ]", "empty array"),
    ("x", "not a number"),
    ("True", "not a number"),
    ("0x10", "not a number"),
    ("1_000", "not a number"),
    ("[0.1 0.9]", "several values"),
    ("[0.1, 0.9]", "several values"),
    ("[[0.1]]", "nested"),
    ("[0.1", "unbalanced"),
    ("0.1]", "unbalanced"),
    ("[1 ... 9]", "several values"),
    ("1" * (MAX_CELL_CHARS + 1), f"longer than {MAX_CELL_CHARS}"),
])
def test_bad_cell_names_file_line_and_column(tmp_path, cell, why):
    path = write_csv(tmp_path / "predictions.csv", ["direction", "volatility"],
                     [["[0.5]", "[0.01]"], ["[0.6]", "[0.02]"], ["[0.7]", cell], ["[0.8]", "[0.03]"]])
    with pytest.raises(ArtefactError) as info:
        read_table(path).numeric("volatility")
    exc = info.value
    assert (exc.line, exc.column) == (4, 2)
    text = str(exc)
    assert text.startswith(f"{path}:4:2: column 'volatility', row 2: ")
    assert why in text
    assert repr(cell[:80]) in text  # the first 80 characters of the cell, no more


def test_multi_element_cell_with_element_picks_it(tmp_path):
    path = write_csv(tmp_path / "p.csv", ["probs"], [["[0.1 0.9]"], ["[0.3 0.7]"], ["[0.25,0.75]"]])
    table = read_table(path)
    assert table.numeric("probs", element=1).values.tolist() == [0.9, 0.7, 0.75]
    assert table.numeric("probs", element=0).values.tolist() == [0.1, 0.3, 0.25]
    with pytest.raises(ArtefactError, match=r"p.csv:2:1: .*has no element 2"):
        table.numeric("probs", element=2)
    with pytest.raises(ArtefactError, match=r"p.csv:2:1: .*several values where one is expected"):
        table.numeric("probs")


def test_abbreviated_array_is_an_error(tmp_path):
    long_cell = str(np.linspace(0, 1, 2000))  # numpy abbreviates past 1000 elements
    assert "..." in long_cell
    path = write_csv(tmp_path / "p.csv", ["probs"], [["[0.1 0.9]"], [long_cell]])
    with pytest.raises(ArtefactError, match=r"p.csv:3:1: .*abbreviated with '...'"):
        read_table(path).numeric("probs", element=0)


def test_too_long_cell_is_refused_before_parsing_even_with_element(tmp_path):
    cell = "[" + " ".join(["0.5"] * 20000) + "]"
    assert len(cell) > MAX_ARRAY_CELL_CHARS
    path = write_csv(tmp_path / "p.csv", ["probs"], [["[0.1 0.9]"], [cell]])
    with pytest.raises(ArtefactError, match=rf"p.csv:3:1: .*longer than {MAX_ARRAY_CELL_CHARS}"):
        read_table(path).numeric("probs", element=0)


def test_plain_numbers_and_whitespace(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("a,b\n 1 , -2.5e-3\n+inf,.5\n")
    table = read_table(path)
    assert table.numeric("a").values.tolist() == [1.0, math.inf]
    assert table.numeric("b").values.tolist() == [-0.0025, 0.5]


# -- files ------------------------------------------------------------------------------------

def test_zero_bytes(tmp_path):
    path = tmp_path / "predictions.csv"
    path.write_bytes(b"")
    with pytest.raises(ArtefactError, match=r"predictions.csv: file is empty \(0 bytes\)"):
        read_table(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ArtefactError, match="predictions.csv: file not found"):
        read_table(tmp_path / "predictions.csv")
    with pytest.raises(ArtefactError, match="is a directory"):
        read_table(tmp_path)


@pytest.mark.parametrize("text", ["direction,volatility\n", "direction,volatility", "direction,volatility\r\n"])
def test_header_only(tmp_path, text):
    path = tmp_path / "predictions.csv"
    path.write_text(text)
    with pytest.raises(ArtefactError) as info:
        read_table(path, ["volatility"])
    assert "has a header but no data rows" in str(info.value)
    assert str(info.value).startswith(f"{path}:2: ")


def test_blank_first_line(tmp_path):
    path = tmp_path / "predictions.csv"
    path.write_text("\nvolatility\n0.1\n")
    with pytest.raises(ArtefactError, match=r"predictions.csv:1: the first line is empty"):
        read_table(path)


def test_missing_column_lists_expected_and_found(tmp_path):
    path = write_csv(tmp_path / "predictions.csv", ["direction", "volatilty", "magnitude"], [["1", "2", "3"]])
    with pytest.raises(ArtefactError) as info:
        read_table(path, ["direction", "volatility"])
    text = str(info.value)
    assert text.startswith(f"{path}:1: ")
    assert "missing column 'volatility'" in text
    assert "found 'direction', 'volatilty', 'magnitude'" in text
    assert "did you mean" not in text  # no fuzzy matching: the user sees both lists


def test_duplicate_column(tmp_path):
    path = write_csv(tmp_path / "p.csv", ["a", "a"], [["1", "2"]])
    with pytest.raises(ArtefactError, match="'a' appears more than once"):
        read_table(path, ["a"])
    with pytest.raises(ArtefactError, match="'a' appears more than once"):
        read_table(path)


@pytest.mark.parametrize("bad_line", [2, 5, 9])
def test_short_row_gives_its_line(tmp_path, bad_line):
    rows = [["[0.5]", "[0.01]", "1"] for _ in range(8)]
    rows[bad_line - 2] = ["[0.5]", "[0.01]"]
    path = write_csv(tmp_path / "predictions.csv", ["direction", "volatility", "y"], rows)
    with pytest.raises(ArtefactError) as info:
        read_table(path, ["direction"])
    assert info.value.line == bad_line
    assert str(info.value).startswith(f"{path}:{bad_line}: row has 2 fields, the header has 3")


def test_long_row_gives_its_line(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(ArtefactError, match=r"p.csv:3: row has 3 fields, the header has 2"):
        read_table(path)


def test_line_numbers_stay_exact_after_a_blank_line(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("a,b\n1,2\n\n3,4\nx,5\n")  # 'x' is on line 5
    with pytest.raises(ArtefactError) as info:
        read_table(path).numeric("a")
    assert (info.value.line, info.value.column) == (5, 1), str(info.value)


def test_a_blank_line_is_a_row_of_missing_values(tmp_path):
    # Never silently dropped: it is counted as NaN (and fails the checks) at its own line.
    path = tmp_path / "p.csv"
    path.write_text("a,b\n1,2\n\n3,4\n")
    a = read_table(path).numeric("a").values
    assert a[0] == 1.0 and math.isnan(a[1]) and a[2] == 3.0 and line_of(1) == 3


def test_utf8_bom_before_the_header(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes("\ufeffvolatility,magnitude\n0.1,0.2\n".encode("utf-8"))  # as Excel saves it
    assert read_table(path, ["volatility"]).numeric("volatility").values.tolist() == [0.1]


def test_not_utf8(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(b"a\xff,b\n1,2\n")
    with pytest.raises(ArtefactError, match="not UTF-8"):
        read_table(path)


def test_only_requested_columns_are_parsed(tmp_path):
    path = write_csv(tmp_path / "p.csv", ["a", "junk"], [["1", "x"], ["2", "[[y"]])
    table = read_table(path, ["a"])
    assert list(table.columns) == ["a"]
    assert table.numeric("a").values.tolist() == [1.0, 2.0]


def test_pandas_index_column_is_skipped(tmp_path):
    path = tmp_path / "p.csv"
    pd.DataFrame({"a": [0.5, 0.25]}).to_csv(path)  # header ",a"
    table = read_table(path)
    assert list(table.columns) == ["a"] and table.index_of("a") == 2


def test_line_of_and_sha256(tmp_path):
    assert line_of(0) == 2 and line_of(9) == 11
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert sha256_of(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


# -- parquet ----------------------------------------------------------------------------------

def write_parquet(path, columns):
    import pyarrow.parquet as pq

    pq.write_table(pa.table(columns), path)
    return path


def test_parquet_float_string_and_list_columns(tmp_path):
    path = write_parquet(tmp_path / "predictions.parquet", {
        "direction": pa.array([0.25, None, 0.75], pa.float32()),
        "volatility": pa.array(["[0.01]", "[1.2e-05]", "NA"]),
        "magnitude": pa.array([[0.05], [0.06], [None]], pa.list_(pa.float64())),
        "probs": pa.array([[0.1, 0.9], [0.3, 0.7], [0.5, 0.5]], pa.list_(pa.float64())),
        "y": pa.array([0, 1, 1], pa.int64()),
    })
    table = read_table(path)
    assert table.kind == "parquet" and table.n_rows == 3
    d = table.numeric("direction").values
    assert d[0] == 0.25 and math.isnan(d[1]) and d[2] == 0.75
    v = table.numeric("volatility").values
    assert v[:2].tolist() == [0.01, 1.2e-05] and math.isnan(v[2])
    m = table.numeric("magnitude").values
    assert m[:2].tolist() == [0.05, 0.06] and math.isnan(m[2])
    assert table.numeric("probs", element=1).values.tolist() == [0.9, 0.7, 0.5]
    assert table.numeric("y").values.tolist() == [0.0, 1.0, 1.0]


def test_parquet_errors(tmp_path):
    path = write_parquet(tmp_path / "predictions.parquet", {
        "probs": pa.array([[0.1], [0.3, 0.7]], pa.list_(pa.float64())),
        "text": pa.array(["0.5", "x"]),
        "flag": pa.array([True, False]),
        "words": pa.array([["a"], ["b"]], pa.list_(pa.string())),
        "num": pa.array([1.0, 2.0]),
    })
    table = read_table(path)
    with pytest.raises(ArtefactError, match=r"row 1: several values"):
        table.numeric("probs")
    with pytest.raises(ArtefactError, match=r"row 1: not a number.*'x'"):
        table.numeric("text")
    with pytest.raises(ArtefactError, match="booleans"):
        table.numeric("flag")
    with pytest.raises(ArtefactError, match="lists of string"):
        table.numeric("words")
    with pytest.raises(ArtefactError, match="remove 'element'"):
        table.numeric("num", element=0)
    with pytest.raises(ArtefactError, match="missing column 'nope'; found 'probs'"):
        read_table(path, ["nope"])


def test_parquet_empty_and_corrupt(tmp_path):
    empty = write_parquet(tmp_path / "empty.parquet", {"a": pa.array([], pa.float64())})
    with pytest.raises(ArtefactError, match="has no rows"):
        read_table(empty)
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 not really")
    with pytest.raises(ArtefactError, match="not a readable Parquet file"):
        read_table(corrupt)
