"""Per-block statistics of a returns matrix, and the sums of a CSCV half from them.

Used by ``cscv`` (PBO) and ``pbo_band`` (its band); imports nothing of the package. A half of
the ``S`` blocks (or a resample's multiset of blocks) is a vector of block counts; its sums are
read from subset-sum tables (``subset_sums``): for each part of at most ``PART`` consecutive
blocks, the sums over every sub-multiset of its blocks, so a half costs one table row per part
(two at ``S <= 16``) instead of a pass over its rows or a matrix product.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations, islice

import numpy as np

__all__ = [
    "HARD_RATIO",
    "PART",
    "BlockStats",
    "NotFinite",
    "PBOError",
    "Workspace",
    "block_stats",
    "complement_membership",
    "exact_hard",
    "gather_sums",
    "membership",
    "part_indices",
    "performance",
    "sharpe_from_key",
    "sharpe_scale",
    "subset_sums",
    "table_values",
]


class PBOError(ValueError):
    """The inputs of a PBO computation are invalid, or the metric is undefined on them."""


@lru_cache(maxsize=8)
def membership(S: int) -> np.ndarray:
    """0/1 membership (splits x blocks) of the first half of the split order (block 0 in-sample)."""
    combos = np.array(list(islice(combinations(range(S), S // 2), math.comb(S, S // 2) // 2)), dtype=np.intp)
    member = np.zeros((combos.shape[0], S))
    member[np.arange(combos.shape[0])[:, None], combos] = 1.0
    member.setflags(write=False)
    return member


@lru_cache(maxsize=8)
def complement_membership(S: int) -> np.ndarray:
    out = 1.0 - membership(S)
    out.setflags(write=False)
    return out


class NotFinite(Exception):
    """Raised by ``block_stats`` when a block's sums are not finite (``pbo`` names the values)."""


# A trial whose largest block sum of squares (about its mean) exceeds HARD_RATIO times its
# smallest within-block M2 takes the exact variance path (see ``BlockStats``).
HARD_RATIO = 256.0


@dataclass(frozen=True, eq=False)
class BlockStats:
    """Per-block statistics of the rows used: everything CSCV (and its band) reads of the data.

    Arrays are ``S x N`` (block x trial). For ``metric="sharpe"`` each trial is shifted by
    ``shift`` (its mean over the rows used): ``csum`` and ``csq`` are the block sums and sums of
    squares of the shifted returns, ``cmean`` and ``m2`` the block means and centred sums of
    squares. A half's variance is ``sum csq - (sum csum)**2 / (n h)``, which is accurate to about
    ``eps * max csq / min m2`` relative; trials where that ratio exceeds ``HARD_RATIO`` (a mean
    large against the spread, a block much quieter than another, a constant block) are ``hard``:
    their ``cmean`` and ``m2`` are recomputed in two passes over their columns and their halves
    use the pairwise form ``sum m2 + (n / h) sum_{b < b'} (cmean_b - cmean_b')**2``, where every
    term is non-negative. ``const`` marks blocks in which a (hard) trial is exactly constant;
    their ``m2`` is exactly 0 and ``cmean`` the shifted value itself.
    """

    S: int
    n: int
    metric: str
    raw_sum: np.ndarray
    shift: np.ndarray | None = None
    csum: np.ndarray | None = None
    csq: np.ndarray | None = None
    cmean: np.ndarray | None = None
    m2: np.ndarray | None = None
    hard: np.ndarray | None = None
    const: np.ndarray | None = None


def block_stats(data: np.ndarray, S: int, metric: str) -> BlockStats:
    """One pass over the rows used, block by block (no temporary of the matrix's size)."""
    T, N = data.shape
    n = T // S
    sharpe = metric == "sharpe"
    raw = np.empty((S, N))
    sq = np.empty((S, N)) if sharpe else None
    with np.errstate(over="ignore", invalid="ignore"):
        for b in range(S):
            rows = data[b * n : (b + 1) * n]
            np.sum(rows, axis=0, out=raw[b])
            if sharpe:
                np.einsum("ij,ij->j", rows, rows, out=sq[b])
    # A NaN or inf anywhere makes its block sum NaN or inf; a finite sum means finite values.
    if not np.isfinite(raw).all() or (sharpe and not np.isfinite(sq).all()):
        raise NotFinite
    if not sharpe:
        return BlockStats(S=S, n=n, metric=metric, raw_sum=raw)
    shift = raw.sum(axis=0) / T
    csum = raw - n * shift
    csq = sq - 2.0 * shift * raw + n * shift * shift
    cmean = csum / n
    m2 = csq - csum * cmean
    with np.errstate(divide="ignore", invalid="ignore"):
        smallest = m2.min(axis=0)
        hard = ~((smallest > 0.0) & (sq.max(axis=0) <= HARD_RATIO * smallest))
    const = np.zeros((S, N), dtype=bool)
    cols = np.flatnonzero(hard)
    if cols.size:
        for b in range(S):
            rows = data[b * n : (b + 1) * n, cols]
            d = rows - shift[cols]
            mu = d.sum(axis=0) / n
            flat = rows.min(axis=0) == rows.max(axis=0)
            mu[flat] = d[0, flat]
            d -= mu
            m2[b, cols] = np.einsum("ij,ij->j", d, d)
            m2[b, cols[flat]] = 0.0
            cmean[b, cols] = mu
            csum[b, cols] = n * mu
            const[b, cols] = flat
    return BlockStats(S=S, n=n, metric=metric, raw_sum=raw, shift=shift, csum=csum, csq=csq,
                      cmean=cmean, m2=m2, hard=hard, const=const)


def sharpe_scale(stats: BlockStats) -> float:
    """The factor ``sqrt((n h - 1) / (n h))`` between a half's scaled and true Sharpe ratio (all trials alike)."""
    nh = stats.n * (stats.S // 2)
    return math.sqrt((nh - 1) / nh)


class Workspace:
    """Work arrays reused from one chunk to the next (fresh large arrays would each be mapped
    and page-faulted anew, which costs more than the arithmetic on them)."""

    def __init__(self):
        self._buffers: dict = {}

    def get(self, name: str, shape: tuple, dtype=np.float64) -> np.ndarray:
        size = math.prod(shape)
        buf = self._buffers.get(name)
        if buf is None or buf.size < size or buf.dtype != dtype:
            buf = self._buffers[name] = np.empty(max(size, 1), dtype)
        return buf[:size].reshape(shape)


# Half sums come from subset-sum tables: for each part of at most PART consecutive blocks, the
# sums over every subset (or sub-multiset) of its blocks. A half's sums are then one table row
# per part added up: no matrix product, so no BLAS threads (which on a busy machine cost more
# than they give) and no pass over the rows.
PART = 8


def subset_sums(values: np.ndarray, mult=None) -> list[np.ndarray]:
    """Per part of blocks ``k0 .. k0 + PART - 1``: the sums of ``values`` (S x M) over every
    sub-multiset of the part's blocks, block ``k`` taken ``0 .. mult[k]`` times (once each by
    default). Row ``sum_i c_i * prod_{i' < i} (mult[k0 + i'] + 1)`` holds the counts ``c``."""
    S, M = values.shape
    tables = []
    for k0 in range(0, S, PART):
        blocks = range(k0, min(k0 + PART, S))
        counts = [1 if mult is None else int(mult[k]) for k in blocks]
        table = np.empty((math.prod(c + 1 for c in counts), M))  # filled in place: no intermediate tables
        table[0] = 0.0
        size = 1
        for k, m in zip(blocks, counts):
            for c in range(1, m + 1):
                np.add(table[:size], values[k] if c == 1 else c * values[k], out=table[c * size : (c + 1) * size])
            size *= m + 1
        tables.append(table)
    return tables


def gather_sums(tables: list[np.ndarray], part_index: np.ndarray, work: Workspace) -> np.ndarray:
    """Rows ``part_index[:, p]`` of ``tables[p]``, added over the parts (a work array)."""
    U, M = part_index.shape[0], tables[0].shape[1]
    out = np.take(tables[0], part_index[:, 0], axis=0, out=work.get("sums", (U, M)), mode="clip")
    for p in range(1, len(tables)):
        out += np.take(tables[p], part_index[:, p], axis=0, out=work.get("part", (U, M)), mode="clip")
    return out


def table_values(stats: BlockStats, null: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """What the subset-sum tables add up (S x M), and the Sharpe ratio's shift term.

    ``null`` removes each trial's mean first (the band's skill-less resamples)."""
    S, n = stats.S, stats.n
    nh = n * (S // 2)
    if stats.metric != "sharpe":
        raw = stats.raw_sum
        return (raw - raw.mean(axis=0) if null else raw), None
    csum, csq, cmean = stats.csum, stats.csq, stats.cmean
    root = math.sqrt(nh)
    if null:
        residual = csum.sum(axis=0) / (n * S)  # the shifted trials' mean: 0 up to rounding
        csum = csum - n * residual
        cmean = cmean - residual
        csq = stats.m2 + csum * cmean
        return np.hstack([csum * (1.0 / root), csq]), np.zeros(csum.shape[1])
    return np.hstack([csum * (1.0 / root), csq]), root * stats.shift


def performance(stats: BlockStats, sums: np.ndarray, shift_term, work: Workspace,
                transposed: bool = False) -> np.ndarray:
    """Each trial's performance from a half's gathered sums (a view of ``sums``): halves x
    statistics, or statistics x halves when ``transposed``.

    For ``"sharpe"`` the result is a *rank key*, ``sr * |sr| / sharpe_scale(stats)**2`` (``sr``
    the Sharpe ratio): the same order as the Sharpe ratio without a square root per value
    (``sharpe_from_key`` turns a key back into the Sharpe ratio). Undefined halves give inf or NaN.
    """
    if stats.metric == "sum":
        return sums
    if stats.metric == "mean":
        sums *= 1.0 / (stats.n * (stats.S // 2))
        return sums
    if transposed:
        N = sums.shape[0] // 2
        a, b = sums[:N], sums[N:]
        shift_term = shift_term[:, None]
    else:
        N = sums.shape[1] // 2
        a, b = sums[:, :N], sums[:, N:]
    t = work.get("t", a.shape)
    b -= np.multiply(a, a, out=t)  # the half's M2 / (n h)
    a += shift_term  # the half's mean * sqrt(n h)
    np.abs(a, out=t)
    t *= a
    with np.errstate(divide="ignore", invalid="ignore"):
        t /= b
    a[...] = t
    return a


def sharpe_from_key(key: np.ndarray, stats: BlockStats) -> np.ndarray:
    """The Sharpe ratios whose rank keys (``performance``) are ``key``."""
    return np.copysign(np.sqrt(np.abs(key)), key) * sharpe_scale(stats)


def exact_hard(stats: BlockStats, perf: np.ndarray, counts: np.ndarray, null: bool = False) -> None:
    """Recompute the ``hard`` trials' Sharpe ratios (same scale) in the pairwise form, in place;
    ``counts`` (rows x S) are the halves' block counts."""
    k = np.flatnonzero(stats.hard)
    S, n = stats.S, stats.n
    h = S // 2
    cmean, m2, shift = stats.cmean[:, k], stats.m2[:, k], stats.shift[k]
    if null:
        cmean = cmean - stats.csum[:, k].sum(axis=0) / (n * S)
        shift = np.zeros_like(shift)
    bi, bj = np.triu_indices(S, 1)
    pair_sq = (n / h) * (cmean[bi] - cmean[bj]) ** 2
    half_m2 = counts @ m2
    half_m2 += (counts[:, bi] * counts[:, bj]) @ pair_sq
    mean = counts @ cmean
    mean *= 1.0 / h
    mean += shift
    with np.errstate(divide="ignore", invalid="ignore"):
        perf[:, k] = mean * np.abs(mean) * (n * h) / half_m2  # the rank key, as ``performance``'s


def part_indices(member: np.ndarray) -> np.ndarray:
    """Rows of the 0/1 subset-sum tables (halves x parts) for halves given by membership."""
    S = member.shape[1]
    weights = 2.0 ** (np.arange(S) % PART)
    return np.stack(  # elementwise, not a matrix product: no BLAS threads
        [(member[:, k0 : k0 + PART] * weights[k0 : k0 + PART]).sum(axis=1) for k0 in range(0, S, PART)],
        axis=1,
    ).astype(np.intp)
