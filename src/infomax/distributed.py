"""Multi-process training on PyTorch's own engine: torchrun, DDP, negatives from every process.

How the contrastive losses scale out: every method passes the per-sample
tensors that enter its score matrices through :func:`gather`, an
autograd-aware all-gather. Each process then computes the loss of the
*global* batch (K = global batch: every process's samples are negatives for
every anchor), so the loss value is the same on every process and equals a
single process's loss on the global batch. In backward, the gather's
gradient is summed over the processes (a reduce-scatter), which gives each
process ``W`` times the gradient of its own samples; DDP's averaging over
the ``W`` processes divides it out again. The result: parameter gradients
equal to the single-process gradients on the global batch, to float
tolerance (tested with gloo, 2 processes).

BatchNorm statistics must span the global batch too. On GPUs that is
:class:`torch.nn.SyncBatchNorm`; it refuses CPU tensors, so on CPU the
batch-norm layers become :class:`GlobalBatchNorm`, which all-reduces the
per-channel sums (with gradients) instead.

Launch: ``torchrun --nproc-per-node N -m infomax train ...`` (or the
``infomax`` script). :func:`init_from_environment` reads torchrun's
``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` and picks ``nccl`` on CUDA, ``gloo`` on CPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from infomax.validation import InputError

__all__ = [
    "GlobalBatchNorm",
    "World",
    "all_reduce_gradients",
    "check_device",
    "convert_batchnorm",
    "gather",
    "init_from_environment",
    "is_distributed",
    "leave",
]


@dataclass(frozen=True)
class World:
    """This process's place among the training processes.

    Attributes:
        rank: global rank (0 logs, shows progress and writes checkpoints).
        world_size: number of processes.
        local_rank: rank on this machine (selects the GPU).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def is_distributed() -> bool:
    """A process group is up and has more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a :class:`torch.device`, if this machine and torch build can use it.

    Raises:
        InputError: an unknown device name, CUDA on a build or machine without
            it, a CUDA index past the last GPU, or MPS where it is missing.
    """
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError(
            f"unknown device {device!r}; use --device cpu, cuda, cuda:N (the N-th GPU) or mps"
        ) from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            why = "has no CUDA support" if torch.version.cuda is None else "sees no GPU"
            raise InputError(f"device {device!r}: this torch build {why}; use --device cpu")
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise InputError(
                f"device {device!r}: there {'is' if count == 1 else 'are'} only {count} "
                f"GPU{'' if count == 1 else 's'} (cuda:0 to cuda:{count - 1})"
            )
    elif parsed.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise InputError(f"device {device!r}: MPS is not available here; use --device cpu")
    elif parsed.type != "cpu":
        raise InputError(
            f"device {device!r} is not supported; use --device cpu, cuda, cuda:N or mps"
        )
    return parsed


def init_from_environment(device: str = "cpu") -> World:
    """Join torchrun's process group when launched by torchrun; else a world of one.

    Args:
        device: the training device type; "cuda" selects ``nccl`` and this
            process's GPU (``LOCAL_RANK``), anything else ``gloo``.
    """
    if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) <= 1:
        return World()
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if not dist.is_initialized():
        cuda = torch.device(device).type == "cuda"
        if cuda:
            torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl" if cuda else "gloo")
    return World(rank, world_size, local_rank)


def leave() -> None:
    """Leave torchrun's process group in step (barrier, then destroy); no-op without one.

    Call it once the training objects (DDP's reducer) are gone, on the success
    path only: after an error on one rank the barrier would wait for ever.
    """
    if dist.is_available() and dist.is_initialized():
        import gc

        dist.barrier()
        gc.collect()  # a DDP reducer still referenced from a cycle would outlive the group
        dist.destroy_process_group()


class _Gather(torch.autograd.Function):
    """All-gather along dim 0; backward sums the gradient over processes and keeps this slice."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:
        world_size, rank = dist.get_world_size(), dist.get_rank()
        ctx.rank, ctx.rows = rank, tensor.shape[0]
        parts = [torch.empty_like(tensor) for _ in range(world_size)]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        # One all-reduce of the whole (contiguous) gradient: simple and exact on every
        # backend (gloo has no reduce-scatter, and all-to-all needs contiguous slices).
        grad = grad.contiguous()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.rows : (ctx.rank + 1) * ctx.rows]


class _AllReduceSum(torch.autograd.Function):
    """Sum over processes; the gradient is summed over processes too."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:
        out = tensor.clone().contiguous()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone().contiguous()
        dist.all_reduce(grad)
        return grad


def gather(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` (B, ...) from every process along dim 0, keeping gradients.

    Process ``r``'s rows come ``r``-th. Identity in a single process.

    Shapes:
        (B, ...) -> (W B, ...), the same on every process.
    """
    if not is_distributed():
        return tensor
    return _Gather.apply(tensor)


def all_reduce_gradients(module: nn.Module) -> None:
    """Average the gradients of ``module`` over the processes (for modules outside DDP)."""
    if not is_distributed():
        return
    world_size = dist.get_world_size()
    for parameter in module.parameters():
        if parameter.grad is not None:
            dist.all_reduce(parameter.grad)
            parameter.grad.div_(world_size)


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics span every process's batch (CPU-capable).

    In training, the per-channel count, sum and sum of squares are
    all-reduced with gradients, so the normalisation (and its backward) is
    that of the concatenated global batch. In eval mode, or in a single
    process, it is plain BatchNorm. Running statistics use the unbiased
    global variance, as :class:`torch.nn.BatchNorm2d` does.

    Shapes:
        (N, C) or (N, C, *) -> the same.
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (N, C, ...), got {input.dim()}D")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not (self.training and is_distributed()):
            return super().forward(input)
        self._check_input_dim(input)
        dims = [0, *range(2, input.dim())]
        count = torch.tensor(
            [input.numel() / input.shape[1]], dtype=input.dtype, device=input.device
        )
        local = torch.cat([input.sum(dims), (input * input).sum(dims), count])
        total = _AllReduceSum.apply(local)
        channels = input.shape[1]
        n = total[-1]
        mean = total[:channels] / n
        var = total[channels : 2 * channels] / n - mean * mean
        if self.track_running_stats and self.running_mean is not None:
            momentum = self.momentum if self.momentum is not None else 0.0
            with torch.no_grad():
                if self.num_batches_tracked is not None:
                    self.num_batches_tracked.add_(1)
                    if self.momentum is None:
                        momentum = 1.0 / float(self.num_batches_tracked)
                unbiased = var.detach() * n.detach() / (n.detach() - 1).clamp(min=1)
                self.running_mean.mul_(1 - momentum).add_(mean.detach(), alpha=momentum)
                self.running_var.mul_(1 - momentum).add_(unbiased, alpha=momentum)
        shape = [1, channels] + [1] * (input.dim() - 2)
        out = (input - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out


def convert_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Make every BatchNorm layer compute global-batch statistics.

    CUDA: :meth:`torch.nn.SyncBatchNorm.convert_sync_batchnorm`. Otherwise
    each ``BatchNorm1d/2d/3d`` is replaced by a :class:`GlobalBatchNorm`
    holding the same parameters and buffers.
    """
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    converted = module
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(
        module, GlobalBatchNorm
    ):
        converted = GlobalBatchNorm(
            module.num_features, module.eps, module.momentum, module.affine,
            module.track_running_stats,
        )  # fmt: skip
        converted.load_state_dict(module.state_dict())
        converted.train(module.training)
    for name, child in module.named_children():
        converted.add_module(name, convert_batchnorm(child, device))
    return converted
