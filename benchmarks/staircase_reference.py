"""The straightforward PyTorch staircase loop: one module and one Adam per bound.

This is the speed reference for :mod:`infomax.bench.stacked`: each step loops over
the bounds and, for each, runs its own :class:`~infomax.critics.SeparableCritic`
or :class:`~infomax.critics.ConcatCritic` (hidden 256-256-256), its baseline MLP
where the bound has one, a backward pass and a default ``torch.optim.Adam`` step.
The bound arithmetic is shared with the stacked trainer
(:class:`infomax.bench.protocol.StaircaseBound`), so the two compute the same numbers
from the same seed; only the execution differs.

Usage::

    .venv/bin/python benchmarks/staircase_reference.py --critic separable --steps 200
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from infomax.bench.protocol import BOUND_CHOICES, StaircaseBound, build_reference_models
from infomax.distributions import gaussian_pairs, rho_from_mi


class ReferenceStaircase:
    """``M`` independent critics, each with its own optimiser, trained one after another.

    Args:
        bound_names: bounds from :data:`infomax.bench.protocol.BOUND_CHOICES`.
        critic: ``separable`` or ``concat``.
        lr: Adam learning rate.
        fused_adam: use the fused Adam kernel (``False`` is the plain default).
        autocast_bf16: run each critic's and baseline's forward under PyTorch's own
            ``torch.autocast("cpu", torch.bfloat16)`` (its matmuls in bfloat16, float32
            weights), the plain way to get mixed precision; the bound is computed on
            float32 scores.
    """

    def __init__(
        self,
        bound_names: Sequence[str],
        critic: str = "separable",
        lr: float = 5e-4,
        fused_adam: bool = False,
        autocast_bf16: bool = False,
    ) -> None:
        self.autocast_bf16 = autocast_bf16
        self.critics, self.baselines = build_reference_models(bound_names, critic)
        self.objectives = [StaircaseBound(name) for name in bound_names]
        self.optimizers: list[torch.optim.Optimizer] = []
        for critic_module, baseline in zip(self.critics, self.baselines, strict=True):
            params: list[nn.Parameter] = list(critic_module.parameters())
            if baseline is not None:
                params += list(baseline.parameters())
            extra = {"fused": True} if fused_adam else {}
            self.optimizers.append(torch.optim.Adam(params, lr=lr, **extra))

    def step(self, x: Tensor, y: Tensor) -> Tensor:
        """One optimiser step of every bound on (x (B, d), y (B, d)); returns (M,) estimates."""
        estimates = []
        for critic, baseline, objective_fn, optimizer in zip(
            self.critics, self.baselines, self.objectives, self.optimizers, strict=True
        ):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.autocast_bf16):
                scores = critic(x, y)
                log_baseline = None if baseline is None else baseline(x).squeeze(-1)
            scores = scores.float()
            log_baseline = None if log_baseline is None else log_baseline.float()
            objective, estimate = objective_fn(scores, log_baseline)
            optimizer.zero_grad()
            (-objective).backward()
            optimizer.step()
            estimates.append(estimate)
        return torch.stack(estimates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--critic", default="separable", choices=("separable", "concat"))
    parser.add_argument("--bound", default=",".join(BOUND_CHOICES))
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--mi", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    names = args.bound.split(",")
    model = ReferenceStaircase(names, args.critic)
    generator = torch.Generator().manual_seed(1)
    rho = float(rho_from_mi(args.mi / 20)[0])
    history = torch.empty(args.steps, len(names))
    start = time.perf_counter()
    for step in range(args.steps):
        x, y = gaussian_pairs(args.batch_size, rho, 20, one_draw=True, generator=generator)
        history[step] = model.step(x, y)
    seconds = time.perf_counter() - start
    print(f"{args.steps / seconds:.2f} steps/s ({args.critic}, {len(names)} bounds)")
    last = history[-max(args.steps // 4, 1) :].mean(0)
    for name, value in zip(names, last.tolist(), strict=True):
        print(f"  {name:<14}{value:8.3f} nats (mean of the last quarter)")


if __name__ == "__main__":
    main()
