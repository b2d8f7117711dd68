"""word2vec as noise-contrastive learning: skip-gram with negative sampling (SGNS).

Each (word, context) pair seen in a window is a positive; ``k`` contexts drawn
from a noise distribution ``P_n`` (the unigram distribution raised to a
power, 0.75 in word2vec, renormalised) are negatives. With word vectors ``w``
and context vectors ``c`` the loss of one pair is::

    -log sigmoid(w . c) - sum_{j=1..k} log sigmoid(-w . n_j),   n_j ~ P_n

Summed over a corpus with pair counts ``#(w, c)`` and word pair counts
``#(w)``, its expectation over the negatives is::

    -sum_{w,c} [#(w, c) log sigmoid(w . c) + k #(w) P_n(c) log sigmoid(-w . c)]

minimised (given enough dimensions) at ``w . c = log(#(w, c) / (#(w) P_n(c))) - log k``,
which is ``PMI(w, c) - log k`` when ``P_n`` is the unigram distribution
(Levy & Goldberg, 2014). Two trainers share these definitions: ``"sampled"``
(mini-batches of pairs with sampled negatives, word2vec's procedure, Adam;
sparse for large vocabularies) and ``"counts"`` (the expected loss above, full batch on the dense
co-occurrence matrix, for vocabularies of a few thousand words).

Tokens are split on whitespace, one sentence per line (windows never cross
lines). Frequent words can be subsampled: each occurrence of a word of
frequency ``f`` is kept with probability ``min(1, sqrt(t / f))`` before the
pairs are formed. Subsampling changes the distribution of pairs SGNS sees, so
the PMI it recovers is that of the subsampled corpus.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from infomax.minimise import minimise
from infomax.validation import InputError

__all__ = [
    "SPARSE_VOCAB",
    "SGNSResult",
    "Vocabulary",
    "cooccurrence",
    "noise_distribution",
    "read_sentences",
    "sgns_expected_loss",
    "sgns_loss",
    "skipgram_pairs",
    "subsample",
    "train_sgns",
]

#: Above this many words the sampled trainer keeps sparse gradients (SparseAdam);
#: below it dense Adam is faster.
SPARSE_VOCAB = 50_000


def read_sentences(path: str | Path) -> list[list[str]]:
    """Tokens of a text file: one sentence a line, split on whitespace; blank lines dropped."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such text file: {path}")
    sentences = [line.split() for line in path.read_text().splitlines()]
    sentences = [s for s in sentences if s]
    if not sentences:
        raise InputError(f"{path} holds no tokens; pass a text file with words")
    return sentences


@dataclass
class Vocabulary:
    """The words kept (at least ``min_count`` occurrences), most frequent first."""

    words: list[str]
    counts: np.ndarray

    @classmethod
    def build(cls, sentences: list[list[str]], min_count: int = 5) -> Vocabulary:
        """Count tokens and keep the words seen at least ``min_count`` times."""
        counter = Counter(token for sentence in sentences for token in sentence)
        kept = sorted(
            ((w, n) for w, n in counter.items() if n >= min_count), key=lambda x: (-x[1], x[0])
        )
        if len(kept) < 2:
            raise InputError(
                f"only {len(kept)} words occur at least min_count={min_count} times; "
                "lower --min-count or pass a longer text"
            )
        return cls([w for w, _ in kept], np.array([n for _, n in kept], dtype=np.int64))

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, sentences: list[list[str]]) -> list[np.ndarray]:
        """Sentences as arrays of word indices, words outside the vocabulary dropped."""
        index = {w: i for i, w in enumerate(self.words)}
        return [np.array([index[t] for t in s if t in index], dtype=np.int64) for s in sentences]


def subsample(
    sentences: list[np.ndarray], counts: np.ndarray, threshold: float, seed: int = 0
) -> list[np.ndarray]:
    """Drop occurrences of frequent words: keep each with probability ``min(1, sqrt(t / f))``.

    Args:
        sentences: word indices per sentence.
        counts: (V,) occurrences of each word.
        threshold: ``t``; words of frequency ``f <= t`` are always kept.
        seed: seeds the draws.
    """
    keep = np.minimum(1.0, np.sqrt(threshold / (counts / counts.sum())))
    rng = np.random.default_rng(seed)
    return [s[rng.uniform(size=len(s)) < keep[s]] for s in sentences]


def skipgram_pairs(sentences: list[np.ndarray], window: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (word, context) pair at distance 1..``window`` within a sentence, both directions.

    Returns:
        ``(words, contexts)``, two int64 arrays of the same length.
    """
    words, contexts = [], []
    for s in sentences:
        for d in range(1, window + 1):
            if len(s) > d:
                words += [s[:-d], s[d:]]
                contexts += [s[d:], s[:-d]]
    if not words:
        raise InputError("the corpus gives no (word, context) pairs; sentences are too short")
    return np.concatenate(words), np.concatenate(contexts)


def cooccurrence(words: np.ndarray, contexts: np.ndarray, vocab: int) -> np.ndarray:
    """Dense (V, V) pair counts ``#(w, c)``."""
    flat = np.bincount(words * vocab + contexts, minlength=vocab * vocab)
    return flat.reshape(vocab, vocab).astype(np.float64)


def noise_distribution(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """``P_n(c) ∝ count(c) ** power``, (V,) summing to 1."""
    weights = counts.astype(np.float64) ** power
    return weights / weights.sum()


def sgns_loss(word: Tensor, context: Tensor, negatives: Tensor) -> Tensor:
    """Mean SGNS loss of a batch of pairs, nats.

    Args:
        word: (B, d) word vectors.
        context: (B, d) their true contexts' vectors.
        negatives: (B, k, d) vectors of the noise contexts drawn for each pair.

    Returns:
        Scalar: mean over pairs of ``-log sigmoid(w.c) - sum_j log sigmoid(-w.n_j)``.
    """
    positive = F.logsigmoid((word * context).sum(dim=1))
    negative = F.logsigmoid(-torch.einsum("bd,bkd->bk", word, negatives)).sum(dim=1)
    return -(positive + negative).mean()


def sgns_expected_loss(
    word_vectors: Tensor, context_vectors: Tensor, counts: Tensor, noise: Tensor, k: int
) -> Tensor:
    """SGNS loss summed over a corpus, negatives integrated out, per pair.

    Args:
        word_vectors: (V, d).
        context_vectors: (V, d).
        counts: (V, V) pair counts ``#(w, c)``.
        noise: (V,) noise distribution ``P_n``.
        k: negatives per pair.

    Returns:
        Scalar, nats per pair: ``-sum [#(w,c) log s(w.c) + k #(w) P_n(c) log s(-w.c)] / sum #``.
    """
    scores = word_vectors @ context_vectors.T
    per_word = counts.sum(dim=1, keepdim=True)
    total = counts.sum()
    positive = (counts * F.logsigmoid(scores)).sum()
    negative = (k * per_word * noise[None, :] * F.logsigmoid(-scores)).sum()
    return -(positive + negative) / total


@dataclass
class SGNSResult:
    """Trained SGNS vectors.

    Attributes:
        vocabulary: the words (row ``i`` of each matrix is ``vocabulary.words[i]``).
        word_vectors: (V, d) ``w``.
        context_vectors: (V, d) ``c``.
        counts: (V, V) pair counts of the training pairs (after subsampling).
        noise: (V,) the noise distribution.
        k: negatives per pair.
        losses: the training loss at the end of each epoch (sampled) or every 100 steps.
    """

    vocabulary: Vocabulary
    word_vectors: np.ndarray
    context_vectors: np.ndarray
    counts: np.ndarray
    noise: np.ndarray
    k: int
    losses: list[float]

    def scores(self) -> np.ndarray:
        """(V, V) ``w . c``."""
        return self.word_vectors @ self.context_vectors.T


def _train_counts(counts, noise, k, dim, steps, lr, generator) -> tuple[Tensor, Tensor, list]:
    vocab = counts.shape[0]
    w = (0.1 * torch.randn(vocab, dim, generator=generator, dtype=torch.float32)).requires_grad_()
    c = (0.1 * torch.randn(vocab, dim, generator=generator, dtype=torch.float32)).requires_grad_()
    n = torch.from_numpy(counts).float()
    p = torch.from_numpy(noise).float()
    optimiser = torch.optim.Adam([w, c], lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: 1.0 - s / (steps + 1))
    losses = []

    def expected_loss(_: int) -> Tensor:  # full batch: the same loss every step
        return sgns_expected_loss(w, c, n, p, k)

    def record(step: int, loss: Tensor) -> None:
        if step % 100 == 0 or step == steps:
            losses.append(loss.item())

    minimise(optimiser, expected_loss, steps, schedule=schedule, after_step=record)
    return w.detach().double(), c.detach().double(), losses


def _train_sampled(
    words, contexts, noise, k, dim, epochs, batch_size, lr, generator
) -> tuple[Tensor, Tensor, list]:
    vocab = len(noise)
    sparse = vocab > SPARSE_VOCAB
    w = torch.nn.Embedding(vocab, dim, sparse=sparse)
    c = torch.nn.Embedding(vocab, dim, sparse=sparse)
    with torch.no_grad():
        w.weight.normal_(0.0, 0.1, generator=generator)
        c.weight.normal_(0.0, 0.1, generator=generator)
    words_t, contexts_t = torch.from_numpy(words), torch.from_numpy(contexts)
    noise_t = torch.from_numpy(noise).float()
    adam = torch.optim.SparseAdam if sparse else torch.optim.Adam
    optimiser = adam([w.weight, c.weight], lr=lr)
    n_pairs = len(words)
    steps = epochs * math.ceil(n_pairs / batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: 1.0 - s / (steps + 1))
    losses = []
    order = torch.arange(n_pairs)
    totals: list[float] = []  # per batch: mean loss x rows

    def batch_loss(b: int) -> Tensor:
        batch = order[(b - 1) * batch_size : b * batch_size]
        negatives = torch.multinomial(noise_t, len(batch) * k, True, generator=generator)
        return sgns_loss(w(words_t[batch]), c(contexts_t[batch]), c(negatives.view(len(batch), k)))

    def record(b: int, loss: Tensor) -> None:
        totals.append(loss.item() * min(batch_size, n_pairs - (b - 1) * batch_size))

    for _ in range(epochs):
        order = torch.randperm(n_pairs, generator=generator)
        totals.clear()
        batches = math.ceil(n_pairs / batch_size)
        minimise(optimiser, batch_loss, batches, schedule=schedule, after_step=record)
        losses.append(sum(totals) / n_pairs)
    return w.weight.detach().double(), c.weight.detach().double(), losses


def train_sgns(
    sentences: list[list[str]],
    *,
    dim: int = 100,
    window: int = 2,
    k: int = 5,
    min_count: int = 5,
    subsample_threshold: float | None = 1e-3,
    noise_power: float = 0.75,
    mode: str = "sampled",
    epochs: int = 5,
    steps: int = 1000,
    batch_size: int = 16384,
    lr: float | None = None,
    seed: int = 0,
) -> SGNSResult:
    """Skip-gram with negative sampling on tokenised sentences.

    Args:
        sentences: token lists (see :func:`read_sentences`).
        dim: vector size ``d``.
        window: context words on each side (a fixed window: every offset counts alike).
        k: negatives per positive pair.
        min_count: vocabulary cut: words seen fewer times are dropped before pairing.
        subsample_threshold: ``t`` of frequent-word subsampling; ``None`` turns it off.
        noise_power: exponent of the unigram noise distribution (1: plain unigram).
        mode: ``"sampled"`` (mini-batches, sampled negatives, Adam, ``epochs``) or
            ``"counts"`` (the expected loss, full batch, Adam, ``steps``).
        epochs: passes over the pairs (sampled).
        steps: full-batch steps (counts).
        batch_size: pairs per step (sampled).
        lr: Adam's initial learning rate, decayed linearly to 0 (default 0.01 sampled,
            0.05 counts).
        seed: seeds subsampling, the initial vectors, the order and the negatives.

    Returns:
        An :class:`SGNSResult`.
    """
    if mode not in ("sampled", "counts"):
        raise InputError(f"unknown SGNS mode {mode!r}; use sampled or counts")
    if k < 1 or window < 1 or dim < 1:
        raise InputError(f"k, window and dim must be positive, got {k}, {window}, {dim}")
    vocabulary = Vocabulary.build(sentences, min_count)
    encoded = vocabulary.encode(sentences)
    if subsample_threshold is not None:
        encoded = subsample(encoded, vocabulary.counts, subsample_threshold, seed)
    words, contexts = skipgram_pairs(encoded, window)
    vocab = len(vocabulary)
    counts = cooccurrence(words, contexts, vocab)
    noise = noise_distribution(vocabulary.counts, noise_power)
    generator = torch.Generator().manual_seed(seed)
    if mode == "counts":
        if vocab > 20000:
            raise InputError(f"mode counts keeps a dense {vocab}x{vocab} matrix; use sampled")
        w, c, losses = _train_counts(counts, noise, k, dim, steps, lr or 0.05, generator)
    else:
        w, c, losses = _train_sampled(
            words, contexts, noise, k, dim, epochs, batch_size, lr or 0.01, generator
        )
    return SGNSResult(vocabulary, w.numpy(), c.numpy(), counts, noise, k, losses)
