"""Run ``infomax bench staircase|demi`` and keep its result as a benchmark result file.

``infomax bench`` writes ``staircase.json`` / ``demi.json`` (and a plot) into its
``--out`` folder. This script runs it in a temporary folder, then writes the JSON
to ``--json`` with the command, commit, machine and date (``_record``), and the
plot next to it. Usage::

    python benchmarks/infomax_bench.py --json benchmarks/results/staircase-separable-4000.json \\
        -- staircase
    python benchmarks/infomax_bench.py --json benchmarks/results/demi-shared-k64-mi20-n4.json \\
        -- demi --mi 20 --batch-size 64 --subviews 4 --steps 1000 --shared-critics

Everything after ``--`` goes to ``infomax bench`` unchanged (give no ``--out``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _record import write_result

OUTPUTS = {"staircase": ("staircase.json", "staircase.png"), "demi": ("demi.json", "demi.png")}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv:
        print("error: put the infomax bench arguments after '--'", file=sys.stderr)
        return 2
    split = argv.index("--")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, required=True, help="the result file to write")
    args = parser.parse_args(argv[:split])
    bench = argv[split + 1 :]
    if not bench or bench[0] not in OUTPUTS:
        print(f"error: the benchmark must be one of {sorted(OUTPUTS)}", file=sys.stderr)
        return 2
    if "--out" in bench:
        print("error: leave --out to this script", file=sys.stderr)
        return 2
    result_name, plot_name = OUTPUTS[bench[0]]
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "infomax", "bench", *bench, "--out", tmp]
        subprocess.run(command, check=True)
        payload = json.loads((Path(tmp) / result_name).read_text())
        write_result(args.json, payload, [sys.argv[0], *argv])
        plot = Path(tmp) / plot_name
        if plot.is_file():
            shutil.copyfile(plot, args.json.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
