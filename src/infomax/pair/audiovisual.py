"""Synthetic audio-visual correspondence: two modalities generated from one latent.

A latent ``u = (u_1, u_2)``, uniform on the unit square, drives both:

- the *sound*, a 1-D signal of ``length`` samples: a tone whose pitch is set by
  ``u_1`` (2 to 8 cycles over the clip), amplitude-modulated by a beat whose
  rate is set by ``u_2`` (1 to 4 beats over the clip);
- the *image*, ``size x size`` grey stripes whose spatial frequency is set by
  ``u_1`` (1 to 4 cycles across the image) and whose orientation by ``u_2``
  (0 to 0.9 pi, kept short of pi, where stripes repeat).

Nuisances, independent in each modality: random phases (tone, beat,
stripes), a random gain or contrast in [0.5, 1.5], and Gaussian noise of
standard deviation ``noise``. Only ``u`` is shared, so a critic can only
match a sound to its image through the latent.

Two evaluations, each against the same critic at random initialisation:
retrieval (find the partner among ``K``) and correspondence (a binary
decision, "do these two belong together?", by logistic regression on the
critic's score, true pairs against partners shuffled among held-out rows).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from infomax.pair.model import PairModel, topk_accuracy
from infomax.pair.train import train_pair

__all__ = [
    "audiovisual_pairs",
    "correspondence_accuracy",
    "pair_scores",
    "run_audiovisual",
]


def audiovisual_pairs(
    n: int, *, seed: int = 0, noise: float = 0.5, length: int = 64, size: int = 16
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``n`` (sound, image) pairs sharing a latent.

    Args:
        n: number of pairs.
        seed: seeds the latents and every nuisance.
        noise: standard deviation of the additive Gaussian noise in each modality
            (the clean signals have amplitude up to 1.5).
        length: samples of each sound.
        size: side of each image.

    Returns:
        ``(sounds, images, latents)`` of shapes (n, length), (n, 1, size, size), (n, 2), float32.
    """
    rng = np.random.default_rng(seed)
    u = rng.uniform(size=(n, 2))
    t = np.arange(length) / length
    pitch = 2.0 + 6.0 * u[:, :1]
    beat = 1.0 + 3.0 * u[:, 1:]
    tone = np.sin(2 * math.pi * pitch * t + rng.uniform(0, 2 * math.pi, (n, 1)))
    envelope = 0.5 * (1 + np.cos(2 * math.pi * beat * t + rng.uniform(0, 2 * math.pi, (n, 1))))
    gain = rng.uniform(0.5, 1.5, (n, 1))
    sounds = gain * tone * envelope + noise * rng.standard_normal((n, length))

    grid = np.arange(size) / size
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    freq = (1.0 + 3.0 * u[:, 0])[:, None, None]
    angle = (0.9 * math.pi * u[:, 1])[:, None, None]
    phase = rng.uniform(0, 2 * math.pi, (n, 1, 1))
    contrast = rng.uniform(0.5, 1.5, (n, 1, 1))
    along = xx * np.cos(angle) + yy * np.sin(angle)
    images = contrast * np.cos(2 * math.pi * freq * along + phase)
    images = images + noise * rng.standard_normal((n, size, size))
    return (
        sounds.astype(np.float32),
        images[:, None].astype(np.float32),
        u.astype(np.float32),
    )


def pair_scores(model: PairModel, a: Tensor, b: Tensor) -> Tensor:
    """Critic score of each row's own pair ``f(a_i, b_i)``: (N, *shape), (N, *shape) -> (N,)."""
    with torch.no_grad():
        return model.scale() * (model.embed_a(a) * model.embed_b(b)).sum(dim=1)


def _fit_logistic(scores: Tensor, labels: Tensor, steps: int = 100) -> tuple[float, float]:
    """``(alpha, beta)`` of ``P(match) = sigmoid(alpha s + beta)`` by maximum likelihood."""
    mean, std = scores.mean(), scores.std().clamp_min(1e-8)
    z = (scores - mean) / std
    params = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([params], max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimiser.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            params[0] * z + params[1], labels
        )
        loss.backward()
        return loss

    optimiser.step(closure)
    alpha, beta = params.detach().tolist()
    return alpha / float(std), beta - alpha * float(mean) / float(std)


def _matched_and_shuffled(
    score: Callable[[np.ndarray, np.ndarray], Tensor], n: int, rng: np.random.Generator
) -> tuple[Tensor, Tensor]:
    """Scores of the n true pairs and of n mismatched ones (a cyclic shift of a permutation)."""
    perm = rng.permutation(n)
    partner = np.empty(n, dtype=np.int64)
    partner[perm] = np.roll(perm, 1)
    scores = torch.cat([score(np.arange(n), np.arange(n)), score(np.arange(n), partner)])
    labels = torch.cat([torch.ones(n), torch.zeros(n)]).double()
    return scores.double(), labels


def correspondence_accuracy(
    score_train: Callable[[np.ndarray, np.ndarray], Tensor],
    n_train: int,
    score_test: Callable[[np.ndarray, np.ndarray], Tensor],
    n_test: int,
    seed: int = 0,
) -> float:
    """Accuracy of "do these two belong together?" by logistic regression on a critic score.

    Args:
        score_train: ``(rows_a, rows_b) -> (len,)`` scores of pairs of training rows.
        n_train: training rows; the classifier sees their ``n_train`` true pairs and
            ``n_train`` mismatched pairs (no row paired with itself).
        score_test: the same on held-out rows.
        n_test: held-out rows, giving as many true and mismatched test pairs.
        seed: seeds the mismatching.

    Returns:
        Held-out accuracy, a fraction in [0, 1] (chance 0.5: the classes are balanced).
    """
    rng = np.random.default_rng(seed)
    train_scores, train_labels = _matched_and_shuffled(score_train, n_train, rng)
    alpha, beta = _fit_logistic(train_scores, train_labels)
    test_scores, test_labels = _matched_and_shuffled(score_test, n_test, rng)
    predicted = (alpha * test_scores + beta) > 0
    return float((predicted.double() == test_labels).double().mean())


Scorer = Callable[[Tensor, Tensor], Tensor]


def _critic_row(
    matrix: Scorer, paired: Scorer, a: Tensor, b: Tensor, rows: dict[str, np.ndarray], k: int
) -> dict[str, float]:
    """Retrieval (blocks of ``k`` held-out rows) and correspondence accuracy of one critic.

    The correspondence classifier is fitted on one half of the held-out rows and
    scored on the other: fitted on training rows it would learn the threshold of
    scores the encoders have seen.
    """
    blocks = len(rows["test"]) // k
    top1, top5 = [], []
    for block in range(blocks):
        index = rows["test"][block * k : (block + 1) * k]
        with torch.no_grad():
            accuracy = topk_accuracy(matrix(a[index], b[index]), (1, 5))
        top1.append(accuracy[1])
        top5.append(accuracy[5])

    def scorer(index: np.ndarray) -> Callable[[np.ndarray, np.ndarray], Tensor]:
        return lambda i, j: paired(a[index[i]], b[index[j]])

    half = len(rows["test"]) // 2
    fit, test = rows["test"][:half], rows["test"][half:]
    correspondence = correspondence_accuracy(scorer(fit), len(fit), scorer(test), len(test))
    return {"top1": float(np.mean(top1)), "top5": float(np.mean(top5)), "match": correspondence}


def _model_row(model: PairModel, a: Tensor, b: Tensor, rows: dict[str, np.ndarray], k: int):
    return _critic_row(model, lambda x, y: pair_scores(model, x, y), a, b, rows, k)


#: The task's :func:`train_pair` settings where they differ from its defaults.
AUDIOVISUAL_TRAINING: dict[str, Any] = {"k": 32, "steps": 600, "dim": 32}


def run_audiovisual(
    n: int = 20000, *, noise: float = 0.3, seed: int = 0, **training: Any
) -> dict[str, Any]:
    """Train a sound and an image encoder on the synthetic pairs; compare with random ones.

    Args:
        n: pairs drawn (20% held out).
        noise: the generator's noise level.
        seed: seeds the data, the split and the weights.
        **training: :func:`train_pair`'s options (MLP encoders), over
            :data:`AUDIOVISUAL_TRAINING`: ``k`` retrieval candidates (32),
            ``steps`` (600), ``dim`` (32), ``batch_size``, ``hidden``, ...

    Returns:
        ``{"trained": row, "random": row, "infonce": ..., "log_k": ...,
        "config": ...}``; each row holds ``top1``, ``top5`` (sound -> image, chance ``1/K``,
        ``5/K``) and ``match`` (correspondence accuracy, chance 0.5).
    """
    sounds, images, _ = audiovisual_pairs(n, seed=seed, noise=noise)
    training = {**AUDIOVISUAL_TRAINING, **training}
    result = train_pair(sounds, images, seed=seed, **training)
    k = training["k"]
    rows = {"train": result.train_rows, "test": result.heldout_rows}
    a, b = result.standardized(sounds, images)
    trained = _model_row(result.model, a, b, rows, k)
    random = _model_row(result.initial_model, a, b, rows, k)
    return {
        "trained": trained,
        "random": random,
        "infonce": result.heldout["infonce"],
        "infonce_random": result.random["infonce"],
        "log_k": result.heldout["log_k"],
        "seconds": result.seconds,
        "config": {**result.config, "noise": noise, "n": n},
    }
