"""A synthetic corpus from a Markov chain over words, with its exact PMI.

The chain: ``V`` words in ``C`` classes (word ``w`` in class ``w mod C``); within
a class the words have Zipf weights ``e(w)`` (summing to 1 per class). From
word ``w`` the next word's class is drawn from a row ``A[w]`` (a Dirichlet
draw around its class's row of a class-level transition matrix, so words of
one class behave alike but not identically), then the word from ``e``
within that class::

    P[w, w'] = A[w, class(w')] e(w')

Sentences start from the stationary distribution ``pi``, so every position
has marginal ``pi``. For a skip-gram window of ``L`` words on each side,
the (word, context) pairs of a sentence of ``T`` words pair position ``t``
with ``t + d`` for ``0 < |d| <= L``; there are ``T - |d|`` pairs at offset
``d``. Their joint distribution is the mixture over offsets, each weighted by
its share of the pairs::

    p(w, c) = sum_{d=1..L} omega_d [pi(w) P^d(w, c) + pi(c) P^d(c, w)] / 2,
    omega_d = (T - d) / sum_{d'=1..L} (T - d')

and both marginals are ``pi``: a stationary chain's word at ``t`` and at
``t + d`` are each distributed as ``pi``. Hence the exact
``PMI(w, c) = log p(w, c) - log pi(w) - log pi(c)`` in nats, the value SGNS
recovers as ``w . c + log k`` (Levy & Goldberg, 2014) when its noise is the
unigram distribution.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["MarkovCorpus", "exact_pmi", "pmi_recovery", "stationary_distribution", "word_name"]


def word_name(index: int) -> str:
    """The token of word ``index`` in the written corpus (``w0000``, ``w0001``, ...)."""
    return f"w{index:04d}"


def stationary_distribution(transition: np.ndarray) -> np.ndarray:
    """The stationary distribution ``pi = pi P`` of an ergodic chain (V, V) -> (V,)."""
    values, vectors = np.linalg.eig(transition.T)
    vector = np.real(vectors[:, np.argmin(np.abs(values - 1.0))])
    pi = np.abs(vector) / np.abs(vector).sum()
    return pi


def exact_pmi(transition: np.ndarray, window: int, length: int | None = None) -> np.ndarray:
    """Exact PMI of (word, context within ``window``) pairs of the stationary chain.

    Args:
        transition: (V, V) row-stochastic matrix ``P[w, w']``.
        window: ``L``, context words on each side.
        length: sentence length ``T`` (weights each offset ``d`` by ``T - d``, the
            number of pairs at that offset); ``None`` for infinitely long sentences.

    Returns:
        (V, V) matrix ``PMI[w, c]`` in nats (``-inf`` where ``p(w, c) = 0``).
    """
    pi = stationary_distribution(transition)
    offsets = np.arange(1, window + 1)
    weights = np.ones(window) if length is None else (length - offsets).astype(float)
    weights = weights / weights.sum()
    joint = np.zeros_like(transition)
    power = np.eye(transition.shape[0])
    for weight in weights:
        power = power @ transition
        forward = pi[:, None] * power
        joint += weight * 0.5 * (forward + forward.T)
    with np.errstate(divide="ignore"):
        return np.log(joint) - np.log(pi)[:, None] - np.log(pi)[None, :]


@dataclass
class MarkovCorpus:
    """The class-structured word chain of the module docstring.

    Attributes:
        classes: (V,) class of each word.
        emission: (V,) ``e(w)``, each word's probability within its class.
        class_rows: (V, C) ``A[w]``, the next word's class distribution from ``w``.
    """

    classes: np.ndarray
    emission: np.ndarray
    class_rows: np.ndarray

    @classmethod
    def random(
        cls,
        vocab: int = 1000,
        n_classes: int = 20,
        *,
        seed: int = 0,
        zipf: float = 1.0,
        class_concentration: float = 0.5,
        word_concentration: float = 20.0,
    ) -> MarkovCorpus:
        """Draw a chain.

        Args:
            vocab: ``V`` words.
            n_classes: ``C`` classes.
            seed: seeds every draw.
            zipf: exponent of the within-class weights ``e ~ rank^-zipf``.
            class_concentration: Dirichlet concentration of each class-level row
                (small: each class is followed by few classes).
            word_concentration: Dirichlet concentration of each word's row around its
                class's row (large: words of a class behave alike).
        """
        rng = np.random.default_rng(seed)
        classes = np.arange(vocab) % n_classes
        rank = np.arange(vocab) // n_classes + 1
        emission = rank.astype(float) ** -zipf
        for c in range(n_classes):
            emission[classes == c] /= emission[classes == c].sum()
        class_level = rng.dirichlet(np.full(n_classes, class_concentration), size=n_classes)
        alpha = word_concentration * class_level[classes] + 1e-3
        class_rows = np.stack([rng.dirichlet(row) for row in alpha])
        return cls(classes=classes, emission=emission, class_rows=class_rows)

    @property
    def vocab(self) -> int:
        return len(self.classes)

    def transition(self) -> np.ndarray:
        """(V, V) ``P[w, w'] = A[w, class(w')] e(w')``."""
        return self.class_rows[:, self.classes] * self.emission[None, :]

    def exact_pmi(self, window: int, length: int | None = None) -> np.ndarray:
        """(V, V) exact PMI of (word, context) pairs; see :func:`exact_pmi`."""
        return exact_pmi(self.transition(), window, length)

    def sample(self, sentences: int, length: int, seed: int = 0) -> np.ndarray:
        """Word indices (sentences, length): independent stationary runs of the chain."""
        rng = np.random.default_rng(seed)
        pi = stationary_distribution(self.transition())
        out = np.empty((sentences, length), dtype=np.int64)
        out[:, 0] = rng.choice(self.vocab, size=sentences, p=pi)
        class_cum = np.cumsum(self.class_rows, axis=1)
        members = [np.flatnonzero(self.classes == c) for c in range(self.class_rows.shape[1])]
        member_cum = [np.cumsum(self.emission[m]) for m in members]
        n_classes = len(members)
        for t in range(1, length):
            rows = class_cum[out[:, t - 1]]
            draw = rng.uniform(size=(sentences, 1))
            nxt = np.minimum((rows < draw).sum(axis=1), n_classes - 1)
            u = rng.uniform(size=sentences)
            for c in np.unique(nxt):
                hit = nxt == c
                pick = np.searchsorted(member_cum[c], u[hit] * member_cum[c][-1], side="right")
                out[hit, t] = members[c][np.minimum(pick, len(members[c]) - 1)]
        return out

    def write(self, path: str | Path, sentences: int, length: int, seed: int = 0) -> Path:
        """Write a sample as text: one sentence a line, words ``w0000``... by spaces."""
        ids = self.sample(sentences, length, seed)
        names = np.array([word_name(i) for i in range(self.vocab)])
        path = Path(path)
        path.write_text("\n".join(" ".join(row) for row in names[ids]) + "\n")
        return path


def pmi_recovery(
    words: list[str],
    scores: np.ndarray,
    counts: np.ndarray,
    pmi: np.ndarray,
    k: int,
    min_pairs: int = 100,
) -> dict[str, float]:
    """How well SGNS's ``w . c`` recovers ``PMI - log k`` on pairs seen ``min_pairs`` times.

    Args:
        words: the SGNS vocabulary (tokens ``w0000``... of this corpus), row order of
            ``scores`` and ``counts``.
        scores: (V', V') ``w . c``.
        counts: (V', V') training pair counts.
        pmi: (V, V) exact PMI of the chain (or the target SGNS's noise implies),
            indexed by word number.
        k: SGNS's negatives per pair.
        min_pairs: pairs counted fewer times are left out.

    Returns:
        ``pairs`` (number compared), ``pearson`` (``w . c`` against the exact PMI),
        ``pearson_empirical`` (against the PMI of the counts), ``pearson_counts_exact``
        (the counts' PMI against ``pmi``: with the plain PMI, the sampling noise's ceiling),
        ``mean_offset`` and ``rmse`` of ``w . c - (PMI - log k)``, nats.
    """
    index = np.array([int(w[1:]) for w in words])
    exact = pmi[np.ix_(index, index)]
    total = counts.sum()
    with np.errstate(divide="ignore"):
        empirical = (
            np.log(counts * total)
            - np.log(counts.sum(axis=1))[:, None]
            - np.log(counts.sum(axis=0))[None, :]
        )
    seen = counts >= min_pairs
    target = exact[seen] - np.log(k)
    error = scores[seen] - target
    return {
        "pairs": int(seen.sum()),
        "pearson": float(np.corrcoef(scores[seen], exact[seen])[0, 1]),
        "pearson_empirical": float(np.corrcoef(scores[seen], empirical[seen])[0, 1]),
        "pearson_counts_exact": float(np.corrcoef(empirical[seen], exact[seen])[0, 1]),
        "mean_offset": float(error.mean()),
        "rmse": float(np.sqrt((error**2).mean())),
    }
