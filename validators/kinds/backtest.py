"""Kinds judging strategy returns: PBO, Sharpe ratio, PSR and DSR.

Returns come from the run's ``returns.csv`` (one column per trial), or, when the spec has a
``[trials]`` table, are built from the predictions over a grid of confidence thresholds.
"""

from __future__ import annotations

import weakref

import numpy as np

from ..errors import ArtefactError
from ..registry import Param, register
from ..result import Outcome

TRIAL = Param("trial", "str", "trial column to judge, or 'best' for the highest Sharpe ratio (default)",
              default="best")


def _returns(run):
    returns = run.returns()
    path = returns.path
    values = returns.values
    if values.ndim != 2 or values.shape[1] == 0:
        raise ArtefactError(path, "no trial columns")
    count, first = _non_finite(values)
    if count:
        row, col = first
        columns = getattr(returns, "trial_columns", ())
        where = {"line": row + 2, "column": columns[col] if columns else col + 1} \
            if str(path).lower().endswith(".csv") else {}  # a Parquet file has rows, not lines
        raise ArtefactError(path, f"{count} returns are NaN, inf or missing; first in trial "
                            f"{returns.names[col]!r}, row {row}", **where)
    _no_overflow(returns, values, path)
    return returns, values, path


def _no_overflow(returns, values, path) -> None:
    """Refuse finite returns so large (near 1e307) that a trial's mean or variance overflows a float64:
    every statistic of that trial would be inf or NaN, and numpy would only warn."""
    with np.errstate(over="ignore", invalid="ignore"):
        mean = values.mean(axis=0)
        variance = np.zeros_like(mean) if values.shape[0] else mean
        for rows in _row_slices(values):  # no temporary of the matrix's size
            deviations = rows - mean
            variance += np.einsum("ij,ij->j", deviations, deviations)
        ok = np.isfinite(mean) & np.isfinite(variance)
    if not ok.all():
        j = int(np.flatnonzero(~ok)[0])
        largest = float(np.max(np.abs(values[:, j])))
        raise ArtefactError(path, f"returns of trial {str(returns.names[j])!r} overflow a float64 in their mean or "
                                  f"variance (values up to {largest:.0e}); "
                                  f"{int((~ok).sum())} of {values.shape[1]} trials do")


def _row_slices(values, elements=1 << 20):
    """Consecutive slices of rows holding about ``elements`` values each."""
    step = max(1, elements // max(1, values.shape[1]))
    for start in range(0, values.shape[0], step):
        yield values[start : start + step]


def _non_finite(values) -> tuple[int, tuple[int, int] | None]:
    """How many values are NaN or inf, and the first (row, column), scanned by slices of rows."""
    count, first, start = 0, None, 0
    for rows in _row_slices(values):
        bad = ~np.isfinite(rows)
        k = int(np.count_nonzero(bad))
        if k and first is None:
            row, col = (int(i) for i in np.argwhere(bad)[0])
            first = (start + row, col)
        count += k
        start += rows.shape[0]
    return count, first


def _period(returns) -> dict:
    """The returns' index and the period it covers, for the evidence."""
    index = getattr(returns, "index_column", None)
    if index is None:
        return {}
    out = {"index": index, "index_kind": getattr(returns, "index_kind", None)}
    period = getattr(returns, "period", None)
    if period:
        out["period"] = f"{period[0]} .. {period[1]}"
    return out


def _per_period_sharpes(values):
    """Per-trial mean / std (ddof 1); NaN for a trial that is exactly constant (its std is 0,
    or a rounding residue such as 1e-19 that would make a huge Sharpe ratio)."""
    constant = values.max(axis=0) == values.min(axis=0)
    top = np.max(np.abs(values), axis=0)
    _, exponent = np.frexp(np.where(top > 0, top, 1.0))
    values = np.ldexp(values, -exponent)  # each trial scaled by a power of two: exact, and 1e-160 never underflows
    std = values.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(~constant & (std > 0), values.mean(axis=0) / std, np.nan)


def _pick_trial(returns, values, trial, path):
    if trial == "best":
        sharpes = _per_period_sharpes(values)
        if not np.isfinite(sharpes).any():
            raise ArtefactError(path, "every trial is constant: no Sharpe ratio is defined")
        return int(np.nanargmax(sharpes))
    names = [str(c) for c in returns.names]
    if trial not in names:
        raise ArtefactError(path, f"no trial column {trial!r}; found {', '.join(repr(n) for n in names[:20])}",
                            line=1)
    return names.index(trial)


MIN_PERIODS = 30  # Sharpe, PSR, DSR: fewer periods make the statistic (and its skew, kurtosis) noise


def _trial_statistic(run, trial, bound, label, compute, with_trial_count=False, **extra):
    """``compute(values, j)`` for the chosen trial ``j``: a Sharpe-family value within the bound.

    Undefined (a ``SharpeError``) fails the check, with the reason.
    """
    from ..stats.sharpe import SharpeError

    returns, values, path = _returns(run)
    if values.shape[0] < MIN_PERIODS:
        raise ArtefactError(path, f"{values.shape[0]} periods: the {label} needs at least {MIN_PERIODS} to be "
                                  "judged (fewer make it, and the skew and kurtosis it rests on, noise)")
    j = _pick_trial(returns, values, trial, path)
    name = str(returns.names[j])
    try:
        value = compute(values, j)
    except SharpeError as exc:
        return Outcome(False, None, f"{label} of trial {name!r} is undefined: {exc}", {"file": path})
    evidence = {"file": path, "trial": name, **_period(returns)}
    if with_trial_count:
        evidence["trials"] = int(values.shape[1])
    evidence.update(rows=int(values.shape[0]), **extra)
    return Outcome(bound.contains(value), value, f"{label} of trial {name!r} is {value!r}", evidence)


BAND_RESAMPLES = 200  # the pbo kind's default: 200 resamples of each kind (n_splits <= 18)


@register(
    "pbo",
    params=(
        Param("n_splits", "int", "number S of contiguous blocks, even (default 16)", default=16, min=2),
        Param("metric", "str", "performance used to select and rank trials", default="sharpe",
              choices=("sharpe", "mean", "sum")),
        Param("resamples", "int", "block-bootstrap resamples of each kind for the band beside PBO; 0: no band "
              f"(default {BAND_RESAMPLES}, or 0 when n_splits > 18)", min=0),
        Param("seed", "int", "the resamples' seed: the same seed gives the same band (default 0)", default=0, min=0),
        Param("level", "number", "coverage of the interval for PBO, strictly between 0 and 1 (default 0.90)",
              default=0.90),
        Param("judge", "str", "what the bound judges: 'estimate' (PBO itself) or 'upper' (the interval's high end)",
              default="estimate", choices=("estimate", "upper")),
        Param("null_share_le", "number", "also require the share of skill-less resamples with PBO at or below "
              "the observed one to be at most this (optional)", min=0.0, max=1.0),
    ),
    artefacts=("returns",),
    observes="probability of backtest overfitting (0 to 1), or the high end of its interval (judge = 'upper')",
    example="""
        [[check]]
        id = "pbo"
        kind = "pbo"
        severity = "must"
        n_splits = 16
        lt = 0.3          # plan: "PBO should remain low (< 0.3)"
    """,
)
def pbo_check(run, *, n_splits, metric, resamples, seed, level, judge, null_share_le, bound):
    """Probability of backtest overfitting by CSCV (Bailey, Borwein, López de Prado, Zhu 2017), with
    a band beside it: a block-bootstrap interval and the share of skill-less resamples as low.

    Too few rows for the splits, fewer than two trials, NaN in the returns or a constant
    trial make the check an error; a PBO that is undefined on the data (a trial flat over
    one half) fails it. ``judge = "upper"`` applies the bound to the interval's high end;
    ``null_share_le`` fails a PBO that resamples without skill reach too often.
    """
    from ..stats.cscv import PBOError

    returns, values, path = _returns(run)
    T, N = values.shape
    if N < 2:
        raise ArtefactError(path, f"{N} trial column: PBO needs at least 2 trials to select among")
    if T < n_splits:
        raise ArtefactError(path, f"{T} rows are too few for n_splits = {n_splits} blocks")
    constant = np.flatnonzero(values.max(axis=0) == values.min(axis=0))
    if constant.size:
        raise ArtefactError(path, f"trial {returns.names[constant[0]]!r} is constant: its Sharpe ratio is "
                            "undefined; drop it from the returns")
    resamples = _band_resamples(resamples, n_splits)
    try:
        result = cscv_once(run, returns, values, n_splits=n_splits, metric=metric,
                           resamples=resamples or None, seed=seed, level=level)
    except PBOError as exc:
        return Outcome(False, None, f"PBO is undefined on these returns: {exc}", {"file": path})
    logits = result.logits
    quartiles = np.quantile(logits, [0.0, 0.25, 0.5, 0.75, 1.0])
    deg = result.degradation
    evidence = {
        "file": path,
        **_period(returns),
        "trials": N,
        "rows_used": result.n_rows_used,
        "rows_dropped": result.rows_dropped,
        "n_splits": result.n_splits,
        "combinations": result.n_combinations,
        "pbo": result.pbo,
        "logits_at_or_below_0": int(np.count_nonzero(logits <= 0)),
        "logit_min": float(quartiles[0]),
        "logit_q1": float(quartiles[1]),
        "logit_median": float(quartiles[2]),
        "logit_q3": float(quartiles[3]),
        "logit_max": float(quartiles[4]),
        "logit_histogram": _histogram(logits),
        "probability_of_loss": result.probability_of_loss,
        "degradation": None if deg is None else {"slope": deg.slope, "intercept": deg.intercept, "r2": deg.r2},
        "metric": metric,
        "judge": judge,
        "band": _band_evidence(result.band, resamples, n_splits),
    }
    message = (f"PBO = {result.pbo!r}: {evidence['logits_at_or_below_0']} of {result.n_combinations} splits of "
               f"{N} trials have logit <= 0 (logits min {evidence['logit_min']!r}, median "
               f"{evidence['logit_median']!r}, max {evidence['logit_max']!r}; probability of loss "
               f"{result.probability_of_loss!r})")
    band = result.band
    if band is not None:
        interval = ("undefined on every resample" if band.interval is None else
                    f"{band.interval[0]!r} to {band.interval[1]!r}")
        message += (f"; {level:.0%} interval {interval} ({band.resamples} resamples of {band.block_length}-row "
                    f"blocks, seed {band.seed}); null share {band.null_share!r}")
    if "period" in evidence:
        message += f"; {T} periods {evidence['period']} (index {evidence['index']!r})"
    observed = result.pbo
    if judge == "upper":
        if band is None or band.interval is None:
            return Outcome(False, None, message + "; judged on the interval's high end, which is undefined", evidence)
        observed = band.interval[1]
        message += f"; judged on the interval's high end {observed!r}"
    passed = bound.contains(observed)
    if null_share_le is not None:
        evidence["null_share_le"] = null_share_le
        share = None if band is None else band.null_share
        if share is None or not share <= null_share_le:
            passed = False
            message += (f"; null share {share!r} is not <= {null_share_le!r}: selection among trials without skill "
                        "reaches this PBO too often")
    return Outcome(passed, observed, message, evidence)


def _band_resamples(resamples, n_splits) -> int:
    if resamples is None:
        return BAND_RESAMPLES if n_splits <= 18 else 0
    return resamples


def _band_evidence(band, resamples, n_splits) -> dict:
    """The band for every report; the two PBO distributions as 20-bin histograms over [0, 1]."""
    if band is None:
        why = "resamples = 0" if resamples == 0 else "not computed"
        if resamples == 0 and n_splits > 18:
            why = "resamples = 0 (the band needs n_splits <= 18)"
        return {"computed": False, "why": why}
    edges = np.linspace(0.0, 1.0, 21)

    def histogram(values):
        counts, _ = np.histogram(values[np.isfinite(values)], bins=edges)
        return {"counts": [int(c) for c in counts], "edges": [float(e) for e in edges]}

    return {
        "computed": True,
        "interval": None if band.interval is None else [band.interval[0], band.interval[1]],
        "level": band.level,
        "null_share": band.null_share,
        "resamples": band.resamples,
        "seed": band.seed,
        "block_length": band.block_length,
        "method": "block bootstrap: S of the S CSCV blocks drawn with replacement; the null removes each "
                  "trial's mean first",
        "bootstrap_undefined": band.bootstrap_undefined,
        "null_undefined": band.null_undefined,
        "bootstrap_histogram": histogram(band.bootstrap),
        "null_histogram": histogram(band.null),
    }


# One CSCV per returns matrix and parameter set per run: ``pbo`` and ``pbo-improved`` in the plan's
# spec judge the same computation. Keyed on the Run (weakly: the memo goes with the run) and on
# the returns object the run read once, with the parameters.
_CSCV_MEMO: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def cscv_once(run, returns, values, **params):
    """``validators.stats.cscv.pbo`` of the run's returns with ``params``, computed once per run;
    a ``PBOError`` is remembered and raised again."""
    from ..stats.cscv import PBOError, pbo

    memo = _CSCV_MEMO.setdefault(run, {})
    key = (id(returns), returns.path, tuple(sorted(params.items())))
    if key not in memo:
        try:
            memo[key] = (True, pbo(_Named(returns.names, values), **params))
        except PBOError as exc:
            memo[key] = (False, exc)
    ok, value = memo[key]
    if not ok:
        raise value
    return value


class _Named:
    """Trial names beside the matrix, the way ``pbo`` reads a DataFrame's (without pandas)."""

    def __init__(self, names, values):
        self.columns = tuple(names)
        self.values = values

    def to_numpy(self, dtype=None, na_value=None):
        return self.values


def _histogram(logits, bins=20) -> dict:
    counts, edges = np.histogram(logits, bins=bins)
    return {"counts": [int(c) for c in counts], "edges": [float(e) for e in edges]}


def _pbo_params(params):
    if params["n_splits"] % 2:
        return "n_splits", f"n_splits must be even, got {params['n_splits']!r}"
    if not 0.0 < params["level"] < 1.0:
        return "level", f"level must be strictly between 0 and 1, got {params['level']!r}"
    resamples = _band_resamples(params["resamples"], params["n_splits"])
    if resamples and params["n_splits"] > 18:
        return "resamples", (f"the band needs n_splits <= 18, got n_splits = {params['n_splits']}; "
                             "set resamples = 0 for PBO alone")
    if not resamples:
        for key, value in (("judge", params["judge"] == "upper"), ("null_share_le", params["null_share_le"] is not None)):
            if value:
                return key, f"{key} needs the band: resamples must be >= 1 (it is 0)"
    return None


pbo_check.validate_params = _pbo_params


@register(
    "sharpe",
    params=(
        TRIAL,
        Param("periods_per_year", "number", "annualisation: Sharpe times sqrt(periods_per_year) (default 1)",
              default=1.0, min=0.0),
    ),
    artefacts=("returns",),
    observes="Sharpe ratio, annualised",
    example="""
        [[check]]
        id = "sharpe"
        kind = "sharpe"
        severity = "nice"
        trial = "best"
        periods_per_year = 252
        gt = 0.5          # plan: "Sharpe ratio > 0.5"
    """,
)
def sharpe(run, *, trial, periods_per_year, bound):
    """Sharpe ratio (mean / std, ddof=1) of one trial, annualised by sqrt(periods_per_year)."""
    from ..stats.sharpe import sharpe_ratio

    return _trial_statistic(
        run, trial, bound, "Sharpe ratio",
        lambda values, j: sharpe_ratio(values[:, j], periods_per_year=periods_per_year),
        periods_per_year=periods_per_year, selected_by="highest Sharpe ratio" if trial == "best" else "name")


def _sharpe_params(params):
    if params["periods_per_year"] is not None and params["periods_per_year"] <= 0:
        return "periods_per_year", "periods_per_year must be > 0"
    return None


sharpe.validate_params = _sharpe_params


@register(
    "psr",
    params=(TRIAL, Param("sr_benchmark", "number", "benchmark Sharpe ratio, per period (default 0)", default=0.0)),
    artefacts=("returns",),
    observes="probabilistic Sharpe ratio (0 to 1)",
    example="""
        [[check]]
        id = "psr"
        kind = "psr"
        severity = "nice"
        ge = 0.95
    """,
)
def psr(run, *, trial, sr_benchmark, bound):
    """Probabilistic Sharpe ratio (Bailey and López de Prado 2012) of one trial."""
    from ..stats.sharpe import probabilistic_sharpe_ratio_from_returns

    return _trial_statistic(run, trial, bound, "PSR",
                            lambda values, j: probabilistic_sharpe_ratio_from_returns(values[:, j], sr_benchmark),
                            sr_benchmark=sr_benchmark)


@register(
    "dsr",
    params=(TRIAL,),
    artefacts=("returns",),
    observes="deflated Sharpe ratio (0 to 1)",
    example="""
        [[check]]
        id = "dsr"
        kind = "dsr"
        severity = "nice"
        ge = 0.95
    """,
)
def dsr(run, *, trial, bound):
    """Deflated Sharpe ratio (Bailey and López de Prado 2014): PSR against the expected maximum
    Sharpe ratio of as many null trials as there are columns, with their Sharpe ratios' variance."""
    from ..stats.sharpe import deflated_sharpe_ratio_from_trials

    return _trial_statistic(run, trial, bound, "DSR",
                            lambda values, j: deflated_sharpe_ratio_from_trials(values, selected=j),
                            with_trial_count=True)
