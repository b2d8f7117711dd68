"""The copula grid critic: a plug-in table of the log copula density for one column a side."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from infomax import estimate_mi
from infomax.critics import CopulaGridCritic, make_critic
from infomax.critics.grid import hat_weights
from infomax.estimate import auto_critics
from infomax.validation import InputError


def _band(n: int, width: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """x ~ U(0, 1), y = x + U(-width, width): I = width - log(2 width) nats (width <= 1/2).

    h(y) is ``width`` (the trapezoid's two ramps; its flat part has density 1) and
    h(y | x) is log(2 width). All the mass lies in a band with sharp edges.
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, 1))
    y = x + rng.uniform(-width, width, size=(n, 1))
    return x, y, width - math.log(2 * width)


def test_hat_weights_are_a_partition_of_unity_on_two_neighbouring_knots() -> None:
    z = torch.linspace(-4, 4, 101)[:, None]
    weights = hat_weights(z, 9)
    assert weights.shape == (101, 9)
    assert torch.allclose(weights.sum(1), torch.ones(101))
    assert int((weights > 0).sum(1).max()) <= 2
    # The weighted knot positions give back the point on the unit square's side.
    knots = torch.linspace(0, 1, 9)
    assert torch.allclose(weights @ knots, torch.special.ndtr(z[:, 0]), atol=1e-6)


def test_scores_are_the_bilinear_interpolation_of_the_table() -> None:
    critic = make_critic("grid", 1, 1, knots=5)
    assert isinstance(critic, CopulaGridCritic)
    with torch.no_grad():
        critic.table.copy_(torch.arange(25.0).reshape(5, 5))
    # Normal scores of the knots 0.25 and 0.5 and of 0.375, half-way between them.
    z = torch.special.ndtri(torch.tensor([[0.25], [0.5], [0.375]]))
    scores = critic(z, z)
    assert scores[0, 1].item() == pytest.approx(1 * 5 + 2, abs=1e-4)  # table[1, 2]
    assert scores[2, 2].item() == pytest.approx((6 + 7 + 11 + 12) / 4, abs=1e-4)
    gx, hy = critic.embed(z, z)
    assert torch.allclose(gx @ hy.T, scores)


def test_the_grid_takes_one_column_a_side() -> None:
    with pytest.raises(ValueError, match="one column on each side"):
        CopulaGridCritic(2, 1)
    x = np.random.default_rng(0).normal(size=(600, 2))
    with pytest.raises(InputError, match="one column on each side, got 2 and 1"):
        estimate_mi(x, x[:, :1], critic="grid", progress=False)
    assert auto_critics(1, 1) == ("quadratic", "separable", "grid")
    assert auto_critics(2, 1) == auto_critics(1, 3) == ("quadratic", "separable")


def test_the_plug_in_table_reads_a_gaussian_and_independence() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5000, 1))
    rho = 0.8
    y = rho * x + math.sqrt(1 - rho**2) * rng.normal(size=(5000, 1))
    truth = -0.5 * math.log(1 - rho**2)
    result = estimate_mi(x, y, critic="grid", progress=False)
    assert result.info["steps_run"] == 0  # fitted by counting, not trained
    assert result.info["grid_knots"] >= 8
    assert abs(result.mi - truth) < 0.05
    assert result.ci90[0] <= truth <= result.ci90[1]
    independent = estimate_mi(x, rng.normal(size=(5000, 1)), critic="grid", progress=False)
    assert abs(independent.mi) < 0.02
    assert independent.info["heldout_estimate"] < 0.02


def test_the_race_picks_the_grid_where_the_dependence_has_sharp_edges() -> None:
    """A uniform band (1.709 nats): the smooth critics blur its edges and read about 1.55;
    the grid's table follows them."""
    x, y, truth = _band(3000, 0.1)
    result = estimate_mi(x, y, steps=300, eval_every=100, batch_size=256, progress=False)
    candidates = result.info["critic_candidates"]
    assert result.info["critic"] == "grid"
    assert result.info["critic_steps"]["grid"] == 0
    assert candidates["grid"] > max(candidates["quadratic"], candidates["separable"]) + 0.05
    assert abs(result.mi - truth) < 0.06
