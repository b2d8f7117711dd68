"""The benchmarks' torch sampler of the correlated Gaussian (infomax.bench.sampling)."""

from __future__ import annotations

import math

import pytest
import torch

from infomax.bench.sampling import gaussian_pairs
from infomax.distributions import correlated_gaussian, rho_from_mi


def test_one_draw_is_one_normal_tensor_split_by_columns() -> None:
    """The staircase's stream: x and eps are the two halves of one (B, 2 dim) draw."""
    rho = float(rho_from_mi(4.0 / 20)[0])
    x, y = gaussian_pairs(32, rho, 20, one_draw=True, generator=torch.Generator().manual_seed(7))
    noise = torch.randn(32, 40, generator=torch.Generator().manual_seed(7))
    assert torch.equal(x, noise[:, :20])
    assert torch.equal(y, rho * noise[:, :20] + math.sqrt(1.0 - rho * rho) * noise[:, 20:])


def test_two_draws_are_x_then_eps_with_per_coordinate_rho() -> None:
    """DEMI's stream: x, then eps, each (B, dim); rho may differ per coordinate."""
    rho = torch.tensor([0.0, 0.5, 0.9], dtype=torch.float64)
    x, y = gaussian_pairs(5, rho, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    generator = torch.Generator().manual_seed(3)
    x_ref = torch.randn(5, 3, generator=generator, dtype=torch.float64)
    eps = torch.randn(5, 3, generator=generator, dtype=torch.float64)
    assert x.dtype == torch.float64 and torch.equal(x, x_ref)
    torch.testing.assert_close(y, rho * x_ref + (1.0 - rho**2).sqrt() * eps, rtol=0, atol=1e-15)
    assert torch.equal(y[:, 0], eps[:, 0])  # rho = 0: y is the noise


def test_samples_carry_the_intended_mi() -> None:
    """The closed-form log ratio of the task averages to its MI on the sampler's pairs."""
    task = correlated_gaussian(6, 3.0)
    x, y = gaussian_pairs(
        200_000, torch.from_numpy(task.rho), generator=torch.Generator().manual_seed(0),
        dtype=torch.float64,
    )  # fmt: skip
    values = task.log_density_ratio_diagonal(x, y)
    stderr = values.std().item() / math.sqrt(len(values))
    assert values.mean().item() == pytest.approx(3.0, abs=4 * stderr)
    _, y_cubic = gaussian_pairs(8, 0.5, 4, cubic=True, generator=torch.Generator().manual_seed(1))
    _, y_plain = gaussian_pairs(8, 0.5, 4, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(y_cubic, y_plain**3)


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="a float rho needs dim"):
        gaussian_pairs(4, 0.5)
    with pytest.raises(ValueError, match="dim=3 disagrees with rho of shape \\(2,\\)"):
        gaussian_pairs(4, torch.tensor([0.1, 0.2]), 3)
