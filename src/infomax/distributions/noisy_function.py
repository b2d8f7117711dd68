"""``y = f(x) + sigma e``: a scalar function of a Gaussian plus Gaussian noise.

``x ~ N(0, 1)``, ``e ~ N(0, 1)`` independent. For a non-monotone ``f`` (``sine``)
the dependence is neither a Gaussian nor a Student-t copula, so a critic started
from a fitted copula has to learn it. ``I(x; y) = h(y) - h(sigma e)``: the
marginal density ``p(y) = E_x N(y; f(x), sigma^2)`` and its entropy have no
closed form and are computed by quadrature on fixed grids (trapezoid rule on
``x`` in ``[-10, 10]`` and on ``y`` over the support of ``f`` widened by 10
``sigma``), accurate to about 1e-6 nats for the smooth ``f`` used here.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from scipy.special import logsumexp
from torch import Tensor

from infomax.distributions.base import Task

__all__ = ["NoisyFunctionTask", "sine"]

#: Quadrature nodes on x in [-10, 10] (the N(0, 1) weight is below 1e-21 outside).
X_NODES = 2001
#: Quadrature nodes on y for the entropy of the marginal.
Y_NODES = 4001


class NoisyFunctionTask(Task):
    """``x ~ N(0, 1)``, ``y = f(x) + sigma e``, both of width 1.

    Args:
        name: registry name.
        function: ``f``, vectorised over a float64 NumPy array.
        noise: ``sigma > 0``.
        params: parameters for :attr:`Task.label`.
    """

    def __init__(
        self,
        name: str,
        function: Callable[[np.ndarray], np.ndarray],
        noise: float,
        params: dict[str, object] | None = None,
    ) -> None:
        if not noise > 0:
            raise ValueError(f"noise must be positive, got {noise!r}")
        self.function = function
        self.noise = float(noise)
        nodes = np.linspace(-10.0, 10.0, X_NODES)
        weights = np.exp(-0.5 * nodes**2) / math.sqrt(2 * math.pi) * (nodes[1] - nodes[0])
        weights[[0, -1]] *= 0.5
        #: Quadrature of ``E_x``: values ``f(x_i)`` and weights ``w_i``.
        self._means = function(nodes)
        self._log_weights = np.log(weights)
        super().__init__(name, self._mutual_information(), 1, 1, params)

    def _log_marginal(self, y: np.ndarray) -> np.ndarray:
        """``log p(y)`` for (M,) values, by quadrature over ``x``. Returns (M,)."""
        out = np.empty_like(y)
        for start in range(0, y.size, 512):  # (512, X_NODES) at a time
            block = y[start : start + 512, None]
            log_terms = self._log_weights - 0.5 * ((block - self._means) / self.noise) ** 2
            out[start : start + 512] = logsumexp(log_terms, axis=1)
        out -= math.log(self.noise * math.sqrt(2 * math.pi))
        return out

    def _mutual_information(self) -> float:
        """``h(y) - h(sigma e)`` in nats, ``h(y)`` by the trapezoid rule on a y grid."""
        low = float(self._means.min()) - 10 * self.noise
        high = float(self._means.max()) + 10 * self.noise
        grid = np.linspace(low, high, Y_NODES)
        log_p = self._log_marginal(grid)
        integrand = -np.exp(log_p) * log_p
        trapezoid = integrand.sum() - 0.5 * (integrand[0] + integrand[-1])
        entropy_y = float(trapezoid * (grid[1] - grid[0]))
        entropy_noise = 0.5 * math.log(2 * math.pi * math.e * self.noise**2)
        return entropy_y - entropy_noise

    def _sample_latent(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x = rng.standard_normal((n, 1))
        return x, self.function(x) + self.noise * rng.standard_normal((n, 1))

    def _log_conditional(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``log N(y; f(x), sigma^2)``, broadcasting ``x`` against ``y``."""
        z = (y - self.function(x)) / self.noise
        return -0.5 * z**2 - math.log(self.noise * math.sqrt(2 * math.pi))

    def _latent_log_ratio(self, x: Tensor, y: Tensor) -> Tensor:
        xs, ys = x[:, 0].numpy(), y[:, 0].numpy()
        ratio = self._log_conditional(xs[:, None], ys[None, :]) - self._log_marginal(ys)[None, :]
        return torch.from_numpy(ratio)

    def _latent_log_ratio_diagonal(self, x: Tensor, y: Tensor) -> Tensor:
        xs, ys = x[:, 0].numpy(), y[:, 0].numpy()
        return torch.from_numpy(self._log_conditional(xs, ys) - self._log_marginal(ys))


def sine(frequency: float = 4.0, noise: float = 0.1) -> NoisyFunctionTask:
    """``y = sin(frequency x) + noise e``, ``x ~ N(0, 1)``: non-monotone dependence.

    With the defaults (``sin(4x) + 0.1 e``) ``I(x; y) = 1.699`` nats.
    """
    return NoisyFunctionTask(
        "sine",
        lambda t: np.sin(frequency * t),
        noise,
        {"frequency": frequency, "noise": noise},
    )
