"""Tests of the DEMI conditional bounds and the chain-rule assembly.

Reference values come from closed forms (Gaussian conditional MI), exact
identities (``I_IS`` with ``psi = 0`` is InfoNCE; the ``I_BO`` chain telescopes)
and independent NumPy/SciPy re-implementations in float64.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp as np_logsumexp
from scipy.stats import norm

from infomax.bounds import (
    boosted_conditional_infonce,
    boosted_infonce,
    conditional_infonce,
    importance_sampled_infonce,
    infonce,
)
from infomax.critics import make_critic, score_candidates
from infomax.distributions import optimal_critic_scores, optimal_phi_scores, optimal_psi_scores
from infomax.objectives import DecomposedObjective
from infomax.samplers import ConditionalGaussian, ConditionalSampler, GaussianOracle

DTYPE = torch.float64


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    """Tiny tensors: one intra-op thread is faster, and far faster on a loaded machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def correlated_gaussian(
    rho: torch.Tensor, n: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """x ~ N(0, I), y = rho x + sqrt(1 - rho^2) eps, coordinate-wise; (n, d) each."""
    x = torch.randn(n, rho.numel(), generator=generator, dtype=rho.dtype)
    eps = torch.randn(n, rho.numel(), generator=generator, dtype=rho.dtype)
    return x, rho * x + torch.sqrt(1 - rho.square()) * eps


def rho_for_mi(mi: float) -> float:
    return math.sqrt(1.0 - math.exp(-2.0 * mi))


# ---------------------------------------------------------------------------
# conditional InfoNCE with an oracle
# ---------------------------------------------------------------------------


def numpy_conditional_infonce_rows(
    rho: np.ndarray, prefix: int, n_rows: int, k: int, rng: np.random.Generator
) -> np.ndarray:
    """Per-row conditional InfoNCE with optimal critic and exact negatives, via SciPy.

    Coordinates before ``prefix`` cancel in ``phi*``; after it the negatives
    ``y ~ p(y | x')`` are standard normal. The critic is the log ratio of two
    ``norm.logpdf`` calls (a different code path from the library's).
    """
    r = rho[prefix:]
    s = np.sqrt(1 - r**2)
    x = rng.standard_normal((n_rows, 1, r.size))
    positive = r * x + s * rng.standard_normal((n_rows, 1, r.size))
    negatives = rng.standard_normal((n_rows, k - 1, r.size))
    y = np.concatenate([positive, negatives], axis=1)  # (n, k, d)
    phi = (norm.logpdf(y, loc=r * x, scale=s) - norm.logpdf(y)).sum(-1)  # (n, k)
    return phi[:, 0] - np_logsumexp(phi, axis=1) + math.log(k)


def test_oracle_conditional_infonce_matches_independent_monte_carlo() -> None:
    rho_np = np.array([0.8, 0.6, 0.7])
    rho = torch.tensor(rho_np, dtype=DTYPE)
    prefix, k, batch, n_batches = 1, 16, 1000, 30
    oracle = GaussianOracle(rho, prefix)
    generator = torch.Generator().manual_seed(0)
    values = []
    for _ in range(n_batches):
        x, y = correlated_gaussian(rho, batch, generator)
        negatives = oracle.sample(x[:, :prefix], k - 1, generator=generator)
        candidates = torch.cat([y[:, None], negatives], dim=1)
        values.append(conditional_infonce(optimal_phi_scores(x, candidates, rho, prefix, 3)).item())
    library = np.mean(values)
    library_se = np.std(values, ddof=1) / math.sqrt(n_batches)
    rows = numpy_conditional_infonce_rows(rho_np, prefix, 40000, k, np.random.default_rng(1))
    reference, reference_se = rows.mean(), rows.std(ddof=1) / math.sqrt(rows.size)
    assert abs(library - reference) < 4 * math.hypot(library_se, reference_se)
    true_cmi = oracle.conditional_mi()
    assert true_cmi == pytest.approx(-0.5 * np.log1p(-(rho_np[1:] ** 2)).sum())
    # A lower bound, visibly below the truth at K = 16 (true CMI 0.737 nats, log 16 = 2.77).
    assert reference < true_cmi - 0.05


def test_oracle_conditional_infonce_approaches_cmi_for_large_k() -> None:
    # I(x; y | x[:1]) = 0.3 nats << log K: the log-partition term vanishes and the
    # bound reduces to mean_i phi*(x_i, y_i), an unbiased estimate of the truth.
    rho = torch.tensor([0.9, rho_for_mi(0.3)], dtype=DTYPE)
    oracle = GaussianOracle(rho, 1)
    generator = torch.Generator().manual_seed(2)
    x, y = correlated_gaussian(rho, 1500, generator)
    negatives = oracle.sample(x[:, :1], 1023, generator=generator)
    candidates = torch.cat([y[:, None], negatives], dim=1)
    scores = optimal_phi_scores(x, candidates, rho, 1, 2)
    positives = scores[:, 0]
    value = conditional_infonce(scores).item()
    assert value == pytest.approx(positives.mean().item(), abs=0.01)
    assert value < positives.mean().item()
    stderr = positives.std().item() / math.sqrt(positives.numel())
    assert abs(positives.mean().item() - 0.3) < 4 * stderr


def test_conditional_infonce_never_exceeds_log_k() -> None:
    generator = torch.Generator().manual_seed(3)
    for scale in (0.1, 1.0, 10.0, 1000.0):
        scores = scale * torch.randn(32, 9, generator=generator, dtype=DTYPE)
        assert conditional_infonce(scores).item() <= math.log(9) + 1e-12
    perfect = torch.zeros(32, 9, dtype=DTYPE)
    perfect[:, 0] = 1e4
    assert conditional_infonce(perfect).item() == pytest.approx(math.log(9), abs=1e-12)
    assert conditional_infonce(torch.zeros(4, 9)).item() == pytest.approx(0.0, abs=1e-6)


def test_conditional_infonce_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="K >= 2"):
        conditional_infonce(torch.zeros(4, 1))
    with pytest.raises(ValueError, match=r"\(B, K\)"):
        conditional_infonce(torch.zeros(4))


# ---------------------------------------------------------------------------
# importance-sampled and boosted estimates
# ---------------------------------------------------------------------------


def numpy_importance_sampled(phi: np.ndarray, psi: np.ndarray) -> tuple[float, float]:
    """Direct transcription of the I_IS formula with explicit exp (moderate scores only)."""
    k = phi.shape[0]
    estimates, ess = [], []
    for i in range(k):
        others = [j for j in range(k) if j != i]
        w = np.exp(psi[i, others])
        w /= w.sum()
        denominator = (np.exp(phi[i, i]) + (k - 1) * (w * np.exp(phi[i, others])).sum()) / k
        estimates.append(phi[i, i] - np.log(denominator))
        ess.append(1.0 / (w**2).sum())
    return float(np.mean(estimates)), float(np.mean(ess))


def test_importance_sampled_matches_numpy_reference() -> None:
    generator = torch.Generator().manual_seed(4)
    phi = 2.0 * torch.randn(12, 12, generator=generator, dtype=DTYPE)
    psi = 3.0 * torch.randn(12, 12, generator=generator, dtype=DTYPE)
    estimate, ess = importance_sampled_infonce(phi, psi)
    ref_estimate, ref_ess = numpy_importance_sampled(phi.numpy(), psi.numpy())
    assert estimate.item() == pytest.approx(ref_estimate, abs=1e-10)
    assert ess.item() == pytest.approx(ref_ess, abs=1e-10)


def test_importance_sampled_with_zero_psi_is_infonce() -> None:
    generator = torch.Generator().manual_seed(5)
    phi = 5.0 * torch.randn(20, 20, generator=generator, dtype=DTYPE)
    estimate, ess = importance_sampled_infonce(phi, torch.zeros_like(phi))
    assert estimate.item() == pytest.approx(infonce(phi).item(), abs=1e-12)
    assert ess.item() == pytest.approx(19.0, abs=1e-10)


def test_importance_sampled_ess_bounds_and_limits() -> None:
    generator = torch.Generator().manual_seed(6)
    batch = 16
    for scale in (0.1, 1.0, 5.0, 50.0):
        psi = scale * torch.randn(batch, batch, generator=generator, dtype=DTYPE)
        phi = torch.randn(batch, batch, generator=generator, dtype=DTYPE)
        estimate, ess = importance_sampled_infonce(phi, psi)
        assert 1.0 - 1e-9 <= ess.item() <= batch - 1 + 1e-9
        assert estimate.item() <= math.log(batch) + 1e-12
    # One dominant off-diagonal weight per row: ESS -> 1.
    psi = torch.zeros(batch, batch, dtype=DTYPE)
    psi[torch.arange(batch), (torch.arange(batch) + 1) % batch] = 100.0
    _, ess = importance_sampled_infonce(torch.zeros_like(psi), psi)
    assert ess.item() == pytest.approx(1.0, abs=1e-9)


def test_importance_weights_carry_no_gradient() -> None:
    phi = torch.randn(8, 8, requires_grad=True)
    psi = torch.randn(8, 8, requires_grad=True)
    estimate, _ = importance_sampled_infonce(phi, psi)
    estimate.backward()
    assert psi.grad is None
    assert phi.grad is not None and torch.isfinite(phi.grad).all()


def test_importance_sampled_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="shape of phi_scores"):
        importance_sampled_infonce(torch.zeros(4, 4), torch.zeros(5, 5))
    with pytest.raises(ValueError, match="square"):
        importance_sampled_infonce(torch.zeros(4, 3), torch.zeros(4, 3))


def test_boosted_bounds_and_telescoping() -> None:
    rho = torch.full((6,), rho_for_mi(1.5), dtype=DTYPE)  # 9 nats in all, log 32 = 3.47
    x, y = correlated_gaussian(rho, 32, torch.Generator().manual_seed(7))
    widths = [2, 4, 6]
    total = infonce(optimal_psi_scores(x, y, rho, widths[0]))
    for prev, cur in zip(widths, widths[1:], strict=False):
        psi, phi = optimal_critic_scores(x, y, rho, prev, cur)
        assert boosted_infonce(phi, psi).item() <= math.log(32) + 1e-12
        total = total + boosted_conditional_infonce(phi, psi)
    # psi*_{k-1} + phi*_k = psi*_k, so the chain is one InfoNCE of the full critic.
    full = infonce(optimal_psi_scores(x, y, rho, 6))
    assert total.item() == pytest.approx(full.item(), abs=1e-10)
    assert total.item() <= math.log(32) + 1e-12
    phi = torch.randn(10, 10, dtype=DTYPE)
    assert boosted_infonce(phi, torch.zeros_like(phi)).item() == pytest.approx(infonce(phi).item())


def test_conditional_estimates_invariant_to_batch_permutation() -> None:
    rho = torch.tensor([0.9, 0.8, 0.7, 0.6], dtype=DTYPE)
    generator = torch.Generator().manual_seed(8)
    x, y = correlated_gaussian(rho, 24, generator)
    perm = torch.randperm(24, generator=generator)
    psi, phi = optimal_critic_scores(x, y, rho, 2, 4)
    psi_p, phi_p = optimal_critic_scores(x[perm], y[perm], rho, 2, 4)
    for a, b in zip(
        importance_sampled_infonce(phi, psi), importance_sampled_infonce(phi_p, psi_p), strict=True
    ):
        assert a.item() == pytest.approx(b.item(), abs=1e-12)
    assert boosted_conditional_infonce(phi, psi).item() == pytest.approx(
        boosted_conditional_infonce(phi_p, psi_p).item(), abs=1e-12
    )
    negatives = GaussianOracle(rho, 2).sample(x[:, :2], 7, generator=generator)
    candidates = torch.cat([y[:, None], negatives], dim=1)
    scores = optimal_phi_scores(x, candidates, rho, 2, 4)
    scores_p = optimal_phi_scores(x[perm], candidates[perm], rho, 2, 4)
    assert conditional_infonce(scores).item() == pytest.approx(
        conditional_infonce(scores_p).item(), abs=1e-12
    )


def test_uninformative_extra_coordinates_give_zero_conditional_terms() -> None:
    # x[:, 2:] is independent of y: I(x; y | x[:2]) = 0.
    rho = torch.tensor([0.9, 0.7, 0.0, 0.0], dtype=DTYPE)
    generator = torch.Generator().manual_seed(9)
    x, y = correlated_gaussian(rho, 64, generator)
    oracle = GaussianOracle(rho, 2)
    assert oracle.conditional_mi() == 0.0
    psi, phi = optimal_critic_scores(x, y, rho, 2, 4)
    assert torch.count_nonzero(phi) == 0
    estimate, _ = importance_sampled_infonce(phi, psi)
    assert estimate.item() == pytest.approx(0.0, abs=1e-12)
    assert boosted_conditional_infonce(phi, psi).item() == pytest.approx(0.0, abs=1e-12)
    candidates = torch.cat([y[:, None], oracle.sample(x[:, :2], 63, generator=generator)], 1)
    value = conditional_infonce(optimal_phi_scores(x, candidates, rho, 2, 4))
    assert value.item() == pytest.approx(0.0, abs=1e-12)
    # A nearly-uninformative step (0.01 nats) stays near zero too.
    rho[2] = rho_for_mi(0.01)
    x, y = correlated_gaussian(rho, 4000, generator)
    candidates = torch.cat([y[:, None], GaussianOracle(rho, 2).sample(x[:, :2], 63)], 1)
    value = conditional_infonce(optimal_phi_scores(x, candidates, rho, 2, 4))
    assert abs(value.item()) < 0.02


# ---------------------------------------------------------------------------
# samplers
# ---------------------------------------------------------------------------


def test_gaussian_oracle_density_and_samples() -> None:
    rho_np = np.array([0.9, -0.5, 0.3])
    rho = torch.tensor(rho_np, dtype=DTYPE)
    oracle = GaussianOracle(rho, 2)
    generator = torch.Generator().manual_seed(10)
    x = torch.randn(5, 3, generator=generator, dtype=DTYPE)
    y = torch.randn(5, 3, generator=generator, dtype=DTYPE)
    mean = np.concatenate([rho_np[:2] * x[:, :2].numpy(), np.zeros((5, 1))], 1)
    scale = np.array([np.sqrt(1 - 0.81), np.sqrt(1 - 0.25), 1.0])
    expected = norm.logpdf(y.numpy(), loc=mean, scale=scale).sum(1)
    np.testing.assert_allclose(oracle.log_prob(x[:, :2], y).numpy(), expected, atol=1e-12)
    candidates = torch.randn(5, 4, 3, generator=generator, dtype=DTYPE)
    assert oracle.log_prob(x[:, :2], candidates).shape == (5, 4)
    samples = oracle.sample(x[:1, :2].expand(1, 2), 200000, generator=generator)[0].numpy()
    np.testing.assert_allclose(samples.mean(0), mean[0], atol=0.01)
    np.testing.assert_allclose(samples.std(0), scale, atol=0.01)
    assert oracle.conditional_mi() == pytest.approx(-0.5 * math.log(1 - 0.09))
    with pytest.raises(ValueError, match=r"\(B, 2\)"):
        oracle.sample(x, 3)
    with pytest.raises(ValueError, match="prefix"):
        GaussianOracle(rho, 4)
    with pytest.raises(ValueError, match="inside"):
        GaussianOracle([0.5, 1.0], 1)


def test_optimal_critics_are_log_density_ratios() -> None:
    rho_np = np.array([0.8, 0.5, 0.2])
    rho = torch.tensor(rho_np, dtype=DTYPE)
    generator = torch.Generator().manual_seed(11)
    x, y = correlated_gaussian(rho, 6, generator)
    psi, phi = optimal_critic_scores(x, y, rho, 1, 3)
    assert psi.shape == phi.shape == (6, 6)
    xn, yn = x.numpy(), y.numpy()

    def log_cond(prefix: int) -> np.ndarray:  # log p(y_j | x_i[:prefix]) as (B, B)
        out = norm.logpdf(yn[None, :, prefix:]).sum(-1)
        r, s = rho_np[:prefix], np.sqrt(1 - rho_np[:prefix] ** 2)
        return out + norm.logpdf(yn[None, :, :prefix], r * xn[:, None, :prefix], s).sum(-1)

    np.testing.assert_allclose(psi.numpy(), log_cond(1) - log_cond(0), atol=1e-10)
    np.testing.assert_allclose(phi.numpy(), log_cond(3) - log_cond(1), atol=1e-10)


def test_conditional_gaussian_maximum_likelihood_fit() -> None:
    generator = torch.Generator().manual_seed(12)
    x = torch.randn(2000, 2, generator=generator)
    true_a = torch.tensor([[1.0, -0.5], [0.3, 2.0], [0.0, 0.7]])
    noise_std = torch.tensor([0.5, 1.0, 0.2])
    y = x @ true_a.T + 0.1 + noise_std * torch.randn(2000, 3, generator=generator)
    torch.manual_seed(0)
    q = ConditionalGaussian(2, 3)
    optimizer = torch.optim.LBFGS(q.parameters(), max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = q.nll(x, y)
        loss.backward()
        return loss

    optimizer.step(closure)
    # Closed-form MLE: least squares for the mean, residual variance for the variance.
    design = torch.cat([x, torch.ones(2000, 1)], 1).double()
    coef = torch.linalg.lstsq(design, y.double()).solution
    residual_var = (y.double() - design @ coef).square().mean(0)
    linear = q.mean[0]
    torch.testing.assert_close(linear.weight.double(), coef[:2].T, atol=1e-3, rtol=0)
    torch.testing.assert_close(linear.bias.double(), coef[2], atol=1e-3, rtol=0)
    torch.testing.assert_close(q.log_var.double(), residual_var.log(), atol=1e-3, rtol=0)
    samples = q.sample(x[:3], 5)
    assert samples.shape == (3, 5, 3)
    expected = norm.logpdf(
        y[:3].numpy(), loc=q.mean(x[:3]).detach().numpy(), scale=q.log_var.exp().sqrt().detach()
    ).sum(1)
    np.testing.assert_allclose(q.log_prob(x[:3], y[:3]).detach().numpy(), expected, rtol=1e-5)
    # The closed-form fit lands on the same optimum as L-BFGS on the NLL.
    closed = ConditionalGaussian(2, 3)
    closed.fit(x, y)
    torch.testing.assert_close(closed.mean[0].weight, linear.weight, atol=1e-3, rtol=0)
    torch.testing.assert_close(closed.mean[0].bias, linear.bias, atol=1e-3, rtol=0)
    torch.testing.assert_close(closed.log_var, q.log_var, atol=1e-3, rtol=0)
    assert float(closed.nll(x, y).detach()) <= float(q.nll(x, y).detach()) + 1e-5
    with pytest.raises(ValueError, match="linear mean"):
        ConditionalGaussian(2, 3, hidden=(4,)).fit(x, y)


def test_fit_samplers_recovers_the_true_conditional_of_the_gaussian_task() -> None:
    """I_VAR's q_k fitted in closed form matches the exact p(y | x[:w_{k-1}])."""
    generator = torch.Generator().manual_seed(3)
    rho = torch.full((6,), 0.9)
    x = torch.randn(20000, 6, generator=generator)
    y = rho * x + (1 - rho**2).sqrt() * torch.randn(20000, 6, generator=generator)
    objective = DecomposedObjective(6, 6, [2, 4], conditional="var")
    assert objective.fit_samplers(x, y) == 2
    for k, prefix in ((1, 2), (2, 4)):
        q = objective.samplers[str(k)]
        truth = GaussianOracle(rho, prefix)
        x_new, y_new = x[:500], y[:500]
        gap = q.log_prob(x_new[:, :prefix], y_new) - truth.log_prob(x_new[:, :prefix], y_new)
        assert float(gap.detach().abs().mean()) < 0.05  # nats per row, over 6 coordinates
    assert DecomposedObjective(6, 6, [2], conditional="is").fit_samplers(x, y) == 0


@pytest.mark.parametrize("name", ["separable", "bilinear", "concat"])
def test_score_candidates_matches_full_score_matrix(name: str) -> None:
    torch.manual_seed(13)
    critic = make_critic(name, 3, 2, hidden=(8,))
    x, pool = torch.randn(4, 3), torch.randn(6, 2)
    index = torch.randint(0, 6, (4, 5))
    expected = critic(x, pool).gather(1, index)
    torch.testing.assert_close(score_candidates(critic, x, pool[index]), expected)


# ---------------------------------------------------------------------------
# DecomposedObjective
# ---------------------------------------------------------------------------


def test_decomposed_objective_names_and_shapes() -> None:
    rho = torch.full((20,), 0.5)
    for conditional, shared in itertools.product(("is", "bo", "var", "oracle"), (False, True)):
        objective = DecomposedObjective(
            20,
            20,
            [5, 10, 15],
            conditional=conditional,
            shared_critics=shared,
            oracle=lambda p: GaussianOracle(rho, p),
            critic_kwargs={"hidden": (16,)},
        )
        assert objective.term_names == [
            "I(x[:5]; y)",
            "I(x[:10]; y | x[:5])",
            "I(x[:15]; y | x[:10])",
            "I(x; y | x[:15])",
        ]
        x, y = correlated_gaussian(rho, 8, torch.Generator().manual_seed(14))
        terms = objective.estimate_terms(x, y)
        assert terms.shape == (4,) and not terms.requires_grad
        assert (terms <= math.log(8) + 1e-5).all()
        loss = objective.training_loss(x, y)
        assert loss.shape == () and loss.requires_grad
        loss.backward()
        diagnostics = objective.diagnostics(x, y)
        assert all(isinstance(v, float) for v in diagnostics.values())
        if conditional == "is":
            for name in objective.term_names[1:]:
                assert 1.0 <= diagnostics[f"ess/{name}"] <= 7.0
    single = DecomposedObjective(4, 2, [])
    assert single.term_names == ["I(x; y)"]
    assert single.estimate_terms(torch.randn(5, 4), torch.randn(5, 2)).shape == (1,)


def test_decomposed_objective_with_optimal_psi_matches_functions() -> None:
    # With psi weights given by a critic, "is" terms equal importance_sampled_infonce on them.
    torch.manual_seed(15)
    objective = DecomposedObjective(4, 4, [2], conditional="is", critic_kwargs={"hidden": (8,)})
    x, y = torch.randn(16, 4), torch.randn(16, 4)
    psi = objective.psi_critics["0"](x[:, :2], y)
    phi = objective.phi_critics["1"](x, y)
    terms = objective.estimate_terms(x, y)
    assert terms[0].item() == pytest.approx(infonce(psi).item(), abs=1e-6)
    assert terms[1].item() == pytest.approx(
        importance_sampled_infonce(phi, psi)[0].item(), abs=1e-6
    )


@pytest.mark.parametrize("subviews", [[0], [4], [5], [3, 2], [2, 2], [-1, 2]], ids=lambda s: str(s))
def test_decomposed_objective_rejects_bad_subviews(subviews: list[int]) -> None:
    with pytest.raises(ValueError, match="sub-view|subviews"):
        DecomposedObjective(4, 2, subviews)


def test_decomposed_objective_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown conditional"):
        DecomposedObjective(4, 2, [2], conditional="nce")
    with pytest.raises(ValueError, match="oracle"):
        DecomposedObjective(4, 2, [2], conditional="oracle")
    with pytest.raises(TypeError, match="ConditionalSampler"):
        DecomposedObjective(4, 2, [2], conditional="oracle", oracle=lambda p: object())
    with pytest.raises(TypeError):
        ConditionalSampler()  # abstract interface
    with pytest.raises(ValueError, match="unknown critic"):
        DecomposedObjective(4, 2, [2], critic="quadratic")
    objective = DecomposedObjective(4, 2, [2], critic_kwargs={"hidden": (8,)})
    with pytest.raises(ValueError, match=r"x must be \(B, 4\)"):
        objective.training_loss(torch.randn(8, 3), torch.randn(8, 2))
    with pytest.raises(ValueError, match="pair up"):
        objective.estimate_terms(torch.randn(8, 4), torch.randn(7, 2))


def test_decomposed_objective_is_permutation_invariant() -> None:
    torch.manual_seed(16)
    rho = torch.full((6,), 0.8)
    x, y = correlated_gaussian(rho, 32, torch.Generator().manual_seed(17))
    perm = torch.randperm(32)
    for conditional in ("is", "bo"):
        for shared in (False, True):
            objective = DecomposedObjective(
                6,
                6,
                [2, 4],
                conditional=conditional,
                shared_critics=shared,
                critic_kwargs={"hidden": (16,)},
            )
            torch.testing.assert_close(
                objective.estimate_terms(x, y),
                objective.estimate_terms(x[perm], y[perm]),
                atol=1e-5,
                rtol=0,
            )


@pytest.mark.parametrize(
    ("conditional", "shared"),
    [("is", False), ("bo", False), ("var", False), ("oracle", False), ("is", True)],
)
def test_short_training_increases_the_estimate(conditional: str, shared: bool) -> None:
    torch.manual_seed(18)
    rho = torch.full((4,), rho_for_mi(0.5))  # 2 nats in all, 0.5 per coordinate
    generator = torch.Generator().manual_seed(19)
    objective = DecomposedObjective(
        4,
        4,
        [2],
        conditional=conditional,
        shared_critics=shared,
        oracle=lambda p: GaussianOracle(rho, p),
        critic_kwargs={"hidden": (32,), "embed_dim": 16},
    )
    x_test, y_test = correlated_gaussian(rho, 256, generator)
    before = objective.estimate_terms(x_test, y_test).sum().item()
    optimizer = torch.optim.Adam(objective.parameters(), lr=3e-3)
    for _ in range(300):
        x, y = correlated_gaussian(rho, 64, generator)
        optimizer.zero_grad()
        objective.training_loss(x, y).backward()
        optimizer.step()
    after = objective.estimate_terms(x_test, y_test).sum().item()
    assert after > before + 0.8
    assert 1.0 < after < 2.6  # the truth is 2 nats; I_IS may overshoot a little


def test_boosted_chain_telescopes_below_log_batch() -> None:
    """I_BO terms sum to InfoNCE of the running boosted critic, so never above log B."""
    torch.manual_seed(0)
    objective = DecomposedObjective(6, 6, [2, 4], conditional="bo")
    optimizer = torch.optim.Adam(objective.parameters(), lr=1e-2)
    rho = 0.99
    for _ in range(60):
        x = torch.randn(16, 6)
        y = rho * x + (1 - rho**2) ** 0.5 * torch.randn(16, 6)
        loss = objective.training_loss(x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total = objective.estimate_terms(x, y).sum().item()
        assert total <= math.log(16) + 1e-5
