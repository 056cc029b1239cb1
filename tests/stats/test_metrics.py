"""validators.stats.metrics against slow, obviously-correct reference versions."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from validators.stats.metrics import STATISTICS, average_ranks, beyond_level, column_statistic, roc_auc

FAST = settings(max_examples=60, deadline=None)


# -- slow references ------------------------------------------------------------------------

def slow_auc(labels, scores):
    """P(score_pos > score_neg) + 0.5 P(tie), counting every (positive, negative) pair."""
    pos = [s for y, s in zip(labels, scores) if y == 1]
    neg = [s for y, s in zip(labels, scores) if y == 0]
    wins = 0.0
    for p in pos:
        for n in neg:
            if p > n:
                wins += 1.0
            elif p == n:
                wins += 0.5
    return wins / (len(pos) * len(neg))


def slow_ranks(values):
    """1-based rank: how many are smaller, plus the middle of the run of equal values."""
    out = []
    for v in values:
        smaller = sum(1 for w in values if w < v)
        equal = sum(1 for w in values if w == v)
        out.append(smaller + (equal + 1) / 2.0)
    return out


def slow_quantile(values, q):
    """Linear interpolation between closest ranks (numpy's default, method 7 of Hyndman-Fan)."""
    xs = sorted(values)
    h = (len(xs) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (h - lo) * (xs[hi] - xs[lo])


# -- strategies -----------------------------------------------------------------------------

# Scores on a coarse grid so that ties are common, and arbitrary floats so that they are not.
coarse = st.integers(0, 10).map(lambda i: i / 10)
fine = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


any_score = st.one_of(coarse, fine)


@st.composite
def labelled(draw, score=any_score):
    n = draw(st.integers(2, 40))
    n_pos = draw(st.integers(1, n - 1))
    labels = draw(st.permutations([1] * n_pos + [0] * (n - n_pos)))
    scores = draw(st.lists(score, min_size=n, max_size=n))
    return labels, scores


# -- roc_auc --------------------------------------------------------------------------------

@FAST
@given(data=labelled(score=coarse))
def test_roc_auc_matches_pair_counting_with_ties(data):
    labels, scores = data
    assert roc_auc(labels, scores) == pytest.approx(slow_auc(labels, scores), abs=1e-12)


@FAST
@given(data=labelled(score=fine))
def test_roc_auc_matches_pair_counting(data):
    labels, scores = data
    assert roc_auc(labels, scores) == pytest.approx(slow_auc(labels, scores), abs=1e-12)


@FAST
@given(data=labelled())
def test_roc_auc_accepts_float_and_bool_like_label_arrays(data):
    labels, scores = data
    expected = slow_auc(labels, scores)
    assert roc_auc(np.asarray(labels, dtype=np.float64), np.asarray(scores)) == pytest.approx(expected, abs=1e-12)
    assert roc_auc(np.asarray(labels, dtype=bool), scores) == pytest.approx(expected, abs=1e-12)


@FAST
@given(data=labelled())
def test_roc_auc_symmetries(data):
    labels, scores = data
    auc = roc_auc(labels, scores)
    assert 0.0 <= auc <= 1.0
    flipped = [1 - y for y in labels]
    assert roc_auc(flipped, scores) == pytest.approx(1.0 - auc, abs=1e-12)
    assert roc_auc(labels, [-s for s in scores]) == pytest.approx(1.0 - auc, abs=1e-12)


@FAST
@given(data=labelled(score=fine))
def test_roc_auc_against_sklearn(data):
    metrics = pytest.importorskip("sklearn.metrics")
    labels, scores = data
    assert roc_auc(labels, scores) == pytest.approx(metrics.roc_auc_score(labels, scores), abs=1e-12)


def test_roc_auc_squeezed_scores_are_still_exact():
    # Keras' 200-threshold AUC gives 0.5 here; the exact value is 1.0.
    labels = [0] * 50 + [1] * 50
    scores = list(np.linspace(0.9991, 0.9995, 50)) + list(np.linspace(0.9996, 0.99999, 50))
    assert roc_auc(labels, scores) == 1.0


def test_roc_auc_known_values():
    assert roc_auc([0, 1], [0.2, 0.8]) == 1.0
    assert roc_auc([0, 1], [0.8, 0.2]) == 0.0
    assert roc_auc([0, 1], [0.5, 0.5]) == 0.5
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75


@pytest.mark.parametrize(
    "labels, scores, match",
    [
        ([1, 1, 1], [0.1, 0.2, 0.3], "single class"),
        ([0, 0], [0.1, 0.2], "single class"),
        ([], [], "single class"),
        ([0, 1, 2], [0.1, 0.2, 0.3], "0 or 1"),
        ([0, 1, -1], [0.1, 0.2, 0.3], "0 or 1"),
        ([0, 1, 0.5], [0.1, 0.2, 0.3], "0 or 1"),
        ([0, 1, math.nan], [0.1, 0.2, 0.3], "0 or 1"),
        ([0, 1], [0.1, math.nan], "NaN or inf"),
        ([0, 1], [0.1, math.inf], "NaN or inf"),
        ([0, 1, 1], [0.1, 0.2], "labels but"),
    ],
)
def test_roc_auc_undefined_raises_value_error(labels, scores, match):
    with pytest.raises(ValueError, match=match):
        roc_auc(labels, scores)


# -- average_ranks --------------------------------------------------------------------------

@FAST
@given(st.lists(st.one_of(coarse, fine, st.sampled_from([0.0, -0.0])), max_size=40))
def test_average_ranks_matches_reference(values):
    ranks = average_ranks(values)
    assert ranks.tolist() == pytest.approx(slow_ranks(values), abs=0)
    if values:
        assert ranks.sum() == pytest.approx(len(values) * (len(values) + 1) / 2)


def test_average_ranks_known():
    assert average_ranks([10, 20, 20, 5]).tolist() == [2.0, 3.5, 3.5, 1.0]
    assert average_ranks([]).tolist() == []


# -- column_statistic -----------------------------------------------------------------------

moderate = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
samples = st.lists(moderate, min_size=1, max_size=40)


@FAST
@given(samples)
def test_mean_median_min_max_match_statistics_module(xs):
    assert column_statistic(xs, "mean") == pytest.approx(statistics.fmean(xs), rel=1e-9, abs=1e-6)
    assert column_statistic(xs, "median") == pytest.approx(statistics.median(xs), rel=1e-12, abs=1e-9)
    assert column_statistic(xs, "min") == min(xs)
    assert column_statistic(xs, "max") == max(xs)


@FAST
@given(st.lists(moderate, min_size=2, max_size=40))
def test_std_matches_statistics_module(xs):
    assert column_statistic(xs, "std") == pytest.approx(statistics.pstdev(xs), rel=1e-7, abs=1e-6)
    assert column_statistic(xs, "std", ddof=1) == pytest.approx(statistics.stdev(xs), rel=1e-7, abs=1e-6)


@FAST
@given(samples, st.floats(min_value=0.0, max_value=1.0))
def test_quantile_matches_linear_interpolation(xs, q):
    assert column_statistic(xs, "quantile", q=q) == pytest.approx(slow_quantile(xs, q), rel=1e-9, abs=1e-6)


def test_quantile_endpoints_are_min_and_max():
    xs = [3.0, -1.0, 7.5, 2.0]
    assert column_statistic(xs, "quantile", q=0.0) == -1.0
    assert column_statistic(xs, "quantile", q=1.0) == 7.5
    assert column_statistic(xs, "quantile", q=0.5) == statistics.median(xs)


@pytest.mark.parametrize("stat", STATISTICS)
@pytest.mark.parametrize("values, match", [([], "no values"), ([1.0, math.nan], "NaN or inf"),
                                           ([math.inf, 1.0], "NaN or inf"), ([math.nan, 1.0], "NaN or inf")])
def test_statistic_of_empty_or_non_finite_raises(stat, values, match):
    # max([1, nan]) is 1 but max([nan, 1]) is nan: refuse either order rather than guess.
    with pytest.raises(ValueError, match=match):
        column_statistic(values, stat, q=0.5)


@pytest.mark.parametrize("q", [None, -0.1, 1.5, math.nan])
def test_quantile_needs_q_in_unit_interval(q):
    with pytest.raises(ValueError, match="quantile needs q"):
        column_statistic([1.0, 2.0], "quantile", q=q)


def test_unknown_statistic_and_too_few_values_for_ddof():
    with pytest.raises(ValueError, match="unknown statistic"):
        column_statistic([1.0], "mode")
    with pytest.raises(ValueError, match="ddof=1"):
        column_statistic([1.0], "std", ddof=1)


# -- beyond_level ---------------------------------------------------------------------------

@FAST
@given(st.lists(st.floats(allow_nan=True), max_size=30), st.floats(min_value=-2, max_value=2),
       st.sampled_from(["above", "below"]), st.booleans())
def test_beyond_level_never_counts_nan(xs, level, side, inclusive):
    mask = beyond_level(np.asarray(xs, dtype=np.float64), level, side, inclusive)
    for x, m in zip(xs, mask.tolist()):
        if math.isnan(x):
            assert m is False
        elif side == "above":
            assert m is (x >= level if inclusive else x > level)
        else:
            assert m is (x <= level if inclusive else x < level)


def test_beyond_level_bad_side():
    with pytest.raises(ValueError, match="side"):
        beyond_level([1.0], 0.5, "sideways")
