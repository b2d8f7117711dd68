"""Two encoders and a separable critic for paired data of two modalities.

The critic is ``f(a, b) = <g(a), h(b)> / tau``: ``g`` and ``h`` map each
modality to unit vectors of one shared size and ``tau`` is a learned
temperature, so the (B, B) score matrix of a batch is one matmul. Its
convention is the library's: ``scores[i, j] = f(a_i, b_j)``, positives on the
diagonal, every value in nats.

The loss is symmetric InfoNCE: InfoNCE of the rows (each ``a_i`` picks its
``b_i`` among the batch) and of the columns (each ``b_j`` picks its ``a_j``),
averaged. Each half is a lower bound on I(A; B) capped at ``log B``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infomax.bounds import infonce
from infomax.validation import InputError

__all__ = [
    "ENCODER_KINDS",
    "PairModel",
    "make_pair_encoder",
    "retrieval_ranks",
    "symmetric_infonce",
    "topk_accuracy",
]

#: Encoder kinds :func:`make_pair_encoder` builds.
ENCODER_KINDS = ("auto", "mlp", "conv")


def symmetric_infonce(scores: Tensor) -> Tensor:
    """Mean of InfoNCE over the rows and over the columns of a score matrix.

    Args:
        scores: (B, B) score matrix, ``scores[i, j] = f(a_i, b_j)``, positives on the diagonal.

    Returns:
        Scalar tensor, nats; a lower bound on I(A; B), never above ``log B``.
    """
    return 0.5 * (infonce(scores) + infonce(scores.T))


def retrieval_ranks(scores: Tensor) -> Tensor:
    """Rank of each row's positive among its candidates (0 = retrieved first).

    A rank counts the candidates scored strictly higher than the positive, so a
    tie is resolved in the positive's favour.

    Args:
        scores: (K, K) score matrix with the positives on the diagonal.

    Returns:
        (K,) long tensor of ranks in ``0 .. K - 1``.
    """
    if scores.dim() != 2 or scores.shape[0] != scores.shape[1]:
        raise InputError(f"retrieval needs a square (K, K) score matrix, got {tuple(scores.shape)}")
    return (scores > scores.diagonal()[:, None]).sum(dim=1)


def topk_accuracy(scores: Tensor, ks: Sequence[int] = (1, 5)) -> dict[int, float]:
    """Fraction of rows whose positive is among the ``k`` best-scored candidates.

    Args:
        scores: (K, K) score matrix with the positives on the diagonal.
        ks: the cut-offs.

    Returns:
        ``{k: accuracy}``, each a fraction in [0, 1]; chance is ``k / K``.
    """
    ranks = retrieval_ranks(scores)
    return {int(k): float((ranks < k).double().mean()) for k in ks}


class _MLP(nn.Module):
    """Flatten, hidden layers of Linear + LayerNorm + ReLU, a linear output."""

    def __init__(self, in_features: int, out_dim: int, hidden: int, layers: int) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        width = in_features
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.ReLU()]
            width = hidden
        blocks.append(nn.Linear(width, out_dim))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1))


class _Conv(nn.Module):
    """The library's DIM conv encoder on (B, C, H, W) images; its ``y`` is the output."""

    def __init__(self, shape: tuple[int, ...], out_dim: int) -> None:
        super().__init__()
        from infomax.nets import make_encoder

        if len(shape) == 2:
            shape = (1, *shape)
        self.shape = shape
        channels, height, width = shape
        self.net = make_encoder(
            "dim-conv", in_channels=channels, image_size=(height, width), out_dim=out_dim
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.reshape(x.shape[0], *self.shape)).y


def make_pair_encoder(
    shape: Sequence[int], kind: str = "auto", out_dim: int = 64, hidden: int = 256, layers: int = 2
) -> nn.Module:
    """An encoder for rows of one modality.

    Args:
        shape: the shape of one row (without the sample axis): ``(D,)`` for vectors,
            ``(T, D)`` for sequences, ``(H, W)`` or ``(C, H, W)`` for images.
        kind: ``"mlp"`` (any shape, flattened), ``"conv"`` (images: the DIM conv net
            of :mod:`infomax.nets`, sides a multiple of 8) or ``"auto"`` (``"mlp"``).
        out_dim: size of the output (B, out_dim).
        hidden: units of each hidden layer of the MLP.
        layers: hidden layers of the MLP.

    Returns:
        A module mapping (B, *shape) to (B, out_dim).
    """
    shape = tuple(int(s) for s in shape)
    if kind not in ENCODER_KINDS:
        raise InputError(f"unknown encoder {kind!r}; use one of {', '.join(ENCODER_KINDS)}")
    if kind == "conv":
        if len(shape) not in (2, 3):
            raise InputError(
                f"the conv encoder takes images (N, H, W) or (N, C, H, W), got rows of shape "
                f"{shape}; use the mlp encoder"
            )
        return _Conv(shape, out_dim)
    return _MLP(math.prod(shape), out_dim, hidden, layers)


class PairModel(nn.Module):
    """Two encoders and a learned temperature: the critic ``<g(a), h(b)> / tau``.

    Args:
        encoder_a: maps (B, *shape_a) to (B, D).
        encoder_b: maps (B, *shape_b) to (B, D).
        temperature: the initial ``tau``; it is learned (as ``log 1/tau``), and
            ``1 / tau`` is clamped to at most 100.
    """

    def __init__(self, encoder_a: nn.Module, encoder_b: nn.Module, temperature: float = 0.1):
        super().__init__()
        self.encoder_a = encoder_a
        self.encoder_b = encoder_b
        self.log_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)))

    def embed_a(self, a: Tensor) -> Tensor:
        """(B, *shape_a) -> unit vectors (B, D)."""
        return F.normalize(self.encoder_a(a), dim=1)

    def embed_b(self, b: Tensor) -> Tensor:
        """(B, *shape_b) -> unit vectors (B, D)."""
        return F.normalize(self.encoder_b(b), dim=1)

    def scale(self) -> Tensor:
        """``1 / tau``, a scalar tensor."""
        return self.log_scale.clamp(max=math.log(100.0)).exp()

    def scores(self, za: Tensor, zb: Tensor) -> Tensor:
        """(B, D), (B', D) unit embeddings -> (B, B') scores ``f(a_i, b_j)``, nats."""
        return self.scale() * za @ zb.T

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        """(B, *shape_a), (B', *shape_b) -> (B, B') score matrix."""
        return self.scores(self.embed_a(a), self.embed_b(b))
