"""The training loop: it computes what a plain loop computes, resume is exact, signals
checkpoint, budgets stop it, bad runs are refused."""

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

from infomax.checkpoint import CheckpointError, load_checkpoint
from infomax.distributed import World
from infomax.train import TrainConfig, train
from infomax.train.run_folder import (
    RUN_CONFIG_VERSION,
    load_encoder,
    migrate_run_config,
    read_run_config,
)
from infomax.train.setup import setup_run
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


def logged(run: Path, key: str) -> list[float]:
    return [json.loads(line)[key] for line in (run / "metrics.jsonl").read_text().splitlines()]


def losses(run: Path) -> list[float]:
    return logged(run, "loss")


METHODS = [
    ("dim-local", {}),
    ("dim-local", {"estimator": "jsd"}),
    ("dim-global", {}),
    ("simclr", {}),
    ("demi", {"conditional": "bo"}),
    ("demi", {"conditional": "is"}),
    ("multiview", {}),
    ("cpc", {"steps": 2, "context_dim": 32}),
]


def reference_loop(config: TrainConfig, steps: int) -> tuple[list[float], dict[str, torch.Tensor]]:
    """The losses and final weights of ``steps`` plain Adam steps, written without the loop."""
    torch.manual_seed(config.seed)
    setup = setup_run(config, 1, False)
    method = setup.method
    optimizer = torch.optim.Adam(method.parameters(), lr=config.lr)
    loader = setup.loader(torch.device("cpu"), World())
    method.train()
    values = []
    for batch in loader.epoch(0, start=0):
        loss = method(method.make_views(batch.images)).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        values.append(float(loss.detach()))
        if len(values) == steps:
            break
    return values, method.state_dict()


@pytest.mark.parametrize(("method", "options"), METHODS)
def test_the_loop_computes_what_a_plain_adam_loop_computes(
    tmp_path: Path, method: str, options: dict
) -> None:
    """Three steps of every method: the logged losses and the saved weights equal, bit for bit,
    those of a plain loop over the same batches (the loop adds no hidden state or order)."""
    options = {**options, "critic_dim": 64} if method.startswith("dim") else options
    config = small_config(method, max_steps=3, method_options=options, log_every=1, probe=False)
    train(config, tmp_path / "run", progress=False)
    expected_losses, expected_weights = reference_loop(config, 3)
    assert losses(tmp_path / "run") == expected_losses
    assert_same_weights(weights(tmp_path / "run"), expected_weights)


@pytest.mark.parametrize(("method", "options"), METHODS)
def test_each_method_lowers_its_loss(tmp_path: Path, method: str, options: dict) -> None:
    options = {**options, "critic_dim": 64} if method.startswith("dim") else options
    config = small_config(method, epochs=5, method_options=options, lr=1e-3)
    result = train(config, tmp_path / "run", progress=False)
    values = losses(tmp_path / "run")
    assert result.stopped == "epochs" and result.epochs_done == 5
    assert len(values) >= 6
    first, last = sum(values[:2]) / 2, sum(values[-2:]) / 2
    assert last < first - 0.1, (first, last)
    # The online probe reads the 10 digit classes well above chance (0.1): over the last three
    # windows (960 images; chance would give 0.10 +- 0.01), seeds 0 and 1 of every method gave
    # 0.24 to 0.40.
    accuracy = logged(tmp_path / "run", "probe_accuracy")[-3:]
    assert sum(accuracy) / 3 > 0.17, accuracy


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
    # The resumed part reads every setting from the run's config.json.
    resume = [sys.executable, "-m", "infomax", "train", "--resume", "--out", str(killed)]
    resumed = subprocess.run([*resume, "--no-progress"], env=env, check=True)
    assert resumed.returncode == 0
    straight = tmp_path / "straight"
    subprocess.run([*args, "--out", str(straight)], env=env, check=True, stdout=subprocess.PIPE)
    assert_same_weights(weights(straight), weights(killed))


def test_minutes_budget_counts_training_time(tmp_path: Path) -> None:
    result = train(small_config(epochs=None, minutes=0.02), tmp_path / "run", progress=False)
    assert result.stopped == "minutes"
    assert result.seconds >= 1.2  # 0.02 minutes of steps, then the step in flight ends
    saved = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert saved["seconds"] == result.seconds and saved["step"] == result.steps
    logged_seconds = logged(tmp_path / "run", "seconds")
    assert logged_seconds[-1] == round(result.seconds, 3)  # the last log line is the end


def test_wall_minutes_stops_this_invocation(tmp_path: Path) -> None:
    result = train(small_config(epochs=None, wall_minutes=0.01), tmp_path / "run", progress=False)
    assert result.stopped == "wall_minutes" and result.steps >= 1
    with pytest.raises(InputError, match="wall_minutes must be positive"):
        train(small_config(wall_minutes=-1.0), tmp_path / "bad", progress=False)


def test_checkpoints_are_written_on_the_cadence_not_every_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import infomax.train.loop as loop

    writes: list[int] = []
    original = loop.save_checkpoint
    monkeypatch.setattr(
        loop, "save_checkpoint", lambda path, state: (writes.append(state["step"]),
                                                      original(path, state))
    )  # fmt: skip
    train(small_config(epochs=3, checkpoint_minutes=60.0), tmp_path / "run", progress=False)
    assert writes == [3 * (1437 // 64)]  # three epochs, one checkpoint: at the end


def test_checkpoint_cadence_is_bounded_by_time_and_by_the_cost_of_writing() -> None:
    from infomax.train.hooks import CheckpointCadence

    now = [100.0]
    cadence = CheckpointCadence(minutes=1.0, clock=lambda: now[0])
    now[0] = 159.0
    assert not cadence.due()
    now[0] = 160.0
    assert cadence.due()
    cadence.written(0.5)  # fast write: the next one 60 s later
    assert cadence.next_due == 220.0
    cadence.written(3.0)  # a 3 s write: at least 50 x 3 s = 150 s later (2% of the time)
    assert cadence.next_due == 160.0 + 150.0


def test_run_config_is_typed_versioned_and_migrates_the_first_files(tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(small_config(max_steps=1), run, progress=False)
    config = read_run_config(run)
    assert config.version == RUN_CONFIG_VERSION == 2
    assert config.train == small_config(max_steps=1)
    assert config.image_size == [16, 16] and config.in_channels == 1 and config.world_size == 1
    # A file of the first layout: no version, data as a dict, no train.wall_minutes.
    first = json.loads((run / "config.json").read_text())
    del first["version"], first["train"]["wall_minutes"]
    first["data"] = {"source": "digits", "name": "digits"}
    migrated = migrate_run_config(first)
    assert migrated["version"] == 2 and migrated["data"] == "digits"
    (run / "config.json").write_text(json.dumps(first))
    assert read_run_config(run) == config
    (run / "config.json").write_text(json.dumps({**first, "version": 9}))
    with pytest.raises(CheckpointError, match="config.json .*newer infomax .*version 9"):
        read_run_config(run)
    (run / "config.json").write_text(json.dumps({**config.to_json(), "colour": "red"}))
    with pytest.raises(CheckpointError, match="config.json is not an infomax run config: .*colour"):
        read_run_config(run)


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
    assert config.method == "dim-local" and config.image_size == [16, 16]
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
    from infomax.evaluation import evaluate_run

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

    from infomax.evaluation import evaluate_run

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
