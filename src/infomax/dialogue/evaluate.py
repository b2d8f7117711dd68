"""Response selection among ``K`` candidates: candidate sets, recall@1, scorers.

Each test context gets its true response and ``K - 1`` other responses of the
test set drawn at random (distinct, seeded, the same for every scorer). A
scorer scores all test contexts against all test responses once, an (N, N)
matrix; recall@1 then reads each context's ``K`` candidates from it. A
candidate scored level with the true one shares the win: a row counts
``1 / (1 + ties)`` when no candidate scores higher, so a constant scorer gets
chance, ``1 / K``, exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from infomax.dialogue.corpus import (
    Dialogues,
    context_intent,
    log_ratio,
    response_types,
    topic_posterior,
)
from infomax.dialogue.model import DialogueModel
from infomax.validation import InputError

__all__ = [
    "candidate_sets",
    "model_scores",
    "oracle_scores",
    "recall_at_1",
    "response_selection",
]


def candidate_sets(n: int, k: int, seed: int = 0) -> np.ndarray:
    """Row ``i``: ``i`` (the true response) then ``k - 1`` distinct other rows, (n, k) int64."""
    if not 2 <= k <= n:
        raise InputError(f"selection among K={k} candidates needs 2 <= K <= {n} test dialogues")
    rng = np.random.default_rng(seed)
    others = np.stack([rng.choice(n - 1, size=k - 1, replace=False) for _ in range(n)])
    others += others >= np.arange(n)[:, None]  # skip row i itself
    return np.concatenate([np.arange(n)[:, None], others], axis=1)


def recall_at_1(scores: np.ndarray, candidates: np.ndarray, tol: float = 0.0) -> np.ndarray:
    """Per-row recall@1 with ties shared, (n,) in [0, 1].

    Args:
        scores: (n, n) scores of every context against every response.
        candidates: (n, K) response indices, the true response first.
        tol: scores within ``tol`` of the true one's count as ties.
    """
    picked = np.take_along_axis(np.asarray(scores, dtype=np.float64), candidates, axis=1)
    true = picked[:, :1]
    beaten = (picked[:, 1:] > true + tol).any(axis=1)
    ties = (np.abs(picked[:, 1:] - true) <= tol).sum(axis=1)
    return np.where(beaten, 0.0, 1.0 / (1.0 + ties))


def response_selection(
    scores: np.ndarray, ks: Sequence[int], seed: int = 0, tol: float = 0.0
) -> dict[str, dict[str, float]]:
    """Recall@1 among ``K`` candidates for each ``K`` in ``ks``.

    Returns:
        ``{str(K): {"recall": mean, "stderr": standard error over contexts, "chance": 1/K}}``.
    """
    out = {}
    for k in ks:
        values = recall_at_1(scores, candidate_sets(scores.shape[0], k, seed + k), tol)
        out[str(k)] = {
            "recall": float(values.mean()),
            "stderr": float(values.std() / math.sqrt(len(values))),
            "chance": 1.0 / k,
        }
    return out


def oracle_scores(data: Dialogues, use_context: bool = True) -> np.ndarray:
    """The exact ``log p(y | x) / p(y)`` of every test context against every response, (n, n).

    ``use_context=False``: the exact ratio from the last utterance alone.
    """
    spec, n = data.spec, len(data)
    posterior = (
        topic_posterior(spec, data.context)
        if use_context
        else np.full((n, spec.topics), 1.0 / spec.topics)
    )
    types = np.broadcast_to(response_types(spec, data.response)[None], (n, n, 2))
    return log_ratio(spec, posterior, context_intent(spec, data.context), types)


@torch.no_grad()
def model_scores(
    model: DialogueModel,
    data: Dialogues,
    subview_turns: int = 1,
    critic: str = "selection",
    chunk: int = 512,
) -> np.ndarray:
    """The model's scores of every test context against every response, (n, n).

    ``critic``: "selection" (:meth:`DialogueModel.selection_scores`) or, for DEMI,
    "subview" (``psi`` alone, the critic of ``x'``).
    """
    if critic not in ("selection", "subview") or (critic == "subview" and not model.is_demi):
        raise InputError(f"unknown critic {critic!r} for objective {model.objective!r}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device

    def rows(array: np.ndarray, start: int) -> Tensor:
        return torch.from_numpy(array[start : start + chunk]).to(device)

    subview = data.subview(subview_turns)
    keys = torch.cat(
        [model.response_encoder(rows(data.response, s)) for s in range(0, len(data), chunk)]
    )
    blocks = []
    for start in range(0, len(data), chunk):
        queries = model.queries(rows(data.context, start), rows(subview, start))
        if critic == "selection":
            scores = model.selection_scores(queries, keys)
        else:
            scores = model.critics(queries, keys)[0]
        blocks.append(scores.double().cpu())
    model.train(was_training)
    return torch.cat(blocks).numpy()
