"""Ground-truth tasks: closed-form MI checked by Monte Carlo and against scipy densities."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from infomax import bounds
from infomax.distributions import (
    TASKS,
    GaussianTask,
    NoisyFunctionTask,
    Task,
    asinh,
    correlated_gaussian,
    cubic,
    gaussian_pairs,
    get_task,
    half_cube,
    rho_from_mi,
    sine,
    student_t,
    student_t_mi_correction,
)

MC_SAMPLES = 200_000

TASK_CASES = [
    ("gaussian", lambda: correlated_gaussian(dim=5, mi=1.0)),
    ("gaussian_shares", lambda: correlated_gaussian(mi_per_dim=[0.1, 0.0, 0.9, 2.0])),
    ("cubic", lambda: cubic(dim=5, mi=1.5)),
    ("half_cube", lambda: half_cube(dim=4, mi=1.0)),
    ("asinh", lambda: asinh(dim=4, mi=1.0)),
    ("student_t", lambda: student_t()),  # dim=2, dof=5, mi=1
    ("student_t_heavy", lambda: student_t(dim=3, dof=1.0, mi=1.5)),
    ("student_t_scale_only", lambda: student_t(dim=2, dof=2.0, dispersion_mi=0.0)),
    ("sine", lambda: sine()),
]


def _dispersion(task: Task) -> np.ndarray:
    """Joint (2d, 2d) covariance / dispersion [[I, diag(rho)], [diag(rho), I]] of a latent task."""
    d = task.x_dim
    rho = np.diag(task.rho)  # type: ignore[attr-defined]
    return np.block([[np.eye(d), rho], [rho, np.eye(d)]])


@pytest.mark.parametrize("make", [c[1] for c in TASK_CASES], ids=[c[0] for c in TASK_CASES])
def test_monte_carlo_mean_of_log_ratio_is_mi(make) -> None:
    task = make()
    x, y = task.sample(MC_SAMPLES, seed=1)
    ratio = task.log_density_ratio_diagonal(x, y).numpy()
    mean, se = ratio.mean(), ratio.std(ddof=1) / math.sqrt(MC_SAMPLES)
    assert abs(mean - task.mi) < 3 * se
    assert abs(mean - task.mi) < 0.02 * task.mi + 1e-3


@pytest.mark.parametrize("make", [c[1] for c in TASK_CASES], ids=[c[0] for c in TASK_CASES])
def test_pairwise_matrix_diagonal_matches_aligned_pairs(make) -> None:
    task = make()
    x, y = task.sample(64, seed=2)
    matrix = task.log_density_ratio(torch.from_numpy(x), torch.from_numpy(y))
    assert matrix.shape == (64, 64) and matrix.dtype == torch.float64
    torch.testing.assert_close(matrix.diagonal(), task.log_density_ratio_diagonal(x, y))
    # Off-diagonal entries are the ratio of the swapped pairs.
    torch.testing.assert_close(matrix[3, 7:8], task.log_density_ratio_diagonal(x[3:4], y[7:8]))


def test_gaussian_log_ratio_matches_scipy_logpdf() -> None:
    task = correlated_gaussian(mi_per_dim=[0.2, 0.7, 1.1])
    x, y = task.sample(5, seed=3)
    y = y[:4]  # B != M
    joint = stats.multivariate_normal(np.zeros(6), _dispersion(task))
    marginal = stats.multivariate_normal(np.zeros(3), np.eye(3))
    expected = np.array(
        [
            [joint.logpdf(np.r_[xi, yj]) - marginal.logpdf(xi) - marginal.logpdf(yj) for yj in y]
            for xi in x.astype(np.float64)
        ]
    )
    got = task.log_density_ratio(torch.from_numpy(x), torch.from_numpy(y))
    assert got.shape == (5, 4)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-9, atol=1e-9)


def test_student_t_log_ratio_matches_scipy_logpdf() -> None:
    task = student_t(dim=2, dof=3.0, mi=1.0)
    x, y = task.sample(4, seed=4)
    joint = stats.multivariate_t(np.zeros(4), _dispersion(task), df=3.0)
    marginal = stats.multivariate_t(np.zeros(2), np.eye(2), df=3.0)
    expected = np.array(
        [
            [joint.logpdf(np.r_[xi, yj]) - marginal.logpdf(xi) - marginal.logpdf(yj) for yj in y]
            for xi in x.astype(np.float64)
        ]
    )
    got = task.log_density_ratio(x, y).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


def test_student_t_mi_by_monte_carlo_of_scipy_densities() -> None:
    """The closed-form MI (dispersion MI + dof correction) checked with scipy's own densities."""
    dof, dim = 2.0, 2
    task = student_t(dim=dim, dof=dof, mi=0.8)
    x, y = task.sample(MC_SAMPLES, seed=5)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    joint = stats.multivariate_t(np.zeros(2 * dim), _dispersion(task), df=dof)
    marginal = stats.multivariate_t(np.zeros(dim), np.eye(dim), df=dof)
    ratio = joint.logpdf(np.hstack([x64, y64])) - marginal.logpdf(x64) - marginal.logpdf(y64)
    se = ratio.std(ddof=1) / math.sqrt(MC_SAMPLES)
    assert abs(ratio.mean() - 0.8) < 3 * se
    gaussian_part = -0.5 * np.log1p(-(task.rho**2)).sum()
    assert task.mi == pytest.approx(gaussian_part + student_t_mi_correction(dof, dim, dim))


def test_noisy_function_quadrature_matches_closed_forms() -> None:
    # A linear f is a bivariate Gaussian: I = 0.5 log(1 + a^2 / sigma^2).
    linear = NoisyFunctionTask("linear", lambda t: 2.0 * t, 0.5)
    assert linear.mi == pytest.approx(0.5 * math.log1p(4.0 / 0.25), abs=1e-9)
    # Its log ratio is the Gaussian one: log N(y; 2x, 0.25) - log N(y; 0, 4.25).
    x, y = linear.sample(50, seed=0)
    expected = stats.norm.logpdf(y[:, 0], 2 * x[:, 0], 0.5) - stats.norm.logpdf(
        y[:, 0], 0, math.sqrt(4.25)
    )
    np.testing.assert_allclose(linear.log_density_ratio_diagonal(x, y).numpy(), expected, atol=1e-5)
    # The non-monotone task: sin(4x) + 0.1 e carries 1.699 nats.
    assert sine().mi == pytest.approx(1.6989, abs=1e-4)
    with pytest.raises(ValueError, match="noise"):
        NoisyFunctionTask("bad", np.sin, 0.0)


def test_student_t_correction_values() -> None:
    # f(v) = lgamma(v/2) - (v/2) psi(v/2); c = f(1) + f(3) - 2 f(2) for a bivariate Cauchy.
    def f(v: float) -> float:
        half = torch.tensor(v / 2, dtype=torch.float64)
        return math.lgamma(v / 2) - (v / 2) * float(torch.special.digamma(half))

    assert student_t_mi_correction(1.0, 1, 1) == pytest.approx(f(1) + f(3) - 2 * f(2), rel=1e-12)
    assert student_t_mi_correction(1.0, 1, 1) == pytest.approx(0.224171, abs=1e-6)
    # Positive, decreasing in dof, vanishing in the Gaussian limit.
    values = [student_t_mi_correction(v, 2, 3) for v in (1.0, 3.0, 10.0, 100.0, 1e6)]
    assert all(a > b > 0 for a, b in zip(values, values[1:], strict=False))
    assert values[-1] == pytest.approx(2 * 3 / (2 * 1e6**2), rel=1e-4)  # ~ m n / (2 nu^2)
    # The direct formula and the large-dof series agree where they hand over.
    below, above = student_t_mi_correction(50.0 - 1e-9, 4, 4), student_t_mi_correction(50.0, 4, 4)
    assert below == pytest.approx(above, abs=1e-12)


def test_rho_formula() -> None:
    task = correlated_gaussian(dim=20, mi=2.0)
    np.testing.assert_allclose(task.rho, np.full(20, math.sqrt(1 - math.exp(-2 * 2.0 / 20))))
    shares = np.array([0.0, 0.3, 1.0, 4.0])
    np.testing.assert_allclose(-0.5 * np.log1p(-(rho_from_mi(shares) ** 2)), shares, atol=1e-12)
    # The sampled coordinates have the stated correlation.
    x, y = correlated_gaussian(mi_per_dim=shares).sample(MC_SAMPLES, seed=6)
    corr = [np.corrcoef(x[:, k], y[:, k])[0, 1] for k in range(4)]
    np.testing.assert_allclose(corr, rho_from_mi(shares), atol=0.006)


def test_independent_case_has_zero_mi() -> None:
    task = correlated_gaussian(dim=3, mi=0.0)
    assert task.mi == 0.0
    np.testing.assert_array_equal(task.rho, np.zeros(3))
    x, y = task.sample(1000, seed=7)
    assert torch.count_nonzero(task.log_density_ratio(x, y)) == 0
    assert abs(np.corrcoef(x[:, 0], y[:, 0])[0, 1]) < 0.1


def test_subview_mi_sums_coordinate_shares() -> None:
    task = correlated_gaussian(mi_per_dim=[0.5, 1.0, 0.25, 2.0])
    assert task.mi == pytest.approx(3.75)
    assert task.subview_mi([0, 1]) == pytest.approx(1.5)
    assert task.subview_mi([3, 3]) == pytest.approx(2.0)
    assert task.subview_mi([]) == 0.0
    with pytest.raises(ValueError, match="coords"):
        task.subview_mi([4])


@pytest.mark.parametrize("name", sorted(TASKS))
def test_sample_shapes_dtypes_and_seeds(name: str) -> None:
    task = get_task(name)
    x, y = task.sample(10, seed=11)
    assert x.shape == (10, task.x_dim) and y.shape == (10, task.y_dim)
    assert x.dtype == np.float32 and y.dtype == np.float32
    x2, y2 = task.sample(10, seed=11)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x3, _ = task.sample(10, seed=12)
    assert not np.array_equal(x, x3)
    rng = np.random.default_rng(0)
    first, _ = task.sample(5, seed=rng)
    second, _ = task.sample(5, seed=rng)  # the generator advanced
    assert not np.array_equal(first, second)
    assert task.name == name and task.label.startswith(name + "(")


def test_transforms_are_applied_and_inverted() -> None:
    latent = correlated_gaussian(dim=3, mi=1.0)
    for task, fx, fy in [
        (cubic(dim=3, mi=1.0), lambda t: t, lambda t: t**3),
        (half_cube(dim=3, mi=1.0), lambda t: t * np.sqrt(np.abs(t)), None),
        (asinh(dim=3, mi=1.0), np.arcsinh, None),
    ]:
        fy = fy or fx
        x, y = task.sample(50, seed=13)
        lx, ly = latent.sample(50, seed=13)  # same latent draws
        np.testing.assert_allclose(x, fx(lx.astype(np.float64)), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(y, fy(ly.astype(np.float64)), rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(
            task.log_density_ratio(x, y), latent.log_density_ratio(lx, ly), rtol=1e-5, atol=1e-5
        )


def test_optimal_critic_gives_mi_through_the_bounds() -> None:
    task = correlated_gaussian(dim=4, mi=1.0)
    x, y = task.sample(2000, seed=14)
    scores = task.log_density_ratio(x, y)
    # TUBA with the exact log ratio is an unbiased estimate of I; InfoNCE is below log B.
    assert float(bounds.tuba(scores)) == pytest.approx(1.0, abs=0.08)
    assert float(bounds.infonce(scores)) == pytest.approx(1.0, abs=0.08)


def test_bad_arguments_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown task 'gauss'; choose one of asinh, "):
        get_task("gauss")
    with pytest.raises(ValueError, match="non-negative"):
        correlated_gaussian(dim=2, mi=-1.0)
    with pytest.raises(ValueError, match="positive integer"):
        correlated_gaussian(dim=0)
    with pytest.raises(ValueError, match="disagrees"):
        correlated_gaussian(dim=3, mi_per_dim=[1.0, 1.0])
    with pytest.raises(ValueError, match="nats per coordinate"):
        correlated_gaussian(dim=1, mi=20.0)
    with pytest.raises(ValueError, match="at least"):
        student_t(dim=2, dof=1.0, mi=0.1)  # the shared scale alone carries more
    with pytest.raises(ValueError, match="not both"):
        student_t(mi=1.0, dispersion_mi=0.5)
    with pytest.raises(ValueError, match="dof"):
        student_t(dof=0.0)
    task = correlated_gaussian(dim=3, mi=1.0)
    with pytest.raises(ValueError, match=r"shape \(N, 3\)"):
        task.log_density_ratio(torch.zeros(4, 2), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="same number of rows"):
        task.log_density_ratio_diagonal(torch.zeros(4, 3), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="positive integer"):
        task.sample(0)


def test_defaults() -> None:
    task = correlated_gaussian()
    assert isinstance(task, GaussianTask)
    assert (task.x_dim, task.y_dim, task.mi) == (20, 20, pytest.approx(2.0))
    t = student_t()
    assert (t.x_dim, t.mi, t.dof) == (2, pytest.approx(1.0), 5.0)
    assert t.correction == pytest.approx(student_t_mi_correction(5.0, 2, 2))


# ---------------------------------------------------------------- the torch sampler


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
