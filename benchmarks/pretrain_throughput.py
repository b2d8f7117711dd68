"""Pre-training throughput per method and the share of each step spent making views.

Times ``make_views`` and the whole step (views, forward, backward, Adam) on
CIFAR-10-sized batches (random uint8 images: the cost does not depend on the
pixels) with the DIM conv encoder, after warm-up steps, for each method and,
where the method uses colour jitter, for kornia's jitter and the batched one.

Usage::

    python benchmarks/pretrain_throughput.py [--batch-size 128] [--steps 20] [--threads 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from _record import write_result

CASES = [
    ("dim-local", {}, None),
    ("dim-global", {}, None),
    ("simclr", {}, "kornia"),
    ("simclr", {}, "fast"),
    ("demi", {}, "kornia"),
    ("demi", {}, "fast"),
    ("multiview", {}, "fast"),
]


def measure(name: str, options: dict, jitter: str | None, batch: int, steps: int) -> dict:
    from infomax.methods import make_method
    from infomax.nets import make_encoder

    torch.manual_seed(0)
    method = make_method(name, make_encoder("dim-conv"), image_size=32, **options)
    if jitter is not None:
        from infomax.data.augment import Augment

        method.augment = Augment(method.augment.preset, size=32, jitter_impl=jitter)
    optimizer = torch.optim.Adam(method.parameters(), lr=1e-4)
    images = torch.randint(0, 256, (batch, 3, 32, 32), dtype=torch.uint8)
    view_seconds = step_seconds = 0.0
    for i in range(steps + 3):
        started = time.perf_counter()
        views = method.make_views(images)
        made = time.perf_counter()
        loss = method.loss(views).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        done = time.perf_counter()
        if i >= 3:  # warm-up
            view_seconds += made - started
            step_seconds += done - started
    return {
        "method": name,
        "jitter": jitter or "-",
        "images_per_second": steps * batch / step_seconds,
        "view_share": view_seconds / step_seconds,
        "view_ms_per_step": 1000 * view_seconds / steps,
        "step_ms": 1000 * step_seconds / steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = [measure(n, o, j, args.batch_size, args.steps) for n, o, j in CASES]
    args.out.mkdir(parents=True, exist_ok=True)
    write_result(args.out / "pretrain_throughput.json", rows)
    print("| method | colour jitter | images/s | views ms/step | step ms | view share |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['method']} | {r['jitter']} | {r['images_per_second']:.0f} | "
            f"{r['view_ms_per_step']:.0f} | {r['step_ms']:.0f} | {r['view_share']:.1%} |"
        )


if __name__ == "__main__":
    main()
