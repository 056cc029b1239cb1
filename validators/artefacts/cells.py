"""Cells of a CSV or Parquet column parsed into float64 with Arrow compute kernels, strictly.

The rules are in ``tables``' module docstring: a number or a one-element array is that number, a
missing-value token is NaN, anything else is an ``ArtefactError`` naming ``file:line:column``.
"""

from __future__ import annotations

import numpy as np

from ..errors import ArtefactError

MAX_CELL_CHARS = 256  # a one-value cell; longer cells are refused before parsing
MAX_ARRAY_CELL_CHARS = 65_536  # a multi-value cell when the check picks an element
MISSING_TOKENS = ("", "nan", "-nan", "+nan", "na", "n/a", "null", "none", "<na>", "#n/a", "nat")
_NUMBER = r"[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity)"
_NUMBER_RE = f"^(?i:{_NUMBER})$"


def line_of(row: int) -> int:
    """File line of 0-based data row ``row`` (header on line 1)."""
    return row + 2


def _first_true(mask) -> int:
    import pyarrow.compute as pc

    return int(pc.index(mask, True).as_py())


def parse_cells(array, *, path, column, column_index, element=None, line_numbers=True,
                row_lines=None) -> np.ndarray:
    """Parse an Arrow array of cells into float64; see the module docstring for the rules.

    ``row_lines``: the file line of each row, when it is not ``row + 2``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    def where(row):
        if not line_numbers:
            return {"line": None}
        return {"line": line_of(row) if row_lines is None else int(row_lines[row]), "column": column_index}

    def refuse(row, why):
        cell = array[row].as_py()
        shown = repr(cell if not isinstance(cell, str) else cell[:80])
        position = where(row)
        raise ArtefactError(path, f"column {column!r}, row {row}: {why}: {shown}", **position)

    t = array.type
    if pa.types.is_floating(t) or pa.types.is_integer(t):
        if element is not None:
            raise ArtefactError(path, f"column {column!r} holds plain numbers: remove 'element' from the check")
        if pa.types.is_integer(t):
            return _integers(array, refuse)
        return pc.fill_null(pc.cast(array, pa.float64()), float("nan")).to_numpy(zero_copy_only=False)
    if pa.types.is_boolean(t):
        raise ArtefactError(path, f"column {column!r} holds booleans, expected numbers")
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _parse_lists(array, path=path, column=column, element=element, refuse=refuse)
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        raise ArtefactError(path, f"column {column!r} has type {t}, expected numbers")

    limit = MAX_CELL_CHARS if element is None else MAX_ARRAY_CELL_CHARS
    if array.null_count:  # CSV cells are never null (read with strings_can_be_null=False); Parquet's may be
        array = pc.fill_null(array, "")
    too_long = _ints(pc.binary_length(array)) > limit
    if too_long.any():
        refuse(int(np.argmax(too_long)), f"cell longer than {limit} bytes")
    if element is None:
        plain = _plain_numbers(array)
        if plain is not None:
            return plain
    text = pc.utf8_trim_whitespace(array)

    opened = pc.starts_with(text, "[")
    closed = pc.ends_with(text, "]")
    unbalanced = pc.not_equal(opened, closed)
    if pc.any(unbalanced).as_py():
        refuse(_first_true(unbalanced), "unbalanced brackets")
    bracketed = pc.any(opened).as_py()
    if element is None:  # the common case again, with spaces around the cells
        plain = _plain_numbers(text)
        if plain is not None:
            return plain
    if bracketed:
        inner = pc.if_else(opened, pc.utf8_trim_whitespace(pc.utf8_slice_codeunits(text, 1, -1)), text)
        nested = pc.and_(opened, pc.match_substring_regex(inner, r"[\[\]]"))
        if pc.any(nested).as_py():
            refuse(_first_true(nested), "nested arrays are not supported")
        empty = pc.and_(opened, pc.equal(pc.binary_length(inner), 0))
        if pc.any(empty).as_py():
            refuse(_first_true(empty), "an empty array holds no value")
    else:
        inner = text

    if element is None:
        several = pc.and_(opened, pc.match_substring_regex(inner, r"[\s,]"))
        if pc.any(several).as_py():
            row = _first_true(several)
            refuse(row, "several values where one is expected "
                        "(pick one with element = N in the check)")
        token = inner
    else:
        parts = pc.split_pattern_regex(inner, r"[\s,]+")
        lengths = pc.list_value_length(parts)
        missing_elem = pc.less_equal(lengths, element)
        if pc.any(missing_elem).as_py():
            refuse(_first_true(missing_elem), f"has no element {element}")
        dots = pc.match_substring(pc.binary_join(parts, " "), "...")
        if pc.any(dots).as_py():
            refuse(_first_true(dots), "array abbreviated with '...' by numpy: values are lost")
        token = pc.list_element(parts, element)

    lowered = pc.utf8_lower(token)
    missing = pc.is_in(lowered, value_set=pa.array(MISSING_TOKENS))
    number = pc.match_substring_regex(token, _NUMBER_RE)
    bad = pc.invert(pc.or_(missing, number))
    if pc.any(bad).as_py():
        refuse(_first_true(bad), "not a number or a one-element array")
    safe = pc.if_else(missing, "nan", token)
    return pc.cast(safe, pa.float64()).to_numpy(zero_copy_only=False)


def _plain_numbers(cells):
    """The common case, as pandas writes it: every cell ``[number]``, or every cell a number.

    One Arrow cast, no regular expressions. Returns None whenever a cell needs the full rules:
    brackets on some cells only, spaces, anything the cast refuses, or a cell that reads as NaN
    (Arrow accepts NaN spellings such as ``nan(1)`` that the full rules decide).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    opened = pc.starts_with(cells, "[")
    if pc.all(opened).as_py():
        if not pc.all(pc.ends_with(cells, "]")).as_py():
            return None
        inner = pc.utf8_slice_codeunits(cells, 1, -1)
    elif not pc.any(opened).as_py():
        inner = cells
    else:
        return None
    try:
        values = pc.cast(inner, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    out = _floats(values)
    return None if np.isnan(out).any() else out


def _floats(array) -> np.ndarray:
    """A float64 Arrow array without nulls as numpy, by its buffer (``to_numpy`` imports pandas)."""
    if array.null_count == 0 and len(array):
        return np.frombuffer(array.buffers()[1], dtype=np.float64, count=len(array), offset=8 * array.offset)
    return array.to_numpy(zero_copy_only=False)


def _ints(array) -> np.ndarray:
    """An int32 Arrow array without nulls (lengths) as numpy, by its buffer."""
    if array.null_count == 0 and len(array):
        return np.frombuffer(array.buffers()[1], dtype=np.int32, count=len(array), offset=4 * array.offset)
    return array.to_numpy(zero_copy_only=False)


def _parse_lists(array, *, path, column, element, refuse):
    import pyarrow as pa
    import pyarrow.compute as pc

    lengths = pc.fill_null(pc.list_value_length(array), 0)
    pick = 0 if element is None else element
    if element is None:
        wrong = pc.not_equal(lengths, 1)
        if pc.any(wrong).as_py():
            refuse(_first_true(wrong), "several values where one is expected (pick one with element = N)")
    else:
        short = pc.less_equal(lengths, element)
        if pc.any(short).as_py():
            refuse(_first_true(short), f"has no element {element}")
    values = pc.list_element(array, pick)
    if not (pa.types.is_floating(values.type) or pa.types.is_integer(values.type)):
        raise ArtefactError(path, f"column {column!r} holds lists of {values.type}, expected numbers")
    if pa.types.is_integer(values.type):
        return _integers(values, refuse)
    return pc.fill_null(pc.cast(values, pa.float64()), float("nan")).to_numpy(zero_copy_only=False)


def _integers(array, refuse) -> np.ndarray:
    """An integer Arrow array as float64 (NaN where null), exactly: an integer a float64 cannot hold
    (int64 2**53 + 1, uint64 2**64 - 1) is refused at its first row, never rounded (Arrow's cast
    would raise ``ArrowInvalid``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if array.type.bit_width <= 32:  # every such integer is a float64 exactly
        return pc.fill_null(pc.cast(array, pa.float64()), float("nan")).to_numpy(zero_copy_only=False)
    ints = pc.fill_null(array, 0).to_numpy(zero_copy_only=False)
    floats = ints.astype(np.float64)
    big = np.flatnonzero((ints > 2 ** 53) | (ints < -(2 ** 53))) if ints.dtype.kind == "i" \
        else np.flatnonzero(ints > 2 ** 53)
    if big.size:
        f = floats[big]
        top = 2.0 ** 63 if ints.dtype.kind == "i" else 2.0 ** 64
        fits = (f < top) & (f >= -top)
        exact = np.zeros(big.size, dtype=bool)
        exact[fits] = f[fits].astype(ints.dtype) == ints[big][fits]
        if not exact.all():
            row = int(big[np.flatnonzero(~exact)[0]])
            refuse(row, f"an integer a float64 cannot hold exactly (beyond 2**53 = {2 ** 53}), which checks "
                        "would judge rounded; store such values as floats, or smaller")
    if array.null_count:
        floats[_bools(array.is_null())] = np.nan
    return floats


def _bools(array) -> np.ndarray:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=bool)
