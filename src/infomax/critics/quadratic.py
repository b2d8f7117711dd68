"""The quadratic critic: the log density ratio of a Gaussian copula plus an MLP residual."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from infomax.critics.base import Critic, mlp

__all__ = ["QuadraticSeparableCritic"]


class QuadraticSeparableCritic(Critic):
    """``f(x, y) = x^T W y + u(x) + v(y) + g(x) . h(y)``: a quadratic model plus an MLP residual.

    ``u`` and ``v`` are quadratic forms of rank up to ``rank`` plus linear terms,
    so the first three terms span ``x^T W y - x^T P x - y^T Q y + a.x + b.y``:
    the exact log density ratio of a Gaussian copula, which is what the rank
    transform makes of many dependences. The separable MLP residual
    ``g(x) . h(y)`` (``h``'s last layer zero-initialised, so training starts
    from the quadratic model) learns the rest (heavy tails, non-Gaussian
    copulas). There are deliberately no products of squares such as
    ``x_k^2 y_l^2``: they would let the scores of rare negative pairs grow like
    a quartic, and the DV partition is carried by exactly such pairs.

    Everything is a dot product of per-sample embeddings, so the scores of
    all ``N x M`` pairs cost one ``(N, e) @ (e, M)`` matmul (:meth:`embed`),
    which is what the all-pairs read-out uses. :meth:`init_student_t` adds a
    fixed, non-separable :attr:`base` term (a Student-t copula's log ratio,
    :mod:`infomax.copula`), declared by :meth:`pair_term`, which costs one more
    matmul per score matrix.

    Args:
        x_dim: width of ``x``.
        y_dim: width of ``y``.
        hidden: hidden widths of each residual MLP (``()``: no residual).
        embed_dim: width of the residual embeddings.
        rank: rank of the quadratic forms ``u`` and ``v`` (default ``min(dim, 64)``).
        activation: non-linearity of the residual MLPs. GELU by default: a
            smooth residual generalises better from a finite sample than ReLU's
            piecewise-linear one.
        gain: multiplies the quadratic model's output. Adam moves each weight
            by about ``lr`` per step, and a large MI needs large coefficients
            (``rho / (1 - rho^2) = 2.1`` per coordinate at 10 nats in 20
            dimensions): without the gain the quadratic part cannot get there
            in a few thousand steps.
    """

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        hidden: Sequence[int] = (128, 128),
        embed_dim: int = 32,
        rank: int | None = None,
        activation: str = "gelu",
        gain: float = 10.0,
    ) -> None:
        super().__init__()
        self.gain = gain
        self.cross = nn.Linear(x_dim, y_dim, bias=False)
        nn.init.zeros_(self.cross.weight)
        self.x_square = nn.Linear(x_dim, rank or min(x_dim, 64), bias=False)
        self.y_square = nn.Linear(y_dim, rank or min(y_dim, 64), bias=False)
        self.x_square_weight = nn.Parameter(torch.zeros(self.x_square.out_features))
        self.y_square_weight = nn.Parameter(torch.zeros(self.y_square.out_features))
        self.x_linear = nn.Linear(x_dim, 1)
        self.y_linear = nn.Linear(y_dim, 1)
        self.g = mlp(x_dim, hidden, embed_dim, activation) if len(hidden) else None
        self.h = mlp(y_dim, hidden, embed_dim, activation) if len(hidden) else None
        if self.h is not None:
            nn.init.zeros_(self.h[-1].weight)
            nn.init.zeros_(self.h[-1].bias)
        #: A fixed, non-separable term added to the scores (:meth:`init_student_t`), or None.
        self.base: nn.Module | None = None

    def embed(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Embeddings (B, e') of ``x`` and (M, e') of ``y`` whose dot products are the scores."""
        u = self.x_square(x).square() @ self.x_square_weight + self.x_linear(x).squeeze(-1)
        v = self.y_square(y).square() @ self.y_square_weight + self.y_linear(y).squeeze(-1)
        u, v = self.gain * u, self.gain * v
        ones_x, ones_y = torch.ones_like(u)[:, None], torch.ones_like(v)[:, None]
        gx = [self.gain * self.cross(x), u[:, None], ones_x]
        hy = [y, ones_y, v[:, None]]
        if self.g is not None and self.h is not None:
            gx.append(self.g(x))
            hy.append(self.h(y))
        return torch.cat(gx, dim=1), torch.cat(hy, dim=1)

    def pair_term(self) -> nn.Module | None:
        """The fixed :attr:`base` term, or None."""
        return self.base

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Args: x (B, d_x), y (M, d_y). Returns: scores (B, M).

        ``embed``'s dot products, plus the fixed :attr:`base` term if one is set.
        """
        gx, hy = self.embed(x, y)
        scores = gx @ hy.T
        if self.base is not None:
            scores = scores + self.base(x, y)
        return scores

    @torch.no_grad()
    def _zero_quadratic(self) -> None:
        for param in (self.cross.weight, self.x_square_weight, self.y_square_weight):
            param.zero_()
        for linear in (self.x_linear, self.y_linear):
            linear.weight.zero_()
            linear.bias.zero_()

    @torch.no_grad()
    def init_student_t(self, correlation: np.ndarray, dof: float) -> None:
        """Start at the log density ratio of a Student-t copula (a fixed :attr:`base` term).

        The quadratic model is zeroed and the fixed term
        :class:`~infomax.copula.StudentTCopulaRatio` carries the start; training
        moves the quadratic model and the MLP residual on top of it. For
        heavy, joint tails (a t copula), whose log ratio in normal scores grows
        like ``exp(u^2 / (2 nu))``, the quadratic model cannot represent what
        this term does. :func:`estimate_mi` chooses ``dof`` on its validation rows.

        Args:
            correlation: (d_x + d_y, d_x + d_y) copula correlation of ``[x; y]``
                (:func:`~infomax.copula.fit_student_t_correlation`).
            dof: degrees of freedom.
        """
        from infomax.copula import StudentTCopulaRatio

        self._zero_quadratic()
        device = self.cross.weight.device
        self.base = StudentTCopulaRatio(correlation, self.cross.in_features, dof).to(device)

    @torch.no_grad()
    def init_gaussian(self, x: Tensor, y: Tensor, shrinkage: float = 1e-3) -> None:
        """Set the quadratic model to the log density ratio of a Gaussian fitted to (x, y).

        With ``z = [x; y] ~ N(m, S)`` and ``L = S^{-1}`` (blocks ``L_xx``, ``L_xy``,
        ``L_yy``), ``log p(x, y) / (p(x) p(y))`` is, up to a constant,
        ``-0.5 x~^T (L_xx - S_xx^{-1}) x~ - x~^T L_xy y~ - 0.5 y~^T (L_yy - S_yy^{-1}) y~``
        with ``x~ = x - m_x``. Training then starts where a Gaussian copula puts
        the answer (exact for the Gaussian-copula tasks once ranks are
        transformed) instead of climbing there at Adam's step size; the MLP
        residual (zero at this point) learns what the Gaussian misses. The
        quadratic forms keep their ``rank`` largest eigen-directions.

        Args:
            x: (N, d_x) training rows.
            y: (N, d_y) paired training rows.
            shrinkage: added to the correlation matrix's diagonal (relative to
                the variances), so nearly collinear columns stay invertible.
        """
        self.base = None
        dx = x.shape[1]
        z = torch.cat([x, y], 1).double()
        mean = z.mean(0)
        cov = torch.cov(z.T)
        cov += shrinkage * torch.diag(cov.diagonal())
        precision = torch.linalg.inv(cov)
        p_x = precision[:dx, :dx] - torch.linalg.inv(cov[:dx, :dx])
        p_y = precision[dx:, dx:] - torch.linalg.inv(cov[dx:, dx:])
        cross = -precision[:dx, dx:]  # (d_x, d_y): the x^T W y coefficient
        m_x, m_y = mean[:dx], mean[dx:]
        g = self.gain
        self.cross.weight.copy_(cross.T / g)
        for square, weight, linear, quad, coef in (
            (self.x_square, self.x_square_weight, self.x_linear, p_x, p_x @ m_x - cross @ m_y),
            (self.y_square, self.y_square_weight, self.y_linear, p_y, p_y @ m_y - cross.T @ m_x),
        ):
            values, vectors = torch.linalg.eigh((quad + quad.T) / 2)
            keep = values.abs().argsort(descending=True)[: square.out_features]
            square.weight.zero_()
            weight.zero_()
            square.weight[: keep.numel()] = vectors[:, keep].T.to(square.weight)
            weight[: keep.numel()] = (-0.5 * values[keep] / g).to(weight)
            linear.weight.copy_((coef / g)[None])
            linear.bias.zero_()
