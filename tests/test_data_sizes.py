"""Image folders of any size train and evaluate with the defaults (MNIST 28x28, STL 96x96)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from infomax.cli import main
from infomax.data.digits import load_digits_arrays


def digit_folder(root: Path, side: int, per_class: tuple[int, int], rgb: bool = False) -> Path:
    """``root/{train,test}/<digit>/<i>.png``: scikit-learn's digits upscaled to side x side.

    Args:
        root: where to write.
        side: image height and width.
        per_class: images per class in the train and the test split.
        rgb: write colour PNGs (the grey digit in every channel, tinted by class).
    """
    images, labels, _ = load_digits_arrays("all")
    for split, (first, count) in {
        "train": (0, per_class[0]),
        "test": (per_class[0], per_class[1]),
    }.items():
        for digit in range(10):
            for i, index in enumerate(np.flatnonzero(labels == digit)[first : first + count]):
                image = Image.fromarray(images[index, :, :, 0]).resize(
                    (side, side), Image.Resampling.BILINEAR
                )
                if rgb:
                    image = Image.merge("RGB", (image, image, image.point(lambda v: v // 2)))
                path = root / split / str(digit) / f"{i}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                image.save(path)
    return root


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFOMAX_CACHE", str(tmp_path / "cache"))


def test_mnist_sized_folder_trains_and_evaluates_without_a_size_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    root = digit_folder(tmp_path / "mnist", 28, (20, 10))
    run = tmp_path / "run"
    argv = ["train", "dim-local", "--data", str(root), "--steps", "3", "--batch-size", "32"]
    with caplog.at_level(logging.WARNING, logger="infomax"):
        code = main([*argv, "--threads", "1", "--out", str(run), "--json", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["steps"] == 3
    config = json.loads((run / "config.json").read_text())
    assert config["encoder"] == "dim-conv" and config["image_size"] == [28, 28]
    assert config["in_channels"] == 1 and config["num_images"] == 200
    notes = [r.getMessage() for r in caplog.records]
    assert notes and notes[0].startswith(
        "images are 28x28; dim-conv needs sides that are multiples of 8, so it resizes them "
        "to 32x32 (bilinear"
    )
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="infomax"):
        code = main(["eval", str(run), "--data", str(root), "--probe", "linear", "--json"])
    assert code == 0, capsys.readouterr().err
    result = json.loads(capsys.readouterr().out)
    assert (result["n_train"], result["n_test"]) == (200, 100)
    assert result["probe"] == "linear" and result["layer"] == "conv"
    # 10 balanced classes (chance 0.1); conv features of upscaled digits separate them well.
    assert 0.6 < result["accuracy"] <= 1.0
    assert any("resizes them to 32x32" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("encoder", "side", "net"), [("resnet18", 28, 28), ("dim-conv", 96, 96), ("dim-conv", 30, 32)]
)
def test_other_sizes_and_encoders_train_a_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], encoder: str, side: int, net: int
) -> None:
    root = digit_folder(tmp_path / "d", side, (2, 1), rgb=True)
    run = tmp_path / "run"
    argv = ["train", "simclr", "--data", str(root), "--encoder", encoder, "--steps", "1"]
    argv += ["--batch-size", "8", "--threads", "1", "--out", str(run), "--json", "--no-progress"]
    if encoder == "dim-conv":  # a narrow fc layer keeps the 96x96 net (36,864 conv values) small
        argv += ["--encoder-option", "fc_dim=64"]
    assert main(argv) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["steps"] == 1
    config = json.loads((run / "config.json").read_text())
    assert config["image_size"] == [side, side] and config["in_channels"] == 3

    from infomax.train.run_folder import load_encoder

    loaded, _ = load_encoder(run)
    assert loaded.image_size == (side, side) and loaded.net_size == (net, net)
