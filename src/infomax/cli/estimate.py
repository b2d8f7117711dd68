"""``infomax estimate X Y [--given Z]``: arguments and printing."""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np

from infomax.cli.common import (
    LazyHelp,
    add_flags,
    fraction,
    options,
    plus_minus,
    positive_int,
    print_warning,
)
from infomax.io import load_array
from infomax.jsonable import dump_json
from infomax.validation import InputError, validate_subviews

__all__ = ["add_arguments", "run"]


def _bound_help() -> str:
    """``--bound``'s help from the bound registry (torch modules: read only to print help)."""
    from infomax.bounds import describe

    return f"estimator: {describe()}; or the non-neural ksg and gaussian"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``infomax estimate``."""
    parser.add_argument("x", metavar="X", help="samples of X: data.npy, data.npz:key, data.csv:a,b")
    parser.add_argument("y", metavar="Y", help="samples of Y, paired row by row with X")
    parser.add_argument("--bound", help=LazyHelp(_bound_help))  # type: ignore[arg-type]
    parser.add_argument(
        "--critic",
        help="critic: auto (default: the quadratic and separable ones race, joined by grid "
        "where X and Y have one column each), quadratic, separable, grid, bilinear or concat",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        help="training batch size (default 512; on small data the largest that leaves "
        "each held-out set an evaluation batch)",
    )
    parser.add_argument("--steps", type=positive_int, help="maximum training steps")
    parser.add_argument("--seed", type=int, help="random seed (split, initialisation, batches)")
    parser.add_argument(
        "--init",
        choices=("elliptical", "gaussian", "none"),
        help="start of the quadratic critic: the best of a Gaussian and Student-t copulas "
        "fitted to the data (elliptical, default), the Gaussian one, or zero (none)",
    )
    parser.add_argument(
        "--heldout",
        type=fraction,
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
        help="estimator of the conditional terms (with --subviews or --given; "
        "var with --subviews only)",
    )
    parser.add_argument(
        "--given", metavar="Z", help="estimate the conditional MI I(X; Y | Z) given samples of Z"
    )
    parser.add_argument(
        "--repeats",
        type=positive_int,
        metavar="R",
        help="run the estimate R times on fresh splits and report their mean, with a 90%% "
        "interval from their spread that covers retraining (R times the time)",
    )
    parser.add_argument(
        "--k", type=positive_int, help="KSG: neighbours (default 3); with --bound ksg only"
    )
    parser.add_argument(
        "--jitter",
        type=_jitter,
        metavar="auto|FRACTION",
        help="KSG: noise added to break tied values, in column standard deviations "
        "(default auto: 1e-5 where a column has ties, said in the output; 0: none)",
    )
    add_flags(
        parser,
        {
            "--json": "print the result as one JSON object",
            "--no-progress": "never draw a progress bar",
        },
    )


def _x_width(x: np.ndarray) -> int:
    if x.ndim == 2:
        return x.shape[1]
    if x.ndim <= 1:
        return 1
    # X has too many dimensions; the estimator reports that. Only check the sizes' form here.
    return sys.maxsize


def _jitter(text: str) -> float | str:
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto or a number, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected auto or a number >= 0, got {text!r}")
    return value


#: Options that only the neural estimators read, and the ones only KSG reads.
NEURAL_ONLY = (
    "critic",
    "batch_size",
    "steps",
    "init",
    "heldout",
    "subviews",
    "conditional",
    "repeats",
)
KSG_ONLY = ("k", "jitter")


def ignored_options(args: argparse.Namespace) -> list[str]:
    """Warnings for options that the chosen estimator does not read."""
    from infomax.objectives.critic import REFERENCE_BOUNDS

    reference = args.bound in REFERENCE_BOUNDS
    unused = KSG_ONLY if args.bound != "ksg" else ()
    if reference:
        unused = (*unused, *NEURAL_ONLY)
    flags = [f"--{name.replace('_', '-')}" for name in unused if getattr(args, name) is not None]
    if not flags:
        return []
    estimator = args.bound if reference else "the neural estimators"
    verb = "does" if len(flags) == 1 else "do"
    return [f"{', '.join(flags)} {verb} not apply to {estimator}; ignored"]


def _estimate_options(args: argparse.Namespace) -> dict[str, object]:
    from infomax.objectives.critic import REFERENCE_BOUNDS

    kwargs = options(args, ("bound", "critic", "batch_size", "steps", "seed", "heldout", "repeats"))
    if args.bound in REFERENCE_BOUNDS:
        kwargs = options(args, ("bound",))
        if args.bound == "ksg":
            kwargs.update(options(args, KSG_ONLY))
        return kwargs
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
    return kwargs


def run(args: argparse.Namespace) -> int:
    """Estimate I(X; Y) (or I(X; Y | Z)) and print it (nats and bits, or JSON)."""
    kwargs = _estimate_options(args)
    for warning in ignored_options(args):
        print_warning(warning)
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
        print_warning(str(warning))
    if args.json:
        print(dump_json(result.to_dict()))
        return 0
    label = "I(X; Y | Z)" if args.given is not None else "I(X; Y)"
    bits = 1.0 / math.log(2)
    print(
        f"{label} = {result.mi:.4f}{plus_minus(result.stderr)} nats "
        f"= {result.mi * bits:.4f}{plus_minus(result.stderr * bits)} bits"
    )
    if result.ci90 is not None:
        low, high = result.ci90
        covers = (
            f"the spread of {len(result.info['repeats'])} repeats and the rows' sampling error"
            if "repeats" in result.info
            else "the read-out's sampling variance"
        )
        trained = result.info.get("training_readout")
        heldout = result.info.get("heldout_estimate")
        if trained is not None and heldout is not None:
            covers += (
                f"; from the held-out read-out, {heldout:.4f}, up to at least the critic's "
                f"read-out on its training rows, {trained:.4f}"
            )

        print(f"90% interval: {low:.4f} to {high:.4f} nats ({covers})")
    print(f"bound: {result.bound}")
    candidates = result.info.get("critic_candidates")
    if candidates:
        steps = result.info.get("critic_steps", {})
        raced = ", ".join(
            f"{name} {value:.4f} "
            + (
                "(fitted, not trained)"
                if steps.get(name) == 0
                else f"after {steps.get(name, '?')} steps"
            )
            for name, value in candidates.items()
        )
        print(f"critic: {result.info['critic']} (best on the validation rows: {raced})")
        blended = result.info.get("blend")
        if blended:
            print(
                f"blended with {blended['critic']} at weight {blended['weight']:g}: "
                f"{blended['validation']:.4f} on the validation rows"
            )
    start = result.info.get("start")
    if start is not None:
        dof = result.info.get("start_dof")
        described = (
            f"Student-t copula, dof {dof:g}"
            if dof
            else "none (no copula beat the critic at zero on the validation rows)"
            if start == "none"
            else f"{start} copula"
        )
        print(f"start: {described}")
    if result.n_train > 0:
        print(f"samples: {result.n_train} to fit, {result.n_heldout} held out for the estimate")
    else:
        print(f"samples: {result.n_heldout} (nothing fitted)")
    if result.terms:
        print("chain-rule terms:")
        for term in result.terms:
            print(f"  {term['name']}: {term['mi']:.4f}{plus_minus(term['stderr'])} nats")
    return 0
