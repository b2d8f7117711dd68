"""``infomax train``: arguments, settings and printing.

``infomax train METHOD --data ...`` trains an encoder (:func:`infomax.train.train`);
``METHOD`` tcl fits TCL (:mod:`infomax.tcl.cli`). ``infomax train pair`` and
``infomax train word2vec`` take options of their own (:mod:`infomax.pair.cli`), and so
does ``infomax train dialogue`` (:mod:`infomax.dialogue.cli`): :func:`add_arguments`
routes them to parsers of their own.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from infomax.cli import common
from infomax.jsonable import dump_json
from infomax.validation import InputError

__all__ = ["ROUTED", "add_arguments", "run"]

#: ``infomax train <name>`` variants with a parser of their own: name -> one line of help.
ROUTED: dict[str, str] = {
    "pair": "two-modality InfoNCE on paired rows: --x A --y B",
    "word2vec": "skip-gram with negative sampling on a text file: --text FILE",
    "dialogue": "response selection on a synthetic multi-turn corpus: InfoNCE or DEMI",
}


def _train_default(name: str) -> Any:
    from dataclasses import fields

    from infomax.train.config import TrainConfig

    return next(f.default for f in fields(TrainConfig) if f.name == name)


def _add_defaulted(
    parser: Any, flag: str, kind: Any, text: str, spec: str = "", **kwargs: Any
) -> None:
    """An option whose help ends in :class:`TrainConfig`'s default, read when help is printed.

    ``text``'s ``{}`` is that default, formatted with ``spec``; the setting is ``flag``
    without its dashes.
    """
    name = flag.removeprefix("--").replace("-", "_")
    help_text = common.LazyHelp(lambda: text.format(format(_train_default(name), spec)))
    parser.add_argument(flag, type=kind, help=help_text, **kwargs)


def _method_help() -> str:
    from infomax.methods import METHODS

    return (
        f"one of {', '.join(METHODS)}, cpc-seq for sequences, or tcl (nonlinear ICA of a "
        "data file); with --resume: optional, read from the run folder (pair and word2vec: "
        "see below)"
    )


def _routed_parser(parser: argparse.ArgumentParser, name: str) -> common.Parser:
    routed = common.Parser(prog=f"{parser.prog} {name}", description=ROUTED[name])
    add, run_routed = _ROUTES[name]
    routed.set_defaults(run=run_routed)
    routed.defer(add)
    return routed


def _add_pair(parser: argparse.ArgumentParser) -> None:
    from infomax.pair.cli import add_arguments as add_pair_arguments

    add_pair_arguments(parser)


def _add_word2vec(parser: argparse.ArgumentParser) -> None:
    from infomax.pair.cli import add_word2vec_arguments

    add_word2vec_arguments(parser)


def _add_dialogue(parser: argparse.ArgumentParser) -> None:
    from infomax.dialogue.cli import add_arguments as add_dialogue_arguments

    add_dialogue_arguments(parser)


def _run_pair(args: argparse.Namespace) -> int:
    from infomax.pair.cli import run as run_pair

    return run_pair(args)


def _run_word2vec(args: argparse.Namespace) -> int:
    from infomax.pair.cli import run_word2vec

    return run_word2vec(args)


def _run_dialogue(args: argparse.Namespace) -> int:
    from infomax.dialogue.cli import run as run_dialogue

    return run_dialogue(args)


#: Each routed name's argument builder and runner (imported when used).
_ROUTES = {
    "pair": (_add_pair, _run_pair),
    "word2vec": (_add_word2vec, _run_word2vec),
    "dialogue": (_add_dialogue, _run_dialogue),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``infomax train`` (TCL's options last) and the routed variants."""
    from infomax.tcl.cli import add_tcl_options

    if isinstance(parser, common.Parser):
        parser.routes.update({name: _routed_parser(parser, name) for name in ROUTED})
    parser.formatter_class = common.KeepLinesFormatter  # keep the epilog's table
    parser.epilog = (
        "other trainers, each with options of its own (infomax train NAME --help):\n"
        + ("\n".join(f"  {name:10}  {text}" for name, text in ROUTED.items()))
    )
    parser.add_argument(
        "method",
        metavar="METHOD",
        nargs="?",
        help=common.LazyHelp(_method_help),  # type: ignore[arg-type]
    )
    parser.add_argument(
        "--data",
        help="image folder, .tar(.gz) of one, cifar10, cifar100 or digits; for cpc-seq: "
        "markov (built-in) or an (N, T, D) .npy / .npz with x (and labels); for tcl: a data "
        "file; a path is stored absolute (required unless --resume)",
    )
    parser.add_argument(
        "--encoder",
        help="dim-conv, resnet18, mlp, or patch-dim (default: dim-conv; patch-dim for cpc)",
    )
    _budget_arguments(parser)
    positive_int, positive_float = common.positive_int, common.positive_float
    _add_defaulted(
        parser, "--batch-size", positive_int, "images per step, over all processes (default: {})"
    )
    _add_defaulted(parser, "--lr", positive_float, "Adam learning rate (default: {})", "g")
    _add_defaulted(parser, "--seed", int, "seed of weights, views and data order (default: {})")
    parser.add_argument(
        "--image-size", type=common.positive_int, help="resize images to this side (default: keep)"
    )
    parser.add_argument(
        "--augment", help="augmentation preset replacing the method's own (default: the method's)"
    )
    parser.add_argument("--estimator", help="DIM's MI estimator: infonce (default), jsd or dv")
    parser.add_argument(
        "--subview",
        choices=("cutout", "crop"),
        help="demi and multiview: the sub-view x' of x, a cutout (default) or a smaller crop",
    )
    parser.add_argument(
        "--option",
        metavar="NAME=VALUE,...",
        help="further method options, e.g. gamma=0,critic_dim=1024 or temperature=0.2",
    )
    parser.add_argument(
        "--encoder-option",
        metavar="NAME=VALUE,...",
        help="encoder options, e.g. fc_dim=512 (lists: widths=32/64/128)",
    )
    parser.add_argument("--out", metavar="RUN_DIR", help="run folder (default: runs/METHOD)")
    _run_arguments(parser)
    add_tcl_options(parser, train=True)


def _budget_arguments(parser: argparse.ArgumentParser) -> None:
    budget = parser.add_argument_group(
        "budget (the first reached stops the run; default: --epochs 10 for a new run, the "
        "saved budget with --resume)"
    )
    budget.add_argument("--epochs", type=common.positive_int, help="passes over the data")
    budget.add_argument(
        "--minutes",
        type=common.positive_float,
        help="minutes of training time: time inside optimiser steps (making views, forward, "
        "backward, update), summed over resumed parts; loading data, building the model, "
        "checkpoints and logging do not count",
    )
    budget.add_argument(
        "--wall-minutes",
        type=common.positive_float,
        help="wall-clock minutes of this invocation, data loading included (not carried over "
        "to a resumed part)",
    )
    budget.add_argument("--steps", type=common.positive_int, help="optimiser steps in total")


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    """How the run goes: resuming, threads, device, precision, logging, output."""
    positive_int, positive_float = common.positive_int, common.positive_float
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out with its saved settings; only budgets, --log-every, "
        "--checkpoint-minutes, --threads and --device may change",
    )
    parser.add_argument(
        "--threads", type=common.positive_int, help="torch CPU threads (default: torch's)"
    )
    _add_defaulted(parser, "--device", None, "cpu, cuda, cuda:1, mps (default: {})")
    _add_defaulted(
        parser, "--precision", None, "fp32 or bf16 autocast (default: {})", choices=("fp32", "bf16")
    )
    _add_defaulted(
        parser, "--log-every", positive_int, "steps between lines of metrics.jsonl (default: {})"
    )
    _add_defaulted(
        parser,
        "--checkpoint-minutes",
        positive_float,
        "wall-clock minutes between checkpoints, besides the one at the end and on "
        "Ctrl-C/SIGTERM; longer when writing one is slow (default: {})",
        "g",
    )
    common.add_flags(
        parser,
        {
            "--no-probe": "skip the online linear probe",
            "--json": "print the summary as JSON",
            "--no-progress": "no progress output (default: a bar on a terminal, a plain line "
            "every 30 s on any other stderr)",
        },
    )


def _train_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line, as :class:`TrainConfig` names."""
    changes = common.options(
        args,
        ("method", "data", "encoder", "epochs", "minutes", "wall_minutes", "batch_size", "lr",
         "seed", "image_size", "augment", "threads", "device", "precision", "log_every",
         "checkpoint_minutes"),
    )  # fmt: skip
    if args.steps is not None:
        changes["max_steps"] = args.steps
    method_options = common.key_values(args.option) if args.option else {}
    if args.estimator is not None:
        method_options["estimator"] = args.estimator
    if args.subview is not None:
        method_options["subview"] = args.subview
    if method_options:
        changes["method_options"] = method_options
    if args.encoder_option:
        changes["encoder_options"] = common.key_values(args.encoder_option, "--encoder-option")
    if args.no_probe:
        changes["probe"] = False
    return changes


def _train_config(args: argparse.Namespace, out: Path) -> Any:
    from infomax.checkpoint import CheckpointError
    from infomax.train.config import TrainConfig, merge_for_resume
    from infomax.train.run_folder import read_run_config

    changes = _train_changes(args)
    if args.resume:
        try:
            saved = read_run_config(out)
        except CheckpointError as exc:
            raise CheckpointError(f"cannot resume: {exc}") from None
        return merge_for_resume(saved.train, changes, str(out))
    if args.method is None:
        raise InputError("give a METHOD to train (e.g. infomax train dim-local --data DIR)")
    if args.data is None:
        raise InputError("give the data to train on: --data DIR, an archive, cifar10 or digits")
    if not any(key in changes for key in ("epochs", "minutes", "wall_minutes", "max_steps")):
        changes["epochs"] = 10
    return TrainConfig(**changes)


def run(args: argparse.Namespace) -> int:
    """Train (or fit TCL), print the summary; 128 + the signal when one stopped the run."""
    if args.method == "tcl":
        from infomax.tcl.cli import run_train as run_tcl

        if args.data is None:
            raise InputError("train tcl needs --data FILE: the observations x, one row a time step")

        return run_tcl(args)

    from infomax.train import result_to_json, train

    if args.method is None and not args.resume:
        raise InputError("give a METHOD to train (e.g. infomax train dim-local --data DIR)")
    if args.out is not None:
        out = Path(args.out)
    elif args.method is not None:
        out = Path("runs") / args.method
    else:
        raise InputError("--resume needs --out RUN_DIR (or METHOD, for runs/METHOD)")
    config = _train_config(args, out)
    result = train(config, out, resume=args.resume, progress=False if args.no_progress else None)
    if result.signal is None:
        from infomax.distributed import leave

        leave()  # under torchrun: exit the process group cleanly
    if args.json:
        print(dump_json(result_to_json(result)))
    else:
        _print_summary(config, result, out)
    if result.signal is not None:
        return 128 + result.signal
    return 0


def _print_summary(config: Any, result: Any, out: Path) -> None:
    rate = f"{result.images_per_second:.0f} images/s"
    print(
        f"{config.method}: {result.steps} steps, {result.epochs_done} epochs, "
        f"{result.seconds / 60:.1f} min, {rate} ({result.view_share:.0%} making views), "
        f"stopped by {result.stopped}"
    )
    shown = {
        k: v
        for k, v in result.last.items()
        if k.startswith("mi") or k.endswith(("mi", "accuracy", "loss"))
    }
    if shown:
        print("last: " + ", ".join(f"{k}={v:.4f}" for k, v in shown.items()))
    print(f"run folder: {out} (continue with --resume; measure with infomax eval {out})")
