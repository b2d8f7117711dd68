"""TCL's model: an MLP feature extractor under a multinomial logistic regression.

Time-contrastive learning (Hyvärinen & Morioka, 2016) trains features
``h(x)`` (``n`` outputs) so that a linear softmax classifier on them,
``p(tau | x) ∝ exp(w_tau . h(x) + b_tau)``, tells which segment ``tau`` a row
came from. At the optimum the log-posterior is the log-density ratio between
segments, which under the data model is linear in the sufficient statistics
``q(s)``; hence ``q(s) = A h(x) + b``.

Choices here:

* Hidden layers are ``Linear -> LeakyReLU``. The inverse of a leaky-ReLU MLP
  with slope ``a`` is a leaky-ReLU MLP with slope ``1/a``, and
  ``leaky_{1/a}(z) = -leaky_a(-z) / a``, so with as many hidden layers as the
  mixing has, an extractor with slope ``a`` can represent ``f^-1`` exactly
  (the signs and the factor are absorbed by the linear maps).
* The last layer is ``Linear`` followed by the nonlinearity matching the
  sufficient statistic: ``abs`` for Laplace sources (``q(s) = |s|``), ``square``
  for Gaussian ones (``q(s) = s^2``). Then ``h = q(f^-1(x))`` is reachable and
  the classifier needs no further nonlinearity, as in the paper's abs-valued
  final layer; ``none`` leaves the features linear (for any other ``q``).

The cross-entropy of the classifier also reads as a mutual-information bound:
``H(tau) - CE <= I(x; tau)`` (Barber & Agakov), so TCL is contrastive learning
with the segment label as the second variable.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from infomax.critics.base import mlp
from infomax.validation import InputError

__all__ = ["FINAL_NONLINEARITIES", "TCLClassifier", "TCLFeatures", "tcl_loss"]

#: Nonlinearities of the extractor's last layer.
FINAL_NONLINEARITIES = ("abs", "square", "none")


class TCLFeatures(nn.Module):
    """The feature extractor ``h``: ``(B, d)`` inputs to ``(B, n)`` features.

    Inputs are standardised with the training rows' mean and standard
    deviation (buffers, saved with the weights).

    Args:
        n_inputs: input dimension ``d``.
        n_features: output dimension ``n`` (the number of sources).
        hidden: widths of the hidden ``Linear -> LeakyReLU`` layers.
        negative_slope: the hidden layers' leaky ReLU slope for negative inputs.
        final: the last layer's nonlinearity, one of :data:`FINAL_NONLINEARITIES`.
    """

    def __init__(
        self,
        n_inputs: int,
        n_features: int,
        hidden: Sequence[int] = (32, 32),
        negative_slope: float = 0.2,
        final: str = "abs",
    ) -> None:
        super().__init__()
        if final not in FINAL_NONLINEARITIES:
            raise InputError(
                f"unknown final nonlinearity {final!r}; "
                f"use one of {', '.join(FINAL_NONLINEARITIES)}"
            )
        if n_inputs < 1 or n_features < 1 or any(w < 1 for w in hidden):
            raise InputError("input, feature and hidden widths must be positive integers")
        self.net = mlp(n_inputs, hidden, n_features, partial(nn.LeakyReLU, negative_slope))
        self.final = final
        self.register_buffer("mean", torch.zeros(n_inputs))
        self.register_buffer("std", torch.ones(n_inputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, d)`` inputs -> ``(B, n)`` features ``h(x)``."""
        z = self.net((x - self.mean) / self.std)
        if self.final == "abs":
            return z.abs()
        if self.final == "square":
            return z.square()
        return z


class TCLClassifier(nn.Module):
    """Features ``h`` and the multinomial logistic regression on them.

    Args:
        features: the extractor ``h`` with ``n`` outputs.
        n_classes: number of labels ``K`` (segments, or values of ``u``).
    """

    def __init__(self, features: TCLFeatures, n_classes: int) -> None:
        super().__init__()
        if n_classes < 2:
            raise InputError(f"TCL needs at least 2 segments or labels, got {n_classes}")
        self.features = features
        n_features = features.net[-1].out_features
        self.head = nn.Linear(n_features, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, d)`` inputs -> ``(B, K)`` logits ``w_k . h(x) + b_k``."""
        return self.head(self.features(x))


def tcl_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the segment classifier, in nats.

    Args:
        logits: ``(B, K)`` scores ``w_k . h(x) + b_k``.
        labels: ``(B,)`` int64 labels in ``[0, K)``.

    Returns:
        Scalar ``-mean_t log softmax(logits_t)[labels_t]``.
    """
    return F.cross_entropy(logits, labels)
