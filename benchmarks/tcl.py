"""TCL against FastICA and a random extractor on nonstationary nonlinear mixtures.

For each number of mixing layers L and number of segments K (the total
number of rows fixed, so more segments means shorter ones), 5 Laplace sources
with segment-wise scales are mixed by a random leaky-ReLU MLP
(:func:`infomax.tcl.make_nonstationary_mixture`). Three feature sets are read
out the same way, by :func:`infomax.tcl.linear_mcc` (an affine map to ``|s|``
fitted on half the rows, the matched mean correlation on the other half):

* TCL: the extractor (L hidden leaky-ReLU layers, abs-valued output) after
  training the segment classifier;
* FastICA (scikit-learn) on x: ``|y|`` of its 5 components;
* random: the same extractor at its random initialisation.

With ``--features 10`` the extractor has twice as many outputs as there are
sources (an overcomplete ``h``; the affine map then has 10 inputs, and so has
the random baseline's). A one-layer extractor with one output per source
sometimes settles with a source left out; the spare outputs avoid that.

The MCC without the affine map (:func:`infomax.tcl.mcc` of the features and
``|s|`` directly) is recorded too.

Usage::

    .venv/bin/python benchmarks/tcl.py [--layers 1,2,3] [--segments 16,64,256] [--seeds 0]
    .venv/bin/python benchmarks/tcl.py --features 10 --out benchmarks/results/tcl-overcomplete.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import FastICA

from _record import write_result
from infomax.tcl import (
    TCLFeatures,
    fit_tcl,
    linear_mcc,
    make_nonstationary_mixture,
    mcc,
    transform,
)

#: The issue's goals: MCC per number of mixing layers, and the margin over FastICA.
GOALS = {1: 0.9, 2: 0.85, 3: 0.75}
MARGIN = 0.2


def _scores(features: np.ndarray, statistic: np.ndarray, seed: int) -> dict[str, float]:
    return {
        "mcc": linear_mcc(features, statistic, seed=seed).mcc,
        "mcc_direct": mcc(features, statistic).mcc,
    }


def run_cell(layers: int, segments: int, seed: int, args: argparse.Namespace) -> dict:
    """One (L, K, seed) cell: TCL, FastICA and random features, scored alike."""
    data = make_nonstationary_mixture(
        args.sources, segments, args.rows // segments, layers, seed=seed
    )
    statistic = data.statistic
    hidden = (args.width,) * layers
    start = time.perf_counter()
    fit = fit_tcl(
        data.x, args.rows // segments, hidden=hidden, steps=args.steps,
        batch_size=args.batch_size, lr=args.lr, seed=seed, n_features=args.features,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    tcl = _scores(fit.transform(data.x), statistic, seed)
    ica = FastICA(args.sources, whiten="unit-variance", random_state=seed, max_iter=1000)
    fastica = _scores(np.abs(ica.fit_transform(data.x)), statistic, seed)
    torch.manual_seed(seed)
    random = _scores(
        transform(TCLFeatures(args.sources, args.features or args.sources, hidden), data.x),
        statistic,
        seed,
    )
    return {
        "layers": layers, "segments": segments, "segment_length": args.rows // segments,
        "seed": seed, "tcl": tcl, "fastica": fastica, "random": random,
        "margin": tcl["mcc"] - fastica["mcc"], "heldout_accuracy": fit.heldout_accuracy,
        "mi_lower_bound": fit.mi_lower_bound, "train_seconds": seconds,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default="1,2,3", help="mixing layers L")
    parser.add_argument("--segments", default="16,64,256", help="numbers of segments K")
    parser.add_argument("--seeds", default="0", help="data and model seeds")
    parser.add_argument("--sources", type=int, default=5)
    parser.add_argument(
        "--features", type=int, help="features of h (default: one per source); the random "
        "baseline gets as many",
    )  # fmt: skip
    parser.add_argument("--rows", type=int, default=16384, help="rows T for every K")
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--width", type=int, default=64, help="hidden width of the extractor")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "tcl.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    rows = []
    for layers in (int(v) for v in args.layers.split(",")):
        for segments in (int(v) for v in args.segments.split(",")):
            for seed in (int(v) for v in args.seeds.split(",")):
                row = run_cell(layers, segments, seed, args)
                rows.append(row)
                print(
                    f"L={layers} K={segments:>4} seed={seed}: TCL {row['tcl']['mcc']:.3f} "
                    f"FastICA {row['fastica']['mcc']:.3f} random {row['random']['mcc']:.3f} "
                    f"(direct {row['tcl']['mcc_direct']:.3f} / {row['fastica']['mcc_direct']:.3f}"
                    f" / {row['random']['mcc_direct']:.3f}), {row['train_seconds']:.0f} s",
                    flush=True,
                )
    write_result(
        args.out,
        {
            "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "goals": {"mcc": GOALS, "margin_over_fastica": MARGIN},
            "seconds": time.perf_counter() - start,
            "rows": rows,
        },
        None if argv is None else [__file__, *argv],
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
