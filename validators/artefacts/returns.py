"""Strategy returns: a T periods x N trials matrix read from a returns file, and its index column.

A returns file holds one column per trial and, as pandas writes it, often one *index* column:
the period of each row. ``df.to_csv()`` writes the index first (its header cell blank when the
index is unnamed), ``df.reset_index().to_csv(index=False)`` a column ``index`` or the index's name,
``df.to_parquet()`` a column ``date`` or ``__index_level_0__`` (nothing for a ``RangeIndex``).
An index taken as a trial is a silent bug: a counter 0, 1, ..., T-1 or a column of yyyymmdd dates
has the highest Sharpe ratio of all, is selected in every split, and PBO is 0.0.

The index column, in this order (the choice is said in ``TrialReturns.index_note``):

1. **declared**: ``read_returns(path, index="date")``, the spec's ``[layout] returns_index``.
   ``index="none"`` declares that the file has no index column: every column is a trial (a
   counter too, since the user said so). With a declared column, any other column that holds an
   index by its content (below) is not a trial either; the note names it. Declared or ``"none"``,
   a blank first CSV header cell (pandas' unnamed index) is skipped, as it always was.
2. **by convention** (``index=None``): a column is *index-like* when

   * its name is one of ``INDEX_NAMES`` (case-insensitive) or pandas' ``Unnamed: N``, or the
     Parquet file's pandas metadata names it as the DataFrame's index;
   * it is a Parquet timestamp or date column;
   * its text cells are all dates (``DATE_FORMAT``, one time zone style for the column);
   * its numbers are all yyyymmdd dates (calendar dates from 18000101 to 22001231);
   * its numbers are a counter ``k, k+1, ..., k+T-1`` with ``k`` 0 or 1, or any strictly
     increasing integers (a step number, epoch seconds).

   One index-like column is the index. None: every column is a trial. More: ``ArtefactError``
   naming each, since a guess is a silent bug. A column named like an index must hold dates or
   numbers; anything else is an error at its first bad cell.

The index is validated: strictly increasing (dates compared as instants, UTC when zoned), so
that rows are in time order and each is one period; otherwise ``ArtefactError`` naming the
first offending line and both values. CSCV cuts the rows into contiguous blocks: rows out of
time order make its in-sample and out-of-sample halves meaningless.

Trial columns are parsed strictly by :mod:`.tables` (a cell that is not a number is an error at
``file:line:column``); fewer than two trials is the PBO check's concern. Everything is vectorised
(Arrow compute and numpy): a trial column costs one extra pass over its parsed floats.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import ArtefactError

NO_INDEX = "none"  # index="none": the file has no index column
INDEX_NAMES = ("", "index", "date", "datetime", "time", "timestamp", "period", "day", "dt", "__index_level_0__")
UNNAMED = re.compile(r"unnamed: [0-9]+", re.IGNORECASE)  # pandas' name for a blank header cell it read
YYYYMMDD_MIN, YYYYMMDD_MAX = 18000101, 22001231
DATE_FORMAT = "YYYY-MM-DD, or YYYY-MM-DD HH:MM:SS[.fffffffff] ('T' or ' ' between) with optional Z, +HH:MM or +HHMM"
DECLARE = 'declare it: [layout] returns_index = "..." in the spec, or --layout returns_index=...'
KIND_WORDS = {"dates": "dates", "timestamps": "timestamps", "yyyymmdd": "yyyymmdd dates", "counter": "a counter",
              "integers": "increasing integers", "numbers": "numbers"}

# The grammar of DATE_FORMAT; RE2's $ is the end of the text (a trailing newline does not match).
_REST_PATTERN = r"^(?:\.(?P<f>[0-9]{1,9}))?(?P<z>Z|(?P<zsign>[+-])(?P<zh>[0-9]{2}):?(?P<zm>[0-9]{2}))?$"
_DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?$"


@dataclass(frozen=True)
class TrialReturns:
    """Strategy returns: ``values`` is T periods x N trials (float64), one name per trial.

    ``index_column`` is the file's index column (never a trial), ``index_kind`` what it holds
    (``KIND_WORDS``), ``period`` its first and last value as text (ISO dates for dates and
    yyyymmdd), ``index_note`` one sentence saying how the index was chosen (empty when the
    returns were not read from a file), ``trial_columns`` the 1-based file column of each trial.
    """

    names: tuple
    values: object  # numpy array
    path: str
    sha256: str | None = None  # of returns.csv as read; None when built from predictions
    index_column: str | None = None
    index_kind: str | None = None
    period: tuple[str, str] | None = None
    index_note: str = ""
    trial_columns: tuple = ()

    def frame(self):
        """The same as a ``pandas.DataFrame``, one column per trial."""
        import pandas as pd

        return pd.DataFrame({n: self.values[:, j] for j, n in enumerate(self.names)}, columns=list(self.names))


# --- dates in text, vectorised ------------------------------------------------------------


@dataclass(frozen=True)
class DateCells:
    """Text cells read as ``DATE_FORMAT`` dates: one entry per cell."""

    ok: np.ndarray  # bool: the cell is a date or a date and time
    timed: np.ndarray  # bool: it has a time of day
    zoned: np.ndarray  # bool: it has a time zone
    seconds: np.ndarray  # int64 seconds since 1970-01-01 (UTC when zoned); 0 where not ok
    nanos: np.ndarray  # int64 nanoseconds within the second; 0 where not ok

    def first_bad(self) -> int | None:
        """The first cell that is not a date, or has a time zone where the first cell has none
        (or none where it has one): such instants cannot be compared. None when all are dates."""
        bad = ~self.ok | (self.zoned != self.zoned[0])
        return int(np.argmax(bad)) if bad.any() else None

    def kind(self) -> str | None:
        """``"dates"``, ``"timestamps"`` (some cell has a time), or None unless every cell is a date."""
        if not self.ok.size or self.first_bad() is not None:
            return None
        return "timestamps" if self.timed.any() else "dates"


def parse_dates(array) -> DateCells:
    """Read an Arrow string array as dates (``DATE_FORMAT``), with Arrow compute and numpy.

    A date is a real calendar date, years 0001 to 9999; hours 00-23, minutes and seconds 00-59;
    a zone offset under 24 hours. No whitespace is trimmed. One regular expression decides the
    shape; the fields sit at fixed positions, except a fraction of a second and a zone after them.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if array.null_count:
        array = pc.fill_null(array, "")
    matched = pc.match_substring_regex(array, _DATE_PATTERN)
    cells = pc.if_else(matched, array, "1970-01-01")  # the fields of a cell that is no date are not read

    def number(text):
        return _int64s(pc.cast(pc.if_else(pc.equal(text, ""), "0", text), pa.int64()))

    def at(start, stop):  # digits of every cell's field, "00" for a time of day that a date lacks
        text = pc.utf8_slice_codeunits(cells, start, stop)
        return _int64s(pc.cast(text if stop <= 10 else pc.utf8_rpad(text, width=2, padding="0"), pa.int64()))

    y, mo, d, h, mi, s = at(0, 4), at(5, 7), at(8, 10), at(11, 13), at(14, 16), at(17, 19)
    timed = _int64s(pc.utf8_length(cells)) > 10
    rest = pc.utf8_slice_codeunits(cells, 19)  # ".fffffffff", a zone, both, or nothing
    n = len(array)
    if pc.any(pc.not_equal(rest, "")).as_py():
        parts = pc.extract_regex(rest, _REST_PATTERN)
        f = number(pc.utf8_rpad(parts.field("f"), width=9, padding="0"))
        zh, zm = number(parts.field("zh")), number(parts.field("zm"))
        zoned = _bools(pc.not_equal(parts.field("z"), ""))
        west = _bools(pc.equal(parts.field("zsign"), "-"))
    else:
        f = zh = zm = np.zeros(n, dtype=np.int64)
        zoned = west = np.zeros(n, dtype=bool)

    ok = _bools(matched) & (y >= 1) & (mo >= 1) & (mo <= 12) & (d >= 1)
    month = np.where(ok, (y - 1970) * 12 + mo - 1, 0)
    first = month.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    after = (month + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    ok &= (d <= after - first) & (h <= 23) & (mi <= 59) & (s <= 59) & (zh <= 23) & (zm <= 59)
    offset = np.where(west, -1, 1) * (zh * 3600 + zm * 60)
    seconds = (first + d - 1) * 86400 + h * 3600 + mi * 60 + s - offset
    return DateCells(ok=ok, timed=timed & ok, zoned=zoned & ok, seconds=np.where(ok, seconds, 0),
                     nanos=np.where(ok, f, 0))


def _may_be_a_date(array) -> bool:
    """Whether the first cell starts ``dddd-dd-dd`` (one cell looked at): a column of numbers is
    not parsed for dates. Necessary for ``parse_dates``, never sufficient."""
    first = array[0].as_py() if len(array) else None
    return isinstance(first, str) and len(first) >= 10 and first[4] == "-" and first[7] == "-"


def _bools(array) -> np.ndarray:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=bool)


def _int64s(array) -> np.ndarray:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.int64)


# --- what a column holds --------------------------------------------------------------------


def numbers_kind(values: np.ndarray) -> str | None:
    """``"yyyymmdd"``, ``"counter"``, ``"integers"`` (strictly increasing), or None for numbers
    that are not an index by their content (returns; anything with NaN or inf)."""
    v = np.asarray(values, dtype=np.float64)
    if not v.size or not np.isfinite(v).all() or not (np.trunc(v) == v).all():
        return None
    if v.min() >= YYYYMMDD_MIN and v.max() <= YYYYMMDD_MAX and yyyymmdd_valid(v).all():
        return "yyyymmdd"
    if v[0] in (0.0, 1.0) and np.array_equal(v, v[0] + np.arange(v.size)):
        return "counter"
    if v.size >= 2 and (v[1:] > v[:-1]).all():
        return "integers"
    return None


def yyyymmdd_valid(values: np.ndarray) -> np.ndarray:
    """Which integer values ``yyyymmdd`` are calendar dates (any year from 1 on)."""
    v = np.asarray(values, dtype=np.int64)
    y, mo, d = v // 10000, v // 100 % 100, v % 100
    ok = (y >= 1) & (mo >= 1) & (mo <= 12) & (d >= 1)
    month = np.where(ok, (y - 1970) * 12 + mo - 1, 0)
    length = np.diff(np.stack([month, month + 1]).astype("datetime64[M]").astype("datetime64[D]"), axis=0)[0]
    return ok & (d <= length.astype(np.int64))


def detect_kind(array) -> str | None:
    """What an Arrow column holds when it is an index by its content, else None (see the module
    docstring): ``"dates"``, ``"timestamps"``, ``"yyyymmdd"``, ``"counter"``, ``"integers"``.

    The same steps as :func:`read_returns` takes for a column whose name is no index name.
    """
    import pyarrow as pa

    from .tables import parse_cells

    t = array.type
    if _temporal(t):
        return _temporal_kind(array)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        if _may_be_a_date(array):
            kind = parse_dates(array).kind()
            if kind is not None:
                return kind
        try:
            values = parse_cells(array, path="<column>", column="c", column_index=1)
        except ArtefactError:
            return None
        return numbers_kind(values)
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return numbers_kind(parse_cells(array, path="<column>", column="c", column_index=1))
    return None


def named_like_index(name: str) -> bool:
    """``INDEX_NAMES`` (case-insensitive) and pandas' ``Unnamed: N``."""
    lowered = name.strip().lower()
    return lowered in INDEX_NAMES or UNNAMED.fullmatch(lowered) is not None


def _temporal(t) -> bool:
    import pyarrow as pa

    return pa.types.is_timestamp(t) or pa.types.is_date(t)


def _temporal_kind(array) -> str:
    import pyarrow as pa

    if pa.types.is_date(array.type):
        return "dates"
    if array.type.tz is not None:
        return "timestamps"
    seconds, nanos = _instants(array)
    return "dates" if not ((seconds % 86400).any() or nanos.any()) else "timestamps"


def _instants(array) -> tuple[np.ndarray, np.ndarray]:
    """(seconds, nanoseconds within the second) of a Parquet date or timestamp column (UTC)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = array.type
    if pa.types.is_date32(t):
        raw, per_second = _int64s(pc.fill_null(pc.cast(array, pa.int32()), 0)) * 86400, 1
    elif pa.types.is_date64(t):
        raw, per_second = _int64s(pc.fill_null(pc.cast(array, pa.int64()), 0)), 1000
    else:
        raw = _int64s(pc.fill_null(pc.cast(array, pa.int64()), 0))
        per_second = {"s": 1, "ms": 1000, "us": 1_000_000, "ns": 1_000_000_000}[t.unit]
    return raw // per_second, raw % per_second * (1_000_000_000 // per_second)


# --- the index column ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Index:
    """An index column: what it holds, its order keys, why it is taken for an index."""

    name: str
    kind: str  # a key of KIND_WORDS
    why: str  # "named like an index", "holds dates", ...
    major: np.ndarray = field(repr=False)  # int64 seconds (dates) or float64 numbers
    minor: np.ndarray | None = field(repr=False)  # int64 nanoseconds within the second, dates only
    array: object = field(repr=False)  # the Arrow column, to show values as written

    def show(self, row: int) -> str:
        """The value of ``row`` as written (dates of a Parquet file in ISO form)."""
        cell = self.array[row].as_py()
        if isinstance(cell, str):
            return cell
        if self.kind == "dates" and hasattr(cell, "date"):
            return cell.date().isoformat()
        if hasattr(cell, "isoformat"):
            return str(cell)
        if isinstance(cell, float) and cell.is_integer() and self.kind != "numbers":
            return str(int(cell))
        return repr(cell)

    def iso(self, row: int) -> str:
        if self.kind == "yyyymmdd":
            v = int(self.major[row])
            return f"{v // 10000:04d}-{v // 100 % 100:02d}-{v % 100:02d}"
        return self.show(row)

    def describe(self) -> str:
        n = len(self.major)
        return f"{KIND_WORDS[self.kind]} {self.show(0)} to {self.show(n - 1)}" if n > 1 else KIND_WORDS[self.kind]


def _label(name: str) -> str:
    return "the blank-named column" if name == "" else f"column {name!r}"


def _index_label(name: str) -> str:
    return "the index (the blank-named column)" if name == "" else f"index column {name!r}"


def _line(table, row: int) -> int | None:
    from .tables import line_of

    if table.kind != "csv":
        return None
    return line_of(row) if table.row_lines is None else int(table.row_lines[row])


def _where(table, row: int) -> str:
    line = _line(table, row)
    return f"row {row}" if line is None else f"line {line}"


def _position(table, name: str, row: int) -> dict:
    line = _line(table, row)
    return {"line": line, "column": table.index_of(name) if line is not None else None}


def _read_column(table, name: str, why: str | None):
    """A column as an ``_Index`` when it is index-like, else its float64 values (a trial).

    ``why`` says why the column must be an index (its name, the pandas metadata, a declaration);
    such a column must hold dates or finite numbers: anything else raises at its first bad cell.
    """
    import pyarrow as pa

    array = table.columns[name]
    t = array.type
    if _temporal(t):
        if array.null_count:
            row = int(np.argmax(_bools(array.is_null())))
            raise ArtefactError(table.path, f"{_index_label(name)}, {_where(table, row)}: no date (null): every "
                                            "row needs its period", **_position(table, name, row))
        seconds, nanos = _instants(array)
        kind = _temporal_kind(array)
        return _Index(name, kind, why or f"a Parquet {t} column", seconds, nanos, array)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        if _may_be_a_date(array):
            cells = parse_dates(array)
            kind = cells.kind()
            if kind is not None:
                return _Index(name, kind, why or f"holds {kind}", cells.seconds, cells.nanos, array)
            if why is not None:
                row = cells.first_bad()
                raise ArtefactError(
                    table.path, f"{_label(name)} is {why}, and {_where(table, 0)} holds a date "
                                f"({array[0].as_py()!r}), but {_where(table, row)} holds {array[row].as_py()!r}, "
                                f"which is not a date like it ({DATE_FORMAT})", **_position(table, name, row))
    elif why is not None and not (pa.types.is_integer(t) or pa.types.is_floating(t)):
        raise ArtefactError(table.path, f"{_label(name)} is {why}, but holds {t}, neither dates nor numbers")
    if why is None:
        values = table.numeric(name).values  # a trial: not a number raises here, as always
        kind = numbers_kind(values)
        if kind is None:
            return values
        return _Index(name, kind, f"holds {KIND_WORDS[kind]}", values, None, array)
    try:
        values = table.numeric(name).values
    except ArtefactError as exc:
        raise ArtefactError(table.path, f"{exc.message}; {_label(name)} is {why}, so it must hold dates "
                                        f"({DATE_FORMAT}) or increasing numbers",
                            line=exc.line, column=exc.column) from None
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.argmax(bad))
        raise ArtefactError(table.path, f"{_label(name)} is {why}, but {_where(table, row)} holds "
                                        f"{array[row].as_py()!r}, not a period: every row needs one",
                            **_position(table, name, row))
    return _Index(name, numbers_kind(values) or "numbers", why, values, None, array)


def _check_order(table, index: _Index) -> None:
    """Strictly increasing: rows in time order, each one period. Else the first offending row."""
    a, b = index.major, index.minor
    later = a[1:] > a[:-1]
    same = a[1:] == a[:-1]
    if b is not None:
        later |= same & (b[1:] > b[:-1])
        same &= b[1:] == b[:-1]
    if later.all():
        return
    row = int(np.argmax(~later)) + 1
    here, before = _where(table, row), _where(table, row - 1)
    if same[row - 1]:
        message = (f"{_index_label(index.name)}: rows are not unique in time: {here} repeats "
                   f"{index.show(row)} of {before}; each row must be one period: drop or merge the repeated rows")
    else:
        message = (f"{_index_label(index.name)}: rows are not in time order: {here} ({index.show(row)}) comes "
                   f"after {before} ({index.show(row - 1)}); CSCV's blocks must be contiguous in time: sort "
                   "the file by its index")
    if index.kind == "numbers" and not index.why.startswith("declared"):
        message += f"; if {index.name!r} is a trial, {DECLARE.replace('declare it', 'declare the index')}"
    raise ArtefactError(table.path, message, **_position(table, index.name, row))


# --- reading ------------------------------------------------------------------------------


def read_returns(path, index: str | None = None) -> TrialReturns:
    """The returns file: one column per trial, one row per period, and at most one index column.

    ``index``: the index column's name as declared (``[layout] returns_index``), ``"none"`` when
    the file has none (every column a trial), or None to find it by convention (module docstring).
    """
    if index is not None and not isinstance(index, str):
        raise TypeError(f"index must be a column name, {NO_INDEX!r} or None, got {index!r}")
    table = _read_table(path, with_blank=index in (None, ""))
    if index == NO_INDEX:
        names = [c for c in table.header if c in table.columns]
        return _result(table, names, None, "no index column: declared by [layout] returns_index = \"none\", "
                                           "every column is a trial")
    if index is not None and index not in table.header:
        found = ", ".join(repr(c) for c in table.header)
        raise ArtefactError(table.path, f"declared index column {index!r} ([layout] returns_index) is not in the "
                                        f"file; found {found}", line=1 if table.kind == "csv" else None)
    metadata = _pandas_index(table)

    if index is not None:
        chosen = _read_column(table, index, "declared the index ([layout] returns_index)")
        _check_order(table, chosen)
        parsed, not_trials = {}, []
        for name in table.header:
            if name == index or name not in table.columns:
                continue
            reading = _read_column(table, name, None)
            if isinstance(reading, _Index):
                not_trials.append(name)
            else:
                parsed[name] = reading
        note = f"{_label(index)} holds {KIND_WORDS[chosen.kind]}: declared by [layout] returns_index"
        if not_trials:
            listed = ", ".join(repr(c) for c in not_trials)
            note += f"; {listed} hold{'s' if len(not_trials) == 1 else ''} an index too, not a trial"
        return _result(table, list(parsed), chosen, note, parsed)

    readings = {}
    for name in table.header:
        if name not in table.columns:
            continue
        if name in metadata:
            why = "the DataFrame's index by the Parquet file's pandas metadata"
        elif name == "":
            why = "pandas' unnamed index"
        elif named_like_index(name):
            why = "named like an index"
        else:
            why = None
        readings[name] = _read_column(table, name, why)
    candidates = [r for r in readings.values() if isinstance(r, _Index)]
    if len(candidates) > 1:
        listed = "; ".join(f"{_label(c.name)} ({c.why}: {c.describe()})" for c in candidates)
        raise ArtefactError(table.path, f"{len(candidates)} columns look like the index: {listed}; a returns file "
                                        "has one index column and a guess is a silent bug",
                            line=1 if table.kind == "csv" else None, hint=DECLARE)
    names = [n for n, r in readings.items() if not isinstance(r, _Index)]
    if not candidates:
        return _result(table, names, None, "no index column: no column is named like an index or holds one, "
                                           "every column is a trial", readings)
    chosen = candidates[0]
    _check_order(table, chosen)
    said = chosen.why if chosen.why.startswith("holds") else f"is {chosen.why} and holds {KIND_WORDS[chosen.kind]}"
    return _result(table, names, chosen, f"{_label(chosen.name)} {said}: the index, not a trial", readings)


def _result(table, names, index: _Index | None, note: str, parsed=None) -> TrialReturns:
    parsed = parsed or {}
    columns = [parsed[n] if n in parsed else table.numeric(n).values for n in names]
    values = np.column_stack(columns) if columns else np.empty((table.n_rows, 0))
    period = None if index is None else (index.iso(0), index.iso(len(index.major) - 1))
    return TrialReturns(tuple(names), values, table.path, table.sha256,
                        index_column=None if index is None else index.name,
                        index_kind=None if index is None else index.kind, period=period, index_note=note,
                        trial_columns=tuple(table.index_of(n) for n in names))


def _read_table(path, with_blank: bool):
    """``read_table`` of every column, with ``with_blank`` the blank-named first column of a CSV file
    too (pandas' unnamed index, which ``read_table`` leaves out when it reads every column)."""
    from . import tables

    if with_blank and not os.fspath(path).endswith(".parquet") and _first_cell_may_be_blank(path):
        try:
            header, _ = tables._read_header(path)  # the header as read_table reads it
        except ArtefactError:
            header = None  # read_table says what is wrong
        if header and header[0] == "":
            return tables.read_table(path, header)
    return tables.read_table(path)


def _first_cell_may_be_blank(path) -> bool:
    """A look at the file's first bytes: may its first header cell be blank? (Never wrong when it is.)"""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False  # read_table says what is wrong
    head = head.removeprefix(b"\xef\xbb\xbf")
    ends = [i for i in (head.find(b","), head.find(b"\n"), head.find(b"\r")) if i >= 0]
    if not ends or head.find(b",") < 0:
        return False  # one header cell, or a first cell longer than 4096 bytes: not blank
    return head[: min(ends)].decode("utf-8", errors="replace").strip().strip('"').strip() == ""


def _pandas_index(table) -> tuple[str, ...]:
    """The index columns a Parquet file's pandas metadata names (none for a RangeIndex)."""
    if table.kind != "parquet":
        return ()
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(table.path).pandas_metadata or {}
    except (pa.ArrowInvalid, OSError, ValueError) as exc:
        raise ArtefactError(table.path, f"cannot read the Parquet schema's pandas metadata: {exc}") from None
    columns = metadata.get("index_columns", []) if isinstance(metadata, dict) else []
    return tuple(c for c in columns if isinstance(c, str))
