"""The Student-t copula term and the elliptical start of ``estimate_mi``, against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import special, stats

from infomax import distributions as D
from infomax import estimate_mi
from infomax.copula import (
    StudentTCopulaRatio,
    elliptical_correlation,
    fit_student_t_correlation,
    kendall_tau,
)


def _student_t_scores(task: D.StudentTTask, n: int, seed: int) -> tuple[np.ndarray, ...]:
    """Raw samples and their exact normal scores ``Phi^{-1}(T_nu(x))`` (unit-scale marginals)."""
    x, y = task.sample(n, seed=seed)
    to_scores = lambda a: special.ndtri(stats.t.cdf(a.astype(np.float64), task.dof))  # noqa: E731
    return x, y, to_scores(x), to_scores(y)


def _dispersion(task: D.StudentTTask) -> np.ndarray:
    d = task.x_dim
    cross = np.diag(task.rho)
    return np.block([[np.eye(d), cross], [cross, np.eye(d)]])


def test_student_t_copula_ratio_is_the_exact_log_ratio_of_a_student_t() -> None:
    """On exact normal scores it is the task's closed-form log ratio, constant included."""
    task = D.student_t(dim=3, dof=3.0, mi=1.5)
    x, y, u, v = _student_t_scores(task, 400, seed=0)
    term = StudentTCopulaRatio(_dispersion(task), x_dim=3, dof=3.0)
    got = term(torch.as_tensor(u, dtype=torch.float32), torch.as_tensor(v, dtype=torch.float32))
    exact = task.log_density_ratio(x, y)
    torch.testing.assert_close(got.double(), exact, atol=2e-3, rtol=1e-4)
    # Its mean over the positive pairs is a Monte Carlo estimate of the true MI.
    positives = got.diagonal().double().mean()
    assert float(positives) == pytest.approx(task.mi, abs=0.15)


def test_student_t_copula_ratio_tends_to_the_gaussian_copula() -> None:
    task = D.correlated_gaussian(dim=2, mi=1.0)
    x, y = task.sample(300, seed=1)
    corr = np.block([[np.eye(2), np.diag(task.rho)], [np.diag(task.rho), np.eye(2)]])
    term = StudentTCopulaRatio(corr, x_dim=2, dof=1e5)
    got = term(torch.as_tensor(x), torch.as_tensor(y)).double()
    torch.testing.assert_close(got, task.log_density_ratio(x, y), atol=2e-2, rtol=1e-3)


def test_the_quantile_table_matches_scipy() -> None:
    term = StudentTCopulaRatio(np.eye(2), x_dim=1, dof=2.0)
    u = torch.linspace(-5.9, 5.9, 101)
    want = stats.t.ppf(special.ndtr(u.double().numpy()), 2.0)
    np.testing.assert_allclose(term.quantile(u).numpy(), want, rtol=2e-3, atol=1e-4)


def test_kendall_tau_matches_scipy() -> None:
    rng = np.random.default_rng(2)
    z = rng.standard_normal((500, 4))
    z[:, 1] += z[:, 0]
    z[:, 3] = -np.exp(z[:, 2])  # a monotone map: tau = -1
    tau = kendall_tau(z)
    for i in range(4):
        for j in range(4):
            assert tau[i, j] == pytest.approx(stats.kendalltau(z[:, i], z[:, j])[0], abs=1e-9)
    assert tau[2, 3] == pytest.approx(-1.0)


def test_elliptical_correlation_recovers_a_student_t_dispersion() -> None:
    task = D.student_t(dim=3, dof=2.0, mi=2.0)
    x, y = task.sample(20_000, seed=3)
    corr = elliptical_correlation(np.concatenate([x, y], 1), max_rows=3000)
    np.testing.assert_allclose(np.diag(corr), 1.0)
    # tau on 3000 rows has a standard error near 0.015; sin(pi tau / 2) about as much.
    assert np.abs(corr - _dispersion(task)).max() < 0.06
    # Collinear columns: the fit is still positive definite.
    z = np.concatenate([x, x[:, :1]], 1)
    assert np.linalg.eigvalsh(elliptical_correlation(z)).min() > 0


def test_the_likelihood_fit_beats_kendalls_tau_on_many_columns() -> None:
    """All rows through the t likelihood: closer to the true correlation than tau on 3,000."""
    task = D.student_t(dim=16, dof=3.0, mi=4.0)
    x, y, u, v = _student_t_scores(task, 30_000, seed=8)
    rows = torch.as_tensor(np.concatenate([u, v], 1))
    kendall = elliptical_correlation(rows.numpy(), max_rows=3000)
    fitted = fit_student_t_correlation(rows, 3.0, start=kendall)
    truth = _dispersion(task)
    np.testing.assert_allclose(np.diag(fitted), 1.0)
    assert np.abs(fitted - truth).max() < 0.5 * np.abs(kendall - truth).max()
    assert np.abs(fitted - truth).max() < 0.03


def test_estimate_mi_starts_a_student_t_at_its_copula_and_a_gaussian_at_the_gaussian() -> None:
    options = {"steps": 200, "eval_every": 100, "progress": False}
    student = D.student_t(dim=3, dof=3.0, mi=1.5)
    x, y = student.sample(12_000, seed=4)
    result = estimate_mi(x, y, **options)
    assert result.info["start"] == "student_t"
    assert result.info["start_dof"] in (2.0, 3.0, 4.0)
    assert result.mi == pytest.approx(student.mi, abs=0.1)
    # The Gaussian start alone misses the heavy joint tails by far.
    gaussian_start = estimate_mi(x, y, init="gaussian", **options)
    assert gaussian_start.mi < student.mi - 0.1

    gaussian = D.correlated_gaussian(dim=3, mi=1.5)
    x, y = gaussian.sample(12_000, seed=5)
    result = estimate_mi(x, y, **options)
    assert result.info["start"] == "gaussian"
    assert result.mi == pytest.approx(gaussian.mi, abs=0.1)


def test_one_column_each_and_wide_data() -> None:
    """One column per side works; past MAX_ELLIPTICAL_DIM columns only the Gaussian is tried."""
    from infomax.warm_start import MAX_ELLIPTICAL_DIM

    options = {"steps": 50, "eval_every": 50, "progress": False}
    task = D.student_t(dim=1, dof=2.0, mi=0.5)
    x, y = task.sample(6000, seed=6)
    result = estimate_mi(x, y, **options)
    assert len(result.info["start_candidates"]) > 1
    assert result.mi == pytest.approx(task.mi, abs=0.1)
    wide = MAX_ELLIPTICAL_DIM // 2 + 1
    x, y = D.correlated_gaussian(dim=wide, mi=1.0).sample(3000, seed=7)
    result = estimate_mi(x, y, **options)
    # The copulas tried: only the Gaussian (the critic at zero is always a candidate too).
    names = list(result.info["start_candidates"])
    assert names[0] == "none" and all(n.startswith("gaussian") for n in names[1:])
    assert result.info["start"] == "gaussian"


def test_the_start_shrinks_a_correlation_fitted_to_few_rows() -> None:
    """30 + 30 columns, 1,500 training rows: the validation rows choose a shrunk Gaussian start,
    and on fresh rows it reads closer to the true 1 nat than the barely shrunk one."""
    from infomax import fit
    from infomax.objectives.build import build_objective
    from infomax.warm_start import SHRINKAGES, warm_start

    task = D.correlated_gaussian(dim=30, mi=1.0)
    x, y = (torch.as_tensor(a, dtype=torch.float32) for a in task.sample(4000, seed=1))
    train, val, test = np.arange(1500), np.arange(1500, 2000), np.arange(2000, 4000)
    objective = build_objective(
        "quadratic", x, y, train, bound="contrastive_dv", subviews=None, conditional="is",
        critic_kwargs=None, bound_kwargs={},
    )  # fmt: skip
    info = warm_start(objective, "elliptical", x[train], y[train], x[val], y[val], 1024)
    assert info["start"] == "gaussian" and info["start_shrinkage"] > SHRINKAGES[0]
    chosen = float(fit.heldout_terms(objective, x[test], y[test], 1024)[0].sum())
    objective.critic.init_gaussian(x[train], y[train], shrinkage=SHRINKAGES[0])
    least = float(fit.heldout_terms(objective, x[test], y[test], 1024)[0].sum())
    assert chosen > least + 0.05
    assert abs(chosen - task.mi) < abs(least - task.mi)


def test_a_t_start_gets_its_own_shrinkage() -> None:
    """Heavy tails: the Gaussian start reads best when shrunk hard (0.3), the t start fitted
    to the same rows barely (its own search); shrunk as the Gaussian it would read 0.3 low."""
    from infomax import fit
    from infomax.copula import fit_student_t_correlation
    from infomax.objectives.build import build_objective
    from infomax.preprocess import make_preprocess
    from infomax.warm_start import warm_start

    task = D.student_t(dim=10, dof=3.0, mi=4.0)
    xa, ya = task.sample(12000, seed=3)
    train, val, test = np.arange(6000), np.arange(6000, 8000), np.arange(8000, 12000)
    px, py = make_preprocess("rank", xa[train]), make_preprocess("rank", ya[train])
    x, y = torch.from_numpy(px(xa)), torch.from_numpy(py(ya))
    objective = build_objective(
        "quadratic", x, y, train, bound="contrastive_dv", subviews=None, conditional="is",
        critic_kwargs=None, bound_kwargs={},
    )  # fmt: skip
    info = warm_start(objective, "elliptical", x[train], y[train], x[val], y[val], 1024)
    scores = info["start_candidates"]
    gaussian_best = max((v, k) for k, v in scores.items() if k.startswith("gaussian"))[1]
    assert gaussian_best == "gaussian shrinkage 0.3"
    assert info["start"] == "student_t" and info["start_dof"] == 3.0
    assert info["start_shrinkage"] <= 0.03
    chosen = float(fit.heldout_terms(objective, x[test], y[test], 1024)[0].sum())
    assert chosen == pytest.approx(task.mi, abs=0.1)
    rows = torch.cat([x[train], y[train]], 1)
    fitted = fit_student_t_correlation(rows, 3.0, start=np.corrcoef(rows.double().numpy().T))
    objective.critic.init_student_t((fitted + 0.3 * np.eye(len(fitted))) / 1.3, 3.0)
    shrunk_as_gaussian = float(fit.heldout_terms(objective, x[test], y[test], 1024)[0].sum())
    assert chosen > shrunk_as_gaussian + 0.2
