"""Command-line pieces for ``infomax train pair`` and ``infomax train word2vec``.

Each command is a pair of functions the ``infomax`` parser registers:
``add_arguments(parser)`` / ``run(args) -> exit status`` for two-modality
InfoNCE, ``add_word2vec_arguments(parser)`` / ``run_word2vec(args)`` for SGNS.
Bad input raises :class:`~infomax.validation.InputError`, which the
``infomax`` entry point prints as one line with exit status 2.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from infomax.cli.common import add_keyword_options, options, out_dir
from infomax.jsonable import dump_json, write_json_atomic
from infomax.validation import InputError

__all__ = ["add_arguments", "add_word2vec_arguments", "run", "run_word2vec"]


def _check_positive(chosen: dict[str, Any], table: dict[str, tuple[str, dict[str, Any]]]) -> None:
    """Every given option of ``table`` whose type is int must be positive."""
    for name, value in chosen.items():
        if table[name][1].get("type") is int and value <= 0:
            raise InputError(f"{table[name][0]} must be positive, got {value}")


#: train_pair's keyword arguments exposed as options: keyword -> (flag, argparse keywords).
#: Left out, each keeps train_pair's own default (shown in its help).
_PAIR_OPTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "dim": ("--dim", {"type": int, "help": "embedding size"}),
    "hidden": ("--hidden", {"type": int, "help": "MLP width"}),
    "layers": ("--layers", {"type": int, "help": "MLP hidden layers"}),
    "steps": ("--steps", {"type": int, "help": "Adam steps"}),
    "batch_size": ("--batch-size", {"type": int, "help": "pairs a step"}),
    "lr": ("--lr", {"type": float, "help": "Adam learning rate"}),
    "k": ("--k", {"type": int, "help": "retrieval candidates on held-out pairs"}),
    "heldout": ("--heldout", {"type": float, "help": "fraction of rows held out"}),
    "seed": ("--seed", {"type": int, "help": "seed of split, weights, batches"}),
}

#: train_sgns's keyword arguments exposed as options (``--subsample`` is handled apart: its 0
#: means None).
_WORD2VEC_OPTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "dim": ("--dim", {"type": int, "help": "vector size"}),
    "window": ("--window", {"type": int, "help": "context each side"}),
    "k": ("--negatives", {"type": int, "help": "k negatives"}),
    "min_count": ("--min-count", {"type": int, "help": "vocabulary cut"}),
    "noise_power": ("--noise-power", {"type": float, "help": "unigram ** power"}),
    "mode": ("--mode", {"choices": ("sampled", "counts"), "help": "SGD on pairs or on counts"}),
    "epochs": ("--epochs", {"type": int, "help": "passes (sampled)"}),
    "steps": ("--steps", {"type": int, "help": "steps (counts)"}),
    "seed": ("--seed", {"type": int, "help": "seed of vectors and batches"}),
}


def _train_pair() -> Any:
    from infomax.pair.train import train_pair

    return train_pair


def _train_sgns() -> Any:
    from infomax.pair.word2vec import train_sgns

    return train_sgns


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``infomax train pair``."""
    parser.add_argument("--x", required=True, help="first modality: .npy, .npz[:KEY] or .csv")
    parser.add_argument("--y", required=True, help="second modality, paired row by row with --x")
    for side in ("x", "y"):
        parser.add_argument(
            f"--encoder-{side}",
            choices=("auto", "mlp", "conv"),
            default="auto",
            help=f"encoder of --{side}: mlp (any rows, flattened; auto) or conv (images "
            "(N, H, W) / (N, C, H, W), sides a multiple of 8)",
        )
    add_keyword_options(parser, _train_pair, _PAIR_OPTIONS)
    parser.add_argument("--out", metavar="DIR", help="write pair.json and model.pt into DIR")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def _summary(result: dict) -> str:
    held, rand = result["heldout"], result["random_encoder"]
    k = held["k"]
    lines = [
        f"held-out pairs: {result['config']['n_heldout']} in {held['blocks']} blocks of K={k}",
        f"{'':24}{'trained':>10}{'random init':>13}{'chance':>9}",
    ]
    for name, label, chance in (
        ("top1_a_to_b", "top-1 x -> y", 1 / k),
        ("top5_a_to_b", "top-5 x -> y", min(5, k) / k),
        ("top1_b_to_a", "top-1 y -> x", 1 / k),
        ("top5_b_to_a", "top-5 y -> x", min(5, k) / k),
    ):
        lines.append(f"{label:24}{held[name]:>10.3f}{rand[name]:>13.3f}{chance:>9.3f}")
    lines.append(
        f"{'InfoNCE I(x;y), nats':24}{held['infonce']:>10.3f}{rand['infonce']:>13.3f}"
        f"   (a lower bound, capped at log K = {held['log_k']:.3f})"
    )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Train on ``--x`` / ``--y``, print the held-out figures; exit status 0."""
    import torch

    from infomax.io import load_array
    from infomax.pair.train import train_pair

    chosen = options(args, list(_PAIR_OPTIONS))
    _check_positive(chosen, _PAIR_OPTIONS)
    a, b = load_array(args.x), load_array(args.y)
    out = out_dir(args.out, create=True)
    result = train_pair(a, b, encoder_a=args.encoder_x, encoder_b=args.encoder_y, **chosen)
    payload = result.to_dict()
    payload["config"].update(x=args.x, y=args.y)
    if out is not None:
        write_json_atomic(out / "pair.json", payload)
        state = {
            "model": result.model.state_dict(),
            "config": payload["config"],
            "standardize": {
                "x": (result.standardize_a.mean, result.standardize_a.std),
                "y": (result.standardize_b.mean, result.standardize_b.std),
            },
        }
        torch.save(state, out / "model.pt.tmp")
        (out / "model.pt.tmp").replace(out / "model.pt")
    print(dump_json(payload, indent=2) if args.json else _summary(payload))
    return 0


def add_word2vec_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``infomax train word2vec``."""
    parser.add_argument("--text", required=True, help="text file: one sentence a line")
    add_keyword_options(parser, _train_sgns, _WORD2VEC_OPTIONS)
    parser.add_argument(
        "--subsample", type=float, help="frequent-word threshold t; 0 turns it off (default: "
        "train_sgns's subsample_threshold)"
    )  # fmt: skip
    parser.add_argument(
        "--out", metavar="DIR", required=True, help="write words.txt, vectors.npy, contexts.npy"
    )


def run_word2vec(args: argparse.Namespace) -> int:
    """Train SGNS on ``--text``, write the vectors; exit status 0."""
    from infomax.pair.word2vec import read_sentences, train_sgns

    chosen = options(args, list(_WORD2VEC_OPTIONS))
    _check_positive(chosen, _WORD2VEC_OPTIONS)
    if args.subsample is not None:
        if args.subsample < 0:
            raise InputError(f"--subsample must be >= 0 (0 turns it off), got {args.subsample}")
        chosen["subsample_threshold"] = args.subsample or None
    out = out_dir(args.out, create=True)
    result = train_sgns(read_sentences(args.text), **chosen)
    assert out is not None
    (out / "words.txt").write_text("\n".join(result.vocabulary.words) + "\n")
    np.save(out / "vectors.npy", result.word_vectors.astype(np.float32))
    np.save(out / "contexts.npy", result.context_vectors.astype(np.float32))
    print(
        f"{len(result.vocabulary)} words, {int(result.counts.sum())} pairs, "
        f"final loss {result.losses[-1]:.4f} nats a pair; vectors in {out}"
    )
    return 0
