"""Ground-truth tasks: joint distributions of ``(x, y)`` with closed-form mutual information.

Every task is a :class:`Task` with

- ``mi``: the true mutual information ``I(x; y)`` in nats;
- ``sample(n, seed)``: ``n`` i.i.d. pairs as float32 arrays ``(n, x_dim)`` and ``(n, y_dim)``;
- ``log_density_ratio(x, y)``: the *pairwise* matrix
  ``S[i, j] = log p(x_i, y_j) / (p(x_i) p(y_j))``, shape ``(B, M)``, float64. This is the
  analytically optimal critic (for TUBA/JSD; NWJ's optimum is ``S + 1`` and InfoNCE's is
  ``S`` plus any function of ``x``), and its diagonal averages to ``mi``;
- ``log_density_ratio_diagonal(x, y)``: only the aligned pairs ``S[i, i]``, shape ``(N,)``,
  without building the matrix (use it for Monte-Carlo checks on many samples).

Tasks (see :data:`TASKS`, :func:`get_task`):

- ``correlated_gaussian``: ``x ~ N(0, I_d)``, ``y_k = rho_k x_k + sqrt(1 - rho_k^2) eps_k``,
  so coordinate pair ``k`` carries ``-0.5 log(1 - rho_k^2)`` nats and the pairs are
  independent: ``I(x; y)`` is the sum of the per-coordinate shares, and so is the MI of any
  sub-view ``x_S`` with ``y`` (:meth:`GaussianTask.subview_mi`), which is what chain-rule
  (DEMI) tests need.
- ``cubic``: the same with ``y -> y ** 3``.
- ``half_cube`` and ``asinh``: the same with ``t -> t sqrt(|t|)`` and ``t -> asinh(t)`` applied
  to every coordinate of both ``x`` and ``y`` (the bmi benchmark's transformed Gaussians).
- ``student_t``: the joint multivariate Student-t of the bmi benchmark, whose shared random
  scale adds dependence beyond the dispersion matrix's correlation.
- ``sine``: ``x ~ N(0, 1)``, ``y = sin(4 x) + 0.1 e`` (:class:`NoisyFunctionTask`), a
  non-monotone dependence that no elliptical copula describes; its MI (1.699 nats) and
  ``p(y)`` come from quadrature.

Per-coordinate invertible transforms leave MI and the log density ratio unchanged (the
Jacobians cancel between the joint and the product of marginals), so a transformed task's
``log_density_ratio`` inverts the transforms and evaluates the latent Gaussian's ratio.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from infomax.distributions.base import MAX_MI_PER_DIM, Task, Transform, rho_from_mi
from infomax.distributions.gaussian import (
    GaussianTask,
    asinh,
    correlated_gaussian,
    cubic,
    gaussian_log_density_ratio,
    gaussian_pairs,
    half_cube,
    optimal_critic_scores,
    optimal_phi_scores,
    optimal_psi_scores,
    spiral,
)
from infomax.distributions.noisy_function import NoisyFunctionTask, sine
from infomax.distributions.student_t import StudentTTask, student_t, student_t_mi_correction

__all__ = [
    "MAX_MI_PER_DIM",
    "TASKS",
    "GaussianTask",
    "NoisyFunctionTask",
    "StudentTTask",
    "Task",
    "Transform",
    "asinh",
    "correlated_gaussian",
    "cubic",
    "gaussian_log_density_ratio",
    "gaussian_pairs",
    "get_task",
    "half_cube",
    "optimal_critic_scores",
    "optimal_phi_scores",
    "optimal_psi_scores",
    "rho_from_mi",
    "sine",
    "spiral",
    "student_t",
    "student_t_mi_correction",
]

TASKS: dict[str, Callable[..., Task]] = {
    "correlated_gaussian": correlated_gaussian,
    "cubic": cubic,
    "half_cube": half_cube,
    "asinh": asinh,
    "student_t": student_t,
    "spiral": spiral,
    "sine": sine,
}


def get_task(name: str, **kwargs: Any) -> Task:
    """Build a task by name, e.g. ``get_task("cubic", dim=20, mi=6.0)``.

    Args:
        name: a key of :data:`TASKS`.
        **kwargs: passed to the factory.

    Returns:
        The :class:`Task`.
    """
    try:
        factory = TASKS[name]
    except KeyError:
        raise ValueError(
            f"unknown task {name!r}; choose one of {', '.join(sorted(TASKS))}"
        ) from None
    return factory(**kwargs)
