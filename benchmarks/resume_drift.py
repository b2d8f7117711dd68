"""How far a run resumed on another process count drifts from a straight run.

``tests/test_distributed.py`` kills a 2-process ``torchrun`` job at some step s,
resumes it in 1 process and compares it with a straight 1-process run. The
2-process steps sum gradients in another order, and Adam turns that rounding
into steps of about ``lr`` wherever a gradient is near zero, so the two never
agree bit for bit. This script measures the drift for chosen s (a clean stop
by a step budget stands in for the kill): for each s, the four weights whose
maximum absolute difference is largest, and the largest relative L2 distance
over the weights the test compares (all but its ``ABSORBED`` ones).

Usage::

    .venv/bin/python benchmarks/resume_drift.py [--stops 2,6,20,40,80] [--out DIR]

To see what a broken resume looks like, change ``loader.epoch(epoch, ...)`` in
``infomax/train.py`` to ``loader.epoch(epoch + (7 if resume else 0), ...)`` (a
resumed run then reads another epoch's order) and run it again.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from infomax.checkpoint import load_checkpoint

#: The run of tests/test_distributed.py::test_torchrun_kill_and_resume_on_another_process_count.
RUN = [
    "train", "dim-local", "--data", "digits", "--image-size", "16", "--batch-size", "64",
    "--epochs", "4", "--threads", "1", "--no-progress", "--augment", "none", "--log-every", "2",
    "--encoder-option", "widths=8/16,fc_dim=32", "--option", "critic_dim=32,gamma=0",
]  # fmt: skip
#: Weights the loss cannot see (the test leaves them out; see its assert_same_weights).
ABSORBED = {
    "encoder.fc.0.bias", "encoder.fc.1.running_mean",
    "local_map.mlp.2.bias", "local_map.shortcut.bias",
}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stops", default="2,6,20,40,80", help="steps s run in 2 processes")
    parser.add_argument("--out", type=Path, default=None, help="run folders (default: temp)")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="resume-drift-"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = [sys.executable, "-m", "infomax", *RUN]
    torchrun = [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
        "--master-port", "29541", "-m", "infomax", *RUN,
    ]  # fmt: skip
    straight = out / "straight"
    subprocess.run([*single, "--out", str(straight)], env=env, check=True, capture_output=True)
    reference = load_checkpoint(straight / "checkpoint.pt")["model"]
    for stop in (int(v) for v in args.stops.split(",")):
        run = out / f"stop-{stop}"
        subprocess.run(
            [*torchrun, "--steps", str(stop), "--out", str(run)], env=env, check=True,
            capture_output=True,
        )  # fmt: skip
        subprocess.run(
            [*single, "--out", str(run), "--resume"], env=env, check=True, capture_output=True
        )
        resumed = load_checkpoint(run / "checkpoint.pt")["model"]
        drift = {
            key: (
                float((resumed[key] - value).abs().max()),
                float((resumed[key] - value).norm() / value.norm().clamp_min(1e-12)),
            )
            for key, value in reference.items()
            if value.is_floating_point()
        }
        worst = sorted(drift.items(), key=lambda kv: -kv[1][0])[:4]
        relative = max(rel for key, (_, rel) in drift.items() if key not in ABSORBED)
        print(
            f"s = {stop:>3}: largest relative L2 (compared weights) {relative:.2e}; max |diff|: "
            + ", ".join(f"{key} {diff:.2e}" for key, (diff, _) in worst),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
