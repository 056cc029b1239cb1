"""Kinds judging prediction columns: saturation, range and a column statistic."""

from __future__ import annotations

import numpy as np

from ..registry import Param, register
from ..result import Outcome
from ..stats.metrics import STATISTICS, beyond_level, column_statistic
from .evidence import ALLOW_NONFINITE, COLUMN, ELEMENT, finite_values, first_rows


@register(
    "saturation",
    params=(
        COLUMN,
        ELEMENT,
        Param("level", "number", "the saturation level, e.g. 0.999", required=True),
        Param("side", "str", "count values 'above' or 'below' the level", default="above",
              choices=("above", "below")),
        Param("inclusive", "bool", "count values equal to the level too", default=False),
        ALLOW_NONFINITE,
    ),
    artefacts=("predictions",),
    observes="share of values beyond the level (0 to 1)",
    example="""
        [[check]]
        id = "volatility-not-saturated"
        kind = "saturation"
        severity = "must"
        column = "volatility"
        level = 0.999
        le = 0.0          # plan: "% near 1.0 ... Should be 0%"
    """,
)
def saturation(run, *, column, element, level, side, inclusive, allow_nonfinite_share, bound):
    """Share of a column's values above (or below) a level, bounded."""
    col = run.column(column, element)
    got = finite_values(col, allow_nonfinite_share)
    if isinstance(got, Outcome):
        return got
    values, finite, evidence = got
    beyond = beyond_level(col.values, level, side, inclusive) & finite
    count = int(beyond.sum())
    share = count / int(values.size)
    evidence.update(count_beyond=count, evaluated=int(values.size), level=level, side=side,
                    first_rows_beyond=first_rows(beyond, col.values))
    op = (">=" if inclusive else ">") if side == "above" else ("<=" if inclusive else "<")
    message = f"{count} of {values.size} values in {column!r} are {op} {level!r} (share {share!r})"
    return Outcome(bound.contains(share), share, message, evidence)


@register(
    "range",
    params=(
        COLUMN,
        ELEMENT,
        Param("max_outside_share", "number", "share of values allowed outside the bound (default 0)",
              default=0.0, min=0.0, max=1.0),
        ALLOW_NONFINITE,
    ),
    artefacts=("predictions",),
    observes="share of values outside the bound (0 to 1)",
    example="""
        [[check]]
        id = "volatility-range"
        kind = "range"
        severity = "must"
        column = "volatility"
        ge = 0.0
        le = 0.15         # plan: "Volatility predictions in range [0, 0.15]"
    """,
)
def value_range(run, *, column, element, max_outside_share, allow_nonfinite_share, bound):
    """Every value of a column within the bound (a tolerated share outside only if the spec says so)."""
    col = run.column(column, element)
    got = finite_values(col, allow_nonfinite_share)
    if isinstance(got, Outcome):
        return got
    values, finite, evidence = got
    outside = ~bound.mask(col.values) & finite
    count = int(outside.sum())
    share = count / int(values.size)
    low, high = bound.lower, bound.upper
    below = int((finite & ~_side_ok(col.values, low, "lower")).sum()) if low else 0
    above = int((finite & ~_side_ok(col.values, high, "upper")).sum()) if high else 0
    evidence.update(count_outside=count, count_below=below, count_above=above, evaluated=int(values.size),
                    min=float(values.min()), max=float(values.max()),
                    first_rows_outside=first_rows(outside, col.values), max_outside_share=max_outside_share)
    passed = count == 0 if max_outside_share == 0 else share <= max_outside_share
    message = (f"{count} of {values.size} values in {column!r} outside {bound.describe(column)}; "
               f"observed min {float(values.min())!r}, max {float(values.max())!r}")
    return Outcome(passed, share, message, evidence)


value_range.bound_is_per_value = True


def _side_ok(values, limit, which):
    key, value = limit
    if key == "gt":
        return values > value
    if key == "ge":
        return values >= value
    if key == "lt":
        return values < value
    return values <= value


@register(
    "statistic",
    params=(
        COLUMN,
        ELEMENT,
        Param("stat", "str", "which statistic", required=True, choices=STATISTICS),
        Param("q", "number", "the quantile, for stat = 'quantile'", min=0.0, max=1.0),
        Param("ddof", "int", "delta degrees of freedom, for stat = 'std' (default 0)", default=0, min=0),
        ALLOW_NONFINITE,
    ),
    artefacts=("predictions",),
    observes="the statistic's value",
    example="""
        [[check]]
        id = "magnitude-mean"
        kind = "statistic"
        severity = "must"
        column = "magnitude"
        stat = "mean"
        le = 0.10         # plan: "Mean ... Should be ~0.05, not 1.22"
    """,
)
def statistic(run, *, column, element, stat, q, ddof, allow_nonfinite_share, bound):
    """A column statistic (mean, median, std, min, max or a quantile) within the bound."""
    col = run.column(column, element)
    got = finite_values(col, allow_nonfinite_share)
    if isinstance(got, Outcome):
        return got
    values, _, evidence = got
    if stat == "std" and values.size <= ddof:  # the statistic is undefined on this run: never a pass
        return Outcome(False, None, f"std of {column!r} with ddof = {ddof} needs more than {ddof} values, "
                       f"the run has {values.size}", {**evidence, "evaluated": int(values.size)})
    value = column_statistic(values, stat, q, ddof)
    name = f"quantile({q!r})" if stat == "quantile" else stat
    evidence.update(stat=name, evaluated=int(values.size))
    if stat in ("min", "max"):
        where = int(np.flatnonzero(col.values == value)[0])
        evidence["at_row"] = where
    return Outcome(bound.contains(value), value, f"{name} of {column!r} is {value!r}", evidence)


def _statistic_params(params):
    if params["stat"] == "quantile" and params["q"] is None:
        return "q", "stat = 'quantile' needs q, a number in [0, 1]"
    if params["stat"] != "quantile" and params["q"] is not None:
        return "q", f"q is only used with stat = 'quantile', not {params['stat']!r}"
    return None


statistic.validate_params = _statistic_params
