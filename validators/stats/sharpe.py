"""Sharpe ratio, Probabilistic Sharpe Ratio (PSR) and Deflated Sharpe Ratio (DSR).

Bailey and López de Prado, "The Sharpe Ratio Efficient Frontier" (2012) and "The Deflated
Sharpe Ratio" (2014). With ``SR`` the *per-period* (not annualised) Sharpe ratio of ``T``
observations, ``g3`` the skewness and ``g4`` the ordinary (non-excess: 3 for a normal)
kurtosis::

    PSR(SR*) = Phi((SR - SR*) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2))
    E[max SR] = sqrt(V) ((1 - gamma) Z^-1(1 - 1/N) + gamma Z^-1(1 - 1/(N e)))
    DSR = PSR(E[max SR])

with ``V`` the variance of the per-period Sharpe ratios across the ``N`` trials and ``gamma``
the Euler-Mascheroni constant.

Conventions:

* Sharpe ratio: ``mean / std`` with ``std`` of ``ddof=1``, times ``sqrt(periods_per_year)``
  in ``sharpe_ratio`` only. PSR and DSR take and compute per-period ratios.
* Skewness and kurtosis estimated from returns are the population (biased, ``ddof=0``) moment
  ratios ``m3 / m2**1.5`` and ``m4 / m2**2`` (``scipy.stats.skew`` and
  ``scipy.stats.kurtosis(fisher=False)`` with their default ``bias=True``), as in the papers'
  code.
* The variance of trial Sharpe ratios uses ``ddof=1``.
* ``Phi`` is built on ``math.erfc`` (accurate in the lower tail, where ``1 + erf`` cancels)
  and ``Z^-1`` is ``statistics.NormalDist().inv_cdf``: no scipy.

What is undefined is a ``SharpeError`` (a ``ValueError``), never NaN: fewer than 2
observations, zero variance, non-finite inputs, a PSR denominator
``1 - g3 SR + (g4 - 1) / 4 SR^2 <= 0``, fewer than 2 trials for the expected maximum.

Examples
--------
>>> round(probabilistic_sharpe_ratio(1.585 / 12 ** 0.5, 24, -2.448, 10.164), 6)
0.913234
>>> round(expected_max_sharpe(100, 1.0), 4)
2.5306
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

__all__ = [
    "EULER_GAMMA",
    "SharpeError",
    "deflated_sharpe_ratio",
    "deflated_sharpe_ratio_from_returns",
    "deflated_sharpe_ratio_from_trials",
    "expected_max_sharpe",
    "normal_cdf",
    "probabilistic_sharpe_ratio",
    "probabilistic_sharpe_ratio_from_returns",
    "sharpe_ratio",
    "unit_scale",
]

EULER_GAMMA = 0.5772156649015329
_STANDARD_NORMAL = NormalDist()


class SharpeError(ValueError):
    """A Sharpe-family statistic is undefined for the given inputs."""


def normal_cdf(x: float) -> float:
    """Standard normal CDF, ``Phi(x) = erfc(-x / sqrt(2)) / 2``."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


# --- from numbers -------------------------------------------------------------------------


def probabilistic_sharpe_ratio(
    sr: float, n_obs: int, skew: float, kurtosis: float, sr_benchmark: float = 0.0
) -> float:
    """Probability that the true per-period Sharpe ratio exceeds ``sr_benchmark``.

    ``sr`` is the per-period Sharpe ratio estimated from ``n_obs`` observations whose skewness
    is ``skew`` and ordinary (non-excess) kurtosis is ``kurtosis``.
    """
    sr = _finite("sr", sr)
    sr_benchmark = _finite("sr_benchmark", sr_benchmark)
    skew = _finite("skew", skew)
    kurtosis = _finite("kurtosis", kurtosis)
    n_obs = _count("n_obs", n_obs, 2)
    denominator = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if not denominator > 0.0:
        raise SharpeError(
            f"PSR is undefined: 1 - skew*SR + (kurtosis-1)/4*SR^2 = {denominator!r} <= 0 for "
            f"sr={sr!r}, skew={skew!r}, kurtosis={kurtosis!r}; kurtosis must be the ordinary "
            "(non-excess) kurtosis, 3 for a normal, and sr the per-period (not annualised) ratio"
        )
    return normal_cdf((sr - sr_benchmark) * math.sqrt(n_obs - 1) / math.sqrt(denominator))


def expected_max_sharpe(n_trials: int, variance: float) -> float:
    """Expected maximum Sharpe ratio of ``n_trials`` independent trials with true Sharpe 0.

    ``variance`` is the variance of the trials' Sharpe ratios; the result is in the same units
    (per period if they are per period).
    """
    n_trials = _count("n_trials", n_trials, 2)
    variance = _finite("variance", variance)
    if variance < 0.0:
        raise SharpeError(f"variance must be >= 0, got {variance!r}")
    if 1.0 - 1.0 / (n_trials * math.e) == 1.0:
        raise SharpeError(
            f"n_trials={n_trials} is too large: 1 - 1/(n_trials e) rounds to 1 in floating point"
        )
    z = _STANDARD_NORMAL.inv_cdf
    return math.sqrt(variance) * (
        (1.0 - EULER_GAMMA) * z(1.0 - 1.0 / n_trials) + EULER_GAMMA * z(1.0 - 1.0 / (n_trials * math.e))
    )


def deflated_sharpe_ratio(
    sr: float, n_obs: int, skew: float, kurtosis: float, n_trials: int, variance: float
) -> float:
    """PSR of ``sr`` against the expected maximum Sharpe ratio of ``n_trials`` null trials."""
    return probabilistic_sharpe_ratio(sr, n_obs, skew, kurtosis, expected_max_sharpe(n_trials, variance))


# --- from returns -------------------------------------------------------------------------


def sharpe_ratio(returns, periods_per_year: float = 1) -> float:
    """``mean / std`` (``ddof=1``) of a 1-D series, times ``sqrt(periods_per_year)``."""
    x = _series(returns)
    ppy = _finite("periods_per_year", periods_per_year)
    if ppy <= 0.0:
        raise SharpeError(f"periods_per_year must be > 0, got {periods_per_year!r}")
    return _per_period_sharpe(x, "returns") * math.sqrt(ppy)


def probabilistic_sharpe_ratio_from_returns(returns, sr_benchmark: float = 0.0) -> float:
    """PSR of a 1-D series of returns against a per-period benchmark Sharpe ratio."""
    x = _series(returns)
    sr, skew, kurt = _moments(x, "returns")
    return probabilistic_sharpe_ratio(sr, x.size, skew, kurt, sr_benchmark)


def deflated_sharpe_ratio_from_returns(returns, n_trials: int, variance: float) -> float:
    """DSR of a 1-D series, the best of ``n_trials`` whose Sharpe ratios have ``variance``."""
    x = _series(returns)
    sr, skew, kurt = _moments(x, "returns")
    return deflated_sharpe_ratio(sr, x.size, skew, kurt, n_trials, variance)


def deflated_sharpe_ratio_from_trials(trials, selected=None) -> float:
    """DSR of one trial of a T x N matrix (array or DataFrame, one column per trial).

    ``N`` is the number of columns and ``V`` the variance (``ddof=1``) of their per-period
    Sharpe ratios. ``selected`` is a column label (DataFrame) or index (array); by default the
    trial with the highest Sharpe ratio (the first one on a tie).
    """
    data, names = _matrix(trials)
    srs = np.array([_per_period_sharpe(data[:, j], f"trial {names[j]!r}") for j in range(data.shape[1])])
    if selected is None:
        j = int(np.argmax(srs))
    elif selected in names:
        j = names.index(selected)
    else:
        raise SharpeError(f"selected trial {selected!r} is not among the trials {list(names)!r}")
    sr, skew, kurt = _moments(data[:, j], f"trial {names[j]!r}")
    return deflated_sharpe_ratio(sr, data.shape[0], skew, kurt, data.shape[1], float(np.var(srs, ddof=1)))


# --- helpers ------------------------------------------------------------------------------


def _finite(name: str, value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SharpeError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise SharpeError(f"{name} must be finite, got {value!r}")
    return v


def _count(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise SharpeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise SharpeError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def _series(returns) -> np.ndarray:
    try:
        x = np.asarray(returns, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SharpeError(f"returns cannot be read as numbers ({exc})") from None
    if x.ndim != 1:
        raise SharpeError(
            f"returns must be 1-D (one series), got shape {x.shape}; "
            "use deflated_sharpe_ratio_from_trials for a matrix"
        )
    _check_values(x, "returns")
    return x


def _matrix(trials) -> tuple[np.ndarray, tuple]:
    if hasattr(trials, "columns") and hasattr(trials, "to_numpy"):
        names = tuple(trials.columns)
        trials = trials.to_numpy()
    else:
        names = None
    try:
        data = np.asarray(trials, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SharpeError(f"trials cannot be read as numbers ({exc})") from None
    if data.ndim != 2:
        raise SharpeError(f"trials must be 2-D (T periods x N trials), got shape {data.shape}")
    if data.shape[1] < 2:
        raise SharpeError(f"trials has {data.shape[1]} column(s); the DSR needs at least 2 trials")
    _check_values(data, "trials")
    return data, names if names is not None else tuple(range(data.shape[1]))


def _check_values(x: np.ndarray, name: str) -> None:
    if x.shape[0] < 2:
        raise SharpeError(f"{name} has {x.shape[0]} observation(s); a Sharpe ratio needs at least 2")
    bad = ~np.isfinite(x)
    if bad.any():
        first = tuple(int(v) for v in np.argwhere(bad)[0])
        raise SharpeError(
            f"{name} has {int(bad.sum())} non-finite value(s) (NaN or inf), the first at position "
            f"{first[0] if len(first) == 1 else first}: fill or drop them first"
        )


def unit_scale(x: np.ndarray) -> np.ndarray:
    """``x`` times the power of two that brings its largest magnitude into ``[0.5, 1)``.

    Every statistic here is invariant under a positive scale, and a power of two scales exactly, so
    nothing changes but the range: returns near 1e-160 (whose squared deviations underflow to 0) or
    near 1e300 (whose squares overflow) give the same moments as returns near 1.
    """
    top = float(np.max(np.abs(x)))
    if top == 0.0:
        return x
    return np.ldexp(x, -math.frexp(top)[1])


def _per_period_sharpe(x: np.ndarray, what: str) -> float:
    if x.max() == x.min():
        raise SharpeError(
            f"{what} has zero variance (every value is {float(x[0])!r}); its Sharpe ratio is undefined"
        )
    x = unit_scale(x)
    sd = float(x.std(ddof=1))
    if not (sd > 0.0 and math.isfinite(sd)):  # cannot happen on distinct finite values; never a silent inf
        raise SharpeError(f"{what}: the standard deviation of its returns is {sd!r}; its Sharpe ratio is undefined")
    return float(x.mean()) / sd


def _moments(x: np.ndarray, what: str) -> tuple[float, float, float]:
    """Per-period Sharpe ratio, skewness and ordinary kurtosis (population moments), computed on the
    returns scaled by a power of two (``unit_scale``): the same numbers, without underflow or overflow."""
    sr = _per_period_sharpe(x, what)
    x = unit_scale(x)
    d = x - x.mean()
    m2 = float(np.mean(d * d))
    if not (m2 > 0.0 and math.isfinite(m2)):
        raise SharpeError(f"{what}: the variance of its returns is {m2!r}; skewness and kurtosis are undefined")
    return sr, float(np.mean(d**3)) / m2**1.5, float(np.mean(d**4)) / m2**2
