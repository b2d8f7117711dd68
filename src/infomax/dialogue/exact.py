"""Exact answers of the dialogue corpus: mutual information and Bayes-optimal selection.

Both follow from the exact log ratio of :func:`infomax.dialogue.corpus.log_ratio`,
which depends on a response only through its type ``m = (z_r, q_r)``, uniform
under ``p(y)``. Averages over contexts are taken over the given contexts (a test
set); everything given a context is exact.
"""

from __future__ import annotations

import math

import numpy as np

from infomax.dialogue.corpus import DialogueSpec, context_intent, log_ratio, topic_posterior

__all__ = ["all_types", "bayes_recall", "exact_information", "type_log_ratios", "win_probability"]


def all_types(spec: DialogueSpec) -> np.ndarray:
    """Every response type ``(z, q)``, (S * Q, 2), topic-major."""
    z, q = np.meshgrid(np.arange(spec.topics), np.arange(spec.intents), indexing="ij")
    return np.stack([z.ravel(), q.ravel()], axis=1)


def type_log_ratios(
    spec: DialogueSpec, context: np.ndarray, use_context: bool = True
) -> np.ndarray:
    """``log p(m | x) / p(m)`` of every context against every response type, nats.

    Args:
        spec: the generator's settings.
        context: (N, T * (words + 1)) token ids.
        use_context: False keeps only the last utterance (``x'``): the topic posterior
            is then uniform.

    Returns:
        (N, S * Q) float64, types in :func:`all_types`'s order.
    """
    n = np.asarray(context).shape[0]
    if use_context:
        posterior = topic_posterior(spec, context)
    else:
        posterior = np.full((n, spec.topics), 1.0 / spec.topics)
    types = np.broadcast_to(all_types(spec), (n, spec.types, 2))
    return log_ratio(spec, posterior, context_intent(spec, context), types)


def exact_information(spec: DialogueSpec, context: np.ndarray) -> dict[str, float]:
    """``I(x; y)``, ``I(x'; y)`` and ``I(x; y | x')`` in nats, averaged over the contexts.

    ``I(x; y) = E_x KL(p(m | x) || p(m))`` (the response's other tokens carry no
    information); ``x'`` is the last utterance. The conditional term is their
    difference (the chain rule).
    """
    values = {}
    for name, use_context in (("mi_context", True), ("mi_subview", False)):
        ratios = type_log_ratios(spec, context, use_context)
        weights = np.exp(ratios) / spec.types  # p(m | x), rows sum to 1
        values[name] = float((weights * ratios).sum(axis=1).mean())
    values["cmi"] = values["mi_context"] - values["mi_subview"]
    values["log_types"] = math.log(spec.types)
    return values


def win_probability(below: np.ndarray, tied: np.ndarray, k: int) -> np.ndarray:
    """Probability that a positive is ranked first among ``k`` candidates, ties broken at random.

    With ``k - 1`` independent negatives, each scored below the positive with
    probability ``below`` and level with it with probability ``tied``, the
    chance of being picked is ``sum_m C(k-1, m) tied^m below^(k-1-m) / (m + 1)``,
    which is ``((below + tied)^k - below^k) / (k tied)`` (``below^(k-1)`` when
    nothing ties).
    """
    below, tied = np.asarray(below, dtype=np.float64), np.asarray(tied, dtype=np.float64)
    safe = np.where(tied > 0, tied, 1.0)
    with_ties = ((below + tied) ** k - below**k) / (k * safe)
    return np.where(tied > 0, with_ties, below ** (k - 1))


def bayes_recall(
    spec: DialogueSpec,
    context: np.ndarray,
    k: int,
    use_context: bool = True,
    chunk: int = 256,
) -> float:
    """Exact expected recall@1 of the Bayes-optimal selector among ``k`` candidates.

    For each context the selector ranks candidates by the exact log ratio (from the
    whole context, or from the last utterance only with ``use_context=False``); the
    true response's type is drawn from ``p(m | x)`` and the ``k - 1`` other
    candidates from ``p(y)``, ties broken uniformly (:func:`win_probability`). The
    result is the mean of that exact per-context value over the given contexts.

    Args:
        spec: the generator's settings.
        context: (N, T * (words + 1)) token ids.
        k: candidates, the true response included (``k >= 2``).
        use_context: False for the selector that sees the last utterance only.
        chunk: contexts per vectorised block.

    Returns:
        A fraction in [1/k, 1] (for the selector that sees ``x``, the best any selector can do).
    """
    ratios = type_log_ratios(spec, context, use_context)
    weights = np.exp(ratios) / spec.types
    tol = 1e-9
    total = 0.0
    for start in range(0, ratios.shape[0], chunk):
        r = ratios[start : start + chunk]
        diff = r[:, None, :] - r[:, :, None]  # [i, m0, m] = r_i(m) - r_i(m0)
        below = (diff < -tol).mean(axis=2)
        tied = (np.abs(diff) <= tol).mean(axis=2)
        total += float((weights[start : start + chunk] * win_probability(below, tied, k)).sum())
    return total / ratios.shape[0]
