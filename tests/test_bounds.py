"""Bounds against closed-form values, a float64 NumPy reference, and their invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from infomax import bounds as B


def gaussian_scores(n: int, dim: int, mi: float, seed: int) -> torch.Tensor:
    """Optimal-critic score matrix log p(y_j | x_i) / p(y_j) for a correlated Gaussian, float64."""
    rng = np.random.default_rng(seed)
    rho = math.sqrt(1 - math.exp(-2 * mi / dim))
    x = rng.standard_normal((n, dim))
    y = rho * x + math.sqrt(1 - rho**2) * rng.standard_normal((n, dim))
    var = 1 - rho**2
    diff = y[None, :, :] - rho * x[:, None, :]
    scores = -0.5 * dim * math.log(var) - (diff**2).sum(-1) / (2 * var) + (y**2).sum(-1)[None] / 2
    return torch.from_numpy(scores)


# --- NumPy references, written from the formulas independently of bounds.py ----------------


def np_offdiag(s: np.ndarray) -> np.ndarray:
    return s[~np.eye(len(s), dtype=bool)]


def np_infonce(s: np.ndarray) -> float:
    n = len(s)
    return float(np.mean([s[i, i] - logsumexp(s[i]) + math.log(n) for i in range(n)]))


def np_nwj(s: np.ndarray) -> float:
    return float(np.mean(np.diag(s)) - np.mean(np.exp(np_offdiag(s) - 1.0)))


def np_tuba(s: np.ndarray, log_a: np.ndarray) -> float:
    shifted = s - log_a[:, None]
    return float(1 + np.mean(np.diag(shifted)) - np.mean(np.exp(np_offdiag(shifted))))


def np_dv(s: np.ndarray) -> float:
    return float(np.mean(np.diag(s)) - math.log(np.mean(np.exp(np_offdiag(s)))))


def np_smile(s: np.ndarray, tau: float) -> float:
    return float(np.mean(np.diag(s)) - math.log(np.mean(np.exp(np.clip(np_offdiag(s), -tau, tau)))))


def np_interpolated(s: np.ndarray, log_a: np.ndarray, alpha: float) -> float:
    """Poole et al.'s I_alpha, by explicit loops over rows and left-out columns."""
    n = len(s)
    e = np.exp(s)

    def baseline(i: int, left_out: int) -> float:
        loo_mean = (e[i].sum() - e[i, left_out]) / (n - 1)
        return alpha * loo_mean + (1 - alpha) * math.exp(log_a[i])

    joint = np.mean(
        [math.log(e[i, i] / baseline(i, j)) for i in range(n) for j in range(n) if i != j]
    )
    marginal = np.mean([e[i, j] / baseline(i, i) for i in range(n) for j in range(n) if i != j])
    return float(1 + joint - marginal)


@pytest.fixture(scope="module")
def random_scores() -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(0).normal(0.0, 2.0, size=(12, 12)))


def test_bounds_match_numpy_reference(random_scores: torch.Tensor) -> None:
    s = random_scores.numpy()
    log_a = np.random.default_rng(1).normal(size=12)
    assert B.infonce(random_scores).item() == pytest.approx(np_infonce(s), abs=1e-10)
    assert B.nwj(random_scores).item() == pytest.approx(np_nwj(s), abs=1e-10)
    assert B.tuba(random_scores, torch.from_numpy(log_a)).item() == pytest.approx(
        np_tuba(s, log_a), abs=1e-10
    )
    assert B.dv(random_scores).item() == pytest.approx(np_dv(s), abs=1e-10)
    assert B.jsd(random_scores).item() == pytest.approx(np_tuba(s, np.zeros(12)), abs=1e-10)
    assert B.smile(random_scores, 1.5).item() == pytest.approx(np_smile(s, 1.5), abs=1e-10)
    for alpha in (0.01, 0.5, 1.0):
        got = B.interpolated(random_scores, torch.from_numpy(log_a), alpha).item()
        assert got == pytest.approx(np_interpolated(s, log_a, alpha), abs=1e-9)


@pytest.mark.parametrize("mi", [1.0, 3.0])
def test_optimal_critic_recovers_gaussian_mi(mi: float) -> None:
    """With the true log density ratio, NWJ-style read-outs are unbiased for the true MI."""
    scores = gaussian_scores(3000, 10, mi, seed=2)
    # E_p[log r] is the MI; E_q[r] = 1, so TUBA/JSD/DV read-outs all give the MI.
    for value in (B.jsd(scores), B.dv(scores), B.tuba(scores), B.nwj(scores + 1.0)):
        assert value.item() == pytest.approx(mi, abs=0.1)


def test_infonce_never_exceeds_log_batch() -> None:
    # A critic that separates positives perfectly saturates InfoNCE at log B.
    for batch in (2, 8, 64):
        perfect = torch.full((batch, batch), -1e4)
        perfect.fill_diagonal_(1e4)
        assert B.infonce(perfect).item() == pytest.approx(math.log(batch), abs=1e-6)
    # ... and no critic does better, even on a high-MI task with the optimal critic.
    scores = gaussian_scores(64, 20, 20.0, seed=3)
    assert B.infonce(scores).item() <= math.log(64) + 1e-9
    assert B.infonce(scores).item() > math.log(64) - 0.1


def test_infonce_with_optimal_critic_matches_low_mi() -> None:
    # When MI << log B, InfoNCE with the optimal critic is close to the true MI.
    values = [B.infonce(gaussian_scores(512, 4, 0.5, seed=s)).item() for s in range(10)]
    assert float(np.mean(values)) == pytest.approx(0.5, abs=0.05)


def test_permuted_pairs_give_about_zero() -> None:
    """Shuffling y breaks the pairing: every bound of the optimal critic drops to ~0 or below."""
    scores = gaussian_scores(2000, 5, 2.0, seed=4)
    perm = torch.from_numpy(np.random.default_rng(5).permutation(2000))
    shuffled = scores[:, perm]
    assert B.infonce(shuffled).item() < 0.05
    assert B.dv(shuffled).item() < 0.1
    assert B.jsd(shuffled).item() < 0.1
    assert B.nwj(shuffled + 1.0).item() < 0.1


def test_bounds_are_invariant_to_permuting_the_batch(random_scores: torch.Tensor) -> None:
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(0))
    permuted = random_scores[perm][:, perm]
    for name in ("infonce", "nwj", "tuba", "dv", "jsd", "smile"):
        fn = B.make_bound(name).estimate
        assert fn(permuted).item() == pytest.approx(fn(random_scores).item(), abs=1e-10)


def test_log_space_survives_huge_scores() -> None:
    scores = torch.randn(16, 16, dtype=torch.float64) * 300
    for name in ("infonce", "dv", "smile"):
        assert math.isfinite(B.make_bound(name).estimate(scores).item())


def test_smile_objective_has_smile_value_and_jsd_gradient(random_scores: torch.Tensor) -> None:
    s1 = random_scores.clone().requires_grad_(True)
    value = B.smile_objective(s1, 2.0)
    assert value.item() == pytest.approx(B.smile(random_scores, 2.0).item(), abs=1e-12)
    value.backward()
    s2 = random_scores.clone().requires_grad_(True)
    B.jsd_objective(s2).backward()
    torch.testing.assert_close(s1.grad, s2.grad)


def test_mine_uses_moving_average_in_gradient() -> None:
    partition = B.MovingAveragePartition(momentum=0.5)
    first = torch.randn(8, 8, dtype=torch.float64)
    partition(first)  # initialises the average with this batch's partition
    log_ema = partition.log_partition.clone()
    scores = torch.randn(8, 8, dtype=torch.float64, requires_grad=True)
    value = partition(scores)
    assert value.item() == pytest.approx(B.dv(scores.detach()).item(), abs=1e-12)
    value.backward()
    # Expected gradient: diagonal 1/B; off-diagonal -exp(S_ij) / (B(B-1) Z_ema).
    s = scores.detach()
    log_batch = B.log_mean_exp_offdiagonal(s)
    new_log_ema = torch.logaddexp(log_ema + math.log(0.5), log_batch + math.log(0.5))
    expected = -torch.exp(s - new_log_ema) / (8 * 7)
    expected.fill_diagonal_(1 / 8)
    torch.testing.assert_close(scores.grad, expected)


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ValueError, match="square"):
        B.infonce(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="at least 2"):
        B.dv(torch.zeros(1, 1))
    with pytest.raises(ValueError, match="unknown bound 'foo'"):
        B.make_bound("foo")
    with pytest.raises(ValueError, match="alpha"):
        B.interpolated(torch.zeros(3, 3), 0.0, 0.0)


def test_the_registry_pairs_each_bound_with_its_objective(random_scores: torch.Tensor) -> None:
    """Each name's estimate and training objective are the functions the method defines."""
    s = random_scores
    log_a = torch.from_numpy(np.random.default_rng(2).normal(size=12))
    expected = {  # name: (objective, estimate)
        "contrastive_dv": (B.contrastive_dv_objective(s, 0.1), B.dv(s)),
        "infonce": (B.infonce(s), B.infonce(s)),
        "nwj": (B.nwj(s), B.nwj(s)),
        "tuba": (B.tuba(s, log_a), B.tuba(s, log_a)),
        "dv": (B.dv(s), B.dv(s)),
        "mine": (B.dv(s), B.dv(s)),
        "jsd": (B.jsd_objective(s), B.jsd(s)),
        "smile": (B.smile(s, 5.0), B.smile(s, 5.0)),
        "interpolated": (B.interpolated(s, log_a, 0.01), B.interpolated(s, log_a, 0.01)),
    }
    assert B.bound_names() == tuple(expected)
    for name, (objective, estimate) in expected.items():
        bound = B.make_bound(name)
        got_objective, got_estimate = bound(s, log_a if bound.needs_baseline else None)
        assert got_objective.item() == pytest.approx(objective.item(), abs=1e-12), name
        assert got_estimate.item() == pytest.approx(estimate.item(), abs=1e-12), name
    assert {n for n, b in B.BOUNDS.items() if b.needs_baseline} == {"tuba", "interpolated"}
    assert {n for n, b in B.BOUNDS.items() if b.dv_readout} == {"contrastive_dv", "dv", "mine"}
    assert B.make_bound("smile", tau=1.5, alpha=0.5).estimate(s).item() == pytest.approx(
        np_smile(s.numpy(), 1.5), abs=1e-10
    )
    with pytest.raises(ValueError, match="unknown bound option"):
        B.make_bound("smile", tau_typo=1.0)
    with pytest.raises(ValueError, match="needs a log baseline"):
        B.make_bound("tuba")(s)


def test_a_new_bound_is_one_registration(
    monkeypatch: pytest.MonkeyPatch, random_scores: torch.Tensor
) -> None:
    """Registering a function makes it a bound of every registry user (estimate_mi, help)."""
    from infomax.bounds import registry

    monkeypatch.setattr(registry, "BOUNDS", dict(registry.BOUNDS))
    registry.register_function("toy", lambda s: s.diagonal().mean(), "mean positive score")
    assert registry.bound_names()[-1] == "toy"
    assert "toy (mean positive score)" in registry.describe()
    value = registry.make_bound("toy").estimate(random_scores)
    assert value.item() == pytest.approx(float(random_scores.diagonal().mean()), abs=1e-12)
    with pytest.raises(ValueError, match="new, non-empty name"):
        registry.register_function("toy", lambda s: s.sum(), "again")


def test_sample_forms_agree_with_the_matrix_forms(random_scores: torch.Tensor) -> None:
    """Cut into its diagonal and off-diagonal entries, a (B, B) matrix gives the same bounds."""
    s = random_scores
    batch = s.shape[0]
    positive = s.diagonal()[:, None]  # (B, 1)
    negative = s[~torch.eye(batch, dtype=torch.bool)].view(batch, batch - 1)
    expected = {
        "infonce": (B.infonce(s) - math.log(batch), B.infonce(s)),  # objective: less log B
        "dv": (B.dv(s), B.dv(s)),
        "jsd": (B.jsd_objective(s), B.jsd(s)),
    }
    for name, (objective, estimate) in expected.items():
        got_objective, got_estimate = B.make_bound(name).samples(positive, negative)
        assert got_objective.item() == pytest.approx(objective.item(), abs=1e-12), name
        assert got_estimate.item() == pytest.approx(estimate.item(), abs=1e-12), name
        assert got_objective.requires_grad == s.requires_grad and not got_estimate.requires_grad
    with pytest.raises(ValueError, match="bound 'smile' has no form on sets of scores; infonce"):
        B.make_bound("smile").samples(positive, negative)


def test_sample_infonce_counts_every_negative_of_the_row() -> None:
    """(B, L) positives against (B, N) negatives: a perfect critic reaches log(1 + N)."""
    positive = torch.full((4, 3), 50.0)
    negative = torch.full((4, 10), -50.0)
    _, estimate = B.make_bound("infonce").samples(positive, negative)
    assert estimate.item() == pytest.approx(math.log(11), abs=1e-6)
    _, estimate = B.make_bound("infonce").samples(torch.zeros(4, 3), torch.zeros(4, 10))
    assert estimate.item() == pytest.approx(0.0, abs=1e-6)


def test_bound_options_are_declared_with_their_defaults() -> None:
    """Options are attributes with the registry's defaults; make_bound overrides them."""
    assert B.BOUNDS["smile"].options == {"tau": 5.0}
    assert B.make_bound("smile").tau == 5.0 and B.make_bound("smile", tau=2.0).tau == 2.0
    assert B.make_bound("interpolated", alpha=0.5).alpha == 0.5
    assert B.make_bound("contrastive_dv").dv_weight == 0.1
    assert B.make_bound("mine", momentum=0.2).partition.momentum == 0.2
    with pytest.raises(TypeError, match="bound 'smile' has no option 'alpha'"):
        B.BOUNDS["smile"](alpha=0.5)


@pytest.mark.parametrize("scale", [1.0, 10.0, 60.0])
def test_contrastive_dv_objective_matches_its_autograd_composition(scale: float) -> None:
    """The hand-written gradient equals autograd's through infonce rows/columns and dv (float64)."""
    generator = torch.Generator().manual_seed(0)
    scores = torch.randn(9, 9, dtype=torch.float64, generator=generator) * scale
    scores += 3.0 * torch.eye(9, dtype=torch.float64)
    fused = scores.clone().requires_grad_()
    composed = scores.clone().requires_grad_()
    value = B.contrastive_dv_objective(fused, 0.3)
    diagonal = composed.diagonal()
    rows = (diagonal - torch.logsumexp(composed, dim=1)).mean()
    columns = (diagonal - torch.logsumexp(composed, dim=0)).mean()
    expected = 0.5 * (rows + columns) + 0.3 * B.dv(composed)
    value.backward()
    expected.backward()
    assert value.item() == pytest.approx(expected.item(), abs=1e-12)
    assert torch.allclose(fused.grad, composed.grad, atol=1e-14, rtol=0.0)


def test_contrastive_dv_objective_passes_gradcheck() -> None:
    scores = torch.randn(6, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s: B.contrastive_dv_objective(s, 0.2), (scores,))
