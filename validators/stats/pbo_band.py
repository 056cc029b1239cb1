"""How sure a PBO is: a block-bootstrap interval, and the share of skill-less resamples as low.

``pbo(returns, n_splits=S, resamples=R, seed=s, level=L)`` adds a ``PBOBand`` to its result:

* **Resamples.** A resample is a draw of ``S`` of the ``S`` CSCV blocks of the rows used, with
  replacement, uniformly; the drawn blocks form the resampled matrix in draw order and each
  keeps its rows in time order. The bootstrap's block length is therefore CSCV's own,
  ``n = T // S`` rows (``block_length``). Why that length: CSCV treats its blocks as the
  exchangeable units of the data (PBO depends on the rows only through each block's
  statistics, and not on the order of the blocks), so drawing whole blocks resamples exactly
  the units the statistic is built from, and keeps all the dependence inside a block (serial
  correlation, volatility clusters up to ``n`` periods long). Rows are never re-read: a
  resampled half is a count of how often each original block is in it, and its statistics are
  those counts times the per-block statistics (``cscv.half_performance``). Splits whose halves
  hold the same blocks the same number of times give the same result, so each resample
  evaluates each distinct half once (about 2,000 of the 12,870 halves at ``S = 16``) and weighs
  it by the number of splits that have it.
* **Interval.** ``interval`` is the equal-tailed percentile interval of the resamples' PBOs at
  ``level``: ``numpy.quantile`` (linear interpolation) at ``(1 - level) / 2`` and
  ``(1 + level) / 2``.
* **Null.** ``null_share`` is the share of skill-less resamples whose PBO is at or below the
  observed one: each trial's mean over the rows used is removed (so no trial has an edge), then
  blocks are drawn the same way (a second, independent set of draws). Small means the observed
  selection does better than selection among trials without skill would; for trials that are
  noise it is spread over 0 to 1 like a p-value, large on most draws.
* **Seed.** ``numpy.random.Generator(PCG64(seed)).integers(0, S, size=(2, R, S))``: ``[0]`` are
  the interval's draws, ``[1]`` the null's. The same seed gives the same band, bit for bit.
* **Undefined resamples.** A resample may put a trial's constant blocks (e.g. a threshold
  that never trades there) into a whole half, where its Sharpe ratio is 0/0; such a resample's
  PBO is NaN, it is left out of the interval and the share, and counted (``*_undefined``).

What the band is not: the interval is the spread of PBO under resampling of this sample, so it
is centred on this sample's luck (a trial that was lucky here is skilled in every resample); it
does not make PBO a test of skill, and a low interval on trials that are noise is possible. The
null share is the guard against that luck, and the deflated Sharpe ratio stays beside both.
Blocks are assumed exchangeable (no regime that only some blocks have); dependence longer
than a block is not kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .cscv_blocks import (
    PART,
    BlockStats,
    PBOError,
    Workspace,
    complement_membership,
    exact_hard,
    membership,
    part_indices,
    performance,
    subset_sums,
    table_values,
)

__all__ = ["MAX_BAND_SPLITS", "PBOBand", "check_band_params", "pbo_band", "resample_indices", "resampled_pbo"]

BAND_ELEMENTS = 1 << 20  # (split x resample x trial) elements per batch of resamples: the
# distinct halves' work arrays (about a sixth of that) stay in cache


@dataclass(frozen=True, eq=False)
class PBOBand:
    """The band beside a PBO estimate. ``bootstrap`` and ``null`` hold each resample's PBO
    (NaN where undefined), in draw order, read-only."""

    interval: tuple[float, float] | None
    null_share: float | None
    level: float
    resamples: int
    seed: int
    block_length: int
    bootstrap: np.ndarray = field(repr=False)
    null: np.ndarray = field(repr=False)
    bootstrap_undefined: int
    null_undefined: int


MAX_BAND_SPLITS = 18  # a resample's keys span 2**S values; C(18, 9) = 48,620 splits


def check_band_params(resamples, seed, level, n_splits=None) -> None:
    """Raise ``PBOError`` unless the band's parameters are valid."""
    if isinstance(resamples, bool) or not isinstance(resamples, (int, np.integer)) or resamples < 1:
        raise PBOError(f"resamples must be an integer >= 1 (or None for no band), got {resamples!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise PBOError(f"seed must be an integer >= 0, got {seed!r}")
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) or not 0.0 < level < 1.0:
        raise PBOError(f"level must be a number strictly between 0 and 1, got {level!r}")
    if n_splits is not None and n_splits > MAX_BAND_SPLITS:
        raise PBOError(f"the band (resamples) needs n_splits <= {MAX_BAND_SPLITS}, got {n_splits}")


def resample_indices(seed: int, resamples: int, S: int) -> tuple[np.ndarray, np.ndarray]:
    """The drawn blocks (resamples x S) of the interval's and of the null's resamples."""
    draws = np.random.Generator(np.random.PCG64(seed)).integers(0, S, size=(2, resamples, S))
    return draws[0], draws[1]


def pbo_band(source, S: int, estimate: float, *, resamples: int, seed: int, level: float) -> PBOBand:
    """The band of ``estimate``: ``source`` is the ``BlockStats`` of the rows used, or, for a
    callable metric, ``(rows_used, run)`` where ``run(rows)`` is the PBO of a resample's rows."""
    boot_idx, null_idx = resample_indices(seed, resamples, S)
    if isinstance(source, BlockStats):
        boot = resampled_pbo(source, boot_idx, null=False)
        null = resampled_pbo(source, null_idx, null=True)
        block_length = source.n
    else:
        rows, run = source
        block_length = rows.shape[0] // S
        boot = _materialised_pbo(rows, S, run, boot_idx)
        null = _materialised_pbo(rows - rows.mean(axis=0), S, run, null_idx)
    ok_boot, ok_null = boot[np.isfinite(boot)], null[np.isfinite(null)]
    interval = None
    if ok_boot.size:
        lo, hi = np.quantile(ok_boot, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
        interval = (float(lo), float(hi))
    null_share = float(np.count_nonzero(ok_null <= estimate)) / ok_null.size if ok_null.size else None
    for a in (boot, null):
        a.setflags(write=False)
    return PBOBand(
        interval=interval,
        null_share=null_share,
        level=level,
        resamples=resamples,
        seed=seed,
        block_length=int(block_length),
        bootstrap=boot,
        null=null,
        bootstrap_undefined=int(boot.size - ok_boot.size),
        null_undefined=int(null.size - ok_null.size),
    )


def resampled_pbo(stats: BlockStats, idx: np.ndarray, null: bool = False) -> np.ndarray:
    """PBO of each resample (rows of ``idx``: the drawn blocks), NaN where it is undefined."""
    S = stats.S
    C = math.comb(S, S // 2)
    N = stats.raw_sum.shape[1]
    # The keys of a batch span up to batch * 2**S values (one bincount): at most 2**22.
    batch = max(1, min(BAND_ELEMENTS // (C * max(N, 16)), (1 << 22) >> S))
    out = np.empty(idx.shape[0])
    work = Workspace()
    for start in range(0, idx.shape[0], batch):
        out[start : start + batch] = _batch_pbo(stats, idx[start : start + batch], null, work) / C
    return out


@lru_cache(maxsize=8)
def _all_halves(S: int) -> tuple[np.ndarray, np.ndarray]:
    """Every split's in-sample half in ``pbo``'s chunk order (first halves, then their
    complements): its slot indices (C x S/2) and its rows of the 0/1 subset tables (C x parts)."""
    both = np.concatenate([membership(S), complement_membership(S)])
    slots = np.nonzero(both)[1].reshape(both.shape[0], S // 2)
    rows = part_indices(both)
    for a in (slots, rows):
        a.setflags(write=False)
    return slots, rows


def _batch_pbo(stats: BlockStats, idx: np.ndarray, null: bool, work: Workspace) -> np.ndarray:
    """Number of splits (of C) with logit <= 0 for each resample of the batch; NaN if undefined.

    Work arrays are trials x halves here (the trials are few, the halves many), so every
    reduction over trials is an elementwise operation on long rows.
    """
    R, S = idx.shape
    N = stats.raw_sum.shape[1]
    slots, split_rows = _all_halves(S)
    C = slots.shape[0]
    # How often each original block is drawn, and a mixed-radix key of a half's block counts:
    # key = sum_k count_k * radix_k < prod (mult_k + 1) <= 2**S.
    mult = np.zeros((R, S), dtype=np.int64)
    np.add.at(mult, (np.repeat(np.arange(R), S), idx.ravel()), 1)
    radix = np.ones((R, S + 1), dtype=np.int64)
    radix[:, 1:] = np.cumprod(mult + 1, axis=1)
    full = (mult * radix[:, :S]).sum(axis=1)  # the key of all drawn blocks; a half's complement: full - key
    big = int(full.max()) + 1
    # A split's key is the sum of its in-sample slots' radixes: from subset tables of the slots.
    slot_weight = np.take_along_axis(radix, idx, axis=1)
    keys = (np.arange(R, dtype=np.int64) * big)[:, None]  # one key space per resample
    for p, k0 in enumerate(range(0, S, PART)):
        table = np.zeros((R, 1), dtype=np.int64)
        for k in range(k0, min(k0 + PART, S)):
            table = np.concatenate([table, table + slot_weight[:, k : k + 1]], axis=1)
        keys = keys + table[:, split_rows[:, p]]
    flat = keys.ravel()
    weights = np.bincount(flat, minlength=R * big)
    present = np.flatnonzero(weights)  # distinct (resample, in-sample block counts), sorted
    U = present.size
    weight = weights[present]
    owner = present // big
    key = present - owner * big
    where = np.empty(R * big, dtype=np.intp)
    where[present] = np.arange(U)
    comp = where[owner * big + full[owner] - key]

    # Each resample's subset-sum tables of the block statistics, stacked per part; a half's row
    # in part p is made of its key's digits for that part's blocks.
    values, shift_term = table_values(stats, null)
    per_resample = [subset_sums(values, mult[r]) for r in range(R)]
    M = values.shape[1]
    sums = work.get("sums", (M, U))
    part = work.get("part", (M, U))
    for p, k0 in enumerate(range(0, S, PART)):
        sizes = np.array([t[p].shape[0] for t in per_resample])
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        span = radix[:, min(k0 + PART, S)] // radix[:, k0]
        rows = offsets[owner] + (key // radix[owner, k0]) % span[owner]
        table = np.ascontiguousarray(np.concatenate([t[p] for t in per_resample]).T)
        np.take(table, rows, axis=1, out=sums if p == 0 else part, mode="clip")
        if p:
            sums += part
    perf = performance(stats, sums, shift_term, work, transposed=True)  # (N, U)
    if stats.metric == "sharpe" and stats.hard.any():
        split_of = np.empty(R * big, dtype=np.intp)
        split_of[flat] = np.tile(np.arange(C), R)  # a split whose in-sample half has these counts
        blocks = idx[owner[:, None], slots[split_of[present]]]  # (U, S/2) original blocks
        counts = np.bincount((np.arange(U)[:, None] * S + blocks).ravel(), minlength=U * S)
        exact = np.ascontiguousarray(perf.T)
        exact_hard(stats, exact, counts.reshape(U, S).astype(np.float64), null)
        perf[...] = exact.T

    # The in-sample winner (the first best trial) and its out-of-sample rank, per half.
    best = perf.max(axis=0)
    top = np.equal(perf, best, out=work.get("top", (N, U), bool))
    oos = np.take(perf, comp, axis=1, out=work.get("oos", (N, U)), mode="clip")
    count_type = np.int16 if N < 16_000 else np.int64
    # The first best trial (ties are common: thresholds that trade alike): N minus the largest of
    # (N - j) over the best j, an elementwise maximum down the trials.
    first = N - np.multiply(top, _descending(N, count_type), dtype=count_type).max(axis=0)
    np.minimum(first, N - 1, out=first)  # no best where a half is undefined (NaN): left out below
    chosen = oos[first, np.arange(U)]
    mask = work.get("mask", (N, U), bool)
    two_rank = (np.less(oos, chosen, out=mask).sum(axis=0, dtype=count_type)
                + np.less_equal(oos, chosen, out=mask).sum(axis=0, dtype=count_type) + 1)
    result = np.bincount(owner, weights=weight * (two_rank <= N + 1), minlength=R)
    bad = ~np.isfinite(perf).all(axis=0)
    if bad.any():
        result[np.unique(owner[bad])] = np.nan
    return result


@lru_cache(maxsize=8)
def _descending(N: int, dtype) -> np.ndarray:
    return np.arange(N, 0, -1, dtype=dtype)[:, None]


def _materialised_pbo(rows: np.ndarray, S: int, run, idx: np.ndarray) -> np.ndarray:
    """The slow way, for a callable metric: build each resample's rows and run CSCV on them."""
    n = rows.shape[0] // S
    out = np.empty(idx.shape[0])
    for r, drawn in enumerate(idx):
        try:
            out[r] = run(np.concatenate([rows[k * n : (k + 1) * n] for k in drawn]))
        except PBOError:
            out[r] = np.nan
    return out
