"""InfoNCE with negatives gathered across processes: K = global batch, at 1, 2, 4 processes.

Each process draws its own share (K / W pairs) of a fresh batch from the 20-dim
Gaussian with ``--mi`` nats each step, embeds it with the separable critic
(DDP-wrapped), and :func:`infomax.distributed.gather` assembles the K x K score
matrix. The estimate is the InfoNCE of the last quarter of the steps (fresh
samples each step, so it is not a training-set number); it is capped at log K,
so it must rise with K whatever the number of processes. Also reports
throughput (pairs per second over all processes).

Launch one configuration per command (the world size comes from torchrun)::

    torchrun --nproc-per-node 2 benchmarks/ddp_infonce.py --batch-size 128 --out runs/ddp

or all of them in turn (1, 2, 4 processes x K = 64, 128, 256) and a table::

    python benchmarks/ddp_infonce.py --sweep --out runs/ddp
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

from _record import write_result


def run_one(args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    from infomax.bounds import infonce
    from infomax.critics import SeparableCritic
    from infomax.distributed import gather, init_from_environment
    from infomax.distributions import correlated_gaussian

    torch.set_num_threads(args.threads)
    world = init_from_environment("cpu")
    if args.batch_size % world.world_size:
        raise SystemExit(f"--batch-size {args.batch_size} must divide among {world.world_size}")
    share = args.batch_size // world.world_size
    task = correlated_gaussian(20, args.mi)
    torch.manual_seed(args.seed)
    critic = SeparableCritic(20, 20, hidden=(256, 256), embed_dim=32)

    class Embeddings(torch.nn.Module):
        """(x, y) -> (g(x), h(y)): the critic's two towers, one DDP-wrappable forward."""

        def __init__(self) -> None:
            super().__init__()
            self.critic = critic

        def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return self.critic.g(x), self.critic.h(y)

    model: torch.nn.Module = Embeddings()
    if world.world_size > 1:
        model = torch.nn.parallel.DistributedDataParallel(model)
    optimizer = torch.optim.Adam(critic.parameters(), lr=args.lr)
    rng = np.random.default_rng([args.seed, world.rank])
    estimates = []
    started = time.perf_counter()
    for _ in range(args.steps):
        x, y = (torch.from_numpy(a) for a in task.sample(share, rng))
        gx, hy = model(x, y)
        gx, hy = gather(gx), gather(hy)  # (K, 32) on every process
        bound = infonce(gx @ hy.T)
        optimizer.zero_grad(set_to_none=True)
        (-bound).backward()
        optimizer.step()
        estimates.append(float(bound.detach()))
    seconds = time.perf_counter() - started
    if world.is_main:
        tail = estimates[-args.steps // 4 :]
        row = {
            "processes": world.world_size,
            "K": args.batch_size,
            "log_K": math.log(args.batch_size),
            "true_mi": args.mi,
            "estimate": float(np.mean(tail)),
            "estimate_std": float(np.std(tail)),
            "steps": args.steps,
            "seconds": seconds,
            "pairs_per_second": args.steps * args.batch_size / seconds,
            "steps_per_second": args.steps / seconds,
        }
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / f"ddp-w{world.world_size}-k{args.batch_size}.json"
        path.write_text(json.dumps(row, indent=2) + "\n")
        print(json.dumps(row))


def sweep(args: argparse.Namespace) -> None:
    rows = []
    for processes in (1, 2, 4):
        for k in (64, 128, 256):
            command = [
                sys.executable, "-m", "torch.distributed.run", "--nproc-per-node",
                str(processes), "--master-port", str(29600 + processes * 7 + k // 64),
                __file__, "--batch-size", str(k), "--steps", str(args.steps),
                "--mi", str(args.mi), "--out", str(args.out), "--threads", "1",
            ]  # fmt: skip
            env = {**os.environ, "OMP_NUM_THREADS": "1"}
            subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
            rows.append(json.loads((args.out / f"ddp-w{processes}-k{k}.json").read_text()))
            print(json.dumps(rows[-1]), flush=True)
    write_result(args.out / "ddp_infonce.json", rows)
    print("| processes | K | log K | InfoNCE (nats) | pairs/s | steps/s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['processes']} | {r['K']} | {r['log_K']:.2f} | {r['estimate']:.2f} "
            f"± {r['estimate_std']:.2f} | {r['pairs_per_second']:.0f} "
            f"| {r['steps_per_second']:.1f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128, help="K, the global batch")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--mi", type=float, default=10.0)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("runs/ddp"))
    parser.add_argument("--sweep", action="store_true", help="1, 2, 4 processes x K 64..256")
    args = parser.parse_args()
    if args.sweep:
        sweep(args)
    else:
        run_one(args)


if __name__ == "__main__":
    main()
