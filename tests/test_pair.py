"""Two-modality contrastive learning: losses against loops, generators against known answers."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest
import torch

from infomax.pair.audiovisual import audiovisual_pairs, correspondence_accuracy, run_audiovisual
from infomax.pair.cli import add_arguments, add_word2vec_arguments, run, run_word2vec
from infomax.pair.corpus import (
    MarkovCorpus,
    exact_pmi,
    pmi_recovery,
    stationary_distribution,
    word_name,
)
from infomax.pair.model import make_pair_encoder, retrieval_ranks, symmetric_infonce, topk_accuracy
from infomax.pair.train import train_pair
from infomax.pair.word2vec import (
    Vocabulary,
    noise_distribution,
    sgns_expected_loss,
    sgns_loss,
    skipgram_pairs,
    subsample,
    train_sgns,
)
from infomax.validation import InputError


def _log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x))


# --------------------------------------------------------------------------- losses


def test_symmetric_infonce_matches_loop() -> None:
    scores = torch.randn(6, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    s = scores.tolist()
    b = len(s)
    rows = sum(s[i][i] - math.log(sum(math.exp(v) for v in s[i]) / b) for i in range(b)) / b
    cols = (
        sum(s[j][j] - math.log(sum(math.exp(s[i][j]) for i in range(b)) / b) for j in range(b)) / b
    )
    assert float(symmetric_infonce(scores)) == pytest.approx(0.5 * (rows + cols), abs=1e-12)


def test_symmetric_infonce_is_capped_at_log_b() -> None:
    scores = 50.0 * torch.eye(8, dtype=torch.float64)
    assert float(symmetric_infonce(scores)) == pytest.approx(math.log(8), abs=1e-12)


def test_sgns_loss_matches_loop() -> None:
    g = torch.Generator().manual_seed(1)
    w, c, n = (
        torch.randn(*shape, generator=g, dtype=torch.float64)
        for shape in [(4, 3), (4, 3), (4, 2, 3)]
    )
    total = 0.0
    for i in range(4):
        dot = sum(w[i, d].item() * c[i, d].item() for d in range(3))
        term = _log_sigmoid(dot)
        for j in range(2):
            term += _log_sigmoid(-sum(w[i, d].item() * n[i, j, d].item() for d in range(3)))
        total -= term
    assert float(sgns_loss(w, c, n)) == pytest.approx(total / 4, abs=1e-12)


def test_sgns_expected_loss_matches_loop() -> None:
    g = torch.Generator().manual_seed(2)
    w = torch.randn(3, 2, generator=g, dtype=torch.float64)
    c = torch.randn(3, 2, generator=g, dtype=torch.float64)
    counts = torch.tensor([[0.0, 4, 1], [2, 0, 3], [5, 1, 0]], dtype=torch.float64)
    noise = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    k = 3
    total = 0.0
    for a in range(3):
        n_a = sum(counts[a].tolist())
        for b in range(3):
            dot = float(w[a] @ c[b])
            total -= counts[a, b].item() * _log_sigmoid(dot)
            total -= k * n_a * noise[b].item() * _log_sigmoid(-dot)
    expected = total / counts.sum().item()
    assert float(sgns_expected_loss(w, c, counts, noise, k)) == pytest.approx(expected, abs=1e-12)


def test_sgns_expected_loss_is_the_mean_of_sampled_losses() -> None:
    """Sampling every pair's negatives from P_n averages to the expected loss."""
    g = torch.Generator().manual_seed(3)
    w = torch.randn(3, 2, generator=g, dtype=torch.float64)
    c = torch.randn(3, 2, generator=g, dtype=torch.float64)
    words, contexts = np.array([0, 0, 1, 2, 2, 2]), np.array([1, 2, 0, 1, 0, 1])
    counts = torch.from_numpy(np.bincount(words * 3 + contexts, minlength=9).reshape(3, 3) * 1.0)
    noise = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    reps = 20000
    negatives = torch.multinomial(noise, len(words) * reps * 2, True, generator=g)
    wi = torch.from_numpy(words).repeat(reps)
    ci = torch.from_numpy(contexts).repeat(reps)
    sampled = sgns_loss(w[wi], c[ci], c[negatives.view(-1, 2)])
    expected = sgns_expected_loss(w, c, counts, noise, 2)
    assert float(sampled) == pytest.approx(float(expected), abs=0.01)


# --------------------------------------------------------------------------- retrieval


def test_identity_critic_retrieves_everything() -> None:
    accuracy = topk_accuracy(torch.eye(10), (1, 5))
    assert accuracy == {1: 1.0, 5: 1.0}


def test_retrieval_ranks_hand_made() -> None:
    scores = torch.tensor([[0.9, 0.1, 0.5], [0.8, 0.2, 0.3], [0.1, 0.2, 0.0]])
    assert retrieval_ranks(scores).tolist() == [0, 2, 2]
    assert topk_accuracy(scores, (1, 2)) == {1: pytest.approx(1 / 3), 2: pytest.approx(1 / 3)}


def test_conv_encoder_for_images() -> None:
    encoder = make_pair_encoder((1, 16, 16), "conv", out_dim=8)
    assert encoder(torch.randn(3, 1, 16, 16)).shape == (3, 8)
    with pytest.raises(InputError, match="conv encoder takes images"):
        make_pair_encoder((5,), "conv")


# --------------------------------------------------------------------------- corpus


def test_exact_pmi_two_state_closed_form() -> None:
    """Symmetric 2-state chain, stay s: pi = 1/2; window 1: PMI(same) = log 2s."""
    s = 0.8
    transition = np.array([[s, 1 - s], [1 - s, s]])
    pmi = exact_pmi(transition, window=1)
    np.testing.assert_allclose(pmi, np.log(2 * transition), atol=1e-12)
    # window 2, infinite sentences: P^2 has stay s^2 + (1-s)^2; the joint averages P and P^2.
    two = transition @ transition
    np.testing.assert_allclose(
        exact_pmi(transition, window=2), np.log(2 * 0.5 * (transition + two)), atol=1e-12
    )


def test_stationary_distribution_is_stationary() -> None:
    transition = MarkovCorpus.random(60, 6, seed=2).transition()
    pi = stationary_distribution(transition)
    np.testing.assert_allclose(pi @ transition, pi, atol=1e-12)
    np.testing.assert_allclose(transition.sum(axis=1), 1.0, atol=1e-12)


def test_exact_pmi_matches_counts_of_a_long_sample() -> None:
    corpus = MarkovCorpus.random(40, 4, seed=3)
    window, length = 2, 200
    ids = corpus.sample(1000, length, seed=4)
    words, contexts = skipgram_pairs(list(ids), window)
    counts = np.bincount(words * 40 + contexts, minlength=1600).reshape(40, 40).astype(float)
    total = counts.sum()
    with np.errstate(divide="ignore"):
        empirical = np.log(counts * total / np.outer(counts.sum(1), counts.sum(0)))
    exact = corpus.exact_pmi(window, length)
    seen = counts >= 400
    assert seen.sum() > 100
    # the log of a count has standard error ~ 1 / sqrt(count)
    z = np.abs(empirical[seen] - exact[seen]) * np.sqrt(counts[seen])
    assert z.max() < 5.0
    assert abs(float(np.mean(empirical[seen] - exact[seen]))) < 0.01


# --------------------------------------------------------------------------- word2vec pieces


def test_skipgram_pairs_hand_made() -> None:
    words, contexts = skipgram_pairs([np.array([0, 1, 2]), np.array([3])], window=1)
    assert sorted(zip(words.tolist(), contexts.tolist(), strict=True)) == [
        (0, 1),
        (1, 0),
        (1, 2),
        (2, 1),
    ]
    words, _ = skipgram_pairs([np.array([0, 1, 2])], window=2)
    assert len(words) == 6


def test_vocabulary_cut_and_noise() -> None:
    vocab = Vocabulary.build([["a", "b", "a", "c"], ["a", "b"]], min_count=2)
    assert vocab.words == ["a", "b"]
    assert vocab.counts.tolist() == [3, 2]
    assert [s.tolist() for s in vocab.encode([["c", "b", "a"]])] == [[1, 0]]
    noise = noise_distribution(np.array([16, 1]), power=0.75)
    np.testing.assert_allclose(noise, [8 / 9, 1 / 9])


def test_subsample_keeps_sqrt_t_over_f() -> None:
    counts = np.array([3, 1])  # frequencies 3/4 and 1/4
    sentence = np.array([0] * 30000 + [1] * 10000)
    kept = subsample([sentence], counts, threshold=0.75 / 16, seed=0)[0]
    assert (kept == 0).sum() / 30000 == pytest.approx(0.25, abs=0.01)  # sqrt(1/16)
    assert (kept == 1).sum() / 10000 == pytest.approx(math.sqrt(0.75 / 16 / 0.25), abs=0.015)


# --------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def small_corpus() -> tuple[MarkovCorpus, list[list[str]]]:
    corpus = MarkovCorpus.random(200, 10, seed=1)
    ids = corpus.sample(200, 500, seed=1)
    return corpus, [[word_name(i) for i in row] for row in ids]


def _recovery(small_corpus, **options) -> dict[str, float]:
    corpus, sentences = small_corpus
    result = train_sgns(
        sentences, dim=32, min_count=1, subsample_threshold=None, noise_power=1.0, **options
    )
    pmi = corpus.exact_pmi(2, 500)
    return pmi_recovery(result.vocabulary.words, result.scores(), result.counts, pmi, 5)


def test_sgns_counts_recovers_pmi_minus_log_k(small_corpus) -> None:
    check = _recovery(small_corpus, mode="counts", steps=100, lr=0.05)
    assert check["pairs"] > 300
    assert check["pearson"] > 0.9
    assert abs(check["mean_offset"]) < 0.1  # w . c = PMI - log k, not PMI


def test_sgns_sampled_recovers_pmi(small_corpus) -> None:
    check = _recovery(small_corpus, mode="sampled", epochs=2, batch_size=4096, lr=0.02)
    assert check["pearson"] > 0.8


def test_audiovisual_training_beats_random_encoder() -> None:
    torch.manual_seed(0)
    result = run_audiovisual(4000, steps=150, noise=0.2, k=32)
    trained, random = result["trained"], result["random"]
    assert trained["top1"] > 0.2  # chance 1/32
    assert trained["top1"] > random["top1"] + 0.15
    assert trained["top5"] > 0.6
    assert trained["match"] > 0.75
    assert abs(random["match"] - 0.5) < 0.1
    assert result["infonce"] <= result["log_k"]


def test_audiovisual_generator_shapes_and_seed() -> None:
    sounds, images, latents = audiovisual_pairs(5, seed=3)
    assert sounds.shape == (5, 64) and images.shape == (5, 1, 16, 16) and latents.shape == (5, 2)
    again = audiovisual_pairs(5, seed=3)
    np.testing.assert_array_equal(sounds, again[0])


def test_correspondence_of_a_perfect_score_is_one() -> None:
    def score(i: np.ndarray, j: np.ndarray) -> torch.Tensor:
        return torch.from_numpy((i == j).astype(np.float64))

    assert correspondence_accuracy(score, 200, score, 200) == 1.0

    def blind(i: np.ndarray, j: np.ndarray) -> torch.Tensor:
        return torch.zeros(len(i), dtype=torch.float64)

    assert correspondence_accuracy(blind, 200, blind, 200) == 0.5


# --------------------------------------------------------------------------- API and CLI


def test_train_pair_standardizes_with_the_training_rows() -> None:
    """Features are z-scored with the training rows' moments; a near-constant one keeps scale 1."""
    rng = np.random.default_rng(0)
    a = rng.normal(3.0, 2.0, size=(200, 3)).astype(np.float32)
    a[:, 2] = 5.0 + rng.normal(0.0, 1e-9, size=200).astype(np.float32)  # spread below MIN_STD
    b = a[:, :2] + rng.normal(size=(200, 2)).astype(np.float32)
    result = train_pair(a, b, dim=4, hidden=8, steps=1, batch_size=16, k=8, seed=0)
    train = a[result.train_rows]
    np.testing.assert_array_equal(result.standardize_a.mean, train.mean(axis=0))
    np.testing.assert_array_equal(result.standardize_a.std[:2], train.std(axis=0)[:2])
    assert result.standardize_a.std[2] == 1.0
    scaled_a, _ = result.standardized(a[:5], b[:5])
    np.testing.assert_array_equal(
        scaled_a.numpy(), ((a[:5] - train.mean(0)) / result.standardize_a.std)
    )


def test_train_pair_bad_input() -> None:
    with pytest.raises(InputError, match="same number of rows"):
        train_pair(np.zeros((10, 2)), np.zeros((9, 2)))
    bad = np.random.default_rng(0).normal(size=(400, 2))
    bad[3, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        train_pair(bad, bad)
    with pytest.raises(InputError, match="too few pairs"):
        train_pair(np.ones((100, 2)), np.ones((100, 2)), batch_size=256)


def test_cli_run_writes_result(tmp_path, capsys) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3))
    y = x @ rng.normal(size=(3, 4)) + 0.1 * rng.normal(size=(600, 4))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        [
            "--x",
            str(tmp_path / "x.npy"),
            "--y",
            str(tmp_path / "y.npy"),
            "--steps",
            "60",
            "--batch-size",
            "64",
            "--k",
            "32",
            "--out",
            str(tmp_path / "run"),
        ]
    )
    assert run(args) == 0
    payload = json.loads((tmp_path / "run" / "pair.json").read_text())
    assert (tmp_path / "run" / "model.pt").exists()
    assert payload["heldout"]["k"] == 32
    assert payload["heldout"]["top1_a_to_b"] > 5 / 32  # chance 1/32
    assert payload["heldout"]["infonce"] <= math.log(32)
    assert "top-1 x -> y" in capsys.readouterr().out
    args.batch_size = 0
    with pytest.raises(InputError, match="--batch-size must be positive"):
        run(args)


def test_cli_word2vec_writes_vectors(tmp_path) -> None:
    corpus = MarkovCorpus.random(30, 3, seed=0)
    text = corpus.write(tmp_path / "corpus.txt", sentences=20, length=50, seed=0)
    parser = argparse.ArgumentParser()
    add_word2vec_arguments(parser)
    args = parser.parse_args(
        [
            "--text",
            str(text),
            "--mode",
            "counts",
            "--steps",
            "20",
            "--dim",
            "8",
            "--min-count",
            "1",
            "--subsample",
            "0",
            "--out",
            str(tmp_path / "w2v"),
        ]
    )
    assert run_word2vec(args) == 0
    words = (tmp_path / "w2v" / "words.txt").read_text().split()
    assert np.load(tmp_path / "w2v" / "vectors.npy").shape == (len(words), 8)
    assert set(words) <= {word_name(i) for i in range(30)}
    args.subsample = -1.0
    with pytest.raises(InputError, match="--subsample must be >= 0"):
        run_word2vec(args)
    args.subsample, args.text = 0.0, str(tmp_path / "missing.txt")
    with pytest.raises(InputError, match="no such text file"):
        run_word2vec(args)
