"""Non-neural reference estimators against closed-form MI and a brute NumPy KSG."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import special

from infomax.distributions import asinh, correlated_gaussian, cubic
from infomax.reference import AUTO_JITTER, gaussian, ksg
from infomax.result import MIEstimate


def _numpy_ksg(x: np.ndarray, y: np.ndarray, k: int, norm: str) -> float:
    """Textbook KSG-1 from full distance matrices (O(N^2) memory; small N only)."""
    x = (x - x.mean(0)) / x.std(0)
    y = (y - y.mean(0)) / y.std(0)

    def distances(a: np.ndarray) -> np.ndarray:
        diff = np.abs(a[:, None, :] - a[None, :, :])
        return diff.max(-1) if norm == "max" else np.sqrt((diff**2).sum(-1))

    dx, dy = distances(x.astype(np.float64)), distances(y.astype(np.float64))
    dz = np.maximum(dx, dy)
    np.fill_diagonal(dz, np.inf)
    eps = np.sort(dz, axis=1)[:, k - 1]
    n_x = (dx < eps[:, None]).sum(1) - 1  # minus the point itself
    n_y = (dy < eps[:, None]).sum(1) - 1
    n = x.shape[0]
    return float(
        special.digamma(k)
        + special.digamma(n)
        - np.mean(special.digamma(n_x + 1) + special.digamma(n_y + 1))
    )


# ---------------------------------------------------------------- gaussian


def test_gaussian_on_gaussian_task_is_within_003_nats() -> None:
    task = correlated_gaussian(dim=5, mi=1.0)
    x, y = task.sample(20_000, seed=0)
    result = gaussian(x, y)
    assert isinstance(result, MIEstimate)
    assert (result.bound, result.n_train, result.n_heldout) == ("gaussian", 0, 20_000)
    assert abs(result.mi - task.mi) < 0.03
    # Delta-method stderr of a Gaussian: sqrt(sum_k rho_k^2 / N).
    assert result.stderr == pytest.approx(math.sqrt((task.rho**2).sum() / 20_000), rel=0.1)
    np.testing.assert_allclose(sorted(result.info["canonical_correlations"]), task.rho, atol=0.02)


def test_gaussian_is_invariant_to_affine_column_maps() -> None:
    x, y = correlated_gaussian(dim=3, mi=0.7).sample(2000, seed=1)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    scaled = gaussian(x64 * [2.0, -0.5, 10.0] + 3.0, y64 * 1e3 - 7.0)
    assert scaled.mi == pytest.approx(gaussian(x64, y64).mi, abs=1e-10)


def test_gaussian_bias_correction_removes_the_plug_in_excess() -> None:
    """Independent 5 + 5 Gaussians, N = 200: the plug-in is high by ~ d_x d_y / (2N)."""
    rng = np.random.default_rng(2)
    corrected, raw = [], []
    for _ in range(300):
        x, y = rng.standard_normal((200, 5)), rng.standard_normal((200, 5))
        corrected.append(gaussian(x, y).mi)
        raw.append(gaussian(x, y, bias_correction=False).mi)
    corrected_arr, raw_arr = np.array(corrected), np.array(raw)
    se = corrected_arr.std(ddof=1) / math.sqrt(300)
    assert abs(corrected_arr.mean()) < 3 * se
    assert raw_arr.mean() > 25 / 400 * 0.9  # the uncorrected estimate is biased up
    # Under independence 2 N I ~ chi^2_{25} approximately: the stderr's null term.
    assert gaussian(x, y).stderr >= math.sqrt(2 * 25) / 400


def test_gaussian_stderr_matches_spread_over_repeats() -> None:
    task = cubic(dim=2, mi=1.0)  # non-Gaussian data: the delta method must still hold
    estimates, stderrs = [], []
    for seed in range(150):
        x, y = task.sample(2000, seed=100 + seed)
        result = gaussian(x, y)
        estimates.append(result.mi)
        stderrs.append(result.stderr)
    assert np.std(estimates, ddof=1) == pytest.approx(np.mean(stderrs), rel=0.2)


def test_gaussian_bad_input_raises_clear_errors() -> None:
    x, y = correlated_gaussian(dim=2, mi=1.0).sample(500, seed=3)
    with pytest.raises(ValueError, match="same number of rows"):
        gaussian(x, y[:-1])
    with pytest.raises(ValueError, match="constant"):
        gaussian(np.c_[x, np.ones(500)], y)
    with pytest.raises(ValueError, match="columns of x are linearly dependent"):
        gaussian(np.c_[x, x[:, 0]], y)
    with pytest.raises(ValueError, match="columns of y are linearly dependent"):
        gaussian(x, np.c_[y, 2 * y[:, 1] - y[:, 0]])
    with pytest.raises(ValueError, match="Gaussian MI is infinite"):
        gaussian(x, x[:, :1] * 3.0)
    with pytest.raises(ValueError, match="too few samples"):
        gaussian(x[:4], y[:4])
    bad = x.copy()
    bad[7, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        gaussian(bad, y)


# ---------------------------------------------------------------- ksg


def test_ksg_on_bivariate_gaussian_recovers_half_a_nat() -> None:
    task = correlated_gaussian(dim=1, mi=0.5)
    x, y = task.sample(5000, seed=4)
    result = ksg(x, y, k=3)
    assert (result.bound, result.n_train, result.n_heldout) == ("ksg", 0, 5000)
    assert abs(result.mi - 0.5) < 0.05
    assert 0.005 < result.stderr < 0.05


def test_ksg_on_independent_data_is_zero() -> None:
    x, y = correlated_gaussian(dim=1, mi=0.0).sample(5000, seed=5)
    assert abs(ksg(x, y).mi) < 0.03


def test_ksg_is_nearly_invariant_to_monotone_transforms() -> None:
    x, y = correlated_gaussian(dim=1, mi=1.0).sample(5000, seed=6)
    tx, ty = asinh(dim=1, mi=1.0).sample(5000, seed=6)  # asinh of the same draws
    plain, transformed = ksg(x, y).mi, ksg(tx, ty).mi
    assert abs(plain - transformed) < 0.03
    assert abs(transformed - 1.0) < 0.06


@pytest.mark.parametrize("norm", ["max", "euclidean"])
def test_ksg_matches_numpy_reference(norm: str) -> None:
    x, y = correlated_gaussian(mi_per_dim=[0.4, 0.8]).sample(300, seed=7)
    x = np.c_[x, x[:, 0] ** 2 + 0.1 * y[:, 1]]  # 3 + 2 dims, so the two norms differ
    expected = _numpy_ksg(x, y, 4, norm)
    assert ksg(x, y, k=4, marginal_norm=norm, algorithm="brute").mi == pytest.approx(expected)
    if norm == "max":
        assert ksg(x, y, k=4, algorithm="kdtree").mi == pytest.approx(expected)


def test_ksg_accepts_tensors_and_1d_arrays() -> None:
    x, y = correlated_gaussian(dim=1, mi=0.5).sample(400, seed=8)
    expected = ksg(x, y).mi
    assert ksg(torch.from_numpy(x), torch.from_numpy(y)).mi == pytest.approx(expected)
    assert ksg(x[:, 0], y[:, 0]).mi == pytest.approx(expected)


def test_ksg_ties_get_a_jitter_that_is_said() -> None:
    rng = np.random.default_rng(9)
    x = rng.integers(0, 3, size=(600, 1)).astype(float)
    y = x + rng.integers(0, 2, size=(600, 1))
    with pytest.raises(ValueError, match="duplicated rows.*jitter"):
        ksg(x, y, jitter=0)
    # By default the ties are broken with a small noise, and the output says so. The
    # discrete MI is H(y) - log 2 for x uniform on 3 values and y = x + Bernoulli(1/2).
    p_y = np.array([1, 2, 2, 1]) / 6
    discrete = float(-(p_y * np.log(p_y)).sum() - math.log(2))
    result = ksg(x, y)
    assert result.info["jitter"] == AUTO_JITTER
    assert "tied values" in result.info["warnings"][0]
    assert result.mi == pytest.approx(discrete, abs=0.1)
    assert ksg(x, y, jitter=1e-6).mi == pytest.approx(result.mi, abs=1e-9)
    # Continuous data get no noise and no warning.
    a, b = correlated_gaussian(dim=1, mi=0.5).sample(400, seed=8)
    assert ksg(a, b).info["jitter"] == 0.0 and ksg(a, b).info["warnings"] == []
    with pytest.raises(ValueError, match="jitter must be"):
        ksg(a, b, jitter="some")


def test_ksg_bad_input_raises_clear_errors() -> None:
    x, y = correlated_gaussian(dim=2, mi=1.0).sample(100, seed=10)
    with pytest.raises(ValueError, match="same number of rows"):
        ksg(x, y[:-1])
    with pytest.raises(ValueError, match="too few samples"):
        ksg(x[:4], y[:4], k=3)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        ksg(x, y, k=0)
    with pytest.raises(ValueError, match="marginal_norm"):
        ksg(x, y, marginal_norm="l1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kdtree"):
        ksg(x, y, marginal_norm="euclidean", algorithm="kdtree")
    with pytest.raises(ValueError, match="constant"):
        ksg(np.c_[x, np.zeros(100)], y)
