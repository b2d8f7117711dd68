"""estimate_mi on awkward data: duplicated columns, small samples."""

import math

import numpy as np
import pytest
import torch

from infomax import estimate_mi
from infomax.copula import MIN_EIGENVALUE, keep_invertible
from infomax.estimate import DEFAULTS
from infomax.reference import ksg
from infomax.safeguards import MIN_AUTO_BATCH, auto_batch_size, min_rows, range_warnings
from infomax.validation import InputError


def _gaussian(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """x ~ N(0, I_3), y = x + e: I(x; y) = 3/2 log 2 nats."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    return x, x + rng.normal(size=(n, 3)), 1.5 * math.log(2.0)


def test_keep_invertible_lifts_a_singular_correlation_and_leaves_others_alone():
    v = torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64)
    singular = torch.eye(3, dtype=torch.float64)
    singular[0, 1] = singular[1, 0] = 1.0  # a duplicated column
    fixed = keep_invertible(singular)
    eigenvalues = torch.linalg.eigvalsh(fixed)
    assert float(eigenvalues.min()) == pytest.approx(MIN_EIGENVALUE, rel=1e-6)
    assert torch.allclose(fixed.diagonal(), torch.ones(3, dtype=torch.float64))
    assert float(v @ fixed @ v) > 0
    regular = torch.tensor([[1.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
    assert keep_invertible(regular) is regular


def test_a_duplicated_column_gives_the_same_mi():
    x, y, true_mi = _gaussian(3000)
    duplicated = np.concatenate([x, x[:, :1]], axis=1)  # I([x, x_1]; y) = I(x; y)
    result = estimate_mi(duplicated, y, progress=False, steps=500)
    assert abs(result.mi - true_mi) < 0.15


def test_small_data_gets_a_batch_it_can_hold():
    assert auto_batch_size(50_000, 0.3) == DEFAULTS["batch_size"]
    for n in (62, 100, 300, 1000, 2218):
        batch = auto_batch_size(n, 0.3)
        assert MIN_AUTO_BATCH <= batch < DEFAULTS["batch_size"]
        assert min_rows(batch, 0.3) <= n < min_rows(batch + 1, 0.3)


def test_one_hundred_rows_give_an_estimate_with_a_wide_error_bar():
    x, y, true_mi = _gaussian(100)
    result = estimate_mi(x, y, progress=False)
    assert math.isfinite(result.mi) and result.n_heldout == 15
    assert result.stderr > 0.1  # 15 test rows: the estimate is known to a fraction of a nat
    assert -0.5 < result.mi < true_mi + 1.0


def test_too_few_rows_still_name_the_minimum():
    x, y, _ = _gaussian(40)
    with pytest.raises(InputError, match=f"at least {min_rows(MIN_AUTO_BATCH, 0.3)} are needed"):
        estimate_mi(x, y, progress=False)


def test_range_warnings_flag_negative_estimates_and_estimates_near_the_cap():
    assert range_warnings(0.5, cap=math.log(100 * 99)) == []
    (negative,) = range_warnings(-0.2, cap=None)
    assert "negative (-0.200 nats)" in negative
    (capped,) = range_warnings(8.9, cap=math.log(100 * 99))
    assert "within a nat of the read-out's cap (9.20 nats)" in capped


def test_independent_data_read_out_negative_come_with_the_warning():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(600, 4)), rng.normal(size=(600, 4))
    result = estimate_mi(x, y, progress=False, steps=300)
    assert abs(result.mi) < 0.1
    assert (result.mi < 0) == any("negative" in w for w in result.info["warnings"])


def test_more_columns_than_training_rows_are_refused_with_the_fix():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(300, 120)), rng.normal(size=(300, 120))  # 210 training rows
    with pytest.raises(InputError, match="240 columns in all for 210 training rows.*PCA"):
        estimate_mi(x, y, progress=False)


def test_ksg_options_pass_through_and_others_are_refused() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(0, 4, size=(500, 1)).astype(float)
    y = x + rng.standard_normal((500, 1))
    direct = ksg(x, y, k=5, jitter=1e-4)
    via = estimate_mi(x, y, bound="ksg", k=5, jitter=1e-4)
    assert via.mi == direct.mi and via.info["k"] == 5
    # Ties get the automatic jitter by default, and the result says so.
    assert "tied values" in estimate_mi(x, y, bound="ksg").info["warnings"][0]
    with pytest.raises(InputError, match="ksg takes no option tau; its options: k, jitter"):
        estimate_mi(x, y, bound="ksg", tau=1.0)
    with pytest.raises(InputError, match="gaussian takes no option k"):
        estimate_mi(x, y, bound="gaussian", k=3)


def test_repeats_pool_fresh_splits_with_a_t_interval() -> None:
    x, y, truth = _gaussian(1200, seed=4)
    fast = {"steps": 60, "eval_every": 30, "critic": "quadratic", "progress": False}
    pooled = estimate_mi(x, y, repeats=3, seed=5, **fast)
    runs = [estimate_mi(x, y, seed=5 + r, split_seed=5 + r, **fast) for r in range(3)]
    singles = [run.mi for run in runs]
    assert [r["mi"] for r in pooled.info["repeats"]] == pytest.approx(singles)
    assert len(set(singles)) == 3  # each repeat has its own split and training
    assert pooled.mi == pytest.approx(np.mean(singles))
    # The interval is built on the held-out estimates (none above its midpoint).
    heldout = [run.info["heldout_estimate"] for run in runs]
    assert all(h <= s for h, s in zip(heldout, singles, strict=True))
    assert np.mean(heldout) < np.mean(singles)
    assert pooled.info["heldout_estimate"] == pytest.approx(np.mean(heldout))
    # The spread over splits, plus the rows' own sampling error: each read-out's variance
    # from its test rows, scaled to all 1,200 rows.
    rows_error = np.mean([run.stderr**2 * run.n_heldout / 1200 for run in runs])
    assert 0 < rows_error < np.mean([run.stderr**2 for run in runs]) / 4
    expected = math.sqrt(np.var(heldout, ddof=1) / 3 + rows_error)
    assert pooled.stderr == pytest.approx(expected)
    half = 2.919986 * pooled.stderr  # Student's t, 2 degrees of freedom, 95% quantile
    # The upper end rises by the repeats' mean excess of the training rows' read-out.
    excess = np.mean(
        [max(0.0, run.info["training_readout"] - h) for run, h in zip(runs, heldout, strict=True)]
    )
    assert excess > 0
    centre = np.mean(heldout)
    assert pooled.ci90 == pytest.approx((centre - half, centre + half + excess), rel=1e-5)
    assert pooled.ci90[0] < pooled.mi < pooled.ci90[1]
    assert pooled.to_dict()["ci90"] == pytest.approx(list(pooled.ci90))
    assert abs(pooled.mi - truth) < 0.3
    with pytest.raises(InputError, match="repeats must be an integer"):
        estimate_mi(x, y, repeats=0, **fast)
    with pytest.raises(InputError, match="do not pass split_seed"):
        estimate_mi(x, y, repeats=2, split_seed=1, **fast)
    with pytest.raises(InputError, match="neural estimators"):
        estimate_mi(x, y, repeats=2, bound="ksg")


def test_the_race_picks_the_critic_that_fits_non_monotone_dependence() -> None:
    """y = sin(4x) + 0.1 e (true I = 1.699 nats by quadrature): the copula start steers the
    quadratic critic to about 0.6; a critic that needs no monotone dependence wins on the
    validation rows (with one column a side, the grid's plug-in table leads from the start)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3000, 1))
    y = np.sin(4 * x) + 0.1 * rng.standard_normal((3000, 1))
    result = estimate_mi(x, y, steps=600, eval_every=100, batch_size=256, progress=False)
    candidates = result.info["critic_candidates"]
    winner = result.info["critic"]
    assert winner in ("separable", "grid")
    assert candidates["quadratic"] < 0.8 < 1.2 < candidates[winner]
    assert candidates["separable"] > candidates["quadratic"] + 0.3
    assert 1.1 < result.mi < 1.699 + 0.1
    assert result.info["start"] in ("gaussian", "none")  # the quadratic critic's start, kept
    steps = result.info["critic_steps"]
    assert steps["quadratic"] < 600  # it could not catch up, so it stopped early
    assert steps[winner] == result.info["steps_run"]
