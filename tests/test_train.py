"""The training loop: losses fall, resume is exact, signals checkpoint, bad runs are refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from infomax.checkpoint import CheckpointError, load_checkpoint, load_encoder
from infomax.train import TrainConfig, train
from infomax.validation import InputError

SMALL = {"widths": [8, 16], "fc_dim": 32}


def small_config(method: str = "dim-local", **overrides: object) -> TrainConfig:
    settings: dict[str, object] = {
        "data": "digits",
        "image_size": 16,
        "encoder_options": SMALL,
        "batch_size": 64,
        "log_every": 5,
        "epochs": 2,
        "threads": 1,
    }
    if method.startswith("dim"):
        settings["method_options"] = {"critic_dim": 64}
    settings.update(overrides)
    return TrainConfig(method=method, **settings)  # type: ignore[arg-type]


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run / "checkpoint.pt")["model"]


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def losses(run: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("dim-local", {}),
        ("dim-local", {"estimator": "jsd"}),
        ("dim-global", {}),
        ("simclr", {}),
        ("demi", {"conditional": "bo"}),
        ("demi", {"conditional": "is"}),
        ("multiview", {}),
        ("cpc", {"steps": 2, "context_dim": 32}),
    ],
)
def test_each_method_lowers_its_loss(tmp_path: Path, method: str, options: dict) -> None:
    options = {**options, "critic_dim": 64} if method.startswith("dim") else options
    config = small_config(method, epochs=5, method_options=options, lr=1e-3)
    result = train(config, tmp_path / "run", progress=False)
    values = losses(tmp_path / "run")
    assert result.stopped == "epochs" and result.epochs_done == 5
    assert len(values) >= 6
    first, last = sum(values[:2]) / 2, sum(values[-2:]) / 2
    assert last < first - 0.1, (first, last)


def test_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(tmp_path: Path) -> None:
    straight = tmp_path / "straight"
    train(small_config(epochs=2), straight, progress=False)
    split = tmp_path / "split"
    first = train(small_config(epochs=2, max_steps=7), split, progress=False)
    assert first.stopped == "steps" and first.steps == 7
    second = train(small_config(epochs=2), split, resume=True, progress=False)
    assert second.stopped == "epochs" and second.steps == 2 * (1437 // 64)
    assert_same_weights(weights(straight), weights(split))
    steps = [
        json.loads(line)["step"] for line in (split / "metrics.jsonl").read_text().splitlines()
    ]
    assert steps == sorted(set(steps))  # no step logged twice


def test_sigterm_checkpoints_and_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    """Kill a real `infomax train` process mid-run, resume it, compare with a straight run."""
    args = [
        sys.executable, "-m", "infomax", "train", "dim-local", "--data", "digits",
        "--image-size", "16", "--batch-size", "32", "--epochs", "3", "--threads", "1",
        "--no-progress", "--seed", "3", "--encoder-option", "widths=8/16,fc_dim=32",
        "--option", "critic_dim=64",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    killed = tmp_path / "killed"
    process = subprocess.Popen([*args, "--out", str(killed)], env=env, stdout=subprocess.PIPE)
    deadline = time.time() + 120
    metrics = killed / "metrics.jsonl"
    while time.time() < deadline and not (metrics.exists() and metrics.read_text().strip()):
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) == 128 + signal.SIGTERM
    stopped = load_checkpoint(killed / "checkpoint.pt")
    assert 0 < stopped["step"] < 3 * (1437 // 32)
    resumed = subprocess.run([*args, "--out", str(killed), "--resume"], env=env, check=True)
    assert resumed.returncode == 0
    straight = tmp_path / "straight"
    subprocess.run([*args, "--out", str(straight)], env=env, check=True, stdout=subprocess.PIPE)
    assert_same_weights(weights(straight), weights(killed))


def test_minutes_budget_counts_training_time(tmp_path: Path) -> None:
    result = train(small_config(epochs=None, minutes=0.02), tmp_path / "run", progress=False)
    assert result.stopped == "minutes"
    assert 1.2 <= result.seconds < 10


def test_run_folder_rules(tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(small_config(max_steps=2), run, progress=False)
    assert any((run / "tensorboard").glob("events.out.tfevents.*"))  # tensorboard: a dev extra
    with pytest.raises(InputError, match="already holds a run"):
        train(small_config(max_steps=2), run, progress=False)
    with pytest.raises(InputError, match="trained with lr=0.001, not 0.5"):
        train(small_config(max_steps=4, lr=0.5), run, resume=True, progress=False)
    with pytest.raises(CheckpointError, match="cannot resume"):
        train(small_config(max_steps=2), tmp_path / "empty", resume=True, progress=False)
    encoder, config = load_encoder(run)
    assert config["method"] == "dim-local" and config["image_size"] == [16, 16]
    assert not encoder.training


def test_truncated_and_foreign_checkpoints_get_clear_errors(tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(small_config(max_steps=2), run, progress=False)
    path = run / "checkpoint.pt"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        train(small_config(max_steps=4), run, resume=True, progress=False)
    torch.save({"model": {}}, path)
    with pytest.raises(CheckpointError, match="not an infomax checkpoint"):
        load_checkpoint(path)
    torch.save({"format": "infomax-checkpoint-1", "payload": TrainConfig("a", "b")}, path)
    with pytest.raises(CheckpointError, match="weights_only"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"epochs": None}, "give a budget"),
        ({"batch_size": 1}, "at least 2"),
        ({"lr": -1.0}, "lr must be positive"),
        ({"precision": "fp8"}, "precision"),
    ],
)
def test_bad_settings_are_named(tmp_path: Path, overrides: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        train(small_config(**overrides), tmp_path / "run", progress=False)


@pytest.mark.parametrize(
    ("method", "options", "epochs", "layer"),
    [
        ("dim-local", {"critic_dim": 64}, 20, "fc"),
        ("dim-global", {"critic_dim": 64}, 8, "y"),
        ("simclr", {}, 8, "y"),
    ],
)
def test_trained_encoder_probes_better_than_a_random_one(
    tmp_path: Path, method: str, options: dict, epochs: int, layer: str
) -> None:
    """On digits at 16x16, a linear probe on the trained layer beats the same random encoder.

    Digits are easy for random convolutional features (98% on conv), so the
    check is on the small fc/y layers, where training has something to add.
    """
    from infomax.evaluate import evaluate_run

    run = tmp_path / "run"
    train(small_config(method, epochs=epochs, method_options=options, lr=1e-3), run, progress=False)
    trained = evaluate_run(run, probe="linear", layer=layer).accuracy
    random = evaluate_run(run, probe="linear", layer=layer, random_init=True).accuracy
    assert trained > random + 0.02, (trained, random)


def test_training_and_probing_on_a_generated_image_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tiny folder of PNGs (stripes: horizontal vs vertical) through train and eval."""
    import numpy as np
    from PIL import Image

    from infomax.evaluate import evaluate_run

    rng = np.random.default_rng(0)
    for split, count in (("train", 48), ("test", 16)):
        for label, axis in (("horizontal", 0), ("vertical", 1)):
            folder = tmp_path / "stripes" / split / label
            folder.mkdir(parents=True)
            for i in range(count):
                phase = rng.integers(4)
                wave = ((np.arange(16) + phase) // 2) % 2
                image = (
                    np.repeat(wave[:, None], 16, 1) if axis == 0 else np.repeat(wave[None], 16, 0)
                )
                colour = rng.integers(60, 255, size=3)
                rgb = (image[..., None] * colour).astype(np.uint8)
                Image.fromarray(rgb).save(folder / f"{i}.png")
    monkeypatch.setenv("INFOMAX_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    config = small_config(data=str(tmp_path / "stripes"), image_size=None, epochs=3, batch_size=16)
    result = train(config, run, progress=False)
    assert result.steps == 3 * (96 // 16)
    probe = evaluate_run(run, probe="linear", layer="conv")
    assert probe.n_train == 96 and probe.n_test == 32
    assert probe.accuracy > 0.9  # stripes' orientation is easy to read from conv features
