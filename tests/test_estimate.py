"""Tests of :mod:`infomax.estimate`: the one-call estimator, its read-out and preprocessing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from infomax import bounds as B
from infomax import fit
from infomax.bounds import all_pairs_dv, all_pairs_dv_blocks, contrastive_dv_objective
from infomax.critics import QuadraticSeparableCritic
from infomax.distributions import correlated_gaussian
from infomax.estimate import DEFAULTS, estimate_mi
from infomax.objectives import CriticObjective
from infomax.preprocess import RankTransform
from infomax.validation import InputError


def gaussian_pair(n: int, dim: int, mi: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """x ~ N(0, I), y = rho x + sqrt(1 - rho^2) eps with I(x; y) = mi nats."""
    rng = np.random.default_rng(seed)
    rho = math.sqrt(1.0 - math.exp(-2.0 * mi / dim))
    x = rng.standard_normal((n, dim))
    y = rho * x + math.sqrt(1.0 - rho**2) * rng.standard_normal((n, dim))
    return x.astype(np.float32), y.astype(np.float32)


FAST = {"steps": 400, "eval_every": 100, "batch_size": 256, "progress": False}


def test_small_gaussian_within_tolerance() -> None:
    x, y = gaussian_pair(10000, 5, 1.0, seed=0)
    result = estimate_mi(x, y, **FAST)
    assert abs(result.mi - 1.0) < 0.15, result
    assert 0 < result.stderr < 0.2
    assert result.info["readout"] == "all-pairs"


def test_training_from_zero_reaches_the_closed_form() -> None:
    """Without the warm start the critic starts uninformative (its quadratic part at zero:
    a held-out estimate below 0 nats), and only training can bring the estimate to the
    closed form (1 nat); the warm-started test above is decided by the start alone."""
    x, y = gaussian_pair(10000, 5, 1.0, seed=0)
    result = estimate_mi(x, y, init=None, **FAST)
    start = result.heldout_curve[0][1]
    assert start < 0.0, result.heldout_curve
    assert abs(result.mi - 1.0) < 0.15, result
    assert result.info["best_step"] > 0
    assert "start" not in result.info


def test_cubic_warp_changes_nothing() -> None:
    """The rank transform makes y**3 the same task as y: the same estimate, exactly."""
    x, y = gaussian_pair(3000, 3, 1.0, seed=1)
    plain = estimate_mi(x, y, steps=100, eval_every=50, batch_size=128, progress=False)
    warped = estimate_mi(x, y**3, steps=100, eval_every=50, batch_size=128, progress=False)
    assert warped.mi == pytest.approx(plain.mi, abs=1e-5)


def test_independent_data_gives_about_zero() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5000, 5)).astype(np.float32)
    y = rng.standard_normal((5000, 5)).astype(np.float32)
    result = estimate_mi(x, y, **FAST)
    assert abs(result.mi) < 0.05, result


def test_result_fields() -> None:
    x, y = gaussian_pair(2000, 2, 0.5, seed=3)
    result = estimate_mi(x, y, steps=60, eval_every=20, batch_size=64, progress=False)
    assert result.n_train == 1400
    assert result.n_heldout == 300
    assert len(result.history) == result.info["steps_run"] <= 60
    assert [step for step, _ in result.heldout_curve][:3] == [0, 20, 40]  # 0: the start
    assert all(math.isfinite(v) for _, v in result.heldout_curve)
    assert result.bound == DEFAULTS["bound"]
    assert result.to_dict()["mi"] == result.mi


def test_scores_of_new_rows_follow_the_log_density_ratio() -> None:
    """The kept critic, on fresh rows, recovers the pointwise log ratio up to a constant."""
    import json

    dim, mi = 3, 1.0
    x, y = gaussian_pair(10000, dim, mi, seed=4)
    result = estimate_mi(x, y, **FAST)
    xn, yn = gaussian_pair(600, dim, mi, seed=5)
    scores = result.scores(xn, yn)
    assert scores.shape == (600, 600) and scores.dtype == np.float64
    assert result.scores(xn[:7], yn).shape == (7, 600)
    # Exact log ratio of the Gaussian pair, up to a constant: -|y - rho x|^2 / (2 s2) + |y|^2 / 2.
    rho = math.sqrt(1.0 - math.exp(-2.0 * mi / dim))
    s2 = 1.0 - rho**2
    exact = -((yn[None] - rho * xn[:, None]) ** 2).sum(-1) / (2 * s2) + (yn**2).sum(-1)[None] / 2
    assert np.corrcoef(scores.ravel(), exact.ravel())[0, 1] > 0.97
    # DV-normalised diagonal: its mean is the MI estimate on these rows.
    off = ~np.eye(600, dtype=bool)
    normalised = np.diag(scores) - (
        np.log(np.exp(scores[off] - scores.max()).mean()) + scores.max()
    )
    assert abs(normalised.mean() - mi) < 0.2
    json.dumps(result.to_dict())  # the critic stays out of the JSON form
    with pytest.raises(ValueError, match="shape"):
        result.scores(xn[:, :2], yn)


def test_scores_need_a_single_critic() -> None:
    x, y = gaussian_pair(3000, 4, 1.0, seed=6)
    with pytest.raises(ValueError, match="keeps no critic"):
        estimate_mi(x, y, bound="gaussian").scores(x, y)
    demi = estimate_mi(x, y, subviews=[2], steps=20, eval_every=10, batch_size=64, progress=False)
    with pytest.raises(ValueError, match="keeps no critic"):
        demi.scores(x, y)


def test_batched_readout_for_other_critics() -> None:
    x, y = gaussian_pair(2000, 2, 0.5, seed=4)
    result = estimate_mi(
        x,
        y,
        bound="smile",
        critic="concat",
        steps=40,
        eval_every=20,
        batch_size=64,
        eval_batch_size=100,
        progress=False,
    )
    assert result.info["readout"] == "batches"
    assert result.n_heldout == 300  # three batches of 100 test rows
    assert math.isfinite(result.mi)


def test_a_critic_factory_is_built_warm_started_and_read_out_by_what_it_exposes() -> None:
    """A quadratic subclass gets the warm start and the all-pairs read-out (the default's
    arithmetic, so the default's estimate); a module without ``embed`` is read out in batches."""
    x, y = gaussian_pair(4000, 3, 1.0, seed=7)
    built: list[tuple[int, int, dict]] = []

    class Mine(QuadraticSeparableCritic):
        pass

    def factory(x_dim: int, y_dim: int, **kwargs: object) -> torch.nn.Module:
        built.append((x_dim, y_dim, kwargs))
        return Mine(x_dim, y_dim, **kwargs)  # type: ignore[arg-type]

    options = {"steps": 60, "eval_every": 20, "batch_size": 128, "progress": False}
    kwargs = {"hidden": (16,), "embed_dim": 4}
    default = estimate_mi(x, y, critic_kwargs=kwargs, **options)
    mine = estimate_mi(x, y, critic=factory, critic_kwargs=kwargs, **options)
    assert built == [(3, 3, kwargs)]
    assert mine.info["readout"] == "all-pairs"
    assert mine.mi == pytest.approx(default.mi, abs=1e-5)
    assert mine.heldout_curve[0][1] == pytest.approx(default.heldout_curve[0][1], abs=1e-5)

    class Bilinear(torch.nn.Module):
        def __init__(self, x_dim: int, y_dim: int) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(x_dim, y_dim))

        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return a @ self.weight @ b.T

    plain = estimate_mi(x, y, critic=Bilinear, **{**options, "lr": 0.05, "steps": 200})
    assert plain.info["readout"] == "batches"
    # x^T W y without the quadratic terms: 0.576 nats of the 1 here (600 steps: 0.576)
    assert 0.45 < plain.mi < 0.7, plain
    assert plain.scores(x[:5], y[:7]).shape == (5, 7)


def test_a_non_separable_term_in_a_quadratic_subclass_is_read_out_through_forward() -> None:
    """The inherited ``embed`` would drop the extra term: the all-pairs read-out scores
    blocks with ``forward`` instead, and agrees with the dense (capped) DV of the test rows."""

    class Extra(QuadraticSeparableCritic):
        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return super().forward(x, y) + 0.1 * torch.cdist(x, y)

    x, y = gaussian_pair(3000, 2, 0.5, seed=9)
    options = {"steps": 20, "eval_every": 10, "batch_size": 128, "progress": False}
    result = estimate_mi(x, y, critic=Extra, **options)
    assert result.info["readout"] == "all-pairs"
    _, _, test = fit.split_rows(3000, 0.3, seed=0)
    dense = torch.as_tensor(result.scores(x[test], y[test]))
    off = ~torch.eye(len(test), dtype=torch.bool)
    negatives = dense[off].clamp(max=float(dense.diagonal().max()))  # the read-out's cap
    capped_dv = dense.diagonal().mean() - torch.logsumexp(negatives, 0) + math.log(off.sum())
    assert result.mi == pytest.approx(float(capped_dv), abs=1e-4)
    assert estimate_mi(x, y, **options).info["readout"] == "all-pairs"


def test_all_pairs_blocks_match_dense_dv() -> None:
    generator = torch.Generator().manual_seed(3)
    scores = torch.randn(200, 200, generator=generator) + 3 * torch.eye(200)
    estimate, per_group = all_pairs_dv_blocks(
        lambda start, stop: scores[start:stop].clone(), 200, groups=5, chunk=48
    )
    assert estimate == pytest.approx(float(B.dv(scores)), abs=1e-5)
    assert per_group.shape == (5,)


def test_all_pairs_standard_error_matches_the_spread_over_test_sets() -> None:
    """With the exact critic, the read-out's standard error (rows and columns) is the
    spread of the estimate over independent test sets; rows alone understate it."""
    task = correlated_gaussian(dim=4, mi=4.0)
    estimates, stderrs, row_only = [], [], []
    for seed in range(100):
        x, y = task.sample(300, seed=seed)
        scores = task.log_density_ratio(x, y)
        cap = float(scores.diagonal().max())
        estimate, per_group = all_pairs_dv_blocks(
            lambda a, b, s=scores: s[a:b].clone(), 300, groups=10, cap=cap
        )
        estimates.append(estimate)
        stderrs.append(float(per_group.std() / math.sqrt(10)))
        negatives = scores.double().clone().fill_diagonal_(-math.inf).clamp(max=cap)
        row_lse = torch.logsumexp(negatives, 1)
        groups = [
            scores.diagonal()[g].double().mean()
            - (torch.logsumexp(row_lse[g], 0) - math.log(len(g) * 299))
            for g in torch.arange(300).chunk(10)
        ]
        row_only.append(float(torch.stack(groups).std() / math.sqrt(10)))
    spread = float(np.std(estimates))
    assert np.mean(estimates) == pytest.approx(4.0, abs=0.05)
    assert 0.85 < np.mean(stderrs) / spread < 1.2
    assert np.mean(row_only) < np.mean(stderrs)


def test_the_default_standard_error_gives_a_90_percent_interval_that_holds_90_percent() -> None:
    """Exact critic, 600 test sets: estimate +/- 1.645 standard errors holds the true MI
    about 90% of the time with the default (one group per row); 10 groups' standard
    error has 9 degrees of freedom, and the same interval holds it less often."""
    task = correlated_gaussian(dim=1, mi=0.4)
    held = {None: 0, 10: 0}
    for seed in range(600):
        x, y = task.sample(300, seed=seed)
        scores = task.log_density_ratio(x, y)
        for groups in held:
            estimate, per_group = all_pairs_dv_blocks(
                lambda a, b, s=scores: s[a:b].clone(), 300, groups=groups
            )
            stderr = float(per_group.double().std() / math.sqrt(per_group.shape[0]))
            held[groups] += abs(estimate - task.mi) <= 1.645 * stderr
    assert per_group.shape == (10,)
    assert 0.87 < held[None] / 600 < 0.93
    assert held[10] < held[None]


def test_heldout_sets_are_capped_and_the_rest_trains(monkeypatch: pytest.MonkeyPatch) -> None:
    train, val, test = fit.split_rows(1000, 0.3, seed=0, max_validation=100, max_test=120)
    assert (len(train), len(val), len(test)) == (780, 100, 120)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(1000))
    uncapped = fit.split_rows(1000, 0.3, seed=0, max_validation=1000, max_test=1000)
    assert [len(part) for part in uncapped] == [700, 150, 150]
    np.testing.assert_array_equal(uncapped[1][:100], val)  # the cap keeps a prefix
    np.testing.assert_array_equal(uncapped[2][:120], test)

    monkeypatch.setattr(fit, "MAX_VALIDATION_ROWS", 300)
    monkeypatch.setattr(fit, "MAX_TEST_ROWS", 400)
    x, y = gaussian_pair(4000, 2, 0.5, seed=10)
    result = estimate_mi(x, y, steps=20, eval_every=10, batch_size=128, progress=False)
    assert result.n_heldout == 400 and result.n_train == 3300


def test_split_seed_fixes_the_rows_while_seed_varies_the_training(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seeds: list[int] = []
    real_split = fit.split_rows

    def recording_split(n: int, heldout: float, seed: int, *args: object) -> tuple:
        seeds.append(seed)
        return real_split(n, heldout, seed, *args)

    monkeypatch.setattr(fit, "split_rows", recording_split)
    x, y = gaussian_pair(3000, 2, 0.5, seed=11)
    options = {"steps": 40, "eval_every": 20, "batch_size": 128, "progress": False}
    plain = estimate_mi(x, y, seed=0, **options)
    same = estimate_mi(x, y, seed=0, split_seed=0, **options)
    retrained = estimate_mi(x, y, seed=1, split_seed=0, **options)
    assert seeds == [0, 0, 0]
    assert same.mi == plain.mi  # split_seed=seed is the default
    assert retrained.history != plain.history  # another initialisation and batch order
    assert retrained.n_train == plain.n_train


def test_bad_critic_factories_raise_input_error() -> None:
    x, y = gaussian_pair(3000, 2, 0.5, seed=8)
    with pytest.raises(InputError, match="returned dict, not a torch.nn.Module"):
        estimate_mi(x, y, critic=lambda a, b: {}, steps=1, progress=False)
    factory = QuadraticSeparableCritic
    with pytest.raises(InputError, match="critic factory is for single-bound"):
        estimate_mi(x, y, critic=factory, subviews=[1], steps=1, progress=False)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bound": "nope"}, "unknown bound"),
        ({"critic": "nope"}, "unknown critic"),
        ({"preprocess": "nope"}, "unknown preprocess"),
        ({"heldout": 1.5}, "heldout"),
        ({"batch_size": 1}, "batch_size"),
    ],
)
def test_bad_options_raise_input_error(kwargs: dict, match: str) -> None:
    x, y = gaussian_pair(5000, 2, 0.5, seed=5)
    with pytest.raises(InputError, match=match):
        estimate_mi(x, y, steps=1, progress=False, **kwargs)


def test_bad_arrays_raise_input_error() -> None:
    x, y = gaussian_pair(3000, 2, 0.5, seed=6)
    with pytest.raises(InputError):
        estimate_mi(x, y[:-1], progress=False)  # row mismatch
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(InputError):
        estimate_mi(bad, y, progress=False)
    with pytest.raises(InputError):
        estimate_mi(x[:50], y[:50], progress=False)  # too few rows


def test_rank_transform_is_monotone_and_keeps_a_gaussian() -> None:
    rng = np.random.default_rng(7)
    reference = rng.standard_normal((20000, 3))
    transform = RankTransform(reference)
    grid = np.linspace(-2.5, 2.5, 101)[:, None].repeat(3, axis=1)
    out = transform(grid)
    assert out.dtype == np.float32
    assert np.all(np.diff(out, axis=0) >= 0)
    assert np.abs(out - grid).max() < 0.1  # a standard normal column is nearly unchanged
    # A monotone warp of the column maps to the same scores.
    warped = RankTransform(reference**3)(grid**3)
    np.testing.assert_allclose(warped, out, atol=1e-6)
    # Ties share their mid-rank; the extremes stay finite.
    assert np.isfinite(transform(np.array([[-1e9, 0, 1e9]]))).all()


def test_all_pairs_dv_matches_dense_dv() -> None:
    generator = torch.Generator().manual_seed(8)
    gx = torch.randn(300, 4, generator=generator)
    hy = gx + 0.5 * torch.randn(300, 4, generator=generator)
    estimate, per_group = all_pairs_dv(gx, hy, groups=6, chunk=64)
    assert estimate == pytest.approx(float(B.dv(gx @ hy.T)), abs=1e-4)
    assert per_group.shape == (6,)


def test_quadratic_critic_spans_the_gaussian_log_ratio() -> None:
    """With hand-set weights the quadratic part is the exact Gaussian log density ratio."""
    dim, rho = 3, 0.8
    critic = QuadraticSeparableCritic(dim, dim, hidden=())
    gain = critic.gain
    a, b = rho**2 / (2 * (1 - rho**2)), rho / (1 - rho**2)
    constant = -0.5 * dim * math.log(1 - rho**2)
    with torch.no_grad():
        critic.cross.weight.copy_(b / gain * torch.eye(dim))
        for square, weight, linear in (
            (critic.x_square, critic.x_square_weight, critic.x_linear),
            (critic.y_square, critic.y_square_weight, critic.y_linear),
        ):
            square.weight.copy_(torch.eye(dim))
            weight.fill_(-a / gain)
            linear.weight.zero_()
            linear.bias.zero_()
        critic.x_linear.bias.fill_(constant / gain)
    x, y = torch.randn(5, dim), torch.randn(7, dim)
    exact = constant - a * (x**2).sum(1)[:, None] - a * (y**2).sum(1)[None, :] + b * x @ y.T
    torch.testing.assert_close(critic(x, y), exact, atol=1e-4, rtol=1e-4)


def test_gaussian_init_of_the_quadratic_critic_is_the_log_ratio_up_to_a_constant() -> None:
    """Fitted on samples, the warm start equals the exact log ratio (plus a constant)."""
    from infomax.distributions import correlated_gaussian

    task = correlated_gaussian(6, 4.0)
    x, y = task.sample(40_000, seed=1)
    x = x + 0.5  # a mean offset exercises the linear terms
    critic = QuadraticSeparableCritic(6, 6, hidden=(16,))
    critic.init_gaussian(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y))
    xs, ys = x[:50], y[:60]
    exact = task.log_density_ratio(xs - 0.5, ys)
    scores = critic(torch.as_tensor(xs, dtype=torch.float32), torch.as_tensor(ys)).detach().double()
    gap = scores - exact
    assert float(gap.std()) < 0.05 * float(exact.std())
    # A rank below the dimension keeps the largest eigen-directions and is still finite.
    small = QuadraticSeparableCritic(6, 6, hidden=(), rank=2)
    small.init_gaussian(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y))
    assert torch.isfinite(small(torch.as_tensor(xs), torch.as_tensor(ys))).all()


def test_contrastive_dv_objective_is_invariant_to_a_global_shift() -> None:
    scores = torch.randn(16, 16)
    assert float(contrastive_dv_objective(scores + 3.0)) == pytest.approx(
        float(contrastive_dv_objective(scores)), abs=1e-5
    )
    objective = CriticObjective(2, 2)
    loss = objective.training_loss(torch.randn(32, 2), torch.randn(32, 2))
    loss.backward()
    assert all(p.grad is not None for p in objective.critic.parameters())


def test_the_cap_clips_negatives_above_every_positive() -> None:
    """One negative scored far above every positive decides the plain DV, not the capped one."""
    generator = torch.Generator().manual_seed(4)
    scores = torch.randn(300, 300, generator=generator) + 2 * torch.eye(300)
    clean = float(B.dv(scores))
    scores[5, 17] = 40.0  # a critic's wild extrapolation on one negative pair
    cap = float(scores.diagonal().max())
    plain, _ = all_pairs_dv_blocks(lambda a, b: scores[a:b].clone(), 300, chunk=64)
    capped, _ = all_pairs_dv_blocks(lambda a, b: scores[a:b].clone(), 300, chunk=64, cap=cap)
    assert plain < clean - 20
    off = ~torch.eye(300, dtype=torch.bool)
    expected = scores.diagonal().mean() - torch.logsumexp(scores[off].clamp(max=cap), 0)
    assert capped == pytest.approx(float(expected) + math.log(300 * 299), abs=1e-5)
    assert capped == pytest.approx(clean, abs=0.05)
