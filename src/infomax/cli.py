"""The ``infomax`` command.

Usage::

    infomax estimate X Y [--bound NAME] [--critic NAME] [--json] ...
    infomax estimate X Y --given Z            # conditional MI I(X; Y | Z)
    infomax bench staircase [--bound infonce,smile] [--json] ...
    infomax --version

``X``, ``Y`` and ``Z`` are data-file specs read by :func:`infomax.io.load_array`
(``data.npy``, ``data.npz:key``, ``data.csv:col1,col2``).

Bad input (a missing file, NaN rows, an unknown bound, ...) ends with one line
``infomax: error: <message>`` on stderr and exit status 2; anything else that
goes wrong is a bug and keeps its traceback.

Adding a command: write ``_<name>_arguments(parser)`` and ``_run_<name>(args)
-> int`` and add a :class:`Command` to :data:`COMMANDS` (or, for a benchmark,
to :data:`BENCH_COMMANDS`). Import torch-heavy modules inside ``_run_<name>``
so ``infomax --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from infomax.io import load_array
from infomax.jsonable import dump_json
from infomax.validation import InputError, validate_subviews

__all__ = ["BENCH_COMMANDS", "COMMANDS", "Command", "build_parser", "main"]

#: Exit status for bad input and usage errors (as argparse uses).
EXIT_USAGE = 2


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, one-line help, argument builder and runner.

    Attributes:
        name: what the user types (``estimate``).
        help: one line for ``infomax --help``.
        add_arguments: adds the command's arguments to its parser.
        run: carries out the command on the parsed arguments; returns the
            exit status.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


class _UsageError(Exception):
    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser
        self.message = message


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises on usage errors, so :func:`main` returns a status."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(self, message)


# --------------------------------------------------------------------------- helpers


def _one_line(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return " ".join(lines)


def _print_error(message: str) -> None:
    print(f"infomax: error: {_one_line(message)}", file=sys.stderr)


def _print_warning(message: str) -> None:
    print(f"infomax: warning: {_one_line(message)}", file=sys.stderr)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a fraction strictly between 0 and 1, got {text}")
    return value


def _name_list(text: str, what: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise InputError(f"{what}: empty name in {text!r}; separate names with single commas")
    return names


def _jsonable(value: Any) -> Any:
    """``value`` with numpy types made plain and non-finite floats made ``None``."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value


def _dump_json(value: Any) -> str:
    """Strict JSON (NaN and inf become ``null``)."""
    return json.dumps(_jsonable(value), allow_nan=False)


def _options(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    """The options among ``names`` the user set (argparse default ``None`` means unset)."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


# --------------------------------------------------------------------------- estimate


def _estimate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("x", metavar="X", help="samples of X: data.npy, data.npz:key, data.csv:a,b")
    parser.add_argument("y", metavar="Y", help="samples of Y, paired row by row with X")
    parser.add_argument(
        "--bound",
        help="estimator: contrastive_dv (default: InfoNCE + DV training, DV over all test "
        "pairs), smile, infonce, nwj, tuba, dv, mine, jsd, interpolated, or the non-neural "
        "ksg and gaussian",
    )
    parser.add_argument(
        "--critic", help="critic: quadratic (default), separable, bilinear or concat"
    )
    parser.add_argument("--batch-size", type=_positive_int, help="training batch size")
    parser.add_argument("--steps", type=_positive_int, help="maximum training steps")
    parser.add_argument("--seed", type=int, help="random seed (split, initialisation, batches)")
    parser.add_argument(
        "--init",
        choices=("elliptical", "gaussian", "none"),
        help="start of the quadratic critic: the best of a Gaussian and Student-t copulas "
        "fitted to the data (elliptical, default), the Gaussian one, or zero (none)",
    )
    parser.add_argument(
        "--heldout",
        type=_fraction,
        metavar="FRACTION",
        help="fraction of rows held out to choose the checkpoint and report the estimate "
        "(at most 10,000 and 30,000 rows; the rest train)",
    )
    parser.add_argument(
        "--subviews",
        metavar="K1,K2,...",
        help="DEMI chain rule over nested prefixes of X's columns, e.g. 5,10 for a 15-column X",
    )
    parser.add_argument(
        "--conditional",
        choices=("is", "bo", "var"),
        help="estimator of the conditional terms (with --subviews or --given)",
    )
    parser.add_argument(
        "--given", metavar="Z", help="estimate the conditional MI I(X; Y | Z) given samples of Z"
    )
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument("--no-progress", action="store_true", help="never draw a progress bar")


def _plus_minus(stderr: float) -> str:
    """`` ± 0.0123``, or `` ± n/a`` where there is no standard error (one held-out batch)."""
    return f" ± {stderr:.4f}" if math.isfinite(stderr) else " ± n/a"


def _x_width(x: np.ndarray) -> int:
    if x.ndim == 2:
        return x.shape[1]
    if x.ndim <= 1:
        return 1
    # X has too many dimensions; the estimator reports that. Only check the sizes' form here.
    return sys.maxsize


def _run_estimate(args: argparse.Namespace) -> int:
    kwargs = _options(args, ("bound", "critic", "batch_size", "steps", "seed", "heldout"))
    if args.init is not None:
        kwargs["init"] = None if args.init == "none" else args.init
    if args.subviews is not None and args.given is not None:
        raise InputError(
            "--subviews and --given cannot be combined: --given Z already splits the "
            "estimate into I(Z; Y) and I(X; Y | Z)"
        )
    if args.conditional is not None:
        if args.subviews is None and args.given is None:
            raise InputError(
                "--conditional chooses the estimator of conditional terms; "
                "it needs --subviews or --given"
            )
        kwargs["conditional"] = args.conditional
    x = load_array(args.x)
    y = load_array(args.y)
    if args.subviews is not None:
        kwargs["subviews"] = validate_subviews(args.subviews, _x_width(x))
    progress = False if args.no_progress else None

    from infomax.estimate import estimate_cmi, estimate_mi

    if args.given is not None:
        z = load_array(args.given)
        result = estimate_cmi(x, y, z, progress=progress, **kwargs)
    else:
        result = estimate_mi(x, y, progress=progress, **kwargs)

    for warning in result.info.get("warnings", []):
        _print_warning(str(warning))
    if args.json:
        print(_dump_json(result.to_dict()))
        return 0
    label = "I(X; Y | Z)" if args.given is not None else "I(X; Y)"
    bits = 1.0 / math.log(2)
    print(
        f"{label} = {result.mi:.4f}{_plus_minus(result.stderr)} nats "
        f"= {result.mi * bits:.4f}{_plus_minus(result.stderr * bits)} bits"
    )
    print(f"bound: {result.bound}")
    start = result.info.get("start")
    if start is not None:
        dof = result.info.get("start_dof")
        described = f"Student-t copula, dof {dof:g}" if dof else f"{start} copula"
        print(f"start: {described}")
    if result.n_train > 0:
        print(f"samples: {result.n_train} to fit, {result.n_heldout} held out for the estimate")
    else:
        print(f"samples: {result.n_heldout} (nothing fitted)")
    if result.terms:
        print("chain-rule terms:")
        for term in result.terms:
            print(f"  {term['name']}: {term['mi']:.4f}{_plus_minus(term['stderr'])} nats")
    return 0


# --------------------------------------------------------------------------- bench


def _staircase_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bound", metavar="A,B,...", help="bounds to compare, comma-separated (e.g. infonce,smile)"
    )
    parser.add_argument("--critic", choices=("separable", "concat"), help="critic architecture")
    parser.add_argument("--steps-per-stage", type=_positive_int, help="training steps per MI level")
    parser.add_argument("--batch-size", type=_positive_int, help="training batch size")
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
        type=_positive_int,
        help="torch CPU threads (default: the cores the 1-minute load average leaves idle, "
        "at least 1, at most torch's default)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


@contextmanager
def _torch_threads(count: int | None) -> Iterator[None]:
    """Run the block with ``count`` torch CPU threads (None: as they are), then restore them."""
    import torch

    previous = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _run_staircase(args: argparse.Namespace) -> int:
    kwargs = _options(args, ("critic", "steps_per_stage", "batch_size", "seed", "precision"))
    if args.bound is not None:
        kwargs["bounds"] = _name_list(args.bound, "--bound")
    if args.cubic:
        kwargs["cubic"] = True
    out = _out_dir(args.out)
    if out is not None:
        kwargs["out"] = out

    import torch

    from infomax.bench.plots import plot_or_skip, plot_staircase
    from infomax.bench.process import idle_cores, keep_freed_memory
    from infomax.bench.staircase import format_table, result_to_json, run_staircase

    keep_freed_memory()  # the stacked model's temporaries otherwise page-fault back every step
    threads = args.threads or idle_cores(torch.get_num_threads())
    with _torch_threads(threads):
        result = run_staircase(**kwargs)
    print(dump_json(result_to_json(result)) if args.json else format_table(result), flush=True)
    if out is not None:
        plot_or_skip(plot_staircase, result, out / "staircase.png")  # after the table
    return 0


def _number_list(text: str, what: str, kind: type) -> list[Any]:
    try:
        return [kind(v) for v in _name_list(text, what)]
    except ValueError:
        raise InputError(f"{what}: expected comma-separated numbers, got {text!r}") from None


def _demi_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mi", metavar="A,B,...", help="true MI values, nats (default 10,20,30)")
    parser.add_argument("--batch-size", metavar="K,...", help="batch sizes K (default 64,128)")
    parser.add_argument(
        "--subviews", metavar="N,...", help="numbers of nested sub-views n (default 1,2,4,5)"
    )
    parser.add_argument(
        "--estimators", metavar="A,B,...", help="conditional estimators (default oracle,is,bo,var)"
    )
    parser.add_argument(
        "--steps", type=_positive_int, help="training steps per cell (default 2000)"
    )
    parser.add_argument(
        "--out", metavar="DIR", help="write demi.json and (with matplotlib) demi.png into DIR"
    )
    parser.add_argument("--seed", type=int, help="random seed")
    parser.add_argument(
        "--threads", type=_positive_int, help="torch CPU threads (default: torch's default)"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--shared-critics",
        action="store_true",
        help="one critic network for all chain-rule terms (default: one per term)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="reuse the cells already in DIR/demi.json (same --steps and --seed)",
    )
    parser.add_argument(
        "--merge",
        metavar="FILE,...",
        help="train nothing: merge demi.json files of earlier runs into one table (and --out)",
    )


def _out_dir(text: str | None) -> Path | None:
    if text is None:
        return None
    if Path(text).exists() and not Path(text).is_dir():
        raise InputError(f"--out {text} exists and is not a directory")
    return Path(text)


def _merge_demi(args: argparse.Namespace) -> int:
    from infomax.bench.demi import merge_demi_results, save_demi

    results = []
    for name in _name_list(args.merge, "--merge"):
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
    out = _out_dir(args.out)
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
    kwargs: dict[str, Any] = _options(args, ("steps", "seed"))
    if args.mi is not None:
        kwargs["mis"] = _number_list(args.mi, "--mi", float)
    if args.batch_size is not None:
        kwargs["batches"] = _number_list(args.batch_size, "--batch-size", int)
    if args.subviews is not None:
        kwargs["views"] = _number_list(args.subviews, "--subviews", int)
    if args.estimators is not None:
        kwargs["estimators"] = _name_list(args.estimators, "--estimators")
    kwargs["out"] = _out_dir(args.out)
    if args.resume and kwargs["out"] is None:
        raise InputError("--resume needs --out DIR (the run to resume)")
    kwargs["resume"] = args.resume
    kwargs["shared_critics"] = args.shared_critics

    from infomax.bench.demi import run_demi

    with _torch_threads(args.threads):
        result = run_demi(**kwargs)
    _print_demi(args, result, kwargs["out"])
    return 0


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="DIR", default="runs/demo", help="where to write the plot")
    parser.add_argument("--steps", type=_positive_int, help="training steps per estimator")
    parser.add_argument(
        "--threads", type=_positive_int, default=1, help="torch CPU threads (default 1)"
    )


def _run_demo(args: argparse.Namespace) -> int:
    from infomax.bench.demo import run_demo

    with _torch_threads(args.threads):
        return run_demo(out=_out_dir(args.out), **_options(args, ("steps",)))


# --------------------------------------------------------------------------- train


def _key_values(text: str) -> dict[str, Any]:
    """``a=1,b=jsd`` -> {"a": 1, "b": "jsd"} (numbers and booleans parsed)."""
    values: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"expected NAME=VALUE in {text!r}, got {item!r}")
        value: Any = raw.strip()
        if "/" in value:
            values[key.strip().replace("-", "_")] = [_scalar(part) for part in value.split("/")]
            continue
        values[key.strip().replace("-", "_")] = _scalar(value)
    return values


def _scalar(value: str) -> Any:
    """ "3" -> 3, "0.5" -> 0.5, "true" -> True, anything else stays a string."""
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value


def _train_arguments(parser: argparse.ArgumentParser) -> None:
    from infomax.methods import METHODS

    parser.add_argument(
        "method", metavar="METHOD", help=f"one of {', '.join(METHODS)}, or cpc-seq for sequences"
    )
    parser.add_argument(
        "--data",
        required=True,
        help="image folder, .tar(.gz) of one, cifar10, cifar100 or digits; for cpc-seq: "
        "markov (built-in) or an (N, T, D) .npy / .npz with x (and labels)",
    )
    parser.add_argument(
        "--encoder", help="dim-conv (default), resnet18, mlp, or patch-dim (cpc's default)"
    )
    budget = parser.add_argument_group("budget (the first reached stops the run)")
    budget.add_argument("--epochs", type=_positive_int, help="passes over the data")
    budget.add_argument("--minutes", type=float, help="minutes of training")
    budget.add_argument("--steps", type=_positive_int, help="optimiser steps")
    parser.add_argument("--batch-size", type=_positive_int, help="images per step (default 128)")
    parser.add_argument("--lr", type=float, help="Adam learning rate (default 1e-3)")
    parser.add_argument("--seed", type=int, help="seed of weights, views and data order")
    parser.add_argument("--image-size", type=_positive_int, help="resize images to this side")
    parser.add_argument("--augment", help="augmentation preset replacing the method's own")
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
    parser.add_argument("--out", metavar="RUN_DIR", help="run folder (default runs/METHOD)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--threads", type=_positive_int, help="torch CPU threads")
    parser.add_argument("--device", help="cpu (default), cuda, cuda:1, ...")
    parser.add_argument("--precision", choices=("fp32", "bf16"), help="fp32 (default) or bf16")
    parser.add_argument("--log-every", type=_positive_int, help="steps between log lines (50)")
    parser.add_argument("--no-probe", action="store_true", help="skip the online linear probe")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--no-progress", action="store_true", help="never draw a progress bar")


def _run_train(args: argparse.Namespace) -> int:
    from infomax.train import TrainConfig, result_to_json, train

    options = _key_values(args.option) if args.option else {}
    if args.estimator is not None:
        options["estimator"] = args.estimator
    if args.subview is not None:
        options["subview"] = args.subview
    settings_encoder = _key_values(args.encoder_option) if args.encoder_option else {}
    settings = _options(
        args,
        ("encoder", "epochs", "minutes", "batch_size", "lr", "seed", "image_size", "augment",
         "threads", "device", "precision", "log_every"),
    )  # fmt: skip
    if args.steps is not None:
        settings["max_steps"] = args.steps
    if not any(key in settings for key in ("epochs", "minutes", "max_steps")):
        settings["epochs"] = 10
    config = TrainConfig(
        method=args.method, data=args.data, method_options=options, probe=not args.no_probe,
        encoder_options=settings_encoder, **settings,
    )  # fmt: skip
    out = Path(args.out) if args.out else Path("runs") / args.method
    result = train(config, out, resume=args.resume, progress=False if args.no_progress else None)
    if result.signal is None:
        from infomax.distributed import leave

        leave()  # under torchrun: exit the process group cleanly
    if args.json:
        print(_dump_json(result_to_json(result)))
    else:
        rate = f"{result.images_per_second:.0f} images/s"
        print(
            f"{args.method}: {result.steps} steps, {result.epochs_done} epochs, "
            f"{result.seconds / 60:.1f} min, {rate} ({result.view_share:.0%} making views), "
            f"stopped by {result.stopped}"
        )
        shown = {
            k: v
            for k, v in result.last.items()
            if k.startswith("mi") or k.endswith(("mi", "accuracy", "loss"))
        }
        print("last: " + ", ".join(f"{k}={v:.4f}" for k, v in shown.items()))
        print(f"run folder: {out} (continue with --resume; measure with infomax eval {out})")
    if result.signal is not None:
        return 128 + result.signal
    return 0


# --------------------------------------------------------------------------- eval


def _eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by infomax train")
    parser.add_argument(
        "--data", help="labeled data with train and test splits (default: the run's)"
    )
    parser.add_argument("--probe", choices=("linear", "mlp", "knn"), default="linear")
    parser.add_argument("--layer", choices=("conv", "fc", "y", "local"), default="conv")
    parser.add_argument("--seed", type=int, default=0, help="seed of the probe")
    parser.add_argument("--batch-size", type=_positive_int, default=500, help="encoding batch size")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, ...")
    parser.add_argument(
        "--random-init",
        action="store_true",
        help="probe a randomly initialised encoder of the same shape (BatchNorm from the data)",
    )
    parser.add_argument("--pixels", action="store_true", help="probe raw pixels instead")
    parser.add_argument(
        "--measures",
        action="store_true",
        help="also the DIM paper's representation measures on the training split: "
        "I(X; E(X)) and the neural dependency measure of y",
    )
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument("--no-progress", action="store_true", help="never draw a progress bar")


def _run_eval(args: argparse.Namespace) -> int:
    from infomax.evaluate import evaluate_run, format_probe, probe_to_json

    if args.pixels and args.random_init:
        raise InputError("--pixels and --random-init cannot be combined")
    progress = False if args.no_progress else None
    result = evaluate_run(
        args.run_dir, args.data, probe=args.probe, layer=args.layer, seed=args.seed,
        batch_size=args.batch_size, device=args.device, random_init=args.random_init,
        pixels=args.pixels, progress=progress,
    )  # fmt: skip
    value = probe_to_json(result)
    if args.measures:
        value["measures"] = _representation_measures(args, progress)
    if args.json:
        print(_dump_json(value))
        return 0
    print(format_probe(result))
    if args.measures:
        measures = value["measures"]
        print(
            f"I(X; E(X)) >= {measures['mi']:.3f}{_plus_minus(measures['mi_stderr'])} nats "
            f"(InfoNCE, pixels reduced to {measures['mi_components']} components); "
            f"neural dependency measure of y: {measures['ndm']:.3f} nats"
        )
    return 0


def _representation_measures(args: argparse.Namespace, progress: bool | None) -> dict[str, Any]:
    import torch

    from infomax.checkpoint import build_encoder, load_encoder, read_config
    from infomax.data import load_dataset
    from infomax.evaluate import (
        extract_features,
        neural_dependency_measure,
        pixel_features,
        representation_mi,
    )

    if args.random_init:
        config = read_config(args.run_dir)
        torch.manual_seed(args.seed)
        encoder = build_encoder(config).eval()
    else:
        encoder, config = load_encoder(args.run_dir, map_location=args.device)
    # The training split: the measures describe the representation, and the estimator wants samples.
    data = load_dataset(args.data or config["data"], "train", size=tuple(config["image_size"]))
    y, _ = extract_features(
        encoder, data, "y", mean=config["mean"], std=config["std"], device=args.device,
        progress=progress,
    )  # fmt: skip
    pixels, _ = pixel_features(data, mean=config["mean"], std=config["std"])
    components = 64
    batch = max(16, min(512, len(y) // 10))
    # InfoNCE: a stable lower bound (capped at log of the evaluation batch), where DV-type
    # read-outs of a deterministic map swing by nats on a few thousand images.
    estimate = representation_mi(
        pixels, y, components=components, seed=args.seed, batch_size=batch, bound="infonce",
        progress=progress,
    )  # fmt: skip
    return {
        "mi": estimate.mi,
        "mi_stderr": estimate.stderr,
        "mi_components": components,
        "ndm": neural_dependency_measure(y, seed=args.seed),
        "n": len(y),
    }


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


def _bench_arguments(parser: argparse.ArgumentParser) -> None:
    _add_commands(parser, BENCH_COMMANDS, dest="benchmark", metavar="BENCHMARK")


def _run_bench(args: argparse.Namespace) -> int:  # pragma: no cover - a subcommand always runs
    raise AssertionError("argparse dispatches to a benchmark")


#: ``infomax <name>`` commands.
COMMANDS: dict[str, Command] = {
    "estimate": Command(
        "estimate",
        "estimate I(X; Y) (or I(X; Y | Z)) from data files",
        _estimate_arguments,
        _run_estimate,
    ),
    "bench": Command(
        "bench", "run a benchmark with known ground truth", _bench_arguments, _run_bench
    ),
    "train": Command(
        "train",
        "learn an encoder by maximising MI (dim-local, dim-global, dim, simclr, demi, "
        "multiview, cpc, cpc-seq)",
        _train_arguments,
        _run_train,
    ),
    "eval": Command(
        "eval",
        "probe a trained encoder's frozen features (linear, MLP, kNN)",
        _eval_arguments,
        _run_eval,
    ),
    "demo": Command(
        "demo",
        "a 3-minute tour: InfoNCE's log K cap and how DEMI's decomposition passes it",
        _demo_arguments,
        _run_demo,
    ),
}


# --------------------------------------------------------------------------- parser and main


def _add_commands(
    parser: argparse.ArgumentParser, commands: dict[str, Command], *, dest: str, metavar: str
) -> None:
    subparsers = parser.add_subparsers(dest=dest, metavar=metavar, required=True)
    for command in commands.values():
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        sub.set_defaults(run=command.run)
        command.add_arguments(sub)


def build_parser() -> argparse.ArgumentParser:
    """The ``infomax`` argument parser with every command of :data:`COMMANDS`."""
    from infomax import __version__

    parser = _Parser(
        prog="infomax",
        description="Mutual-information estimation and contrastive representation learning.",
    )
    parser.add_argument("--version", action="version", version=f"infomax {__version__}")
    _add_commands(parser, COMMANDS, dest="command", metavar="COMMAND")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``infomax`` command line.

    Args:
        argv: the arguments after the program name (default ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 for bad input or usage (after one
        ``infomax: error: ...`` line on stderr), 130 when interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        sys.stderr.write(exc.parser.format_usage())
        _print_error(exc.message)
        return EXIT_USAGE
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else 0
    try:
        return args.run(args)
    except ValueError as exc:  # InputError included: bad data files, arrays or options
        _print_error(str(exc) or type(exc).__name__)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("infomax: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
