"""Command-line pieces for ``infomax train dialogue``.

``add_arguments(parser)`` / ``run(args) -> exit status``, registered by
:mod:`infomax.cli.train`. Bad input raises :class:`~infomax.validation.InputError`,
which the ``infomax`` entry point prints as one line with exit status 2.
"""

from __future__ import annotations

import argparse
from typing import Any

from infomax.cli.common import add_keyword_options, options, out_dir
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


#: train_dialogue's keyword arguments exposed as options: keyword -> (flag, argparse
#: keywords). Left out, each keeps train_dialogue's own default (shown in its help).
_TRAIN_OPTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "objective": (
        "--objective",
        {
            "choices": ("infonce", "demi-bo", "demi-is"),
            "help": "InfoNCE on (context, response), or DEMI: InfoNCE on (last utterance, "
            "response) plus I(context; response | last utterance) by I_BO or I_IS",
        },
    ),
    "encoder": (
        "--encoder",
        {"help": "gru, transformer, or a Hugging Face model name (needs transformers)"},
    ),
    "clock": (
        "--clock",
        {
            "choices": ("wall", "cpu"),
            "help": "what --seconds counts: wall-clock or CPU time in training steps",
        },
    ),
    "batch_size": ("--batch-size", {"type": int, "help": "dialogues a step"}),
    "lr": ("--lr", {"type": float, "help": "Adam learning rate"}),
    "dim": ("--dim", {"type": int, "help": "embedding size"}),
    "hidden": ("--hidden", {"type": int, "help": "GRU state / transformer width"}),
    "temperature": ("--temperature", {"type": float, "help": "critic tau"}),
    "subview_turns": (
        "--subview-turns",
        {"type": int, "help": "utterances x' keeps, the last ones"},
    ),
    "n_train": ("--dialogues", {"type": int, "metavar": "N", "help": "training dialogues"}),
    "n_test": ("--test", {"type": int, "metavar": "N", "help": "test dialogues"}),
    "seed": ("--seed", {"type": int, "help": "seed of weights and batches"}),
    "data_seed": ("--data-seed", {"type": int, "help": "seed of the corpora"}),
}
#: Those of them that must be positive when given.
_POSITIVE = ("batch_size", "dim", "hidden", "n_train", "n_test", "subview_turns")


def _train_dialogue() -> Any:
    from infomax.dialogue.train import train_dialogue

    return train_dialogue


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``infomax train dialogue``."""
    from infomax.dialogue.corpus import DialogueSpec

    parser.add_argument(
        "--steps", type=int, help="Adam steps (default: 1000, or no step budget with --seconds)"
    )
    parser.add_argument(
        "--seconds", type=float, help="training-time budget in seconds (the first budget reached "
        "stops training)"
    )  # fmt: skip
    add_keyword_options(parser, _train_dialogue, _TRAIN_OPTIONS)
    parser.add_argument(
        "--k", default="10,100", help="candidates of response selection, comma-separated"
    )
    defaults = DialogueSpec()
    for name, (kind, text) in _CORPUS_OPTIONS.items():
        flag = "--" + name.replace("_", "-")
        default = getattr(defaults, name)
        parser.add_argument(flag, type=kind, default=default, help=f"{text} ({default:g})")
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
    if steps is not None and steps < 1:
        raise InputError("--steps must be positive")
    chosen = options(args, list(_TRAIN_OPTIONS))
    for name in _POSITIVE:
        if chosen.get(name, 1) < 1:
            raise InputError(f"{_TRAIN_OPTIONS[name][0]} must be positive")
    out = out_dir(args.out)
    spec = DialogueSpec(**{name: getattr(args, name) for name in _CORPUS_OPTIONS})
    result = train_dialogue(spec, steps=steps, seconds=args.seconds, ks=_ks(args.k), **chosen)
    payload = result.to_dict()
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out / "dialogue.json", payload)
        torch.save({"model": result.model.state_dict(), "config": payload["config"]},
                   out / "model.pt.tmp")  # fmt: skip
        (out / "model.pt.tmp").replace(out / "model.pt")
    print(dump_json(payload, indent=2) if args.json else summary(payload))
    return 0
