"""The dialogue corpus and its exact answers; candidate sets and recall@1.

Known answers: the tokens encode the latent variables that made them; the
topic posterior is calibrated (E pi(z_T) = E |pi|^2); the mean exact log ratio
at the true response is I(x; y); I(x'; y) has a closed form; the Bayes
selector's exact expected recall matches its Monte Carlo recall; with no topic
words the context adds nothing to the last utterance.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from infomax.dialogue.corpus import (
    SEP,
    DialogueSpec,
    context_intent,
    generate_dialogues,
    log_ratio,
    response_types,
    topic_posterior,
)
from infomax.dialogue.evaluate import (
    candidate_sets,
    oracle_scores,
    recall_at_1,
    response_selection,
)
from infomax.dialogue.exact import bayes_recall, exact_information, win_probability
from infomax.validation import InputError

SPEC = DialogueSpec()


@pytest.fixture(scope="module")
def big() -> object:
    return generate_dialogues(SPEC, 20000, seed=3)


def test_generator_is_seeded_and_its_tokens_encode_the_latents() -> None:
    data = generate_dialogues(SPEC, 500, seed=1)
    again = generate_dialogues(SPEC, 500, seed=1)
    np.testing.assert_array_equal(data.context, again.context)
    np.testing.assert_array_equal(data.response, again.response)
    assert not np.array_equal(data.context, generate_dialogues(SPEC, 500, seed=2).context)
    assert data.context.shape == (500, SPEC.context_length)
    assert data.response.shape == (500, SPEC.response_words)
    assert len(SPEC.vocabulary()) == SPEC.vocab_size
    assert data.context.max() < SPEC.vocab_size and data.response.max() < SPEC.vocab_size
    # Every utterance ends with the separator, and only there.
    ends = np.arange(1, SPEC.turns + 1) * (SPEC.words + 1) - 1
    assert (data.context[:, ends] == SEP).all()
    assert (np.delete(data.context, ends, axis=1) != SEP).all()
    np.testing.assert_array_equal(response_types(SPEC, data.response), data.response_type)
    np.testing.assert_array_equal(context_intent(SPEC, data.context), data.intent)
    # Each utterance holds exactly one intent word; the last one no topic word.
    utterances = data.context.reshape(500, SPEC.turns, -1)[:, :, :-1]
    intents = (utterances >= SPEC.intent_base) & (utterances < SPEC.answer_base)
    assert (intents.sum(axis=2) == 1).all()
    last_topic = (utterances[:, -1] >= SPEC.topic_base) & (utterances[:, -1] < SPEC.intent_base)
    assert not last_topic.any()
    np.testing.assert_array_equal(data.subview(1), data.context[:, -(SPEC.words + 1) :])


def test_topic_chain_switches_at_its_rate_and_stays_uniform(big) -> None:
    moves = big.topics[:, 1:] != big.topics[:, :-1]
    n = moves.size
    # Binomial standard error; 4 of them.
    assert abs(moves.mean() - SPEC.switch) < 4 * math.sqrt(SPEC.switch * (1 - SPEC.switch) / n)
    share = np.bincount(big.topics[:, -1], minlength=SPEC.topics) / len(big)
    p = 1 / SPEC.topics
    assert np.abs(share - p).max() < 4 * math.sqrt(p * (1 - p) / len(big))


def test_topic_posterior_is_calibrated(big) -> None:
    """For the exact posterior, E pi(z_T) = E sum_s pi(s)^2 (both are P(a draw from pi is z_T))."""
    posterior = topic_posterior(SPEC, big.context)
    np.testing.assert_allclose(posterior.sum(axis=1), 1.0, atol=1e-12)
    hit = posterior[np.arange(len(big)), big.topics[:, -1]]
    purity = (posterior**2).sum(axis=1)
    difference = hit - purity
    assert abs(difference.mean()) < 4 * difference.std() / math.sqrt(len(big))
    # The posterior is informative: far from uniform on average.
    assert purity.mean() > 2.0 / SPEC.topics


def test_mean_log_ratio_at_the_true_response_is_the_mutual_information(big) -> None:
    posterior = topic_posterior(SPEC, big.context)
    values = log_ratio(SPEC, posterior, big.intent, big.response_type[:, None, :])[:, 0]
    info = exact_information(SPEC, big.context)
    assert abs(values.mean() - info["mi_context"]) < 4 * values.std() / math.sqrt(len(big))
    # I(x'; y) = I(q; m) in closed form: given q, the S types with intent q have probability
    # (1 - eps) / S + eps / (SQ) each, the others eps / (SQ).
    eps, s, n_types = SPEC.response_noise, SPEC.topics, SPEC.types
    a, b = (1 - eps) / s + eps / n_types, eps / n_types
    closed = s * a * math.log(a * n_types) + (n_types - s) * b * math.log(b * n_types)
    assert info["mi_subview"] == pytest.approx(closed, rel=1e-12)
    assert info["cmi"] == pytest.approx(info["mi_context"] - closed, rel=1e-12)
    assert 0 < info["cmi"] < math.log(SPEC.topics)


def test_win_probability_equals_the_binomial_sum() -> None:
    for below, tied, k in [(0.3, 0.2, 5), (0.9, 0.05, 10), (0.0, 1.0, 4), (0.5, 0.0, 7)]:
        loop = sum(math.comb(k - 1, m) * tied**m * below ** (k - 1 - m) / (m + 1) for m in range(k))
        assert float(win_probability(below, tied, k)) == pytest.approx(loop, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("use_context", [True, False])
def test_bayes_recall_matches_the_exact_ratio_scorer(big, use_context: bool) -> None:
    """Closed form vs the exact-ratio scorer on sampled candidate sets (Monte Carlo)."""
    n = 2500
    test = generate_dialogues(SPEC, n, seed=4)
    scores = oracle_scores(test, use_context)
    for k in (10, 50):
        expected = bayes_recall(SPEC, test.context, k, use_context=use_context)
        values = recall_at_1(scores, candidate_sets(n, k, k), 1e-9)
        # 4 standard errors, plus 1e-3 for drawing the negatives from the n test responses
        # (an empirical p(y), without replacement) instead of from p(y).
        assert abs(values.mean() - expected) < 4 * values.std() / math.sqrt(n) + 1e-3
    low = bayes_recall(SPEC, test.context, 10, use_context=False)
    assert bayes_recall(SPEC, test.context, 10) > low + 0.05  # earlier turns matter
    assert low > 0.1 + 0.3  # and so does the last utterance


def test_without_topic_words_the_context_adds_nothing() -> None:
    spec = DialogueSpec(reveal=0.0)
    data = generate_dialogues(spec, 300, seed=0)
    np.testing.assert_allclose(topic_posterior(spec, data.context), 1 / spec.topics, atol=1e-15)
    assert exact_information(spec, data.context)["cmi"] == pytest.approx(0.0, abs=1e-12)
    both = [bayes_recall(spec, data.context, 10, use_context=flag) for flag in (True, False)]
    assert both[0] == pytest.approx(both[1], abs=1e-12)


def test_responses_that_ignore_the_context_leave_chance() -> None:
    spec = DialogueSpec(response_noise=1.0)
    data = generate_dialogues(spec, 200, seed=0)
    assert bayes_recall(spec, data.context, 10) == pytest.approx(0.1, abs=1e-12)
    assert exact_information(spec, data.context)["mi_context"] == pytest.approx(0.0, abs=1e-12)


def test_candidate_sets_hold_the_true_response_then_distinct_others() -> None:
    sets = candidate_sets(50, 8, seed=1)
    assert sets.shape == (50, 8)
    np.testing.assert_array_equal(sets[:, 0], np.arange(50))
    for i, row in enumerate(sets):
        assert len(set(row.tolist())) == 8 and i not in row[1:].tolist()
    np.testing.assert_array_equal(sets, candidate_sets(50, 8, seed=1))
    with pytest.raises(InputError, match="K=60"):
        candidate_sets(50, 60)


def test_recall_at_1_shares_ties_like_a_loop() -> None:
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 3, size=(40, 40)).astype(float)  # many ties
    sets = candidate_sets(40, 6, seed=2)
    expected = []
    for i, row in enumerate(sets):
        true = scores[i, row[0]]
        others = [scores[i, j] for j in row[1:]]
        if any(o > true for o in others):
            expected.append(0.0)
        else:
            expected.append(1.0 / (1 + sum(o == true for o in others)))
    np.testing.assert_allclose(recall_at_1(scores, sets), expected)
    flat = response_selection(np.zeros((40, 40)), [5, 10])
    assert flat["5"]["recall"] == pytest.approx(0.2) and flat["10"]["recall"] == pytest.approx(0.1)


def test_bad_settings_are_named() -> None:
    with pytest.raises(InputError, match="topic_noise"):
        DialogueSpec(topic_noise=0.0)
    with pytest.raises(InputError, match="turns >= 2"):
        DialogueSpec(turns=1)
    with pytest.raises(InputError, match="sub-view keeps 1 to 3"):
        generate_dialogues(SPEC, 5).subview(4)
