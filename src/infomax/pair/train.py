"""Train two encoders with symmetric InfoNCE on paired rows; evaluate on held-out pairs.

:func:`train_pair` is the Python API behind ``infomax train pair``. The
held-out pairs are cut into blocks of ``K``; within a block each ``a`` must
find its partner among the ``K`` ``b`` (and each ``b`` its ``a``). The same
blocks give InfoNCE estimates of I(A; B) from the learned critic, a lower
bound that can never exceed ``log K``.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from infomax.minimise import minimise
from infomax.pair.model import PairModel, make_pair_encoder, symmetric_infonce, topk_accuracy
from infomax.preprocess import Standardize
from infomax.validation import InputError, check_fraction

__all__ = ["PairResult", "as_rows", "evaluate_pair", "train_pair"]


def as_rows(data: Any, name: str) -> np.ndarray:
    """Check one modality's samples and return them as a float32 array (N, ...).

    Raises:
        InputError: non-numeric, complex, scalar or empty input, or NaN / inf values.
    """
    array = np.asarray(data.detach().cpu() if isinstance(data, Tensor) else data)
    if array.dtype.kind not in "biuf":
        raise InputError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if array.ndim == 0 or array.shape[0] == 0:
        raise InputError(f"{name} must be an array of samples (N, ...), got shape {array.shape}")
    if array.ndim == 1:
        array = array[:, None]
    array = array.astype(np.float32)
    bad = ~np.isfinite(array.reshape(array.shape[0], -1)).all(axis=1)
    if bad.any():
        raise InputError(
            f"{name} has {int(bad.sum())} rows with NaN or inf "
            f"(first at row {int(np.flatnonzero(bad)[0])}); drop or fill them"
        )
    return np.ascontiguousarray(array)


#: A feature whose standard deviation on the training rows is at most this keeps a scale of 1.
MIN_STD = 1e-8


def _scaled(standardize: Standardize, rows: np.ndarray) -> Tensor:
    """(N, ...) rows standardised per feature, as a float32 tensor."""
    return torch.from_numpy(standardize(rows))


def evaluate_pair(
    model: PairModel, a: Tensor, b: Tensor, k: int, ks: Sequence[int] = (1, 5)
) -> dict[str, Any]:
    """Retrieval accuracy and InfoNCE of a critic on held-out pairs, in blocks of ``k``.

    Args:
        model: the critic.
        a: (N, *shape_a) held-out rows of the first modality (standardised).
        b: (N, *shape_b) their partners.
        k: candidates per retrieval (the block size); ``N // k`` blocks are used.
        ks: top-k cut-offs.

    Returns:
        ``top{k}_a_to_b`` and ``top{k}_b_to_a`` (fractions; chance ``k / K``),
        ``infonce`` (symmetric mean over blocks, nats), ``infonce_stderr``,
        ``log_k`` (the cap of any InfoNCE estimate with ``K`` candidates), ``blocks``, ``k``.
    """
    blocks = a.shape[0] // k
    if blocks < 1 or k < 2:
        raise InputError(
            f"retrieval among K={k} candidates needs K >= 2 and at least K held-out pairs, "
            f"got {a.shape[0]}; lower K or hold out more rows"
        )
    was_training = model.training
    model.eval()
    tops: dict[str, list[float]] = {}
    estimates = []
    with torch.no_grad():
        za, zb = model.embed_a(a[: blocks * k]), model.embed_b(b[: blocks * k])
        for block in range(blocks):
            rows = slice(block * k, (block + 1) * k)
            scores = model.scores(za[rows], zb[rows])
            for direction, matrix in (("a_to_b", scores), ("b_to_a", scores.T)):
                for cut, value in topk_accuracy(matrix, ks).items():
                    tops.setdefault(f"top{cut}_{direction}", []).append(value)
            estimates.append(float(symmetric_infonce(scores)))
    model.train(was_training)
    out: dict[str, Any] = {name: float(np.mean(values)) for name, values in tops.items()}
    out["infonce"] = float(np.mean(estimates))
    out["infonce_stderr"] = float(np.std(estimates) / math.sqrt(blocks)) if blocks > 1 else None
    out.update(log_k=math.log(k), blocks=blocks, k=k)
    return out


@dataclass
class PairResult:
    """What :func:`train_pair` learned and measured.

    Attributes:
        model: the trained critic (eval mode).
        standardize_a, standardize_b: the per-feature scalings fitted on training rows
            (a feature whose spread is at most :data:`MIN_STD` keeps a scale of 1).
        heldout: the evaluation of the trained critic on the held-out pairs
            (see :func:`evaluate_pair`).
        random: the same evaluation of the critic at its random initialisation.
        initial_model: that randomly initialised critic (a copy, eval mode).
        train_rows, heldout_rows: the row indices of the split.
        history: ``(step, training loss)`` every ``log_every`` steps; loss = minus
            symmetric InfoNCE, nats.
        config: the arguments of the run (all but the data and ``log_every``) and
            the sizes of the split.
        seconds: training wall time.
    """

    model: PairModel
    standardize_a: Standardize
    standardize_b: Standardize
    heldout: dict[str, Any]
    random: dict[str, Any]
    initial_model: PairModel
    train_rows: np.ndarray
    heldout_rows: np.ndarray
    history: list[tuple[int, float]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def standardized(self, a: Any, b: Any) -> tuple[Tensor, Tensor]:
        """New rows of each modality, (N_a, ...) and (N_b, ...), scaled like the training rows."""
        return _scaled(self.standardize_a, as_rows(a, "a")), _scaled(
            self.standardize_b, as_rows(b, "b")
        )

    def scores(self, a: Any, b: Any) -> Tensor:
        """Score matrix (N_a, N_b) of new rows under the trained critic, nats."""
        with torch.no_grad():
            return self.model(*self.standardized(a, b))

    def to_dict(self) -> dict[str, Any]:
        """The figures and the configuration, JSON-ready."""
        return {
            "config": self.config,
            "heldout": self.heldout,
            "random_encoder": self.random,
            "final_loss": self.history[-1][1] if self.history else None,
            "seconds": self.seconds,
        }


def train_pair(
    a: Any,
    b: Any,
    *,
    encoder_a: str = "auto",
    encoder_b: str = "auto",
    dim: int = 64,
    hidden: int = 256,
    layers: int = 2,
    steps: int = 1000,
    batch_size: int = 256,
    lr: float = 1e-3,
    temperature: float = 0.1,
    heldout: float = 0.2,
    k: int = 64,
    seed: int = 0,
    log_every: int = 100,
) -> PairResult:
    """Learn encoders of two modalities from paired rows with symmetric InfoNCE.

    Args:
        a: (N, ...) samples of the first modality: vectors (N, D), sequences (N, T, D)
            or images (N, H, W) / (N, C, H, W).
        b: (N, ...) their partners, row by row.
        encoder_a, encoder_b: ``"auto"`` / ``"mlp"`` (flattened rows) or ``"conv"`` (images).
        dim: size of the shared embedding.
        hidden, layers: width and depth of the MLP encoders.
        steps: optimiser (Adam) steps, each on ``batch_size`` random training pairs.
        batch_size: pairs per step; InfoNCE on a batch is capped at ``log batch_size``.
        lr: Adam's learning rate.
        temperature: initial critic temperature (learned).
        heldout: fraction of the rows kept out of training for the evaluation.
        k: candidates per retrieval on the held-out rows.
        seed: seeds the split, the weights and the batches.
        log_every: steps between entries of the loss history.

    Returns:
        A :class:`PairResult`.

    Raises:
        InputError: mismatched row counts, bad values, or too few rows for the
            batch size and ``k``.
    """
    settings = {k: v for k, v in locals().items() if k not in ("a", "b", "log_every")}
    a_rows, b_rows = as_rows(a, "a"), as_rows(b, "b")
    n = a_rows.shape[0]
    if b_rows.shape[0] != n:
        raise InputError(
            f"a and b must have the same number of rows (paired samples): "
            f"a has {n}, b has {b_rows.shape[0]}"
        )
    check_fraction(heldout, "heldout")
    n_test = int(round(n * heldout))
    n_train = n - n_test
    if n_test < k or n_train < batch_size or k < 2 or batch_size < 2:
        raise InputError(
            f"too few pairs: {n} rows give {n_train} to train and {n_test} held out, "
            f"but batch size {batch_size} and K={k} need at least {batch_size} and {k}; "
            "lower --batch-size / --k or pass more rows"
        )
    torch.manual_seed(seed)
    order = np.random.default_rng(seed).permutation(n)
    train_idx, test_idx = order[:n_train], order[n_train:]
    standardize_a = Standardize(a_rows[train_idx], min_std=MIN_STD)
    standardize_b = Standardize(b_rows[train_idx], min_std=MIN_STD)
    train_a, train_b = (
        _scaled(standardize_a, a_rows[train_idx]),
        _scaled(standardize_b, b_rows[train_idx]),
    )
    test_a, test_b = (
        _scaled(standardize_a, a_rows[test_idx]),
        _scaled(standardize_b, b_rows[test_idx]),
    )

    model = PairModel(
        make_pair_encoder(a_rows.shape[1:], encoder_a, dim, hidden, layers),
        make_pair_encoder(b_rows.shape[1:], encoder_b, dim, hidden, layers),
        temperature=temperature,
    )
    random = evaluate_pair(model, test_a, test_b, k)
    initial_model = copy.deepcopy(model).eval()
    generator = torch.Generator().manual_seed(seed)
    history: list[tuple[int, float]] = []

    def batch_loss(_: int) -> Tensor:
        batch = torch.randperm(n_train, generator=generator)[:batch_size]
        return -symmetric_infonce(model(train_a[batch], train_b[batch]))

    def record(step: int, loss: Tensor) -> None:
        if step % log_every == 0 or step == steps:
            history.append((step, loss.item()))

    start = time.perf_counter()
    model.train()
    minimise(torch.optim.Adam(model.parameters(), lr=lr), batch_loss, steps, after_step=record)
    seconds = time.perf_counter() - start
    model.eval()
    return PairResult(
        model=model,
        standardize_a=standardize_a,
        standardize_b=standardize_b,
        heldout=evaluate_pair(model, test_a, test_b, k),
        random=random,
        initial_model=initial_model,
        train_rows=train_idx,
        heldout_rows=test_idx,
        history=history,
        config={**settings, "n_train": n_train, "n_heldout": n_test},
        seconds=seconds,
    )
