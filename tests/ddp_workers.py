"""Process bodies for the distributed tests (importable by spawned processes)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist


def teardown_process() -> None:
    """Leave the group in step: both ranks done, DDP's reducer gone, then destroy."""
    from infomax.distributed import leave

    leave()


def setup_process(rank: int, world_size: int, rendezvous: str) -> None:
    """Join a gloo group through a file, with torchrun's environment variables set."""
    os.environ.update(
        RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank),
        OMP_NUM_THREADS="1",
    )  # fmt: skip
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=world_size
    )


def build_method(name: str, options: dict[str, Any]) -> torch.nn.Module:
    """The same small method on every process (same seed)."""
    from infomax.methods import make_method
    from infomax.methods.cpc import CPCSequence
    from infomax.nets import make_encoder

    torch.manual_seed(0)
    if name == "cpc-seq":
        return CPCSequence(input_dim=3, hidden=8, z_dim=4, context_dim=6, steps=2)
    if name == "cpc":  # 3x3 grid of 4x4 patches
        patches = make_encoder(
            "patch-dim", in_channels=1, image_size=8, out_dim=6, patch=4, stride=2,
            widths=(4,), fc_dim=8,
        )  # fmt: skip
        return make_method(name, patches, image_size=8, augment="none", **options)
    encoder = make_encoder("dim-conv", in_channels=1, image_size=8, widths=(4, 8), fc_dim=16)
    return make_method(name, encoder, image_size=8, augment="none", **options)


def fixed_views(name: str, batch: int) -> list[torch.Tensor]:
    """Deterministic float views of a global batch."""
    generator = torch.Generator().manual_seed(1)
    if name == "cpc-seq":
        return [torch.randn(batch, 5, 3, generator=generator)]
    count = 3 if name in ("demi", "multiview") else (2 if name == "simclr" else 1)
    return [torch.randn(batch, 1, 8, 8, generator=generator) for _ in range(count)]


def loss_and_gradients(
    rank: int, world_size: int, rendezvous: str, name: str, options: dict[str, Any], out: str
) -> None:
    """Loss and gradients of a DDP step on this process's share of a fixed global batch."""
    from infomax.distributed import convert_batchnorm

    setup_process(rank, world_size, rendezvous)
    method = convert_batchnorm(build_method(name, options), torch.device("cpu"))
    model = torch.nn.parallel.DistributedDataParallel(method)
    views = fixed_views(name, 8)
    share = 8 // world_size
    local = [v[rank * share : (rank + 1) * share] for v in views]
    output = model(local)
    output.loss.backward()
    if rank == 0:
        grads = {k: p.grad.clone() for k, p in method.named_parameters() if p.grad is not None}
        torch.save({"loss": output.loss.detach(), "grads": grads}, out)
    del model, output
    teardown_process()


def train_worker(
    rank: int, world_size: int, rendezvous: str, config: dict[str, Any], run: str
) -> None:
    """``infomax.train.train`` in one process of a gloo group."""
    from infomax.train import TrainConfig, train

    setup_process(rank, world_size, rendezvous)
    train(TrainConfig(**config), Path(run), progress=False)
    teardown_process()


def estimate_worker(rank: int, world_size: int, rendezvous: str, out: str) -> None:
    """``estimate_mi`` in one process of a gloo group; rank 0 saves the result."""
    from infomax.distributions import correlated_gaussian
    from infomax.estimate import estimate_mi

    setup_process(rank, world_size, rendezvous)
    x, y = correlated_gaussian(4, 2.0).sample(3000, seed=0)
    result = estimate_mi(x, y, steps=60, batch_size=128, seed=0, progress=False)
    if rank == 0:
        torch.save({"mi": torch.tensor(result.mi), "history": torch.as_tensor(result.history)}, out)
    teardown_process()
