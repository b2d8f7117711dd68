"""``infomax train tcl`` and ``infomax eval`` of a TCL run: arguments and runners.

The main command line registers these; they parse and print only.

``train tcl`` fits TCL to ``--data`` with ``--segments`` (a segment length,
or a file of one discrete label per row: the auxiliary variable ``u``) and
writes a run folder: ``tcl.pt`` (the fit), ``features.npy`` (``h(x)`` of
every row: the estimated sufficient statistics, up to an affine map) and
``tcl.json`` (the summary). With ``--sources`` (known sources, synthetic data)
it also reports the MCC. ``eval`` of such a folder reports the MCC of ``h``
on ``--data`` against ``--sources``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from infomax.validation import InputError

__all__ = [
    "TRAIN_DEFAULTS",
    "add_eval_arguments",
    "add_tcl_options",
    "add_train_arguments",
    "is_tcl_run",
    "run_eval",
    "run_train",
]

#: Files of a TCL run folder.
FIT_FILE = "tcl.pt"
SUMMARY_FILE = "tcl.json"
FEATURES_FILE = "features.npy"


def is_tcl_run(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` was written by ``infomax train tcl`` (for ``eval``'s dispatch)."""
    return (Path(run_dir) / FIT_FILE).is_file()


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _widths(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise InputError(
            f"--hidden: expected comma-separated widths like 32,32, got {text!r}"
        ) from None
    if any(w < 1 for w in widths):
        raise InputError(f"--hidden: widths must be positive, got {text!r}")
    return widths


def _labels(spec: str) -> Any:
    """A segment length (an integer) or the labels in a data file."""
    from infomax.io import load_array

    try:
        return int(spec)
    except ValueError:
        return load_array(spec)


def _statistic(args: argparse.Namespace, n_rows: int) -> np.ndarray | None:
    from infomax.io import load_array
    from infomax.tcl.data import sufficient_statistic

    if args.sources is None:
        return None
    sources = np.asarray(load_array(args.sources), dtype=np.float64)
    if sources.ndim == 1:
        sources = sources[:, None]
    if sources.ndim != 2 or len(sources) != n_rows:
        raise InputError(
            f"--sources must have one row per row of --data ({n_rows}), got shape {sources.shape}"
        )
    return sufficient_statistic(sources, _setting(args, "distribution"))


def _scores(features: np.ndarray, statistic: np.ndarray, seed: int) -> dict[str, Any]:
    from infomax.tcl.mcc import linear_mcc, mcc

    fitted = linear_mcc(features, statistic, seed=seed)
    direct = mcc(features, statistic)
    return {
        "mcc": fitted.mcc, "mcc_per_source": fitted.correlations,
        "mcc_direct": direct.mcc, "assignment_direct": direct.assignment,
    }  # fmt: skip


#: Defaults of the settings ``train`` shares with the other methods (its parser leaves them None).
TRAIN_DEFAULTS: dict[str, Any] = {
    "hidden": "64,64", "steps": 6000, "batch_size": 512, "lr": 3e-3, "seed": 0,
    "device": "cpu", "distribution": "laplace",
}  # fmt: skip


def _setting(args: argparse.Namespace, name: str) -> Any:
    value = getattr(args, name, None)
    return TRAIN_DEFAULTS.get(name) if value is None else value


def add_tcl_options(parser: argparse.ArgumentParser, *, train: bool) -> None:
    """The options only TCL has: to add to the shared ``train`` or ``eval`` parser.

    Args:
        parser: the ``train`` (or ``eval``) parser.
        train: add the training options (``--segments``, ``--hidden``, ``--features``) too.
    """
    group = parser.add_argument_group("tcl (nonlinear ICA by time-contrastive learning)")
    if train:
        group.add_argument(
            "--segments", metavar="LENGTH|FILE",
            help="tcl: rows per segment, or a file of one discrete label u per row",
        )  # fmt: skip
        group.add_argument("--hidden", help="tcl: hidden widths of h (default 64,64)")
        group.add_argument("--features", type=_positive_int, help="tcl: features n (default d)")
    group.add_argument(
        "--sources", metavar="FILE", help="tcl: known sources (T, n) of --data: report the MCC"
    )
    group.add_argument(
        "--distribution", choices=("laplace", "gaussian"),
        help="tcl: the sources' family: sufficient statistic |s| (laplace, default) or s^2",
    )  # fmt: skip


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Every argument of ``infomax train tcl`` (for a parser of its own)."""
    parser.add_argument("--data", required=True, metavar="FILE", help="observations x (T, d)")
    add_tcl_options(parser, train=True)
    parser.add_argument("--steps", type=_positive_int, help="Adam steps (6000)")
    parser.add_argument("--batch-size", type=_positive_int, help="rows per step (512)")
    parser.add_argument("--lr", type=float, help="Adam learning rate (3e-3)")
    parser.add_argument("--seed", type=int, help="seed of weights and splits (0)")
    parser.add_argument("--threads", type=_positive_int, help="torch CPU threads")
    parser.add_argument("--device", help="cpu (default), cuda, ...")
    parser.add_argument("--out", metavar="RUN_DIR", help="run folder (default runs/tcl)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")


def run_train(args: argparse.Namespace) -> int:
    """Fit TCL, write the run folder, print the summary."""
    import torch

    from infomax.io import load_array
    from infomax.jsonable import dump_json, write_json_atomic
    from infomax.tcl.fit import fit_tcl, save_fit

    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    if getattr(args, "segments", None) is None:
        raise InputError("train tcl needs --segments LENGTH (rows per segment) or a labels FILE")
    x = load_array(args.data)
    n_rows = len(x)
    distribution = _setting(args, "distribution")
    statistic = _statistic(args, n_rows)
    seed = _setting(args, "seed")
    fit = fit_tcl(
        x, _labels(args.segments), n_features=getattr(args, "features", None),
        hidden=_widths(_setting(args, "hidden")),
        final="abs" if distribution == "laplace" else "square", steps=_setting(args, "steps"),
        batch_size=_setting(args, "batch_size"), lr=_setting(args, "lr"), seed=seed,
        device=_setting(args, "device"),
    )  # fmt: skip
    out = Path(args.out) if args.out else Path("runs") / "tcl"
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    save_fit(fit, out / FIT_FILE)
    features = fit.transform(x)
    np.save(out / FEATURES_FILE, features)
    summary: dict[str, Any] = {
        "data": args.data, "segments": args.segments, "classes": len(fit.classes),
        "heldout_loss": fit.heldout_loss, "heldout_accuracy": fit.heldout_accuracy,
        "mi_lower_bound": fit.mi_lower_bound, "config": fit.config,
    }  # fmt: skip
    if statistic is not None:
        summary["sources"] = args.sources
        summary.update(_scores(features, statistic, seed))
    write_json_atomic(out / SUMMARY_FILE, summary)
    if args.json:
        print(dump_json(summary))
        return 0
    print(
        f"tcl: {len(fit.classes)} classes, held-out cross-entropy {fit.heldout_loss:.4f} nats, "
        f"accuracy {fit.heldout_accuracy:.3f}, I(x; u) >= {fit.mi_lower_bound:.4f} nats"
    )
    if statistic is not None:
        print(
            f"MCC {summary['mcc']:.3f} (affine map, held-out rows), "
            f"{summary['mcc_direct']:.3f} direct"
        )
    print(f"run folder: {out} (features h(x) in {out / FEATURES_FILE}; measure with infomax eval)")
    return 0


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """Every argument of ``infomax eval RUN_DIR`` of a TCL run, but ``RUN_DIR``."""
    parser.add_argument("--data", metavar="FILE", help="observations x (default: the run's)")
    add_tcl_options(parser, train=False)
    parser.add_argument("--seed", type=int, help="seed of the split (and of --random-init)")
    parser.add_argument(
        "--random-init", action="store_true",
        help="score the extractor at a random initialisation (same shape and input scaling)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")


def run_eval(args: argparse.Namespace) -> int:
    """Report the MCC of a TCL run's features against known sources."""
    import json

    import torch

    from infomax.io import load_array
    from infomax.jsonable import dump_json
    from infomax.tcl.fit import build_model, load_fit, transform

    if args.sources is None:
        raise InputError("eval of a TCL run needs --sources FILE (the known sources of --data)")
    run = Path(args.run_dir)
    fit = load_fit(run / FIT_FILE)
    data = args.data
    if data is None:
        summary_path = run / SUMMARY_FILE
        data = json.loads(summary_path.read_text())["data"] if summary_path.is_file() else None
        if data is None:
            raise InputError(f"{run} records no data file; pass --data FILE")
    x = load_array(data)
    features_model = fit.model.features
    seed = _setting(args, "seed")
    if args.random_init:
        torch.manual_seed(seed)
        fresh = build_model(fit.config).features
        fresh.mean.copy_(features_model.mean)
        fresh.std.copy_(features_model.std)
        features_model = fresh
    if getattr(args, "distribution", None) is None:  # the family the run was trained for
        args.distribution = "gaussian" if fit.config["final"] == "square" else "laplace"
    statistic = _statistic(args, len(x))
    assert statistic is not None
    result = {"data": data, "sources": args.sources, "random_init": args.random_init}
    result.update(_scores(transform(features_model, x), statistic, seed))
    if args.json:
        print(dump_json(result))
        return 0
    which = "random-init extractor" if args.random_init else "TCL features"
    print(
        f"{which}: MCC {result['mcc']:.3f} (affine map fitted on half the rows, read on the "
        f"other half), {result['mcc_direct']:.3f} direct; per source "
        + " ".join(f"{v:.3f}" for v in result["mcc_per_source"])
    )
    return 0
