"""Two-modality contrastive learning: word2vec's PMI and audio-visual retrieval.

1. SGNS on a Markov-chain corpus (``infomax.pair.corpus``) whose exact PMI of
   (word, context within the window) is known: the Pearson correlation of
   ``w . c`` with the exact PMI on the pairs seen at least 100 times, and the
   mean and RMS of ``w . c - (PMI - log k)`` (Levy & Goldberg's optimum). Rows:
   the expected-count (full-batch) trainer with unigram noise, with word2vec's
   unigram^0.75 noise (compared with both the PMI and the noise-smoothed PMI it
   targets), with frequent-word subsampling on, and the sampled (mini-batch)
   trainer with unigram noise.
2. Audio-visual correspondence (``infomax.pair.audiovisual``): sound and image
   MLP encoders trained with symmetric InfoNCE against the same encoders at
   random initialisation; retrieval among K held-out pairs and the
   "do these belong together?" accuracy, at two noise levels.

Usage::

    python benchmarks/pair.py [--out benchmarks/results/pair.json] [--threads 1]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from _record import RESULTS, write_result
from infomax.pair.audiovisual import run_audiovisual
from infomax.pair.corpus import MarkovCorpus, pmi_recovery, stationary_distribution, word_name
from infomax.pair.word2vec import train_sgns


def word2vec_rows(args: argparse.Namespace) -> dict[str, Any]:
    corpus = MarkovCorpus.random(args.vocab, args.classes, seed=args.seed)
    ids = corpus.sample(args.sentences, args.length, seed=args.seed)
    sentences = [[word_name(i) for i in row] for row in ids]
    pmi = corpus.exact_pmi(args.window, args.length)
    pi = stationary_distribution(corpus.transition())
    smooth = pi**0.75 / (pi**0.75).sum()
    smoothed_pmi = pmi + np.log(pi)[None, :] - np.log(smooth)[None, :]
    runs = [
        ("counts", 1.0, None, "PMI"),
        ("counts", 0.75, None, "PMI"),
        ("counts", 0.75, None, "PMI with P_n^0.75 contexts"),
        ("counts", 1.0, 1e-3, "PMI"),
        ("sampled", 1.0, None, "PMI"),
    ]
    rows, cache = [], {}
    for mode, power, threshold, target in runs:
        key = (mode, power, threshold)
        if key not in cache:
            start = time.perf_counter()
            cache[key] = (
                train_sgns(
                    sentences,
                    dim=args.dim,
                    window=args.window,
                    k=args.negatives,
                    min_count=1,
                    subsample_threshold=threshold,
                    noise_power=power,
                    mode=mode,
                    steps=args.steps,
                    epochs=args.epochs,
                    batch_size=16384,
                    lr=0.05 if mode == "counts" else 0.02,
                    seed=args.seed,
                ),
                time.perf_counter() - start,
            )
        result, seconds = cache[key]
        reference = smoothed_pmi if target.startswith("PMI with") else pmi
        check = pmi_recovery(
            result.vocabulary.words, result.scores(), result.counts, reference, args.negatives
        )
        rows.append(
            {
                "trainer": mode,
                "noise_power": power,
                "subsample": threshold,
                "target": target,
                "seconds": seconds,
                **check,
            }
        )
        print(rows[-1], flush=True)
    config = {
        key: getattr(args, key)
        for key in ("vocab", "classes", "sentences", "length", "window", "negatives", "dim")
    }
    config.update(steps_counts=args.steps, epochs_sampled=args.epochs, min_pairs=100)
    config["tokens"] = int(ids.size)
    return {"config": config, "rows": rows, "log_k": math.log(args.negatives)}


def audiovisual_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for noise in args.noise:
        result = run_audiovisual(args.pairs, noise=noise, k=args.k, steps=600, seed=args.seed)
        rows.append({"noise": noise, **result})
        print({key: result[key] for key in ("trained", "random", "infonce")}, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(RESULTS / "pair.json"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vocab", type=int, default=1000)
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--window", type=int, default=2)
    parser.add_argument("--negatives", type=int, default=5)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--steps", type=int, default=300, help="full-batch steps (counts)")
    parser.add_argument("--epochs", type=int, default=2, help="passes (sampled)")
    parser.add_argument("--pairs", type=int, default=20000, help="audio-visual pairs")
    parser.add_argument("--noise", type=float, nargs="+", default=[0.2, 0.5])
    parser.add_argument("--k", type=int, default=32, help="retrieval candidates")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    payload = {
        "word2vec": word2vec_rows(args),
        "audiovisual": audiovisual_rows(args),
    }
    payload["seconds"] = time.perf_counter() - start
    print(f"wrote {write_result(Path(args.out), payload)}")


if __name__ == "__main__":
    main()
