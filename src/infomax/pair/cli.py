"""Command-line pieces for ``infomax train pair`` and ``infomax train word2vec``.

Each command is a pair of functions the ``infomax`` parser registers:
``add_arguments(parser)`` / ``run(args) -> exit status`` for two-modality
InfoNCE, ``add_word2vec_arguments(parser)`` / ``run_word2vec(args)`` for SGNS.
Bad input raises :class:`~infomax.validation.InputError`, which the
``infomax`` entry point prints as one line with exit status 2.
"""

from __future__ import annotations

import argparse

import numpy as np

from infomax.cli.common import out_dir
from infomax.jsonable import dump_json, write_json_atomic
from infomax.validation import InputError

__all__ = ["add_arguments", "add_word2vec_arguments", "run", "run_word2vec"]


def _check_positive(args: argparse.Namespace, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(args, name)
        if value <= 0:
            raise InputError(f"--{name.replace('_', '-')} must be positive, got {value}")


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
    parser.add_argument("--dim", type=int, default=64, help="embedding size (64)")
    parser.add_argument("--hidden", type=int, default=256, help="MLP width (256)")
    parser.add_argument("--layers", type=int, default=2, help="MLP hidden layers (2)")
    parser.add_argument("--steps", type=int, default=1000, help="Adam steps (1000)")
    parser.add_argument("--batch-size", type=int, default=256, help="pairs a step")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (1e-3)")
    parser.add_argument(
        "--k", type=int, default=64, help="retrieval candidates on held-out pairs (64)"
    )
    parser.add_argument(
        "--heldout", type=float, default=0.2, help="fraction of rows held out (0.2)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of split, weights, batches")
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

    _check_positive(args, ("dim", "hidden", "layers", "steps", "batch_size", "k"))
    a, b = load_array(args.x), load_array(args.y)
    out = out_dir(args.out, create=True)
    result = train_pair(
        a,
        b,
        encoder_a=args.encoder_x,
        encoder_b=args.encoder_y,
        dim=args.dim,
        hidden=args.hidden,
        layers=args.layers,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        heldout=args.heldout,
        k=args.k,
        seed=args.seed,
    )
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
    parser.add_argument("--dim", type=int, default=100, help="vector size (100)")
    parser.add_argument("--window", type=int, default=2, help="context each side (2)")
    parser.add_argument("--negatives", type=int, default=5, help="k negatives (5)")
    parser.add_argument("--min-count", type=int, default=5, help="vocabulary cut (5)")
    parser.add_argument(
        "--subsample", type=float, default=1e-3, help="frequent-word threshold t; 0 turns it off"
    )
    parser.add_argument("--noise-power", type=float, default=0.75, help="unigram ** power")
    parser.add_argument("--mode", choices=("sampled", "counts"), default="sampled")
    parser.add_argument("--epochs", type=int, default=5, help="passes (sampled)")
    parser.add_argument("--steps", type=int, default=1000, help="steps (counts)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", metavar="DIR", required=True, help="write words.txt, vectors.npy, contexts.npy"
    )


def run_word2vec(args: argparse.Namespace) -> int:
    """Train SGNS on ``--text``, write the vectors; exit status 0."""
    from infomax.pair.word2vec import read_sentences, train_sgns

    _check_positive(args, ("dim", "window", "negatives", "min_count", "epochs", "steps"))
    if args.subsample < 0:
        raise InputError(f"--subsample must be >= 0 (0 turns it off), got {args.subsample}")
    out = out_dir(args.out, create=True)
    result = train_sgns(
        read_sentences(args.text),
        dim=args.dim,
        window=args.window,
        k=args.negatives,
        min_count=args.min_count,
        subsample_threshold=args.subsample or None,
        noise_power=args.noise_power,
        mode=args.mode,
        epochs=args.epochs,
        steps=args.steps,
        seed=args.seed,
    )
    assert out is not None
    (out / "words.txt").write_text("\n".join(result.vocabulary.words) + "\n")
    np.save(out / "vectors.npy", result.word_vectors.astype(np.float32))
    np.save(out / "contexts.npy", result.context_vectors.astype(np.float32))
    print(
        f"{len(result.vocabulary)} words, {int(result.counts.sum())} pairs, "
        f"final loss {result.losses[-1]:.4f} nats a pair; vectors in {out}"
    )
    return 0
