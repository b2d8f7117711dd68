"""The ``infomax`` command.

Usage::

    infomax estimate X Y [--bound NAME] [--critic NAME] [--json] ...
    infomax estimate X Y --given Z            # conditional MI I(X; Y | Z)
    infomax bench staircase [--bound infonce,smile] [--json] ...
    infomax train METHOD --data DIR ...       # also: train tcl, train pair, train word2vec
    infomax eval RUN_DIR ...
    infomax --version

``X``, ``Y`` and ``Z`` are data-file specs read by :func:`infomax.io.load_array`
(``data.npy``, ``data.npz:key``, ``data.csv:col1,col2``).

Bad input (a missing file, NaN rows, an unknown bound, ...) ends with one line
``infomax: error: <message>`` on stderr and exit status 2; anything else that
goes wrong is a bug and keeps its traceback.

The package parses and prints only; the work is the library's:

==============  ==================================================================
module          what it holds
==============  ==================================================================
``common``      the parser class, :class:`Command`, error lines, option-value parsers
``estimate``    ``infomax estimate``
``bench``       ``infomax bench staircase|demi`` and ``infomax demo``
``train``       ``infomax train`` (and the routes to ``train pair`` / ``train word2vec``)
``evaluate``    ``infomax eval``
==============  ==================================================================

Adding a command: write ``add_arguments(parser)`` and ``run(args) -> int`` in a
module here and add a :class:`Command` to :data:`COMMANDS` (or, for a benchmark,
to :data:`infomax.cli.bench.BENCH_COMMANDS`). Import torch-heavy modules inside
the functions: a command's arguments are added only when that command is used,
so building the parser (and ``infomax --help``) imports no torch.
"""

from __future__ import annotations

import argparse
import sys

from infomax.cli import bench, estimate, evaluate, train
from infomax.cli.bench import BENCH_COMMANDS
from infomax.cli.common import EXIT_USAGE, Command, Parser, UsageError, add_commands, print_error

__all__ = ["BENCH_COMMANDS", "COMMANDS", "EXIT_USAGE", "Command", "build_parser", "main"]

#: ``infomax <name>`` commands.
COMMANDS: dict[str, Command] = {
    "estimate": Command(
        "estimate",
        "estimate I(X; Y) (or I(X; Y | Z)) from data files",
        estimate.add_arguments,
        estimate.run,
    ),
    "bench": Command(
        "bench", "run a benchmark with known ground truth", bench.add_arguments, bench.run
    ),
    "train": Command(
        "train",
        "learn an encoder by maximising MI (dim-local, dim-global, dim, simclr, demi, "
        "multiview, cpc, cpc-seq), fit TCL (tcl), or train pair / word2vec",
        train.add_arguments,
        train.run,
    ),
    "eval": Command(
        "eval",
        "probe a trained encoder's frozen features (linear, MLP, kNN), or score a TCL run",
        evaluate.add_arguments,
        evaluate.run,
    ),
    "demo": Command(
        "demo",
        "a 3-minute tour: InfoNCE's log K cap and how DEMI's decomposition passes it",
        bench.add_demo_arguments,
        bench.run_demo,
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """The ``infomax`` argument parser with every command of :data:`COMMANDS`."""
    from infomax import __version__

    parser = Parser(
        prog="infomax",
        description="Mutual-information estimation and contrastive representation learning.",
    )
    parser.add_argument("--version", action="version", version=f"infomax {__version__}")
    add_commands(parser, COMMANDS, dest="command", metavar="COMMAND")
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
    except UsageError as exc:
        sys.stderr.write(exc.parser.format_usage())
        print_error(exc.message)
        return EXIT_USAGE
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else 0
    try:
        return args.run(args)
    except ValueError as exc:  # InputError included: bad data files, arrays or options
        print_error(str(exc) or type(exc).__name__)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("infomax: interrupted", file=sys.stderr)
        return 130
