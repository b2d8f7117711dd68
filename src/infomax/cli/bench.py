"""``infomax bench staircase|demi`` and ``infomax demo``: arguments and printing."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from infomax.cli.common import (
    Command,
    add_commands,
    add_flags,
    name_list,
    number_list,
    options,
    out_dir,
    positive_int,
    torch_threads,
)
from infomax.jsonable import dump_json
from infomax.validation import InputError

__all__ = ["BENCH_COMMANDS", "add_arguments", "add_demo_arguments", "run", "run_demo"]


# --------------------------------------------------------------------------- staircase


def _staircase_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bound", metavar="A,B,...", help="bounds to compare, comma-separated (e.g. infonce,smile)"
    )
    parser.add_argument("--critic", choices=("separable", "concat"), help="critic architecture")
    parser.add_argument("--steps-per-stage", type=positive_int, help="training steps per MI level")
    parser.add_argument("--batch-size", type=positive_int, help="training batch size")
    parser.add_argument(
        "--cubic", action="store_true", help="apply y -> y**3 (same MI, harder critic)"
    )
    parser.add_argument(
        "--precision",
        choices=("float32", "bfloat16"),
        help="the critics' hidden-layer matmuls: float32 (default) or bfloat16 mixed precision "
        "(float32 weights and scores; several times faster for concat on CPUs with bf16 units)",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="write staircase.json, staircase_history.npz and (with matplotlib) staircase.png",
    )
    parser.add_argument("--seed", type=int, help="random seed")
    parser.add_argument(
        "--threads",
        type=positive_int,
        help="torch CPU threads (default: the cores the 1-minute load average leaves idle, "
        "at least 1, at most torch's default)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def _run_staircase(args: argparse.Namespace) -> int:
    kwargs = options(args, ("critic", "steps_per_stage", "batch_size", "seed", "precision"))
    if args.bound is not None:
        kwargs["bounds"] = name_list(args.bound, "--bound")
    if args.cubic:
        kwargs["cubic"] = True
    out = out_dir(args.out)
    if out is not None:
        kwargs["out"] = out

    import torch

    from infomax.bench.plots import plot_or_skip, plot_staircase
    from infomax.bench.process import idle_cores, keep_freed_memory
    from infomax.bench.staircase import format_table, result_to_json, run_staircase

    keep_freed_memory()  # the stacked model's temporaries otherwise page-fault back every step
    threads = args.threads or idle_cores(torch.get_num_threads())
    with torch_threads(threads):
        result = run_staircase(**kwargs)
    print(dump_json(result_to_json(result)) if args.json else format_table(result), flush=True)
    if out is not None:
        plot_or_skip(plot_staircase, result, out / "staircase.png")  # after the table
    return 0


# --------------------------------------------------------------------------- demi


def _demi_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mi", metavar="A,B,...", help="true MI values, nats (default 10,20,30)")
    parser.add_argument("--batch-size", metavar="K,...", help="batch sizes K (default 64,128)")
    parser.add_argument(
        "--subviews", metavar="N,...", help="numbers of nested sub-views n (default 1,2,4,5)"
    )
    parser.add_argument(
        "--estimators", metavar="A,B,...", help="conditional estimators (default oracle,is,bo,var)"
    )
    parser.add_argument("--steps", type=positive_int, help="training steps per cell (default 2000)")
    parser.add_argument(
        "--out", metavar="DIR", help="write demi.json and (with matplotlib) demi.png into DIR"
    )
    parser.add_argument("--seed", type=int, help="random seed")
    parser.add_argument(
        "--threads", type=positive_int, help="torch CPU threads (default: torch's default)"
    )
    add_flags(
        parser,
        {
            "--json": "print the results as JSON",
            "--shared-critics": "one critic network for all chain-rule terms (default: one "
            "per term)",
            "--resume": "reuse the cells already in DIR/demi.json (same --steps and --seed)",
        },
    )
    parser.add_argument(
        "--merge",
        metavar="FILE,...",
        help="train nothing: merge demi.json files of earlier runs into one table (and --out)",
    )


def _merge_demi(args: argparse.Namespace) -> int:
    from infomax.bench.demi import merge_demi_results, save_demi

    results = []
    for name in name_list(args.merge, "--merge"):
        path = Path(name)
        if path.is_dir():
            path = path / "demi.json"
        if not path.is_file():
            raise InputError(f"--merge: no such file: {path}")
        try:
            results.append(json.loads(path.read_text()))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InputError(f"--merge: {path} is not a demi.json ({error})") from None
    try:
        result = merge_demi_results(results)
    except (ValueError, KeyError, TypeError) as error:
        raise InputError(f"--merge: {error}") from None
    out = out_dir(args.out)
    if out is not None:
        save_demi(result, out)
    _print_demi(args, result, out)
    return 0


def _print_demi(args: argparse.Namespace, result: dict[str, Any], out: Path | None) -> None:
    from infomax.bench.demi import format_demi_table
    from infomax.bench.plots import plot_demi, plot_or_skip

    print(dump_json(result) if args.json else format_demi_table(result), flush=True)
    if out is not None:
        plot_or_skip(plot_demi, result, out / "demi.png")  # after the table


def _run_demi(args: argparse.Namespace) -> int:
    if args.merge is not None:
        return _merge_demi(args)
    kwargs: dict[str, Any] = options(args, ("steps", "seed"))
    if args.mi is not None:
        kwargs["mis"] = number_list(args.mi, "--mi", float)
    if args.batch_size is not None:
        kwargs["batches"] = number_list(args.batch_size, "--batch-size", int)
    if args.subviews is not None:
        kwargs["views"] = number_list(args.subviews, "--subviews", int)
    if args.estimators is not None:
        kwargs["estimators"] = name_list(args.estimators, "--estimators")
    kwargs["out"] = out_dir(args.out)
    if args.resume and kwargs["out"] is None:
        raise InputError("--resume needs --out DIR (the run to resume)")
    kwargs["resume"] = args.resume
    kwargs["shared_critics"] = args.shared_critics

    from infomax.bench.demi import run_demi

    with torch_threads(args.threads):
        result = run_demi(**kwargs)
    _print_demi(args, result, kwargs["out"])
    return 0


# --------------------------------------------------------------------------- demo


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``infomax demo``."""
    parser.add_argument("--out", metavar="DIR", default="runs/demo", help="where to write the plot")
    parser.add_argument("--steps", type=positive_int, help="training steps per estimator")
    parser.add_argument(
        "--threads", type=positive_int, default=1, help="torch CPU threads (default 1)"
    )


def run_demo(args: argparse.Namespace) -> int:
    """The 3-minute tour (:func:`infomax.bench.demo.run_demo`)."""
    from infomax.bench.demo import run_demo as tour

    with torch_threads(args.threads):
        return tour(out=out_dir(args.out), **options(args, ("steps",)))


# --------------------------------------------------------------------------- bench


#: ``infomax bench <name>`` subcommands.
BENCH_COMMANDS: dict[str, Command] = {
    "staircase": Command(
        "staircase",
        "bounds on a staircase of known MI levels (Gaussian or cubic)",
        _staircase_arguments,
        _run_staircase,
    ),
    "demi": Command(
        "demi",
        "InfoNCE vs DEMI's decomposed estimators on Gaussians with 10-30 nats",
        _demi_arguments,
        _run_demi,
    ),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``infomax bench``: one subcommand per benchmark of :data:`BENCH_COMMANDS`."""
    add_commands(parser, BENCH_COMMANDS, dest="benchmark", metavar="BENCHMARK")


def run(args: argparse.Namespace) -> int:  # pragma: no cover - a subcommand always runs
    """Never called: argparse dispatches to a benchmark's own runner."""
    raise AssertionError("argparse dispatches to a benchmark")
