"""Tests for the band beside PBO (validators.stats.pbo_band): against a slow reference that builds
every resampled matrix row by row and runs the brute-force CSCV on it; statistical behaviour on
noise and on a skilled trial; determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_cscv import matrices, reference_pbo

from validators.stats import pbo_band as band_module
from validators.stats.cscv import METRICS, PBOError, pbo
from validators.stats.pbo_band import resample_indices

# --- the slow reference ---------------------------------------------------------------------


def reference_band(X: np.ndarray, S: int, metric: str, resamples: int, seed: int, level: float) -> dict:
    """Resample indices from the same seed; each resampled T x N matrix built row by row from the
    drawn blocks (in draw order, rows in time order); the brute-force PBO on it. The null: the
    same with each trial's mean over the rows used removed first, on the second set of draws."""
    rows = np.asarray(X, dtype=float)[X.shape[0] % S :]
    n = rows.shape[0] // S
    boot_idx, null_idx = resample_indices(seed, resamples, S)

    def resampled_pbos(data, draws):
        out = []
        for drawn in draws:
            resampled = []
            for block in drawn:
                for t in range(block * n, (block + 1) * n):
                    resampled.append(data[t])
            try:
                out.append(reference_pbo(np.array(resampled), S, _defined(METRICS[metric]))["pbo"])
            except PBOError:
                out.append(math.nan)
        return np.array(out)

    boot = resampled_pbos(rows, boot_idx)
    null = resampled_pbos(rows - rows.mean(axis=0), null_idx)
    estimate = reference_pbo(rows, S, METRICS[metric])["pbo"]
    ok, ok_null = boot[~np.isnan(boot)], null[~np.isnan(null)]
    lo, hi = np.quantile(ok, [(1 - level) / 2, (1 + level) / 2]) if ok.size else (math.nan, math.nan)
    return {"bootstrap": boot, "null": null, "interval": (lo, hi),
            "null_share": np.mean(ok_null <= estimate) if ok_null.size else None}


def _defined(metric):
    """The reference metric, raising where a trial is constant over a half (Sharpe 0/0)."""

    def checked(rows):
        out = metric(rows)
        if not np.isfinite(out).all():
            raise PBOError("undefined")
        return out

    return checked


def assert_band_matches(result, ref):
    band = result.band
    np.testing.assert_allclose(band.bootstrap, ref["bootstrap"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(band.null, ref["null"], rtol=0, atol=1e-12)
    if band.interval is None:
        assert np.isnan(ref["interval"][0])
    else:
        np.testing.assert_allclose(band.interval, ref["interval"], rtol=0, atol=1e-12)
    assert band.null_share == pytest.approx(ref["null_share"], abs=1e-12)


# --- agreement with the reference -----------------------------------------------------------


@pytest.mark.parametrize("S", [4, 8, 10, 12])
@pytest.mark.parametrize("metric", ["sharpe", "mean", "sum"])
def test_band_equals_the_reference(S, metric):
    rng = np.random.default_rng(S)
    X = rng.standard_normal((S * 9 + 3, 6)) + rng.normal(0, 0.3, 6)
    result = pbo(X, S, metric, resamples=12, seed=S + 1, level=0.8)
    assert_band_matches(result, reference_band(X, S, metric, 12, S + 1, 0.8))
    assert result.band.block_length == 9 and result.band.resamples == 12


@settings(max_examples=25, deadline=None)
@given(matrices(max_splits=8), st.sampled_from(["sharpe", "mean", "sum"]), st.integers(0, 2**32 - 1))
def test_band_equals_the_reference_on_drawn_matrices(case, metric, seed):
    X, S = case
    result = pbo(X, S, metric, resamples=6, seed=seed)
    assert_band_matches(result, reference_band(X, S, metric, 6, seed, 0.9))


def test_band_with_a_large_mean_takes_the_exact_path():
    # Mean 1e4 against a spread of 1e-3: every trial is 'hard' (pairwise variance).
    rng = np.random.default_rng(11)
    X = 1e4 + rng.standard_normal((160, 6)) * np.array([1, 2, 3, 4, 5, 6]) * 1e-3
    result = pbo(X, 8, resamples=15, seed=3)
    assert_band_matches(result, reference_band(X, 8, "sharpe", 15, 3, 0.9))


def test_resamples_with_a_flat_half_are_undefined_and_left_out():
    # Trial 1 never trades in 3 of 8 blocks: a resample drawing those blocks 4 times has a half
    # where its Sharpe ratio is 0/0.
    rng = np.random.default_rng(5)
    X = rng.standard_normal((80, 4))
    for b in (1, 4, 6):
        X[10 * b : 10 * (b + 1), 1] = 0.0
    result = pbo(X, 8, resamples=60, seed=1)
    ref = reference_band(X, 8, "sharpe", 60, 1, 0.9)
    assert_band_matches(result, ref)
    assert 0 < result.band.bootstrap_undefined == int(np.isnan(ref["bootstrap"]).sum()) < 60
    assert result.band.null_undefined == int(np.isnan(ref["null"]).sum())


def test_callable_metric_band_is_the_materialised_one():
    X = np.random.default_rng(2).standard_normal((64, 5))
    named = pbo(X, 8, "mean", resamples=10, seed=4).band
    general = pbo(X, 8, METRICS["mean"], resamples=10, seed=4).band
    np.testing.assert_allclose(general.bootstrap, named.bootstrap, atol=1e-12)
    np.testing.assert_allclose(general.null, named.null, atol=1e-12)


def test_small_batches_give_the_same_band(monkeypatch):
    X = np.random.default_rng(8).standard_normal((120, 7))
    whole = pbo(X, 8, resamples=20, seed=9).band
    monkeypatch.setattr(band_module, "BAND_ELEMENTS", 1)  # one resample per batch
    split = pbo(X, 8, resamples=20, seed=9).band
    np.testing.assert_array_equal(split.bootstrap, whole.bootstrap)
    np.testing.assert_array_equal(split.null, whole.null)


# --- determinism and the call without a band ----------------------------------------------


def test_same_seed_same_band_bit_for_bit():
    X = np.random.default_rng(0).standard_normal((2000, 21))
    a = pbo(X, 16, resamples=50, seed=7)
    b = pbo(X, 16, resamples=50, seed=7)
    assert a.band.bootstrap.tobytes() == b.band.bootstrap.tobytes()
    assert a.band.null.tobytes() == b.band.null.tobytes()
    assert (a.interval, a.null_share) == (b.interval, b.null_share)
    c = pbo(X, 16, resamples=50, seed=8)
    assert c.band.bootstrap.tobytes() != a.band.bootstrap.tobytes()
    assert np.array_equal(resample_indices(7, 50, 16)[0],
                          np.random.Generator(np.random.PCG64(7)).integers(0, 16, size=(2, 50, 16))[0])


def test_without_resamples_there_is_no_band_and_the_estimate_is_unchanged():
    X = np.random.default_rng(1).standard_normal((480, 9))
    plain, banded = pbo(X, 16), pbo(X, 16, resamples=20)
    assert plain.band is None and plain.interval is None and plain.null_share is None
    assert banded.pbo == plain.pbo
    np.testing.assert_array_equal(banded.logits, plain.logits)
    lo, hi = banded.interval
    assert 0.0 <= lo <= hi <= 1.0 and 0.0 <= banded.null_share <= 1.0
    with pytest.raises(ValueError):
        banded.band.bootstrap[0] = 0.5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"resamples": 0}, "resamples must be an integer >= 1"),
        ({"resamples": 2.5}, "resamples must be an integer >= 1"),
        ({"resamples": True}, "resamples must be an integer >= 1"),
        ({"resamples": 5, "seed": -1}, "seed must be an integer >= 0"),
        ({"resamples": 5, "level": 1.0}, "level must be a number strictly between 0 and 1"),
        ({"resamples": 5, "level": float("nan")}, "level must be a number strictly between 0 and 1"),
    ],
)
def test_bad_band_parameters(kwargs, match):
    with pytest.raises(PBOError, match=match):
        pbo(np.random.default_rng(0).standard_normal((64, 3)), 8, **kwargs)


def test_the_band_needs_at_most_18_splits():
    with pytest.raises(PBOError, match="n_splits <= 18"):
        pbo(np.random.default_rng(0).standard_normal((400, 3)), 20, resamples=5)


# --- statistical behaviour -----------------------------------------------------------------


def test_lucky_noise_has_a_large_null_share_in_most_draws():
    # Pure noise (T = 1000, N = 10): the matrices whose PBO is below 0.3 by chance.
    lucky = []
    for seed in range(120):
        X = np.random.default_rng(seed).standard_normal((1000, 10))
        if pbo(X, 16).pbo < 0.3:
            lucky.append(X)
    assert len(lucky) >= 15
    shares = np.array([pbo(X, 16, resamples=200, seed=0).null_share for X in lucky])
    assert np.mean(shares > 0.05) > 0.5


def test_one_skilled_trial_among_eight_beats_luck():
    rng = np.random.default_rng(42)
    X = rng.standard_normal((2000, 8))
    X[:, 3] += 0.15  # Sharpe 0.15 per period; the others have none
    result = pbo(X, 16, resamples=200, seed=0)
    assert result.pbo < 0.05
    assert result.null_share <= 0.05
    assert result.interval[1] < 0.3
