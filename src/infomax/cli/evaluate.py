"""``infomax eval RUN_DIR``: arguments and printing (a TCL run goes to :mod:`infomax.tcl.cli`)."""

from __future__ import annotations

import argparse

from infomax.cli.common import add_flags, fraction, plus_minus, positive_int
from infomax.jsonable import dump_json
from infomax.validation import InputError

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``infomax eval`` (TCL's options last)."""
    from infomax.tcl.cli import add_tcl_options

    parser.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by infomax train")
    parser.add_argument(
        "--data",
        help="labeled images with train and test splits, or any labeled folder with "
        "--test-fraction (default: the run's data)",
    )
    parser.add_argument(
        "--test-fraction",
        type=fraction,
        metavar="FRACTION",
        help="for data without a test split (a flat root/<class>/ folder): hold out this "
        "share of the images, chosen by --seed, as the test split; the probe fits the rest",
    )
    parser.add_argument(
        "--probe",
        choices=("linear", "mlp", "knn"),
        default="linear",
        help="linear: logistic regression; mlp: the DIM paper's 200-unit MLP; knn: weighted "
        "200 nearest neighbours on cosine similarity (default: %(default)s)",
    )
    parser.add_argument(
        "--layer",
        choices=("conv", "fc", "y", "local"),
        default="conv",
        help="the encoder's features to probe: conv (the last convolutional map, flattened), "
        "fc (the last hidden vector), y (the output representation), local (the local "
        "feature map of DIM's local objective, flattened) (default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the probe and the split (default: %(default)s)"
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=500,
        help="images per encoding pass (default: %(default)s)",
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ... (default: %(default)s)")
    add_flags(
        parser,
        {
            "--random-init": "probe a randomly initialised encoder of the same shape "
            "(BatchNorm from the data)",
            "--pixels": "probe raw pixels instead",
            "--measures": "also the DIM paper's representation measures on the training "
            "split: I(X; E(X)) and the neural dependency measure of y",
            "--json": "print the result as one JSON object",
            "--no-progress": "never draw a progress bar",
        },
    )
    add_tcl_options(parser, train=False)


def run(args: argparse.Namespace) -> int:
    """Probe the run's encoder (and with ``--measures`` measure it); print the result."""
    from infomax.tcl.cli import is_tcl_run

    if is_tcl_run(args.run_dir):
        from infomax.tcl.cli import run_eval

        return run_eval(args)

    from infomax.evaluation import evaluate_run, format_probe, measure_run, probe_to_json

    if args.pixels and args.random_init:
        raise InputError("--pixels and --random-init cannot be combined")
    progress = False if args.no_progress else None
    result = evaluate_run(
        args.run_dir, args.data, probe=args.probe, layer=args.layer, seed=args.seed,
        batch_size=args.batch_size, device=args.device, random_init=args.random_init,
        pixels=args.pixels, progress=progress, test_fraction=args.test_fraction,
    )  # fmt: skip
    value = probe_to_json(result)
    if args.measures:
        value["measures"] = measure_run(
            args.run_dir, args.data, random_init=args.random_init, seed=args.seed,
            device=args.device, test_fraction=args.test_fraction, progress=progress,
        ).to_dict()  # fmt: skip
    if args.json:
        print(dump_json(value))
        return 0
    print(format_probe(result))
    if args.measures:
        measures = value["measures"]
        print(
            f"I(X; E(X)) >= {measures['mi']:.3f}{plus_minus(measures['mi_stderr'])} nats "
            f"(InfoNCE, pixels reduced to {measures['mi_components']} components); "
            f"neural dependency measure of y: {measures['ndm']:.3f} nats"
        )
    return 0
