"""Tests for validators.stats.cscv: fast path == general path == a slow, obviously-correct reference."""

from __future__ import annotations

import itertools
import math
from dataclasses import FrozenInstanceError

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import rankdata

from validators.stats import cscv as pbo_module
from validators.stats.cscv import METRICS, PBOError, pbo, split_blocks

# --- the slow reference: the paper's algorithm, line by line ------------------------------


def reference_pbo(returns: np.ndarray, S: int, metric) -> dict:
    """CSCV straight from the definition: raw rows per split, a full sort for the ranks."""
    X = np.asarray(returns, dtype=float)
    T, N = X.shape
    X = X[T % S :]  # drop the oldest rows, as pbo() documents
    blocks = np.array_split(np.arange(X.shape[0]), S)
    logits, selected, is_perf, oos_perf = [], [], [], []
    for is_blocks in itertools.combinations(range(S), S // 2):
        oos_blocks = [b for b in range(S) if b not in is_blocks]
        r_is = metric(X[np.concatenate([blocks[b] for b in is_blocks])])
        r_oos = metric(X[np.concatenate([blocks[b] for b in oos_blocks])])
        n_star = int(np.argmax(r_is))
        omega = rankdata(r_oos, method="average")[n_star] / (N + 1)
        logits.append(math.log(omega / (1 - omega)))
        selected.append(n_star)
        is_perf.append(r_is[n_star])
        oos_perf.append(r_oos[n_star])
    logits = np.array(logits)
    return {
        "pbo": float(np.mean(logits <= 0)),
        "logits": logits,
        "selected": np.array(selected),
        "is_performance": np.array(is_perf),
        "oos_performance": np.array(oos_perf),
    }


def assert_matches(result, ref, rtol=1e-12):
    assert result.pbo == ref["pbo"]
    np.testing.assert_array_equal(result.selected, ref["selected"])
    np.testing.assert_allclose(result.logits, ref["logits"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.is_performance, ref["is_performance"], rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(result.oos_performance, ref["oos_performance"], rtol=rtol, atol=1e-12)


@st.composite
def matrices(draw, max_splits=8):
    S = draw(st.sampled_from([s for s in (2, 4, 6, 8) if s <= max_splits]))
    N = draw(st.integers(2, 9))
    n = draw(st.integers(2, 6))  # rows per block: every half has >= 2 rows
    extra = draw(st.integers(0, S - 1))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scale = draw(st.sampled_from([1e-3, 1.0, 100.0]))
    drift = rng.normal(0, 0.3, N)
    X = scale * (rng.standard_normal((n * S + extra, N)) + drift)
    return X, S


# --- agreement: fast == general == reference ----------------------------------------------


@settings(max_examples=60, deadline=None)
@given(matrices(), st.sampled_from(["sharpe", "mean", "sum"]))
def test_fast_general_and_reference_agree(case, metric):
    X, S = case
    fast = pbo(X, S, metric)
    general = pbo(X, S, METRICS[metric])
    ref = reference_pbo(X, S, METRICS[metric])
    assert_matches(fast, ref)
    assert_matches(general, ref)
    assert 0.0 <= fast.pbo <= 1.0
    assert fast.n_combinations == math.comb(S, S // 2) == fast.logits.size
    assert fast.rows_dropped == X.shape[0] % S
    assert fast.n_rows_used == X.shape[0] - fast.rows_dropped


@settings(max_examples=30, deadline=None)
@given(matrices(max_splits=6), st.data())
def test_permuting_trials_leaves_pbo_unchanged(case, data):
    X, S = case
    perm = np.array(data.draw(st.permutations(range(X.shape[1]))))
    a, b = pbo(X, S), pbo(X[:, perm], S)
    assert a.pbo == b.pbo
    np.testing.assert_allclose(a.logits, b.logits, atol=1e-12)
    np.testing.assert_array_equal(perm[b.selected], a.selected)


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from([2, 4, 6]),
    st.integers(2, 6),
    st.integers(1, 4),
    st.integers(0, 2**32 - 1),
    st.sampled_from(["mean", "sum"]),
)
def test_exact_ties_on_integer_data(S, N, n, seed, metric):
    # Small integers: every sum is exact, so ties are exact in every path.
    X = np.random.default_rng(seed).integers(-2, 3, size=(S * n, N)).astype(float)
    assert_matches(pbo(X, S, metric), reference_pbo(X, S, METRICS[metric]))
    assert_matches(pbo(X, S, METRICS[metric]), reference_pbo(X, S, METRICS[metric]))


@pytest.mark.parametrize("metric", ["sharpe", "mean", "sum"])
def test_duplicated_trials_tie_exactly(metric):
    rng = np.random.default_rng(7)
    base = rng.standard_normal((96, 5))
    X = base[:, [0, 1, 1, 2, 3, 3, 3, 4, 0]]
    result = pbo(X, 8, metric)
    assert_matches(result, reference_pbo(X, 8, METRICS[metric]))
    # Copies of the winner never beat it: the selected trial is always the first copy.
    assert set(result.selected.tolist()) <= {0, 1, 3, 4, 7}


def test_many_chunks_give_the_same_result(monkeypatch):
    X = np.random.default_rng(3).standard_normal((80, 6))
    whole = pbo(X, 8)
    monkeypatch.setattr(pbo_module, "CHUNK_ELEMENTS", 7)  # one split per chunk
    for metric in ("sharpe", METRICS["sharpe"]):
        chunked = pbo(X, 8, metric)
        assert chunked.pbo == whole.pbo
        np.testing.assert_allclose(chunked.logits, whole.logits, atol=1e-12)


def test_large_mean_against_spread_stays_accurate():
    # Chan's form combines block variances without subtracting large sums of squares.
    rng = np.random.default_rng(11)
    X = 1e4 + rng.standard_normal((160, 6)) * np.array([1, 2, 3, 4, 5, 6]) * 1e-3
    assert_matches(pbo(X, 8), reference_pbo(X, 8, METRICS["sharpe"]), rtol=1e-11)


def test_blockwise_constant_trial_has_a_defined_sharpe():
    # Constant within each block but not across blocks: every half has variance > 0.
    rng = np.random.default_rng(5)
    X = rng.standard_normal((64, 4))
    X[:, 2] = np.repeat(np.arange(8.0), 8)
    assert_matches(pbo(X, 8), reference_pbo(X, 8, METRICS["sharpe"]))


# --- split order ---------------------------------------------------------------------------


@pytest.mark.parametrize("S", [2, 4, 8, 10])
def test_split_order_and_complements(S):
    C = math.comb(S, S // 2)
    order = list(itertools.combinations(range(S), S // 2))
    for i in range(C):
        assert split_blocks(i, S) == order[i]
        assert set(split_blocks(C - 1 - i, S)) == set(range(S)) - set(order[i])
        assert pbo_module._split_index(order[i], S) == i


# --- documented decisions on hand-made matrices ------------------------------------------


def test_ties_get_average_ranks_and_in_sample_ties_pick_the_first():
    # S=2, one row per block. Split 0: in-sample row 0 picks trial 0; out of sample it ties
    # with trial 1 at the top: average rank 2.5 of 3, omega 0.625. Split 1: in-sample row 1
    # ties trials 0 and 1; the first (trial 0) is selected; out of sample rank 3, omega 0.75.
    X = np.array([[3.0, 1.0, 2.0], [5.0, 5.0, 0.0]])
    result = pbo(X, 2, "sum")
    np.testing.assert_array_equal(result.selected, [0, 0])
    np.testing.assert_allclose(result.logits, [math.log(5 / 3), math.log(3)], rtol=1e-15)
    assert result.pbo == 0.0  # minimum ranks would give 0.5, picking trial 1 would give 0.5


def test_rank_exactly_at_the_median_counts_as_overfit():
    # N = 3, the selected trial is ranked 2 = (N + 1) / 2 out of sample in both splits.
    X = np.array([[3.0, 1.0, 2.0], [1.0, 0.0, 2.0]])
    result = pbo(X, 2, "sum")
    np.testing.assert_array_equal(result.logits, [0.0, 0.0])
    assert result.pbo == 1.0


def test_oldest_rows_are_dropped_when_t_is_not_divisible():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((8 * 10 + 5, 6))
    result = pbo(X, 8)
    assert (result.rows_dropped, result.n_rows_used) == (5, 80)
    np.testing.assert_array_equal(result.logits, pbo(X[5:], 8).logits)
    X[:5] = 1e9  # values in the dropped rows cannot matter
    np.testing.assert_array_equal(result.logits, pbo(X, 8).logits)


def test_dataframe_keeps_names_and_matches_the_array():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((64, 4))
    df = pd.DataFrame(X, columns=["c=0.5", "c=0.55", "c=0.6", "c=0.65"])
    a, b = pbo(df, 8), pbo(X, 8)
    assert a.trial_names == ("c=0.5", "c=0.55", "c=0.6", "c=0.65")
    assert b.trial_names == (0, 1, 2, 3)
    np.testing.assert_array_equal(a.logits, b.logits)
    assert a.metric == "sharpe" and pbo(X, 8, METRICS["mean"]).metric == "block_mean"


def test_summary_statistics():
    rng = np.random.default_rng(9)
    X = rng.standard_normal((128, 10))
    r = pbo(X, 8)
    slope, intercept = np.polyfit(r.is_performance, r.oos_performance, 1)
    assert r.degradation.slope == pytest.approx(slope, rel=1e-9)
    assert r.degradation.intercept == pytest.approx(intercept, rel=1e-9, abs=1e-12)
    corr = np.corrcoef(r.is_performance, r.oos_performance)[0, 1]
    assert r.degradation.r2 == pytest.approx(corr**2, rel=1e-9)
    assert r.probability_of_loss == np.mean(r.oos_performance < 0)


def test_degradation_is_none_when_undefined():
    X = np.array([[1.0, 0.0], [1.0, 0.0]])
    r = pbo(X, 2, "sum")
    np.testing.assert_array_equal(r.is_performance, [1.0, 1.0])
    assert r.degradation is None


def test_result_is_immutable():
    r = pbo(np.random.default_rng(0).standard_normal((32, 3)), 4)
    with pytest.raises(FrozenInstanceError):
        r.pbo = 0.0
    with pytest.raises(ValueError):
        r.logits[0] = 0.0


# --- statistical behaviour ----------------------------------------------------------------


def test_pure_noise_is_near_one_half():
    values = [pbo(np.random.default_rng(seed).standard_normal((400, 20)), 8).pbo for seed in range(12)]
    assert 0.35 < np.mean(values) < 0.65


def test_a_truly_dominant_trial_gives_pbo_near_zero():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((480, 20))
    X[:, 7] += 1.0  # Sharpe ~1 per period against 0 for the others
    r = pbo(X, 16)
    assert r.pbo < 0.02
    assert np.mean(r.selected == 7) > 0.98
    assert r.probability_of_loss == 0.0


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("S", [3, 1, 0, -2, 2.0, True, "16", None])
def test_bad_n_splits(S):
    with pytest.raises(PBOError, match="n_splits must be an even integer"):
        pbo(np.zeros((40, 3)), S)


def test_too_many_splits_is_refused():
    with pytest.raises(PBOError, match="n_splits <= 24"):
        pbo(np.random.default_rng(0).standard_normal((300, 3)), 26)


def test_more_splits_than_rows():
    with pytest.raises(PBOError, match="n_splits=16 blocks need at least 16 rows, but returns has 10"):
        pbo(np.random.default_rng(0).standard_normal((10, 3)), 16)


@pytest.mark.parametrize("shape", [(40, 1), (40, 0)])
def test_fewer_than_two_trials(shape):
    with pytest.raises(PBOError, match="at least 2 trials"):
        pbo(np.ones(shape), 4)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_named(bad):
    X = np.random.default_rng(0).standard_normal((40, 3))
    X[5, 2] = bad
    X[9, 0] = bad
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    with pytest.raises(PBOError, match=r"2 non-finite value\(s\).*at row 5, trial 'c'"):
        pbo(df, 4)


def test_missing_values_in_a_nullable_dataframe_are_named():
    df = pd.DataFrame({"a": [0.1, -0.2] * 8, "b": pd.array([0.3, None] + [0.1, -0.1] * 7, dtype="Float64")})
    with pytest.raises(PBOError, match=r"1 non-finite value\(s\).*nan at row 1, trial 'b'"):
        pbo(df, 4)


def test_non_finite_in_dropped_rows_is_still_an_error():
    X = np.random.default_rng(0).standard_normal((41, 3))
    X[0, 1] = np.nan
    with pytest.raises(PBOError, match="at row 0, trial 1"):
        pbo(X, 4)


@pytest.mark.parametrize("value", [np.ones(10), np.ones((2, 3, 4)), [["a", "b"], ["c", "d"]]])
def test_not_a_matrix(value):
    with pytest.raises(PBOError):
        pbo(value, 2)


def test_non_numeric_dataframe():
    with pytest.raises(PBOError, match="non-numeric"):
        pbo(pd.DataFrame({"a": ["x"] * 8, "b": [1.0] * 8}), 2)


@pytest.mark.parametrize("metric", ["sortino", 3])
def test_unknown_metric(metric):
    with pytest.raises(PBOError, match="sharpe"):
        pbo(np.random.default_rng(0).standard_normal((40, 3)), 4, metric)


def test_flat_trial_over_a_half_is_an_error_naming_trial_and_split():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.standard_normal((64, 3)), columns=["a", "never trades", "c"])
    X.iloc[: 64 // 2, 1] = 0.0  # flat over blocks 0..3 of 8: Sharpe 0/0 in splits 0 and 69
    for metric in ("sharpe", METRICS["sharpe"]):
        with pytest.raises(PBOError, match=r"trial 'never trades'.*blocks \(0, 1, 2, 3\).*split 0.*split 69"):
            pbo(X, 8, metric)
    # The mean and the sum are defined there.
    assert 0.0 <= pbo(X, 8, "mean").pbo <= 1.0


def test_flat_over_non_adjacent_blocks_is_found():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 3))
    for b in (1, 3, 4, 6):
        X[8 * b : 8 * (b + 1), 0] = 0.25
    index = list(itertools.combinations(range(8), 4)).index((1, 3, 4, 6))
    with pytest.raises(
        PBOError, match=rf"trial 0: zero variance \(constant 0.25\).*\(1, 3, 4, 6\).*split {index}"
    ):
        pbo(X, 8)


def test_constant_trial_everywhere():
    X = np.random.default_rng(0).standard_normal((64, 3))
    X[:, 2] = 0.0
    with pytest.raises(PBOError, match="trial 2: zero variance"):
        pbo(X, 16)


def test_single_row_halves_have_no_sharpe():
    with pytest.raises(PBOError, match="at least 2 rows per half"):
        pbo(np.random.default_rng(0).standard_normal((3, 4)), 2)


def test_callable_metric_returning_nan_names_trial_and_split():
    def fragile(rows):
        out = rows.mean(axis=0)
        if rows[0, 0] > 0:
            out[1] = np.nan
        return out

    X = np.random.default_rng(0).standard_normal((16, 3))
    X[0, 0] = 1.0  # block 0 starts with a positive value: every half with block 0 fails
    with pytest.raises(
        PBOError, match=r"trial 1: metric 'fragile' returned nan over blocks \(0, 1\).*split 0"
    ):
        pbo(X, 4, fragile)


def test_callable_metric_with_wrong_shape():
    with pytest.raises(PBOError, match=r"shape \(\); it must return one number per trial, shape \(3,\)"):
        pbo(np.random.default_rng(0).standard_normal((16, 3)), 4, lambda rows: rows.mean())


def test_public_api_is_the_function():
    from validators import pbo as public

    assert callable(public) and public is pbo


# --- the fast path's numerics and memory -----------------------------------------------------


def test_fortran_ordered_and_strided_inputs_give_the_same_result():
    X = np.random.default_rng(12).standard_normal((163, 9))
    ref = pbo(X, 8)
    for variant in (np.asfortranarray(X), np.repeat(X, 2, axis=1)[:, ::2], pd.DataFrame(X)):
        other = pbo(variant, 8)
        assert other.pbo == ref.pbo
        np.testing.assert_array_equal(other.logits, ref.logits)


@pytest.mark.parametrize("scale", [1e-2, 1e-4])
def test_a_much_quieter_block_takes_the_exact_path(scale):
    # Block 3 of trial 1 is far quieter than its others, trial 4's mean far above its spread: the
    # largest block sum of squares (about 0) exceeds HARD_RATIO times the smallest block M2.
    rng = np.random.default_rng(13)
    X = rng.standard_normal((96, 5))
    X[36:48, 1] *= scale
    X[:, 4] = 50.0 + 1e-3 * rng.standard_normal(96)  # a mean far above the spread
    from validators.stats.cscv_blocks import block_stats

    assert block_stats(X, 8, "sharpe").hard.tolist() == [False, True, False, False, True]
    assert_matches(pbo(X, 8), reference_pbo(X, 8, METRICS["sharpe"]), rtol=1e-11)


def test_values_whose_squares_overflow_are_an_error():
    X = np.random.default_rng(0).standard_normal((64, 3))
    X[:, 1] *= 1e160
    with pytest.raises(PBOError, match="overflows a float64"):
        pbo(X, 4)


def test_memory_beyond_the_input_is_a_small_share_of_it():
    import tracemalloc

    X = np.random.default_rng(0).standard_normal((4000, 500))  # 16 MB
    pbo(X[:160, :4], 16)  # caches filled
    tracemalloc.start()
    try:
        pbo(X, 16)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.5 * X.nbytes


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(-900, 900), metric=st.sampled_from(["sharpe", "mean", "sum"]))
def test_pbo_is_the_same_at_any_power_of_two_scale(seed, k, metric):
    """Returns near 1e-160 or 1e300 (squares that under- or overflow) give the PBO of the same returns near 1."""
    x = np.random.default_rng(seed).normal(0.01, 0.02, (160, 6))
    x[np.abs(x) < 1e-3] = 1e-3  # every value stays a normal float after scaling by 2**-900
    scaled = np.ldexp(x, k)
    a, b = pbo(x, n_splits=8, metric=metric), pbo(scaled, n_splits=8, metric=metric)
    assert a.pbo == b.pbo
    np.testing.assert_allclose(b.logits, a.logits, rtol=1e-9, atol=1e-12)
