"""A synthetic multi-turn dialogue corpus with a hidden state, and its exact answers.

Each dialogue has ``turns`` context utterances and one response, all token ids:

* a hidden **topic** ``z_t`` (one of ``topics``) follows a Markov chain over the
  turns: it keeps its value with probability ``1 - switch`` and otherwise moves
  to one of the other topics, uniformly; ``z_1`` is uniform, so every ``z_t`` is;
* every utterance has ``words`` slots and one of them, at a uniform position,
  holds an **intent** word. The intent of the *last* utterance, ``q``, is what
  the response answers; earlier utterances carry intents drawn independently
  (distractors). In the earlier utterances every other slot is, with probability
  ``reveal``, a **topic word** (of topic ``z_t`` with probability
  ``1 - topic_noise``, of a uniformly drawn topic otherwise) and a filler word
  otherwise; the last utterance holds fillers only, so it says nothing about the
  topic;
* the **response type** ``m = (z_r, q_r)`` is ``(z_T, q)`` with probability
  ``1 - response_noise`` and uniform over all ``topics x intents`` otherwise;
  the response is ``response_words`` slots holding one answer word of ``q_r``,
  one topic word of ``z_r`` and fillers, in a random order.

``x`` is the whole context, ``x'`` its last utterance and ``y`` the response.
Everything the response reveals about the dialogue goes through ``m``, so the
pointwise log ratio is exact and cheap:

    log p(y | x) / p(y) = log [ (1 - eps) pi_x(z_r) [q_r = q] + eps / (S Q) ] + log (S Q)

with ``pi_x`` the forward-filtered posterior of ``z_T`` given the earlier
utterances (:func:`topic_posterior`), ``eps = response_noise``, ``S`` topics,
``Q`` intents. The last utterance alone leaves ``pi`` uniform, which gives the
``x'``-only ratio. :func:`exact_information` and
:func:`bayes_recall` turn these into ``I(x; y)``, ``I(x'; y)`` and the
Bayes-optimal response-selection accuracy among ``K`` candidates.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np

from infomax.validation import InputError

__all__ = [
    "SEP",
    "DialogueSpec",
    "Dialogues",
    "context_intent",
    "generate_dialogues",
    "log_ratio",
    "response_types",
    "topic_posterior",
]

#: Token id that closes each context utterance.
SEP = 0


@dataclass(frozen=True)
class DialogueSpec:
    """The generator's settings (see the module docstring).

    Attributes:
        topics: hidden states ``S``.
        intents: intents ``Q`` of the last utterance.
        turns: context utterances ``T`` (at least 2: one to reveal the topic, the last).
        words: slots per utterance, its intent word included.
        topic_words, intent_words, answer_words: vocabulary words per topic, per
            intent in utterances, per intent in responses.
        fillers: filler words.
        response_words: slots per response (at least 2).
        reveal: probability that a slot of an earlier utterance holds a topic word.
        topic_noise: probability that a topic word's topic is drawn uniformly
            instead of the turn's (in (0, 1): every topic stays possible).
        switch: probability that the topic changes between consecutive turns.
        response_noise: probability that the response type is uniform.
    """

    topics: int = 8
    intents: int = 16
    turns: int = 4
    words: int = 6
    topic_words: int = 4
    intent_words: int = 2
    answer_words: int = 2
    fillers: int = 32
    response_words: int = 4
    reveal: float = 0.3
    topic_noise: float = 0.3
    switch: float = 0.1
    response_noise: float = 0.1

    def __post_init__(self) -> None:
        counts = {f.name: getattr(self, f.name) for f in fields(self) if f.type == "int"}
        for name, value in counts.items():
            if value < 1:
                raise InputError(f"dialogue setting {name} must be at least 1, got {value}")
        if self.topics < 2 or self.intents < 1 or self.turns < 2 or self.response_words < 2:
            raise InputError(
                "dialogues need topics >= 2, turns >= 2 (an earlier utterance and the last) and "
                "response_words >= 2 (an answer word and a topic word)"
            )
        for name in ("reveal", "switch", "response_noise"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InputError(f"dialogue setting {name} must lie in [0, 1]")
        if not 0.0 < self.topic_noise < 1.0:
            raise InputError("dialogue setting topic_noise must lie strictly between 0 and 1")

    # Vocabulary layout: SEP, fillers, topic words, intent words, answer words.
    @property
    def topic_base(self) -> int:
        return 1 + self.fillers

    @property
    def intent_base(self) -> int:
        return self.topic_base + self.topics * self.topic_words

    @property
    def answer_base(self) -> int:
        return self.intent_base + self.intents * self.intent_words

    @property
    def vocab_size(self) -> int:
        return self.answer_base + self.intents * self.answer_words

    @property
    def context_length(self) -> int:
        """Tokens of a context: ``turns`` utterances, each closed by :data:`SEP`."""
        return self.turns * (self.words + 1)

    @property
    def types(self) -> int:
        """Response types ``S * Q``."""
        return self.topics * self.intents

    def vocabulary(self) -> list[str]:
        """A word for every token id: ``<sep>``, ``f3``, ``topic2_1``, ``ask5_0``, ``ans5_1``."""
        words = ["<sep>"] + [f"f{i}" for i in range(self.fillers)]
        words += [f"topic{s}_{w}" for s in range(self.topics) for w in range(self.topic_words)]
        words += [f"ask{q}_{w}" for q in range(self.intents) for w in range(self.intent_words)]
        words += [f"ans{q}_{w}" for q in range(self.intents) for w in range(self.answer_words)]
        return words

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass
class Dialogues:
    """Sampled dialogues: tokens and the latent variables that produced them.

    Attributes:
        spec: the generator's settings.
        context: (N, T * (words + 1)) int64 token ids of ``x``.
        response: (N, response_words) int64 token ids of ``y``.
        topics: (N, T) the hidden topic of each turn (latent).
        intent: (N,) the last utterance's intent ``q``.
        response_type: (N, 2) the response's ``(z_r, q_r)`` (latent, but readable from
            its tokens).
    """

    spec: DialogueSpec
    context: np.ndarray
    response: np.ndarray
    topics: np.ndarray
    intent: np.ndarray
    response_type: np.ndarray

    def __len__(self) -> int:
        return self.context.shape[0]

    def subview(self, turns: int = 1) -> np.ndarray:
        """``x'``: the last ``turns`` utterances of each context, (N, turns * (words + 1))."""
        if not 1 <= turns < self.spec.turns:
            raise InputError(
                f"the sub-view keeps 1 to {self.spec.turns - 1} of the {self.spec.turns} "
                f"utterances, got {turns}"
            )
        return self.context[:, -turns * (self.spec.words + 1) :]


def _words_of(rng: np.random.Generator, base: int, group: np.ndarray, per: int) -> np.ndarray:
    """Token ids of random words of the given groups (``per`` words a group)."""
    return base + group * per + rng.integers(0, per, size=group.shape)


def generate_dialogues(spec: DialogueSpec, n: int, seed: int = 0) -> Dialogues:
    """Draw ``n`` dialogues (see the module docstring for the process).

    Args:
        spec: the generator's settings.
        n: dialogues to draw.
        seed: seeds NumPy's generator; the same ``(spec, n, seed)`` gives the same corpus.

    Returns:
        :class:`Dialogues`.
    """
    if n < 1:
        raise InputError(f"the number of dialogues must be at least 1, got {n}")
    rng = np.random.default_rng(seed)
    s, t_count, slots = spec.topics, spec.turns, spec.words
    topics = np.empty((n, t_count), dtype=np.int64)
    topics[:, 0] = rng.integers(0, s, n)
    for t in range(1, t_count):
        moved = (topics[:, t - 1] + rng.integers(1, s, n)) % s  # uniform among the others
        topics[:, t] = np.where(rng.random(n) < spec.switch, moved, topics[:, t - 1])
    intent = rng.integers(0, spec.intents, n)

    tokens = _words_of(rng, 1, np.zeros((n, t_count, slots), dtype=np.int64), spec.fillers)
    is_topic = rng.random((n, t_count, slots)) < spec.reveal
    is_topic[:, -1] = False  # the last utterance says nothing about the topic
    word_topic = np.where(
        rng.random((n, t_count, slots)) < spec.topic_noise,
        rng.integers(0, s, (n, t_count, slots)),
        topics[:, :, None],
    )
    topic_tokens = _words_of(rng, spec.topic_base, word_topic, spec.topic_words)
    tokens = np.where(is_topic, topic_tokens, tokens)
    turn_intents = rng.integers(0, spec.intents, (n, t_count))
    turn_intents[:, -1] = intent
    position = rng.integers(0, slots, (n, t_count))
    rows, turns = np.meshgrid(np.arange(n), np.arange(t_count), indexing="ij")
    tokens[rows, turns, position] = _words_of(
        rng, spec.intent_base, turn_intents, spec.intent_words
    )
    context = np.concatenate([tokens, np.full((n, t_count, 1), SEP)], axis=2).reshape(n, -1)

    noisy = rng.random(n) < spec.response_noise
    z_r = np.where(noisy, rng.integers(0, s, n), topics[:, -1])
    q_r = np.where(noisy, rng.integers(0, spec.intents, n), intent)
    response = _words_of(rng, 1, np.zeros((n, spec.response_words), np.int64), spec.fillers)
    response[:, 0] = _words_of(rng, spec.answer_base, q_r, spec.answer_words)
    response[:, 1] = _words_of(rng, spec.topic_base, z_r, spec.topic_words)
    response = np.take_along_axis(response, rng.random(response.shape).argsort(axis=1), axis=1)
    return Dialogues(
        spec=spec,
        context=context.astype(np.int64),
        response=response.astype(np.int64),
        topics=topics,
        intent=intent,
        response_type=np.stack([z_r, q_r], axis=1),
    )


def _utterances(spec: DialogueSpec, context: np.ndarray) -> np.ndarray:
    """(N, T * (words + 1)) context -> (N, T, words) utterance tokens (separators dropped)."""
    return np.asarray(context).reshape(-1, spec.turns, spec.words + 1)[:, :, : spec.words]


def context_intent(spec: DialogueSpec, context: np.ndarray) -> np.ndarray:
    """The last utterance's intent ``q`` read from its tokens, (N,)."""
    last = _utterances(spec, context)[:, -1]
    found = (last >= spec.intent_base) & (last < spec.answer_base)
    return (np.where(found, last, spec.intent_base).max(axis=1) - spec.intent_base) // (
        spec.intent_words
    )


def response_types(spec: DialogueSpec, response: np.ndarray) -> np.ndarray:
    """Each response's ``(z_r, q_r)`` read from its tokens, (N, 2)."""
    response = np.asarray(response)
    topic = (response >= spec.topic_base) & (response < spec.intent_base)
    answer = response >= spec.answer_base
    z = (np.where(topic, response, spec.topic_base).max(axis=1) - spec.topic_base) // (
        spec.topic_words
    )
    q = (np.where(answer, response, spec.answer_base).max(axis=1) - spec.answer_base) // (
        spec.answer_words
    )
    return np.stack([z, q], axis=1)


def topic_posterior(spec: DialogueSpec, context: np.ndarray) -> np.ndarray:
    """Exact posterior ``p(z_T | x)`` of the last turn's topic, by forward filtering.

    A topic word of topic ``c`` in a turn whose topic is ``s`` has probability
    proportional to ``(1 - topic_noise) [c = s] + topic_noise / S`` (fillers and
    intent words do not depend on ``s``), so each turn's likelihood depends on its
    counts of topic words only.

    Args:
        spec: the generator's settings.
        context: (N, T * (words + 1)) token ids.

    Returns:
        (N, S) float64 rows summing to 1.
    """
    s = spec.topics
    utterances = _utterances(spec, context)
    is_topic = (utterances >= spec.topic_base) & (utterances < spec.intent_base)
    word_topic = (utterances - spec.topic_base) // spec.topic_words
    counts = np.stack([(is_topic & (word_topic == c)).sum(axis=2) for c in range(s)], axis=2)
    same = math.log(1.0 - spec.topic_noise + spec.topic_noise / s)
    other = math.log(spec.topic_noise / s)
    # log L_t(s) = n_{t,s} log(same) + (n_t - n_{t,s}) log(other); the common part drops out.
    log_likelihood = counts * (same - other)  # (N, T, S)
    transition = np.full((s, s), spec.switch / (s - 1))
    np.fill_diagonal(transition, 1.0 - spec.switch)
    belief = np.full((counts.shape[0], s), 1.0 / s)
    for t in range(spec.turns):
        if t > 0:
            belief = belief @ transition
        weights = np.log(belief) + log_likelihood[:, t]
        weights -= weights.max(axis=1, keepdims=True)
        belief = np.exp(weights)
        belief /= belief.sum(axis=1, keepdims=True)
    return belief


def log_ratio(
    spec: DialogueSpec,
    posterior: np.ndarray,
    intent: np.ndarray,
    types: np.ndarray,
) -> np.ndarray:
    """Exact ``log p(y | x) / p(y)`` of contexts against candidate responses, nats.

    Args:
        spec: the generator's settings.
        posterior: (N, S) ``p(z_T | x)`` (uniform rows give the ``x'``-only ratio).
        intent: (N,) the contexts' intents ``q``.
        types: (N, C, 2) the candidates' ``(z_r, q_r)`` for each context.

    Returns:
        (N, C) float64 log ratios.
    """
    eps, n_types = spec.response_noise, spec.types
    z, q = types[..., 0], types[..., 1]
    belief = np.take_along_axis(posterior, z, axis=1)
    match = q == np.asarray(intent)[:, None]
    with np.errstate(divide="ignore"):  # response_noise = 0: a mismatch is impossible
        return np.log((1.0 - eps) * belief * match + eps / n_types) + math.log(n_types)
