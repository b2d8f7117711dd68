"""Two gloo processes on a global batch equal one process on the same batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.multiprocessing as mp

import ddp_workers
from infomax.checkpoint import load_checkpoint
from infomax.distributed import GlobalBatchNorm, convert_batchnorm, gather

CASES = [
    ("dim-local", {"estimator": "infonce", "gamma": 0.0, "critic_dim": 16}),
    ("dim-local", {"estimator": "jsd", "gamma": 0.0, "critic_dim": 16}),
    ("dim-global", {"estimator": "dv", "gamma": 0.0, "critic_dim": 16}),
    ("simclr", {"hidden_dim": 16, "projection_dim": 8}),
    ("demi", {"conditional": "bo", "hidden_dim": 16, "projection_dim": 8}),
    ("demi", {"conditional": "is", "hidden_dim": 16, "projection_dim": 8}),
    ("multiview", {"hidden_dim": 16, "projection_dim": 8}),
    ("cpc-seq", {}),
    ("cpc", {"context_dim": 8, "steps": 2}),
]


def single_process(name: str, options: dict[str, Any]) -> tuple[torch.Tensor, dict]:
    method = ddp_workers.build_method(name, options)
    output = method(ddp_workers.fixed_views(name, 8))
    output.loss.backward()
    grads = {k: p.grad for k, p in method.named_parameters() if p.grad is not None}
    return output.loss.detach(), grads


@pytest.mark.parametrize(
    ("name", "options"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)]
)
def test_two_processes_give_the_single_process_loss_and_gradients(
    tmp_path: Path, name: str, options: dict[str, Any]
) -> None:
    if name in ("demi", "multiview"):
        # the sub-view is random; both sides get the same fixed views instead
        options = {**options}
    out = tmp_path / "rank0.pt"
    mp.spawn(
        ddp_workers.loss_and_gradients,
        args=(2, str(tmp_path / "rendezvous"), name, options, str(out)),
        nprocs=2,
    )
    distributed = torch.load(out, weights_only=True)
    loss, grads = single_process(name, options)
    assert float(distributed["loss"]) == pytest.approx(float(loss), rel=1e-5, abs=1e-6)
    assert distributed["grads"].keys() == grads.keys()
    for key, grad in grads.items():
        torch.testing.assert_close(distributed["grads"][key], grad, rtol=1e-4, atol=1e-6)


SMALL_RUN = {
    "method": "dim-local",
    "data": "digits",
    "image_size": 16,
    "encoder_options": {"widths": [8, 16], "fc_dim": 32},
    "method_options": {"critic_dim": 32, "gamma": 0.0},
    "augment": "none",
    "batch_size": 64,
    "max_steps": 6,
    "log_every": 2,
    "threads": 1,
    "probe": True,
}


ABSORBED = {
    "encoder.fc.0.bias", "encoder.fc.1.running_mean",
    "local_map.mlp.2.bias", "local_map.shortcut.bias",
}  # fmt: skip


def assert_same_weights(
    a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], atol: float = 5e-5
) -> None:
    """Equal to float tolerance, except parameters the loss cannot see (ABSORBED).

    Their gradients are zero up to rounding, and Adam turns rounding noise into
    full-size steps: the fc bias (BatchNorm cancels it; the running mean
    absorbs it) and the local critic's output biases (they add the same
    ``u_i . b`` to every score of row i, which InfoNCE's softmax cancels).
    """
    assert a.keys() == b.keys()
    mismatched = [
        (key, float((b[key] - value).abs().max()))
        for key, value in a.items()
        if key not in ABSORBED and not torch.allclose(b[key], value, rtol=1e-4, atol=atol)
    ]
    assert mismatched == []


def test_two_process_training_matches_one_process_on_the_same_data_order(tmp_path: Path) -> None:
    """Deterministic views (augment none, no prior): the runs must end with the same weights."""
    from infomax.train import TrainConfig, train

    one = tmp_path / "one"
    train(TrainConfig(**SMALL_RUN), one, progress=False)
    two = tmp_path / "two"
    mp.spawn(
        ddp_workers.train_worker,
        args=(2, str(tmp_path / "rendezvous"), SMALL_RUN, str(two)),
        nprocs=2,
    )
    a, b = load_checkpoint(one / "checkpoint.pt"), load_checkpoint(two / "checkpoint.pt")
    assert a["step"] == b["step"] == 6 and len(b["rng_ranks"]) == 2
    assert_same_weights(a["model"], b["model"])
    for key, value in a["probe"].items():
        diff = float((b["probe"][key] - value).abs().max())
        assert torch.allclose(b["probe"][key], value, rtol=1e-4, atol=5e-5), (key, diff)


def test_torchrun_kill_and_resume_on_another_process_count(tmp_path: Path) -> None:
    """SIGTERM a 2-process torchrun job at an unknown step s, resume it in 1 process.

    Two references. (1) 2 processes stopped cleanly by a step budget at the same
    s: same arithmetic, so the SIGTERM checkpoint must equal it to float
    tolerance. (2) A straight 1-process run: the 2-process steps sum gradients in
    another order, and Adam turns that rounding into steps of ~lr wherever a
    gradient is near zero, so only relative closeness holds (L2, per tensor): the
    tolerance sits above the drift of a correct resume and an order of magnitude
    below the distance of a resume that reads the wrong epoch's data order.
    """
    base = [
        "train", "dim-local", "--data", "digits", "--image-size", "16", "--batch-size", "64",
        "--epochs", "4", "--threads", "1", "--no-progress", "--augment", "none", "--log-every", "2",
        "--encoder-option", "widths=8/16,fc_dim=32", "--option", "critic_dim=32,gamma=0",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    killed = tmp_path / "killed"

    def torchrun(port: int) -> list[str]:  # a port per launch: the killed one may linger
        return [
            sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
            "--master-port", str(port), "-m", "infomax",
        ]  # fmt: skip

    job = subprocess.Popen(
        [*torchrun(29533), *base, "--out", str(killed)], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    metrics = killed / "metrics.jsonl"
    deadline = time.time() + 180
    while time.time() < deadline and not (metrics.exists() and metrics.read_text().strip()):
        time.sleep(0.1)
    assert metrics.exists(), job.communicate(timeout=60)
    os.killpg(job.pid, signal.SIGTERM)  # what a scheduler does: the launcher and its workers
    job.wait(timeout=120)
    stopped = load_checkpoint(killed / "checkpoint.pt")
    total = 4 * (1437 // 64)
    assert 0 < stopped["step"] < total and len(stopped["rng_ranks"]) == 2
    budgeted = tmp_path / "budgeted"
    subprocess.run(
        [*torchrun(29534), *base, "--steps", str(stopped["step"]), "--out", str(budgeted)],
        env=env,
        check=True, capture_output=True,
    )  # fmt: skip
    assert_same_weights(stopped["model"], load_checkpoint(budgeted / "checkpoint.pt")["model"])
    single = [sys.executable, "-m", "infomax", *base]
    subprocess.run([*single, "--out", str(killed), "--resume"], env=env, check=True,
                   stdout=subprocess.PIPE)  # fmt: skip
    straight = tmp_path / "straight"
    subprocess.run([*single, "--out", str(straight)], env=env, check=True, stdout=subprocess.PIPE)
    a, b = load_checkpoint(straight / "checkpoint.pt"), load_checkpoint(killed / "checkpoint.pt")
    assert a["step"] == b["step"] == total
    relative = {
        key: float((b["model"][key] - value).norm() / value.norm().clamp_min(1e-12))
        for key, value in a["model"].items()
        if key not in ABSORBED and value.is_floating_point()
    }
    assert max(relative.values()) < 2e-2, sorted(relative.items(), key=lambda kv: -kv[1])[:3]


def test_single_process_helpers_are_identities() -> None:
    x = torch.randn(4, 3)
    assert gather(x) is x
    bn = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2))
    converted = convert_batchnorm(bn, torch.device("cpu"))
    assert isinstance(converted[1], GlobalBatchNorm)
    images = torch.randn(5, 1, 3, 3)
    torch.testing.assert_close(converted(images), bn(images))
    torch.testing.assert_close(converted[1].running_var, bn[1].running_var)


def test_estimate_mi_in_two_processes_equals_one_process(tmp_path: Path) -> None:
    from infomax.distributions import correlated_gaussian
    from infomax.estimate import estimate_mi

    out = tmp_path / "estimate.pt"
    mp.spawn(
        ddp_workers.estimate_worker, args=(2, str(tmp_path / "rendezvous"), str(out)), nprocs=2
    )
    distributed = torch.load(out, weights_only=True)
    x, y = correlated_gaussian(4, 2.0).sample(3000, seed=0)
    single = estimate_mi(x, y, steps=60, batch_size=128, seed=0, progress=False)
    history = torch.as_tensor(single.history)
    torch.testing.assert_close(
        distributed["history"].float(), history.float(), rtol=1e-3, atol=1e-3
    )
    assert float(distributed["mi"]) == pytest.approx(single.mi, abs=2e-3)
