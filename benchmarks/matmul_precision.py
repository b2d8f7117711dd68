"""Would reduced precision speed up the concat critic? Matmul throughput per dtype on this CPU.

The concat staircase step is bound by its hidden-layer matmuls (BENCHMARKS.md, "Staircase speed"):
8 bounds x 64 x 64 pairs = 32,768 rows through 256x256 layers. This script
times exactly that shape, as one batched matmul over the 8 models and as a
forward + backward pass of a two-layer 256-256 ReLU block, in float32,
bfloat16 and float16. The dtypes are interleaved and each keeps its best of
``--repeats`` rounds, so a busy machine slows them alike.

In float32 it also times the same block as a Python loop of 2-D matmuls, one
model at a time (does stacking cost GEMM efficiency?), and one square
2048 x 2048 x 2048 matmul as the core's reference rate.

Usage::

    .venv/bin/python benchmarks/matmul_precision.py [--threads 1] [--json OUT]
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable

import torch

from _record import write_result

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _best_seconds(fn: Callable[[], object], iters: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - start) / iters


def cpu_model() -> str:
    """The CPU's model name and its bfloat16 flags, from /proc/cpuinfo where there is one."""
    try:
        with open("/proc/cpuinfo") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    model = next((ln.split(":", 1)[1].strip() for ln in lines if "model name" in ln), "")
    flags = next((ln.split(":", 1)[1].split() for ln in lines if ln.startswith("flags")), [])
    wanted = sorted(f for f in set(flags) if "bf16" in f or f.startswith("amx"))
    return f"{model} ({', '.join(wanted) or 'no bf16 flags'})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models", type=int, default=8, help="stacked critics (bounds)")
    parser.add_argument("--pairs", type=int, default=64 * 64, help="pairs per critic")
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--dtypes",
        default=",".join(DTYPES),
        help="comma-separated, float32 first (float16 has no fast path on some CPUs: minutes)",
    )
    parser.add_argument("--json", dest="json_out", default=None)
    args = parser.parse_args(argv)
    dtypes = {name: DTYPES[name] for name in args.dtypes.split(",")}
    if next(iter(dtypes)) != "float32":
        parser.error("--dtypes must start with float32 (the reference of the ratios)")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    m, p, w = args.models, args.pairs, args.width
    base_h = torch.randn(m, p, w)
    base_w = [torch.randn(m, w, w) / w**0.5 for _ in range(2)]
    best: dict[str, dict[str, float]] = {name: {} for name in dtypes}
    for _ in range(args.repeats):
        for name, dtype in dtypes.items():
            h = base_h.to(dtype)
            w1, w2 = (t.to(dtype).requires_grad_() for t in base_w)
            hg = h.clone().requires_grad_()

            def matmul(h: torch.Tensor = h, w1: torch.Tensor = w1) -> object:
                with torch.no_grad():
                    return torch.bmm(h, w1)

            def block(
                hg: torch.Tensor = hg, w1: torch.Tensor = w1, w2: torch.Tensor = w2
            ) -> object:
                out = torch.bmm(torch.relu(torch.bmm(hg, w1)), w2)
                out.float().sum().backward()
                return out

            def looped(
                hg: torch.Tensor = hg, w1: torch.Tensor = w1, w2: torch.Tensor = w2
            ) -> object:
                for k in range(m):
                    out = torch.relu(hg[k] @ w1[k]) @ w2[k]
                    out.sum().backward()
                return out

            square = torch.randn(2048, 2048, dtype=dtype)
            timings = [
                ("matmul", matmul, 2.0 * m * p * w * w),
                ("block_fwd_bwd", block, 3 * 2 * 2.0 * m * p * w * w),
            ]
            if dtype == torch.float32:
                timings += [
                    ("block_fwd_bwd_looped", looped, 3 * 2 * 2.0 * m * p * w * w),
                    ("square_2048", lambda a=square: a @ a, 2.0 * 2048**3),
                ]
            for kind, fn, flops in timings:
                rate = flops / _best_seconds(fn, args.iters) / 1e9
                best[name][kind] = max(best[name].get(kind, 0.0), rate)
    print(
        f"{cpu_model()}, torch {torch.__version__}, "
        f"{args.threads} thread(s); shape ({m}, {p}, {w}) @ ({m}, {w}, {w})\n"
    )
    print("| dtype | batched matmul GFLOP/s | 2-layer block fwd+bwd GFLOP/s | vs float32 |")
    print("|---|---:|---:|---:|")
    ref = best["float32"]["block_fwd_bwd"]
    for name, rates in best.items():
        print(
            f"| {name} | {rates['matmul']:.0f} | {rates['block_fwd_bwd']:.0f} | "
            f"{rates['block_fwd_bwd'] / ref:.2f}x |"
        )
    rates = best["float32"]
    print(
        f"\nfloat32 block as a loop of 2-D matmuls over the {m} models: "
        f"{rates['block_fwd_bwd_looped']:.0f} GFLOP/s (batched: {rates['block_fwd_bwd']:.0f}); "
        f"square 2048^3 matmul: {rates['square_2048']:.0f} GFLOP/s"
    )
    if args.json_out:
        write_result(
            args.json_out,
            {"config": vars(args), "cpu": cpu_model(), "torch": torch.__version__, "gflops": best},
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
