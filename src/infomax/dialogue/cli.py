"""Command-line pieces for ``infomax train dialogue``.

``add_arguments(parser)`` / ``run(args) -> exit status``, registered by
:mod:`infomax.cli.train`. Bad input raises :class:`~infomax.validation.InputError`,
which the ``infomax`` entry point prints as one line with exit status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from infomax.jsonable import dump_json, write_json_atomic
from infomax.validation import InputError

__all__ = ["add_arguments", "run", "summary"]

#: Corpus settings exposed as options: name -> (type, help).
_CORPUS_OPTIONS: dict[str, tuple[type, str]] = {
    "topics": (int, "hidden topics S"),
    "intents": (int, "intents Q of the last utterance"),
    "turns": (int, "context utterances"),
    "reveal": (float, "chance that a slot of an earlier utterance is a topic word"),
    "switch": (float, "chance that the topic changes between turns"),
    "response_noise": (float, "chance that the response ignores the context"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``infomax train dialogue``."""
    from infomax.dialogue.corpus import DialogueSpec

    parser.add_argument(
        "--objective",
        choices=("infonce", "demi-bo", "demi-is"),
        default="infonce",
        help="InfoNCE on (context, response), or DEMI: InfoNCE on (last utterance, response) "
        "plus I(context; response | last utterance) by I_BO or I_IS (default: infonce)",
    )
    parser.add_argument(
        "--encoder",
        default="gru",
        help="gru (default), transformer, or a Hugging Face model name (needs transformers)",
    )
    parser.add_argument(
        "--steps", type=int, help="Adam steps (default: 1000, or no step budget with --seconds)"
    )
    parser.add_argument(
        "--seconds", type=float, help="training-time budget in seconds (the first budget reached "
        "stops training)"
    )  # fmt: skip
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="what --seconds counts: wall-clock or CPU time in training steps (default: wall)",
    )
    parser.add_argument("--batch-size", type=int, default=32, help="dialogues a step (32)")
    parser.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (2e-3)")
    parser.add_argument("--dim", type=int, default=64, help="embedding size (64)")
    parser.add_argument("--hidden", type=int, default=64, help="GRU state / transformer width")
    parser.add_argument("--temperature", type=float, default=0.1, help="critic tau (0.1)")
    parser.add_argument(
        "--subview-turns", type=int, default=1, help="utterances x' keeps, the last ones (1)"
    )
    parser.add_argument("--dialogues", type=int, default=20000, help="training dialogues")
    parser.add_argument("--test", type=int, default=2000, help="test dialogues (2000)")
    parser.add_argument(
        "--k", default="10,100", help="candidates of response selection, comma-separated"
    )
    defaults = DialogueSpec()
    for name, (kind, text) in _CORPUS_OPTIONS.items():
        flag = "--" + name.replace("_", "-")
        default = getattr(defaults, name)
        parser.add_argument(flag, type=kind, default=default, help=f"{text} ({default:g})")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and batches")
    parser.add_argument("--data-seed", type=int, default=0, help="seed of the corpora")
    parser.add_argument("--out", metavar="DIR", help="write dialogue.json and model.pt into DIR")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def _ks(text: str) -> list[int]:
    try:
        ks = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InputError(f"--k takes comma-separated integers, got {text!r}") from None
    if not ks or min(ks) < 2:
        raise InputError(f"--k values must be at least 2, got {text!r}")
    return ks


def summary(result: dict[str, Any]) -> str:
    """A table of recall@1 by K: the model, DEMI's x' critic, chance and the Bayes selectors."""
    config, refs = result["config"], result["references"]
    lines = [
        f"{config['objective']} ({config['encoder']}): {result['steps']} steps, "
        f"{result['seconds']:.1f} s of training; test dialogues: {config['n_test']}",
        f"{'recall@1':10}{'model':>9}{'x-prime':>9}{'chance':>9}{'Bayes':>9}{'Bayes x-prime':>15}",
    ]
    for k, figures in result["selection"].items():
        sub = result["selection_subview"]
        shown = f"{sub[k]['recall']:>9.3f}" if sub else f"{'-':>9}"
        lines.append(
            f"{'K=' + k:10}{figures['recall']:>9.3f}{shown}{1 / int(k):>9.3f}"
            f"{refs[k]['bayes']:>9.3f}{refs[k]['bayes_subview']:>15.3f}"
        )
    info = refs["information"]
    lines.append(
        f"exact I(x;y) = {info['mi_context']:.3f} nats, I(x';y) = {info['mi_subview']:.3f}, "
        f"I(x;y|x') = {info['cmi']:.3f}"
    )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Train on the synthetic corpus, print recall@1 next to its references; exit status 0."""
    import torch

    from infomax.dialogue.corpus import DialogueSpec
    from infomax.dialogue.train import train_dialogue

    steps = args.steps if args.steps is not None else (None if args.seconds else 1000)
    for name in ("steps", "batch_size", "dim", "hidden", "dialogues", "test", "subview_turns"):
        value = steps if name == "steps" else getattr(args, name)
        if value is not None and value < 1:
            raise InputError(f"--{name.replace('_', '-')} must be positive")
    out = None
    if args.out is not None:
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise InputError(f"--out {args.out} exists and is not a directory")
    spec = DialogueSpec(**{name: getattr(args, name) for name in _CORPUS_OPTIONS})
    result = train_dialogue(
        spec,
        objective=args.objective,
        encoder=args.encoder,
        n_train=args.dialogues,
        n_test=args.test,
        steps=steps,
        seconds=args.seconds,
        clock=args.clock,
        batch_size=args.batch_size,
        lr=args.lr,
        dim=args.dim,
        hidden=args.hidden,
        temperature=args.temperature,
        subview_turns=args.subview_turns,
        ks=_ks(args.k),
        seed=args.seed,
        data_seed=args.data_seed,
    )
    payload = result.to_dict()
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out / "dialogue.json", payload)
        torch.save({"model": result.model.state_dict(), "config": payload["config"]},
                   out / "model.pt.tmp")  # fmt: skip
        (out / "model.pt.tmp").replace(out / "model.pt")
    print(dump_json(payload, indent=2) if args.json else summary(payload))
    return 0
