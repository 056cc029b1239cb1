"""Evidence shared by the kinds that look at prediction columns."""

from __future__ import annotations

import numpy as np

from ..artefacts.tables import line_of
from ..registry import Param
from ..result import Outcome

FIRST_ROWS = 5

COLUMN = Param("column", "str", "predictions column to check", required=True, role="column")
ELEMENT = Param("element", "int", "element to pick from array cells such as [0.1 0.9] (0-based)", min=0)
ALLOW_NONFINITE = Param(
    "allow_nonfinite_share", "number",
    "share of NaN/inf/missing cells tolerated; those cells are then left out (default 0: any fails)",
    default=0.0, min=0.0, max=1.0,
)


def first_rows(mask, values, limit=FIRST_ROWS) -> list[dict]:
    """The first rows where ``mask`` holds: row (0-based), file line and value."""
    rows = np.flatnonzero(mask)[:limit]
    return [{"row": int(r), "line": line_of(int(r)), "value": _plain(values[r])} for r in rows]


def _plain(value):
    value = float(value)
    if np.isnan(value):
        return "nan"
    if np.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def finite_values(column, allow_nonfinite_share):
    """``(finite_values, finite_mask, evidence)`` or an ``Outcome`` that fails on non-finite cells."""
    values = column.values
    n = int(values.size)
    finite = np.isfinite(values)
    n_bad = n - int(finite.sum())
    evidence = {"file": column.path, "column": column.name, "rows": n}
    if n_bad:
        evidence.update(
            nan_count=int(np.isnan(values).sum()),
            inf_count=int(np.isinf(values).sum()),
            first_nonfinite_rows=first_rows(~finite, values),
        )
    share = n_bad / n if n else 1.0
    if n == 0:
        return Outcome(False, None, f"column {column.name!r} has no values", evidence)
    if n_bad and share > allow_nonfinite_share:
        return Outcome(
            False, None,
            f"{n_bad} of {n} values in {column.name!r} are NaN, inf or missing "
            f"(share {share!r}, allowed {allow_nonfinite_share!r})",
            evidence,
        )
    if n_bad == n:
        return Outcome(False, None, f"every value in {column.name!r} is NaN, inf or missing", evidence)
    return values[finite], finite, evidence
