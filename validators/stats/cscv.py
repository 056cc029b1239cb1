"""Probability of backtest overfitting (PBO) by combinatorially symmetric cross-validation.

Bailey, Borwein, López de Prado and Zhu, "The Probability of Backtest Overfitting",
Journal of Computational Finance (2017). The ``T`` rows (periods) of a ``T x N`` matrix of
trial returns are cut into ``S = n_splits`` contiguous blocks of equal size. For each of the
``C(S, S/2)`` choices of in-sample blocks (a *split*; in-sample and out-of-sample blocks both
keep their original order), the trial with the best in-sample performance, ``n*``, is ranked
out of sample among all ``N`` trials: ``omega = rank / (N + 1)`` with rank 1 the worst,
``lambda = ln(omega / (1 - omega))``. PBO is the share of splits with ``lambda <= 0``
(inclusive, as in section 3.1 of the paper). Higher metric values are better, for the built-in
metrics and for a callable alike.

Decisions where the paper is silent (each one is tested in ``tests/stats/test_cscv.py``):

* **Split order.** Splits are enumerated as ``itertools.combinations(range(S), S // 2)``
  of in-sample block indices (lexicographic). Split ``i`` and split ``C - 1 - i`` are
  complements of each other (in-sample and out-of-sample swapped).
* **Ties out of sample** get the average rank: ``rank = (#trials strictly worse) +
  (#trials equal, the selected one included, + 1) / 2``. So ``lambda <= 0`` exactly when
  ``2 * rank <= N + 1``, decided in integers, never through a rounded logarithm.
* **Ties in sample**: the first (lowest column index) best trial is selected
  (``numpy.argmax``).
* **T not divisible by S**: the first (oldest) ``T mod S`` rows are dropped so that every block
  holds ``T // S`` rows; the result reports ``rows_dropped`` and ``n_rows_used``.
* **n_splits** must be an even integer >= 2 (else ``PBOError``); ``S > T`` is an error; more
  than ``MAX_COMBINATIONS`` splits (``S > 24``) is refused rather than left to run for hours.
* **N < 2** trials is an error: there is nothing to select among.
* **NaN or inf** anywhere in ``returns`` (the dropped oldest rows included) is an error that
  names the count and the first position (row, trial): fill or drop them first.
* **A trial with zero variance over a half** (it is constant over all rows of ``S/2`` blocks)
  makes its Sharpe ratio 0/0 in every split that uses that half, in sample or out of sample.
  ``metric="sharpe"`` then raises ``PBOError`` naming the trial, the blocks and a split; it
  never scores the trial 0 and never drops logits. Constancy is decided exactly (block minimum
  equals block maximum, same value across blocks), so it does not depend on rounding. A half of
  a single row (``S = 2`` with one row per block) is refused for the same reason.
* **A callable metric** must return one finite number per trial; anything else (wrong shape,
  NaN, inf) raises ``PBOError`` naming the trial and the split.

Metrics:

* ``"sharpe"``: ``mean / std`` over the rows of the half, ``std`` with ``ddof=1``, per period
  (not annualised: annualising multiplies every trial by the same factor and changes no rank).
* ``"mean"``, ``"sum"``: mean and sum of the half's returns. With equal blocks every half has
  the same number of rows, so both give the same ranks; the reported performances differ.
* any callable ``metric(rows_2d) -> array of N``: the general path.

The named metrics take the *fast path* (``cscv_blocks``): one pass over the rows, block by
block, gives each block's sum and sum of squares per trial (``S x N``; no temporary of the
matrix's size); a half's sums are then read from subset-sum tables (the sums over every subset
of blocks 0-7 and of blocks 8-15: two table rows per half, no matrix product and so no BLAS
threads), so a split costs ``O(N)``, not ``O(T N)``. Each trial is shifted by its mean, and a
half's variance is ``sum of squares - (sum)**2 / (n h)`` about that shift (``n`` rows per block,
``h = S/2`` blocks per half), accurate to about ``eps * max block sum of squares / min block
M2``; a trial where that ratio exceeds ``HARD_RATIO`` (a mean large against its spread, a much
quieter block, a constant block) is recomputed exactly in two passes over its columns and its
halves use the equal-size form of Chan et al.'s parallel update,
``M2_half = sum_b M2_b + (n / h) * sum_{b < b' in half} (mean_b - mean_b')**2``, where every
term is non-negative. Splits are processed in chunks of complementary pairs (each half's
statistics serve as in-sample of one split and out-of-sample of its complement) with work
arrays reused from chunk to chunk and bounded by ``CHUNK_ELEMENTS``. The selected trial's
out-of-sample rank takes ``O(N)`` comparisons, not a sort. The general path calls the metric
on the rows of each half; both paths share the selection and ranking code.

With ``resamples``, ``pbo`` also returns a band (``pbo_band``): a block-bootstrap interval for
PBO and the share of skill-less resamples whose PBO is as low.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> result = pbo(rng.standard_normal((160, 8)), n_splits=4)
>>> result.n_combinations, result.logits.shape
(6, (6,))
>>> 0.0 <= result.pbo <= 1.0
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations, islice
from typing import TYPE_CHECKING

import numpy as np

from .cscv_blocks import (
    BlockStats,
    NotFinite,
    PBOError,
    Workspace,
    block_stats,
    complement_membership,
    exact_hard,
    gather_sums,
    membership,
    part_indices,
    performance,
    sharpe_from_key,
    subset_sums,
    table_values,
)

if TYPE_CHECKING:  # pragma: no cover
    from .pbo_band import PBOBand

__all__ = [
    "CHUNK_ELEMENTS",
    "MAX_COMBINATIONS",
    "METRICS",
    "Degradation",
    "PBOError",
    "PBOResult",
    "pbo",
    "split_blocks",
]

MAX_COMBINATIONS = 10_000_000  # C(24, 12) = 2,704,156 is allowed; C(26, 13) = 10,400,600 is not
CHUNK_ELEMENTS = 1 << 16  # float64 elements per (split x statistic) work array: 512 KiB


@dataclass(frozen=True)
class Degradation:
    """Least-squares line of out-of-sample on in-sample performance of the selected trial."""

    slope: float
    intercept: float
    r2: float


@dataclass(frozen=True, eq=False)
class PBOResult:
    """Outcome of CSCV. Arrays hold one entry per split, in split order, and are read-only.

    ``degradation`` is ``None`` when the selected trial's in-sample or out-of-sample
    performance is the same in every split (a fitted line's R^2 is then undefined).
    ``trial_names`` are the DataFrame's column labels, or ``0 .. N-1`` for an array (as pandas
    would name them).
    """

    pbo: float
    logits: np.ndarray = field(repr=False)
    is_performance: np.ndarray = field(repr=False)
    oos_performance: np.ndarray = field(repr=False)
    selected: np.ndarray = field(repr=False)
    degradation: Degradation | None
    probability_of_loss: float
    n_splits: int
    n_combinations: int
    n_rows_used: int
    rows_dropped: int
    trial_names: tuple[Hashable, ...] = field(repr=False)
    metric: str
    band: PBOBand | None = field(default=None, repr=False)

    @property
    def interval(self) -> tuple[float, float] | None:
        """The band's ``(low, high)`` interval for PBO, or None without ``resamples``."""
        return None if self.band is None else self.band.interval

    @property
    def null_share(self) -> float | None:
        """The band's share of skill-less resamples with PBO at or below ``pbo``, or None."""
        return None if self.band is None else self.band.null_share


# --- metrics for the general path (also usable as ``metric=METRICS["sharpe"]``) -----------


def block_sharpe(rows: np.ndarray) -> np.ndarray:
    """Per-column ``mean / std`` (``ddof=1``); NaN for a column that is constant over ``rows``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = rows.mean(axis=0) / rows.std(axis=0, ddof=1)
    out[rows.max(axis=0) == rows.min(axis=0)] = np.nan
    return out


def block_mean(rows: np.ndarray) -> np.ndarray:
    """Per-column mean."""
    return rows.mean(axis=0)


def block_sum(rows: np.ndarray) -> np.ndarray:
    """Per-column sum."""
    return rows.sum(axis=0)


METRICS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sharpe": block_sharpe,
    "mean": block_mean,
    "sum": block_sum,
}


# --- public entry point -------------------------------------------------------------------


def pbo(
    returns,
    n_splits: int = 16,
    metric: str | Callable[[np.ndarray], np.ndarray] = "sharpe",
    *,
    resamples: int | None = None,
    seed: int = 0,
    level: float = 0.90,
) -> PBOResult:
    """Probability of backtest overfitting of the trials in ``returns`` (see module docstring).

    Parameters
    ----------
    returns : numpy 2-D array or pandas DataFrame, T rows (periods) x N columns (trials).
    n_splits : even int >= 2, the number S of contiguous blocks.
    metric : ``"sharpe"``, ``"mean"``, ``"sum"`` (fast path) or a callable taking a
        ``rows x N`` array and returning N performances, higher is better (general path).
    resamples : int >= 1 or None. With a number, the result's ``band`` holds a ``level``
        interval for PBO from as many block-bootstrap resamples, and the share of as many
        skill-less resamples whose PBO is at or below this one (``validators.stats.pbo_band``).
        None (the default) computes the estimate only.
    seed : int >= 0, the resamples' seed (``numpy.random.Generator(PCG64(seed))``): the same
        seed gives the same band, bit for bit.
    level : the interval's coverage, strictly between 0 and 1 (default 0.90).

    Raises
    ------
    PBOError
        For invalid parameters or data, and wherever the metric is undefined.
    """
    S = _check_n_splits(n_splits)
    metric_name = _check_metric(metric)
    if resamples is not None:
        from .pbo_band import check_band_params

        check_band_params(resamples, seed, level, S)
    data, names = _as_matrix(returns)
    T, N = data.shape
    if N < 2:
        raise PBOError(f"returns has {N} trial column(s); PBO needs at least 2 trials to select among")
    if S > T:
        raise PBOError(
            f"n_splits={S} blocks need at least {S} rows, but returns has {T}; "
            f"use n_splits <= {T - T % 2} or more rows"
        )
    dropped = T % S
    if dropped and not np.isfinite(data[:dropped]).all():
        raise _not_finite_error(data, names, T // S)
    used = _in_safe_range(data[dropped:])
    n = used.shape[0] // S
    h = S // 2
    if metric == "sharpe" and n * h < 2:
        raise PBOError(
            f"each half has {n * h} row; the Sharpe ratio needs at least 2 rows per half: "
            "use more rows or n_splits >= 4"
        )

    n_comb = math.comb(S, h)
    stats = None
    work = Workspace()
    if isinstance(metric, str):
        try:
            stats = block_stats(used, S, metric)
        except NotFinite:
            raise _not_finite_error(data, names, n) from None
        pairs = _fast_halves(stats, names, work)
    else:
        _check_finite(data, names, n)
        pairs = _general_halves(used, S, metric, names)
    logits = np.empty(n_comb)
    is_perf = np.empty(n_comb)
    oos_perf = np.empty(n_comb)
    selected = np.empty(n_comb, dtype=np.intp)
    at_or_below_median = _consume(pairs, n_comb, N, (logits, is_perf, oos_perf, selected), work)
    if stats is not None and stats.metric == "sharpe":  # rank keys back to Sharpe ratios
        is_perf[:] = sharpe_from_key(is_perf, stats)
        oos_perf[:] = sharpe_from_key(oos_perf, stats)

    for a in (logits, is_perf, oos_perf, selected):
        a.setflags(write=False)
    estimate = at_or_below_median / n_comb
    band = None
    if resamples is not None:
        from .pbo_band import pbo_band

        band = pbo_band(stats if stats is not None else (used, lambda rows: pbo(rows, S, metric).pbo), S,
                        estimate, resamples=int(resamples), seed=int(seed), level=float(level))
    return PBOResult(
        pbo=estimate,
        logits=logits,
        is_performance=is_perf,
        oos_performance=oos_perf,
        selected=selected,
        degradation=_degradation(is_perf, oos_perf),
        probability_of_loss=float(np.count_nonzero(oos_perf < 0)) / n_comb,
        n_splits=S,
        n_combinations=n_comb,
        n_rows_used=int(used.shape[0]),
        rows_dropped=int(dropped),
        trial_names=names,
        metric=metric_name,
        band=band,
    )


def _consume(pairs, n_comb: int, N: int, out: tuple, work: Workspace) -> int:
    """Select and rank over the chunks of ``pairs``, writing each split's results into ``out``;
    the number of splits with logit <= 0."""
    logits, is_perf, oos_perf, selected = out
    count = 0
    for start, half, comp in pairs:
        # Split i: in-sample = half, out-of-sample = comp; split C-1-i is its mirror image.
        first = np.arange(start, start + half.shape[0])
        rows = np.arange(half.shape[0])
        for idx, perf_is, perf_oos in ((first, half, comp), (n_comb - 1 - first, comp, half)):
            sel, two_rank = _select_and_rank(perf_is, perf_oos, work)
            selected[idx] = sel
            is_perf[idx] = perf_is[rows, sel]
            oos_perf[idx] = perf_oos[rows, sel]
            logits[idx] = np.log(two_rank / (2 * (N + 1) - two_rank))
            count += int(np.count_nonzero(two_rank <= N + 1))
    return count


def split_blocks(index: int, n_splits: int = 16) -> tuple[int, ...]:
    """In-sample block indices of split ``index`` (the order used by ``pbo``)."""
    S = _check_n_splits(n_splits)
    n_comb = math.comb(S, S // 2)
    if not (isinstance(index, (int, np.integer)) and 0 <= index < n_comb):
        raise PBOError(f"split index must be an int in [0, {n_comb}), got {index!r}")
    return next(islice(combinations(range(S), S // 2), int(index), None))


# --- validation ---------------------------------------------------------------------------


def _check_n_splits(n_splits) -> int:
    if isinstance(n_splits, bool) or not isinstance(n_splits, (int, np.integer)):
        raise PBOError(f"n_splits must be an even integer >= 2, got {n_splits!r}")
    S = int(n_splits)
    if S < 2 or S % 2:
        raise PBOError(f"n_splits must be an even integer >= 2, got {S}; the paper uses 16")
    if math.comb(S, S // 2) > MAX_COMBINATIONS:
        raise PBOError(
            f"n_splits={S} gives {math.comb(S, S // 2):,} splits, more than {MAX_COMBINATIONS:,}; "
            "use n_splits <= 24 (16 is the paper's choice)"
        )
    return S


def _check_metric(metric) -> str:
    if isinstance(metric, str):
        if metric not in METRICS:
            raise PBOError(f"unknown metric {metric!r}; use one of {sorted(METRICS)} or a callable")
        return metric
    if callable(metric):
        return getattr(metric, "__name__", repr(metric))
    raise PBOError(f"metric must be one of {sorted(METRICS)} or a callable, got {metric!r}")


def _as_matrix(returns) -> tuple[np.ndarray, tuple[Hashable, ...]]:
    names = None
    if hasattr(returns, "columns") and hasattr(returns, "to_numpy"):  # a pandas DataFrame
        names = tuple(returns.columns)
        try:
            data = returns.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise PBOError(f"returns has non-numeric columns ({exc}); pass trial returns only") from None
    else:
        try:
            data = np.asarray(returns, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise PBOError(f"returns cannot be read as numbers ({exc})") from None
    if data.ndim != 2:
        raise PBOError(
            f"returns must be 2-D (T periods x N trials), got shape {data.shape}; pass one column per trial"
        )
    if names is None:
        names = tuple(range(data.shape[1]))
    return data, names


_SAFE_EXPONENT = 200  # returns within 2**-200 .. 2**200 in magnitude: their sums of squares neither under- nor overflow


def _in_safe_range(data: np.ndarray) -> np.ndarray:
    """``data`` scaled by a power of two when its largest magnitude lies outside the safe range.

    Every metric's ranking of the trials (Sharpe, mean, sum) is unchanged by one positive scale for
    all trials, and a power of two scales exactly; returns near 1e-160 (whose squares underflow) or
    1e300 (whose squares overflow) so give the PBO of the same returns near 1. Only such inputs pay
    for the copy; the max and min are reductions, with no temporary of the input's size. NaN and
    inf are left for the finiteness check to name.
    """
    if data.size == 0:
        return data
    with np.errstate(invalid="ignore"):
        tops = np.maximum(np.max(data, axis=0), -np.min(data, axis=0))  # each trial's largest magnitude
    top = float(np.max(tops))
    if not math.isfinite(top) or top == 0.0:
        return data
    exponent = math.frexp(top)[1]
    if -_SAFE_EXPONENT <= exponent <= _SAFE_EXPONENT:
        return data
    smallest = float(np.min(tops[tops > 0]))
    if math.frexp(smallest)[1] - exponent < -_SAFE_EXPONENT:
        return data  # trials too far apart for one scale to suit them all: the range checks below name it
    return np.ldexp(data, -exponent)


def _check_finite(data: np.ndarray, names: tuple, step: int) -> None:
    """NaN or inf anywhere is an error naming the count and the first position (checked in
    slices of rows: no boolean matrix of the input's size)."""
    for start in range(0, data.shape[0], max(1, step)):
        if not np.isfinite(data[start : start + step]).all():
            raise _not_finite_error(data, names, step)


def _split_index(is_blocks: tuple[int, ...], S: int) -> int:
    """Lexicographic index of ``is_blocks`` among ``combinations(range(S), S // 2)``."""
    k, index, prev = len(is_blocks), 0, -1
    for i, b in enumerate(is_blocks):
        for j in range(prev + 1, b):
            index += math.comb(S - 1 - j, k - 1 - i)
        prev = b
    return index


def _undefined_split_error(names, trial: int, blocks: tuple[int, ...], S: int, n: int, why: str) -> PBOError:
    """An error naming a trial and the split whose half ``blocks`` its metric is undefined on."""
    blocks = tuple(int(b) for b in blocks)
    i = _split_index(blocks, S)
    C = math.comb(S, S // 2)
    rows = ", ".join(f"{b * n}-{(b + 1) * n - 1}" for b in blocks)
    return PBOError(
        f"trial {names[trial]!r}: {why} over blocks {blocks} (rows {rows} of the rows used), "
        f"the in-sample half of split {i} and the out-of-sample half of split {C - 1 - i}; "
        "drop or fix that trial, use a metric defined there, or change n_splits"
    )


def _not_finite_error(data: np.ndarray, names: tuple, step: int) -> PBOError:
    """The count and first position of NaN or inf in ``data``, scanned in slices of rows; or,
    when every value is finite, the overflow of a block's sum or sum of squares."""
    count, first = 0, None
    for start in range(0, data.shape[0], max(1, step)):
        bad = ~np.isfinite(data[start : start + step])
        k = int(np.count_nonzero(bad))
        if k and first is None:
            row, col = (int(v) for v in np.argwhere(bad)[0])
            first = (start + row, col)
        count += k
    if first is None:
        return PBOError(
            "returns are so large (near 1e154 or beyond) that a block's sum or sum of squares "
            "overflows a float64; rescale them before computing PBO"
        )
    row, col = first
    return PBOError(
        f"returns has {count} non-finite value(s) (NaN or inf); the first is "
        f"{float(data[row, col])!r} at row {row}, trial {names[col]!r}: "
        "fill or drop them before computing PBO"
    )


# --- fast path ----------------------------------------------------------------------------


def _first_halves(S: int, chunk: int):
    """Yield (start, 0/1 membership matrix) for the splits containing block 0, in chunks."""
    total = math.comb(S, S // 2) // 2  # the first half of the order contains block 0
    if S <= 18:  # C(18, 9) / 2 x 18 floats: 3.5 MB, kept
        member = membership(S)
        for start in range(0, total, chunk):
            yield start, member[start : start + chunk]
        return
    it = combinations(range(S), S // 2)
    start = 0
    while start < total:
        combos = np.array(list(islice(it, min(chunk, total - start))), dtype=np.intp)
        member = np.zeros((combos.shape[0], S))
        member[np.arange(combos.shape[0])[:, None], combos] = 1.0
        yield start, member
        start += combos.shape[0]


def _constant_half(stats: BlockStats, names: tuple) -> None:
    """Raise if some trial is constant over S/2 blocks with the same value (Sharpe 0/0)."""
    S, n, h = stats.S, stats.n, stats.S // 2
    const = stats.const
    for j in np.flatnonzero(np.count_nonzero(const, axis=0) >= h):
        values, counts = np.unique(stats.cmean[const[:, j], j], return_counts=True)
        if (counts >= h).any():
            value = values[np.argmax(counts >= h)]
            members = np.flatnonzero(const[:, j] & (stats.cmean[:, j] == value))[:h]
            raise _undefined_split_error(
                names,
                int(j),
                tuple(members),
                S,
                n,
                f"zero variance (constant {float(value + stats.shift[j])!r}), so its Sharpe ratio is 0/0,",
            )


def _fast_halves(stats: BlockStats, names: tuple, work: Workspace):
    """Yield (start, perf_half, perf_complement) for chunks of the splits containing block 0
    (views of work arrays, valid until the next chunk)."""
    S, n = stats.S, stats.n
    if stats.metric == "sharpe":
        _constant_half(stats, names)
    values, shift_term = table_values(stats)
    tables = subset_sums(values)
    hard = stats.metric == "sharpe" and stats.hard.any()
    chunk = max(1, CHUNK_ELEMENTS // values.shape[1])
    for start, member in _first_halves(S, chunk):
        c = member.shape[0]
        both = np.concatenate([member, _complement(member, S, start)])  # halves, then complements
        perf = performance(stats, gather_sums(tables, _table_rows(both, S, start), work), shift_term, work)
        if hard:
            exact_hard(stats, perf, both)
        if stats.metric == "sharpe" and not np.isfinite(perf).all():
            # variance underflowed though the half is not constant
            r, j = (int(v) for v in np.argwhere(~np.isfinite(perf))[0])
            raise _undefined_split_error(
                names,
                j,
                tuple(np.flatnonzero(both[r])),
                S,
                n,
                "variance too small to compute a Sharpe ratio",
            )
        yield start, perf[:c], perf[c:]


def _table_rows(both: np.ndarray, S: int, start: int) -> np.ndarray:
    """The subset-table rows of a chunk's halves and complements (kept per S up to 18)."""
    if S > 18:
        return part_indices(both)
    first, comp = _split_table_rows(S)
    c = both.shape[0] // 2
    return np.concatenate([first[start : start + c], comp[start : start + c]])


@lru_cache(maxsize=8)
def _split_table_rows(S: int) -> tuple[np.ndarray, np.ndarray]:
    out = part_indices(membership(S)), part_indices(complement_membership(S))
    for a in out:
        a.setflags(write=False)
    return out


def _complement(member: np.ndarray, S: int, start: int) -> np.ndarray:
    if S <= 18:
        return complement_membership(S)[start : start + member.shape[0]]
    return 1.0 - member


# --- general path -------------------------------------------------------------------------


def _general_halves(data: np.ndarray, S: int, metric: Callable, names: tuple):
    T, N = data.shape
    n = T // S
    chunk = max(1, CHUNK_ELEMENTS // N)
    for start, member in _first_halves(S, chunk):
        c = member.shape[0]
        perf = np.empty((2 * c, N))
        for r, row in enumerate(np.concatenate([member, 1.0 - member])):
            half = tuple(int(b) for b in np.flatnonzero(row))
            rows = np.concatenate([np.arange(b * n, (b + 1) * n) for b in half])
            perf[r] = _call_metric(metric, data[rows], N, names, half, S, n)
        yield start, perf[:c], perf[c:]


def _call_metric(metric, rows, N, names, half, S, n) -> np.ndarray:
    try:
        out = np.asarray(metric(rows), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise PBOError(
            f"metric {_check_metric(metric)!r} returned something that is not numbers: {exc}"
        ) from None
    if out.shape != (N,):
        raise PBOError(
            f"metric {_check_metric(metric)!r} returned shape {out.shape}; it must return one "
            f"number per trial, shape ({N},)"
        )
    bad = ~np.isfinite(out)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise _undefined_split_error(
            names, j, half, S, n, f"metric {_check_metric(metric)!r} returned {float(out[j])!r}"
        )
    return out


# --- shared selection, ranking, summary ---------------------------------------------------


def _select_and_rank(perf_is: np.ndarray, perf_oos: np.ndarray,
                     work: Workspace | None = None) -> tuple[np.ndarray, np.ndarray]:
    """First best in-sample trial per split, and twice its average out-of-sample rank (an int)."""
    work = work or Workspace()
    sel = np.argmax(perf_is, axis=1)
    chosen = perf_oos[np.arange(perf_oos.shape[0]), sel][:, None]
    mask = work.get("mask", perf_oos.shape, bool)
    count = np.int16 if perf_oos.shape[1] < 32_000 else np.int64  # a bool sum in int16 is 4x a count_nonzero
    worse = np.less(perf_oos, chosen, out=mask).sum(axis=1, dtype=count).astype(np.int64)
    at_most = np.less_equal(perf_oos, chosen, out=mask).sum(axis=1, dtype=count)  # with the selected
    return sel, worse + at_most + 1


def _degradation(x: np.ndarray, y: np.ndarray) -> Degradation | None:
    dx, dy = x - x.mean(), y - y.mean()
    sxx, syy = float(np.sum(dx * dx)), float(np.sum(dy * dy))
    if sxx <= 0.0 or syy <= 0.0:
        return None
    sxy = float(np.sum(dx * dy))
    slope = sxy / sxx
    return Degradation(
        slope=slope, intercept=float(y.mean()) - slope * float(x.mean()), r2=sxy * sxy / (sxx * syy)
    )
