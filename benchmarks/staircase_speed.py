"""Speed of the stacked staircase trainer against the plain per-bound loop, in one run.

One *step* is one optimiser step of every bound (all 8 by default), including
drawing the batch. Each implementation runs ``--warmup`` steps, then
``--steps`` timed steps; the implementations are interleaved and the whole is
repeated ``--repeats`` times, keeping each one's best (least disturbed) rate.

Implementations:

* ``stacked``: :class:`infomax.bench.stacked.StackedStaircase` (batched matmuls over a
  leading model axis, one fused Adam);
* ``vmap``: the same stacked parameters run through ``torch.func.functional_call``
  + ``vmap`` over the plain modules, one fused Adam;
* ``reference``: ``benchmarks/staircase_reference.py``, one module and one default
  Adam per bound (the baseline of the ratio);
* ``reference-fused``: the same loop with the fused Adam kernel, to separate what
  the optimiser contributes from what stacking the models contributes;
* ``stacked-bf16``: ``StackedStaircase(precision="bfloat16")``, the hidden layers'
  matmuls in bfloat16 with float32 weights and scores;
* ``reference-bf16``: the plain loop under ``torch.autocast("cpu", torch.bfloat16)``,
  to separate what the precision contributes from what stacking contributes.

Rates are reported per second of wall-clock time and per second of this
process's CPU time (the latter is less disturbed by other processes on a shared
machine). glibc's malloc trims freed heap by default, and the stacked model's
1-4 MiB temporaries are then page-faulted back in every step; ``infomax bench staircase``
therefore calls :func:`infomax.bench.process.keep_freed_memory`. That setting is
process-wide and cannot be undone, so run the script once without and once
with ``--keep-freed-memory``; each run applies the same setting to every
implementation.

``--profile STEPS`` then profiles each implementation (torch.profiler) and
prints the share of CPU time that matrix multiplies and the top ops take.

Usage::

    .venv/bin/python benchmarks/staircase_speed.py --out runs/staircase-speed
    .venv/bin/python benchmarks/staircase_speed.py --keep-freed-memory --out runs/staircase-speed
"""

from __future__ import annotations

import argparse
import copy
import platform
import sys
import time
from pathlib import Path

import torch
from torch import Tensor
from torch.func import functional_call, stack_module_state, vmap

from infomax.bench.process import keep_freed_memory
from infomax.bench.protocol import (
    BOUND_CHOICES,
    BOUNDS_WITH_BASELINE,
    StaircaseBound,
    build_reference_models,
)
from infomax.bench.stacked import StackedStaircase
from infomax.distributions import gaussian_pairs, rho_from_mi

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import write_result  # noqa: E402
from matmul_precision import cpu_model  # noqa: E402
from staircase_reference import ReferenceStaircase  # noqa: E402


class VmapStaircase:
    """The stacked model written with ``torch.func``: vmap of the plain modules' forward."""

    def __init__(self, bound_names: list[str], critic: str, lr: float = 5e-4) -> None:
        critics, baselines = build_reference_models(bound_names, critic)
        self.critic_params, self.critic_buffers = stack_module_state(critics)
        self.critic_base = copy.deepcopy(critics[0]).to("meta")
        rows = [b for b in baselines if b is not None]
        self.baseline_rows = {
            m: r
            for r, m in enumerate(m for m, n in enumerate(bound_names) if n in BOUNDS_WITH_BASELINE)
        }
        self.baseline_params: dict[str, Tensor] = {}
        if rows:
            self.baseline_params, _ = stack_module_state(rows)
            self.baseline_base = copy.deepcopy(rows[0]).to("meta")
        self.objectives = [StaircaseBound(name) for name in bound_names]
        params = [*self.critic_params.values(), *self.baseline_params.values()]
        self.optimizer = torch.optim.Adam(params, lr=lr, fused=True)

    def step(self, x: Tensor, y: Tensor) -> Tensor:
        def critic_fn(params: dict[str, Tensor], buffers: dict[str, Tensor]) -> Tensor:
            return functional_call(self.critic_base, (params, buffers), (x, y))

        scores = vmap(critic_fn)(self.critic_params, self.critic_buffers)  # (M, B, B)
        log_baselines = None
        if self.baseline_params:

            def baseline_fn(params: dict[str, Tensor]) -> Tensor:
                return functional_call(self.baseline_base, params, (x,))

            log_baselines = vmap(baseline_fn)(self.baseline_params).squeeze(-1)  # (K, B)
        objectives, estimates = [], []
        for m, objective_fn in enumerate(self.objectives):
            row = self.baseline_rows.get(m)
            log_baseline = None if row is None or log_baselines is None else log_baselines[row]
            objective, estimate = objective_fn(scores[m], log_baseline)
            objectives.append(objective)
            estimates.append(estimate)
        self.optimizer.zero_grad(set_to_none=True)
        (-torch.stack(objectives).sum()).backward()
        self.optimizer.step()
        return torch.stack(estimates)


IMPLEMENTATIONS = {
    "stacked": lambda names, critic: StackedStaircase(names, critic),
    "vmap": lambda names, critic: VmapStaircase(names, critic),
    "reference": lambda names, critic: ReferenceStaircase(names, critic),
    "reference-fused": lambda names, critic: ReferenceStaircase(names, critic, fused_adam=True),
    "stacked-bf16": lambda names, critic: StackedStaircase(names, critic, precision="bfloat16"),
    "reference-bf16": lambda names, critic: ReferenceStaircase(names, critic, autocast_bf16=True),
}


def _rate(
    model: object, steps: int, batch_size: int, generator: torch.Generator
) -> tuple[float, float]:
    """Steps per second of wall-clock time and of this process's CPU time."""
    rho = float(rho_from_mi(2.0 / 20)[0])
    history = torch.empty(steps, len(model.objectives))  # type: ignore[attr-defined]
    start, start_cpu = time.perf_counter(), time.process_time()
    for step in range(steps):
        x, y = gaussian_pairs(batch_size, rho, 20, one_draw=True, generator=generator)
        history[step] = model.step(x, y)  # type: ignore[attr-defined]
    float(history.sum())  # synchronise (a no-op on CPU, needed on GPU)
    return steps / (time.perf_counter() - start), steps / (time.process_time() - start_cpu)


#: The ops ``--profile`` counts as matrix multiplies.
MATMUL_OPS = ("aten::bmm", "aten::baddbmm", "aten::mm", "aten::addmm", "aten::matmul")


def _profile(model: object, steps: int, batch_size: int, generator: torch.Generator) -> None:
    """Print each op's share of ``steps`` steps' CPU time (torch.profiler, self time)."""
    from torch.profiler import ProfilerActivity, profile

    rho = float(rho_from_mi(2.0 / 20)[0])
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            x, y = gaussian_pairs(batch_size, rho, 20, one_draw=True, generator=generator)
            model.step(x, y)  # type: ignore[attr-defined]
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    matmul = sum(e.self_cpu_time_total for e in events if e.key in MATMUL_OPS)
    print(f"  matrix multiplies ({', '.join(MATMUL_OPS)}): {matmul / total:.1%}", file=sys.stderr)
    for event in sorted(events, key=lambda e: -e.self_cpu_time_total)[:8]:
        print(f"  {event.key:<28} {event.self_cpu_time_total / total:6.1%}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--critic", default="separable,concat")
    parser.add_argument("--bound", default=",".join(BOUND_CHOICES))
    parser.add_argument(
        "--impl", default=",".join(IMPLEMENTATIONS), help="comma-separated; ratios need reference"
    )
    parser.add_argument("--steps", type=int, default=250, help="timed steps (separable)")
    parser.add_argument("--concat-steps", type=int, default=30, help="timed steps (concat)")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--keep-freed-memory",
        action="store_true",
        help="raise glibc's malloc trim/mmap thresholds first (as run_staircase does), for "
        "every implementation; without it, the process keeps glibc's defaults",
    )
    parser.add_argument("--out", type=Path, default=None, help="directory for speed-*.json")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="STEPS",
        help="after timing, profile STEPS steps of each implementation and print op shares",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.keep_freed_memory and not keep_freed_memory():
        print("warning: could not tune the allocator (not glibc?)", file=sys.stderr)
    names = args.bound.split(",")
    impls = args.impl.split(",")
    rows = []
    for critic in args.critic.split(","):
        steps = args.steps if critic == "separable" else args.concat_steps
        torch.manual_seed(0)
        models = {impl: IMPLEMENTATIONS[impl](names, critic) for impl in impls}
        generator = torch.Generator().manual_seed(1)
        for model in models.values():
            _rate(model, args.warmup, args.batch_size, generator)
        rates: dict[str, list[float]] = {impl: [] for impl in impls}
        cpu_rates: dict[str, list[float]] = {impl: [] for impl in impls}
        for _ in range(args.repeats):
            for impl, model in models.items():
                wall, cpu = _rate(model, steps, args.batch_size, generator)
                rates[impl].append(wall)
                cpu_rates[impl].append(cpu)
                print(
                    f"{critic:<10} {impl:<16} {wall:8.2f} steps/s ({cpu:.2f} per CPU-s)",
                    file=sys.stderr,
                )
        for impl, model in models.items():
            if args.profile:
                print(f"{critic} {impl}: share of CPU time by op", file=sys.stderr)
                _profile(model, args.profile, args.batch_size, generator)
        for impl in impls:
            rows.append(
                {
                    "critic": critic,
                    "impl": impl,
                    "steps": steps,
                    "steps_per_second": max(rates[impl]),
                    "steps_per_cpu_second": max(cpu_rates[impl]),
                    "all_rates": rates[impl],
                    "all_cpu_rates": cpu_rates[impl],
                    "speedup": max(rates[impl]) / max(rates["reference"])
                    if "reference" in rates
                    else None,
                    "cpu_speedup": max(cpu_rates[impl]) / max(cpu_rates["reference"])
                    if "reference" in rates
                    else None,
                }
            )

    allocator = "tuned (keep_freed_memory)" if args.keep_freed_memory else "glibc default"
    print(
        f"\n{len(names)} bounds, batch {args.batch_size}, {args.threads} torch thread(s), "
        f"allocator {allocator}, best of {args.repeats}; "
        "one step = one optimiser step of every bound\n"
    )
    print(
        "| critic | implementation | steps/s (wall) | vs reference | steps/CPU-s | vs reference |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for row in rows:
        ratio = f"{row['speedup']:.2f}x" if row["speedup"] is not None else "-"
        cpu_ratio = f"{row['cpu_speedup']:.2f}x" if row["cpu_speedup"] is not None else "-"
        print(
            f"| {row['critic']} | {row['impl']} | {row['steps_per_second']:.2f} | {ratio} "
            f"| {row['steps_per_cpu_second']:.2f} | {cpu_ratio} |"
        )
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        meta = {
            "bounds": names,
            "batch_size": args.batch_size,
            "threads": args.threads,
            "keep_freed_memory": args.keep_freed_memory,
            "repeats": args.repeats,
            "warmup": args.warmup,
            "torch": torch.__version__,
            "machine": platform.processor() or platform.machine(),
            "cpu": cpu_model(),
        }
        name = "speed-tuned.json" if args.keep_freed_memory else "speed-default.json"
        write_result(args.out / name, {"config": meta, "rows": rows})


if __name__ == "__main__":
    main()
