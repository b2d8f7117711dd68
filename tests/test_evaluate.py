"""Probes and representation measures: accuracy on tasks with known answers, errors, run folders."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from infomax.checkpoint import CheckpointError, save_checkpoint
from infomax.data import Augment, ImageDataset, load_dataset
from infomax.evaluation import (
    PROBES,
    ProbeResult,
    evaluate_encoder,
    evaluate_pixels,
    evaluate_run,
    extract_features,
    format_probe,
    knn_probe,
    neural_dependency_measure,
    pixel_features,
    probe_to_json,
    recalibrate_batchnorm,
    representation_mi,
    run_probe,
)
from infomax.evaluation.runs import split_rows
from infomax.jsonable import write_json_atomic
from infomax.nets import make_encoder
from infomax.validation import InputError


def blobs(
    n: int, classes: int = 10, dim: int = 20, spread: float = 0.5, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gaussian blobs around random unit-scale centres: (n, dim) train and n // 2 test rows."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dim, generator=g)
    y = torch.randint(classes, (n + n // 2,), generator=g)
    x = centres[y] + spread * torch.randn(len(y), dim, generator=g)
    return x[:n], y[:n], x[n:], y[n:]


def rings(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two concentric rings (radius 1 and 2) in the plane: no line separates them."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(2, (n,), generator=g)
    angle = 2 * math.pi * torch.rand(n, generator=g)
    radius = 1.0 + y.float() + 0.15 * torch.randn(n, generator=g)
    return torch.stack([radius * angle.cos(), radius * angle.sin()], dim=1), y


@pytest.fixture(scope="module")
def digits8() -> tuple[ImageDataset, ImageDataset]:
    return load_dataset("digits", split="train"), load_dataset("digits", split="test")


@pytest.fixture(scope="module")
def digits16() -> tuple[ImageDataset, ImageDataset]:
    return (
        load_dataset("digits", split="train", size=16),
        load_dataset("digits", split="test", size=16),
    )


# ---------------------------------------------------------------- probes on synthetic features


def test_linear_probe_separates_blobs() -> None:
    xtr, ytr, xte, yte = blobs(1000)
    result = run_probe(xtr, ytr, xte, yte, probe="linear", layer="y")
    assert isinstance(result, ProbeResult)
    assert result.accuracy > 0.95 and result.train_accuracy is not None
    assert result.train_accuracy > 0.95
    assert (result.probe, result.layer, result.n_train, result.n_test) == ("linear", "y", 1000, 500)
    assert (result.n_features, result.n_classes) == (20, 10)
    # 900 fit rows in batches of 256 give 3 steps an epoch: min_steps=1000 makes it 334 epochs.
    assert result.settings["n_val"] == 100 and result.settings["epochs"] == 334
    assert result.settings["steps"] >= 1000 and 1 <= result.settings["epoch"] <= 334


def test_linear_probe_on_random_labels_is_at_chance() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1500, 64, generator=g)
    y = torch.randint(10, (1500,), generator=g)
    result = run_probe(x[:1000], y[:1000], x[1000:], y[1000:], probe="linear")
    assert result.accuracy < 0.2  # chance is 0.1
    assert result.train_accuracy is not None and result.train_accuracy > result.accuracy


def test_linear_probe_standardizes_features() -> None:
    # Huge scale and offset, plus a constant column: standardized, it is the same easy task.
    xtr, ytr, xte, yte = blobs(1000, seed=2)
    scale = torch.logspace(-3, 4, 20)
    xtr, xte = xtr * scale + 1e4, xte * scale + 1e4
    xtr = torch.cat([xtr, torch.full((1000, 1), 7.0)], dim=1)
    xte = torch.cat([xte, torch.full((500, 1), 7.0)], dim=1)
    result = run_probe(xtr, ytr, xte, yte, probe="linear")
    assert result.accuracy > 0.95
    assert math.isfinite(result.settings["test_loss"])


def test_linear_probe_is_repeatable_and_val_fraction_zero_keeps_the_last_epoch() -> None:
    xtr, ytr, xte, yte = blobs(600, spread=1.5, seed=3)
    options = {"epochs": 5, "min_steps": 0}
    first = run_probe(xtr, ytr, xte, yte, seed=4, **options)
    again = run_probe(xtr, ytr, xte, yte, seed=4, **options)
    assert (first.accuracy, first.settings) == (again.accuracy, again.settings)
    last = run_probe(xtr, ytr, xte, yte, seed=4, val_fraction=0.0, **options)
    assert last.settings["n_val"] == 0 and last.settings["epoch"] == 5
    assert last.settings["val_accuracy"] is None


def test_knn_probe_on_blobs_and_against_a_direct_computation() -> None:
    xtr, ytr, xte, yte = blobs(1000, seed=5)
    result = run_probe(xtr, ytr, xte, yte, probe="knn")
    assert result.accuracy > 0.9 and result.train_accuracy is None
    assert result.settings["k"] == 200 and result.settings["temperature"] == 0.1

    # The vote, written out for every test row at once, with a small k and odd chunks.
    g = torch.Generator().manual_seed(6)
    xtr, xte = torch.randn(60, 5, generator=g), torch.randn(23, 5, generator=g)
    ytr, yte = torch.randint(3, (60,), generator=g), torch.randint(3, (23,), generator=g)
    sims = F.normalize(xte, dim=1) @ F.normalize(xtr, dim=1).T
    top, idx = sims.topk(7, dim=1)
    votes = torch.zeros(23, 3).scatter_add_(1, ytr[idx], (top / 0.5).exp())
    expected = float((votes.argmax(1) == yte).float().mean())
    small = knn_probe(xtr, ytr, xte, yte, k=7, temperature=0.5, chunk_size=4)
    assert small.accuracy == pytest.approx(expected)
    assert knn_probe(xtr, ytr, xte, yte, k=500).settings["k"] == 60  # capped at N


def test_mlp_probe_learns_rings_that_a_linear_probe_cannot() -> None:
    x, y = rings(1500)
    linear = run_probe(x[:1000], y[:1000], x[1000:], y[1000:], probe="linear")
    mlp = run_probe(x[:1000], y[:1000], x[1000:], y[1000:], probe="mlp")
    assert linear.accuracy < 0.7
    assert mlp.accuracy > 0.9
    assert mlp.settings["hidden"] == 200 and mlp.settings["dropout"] == 0.1


def test_probes_registry_and_option_errors() -> None:
    assert set(PROBES) == {"linear", "mlp", "knn"}
    xtr, ytr, xte, yte = blobs(100)
    with pytest.raises(InputError, match=r"unknown probe 'svm'; use one of linear, mlp, knn"):
        run_probe(xtr, ytr, xte, yte, probe="svm")
    with pytest.raises(InputError, match=r"probe 'knn' has no option 'epochs'; its options are k"):
        run_probe(xtr, ytr, xte, yte, probe="knn", epochs=3)
    with pytest.raises(InputError, match="same width"):
        run_probe(xtr, ytr, xte[:, :5], yte)
    with pytest.raises(InputError, match=r"train labels must have shape \(100,\)"):
        run_probe(xtr, ytr[:50], xte, yte)
    bad = xtr.clone()
    bad[17, 3] = float("nan")
    with pytest.raises(InputError, match=r"1 rows with NaN or inf \(first at row 17\)"):
        run_probe(bad, ytr, xte, yte)
    with pytest.raises(InputError, match="unlabeled rows"):
        run_probe(xtr, torch.full_like(ytr, -1), xte, yte)
    with pytest.raises(InputError, match="temperature must be positive"):
        run_probe(xtr, ytr, xte, yte, probe="knn", temperature=0)


# ---------------------------------------------------------------- images and encoders


def test_pixel_probe_on_digits(digits8: tuple[ImageDataset, ImageDataset]) -> None:
    train, test = digits8
    result = evaluate_pixels(train, test, probe="linear")
    assert result.accuracy > 0.85
    assert (result.layer, result.n_train, result.n_test, result.n_features) == (
        "pixels",
        1437,
        360,
        64,
    )
    assert result.info["feature_seconds"] <= result.seconds
    features, labels = pixel_features(test)
    assert features.shape == (360, 64) and labels.dtype == torch.int64
    manual = (torch.from_numpy(test.images.copy()).float().flatten(1) / 255 - test.mean[0]) / (
        test.std[0]
    )
    assert torch.allclose(features, manual, atol=1e-5)


def test_extract_features_matches_the_encoder_and_restores_its_mode(
    digits16: tuple[ImageDataset, ImageDataset],
) -> None:
    _, test = digits16
    torch.manual_seed(0)
    encoder = make_encoder("dim-conv", in_channels=1, image_size=16, widths=(8, 16, 32), fc_dim=64)
    encoder.train()
    features, labels = extract_features(encoder, test, layer="conv", batch_size=100)
    assert features.shape == (360, 32 * 2 * 2) and features.dtype == torch.float32
    assert torch.equal(labels, torch.from_numpy(test.labels))
    assert encoder.training  # mode restored
    augment = Augment("none", size=16, mean=test.mean, std=test.std)
    images = torch.from_numpy(test.images[:5].copy()).permute(0, 3, 1, 2)
    with torch.no_grad():
        expected = encoder.eval()(augment(images)).layer("conv")
    assert torch.allclose(features[:5], expected, atol=1e-5)


def test_random_encoder_with_recalibrated_batchnorm_on_digits(
    digits16: tuple[ImageDataset, ImageDataset],
) -> None:
    train, test = digits16
    torch.manual_seed(0)
    encoder = make_encoder("dim-conv", in_channels=1, image_size=16, widths=(32, 64, 128))
    before = encoder.convs[0][1].running_var.clone()
    result = evaluate_encoder(encoder, train, test, probe="linear", layer="conv", recalibrate=True)
    assert not torch.allclose(encoder.convs[0][1].running_var, before)
    assert not encoder.training
    assert result.accuracy > 0.85  # random conv features of digits are still informative
    assert result.info["recalibrated"] and result.info["encoder"] == "DIMConvEncoder"


def test_recalibrate_batchnorm_gives_the_data_statistics(
    digits8: tuple[ImageDataset, ImageDataset],
) -> None:
    train, _ = digits8
    torch.manual_seed(0)
    encoder = make_encoder("mlp", in_channels=1, image_size=8, hidden=32)
    first = encoder.layer1[1]
    assert torch.equal(first.running_mean, torch.zeros(32))
    # One batch of every image: the running statistics are exactly that batch's.
    assert recalibrate_batchnorm(encoder, train, batch_size=len(train)) == 2
    augment = Augment("none", size=8, mean=train.mean, std=train.std)
    x = augment(torch.from_numpy(train.images.copy()).permute(0, 3, 1, 2))
    with torch.no_grad():
        pre = encoder.layer1[0](x.flatten(1))
    assert torch.allclose(first.running_mean, pre.mean(0), atol=1e-4)
    assert torch.allclose(first.running_var, pre.var(0), rtol=1e-3)
    assert first.momentum == 0.1 and not encoder.training


def test_evaluate_encoder_errors(digits8: tuple[ImageDataset, ImageDataset]) -> None:
    train, test = digits8
    encoder = make_encoder("mlp", in_channels=1, image_size=8, hidden=16)
    with pytest.raises(InputError, match=r"unknown layer 'head'; use one of conv, local, fc, y"):
        evaluate_encoder(encoder, train, test, layer="head")
    with pytest.raises(InputError, match=r"unknown probe 'forest'"):
        evaluate_encoder(encoder, train, test, probe="forest")
    colour = make_encoder("mlp", in_channels=3, image_size=8, hidden=16)
    with pytest.raises(InputError, match="takes 3-channel images but digits .train. has 1 channel"):
        evaluate_encoder(colour, train, test)
    big = make_encoder("mlp", in_channels=1, image_size=16, hidden=16)
    with pytest.raises(InputError, match=r"takes 16x16 images .* has 8x8; load it with size"):
        evaluate_encoder(big, train, test)
    unlabeled = ImageDataset(
        train.images, np.full(len(train), -1), [], "my-photos", "train", train.mean, train.std
    )
    message = r"my-photos \(train\) has no labels; probes need a labeled train and test split"
    with pytest.raises(InputError, match=message):
        evaluate_encoder(encoder, unlabeled, test)
    with pytest.raises(InputError, match=message):
        evaluate_pixels(unlabeled, test)


# ---------------------------------------------------------------- run folders


def make_run(tmp_path: Path, digits8: tuple[ImageDataset, ImageDataset]) -> tuple[Path, object]:
    """A run folder with an "mlp" encoder; config.json in the first, unversioned layout."""
    train, _ = digits8
    config = {
        "encoder": "mlp",
        "encoder_options": {"hidden": 64},
        "in_channels": 1,
        "image_size": [8, 8],
        "out_dim": 16,
        "mean": list(train.mean),
        "std": list(train.std),
        "data": "digits",
        "method": "dim",
    }
    run = tmp_path / "run"
    write_json_atomic(run / "config.json", config)
    torch.manual_seed(3)
    encoder = make_encoder("mlp", in_channels=1, image_size=8, out_dim=16, hidden=64)
    recalibrate_batchnorm(encoder, train)  # "trained": weights and statistics not the defaults
    state = {"encoder." + k: v for k, v in encoder.state_dict().items()}
    save_checkpoint(run / "checkpoint.pt", {"model": state})
    return run, encoder


def test_evaluate_run_probes_the_checkpoint_encoder(
    tmp_path: Path, digits8: tuple[ImageDataset, ImageDataset]
) -> None:
    run, encoder = make_run(tmp_path, digits8)
    result = evaluate_run(run, "digits", probe="linear", layer="fc")
    direct = evaluate_encoder(encoder, *digits8, probe="linear", layer="fc")
    assert result.accuracy == direct.accuracy > 0.8
    assert result.info["run_dir"] == str(run) and result.info["data"] == "digits"
    assert result.info["method"] == "dim" and not result.info["random_init"]
    # data=None takes the config's; a random-init encoder and the pixel baseline need no
    # checkpoint.
    assert evaluate_run(run, layer="fc").accuracy == result.accuracy
    (run / "checkpoint.pt").unlink()
    random = evaluate_run(run, "digits", probe="knn", layer="fc", random_init=True)
    assert random.info["random_init"] and random.info["recalibrated"] and random.accuracy > 0.8
    assert format_probe(random).startswith("knn probe on random-init fc: ")
    pixels = evaluate_run(run, "digits", pixels=True)
    assert pixels.layer == "pixels" and pixels.accuracy > 0.85
    with pytest.raises(CheckpointError, match="no checkpoint at .*checkpoint.pt"):
        evaluate_run(run, "digits")
    with pytest.raises(CheckpointError, match="no run folder"):
        evaluate_run(tmp_path / "nowhere", "digits")


def test_evaluate_run_rejects_data_of_the_wrong_channels(
    tmp_path: Path, digits8: tuple[ImageDataset, ImageDataset]
) -> None:
    run, _ = make_run(tmp_path, digits8)
    config = json.loads((run / "config.json").read_text())
    write_json_atomic(run / "config.json", {**config, "in_channels": 3})
    with pytest.raises(InputError, match="takes 3-channel images but digits .train. has 1"):
        evaluate_run(run, "digits", random_init=True)
    with pytest.raises(InputError, match="unknown layer"):
        evaluate_run(run, "digits", layer="conv5")


def test_split_rows_is_seeded_disjoint_and_complete() -> None:
    train, test = split_rows(1797, 0.2, seed=3)
    assert len(test) == round(0.2 * 1797) == 359 and len(train) == 1797 - 359
    assert not set(train.tolist()) & set(test.tolist())
    assert sorted([*train.tolist(), *test.tolist()]) == list(range(1797))
    again_train, again_test = split_rows(1797, 0.2, seed=3)
    assert np.array_equal(test, again_test) and np.array_equal(train, again_train)
    assert not np.array_equal(test, split_rows(1797, 0.2, seed=4)[1])
    with pytest.raises(InputError, match="each needs at least 2"):
        split_rows(5, 0.1, seed=0)
    with pytest.raises(InputError, match="strictly between 0 and 1"):
        split_rows(100, 1.0, seed=0)


def test_evaluate_run_with_a_test_fraction_probes_rows_it_did_not_fit(
    tmp_path: Path, digits8: tuple[ImageDataset, ImageDataset]
) -> None:
    run, encoder = make_run(tmp_path, digits8)
    result = evaluate_run(run, "digits", probe="knn", layer="fc", test_fraction=0.25, seed=1)
    assert result.n_train == 1437 - 359 and result.n_test == 359
    assert result.info["split_test"] == "train[0.25 held out, seed 1] test"
    # The same numbers as probing the rows split_rows picks, by hand.
    train, _ = digits8
    fit_rows, test_rows = split_rows(len(train), 0.25, seed=1)
    features, labels = extract_features(encoder, train, "fc")
    direct = run_probe(
        features[fit_rows], labels[fit_rows], features[test_rows], labels[test_rows],
        probe="knn",
    )  # fmt: skip
    assert result.accuracy == direct.accuracy


def test_format_and_json() -> None:
    result = ProbeResult(
        accuracy=0.71842,
        probe="linear",
        layer="conv",
        n_train=50000,
        n_test=10000,
        seconds=63.12,
        train_accuracy=0.80021,
        settings={"val_accuracy": None, "lr": 1e-3},
        info={"mean": np.float32(0.5)},
    )
    assert format_probe(result) == (
        "linear probe on conv: 71.84% test accuracy (train 80.02%), "
        "50000 train / 10000 test, 63.1 s"
    )
    data = probe_to_json(result)
    assert json.loads(json.dumps(data)) == data
    assert {k: data[k] for k in ("accuracy", "probe", "layer", "n_train", "n_test")} == {
        "accuracy": 0.71842,
        "probe": "linear",
        "layer": "conv",
        "n_train": 50000,
        "n_test": 10000,
    }
    assert data["info"]["mean"] == 0.5


# ---------------------------------------------------------------- representation measures


def test_ndm_is_zero_for_independent_and_positive_for_correlated_coordinates() -> None:
    g = torch.Generator().manual_seed(0)
    independent = torch.randn(4000, 4, generator=g)
    shared = torch.randn(4000, 1, generator=g)
    correlated = shared + 0.3 * torch.randn(4000, 4, generator=g)
    options = {"steps": 400, "hidden": 64, "seed": 0}
    ndm_independent = neural_dependency_measure(independent, **options)
    ndm_correlated = neural_dependency_measure(correlated, **options)
    assert abs(ndm_independent) < 0.03
    # True total correlation: -log det(R) / 2 with R = 1 / 1.09 off the diagonal: 3.08 nats.
    # NDM is a lower bound (a DV read-out of a 400-step critic): over data seeds 0-2 and
    # critic seeds 0-1 it gave 2.75 to 2.96 (independent: -0.008 to -0.002). The interval
    # allows 0.15 below the lowest of those and the noise of a bound read on 1,200 rows above
    # the truth.
    assert 2.6 < ndm_correlated < 3.08 + 0.1
    with pytest.raises(InputError, match="at least 2 columns"):
        neural_dependency_measure(independent[:, :1])


def test_representation_mi_reads_dependence_between_images_and_features() -> None:
    g = torch.Generator().manual_seed(0)
    scales = torch.linspace(3, 0.1, 100)
    images = torch.randn(1200, 100, generator=g) * scales
    y = images[:, :4] + 0.5 * torch.randn(1200, 4, generator=g)
    y = torch.cat([y, torch.zeros(1200, 1)], dim=1)  # a dead unit, dropped
    options = {"components": 8, "steps": 300, "batch_size": 128, "progress": False}
    dependent = representation_mi(images, y, **options)
    assert dependent.mi > 1.0
    assert dependent.info["pca_components"] == 8 and dependent.info["y_columns"] == 4
    share = float(scales[:8].square().sum() / scales.square().sum())  # 0.21
    assert dependent.info["explained_variance"] == pytest.approx(share, abs=0.02)
    noise = representation_mi(images, torch.randn(1200, 4, generator=g), **options)
    assert -0.3 < noise.mi < 0.15  # about 0 (a lower bound on little data: a little below)
