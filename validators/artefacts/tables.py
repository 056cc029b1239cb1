"""Numeric columns from CSV or Parquet, parsed vectorised and strictly.

Cells are plain numbers or what pandas writes for a numpy array: ``[0.0123]``,
``[1.2e-05]``, ``[0.1 0.9]``. Every cell is read as text and parsed with Arrow compute
kernels, never row by row. Outcomes per cell:

* a number (``1``, ``-2.5e-3``, ``inf``) or a one-element array: that number;
* an empty cell or a missing-value token (``NA``, ``N/A``, ``null``, ``None``, ``nan``...):
  NaN, which the checks count and fail on (it is a value problem, not a parse problem);
* anything else (``x``, ``1,234``, ``[[1]]``, ``[1 ... 9]``, a cell longer than the limit,
  several values where one is expected): ``ArtefactError`` naming ``file:line:column``.

Line numbers are exact: a data row ``r`` (0-based) is on line ``r + 2`` of the file, the
header being line 1, unless a quoted cell spans lines (pandas wraps a long numpy array at 75
characters); then each row's line is counted, and errors name the line where the row starts.
A blank line between rows is a row of missing values; blank lines at the very end of the file
are ignored, as pandas ignores them.

A file larger than :func:`max_file_bytes` is refused before it is read (it is parsed in
memory), and so is a file whose size or modification time changes while it is read (training
still writing it): see :func:`unchanged_while_read`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import stat
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ..errors import ArtefactError
from .cells import MAX_ARRAY_CELL_CHARS, MAX_CELL_CHARS, MISSING_TOKENS, line_of, parse_cells  # noqa: F401

MAX_FILE_BYTES = 4 << 30  # a predictions or returns file; less on a machine with under 8 GiB of memory
MAX_FILE_BYTES_ENV = "RUNVERDICT_MAX_FILE_BYTES"  # overrides the limit, in bytes


@dataclass(frozen=True)
class Column:
    """A parsed column: float64 values (NaN where missing), where it came from."""

    name: str
    values: np.ndarray
    path: str
    index: int  # 1-based column position in the file


def sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def max_file_bytes(path=None) -> int:
    """The largest predictions or returns file read: ``$RUNVERDICT_MAX_FILE_BYTES`` when set, else
    the smaller of ``MAX_FILE_BYTES`` (4 GiB) and half the machine's physical memory.

    The whole file is parsed in memory, so a larger one is refused before it is read rather than
    left to exhaust the memory. A value of the variable that is not a positive integer is an
    ``ArtefactError`` naming ``path``: never an unlimited read.
    """
    raw = os.environ.get(MAX_FILE_BYTES_ENV)
    if raw is not None and raw.strip():
        try:
            value = int(raw.strip())
        except ValueError:
            value = 0
        if value <= 0:
            raise ArtefactError(path, f"${MAX_FILE_BYTES_ENV} must be a positive number of bytes, got {raw!r}")
        return value
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return MAX_FILE_BYTES
    return min(MAX_FILE_BYTES, memory // 2) if memory > 0 else MAX_FILE_BYTES


def _after_read(path) -> None:
    """Called between the read and the second ``fstat``; tests replace it to change the file there."""


def _changed(path, before, after) -> ArtefactError | None:
    if (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns):
        return None
    return ArtefactError(path, f"changed while being read (size {before.st_size} -> {after.st_size}): the run is "
                               "still being written; rerun when training has finished")


@contextmanager
def unchanged_while_read(path):
    """Open ``path`` for the duration of a read and refuse the read if the file changed meanwhile.

    Yields the ``os.fstat`` result taken before the read; after it, a second ``fstat`` of the same
    open file must show the same size and modification time, else ``ArtefactError`` ("changed
    while being read ... the run is still being written"). That error also replaces any error the
    read raised, since a half-written file explains it. Missing files, folders and anything but a
    regular file (a named pipe would block the read forever) are refused first.
    """
    path = os.fspath(path)
    try:  # O_NONBLOCK: opening a named pipe must not wait for a writer
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ArtefactError(path, "file not found") from None
    except OSError as exc:
        raise ArtefactError(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        before = os.fstat(fd)
        if stat.S_ISDIR(before.st_mode):
            raise ArtefactError(path, "is a directory, expected a file")
        if not stat.S_ISREG(before.st_mode):
            raise ArtefactError(path, "is not a regular file (a named pipe, socket or device?)")
        try:
            yield before
        except ArtefactError:
            changed = _changed(path, before, os.fstat(fd))
            if changed is not None:
                raise changed from None
            raise
        _after_read(path)
        changed = _changed(path, before, os.fstat(fd))
        if changed is not None:
            raise changed
    finally:
        os.close(fd)


class TextTable:
    """Selected columns of a CSV or Parquet file, held as Arrow string arrays until parsed."""

    def __init__(self, path, header: list[str], columns: dict, n_rows: int, kind: str, row_lines=None):
        self.path = os.fspath(path)
        self.header = header
        self.columns = columns  # name -> pyarrow Array (string, numeric or list)
        self.n_rows = n_rows
        self.kind = kind
        self.row_lines = row_lines  # the file line of each row when a cell spans lines, else None (r + 2)
        self.sha256 = None  # of the file as read, when the reader computed it on the way

    def index_of(self, name) -> int:
        return self.header.index(name) + 1

    def numeric(self, name, element: int | None = None) -> Column:
        """Parse column ``name`` into float64, picking ``element`` of array cells if given."""
        array = self.columns[name]
        values = parse_cells(array, path=self.path, column=name, column_index=self.index_of(name),
                             element=element, line_numbers=self.kind == "csv", row_lines=self.row_lines)
        return Column(name=name, values=values, path=self.path, index=self.index_of(name))


def read_table(path, columns: list[str] | None = None, *, skip_missing: bool = False) -> TextTable:
    """Read ``columns`` (all when None) of a CSV or Parquet file; errors name file and line.

    With ``skip_missing``, wanted columns absent from the header are left out instead of
    raising, so that only the checks that use them fail (``TextTable.numeric`` raises then).
    """
    path = os.fspath(path)
    with unchanged_while_read(path) as before:
        if before.st_size == 0:
            raise ArtefactError(path, "file is empty (0 bytes)")
        limit = max_file_bytes(path)
        if before.st_size > limit:
            raise ArtefactError(
                path, f"file is {before.st_size} bytes, more than the {limit}-byte limit for a table: refused "
                      f"before reading (it is parsed in memory); set {MAX_FILE_BYTES_ENV} to a larger number of "
                      "bytes if the machine has the memory")
        if path.endswith(".parquet"):
            return _read_parquet(path, columns, skip_missing)
        return _read_csv(path, columns, skip_missing)


def read_header(path) -> list[str]:
    """The column names of a CSV or Parquet file, reading no data rows."""
    path = os.fspath(path)
    if path.endswith(".parquet"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        _regular_file(path)
        try:
            return list(pq.read_schema(path).names)
        except (pa.ArrowInvalid, OSError) as exc:
            raise ArtefactError(path, f"not a readable Parquet file: {exc}") from None
    _regular_file(path)
    return _read_header(path)[0]


def _regular_file(path) -> None:
    """Refuse anything but a regular file before a plain open (a named pipe would block it forever)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise ArtefactError(path, f"cannot read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        raise ArtefactError(path, "is not a regular file")


def _read_header(path) -> tuple[list[str], bool]:
    """The header's names, and whether anything follows the header line."""
    try:
        with open(path, "rb") as handle:  # bytes: only the header line is decoded here
            head = handle.read(1 << 20)
            beyond = handle.read(1) != b""
    except OSError as exc:
        raise ArtefactError(path, f"cannot read: {exc.strerror or exc}") from None
    end = min((i for i in (head.find(b"\n"), head.find(b"\r")) if i >= 0), default=len(head))
    more = beyond or end < len(head)
    bom = 3 if head.startswith(b"\xef\xbb\xbf") else 0  # a BOM as Excel writes
    try:
        first = head[bom:end].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArtefactError(path, f"not UTF-8 text (byte offset {bom + exc.start})", line=1,
                            column=bom + exc.start + 1) from None
    if not first.strip():
        raise ArtefactError(path, "the first line is empty: expected a header row", line=1)
    header = next(csv.reader(io.StringIO(first)))
    header = [name.strip() for name in header]
    if header and header[0] == "" and len(header) > 1:
        header[0] = ""  # an unnamed index column written by pandas
    return header, more


def _check_columns(path, header, wanted):
    missing = [c for c in wanted if c not in header]
    if missing:
        raise ArtefactError(
            path,
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(repr(c) for c in missing)}; "
            f"found {', '.join(repr(c) for c in header)}",
            line=1,
        )
    duplicated = sorted({c for c in wanted if header.count(c) > 1})
    if duplicated:
        raise ArtefactError(path, f"column {duplicated[0]!r} appears more than once in the header", line=1)


def _read_csv(path, columns, skip_missing=False) -> TextTable:
    header, more = _read_header(path)
    wanted = list(header) if columns is None else list(dict.fromkeys(columns))
    if columns is None:
        if len(set(header)) != len(header):
            dup = next(c for c in header if header.count(c) > 1)
            raise ArtefactError(path, f"column {dup!r} appears more than once in the header", line=1)
        wanted = [c for c in header if c != ""] or header
    if skip_missing:
        wanted = [c for c in wanted if c in header]
    _check_columns(path, header, wanted)
    if not more:
        raise ArtefactError(path, "has a header but no data rows", line=2)

    # One pass hashes the file and looks for a quote (only a quoted cell can span lines), on a
    # thread beside Arrow's read, which assumes no quoted line breaks; a file that holds a quote
    # is read again allowing them (rare: numbers need no quotes).
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        scan = pool.submit(_scan, path)
        try:
            table = _arrow_read(path, header, wanted, quoted=False)
            failure = None
        except ArtefactError as exc:
            table, failure = None, exc
        quoted, digest = scan.result()
    if quoted:
        table = _arrow_read(path, header, wanted, quoted=True)
    elif failure is not None:
        raise failure
    row_lines = _row_lines(path, header, table.num_rows) if quoted else None
    trailing = _trailing_blank_lines(path)
    if trailing:
        table = table.slice(0, max(table.num_rows - trailing, 0))
    if table.num_rows == 0:
        raise ArtefactError(path, "has a header but no data rows", line=2)
    cols = {name: table.column(name).combine_chunks() for name in wanted}
    out = TextTable(path, header, cols, table.num_rows, "csv", row_lines)
    out.sha256 = digest
    return out


def _arrow_read(path, header, wanted, quoted):
    """Arrow's read of the ``wanted`` columns as text; every problem an ``ArtefactError`` with its line."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    invalid = []

    def on_invalid(row):
        invalid.append(row)
        return "skip"

    def read(use_threads):
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=use_threads, column_names=header, skip_rows=1),
            # a blank line stays a row (of missing values) so that row r is on line r + 2
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False,
                                             newlines_in_values=quoted),
            convert_options=pacsv.ConvertOptions(
                include_columns=wanted,
                column_types={c: pa.string() for c in wanted},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )

    undecodable = []
    try:
        with _undecodable_rows(undecodable):
            table = read(True)
            if invalid:  # read again on one thread: only then does Arrow know the line numbers
                invalid.clear()
                table = read(False)
    except pa.ArrowInvalid as exc:
        if "invalid UTF8" in str(exc) or undecodable:
            raise _not_utf8(path) from None
        if "straddles" in str(exc):  # a row longer than Arrow's block: say which, not "increase block size"
            raise _row_too_long(path) from None
        raise ArtefactError(path, f"cannot parse CSV: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ArtefactError(path, f"not UTF-8 text: {exc}") from None
    if invalid:
        row = invalid[0]
        raise ArtefactError(
            path,
            f"row has {row.actual_columns} fields, the header has {row.expected_columns}: "
            f"{row.text[:80]!r}" + (f" ({len(invalid)} such rows)" if len(invalid) > 1 else ""),
            line=row.number,
        )
    return table


_CHUNK = 1 << 24
_SCAN_CHUNK = 1 << 20  # small: the scan runs beside Arrow's read and should add little memory


def _trailing_blank_lines(path) -> int:
    """How many empty lines follow the file's last line of text (each is a row of Arrow's)."""
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        want = 4096
        while True:
            start = max(size - want, 0)
            handle.seek(start)
            tail = handle.read(size - start)
            text = tail.rstrip(b"\r\n")
            if text or start == 0:
                break
            want *= 16
    ending = tail[len(text):]
    breaks = ending.count(b"\n") + ending.count(b"\r") - ending.count(b"\r\n")
    return max(breaks - 1, 0)  # the first break ends the last line of text


def _line_count(path) -> int:
    """Lines of the file: LF, CRLF or CR each end one, and a last line without one counts."""
    breaks = 0
    last = b""
    carry_cr = False
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            breaks += chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
            if carry_cr and chunk[:1] == b"\n":  # a CRLF cut in two by the chunking
                breaks -= 1
            carry_cr = chunk[-1:] == b"\r"
            last = chunk[-1:]
    return breaks + (0 if last in (b"\n", b"\r", b"") else 1)


def _not_utf8(path) -> ArtefactError:
    """The error naming the first byte of the file that is not UTF-8: offset, line and column."""
    offset = line = 0
    line_start = 0
    with open(path, "rb") as handle:
        pending = b""
        while True:
            chunk = handle.read(_CHUNK)
            data = pending + chunk
            if not data:
                return ArtefactError(path, "not UTF-8 text")
            try:
                data.decode("utf-8")
                good = len(data)
            except UnicodeDecodeError as exc:
                if chunk and exc.end == len(data) and exc.reason == "unexpected end of data":
                    good = exc.start  # a character cut by the chunking: decode it with the next chunk
                else:
                    at = offset + exc.start
                    line += data.count(b"\n", 0, exc.start)
                    newline = data.rfind(b"\n", 0, exc.start)
                    if newline >= 0:
                        line_start = offset + newline + 1
                    return ArtefactError(path, f"not UTF-8 text (byte offset {at})", line=line + 1,
                                         column=at - line_start + 1)
            line += data.count(b"\n", 0, good)
            newline = data.rfind(b"\n", 0, good)
            if newline >= 0:
                line_start = offset + newline + 1
            offset += good
            pending = data[good:]
            if not chunk:
                return ArtefactError(path, f"not UTF-8 text (byte offset {offset})", line=line + 1,
                                     column=offset - line_start + 1)


@contextmanager
def _undecodable_rows(seen: list):
    """Arrow decodes an invalid row's text before calling the handler; when the row is not UTF-8 that
    fails inside Arrow's callback, which Python reports as "Exception ignored ... Traceback" on stderr
    while Arrow raises a parse error without a line. Record those instead of printing them."""
    import sys

    previous = sys.unraisablehook

    def hook(unraisable):
        if isinstance(unraisable.exc_value, UnicodeDecodeError):
            seen.append(unraisable.exc_value)
        else:
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


_BLOCK = 1 << 20  # pyarrow.csv.ReadOptions' default block_size: no row may be longer


def _row_too_long(path) -> ArtefactError:
    """The error naming the first line longer than a block, which Arrow cannot read."""
    line, length = 1, 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            start = 0
            while True:
                end = chunk.find(b"\n", start)
                length += (len(chunk) if end < 0 else end) - start
                if length > _BLOCK:
                    return ArtefactError(path, f"the line is longer than {_BLOCK} bytes, which no row may be (a cell "
                                               f"may hold {MAX_CELL_CHARS} characters, {MAX_ARRAY_CELL_CHARS} when "
                                               "the check picks an element): refused before parsing", line=line)
                if end < 0:
                    break
                line, length, start = line + 1, 0, end + 1
    return ArtefactError(path, f"a row is longer than {_BLOCK} bytes, which no row may be: refused before parsing")


def _scan(path) -> tuple[bool, str]:
    """One pass over the file: does it hold a quote character, and its SHA-256."""
    digest = hashlib.sha256()
    quoted = False
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(_SCAN_CHUNK), b""):
                digest.update(chunk)
                quoted = quoted or b'"' in chunk
    except OSError as exc:
        raise ArtefactError(path, f"cannot read: {exc.strerror or exc}") from None
    return quoted, digest.hexdigest()


def _row_lines(path, header, n_rows):
    """The file line of each row when quoted cells span lines, else None (row r is on line r + 2)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    if _line_count(path) == n_rows + 1:
        return None
    try:  # every column, the unread ones too: a line break in any cell moves the rows after it
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False, column_names=header, skip_rows=1),
            parse_options=pacsv.ParseOptions(ignore_empty_lines=False, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in header},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except pa.ArrowInvalid as exc:
        raise ArtefactError(path, f"cannot parse CSV: {exc}") from None
    if table.num_rows != n_rows:
        raise ArtefactError(path, f"cannot tell the line of each row: {n_rows} rows read, then {table.num_rows}")
    breaks = np.zeros(n_rows, dtype=np.int64)
    for column in table.columns:
        breaks += pc.count_substring_regex(column, r"\r\n|\r|\n").to_numpy(zero_copy_only=False)
    return line_of(np.arange(n_rows, dtype=np.int64)) + np.cumsum(breaks) - breaks


def _read_parquet(path, columns, skip_missing=False) -> TextTable:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
        header = list(schema.names)
        wanted = header if columns is None else list(dict.fromkeys(columns))
        if skip_missing:
            wanted = [c for c in wanted if c in header]
        _check_columns(path, header, wanted)
        _parquet_within_limits(path, pq.read_metadata(path), schema, wanted)
        table = pq.read_table(path, columns=wanted)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ArtefactError(path, f"not a readable Parquet file: {exc}") from None
    if table.num_rows == 0:
        raise ArtefactError(path, "has no rows")
    cols = {name: table.column(name).combine_chunks() for name in wanted}
    return TextTable(path, header, cols, table.num_rows, "parquet")


BYTES_PER_ROW = 64  # a Parquet file may hold the rows a CSV file of max_file_bytes() could: one per 64 bytes


def _leaves(t) -> int:
    """How many Parquet leaf columns an Arrow type is stored as."""
    import pyarrow as pa

    if pa.types.is_struct(t):
        return sum(_leaves(t.field(i).type) for i in range(t.num_fields))
    if pa.types.is_map(t):
        return _leaves(t.key_type) + _leaves(t.item_type)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _leaves(t.value_type)
    return 1


def _parquet_within_limits(path, metadata, schema, wanted) -> None:
    """Refuse, from its metadata alone, a Parquet file whose columns read would not fit the limit.

    A few MB of compressed Parquet can hold hundreds of millions of rows (600 M zstd zeros are
    2.6 MB, and 20 GB once read): the file's size says nothing, its metadata says what reading
    costs. Limits, all from :func:`max_file_bytes`: ``limit // BYTES_PER_ROW`` rows; the columns
    read, uncompressed, at most ``limit`` bytes; and as float64 values, at most ``limit`` bytes.
    """
    limit = max_file_bytes(path)
    advice = (f"refused before reading; set {MAX_FILE_BYTES_ENV} to a larger number of bytes if the machine "
              "has the memory")
    rows = int(metadata.num_rows)
    max_rows = max(limit // BYTES_PER_ROW, 1)
    if rows > max_rows:
        raise ArtefactError(path, f"the Parquet metadata says {rows} rows, more than the {max_rows} a table may "
                                  f"have (one per {BYTES_PER_ROW} bytes of the {limit}-byte limit): {advice}")
    leaf_of = []  # the top-level column of each leaf column, in order
    for field in schema:
        leaf_of.extend([field.name] * _leaves(field.type))
    wanted_set = set(wanted)
    chosen = {i for i, name in enumerate(leaf_of) if name in wanted_set}
    uncompressed = 0
    for g in range(metadata.num_row_groups):
        group = metadata.row_group(g)
        for i in range(group.num_columns):
            if i in chosen or len(leaf_of) != group.num_columns:  # a layout not understood: count it all
                uncompressed += max(int(group.column(i).total_uncompressed_size), 0)
    if uncompressed > limit:
        raise ArtefactError(path, f"the Parquet metadata says the {len(wanted)} column{'s' if len(wanted) != 1 else ''}"
                                  f" read hold {uncompressed} bytes uncompressed, more than the {limit}-byte limit "
                                  f"for a table: {advice}")
    as_floats = rows * 8 * max(len(wanted), 1)
    if as_floats > limit:
        raise ArtefactError(path, f"the Parquet metadata says {rows} rows of {len(wanted)} columns: {as_floats} bytes "
                                  f"as float64 values, more than the {limit}-byte limit for a table: {advice}")
