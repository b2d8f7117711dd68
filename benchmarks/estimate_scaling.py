"""Wall time of ``estimate_mi`` against the number of samples, with and without the held-out caps.

The default read-out scores all pairs of the held-out rows, so its cost grows
with their square: each validation (every ``eval_every`` steps) and the final
test read-out. ``estimate_mi`` keeps at most
:data:`infomax.fit.MAX_VALIDATION_ROWS` validation rows and
:data:`infomax.fit.MAX_TEST_ROWS` test rows and trains on the rest; this
script measures what that buys, on the 20-dim Gaussian of 6 nats, reporting
per run the estimate, the wall time and the time spent in the all-pairs read-out.

Usage::

    .venv/bin/python benchmarks/estimate_scaling.py [--samples 50000,200000,1000000]
        [--caps VALIDATION,TEST] [--threads 2] [--json out.json]

``--caps 0,0`` lifts both caps (every held-out row is read out).
"""

from __future__ import annotations

import argparse
import platform
import time

from _record import write_result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", default="50000,200000,1000000")
    parser.add_argument("--caps", default=None, help="VALIDATION,TEST row caps; 0: none")
    parser.add_argument("--mi", type=float, default=6.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", dest="json_out", default=None)
    args = parser.parse_args(argv)

    import torch

    from infomax import estimate as E
    from infomax import fit as F
    from infomax.bounds import all_pairs as A
    from infomax.distributions import correlated_gaussian

    torch.set_num_threads(args.threads)
    if args.caps is not None:
        validation, test = (int(v) or 2**62 for v in args.caps.split(","))
        F.MAX_VALIDATION_ROWS, F.MAX_TEST_ROWS = validation, test
    task = correlated_gaussian(dim=20, mi=args.mi)
    readout_seconds: list[float] = []
    original = A.all_pairs_dv_blocks  # every all-pairs read-out goes through it

    def timed(*a: object, **k: object) -> object:
        start = time.perf_counter()
        out = original(*a, **k)  # type: ignore[arg-type]
        readout_seconds.append(time.perf_counter() - start)
        return out

    A.all_pairs_dv_blocks = timed  # type: ignore[assignment]
    rows = []
    for n in (int(v) for v in args.samples.split(",")):
        x, y = task.sample(n, seed=0)
        readout_seconds.clear()
        start = time.perf_counter()
        result = E.estimate_mi(x, y, progress=False)
        seconds = time.perf_counter() - start
        row = {
            "samples": n, "true_mi": task.mi, "estimate": result.mi, "stderr": result.stderr,
            "n_train": result.n_train, "n_heldout": result.n_heldout, "seconds": seconds,
            "readout_seconds": sum(readout_seconds), "readouts": len(readout_seconds),
        }  # fmt: skip
        rows.append(row)
        print(
            f"{n:>9} samples: {result.mi:.3f} ± {result.stderr:.3f} (true {task.mi:.1f}), "
            f"{result.n_train} train / {result.n_heldout} test rows, {seconds:.1f} s, of which "
            f"{row['readout_seconds']:.1f} s in {len(readout_seconds)} all-pairs read-outs",
            flush=True,
        )
    if args.json_out:
        write_result(
            args.json_out,
            {"caps": [F.MAX_VALIDATION_ROWS, F.MAX_TEST_ROWS], "threads": args.threads,
             "machine": platform.processor() or platform.machine(), "rows": rows},
        )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
