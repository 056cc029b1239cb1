"""validators.artefacts.returns: returns files as another team writes them, with pandas itself.

Each layout pandas produces (``df.to_csv()``, ``df.reset_index().to_csv(index=False)``,
``df.to_parquet()``, with a DatetimeIndex, a RangeIndex, an integer yyyymmdd column) is read
back: the index column is found, never taken as a trial, and PBO of what is read equals PBO of
the trial matrix alone, by ``pbo`` and by the slow reference of ``tests/stats/test_cscv.py``.
The vectorised date and index detection is checked against a slow reference: a plain loop over
the cells with ``datetime.strptime``.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import tempfile
from dataclasses import fields
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from validators.artefacts.returns import (
    DECLARE,
    TrialReturns,
    detect_kind,
    numbers_kind,
    parse_dates,
    read_returns,
)
from validators.errors import ArtefactError
from validators.stats.cscv import METRICS, pbo


def _load_reference_pbo():
    """``reference_pbo`` of tests/stats/test_cscv.py: CSCV straight from the paper, a loop per split."""
    path = Path(__file__).resolve().parents[1] / "stats" / "test_cscv.py"
    spec = importlib.util.spec_from_file_location("_cscv_reference_for_returns", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reference_pbo


reference_pbo = _load_reference_pbo()
FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
TRIALS = ["c=0.5", "c=0.55", "c=0.6", "c=0.65"]


def trials(rows=40, names=TRIALS, seed=0, index=None) -> pd.DataFrame:
    """Trial returns as a strategy team holds them: a DataFrame, by default with a DatetimeIndex 'date'."""
    rng = np.random.default_rng(seed)
    values = rng.normal(0.0, 0.01, (rows, len(names))) + rng.normal(0.0, 0.002, len(names))
    if index is None:
        index = pd.date_range("2021-01-04", periods=rows, freq="B", name="date")
    return pd.DataFrame(values, columns=list(names), index=index)


def read(path, **kw) -> TrialReturns:
    got = read_returns(path, **kw)
    assert got.index_column not in got.names
    return got


def assert_trials(got: TrialReturns, frame: pd.DataFrame):
    assert list(got.names) == list(frame.columns)
    np.testing.assert_array_equal(got.values, frame.to_numpy(dtype=np.float64))


def error_of(path, **kw) -> ArtefactError:
    with pytest.raises(ArtefactError) as excinfo:
        read_returns(path, **kw)
    return excinfo.value


# --- what pandas writes ---------------------------------------------------------------------


def test_to_csv_with_a_named_datetimeindex(tmp_path):
    frame = trials()
    frame.to_csv(path := tmp_path / "returns.csv")
    assert path.read_text().startswith("date,c=0.5,")
    got = read(path)
    assert_trials(got, frame)
    assert (got.index_column, got.index_kind, got.period) == ("date", "dates", ("2021-01-04", "2021-02-26"))
    assert got.index_note == "column 'date' is named like an index and holds dates: the index, not a trial"
    assert got.trial_columns == (2, 3, 4, 5)
    assert got.path == str(path) and len(got.sha256) == 64


def test_to_csv_with_an_unnamed_datetimeindex_has_a_blank_header_cell(tmp_path):
    frame = trials().rename_axis(None)
    frame.to_csv(path := tmp_path / "returns.csv")
    assert path.read_text().startswith(",c=0.5,")
    got = read(path)
    assert_trials(got, frame)
    assert (got.index_column, got.index_kind, got.period) == ("", "dates", ("2021-01-04", "2021-02-26"))
    assert got.index_note.startswith("the blank-named column is pandas' unnamed index")


@pytest.mark.parametrize("name, column", [("date", "date"), (None, "index")])
def test_reset_index_to_csv_without_index(tmp_path, name, column):
    frame = trials().rename_axis(name)
    frame.reset_index().to_csv(path := tmp_path / "returns.csv", index=False)
    assert path.read_text().startswith(f"{column},c=0.5,")
    got = read(path)
    assert_trials(got, frame)
    assert (got.index_column, got.index_kind) == (column, "dates")


def test_reset_index_of_a_rangeindex_is_a_counter_never_a_trial(tmp_path):
    """The false PASS this module exists for: the counter 0..T-1 as a trial is the best trial of every
    split, and PBO is 0.0 whatever the real trials do."""
    frame = trials(rows=96, names=[f"t{j}" for j in range(8)], seed=3).reset_index(drop=True)
    frame.reset_index().to_csv(path := tmp_path / "returns.csv", index=False)
    assert path.read_text().startswith("index,t0,")
    got = read(path)
    assert_trials(got, frame)
    assert (got.index_column, got.index_kind, got.period) == ("index", "counter", ("0", "95"))
    with_counter = np.column_stack([np.arange(96.0), frame.to_numpy()])
    assert pbo(with_counter, n_splits=8).pbo == 0.0  # what taking every column as a trial gave
    expected = reference_pbo(frame.to_numpy(), 8, METRICS["sharpe"])["pbo"]
    assert pbo(got.values, n_splits=8).pbo == expected > 0.0


def test_to_csv_with_a_rangeindex_gives_a_blank_header_cell_that_is_never_a_trial(tmp_path):
    frame = trials().reset_index(drop=True)
    frame.to_csv(path := tmp_path / "returns.csv", index=True)
    assert path.read_text().startswith(",c=0.5,")
    got = read(path)
    assert_trials(got, frame)
    assert (got.index_column, got.index_kind, got.period) == ("", "counter", ("0", "39"))
    assert got.trial_columns == (2, 3, 4, 5)


def test_a_csv_read_and_written_again_by_pandas_has_unnamed_0(tmp_path):
    trials().reset_index(drop=True).to_csv(first := tmp_path / "first.csv")
    pd.read_csv(first).to_csv(path := tmp_path / "returns.csv", index=False)
    assert path.read_text().startswith("Unnamed: 0,c=0.5,")
    got = read(path)
    assert (got.index_column, got.index_kind, got.names) == ("Unnamed: 0", "counter", tuple(TRIALS))


def test_an_integer_yyyymmdd_column(tmp_path):
    frame = trials()
    frame.index = frame.index.strftime("%Y%m%d").astype(int).rename("yyyymmdd")
    frame.to_csv(path := tmp_path / "returns.csv")
    assert path.read_text().splitlines()[1].startswith("20210104,")
    got = read(path)
    assert_trials(got, frame)
    assert (got.index_column, got.index_kind, got.period) == ("yyyymmdd", "yyyymmdd", ("2021-01-04", "2021-02-26"))
    assert got.index_note == "column 'yyyymmdd' holds yyyymmdd dates: the index, not a trial"


def test_increasing_integers_under_any_name_are_an_index(tmp_path):
    """Epoch seconds, step numbers: strictly increasing integers are never a trial's returns."""
    frame = trials(index=pd.Index(1_609_459_200 + 86_400 * np.arange(40), name="epoch"))
    frame.to_csv(path := tmp_path / "returns.csv")
    got = read(path)
    assert_trials(got, frame)
    assert (got.index_column, got.index_kind) == ("epoch", "integers")


@pytest.mark.parametrize("name, column", [("date", "date"), (None, "__index_level_0__")])
def test_to_parquet_with_a_datetimeindex(tmp_path, name, column):
    frame = trials().rename_axis(name)
    frame.to_parquet(path := tmp_path / "returns.parquet")
    assert pq.read_schema(path).names == [*TRIALS, column]  # pandas puts the index last
    got = read(path)
    assert_trials(got, frame)
    assert (got.index_column, got.index_kind, got.period) == (column, "dates", ("2021-01-04", "2021-02-26"))
    assert "pandas metadata" in got.index_note
    assert got.trial_columns == (1, 2, 3, 4)


def test_to_parquet_with_a_rangeindex_stores_no_index(tmp_path):
    frame = trials().reset_index(drop=True)
    frame.to_parquet(path := tmp_path / "returns.parquet")
    assert pq.read_schema(path).names == TRIALS
    got = read(path)
    assert_trials(got, frame)
    assert (got.index_column, got.index_kind, got.period) == (None, None, None)
    assert got.index_note.startswith("no index column")


def test_parquet_index_named_by_the_pandas_metadata_only(tmp_path):
    """An integer index called 'step' (no index name, not a counter): the file's metadata says it."""
    frame = trials(index=pd.Index(np.arange(40) * 10 + 5, name="step"))
    frame.to_parquet(path := tmp_path / "returns.parquet")
    got = read(path)
    assert (got.index_column, got.index_kind, got.period) == ("step", "integers", ("5", "395"))
    assert got.index_note.startswith("column 'step' is the DataFrame's index by the Parquet file's pandas metadata")


def test_parquet_timestamp_column_without_pandas_metadata(tmp_path):
    stamps = pa.array(np.datetime64("2021-01-04T09:30:00") + np.arange(40) * np.timedelta64(1, "h"))
    values = trials().to_numpy()
    table = pa.table({"asof": stamps, **{n: values[:, j] for j, n in enumerate(TRIALS)}})
    pq.write_table(table, path := tmp_path / "returns.parquet")
    got = read(path)
    assert (got.index_column, got.index_kind) == ("asof", "timestamps")
    assert got.period == ("2021-01-04 09:30:00", "2021-01-06 00:30:00")
    np.testing.assert_array_equal(got.values, values)


@pytest.mark.parametrize("index, period", [
    (pd.date_range("2021-01-04 09:30", periods=40, freq="15min", name="date"),
     ("2021-01-04 09:30:00", "2021-01-04 19:15:00")),
    (pd.date_range("2021-03-12 19:30", periods=40, freq="h", tz="America/New_York", name="time"),
     ("2021-03-12 19:30:00-05:00", "2021-03-14 11:30:00-04:00")),  # across the DST change
    (pd.date_range("2021-01-04 09:30", periods=40, freq="1ns", name="timestamp"),
     ("2021-01-04 09:30:00.000000000", "2021-01-04 09:30:00.000000039")),
])
def test_string_dates_with_times(tmp_path, index, period):
    frame = trials(index=index)
    frame.to_csv(path := tmp_path / "returns.csv")
    got = read(path)
    assert_trials(got, frame)
    assert (got.index_column, got.index_kind, got.period) == (index.name, "timestamps", period)
    frame.to_parquet(path := tmp_path / "returns.parquet")
    got = read(path)
    assert_trials(got, frame)
    assert (got.index_column, got.index_kind) == (index.name, "timestamps")


def test_dates_across_a_daylight_saving_change_are_compared_as_instants(tmp_path):
    """01:30-04:00 then 01:30-05:00 (US fall back): later although its wall time is the same."""
    index = pd.date_range("2021-11-07 00:30", periods=6, freq="30min", tz="America/New_York", name="time")
    frame = trials(rows=6, index=index)
    frame.to_csv(path := tmp_path / "returns.csv")
    assert "01:30:00-04:00" in path.read_text() and "01:30:00-05:00" in path.read_text()
    assert read(path).index_kind == "timestamps"


# --- time order and uniqueness ------------------------------------------------------------


def test_unsorted_dates_name_the_line(tmp_path):
    frame = trials()
    order = list(range(40))
    order[5], order[6] = 6, 5  # data rows 5 and 6: lines 7 and 8
    frame.iloc[order].to_csv(path := tmp_path / "returns.csv")
    exc = error_of(path)
    assert (exc.line, exc.column) == (8, 1)
    assert exc.message == ("index column 'date': rows are not in time order: line 8 (2021-01-11) comes after "
                           "line 7 (2021-01-12); CSCV's blocks must be contiguous in time: sort the file by its index")
    assert str(exc).startswith(f"{path}:8:1: ")


def test_duplicate_dates_name_the_line(tmp_path):
    frame = trials()
    frame.iloc[[*range(8), 7, *range(9, 40)]].to_csv(path := tmp_path / "returns.csv")
    exc = error_of(path)
    assert (exc.line, exc.column) == (10, 1)
    assert exc.message == ("index column 'date': rows are not unique in time: line 10 repeats 2021-01-13 of "
                           "line 9; each row must be one period: drop or merge the repeated rows")


def test_unsorted_parquet_names_the_row(tmp_path):
    frame = trials()
    frame.iloc[[0, 2, 1, *range(3, 40)]].to_parquet(path := tmp_path / "returns.parquet")
    exc = error_of(path)
    assert exc.line is None
    assert "rows are not in time order: row 2 (2021-01-05) comes after row 1 (2021-01-06)" in exc.message


def test_unsorted_yyyymmdd_and_counter(tmp_path):
    frame = trials()
    frame.index = frame.index.strftime("%Y%m%d").astype(int).rename("yyyymmdd")
    frame.iloc[[1, 0, *range(2, 40)]].to_csv(path := tmp_path / "returns.csv")
    assert "line 3 (20210104) comes after line 2 (20210105)" in error_of(path).message
    trials().reset_index(drop=True).sample(frac=1.0, random_state=1).to_csv(path)  # a shuffled RangeIndex
    exc = error_of(path)
    assert "the index (the blank-named column): rows are not in time order" in exc.message
    assert exc.column == 1


def test_line_numbers_count_a_quoted_cell_spanning_lines(tmp_path):
    """pandas wraps a long numpy array cell over lines; the error names the line the row starts on."""
    path = tmp_path / "returns.csv"
    path.write_text('date,a,b\n2021-01-04,"[0.01\n]",0.02\n2021-01-06,0.03,0.04\n2021-01-05,0.05,0.06\n')
    exc = error_of(path)
    assert (exc.line, exc.column) == (5, 1)
    assert "line 5 (2021-01-05) comes after line 4 (2021-01-06)" in exc.message


# --- ambiguity, declarations ---------------------------------------------------------------


def two_index_columns(tmp_path) -> Path:
    trials().reset_index().to_csv(path := tmp_path / "returns.csv")  # a blank counter, then 'date'
    assert path.read_text().startswith(",date,c=0.5")
    return path


def test_two_index_like_columns_name_both(tmp_path):
    exc = error_of(two_index_columns(tmp_path))
    assert exc.line == 1
    assert exc.message == (
        "2 columns look like the index: the blank-named column (pandas' unnamed index: a counter 0 to 39); column 'date' (named like an index: dates 2021-01-04 to 2021-02-26); a returns file "
        "has one index column and a guess is a silent bug")
    assert exc.hint == DECLARE
    assert 'declare it: [layout] returns_index = "..." in the spec, or --layout returns_index=...' in str(exc)


def test_a_declared_index_settles_it(tmp_path):
    got = read(two_index_columns(tmp_path), index="date")
    assert_trials(got, trials())
    assert (got.index_column, got.index_kind) == ("date", "dates")
    assert got.index_note == "column 'date' holds dates: declared by [layout] returns_index"


def test_a_declared_index_leaves_no_counter_as_a_trial(tmp_path):
    frame = trials()
    frame.reset_index().reset_index().to_csv(path := tmp_path / "returns.csv", index=False)
    assert path.read_text().startswith("index,date,")
    got = read(path, index="date")
    assert_trials(got, frame)
    assert got.index_note == ("column 'date' holds dates: declared by [layout] returns_index; 'index' holds an "
                              "index too, not a trial")


def test_a_declared_index_must_exist(tmp_path):
    trials().to_csv(path := tmp_path / "returns.csv")
    exc = error_of(path, index="Date")
    assert exc.line == 1
    assert exc.message == ("declared index column 'Date' ([layout] returns_index) is not in the file; found "
                           "'date', 'c=0.5', 'c=0.55', 'c=0.6', 'c=0.65'")


def test_a_declared_index_is_validated(tmp_path):
    frame = trials().rename_axis("asof")
    frame.iloc[[0, 1, 3, 2, *range(4, 40)]].to_csv(path := tmp_path / "returns.csv")
    exc = error_of(path, index="asof")
    assert "index column 'asof': rows are not in time order: line 5 (2021-01-06) comes after line 4" in exc.message
    path.write_text("asof,a,b\n1,0.1,0.2\nx,0.3,0.4\n")
    exc = error_of(path, index="asof")
    assert (exc.line, exc.column) == (3, 1) and "declared the index" in exc.message


def test_a_declared_index_under_a_name_nobody_guesses(tmp_path):
    frame = trials(index=pd.Index([0.5, 1.5, 2.0, *np.arange(3.0, 40.0)], name="t"))
    frame.to_csv(path := tmp_path / "returns.csv")
    got = read(path, index="t")
    assert_trials(got, frame)
    assert (got.index_column, got.index_kind, got.period) == ("t", "numbers", ("0.5", "39.0"))


def test_declared_none_takes_every_column_as_a_trial(tmp_path):
    frame = trials().reset_index(drop=True)
    frame.reset_index().to_csv(path := tmp_path / "returns.csv", index=False)
    got = read(path, index="none")
    assert got.names == ("index", *TRIALS)  # the counter is a trial because the user said so
    np.testing.assert_array_equal(got.values[:, 0], np.arange(40.0))
    assert (got.index_column, got.index_kind, got.period) == (None, None, None)
    assert got.index_note.startswith("no index column: declared by [layout] returns_index")


def test_declared_none_still_skips_a_blank_first_header_cell(tmp_path):
    frame = trials().reset_index(drop=True)
    frame.to_csv(path := tmp_path / "returns.csv")
    assert_trials(read(path, index="none"), frame)


def test_a_trial_called_day_needs_a_declaration(tmp_path):
    frame = trials().reset_index(drop=True).rename(columns={"c=0.5": "day"})
    frame.to_csv(path := tmp_path / "returns.csv", index=False)
    exc = error_of(path)
    assert "index column 'day': rows are not in time order" in exc.message
    assert "if 'day' is a trial, declare the index" in exc.message
    assert_trials(read(path, index="none"), frame)


# --- bad index cells, bad trial cells ------------------------------------------------------


def test_a_date_column_with_junk_names_the_first_bad_cell(tmp_path):
    frame = trials().reset_index()
    frame["date"] = frame["date"].dt.strftime("%Y-%m-%d").astype(object)
    frame.loc[6, "date"] = "2021-01-1x"
    frame.loc[9, "date"] = "junk"
    frame.to_csv(path := tmp_path / "returns.csv", index=False)
    exc = error_of(path)
    assert (exc.line, exc.column) == (8, 1)
    assert exc.message.startswith("column 'date' is named like an index, and line 2 holds a date ('2021-01-04'), "
                                  "but line 8 holds '2021-01-1x', which is not a date like it")
    frame["date"] = "soon"
    frame.to_csv(path, index=False)
    exc = error_of(path)
    assert (exc.line, exc.column) == (2, 1)
    assert "'soon'" in exc.message and "column 'date' is named like an index, so it must hold dates" in exc.message


def test_an_empty_index_cell(tmp_path):
    frame = trials(index=pd.Index([*range(10), None, *range(11, 40)], name="index", dtype="float64"))
    frame.to_csv(path := tmp_path / "returns.csv")
    exc = error_of(path)
    assert (exc.line, exc.column) == (12, 1) and "not a period" in exc.message


def test_mixed_time_zones_cannot_be_compared(tmp_path):
    path = tmp_path / "returns.csv"
    path.write_text("time,a,b\n2021-01-04 10:00:00+00:00,0.1,0.2\n2021-01-04 11:00:00,0.3,0.4\n")
    exc = error_of(path)
    assert (exc.line, exc.column) == (3, 1) and "not a date like it" in exc.message


def test_a_trial_that_is_not_a_number_still_raises_as_always(tmp_path):
    frame = trials().astype(object)
    frame.iloc[4, 2] = "1,234"
    frame.to_csv(path := tmp_path / "returns.csv")
    exc = error_of(path)
    assert (exc.line, exc.column) == (6, 4)
    assert exc.message == "column 'c=0.6', row 4: not a number or a one-element array: '1,234'"


def test_a_date_column_not_named_like_an_index_with_junk_is_a_trial_that_is_not_a_number(tmp_path):
    frame = trials().rename_axis("asof").reset_index()
    frame["asof"] = frame["asof"].astype(str)
    frame.loc[3, "asof"] = "n/a"
    frame.to_csv(path := tmp_path / "returns.csv", index=False)
    exc = error_of(path)
    assert (exc.line, exc.column) == (2, 1) and "not a number" in exc.message


def test_fewer_than_two_trials_are_left_to_the_pbo_check(tmp_path):
    trials(names=["only"]).to_csv(path := tmp_path / "returns.csv")
    got = read(path)
    assert got.names == ("only",) and got.values.shape == (40, 1)
    trials(names=[]).to_csv(path)
    got = read(path)
    assert got.names == () and got.values.shape == (40, 0)


def test_trial_returns_fields_stay_compatible():
    names = [f.name for f in fields(TrialReturns)]
    assert names[:4] == ["names", "values", "path", "sha256"]
    built = TrialReturns(("a",), np.zeros((3, 1)), "where")  # as run.py builds trials from predictions
    assert (built.sha256, built.index_column, built.index_kind, built.period, built.index_note) == (
        None, None, None, None, "")


def test_index_must_be_a_name():
    with pytest.raises(TypeError):
        read_returns("returns.csv", index=0)


# --- the key property: PBO of what is read is PBO of the trials alone -----------------------


LAYOUTS = {
    # name: (suffix, write(frame with a DatetimeIndex 'date', path), index column, kind)
    "csv dates": (".csv", lambda f, p: f.to_csv(p), "date", "dates"),
    "csv dates unnamed": (".csv", lambda f, p: f.rename_axis(None).to_csv(p), "", "dates"),
    "csv dates reset": (".csv", lambda f, p: f.reset_index().to_csv(p, index=False), "date", "dates"),
    "csv counter blank": (".csv", lambda f, p: f.reset_index(drop=True).to_csv(p), "", "counter"),
    "csv counter index": (".csv", lambda f, p: f.reset_index(drop=True).reset_index().to_csv(p, index=False),
                          "index", "counter"),
    "csv yyyymmdd": (".csv", lambda f, p: _yyyymmdd(f).to_csv(p), "yyyymmdd", "yyyymmdd"),
    "parquet dates": (".parquet", lambda f, p: f.to_parquet(p), "date", "dates"),
    "parquet dates unnamed": (".parquet", lambda f, p: f.rename_axis(None).to_parquet(p), "__index_level_0__",
                              "dates"),
    "parquet counter index": (".parquet", lambda f, p: f.reset_index(drop=True).reset_index().to_parquet(p),
                              "index", "counter"),
    "parquet yyyymmdd": (".parquet", lambda f, p: _yyyymmdd(f).to_parquet(p), "yyyymmdd", "yyyymmdd"),
}


def _yyyymmdd(frame):
    out = frame.copy()
    out.index = frame.index.strftime("%Y%m%d").astype(np.int64).rename("yyyymmdd")
    return out


@st.composite
def dated_matrices(draw):
    T = draw(st.integers(64, 400))
    N = draw(st.integers(2, 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([1e-4, 1e-2, 1.0, 250.0]))
    X = scale * (rng.standard_normal((T, N)) + rng.normal(0.0, 0.3, N))
    gaps = rng.integers(1, 5, T)  # days between periods: weekends, holidays
    days = np.datetime64("1999-12-27") + np.cumsum(gaps).astype("timedelta64[D]")
    names = draw(st.lists(st.sampled_from(["c=0.5", "c=0.55", "t", "lr=3e-4", "seed 7", "Δ", "val"]) |
                          st.from_regex(r"trial_[0-9]{1,3}", fullmatch=True), min_size=N, max_size=N, unique=True))
    frame = pd.DataFrame(X, columns=names, index=pd.DatetimeIndex(days, name="date"))
    return frame, draw(st.sampled_from([4, 6, 8, 10]))


@settings(FAST, max_examples=80)
@given(dated_matrices(), st.sampled_from(sorted(LAYOUTS)))
def test_pbo_of_what_is_read_is_pbo_of_the_trials_alone(case, layout):
    frame, S = case
    suffix, write, column, kind = LAYOUTS[layout]
    X = frame.to_numpy(dtype=np.float64)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"returns{suffix}"
        write(frame, path)
        got = read_returns(path)
    assert (got.index_column, got.index_kind) == (column, kind)
    assert column not in got.names
    assert list(got.names) == list(frame.columns)
    np.testing.assert_array_equal(got.values, X)
    expected = reference_pbo(X, S, METRICS["sharpe"])["pbo"]
    assert pbo(got.values, n_splits=S).pbo == expected == pbo(X, n_splits=S).pbo


@settings(FAST, max_examples=60)
@given(st.integers(3, 60), st.data(), st.sampled_from(["swap", "repeat"]), st.sampled_from([".csv", ".parquet"]))
def test_the_first_row_out_of_time_order_is_named(T, data, defect, suffix):
    frame = trials(rows=T)
    i = data.draw(st.integers(1, T - 1), label="row")
    order = list(range(T))
    if defect == "swap":
        order[i - 1], order[i] = order[i], order[i - 1]
    else:
        order[i] = order[i - 1]
    frame = frame.iloc[order]
    stamps = list(frame.index.to_pydatetime())
    first = next(r for r in range(1, T) if not stamps[r] > stamps[r - 1])  # the slow way
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"returns{suffix}"
        frame.to_csv(path) if suffix == ".csv" else frame.to_parquet(path)
        exc = error_of(path)
    line = first + 2 if suffix == ".csv" else None
    here, before = (f"line {first + 2}", f"line {first + 1}") if line else (f"row {first}", f"row {first - 1}")
    shown = [f"{s:%Y-%m-%d}" for s in stamps]
    if stamps[first] == stamps[first - 1]:
        expected = f"rows are not unique in time: {here} repeats {shown[first]} of {before};"
    else:
        expected = f"rows are not in time order: {here} ({shown[first]}) comes after {before} ({shown[first - 1]});"
    assert exc.line == line
    assert expected in exc.message


# --- the slow, obviously correct detection reference ----------------------------------------

EPOCH = datetime(1970, 1, 1)
SECOND = timedelta(seconds=1)


def reference_date(cell: str):
    """(seconds since 1970 (UTC when zoned), nanoseconds, has a time, has a zone) or None: the date
    format of returns.DATE_FORMAT read piece by piece with ``datetime.strptime``."""
    if not cell.isascii() or len(cell) < 10:
        return None
    day, rest = cell[:10], cell[10:]
    if not (day[4] == day[7] == "-" and (day[:4] + day[5:7] + day[8:]).isdigit()):
        return None
    try:
        whole_day = datetime.strptime(day, "%Y-%m-%d")
    except ValueError:
        return None
    seconds = (whole_day - EPOCH) // SECOND
    if rest == "":
        return seconds, 0, False, False
    sep, clock, rest = rest[0], rest[1:9], rest[9:]
    if sep not in (" ", "T") or len(clock) != 8 or clock[2] != ":" or clock[5] != ":":
        return None
    if not (clock[:2] + clock[3:5] + clock[6:]).isdigit():
        return None
    try:
        t = datetime.strptime(clock, "%H:%M:%S")
    except ValueError:
        return None
    seconds += t.hour * 3600 + t.minute * 60 + t.second
    nanos = 0
    if rest.startswith("."):
        digits = ""
        for ch in rest[1:]:
            if not ch.isdigit():
                break
            digits += ch
        if not 1 <= len(digits) <= 9:
            return None
        nanos = int(digits.ljust(9, "0"))
        rest = rest[1 + len(digits):]
    if rest == "":
        return seconds, nanos, True, False
    if rest == "Z":
        return seconds, nanos, True, True
    hhmm = rest[1:3] + rest[-2:]
    if not (rest[0] in "+-" and hhmm.isdigit() and (len(rest) == 5 or (len(rest) == 6 and rest[3] == ":"))):
        return None
    try:
        offset = datetime.strptime(rest, "%z").utcoffset()
    except ValueError:
        return None
    return seconds - offset // SECOND, nanos, True, True


def reference_numbers_kind(values):
    """returns.numbers_kind, one value at a time."""
    if not values or any(not math.isfinite(v) or v != int(v) for v in values):
        return None

    def calendar(v):
        n = int(v)
        try:
            date(n // 10000, n // 100 % 100, n % 100)
        except ValueError:
            return False
        return True

    if all(18000101 <= v <= 22001231 and calendar(v) for v in values):
        return "yyyymmdd"
    if values[0] in (0, 1) and all(v == values[0] + i for i, v in enumerate(values)):
        return "counter"
    if len(values) >= 2 and all(b > a for a, b in itertools.pairwise(values)):
        return "integers"
    return None


def reference_kind(cells):
    """returns.detect_kind, by a loop: all dates with one zone style, else numbers (float())."""
    if all(isinstance(c, str) for c in cells):
        dates = [reference_date(c) for c in cells]
        if dates and all(d is not None for d in dates) and len({d[3] for d in dates}) == 1:
            return "timestamps" if any(d[2] for d in dates) else "dates"
        values = []
        for c in cells:
            try:
                values.append(float(c))  # the alphabet below keeps float() and the strict parser equal
            except ValueError:
                return None
        return reference_numbers_kind(values)
    if any(c is None for c in cells):
        return None
    return reference_numbers_kind([float(c) for c in cells])


MUTATIONS = "0123456789-:.TZ+ x\u0663\u00e9"  # U+0663 is an Arabic-Indic digit: str.isdigit() but not [0-9]


def formatted(moment: datetime, style: int, fraction: int, zone: tuple[str, int, int] | None) -> str:
    text = moment.strftime("%Y-%m-%d") if moment.year >= 1000 else f"{moment.year:04d}{moment:-%m-%d}"
    if style == 0:
        return text
    text += ("T" if style == 2 else " ") + moment.strftime("%H:%M:%S")
    if fraction:
        text += "." + f"{moment.microsecond:06d}{moment.microsecond % 1000:03d}"[:fraction]
    if zone is not None:
        sign, hh, mm = zone
        text += "Z" if sign == "Z" else f"{sign}{hh:02d}{':' if mm % 2 else ''}{mm:02d}"
    return text


@st.composite
def date_cells(draw):
    moment = draw(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)))
    zone = draw(st.none() | st.tuples(st.sampled_from(["Z", "+", "-"]), st.integers(0, 25), st.integers(0, 61)))
    cell = formatted(moment, draw(st.integers(0, 2)), draw(st.integers(0, 10)), zone)
    for _ in range(draw(st.integers(0, 2))):  # a few typos, or none
        at = draw(st.integers(0, len(cell)))
        what = draw(st.sampled_from(["replace", "insert", "delete"]))
        ch = draw(st.sampled_from(MUTATIONS))
        if what == "replace":
            cell = cell[:at] + ch + cell[at + 1:]
        elif what == "insert":
            cell = cell[:at] + ch + cell[at:]
        else:
            cell = cell[:at] + cell[at + 1:]
    return draw(st.sampled_from([cell, cell[:8] + "31" + cell[10:], cell[:8] + "29" + cell[10:]]))  # 31 April?


@st.composite
def number_columns(draw):
    n = draw(st.integers(1, 30))
    kind = draw(st.sampled_from(["counter", "yyyymmdd", "integers", "floats"]))
    if kind == "counter":
        values = [draw(st.sampled_from([0, 1, 2, -1])) + i for i in range(n)]
    elif kind == "yyyymmdd":
        days = sorted(draw(st.lists(st.dates(date(1795, 1, 1), date(2205, 12, 31)), min_size=n, max_size=n)))
        values = [int(d.strftime("%Y%m%d")) for d in days]
    elif kind == "integers":
        values = sorted(draw(st.lists(st.integers(-10**12, 10**12), min_size=n, max_size=n)))
    else:
        values = draw(st.lists(st.floats(-1e9, 1e9), min_size=n, max_size=n))
    if draw(st.booleans()):  # one value changed: a typo, a gap
        at = draw(st.integers(0, n - 1))
        values[at] = draw(st.sampled_from([values[at] + 1, values[at] * 100, 18000100, 20210230, 0.5]))
    form = draw(st.sampled_from(["text", "int64", "float64"]))
    if form == "text":
        return [str(v) for v in values], pa.string()
    if form == "int64" and all(float(v).is_integer() for v in values):
        return [int(v) for v in values], pa.int64()
    return [float(v) for v in values], pa.float64()


@st.composite
def columns(draw):
    if draw(st.booleans()):
        return draw(number_columns())
    if draw(st.booleans()):  # one format for the column, in time order, as pandas writes it
        moments = sorted(draw(st.lists(st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31)), min_size=1,
                                       max_size=30)))
        style, fraction = draw(st.integers(0, 2)), draw(st.integers(0, 9))
        zone = draw(st.none() | st.just(("+", 5, 30)))
        cells = [formatted(m, style, fraction, zone) for m in moments]
        if draw(st.booleans()):
            at = draw(st.integers(0, len(cells) - 1))
            cells[at] = draw(date_cells())
        return cells, pa.string()
    return draw(st.lists(date_cells(), min_size=1, max_size=30)), pa.string()


@FAST
@given(st.lists(date_cells(), min_size=1, max_size=40))
def test_vectorised_dates_agree_with_strptime(cells):
    got = parse_dates(pa.array(cells, type=pa.string()))
    for i, cell in enumerate(cells):
        expected = reference_date(cell)
        assert bool(got.ok[i]) == (expected is not None), cell
        if expected is not None:
            assert (int(got.seconds[i]), int(got.nanos[i]), bool(got.timed[i]), bool(got.zoned[i])) == expected, cell


@settings(FAST, max_examples=300)
@given(columns())
def test_vectorised_detection_agrees_with_the_slow_reference(column):
    cells, kind = column
    assert detect_kind(pa.array(cells, type=kind)) == reference_kind(cells), cells


@pytest.mark.parametrize("cell", [
    "2021-02-29", "2020-02-30", "2021-13-01", "2021-00-10", "0000-01-01", "2021-01-04 24:00:00",
    "2021-01-04 23:60:00", "2021-01-04 23:59:60", "2021-01-04 10:00:00+24:00", "2021-01-04 10:00:00+01:60",
    "2021-01-04 10:00:00.", "2021-01-04 10:00:00.1234567890", "2021-01-04 ", "2021-01-04\n", " 2021-01-04",
    "2021-1-4", "2021/01/04", "2021-01-04 10:00", "2021-01-04Z", "\u0662021-01-04", "20210104",
])
def test_not_dates(cell):
    assert reference_date(cell) is None
    assert not parse_dates(pa.array([cell])).ok[0]


@pytest.mark.parametrize("cell, seconds, nanos", [
    ("1970-01-01", 0, 0),
    ("2021-01-04", 1609718400, 0),
    ("2020-02-29 23:59:59", 1583020799, 0),
    ("2021-01-04T10:00:00Z", 1609754400, 0),
    ("2021-01-04 10:00:00+01:00", 1609750800, 0),
    ("2021-01-04 10:00:00-0130", 1609759800, 0),
    ("2021-01-04 10:00:00.5", 1609754400, 500_000_000),
    ("2021-01-04 10:00:00.000000001+00:00", 1609754400, 1),
    ("0001-01-01", -62135596800, 0),
    ("9999-12-31 23:59:59.999999999", 253402300799, 999_999_999),
])
def test_dates(cell, seconds, nanos):
    got = parse_dates(pa.array([cell]))
    assert got.ok[0] and (int(got.seconds[0]), int(got.nanos[0])) == (seconds, nanos)
    assert reference_date(cell)[:2] == (seconds, nanos)


@pytest.mark.parametrize("values, kind", [
    ([0, 1, 2, 3], "counter"), ([1, 2, 3], "counter"), ([2, 3, 4], "integers"), ([0, 2, 1], None),
    ([20210104, 20210105], "yyyymmdd"), ([20210105, 20210104], "yyyymmdd"), ([20210230, 20210301], "integers"),
    ([17991231, 18000101], "integers"), ([0.5, 1.5], None), ([0.0, float("nan")], None), ([5.0, 5.0], None),
    ([0.01, -0.02, 0.03], None), ([], None),
])
def test_numbers_kind(values, kind):
    assert numbers_kind(np.array(values, dtype=np.float64)) == kind == reference_numbers_kind(values)


def test_reading_is_not_slower_with_index_detection(tmp_path):
    """A 3000 x 21 returns file: detection costs a pass over the parsed floats per column, no more."""
    import time

    from validators.artefacts.tables import read_table

    frame = trials(rows=3000, names=[f"c={0.5 + 0.01 * j:g}" for j in range(21)]).reset_index(drop=True)
    frame.to_csv(path := tmp_path / "returns.csv", index=False)

    def old():  # what read_returns did: every column a trial
        table = read_table(path)
        return np.column_stack([table.numeric(c).values for c in table.header])

    times = {"old": [], "new": []}
    for _ in range(25):  # interleaved, the best of each: robust to a busy machine
        for label, fn in (("old", old), ("new", lambda: read_returns(path))):
            start = time.perf_counter()
            fn()
            times[label].append(time.perf_counter() - start)
    assert min(times["new"]) < 1.25 * min(times["old"]) + 0.001
