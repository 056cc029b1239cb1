"""Tests for validators.stats.sharpe: worked examples from the papers, scipy as the test-only oracle."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from validators.stats.sharpe import (
    EULER_GAMMA,
    SharpeError,
    deflated_sharpe_ratio,
    deflated_sharpe_ratio_from_returns,
    deflated_sharpe_ratio_from_trials,
    expected_max_sharpe,
    normal_cdf,
    probabilistic_sharpe_ratio,
    probabilistic_sharpe_ratio_from_returns,
    sharpe_ratio,
)

# --- worked examples (PBO_NOTES.md) --------------------------------------------------------


def test_psr_worked_example():
    psr = probabilistic_sharpe_ratio(1.585 / math.sqrt(12), 24, -2.448, 10.164)
    assert round(psr, 6) == 0.913234


def test_dsr_worked_example():
    dsr = deflated_sharpe_ratio(2.5 / math.sqrt(250), 1250, -3.0, 10.0, n_trials=100, variance=0.5 / 250)
    assert round(dsr, 6) == 0.900397


def test_expected_max_sharpe_worked_example():
    assert round(expected_max_sharpe(100, 1.0), 4) == 2.5306


# --- against scipy ------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.floats(-37, 8, allow_nan=False))
def test_normal_cdf_matches_scipy(x):
    # The relative condition number of Phi at x is about x**2 in the lower tail.
    assert normal_cdf(x) == pytest.approx(stats.norm.cdf(x), rel=1e-14 * max(1.0, x * x), abs=0)


def scipy_psr(sr, n, skew, kurt, bench=0.0):
    return stats.norm.cdf((sr - bench) * math.sqrt(n - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2))


def scipy_expected_max(n, v):
    return math.sqrt(v) * (
        (1 - np.euler_gamma) * stats.norm.ppf(1 - 1 / n)
        + np.euler_gamma * stats.norm.ppf(1 - 1 / (n * math.e))
    )


@settings(max_examples=100, deadline=None)
@given(
    st.floats(-0.5, 0.5),
    st.integers(2, 10_000),
    st.floats(-2, 2),
    st.floats(1, 20),
    st.floats(-0.3, 0.3),
)
def test_psr_matches_scipy(sr, n, skew, kurt, bench):
    if 1 - skew * sr + (kurt - 1) / 4 * sr**2 <= 0:
        with pytest.raises(SharpeError):
            probabilistic_sharpe_ratio(sr, n, skew, kurt, bench)
        return
    psr = probabilistic_sharpe_ratio(sr, n, skew, kurt, bench)
    assert 0.0 <= psr <= 1.0
    assert psr == pytest.approx(scipy_psr(sr, n, skew, kurt, bench), rel=1e-12, abs=1e-300)


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 10**9), st.floats(0, 10))
def test_expected_max_sharpe_matches_scipy(n, v):
    assert expected_max_sharpe(n, v) == pytest.approx(scipy_expected_max(n, v), rel=1e-9, abs=1e-15)


def test_euler_gamma():
    assert EULER_GAMMA == np.euler_gamma


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(3, 400), st.floats(-0.2, 0.3))
def test_from_returns_matches_scipy_moments(seed, n, bench):
    x = np.random.default_rng(seed).standard_t(5, size=n) * 0.01 + 0.002
    sr = x.mean() / x.std(ddof=1)
    skew, kurt = stats.skew(x), stats.kurtosis(x, fisher=False)
    expected = scipy_psr(sr, n, skew, kurt, bench)
    assert probabilistic_sharpe_ratio_from_returns(x, bench) == pytest.approx(expected, rel=1e-9, abs=1e-300)
    expected_dsr = scipy_psr(sr, n, skew, kurt, scipy_expected_max(20, 0.01))
    assert deflated_sharpe_ratio_from_returns(x, 20, 0.01) == pytest.approx(
        expected_dsr, rel=1e-9, abs=1e-300
    )


def test_dsr_from_trials():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((500, 12)) * 0.01 + np.linspace(0, 0.001, 12)
    df = pd.DataFrame(X, columns=[f"c={0.5 + 0.01 * i:g}" for i in range(12)])
    srs = X.mean(axis=0) / X.std(axis=0, ddof=1)
    best = int(np.argmax(srs))
    x = X[:, best]
    expected = scipy_psr(
        srs[best],
        500,
        stats.skew(x),
        stats.kurtosis(x, fisher=False),
        scipy_expected_max(12, np.var(srs, ddof=1)),
    )
    assert deflated_sharpe_ratio_from_trials(X) == pytest.approx(expected, rel=1e-9)
    assert deflated_sharpe_ratio_from_trials(df) == pytest.approx(expected, rel=1e-9)
    # A chosen trial: its own moments, the same N and V.
    y = X[:, 0]
    expected0 = scipy_psr(
        srs[0],
        500,
        stats.skew(y),
        stats.kurtosis(y, fisher=False),
        scipy_expected_max(12, np.var(srs, ddof=1)),
    )
    assert deflated_sharpe_ratio_from_trials(df, selected="c=0.5") == pytest.approx(expected0, rel=1e-9)
    assert deflated_sharpe_ratio_from_trials(X, selected=0) == pytest.approx(expected0, rel=1e-9)
    with pytest.raises(SharpeError, match="not among the trials"):
        deflated_sharpe_ratio_from_trials(df, selected="c=0.9")


# --- properties ---------------------------------------------------------------------------


def test_sharpe_ratio_annualises_by_sqrt_periods():
    x = np.random.default_rng(0).normal(0.001, 0.01, 252)
    base = x.mean() / x.std(ddof=1)
    assert sharpe_ratio(x) == pytest.approx(base, rel=1e-15)
    assert sharpe_ratio(pd.Series(x), periods_per_year=252) == pytest.approx(base * math.sqrt(252), rel=1e-15)


@given(st.floats(-1, 1), st.integers(2, 1000), st.floats(-1, 1), st.floats(3, 10))
def test_psr_at_the_benchmark_is_one_half(sr, n, skew, kurt):
    if 1 - skew * sr + (kurt - 1) / 4 * sr**2 > 0:
        assert probabilistic_sharpe_ratio(sr, n, skew, kurt, sr_benchmark=sr) == 0.5


def test_more_trials_deflate_more():
    values = [deflated_sharpe_ratio(0.1, 500, 0.0, 3.0, n, 0.002) for n in (2, 10, 100, 1000)]
    assert values == sorted(values, reverse=True)
    assert expected_max_sharpe(50, 4.0) == pytest.approx(2 * expected_max_sharpe(50, 1.0), rel=1e-15)
    assert expected_max_sharpe(2, 1.0) > 0 and expected_max_sharpe(7, 0.0) == 0.0


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("x", [[], [0.01]])
def test_fewer_than_two_observations(x):
    with pytest.raises(SharpeError, match="at least 2"):
        sharpe_ratio(x)
    with pytest.raises(SharpeError, match="at least 2"):
        probabilistic_sharpe_ratio_from_returns(x)


def test_zero_variance():
    with pytest.raises(SharpeError, match="zero variance"):
        sharpe_ratio([0.01] * 10)
    X = np.random.default_rng(0).standard_normal((50, 3))
    X[:, 1] = 0.0
    with pytest.raises(SharpeError, match="trial 1 has zero variance"):
        deflated_sharpe_ratio_from_trials(X)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_returns(bad):
    x = np.random.default_rng(0).standard_normal(20)
    x[[3, 7]] = bad
    with pytest.raises(SharpeError, match=r"2 non-finite value\(s\).*position 3"):
        probabilistic_sharpe_ratio_from_returns(x)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sr": math.nan},
        {"skew": math.inf},
        {"kurtosis": math.nan},
        {"sr_benchmark": math.nan},
        {"sr": "high"},
    ],
)
def test_non_finite_numbers(kwargs):
    args = {"sr": 0.1, "n_obs": 100, "skew": 0.0, "kurtosis": 3.0} | kwargs
    with pytest.raises(SharpeError):
        probabilistic_sharpe_ratio(**args)


def test_psr_denominator_not_positive():
    # Excess kurtosis (0) passed for ordinary kurtosis, with a large per-period SR.
    with pytest.raises(SharpeError, match="kurtosis must be the ordinary"):
        probabilistic_sharpe_ratio(2.5, 100, 0.0, 0.0)
    with pytest.raises(SharpeError, match="<= 0"):
        probabilistic_sharpe_ratio(1.0, 100, 3.0, 3.0)


@pytest.mark.parametrize("n", [1, 0, 2.0, True])
def test_bad_counts(n):
    with pytest.raises(SharpeError):
        probabilistic_sharpe_ratio(0.1, n, 0.0, 3.0)
    with pytest.raises(SharpeError):
        expected_max_sharpe(n, 1.0)


@pytest.mark.parametrize("v", [-1e-9, math.nan, math.inf])
def test_bad_variance(v):
    with pytest.raises(SharpeError, match="variance"):
        expected_max_sharpe(10, v)


def test_too_many_trials():
    with pytest.raises(SharpeError, match="too large"):
        expected_max_sharpe(10**17, 1.0)


@pytest.mark.parametrize("ppy", [0, -12, math.nan])
def test_bad_periods_per_year(ppy):
    with pytest.raises(SharpeError, match="periods_per_year"):
        sharpe_ratio([0.01, 0.02, -0.01], periods_per_year=ppy)


def test_shapes():
    with pytest.raises(SharpeError, match="1-D"):
        sharpe_ratio(np.ones((4, 2)))
    with pytest.raises(SharpeError, match="at least 2 trials"):
        deflated_sharpe_ratio_from_trials(np.ones((10, 1)))
    with pytest.raises(SharpeError, match="2-D"):
        deflated_sharpe_ratio_from_trials(np.ones(10))


def test_errors_are_value_errors():
    assert issubclass(SharpeError, ValueError)
