"""The command tree: lazy parser, ``train tcl`` / ``eval`` of a TCL run, ``train pair``,
``train word2vec`` and ``eval --measures``, all through :func:`infomax.cli.main`."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from infomax.cli import build_parser, main
from infomax.pair.corpus import MarkovCorpus
from infomax.pair.train import train_pair
from infomax.pair.word2vec import read_sentences, train_sgns
from infomax.tcl import linear_mcc, make_nonstationary_mixture, sufficient_statistic
from infomax.tcl.fit import load_fit


def test_building_the_parser_imports_no_torch() -> None:
    code = (
        "import sys; from infomax.cli import build_parser; build_parser(); "
        "print('torch' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "False"


def test_build_parser_dispatches_each_command() -> None:
    parser = build_parser()
    args = parser.parse_args(["train", "pair", "--x", "a.npy", "--y", "b.npy", "--k", "8"])
    # Options left out parse as None: train_pair's own defaults apply.
    assert (args.command, args.x, args.y, args.steps, args.k) == (
        "train",
        "a.npy",
        "b.npy",
        None,
        8,
    )
    args = parser.parse_args(["train", "dim", "--data", "digits", "--steps", "3"])
    assert (args.method, args.steps, args.segments) == ("dim", 3, None)


def test_train_help_lists_the_routed_trainers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    assert "tcl" in out and "--segments" in out
    assert "  pair " in out and "  word2vec " in out


def test_routed_usage_errors_are_one_line_with_their_own_usage(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["train", "pair", "--x", "a.npy"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: infomax train pair")
    assert err.splitlines()[-1] == "infomax: error: the following arguments are required: --y"
    assert main(["train", "word2vec", "--text", "c.txt"]) == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith("required: --out")


@pytest.fixture()
def tcl_files(tmp_path: Path):
    data = make_nonstationary_mixture(2, 4, 200, 1, seed=0)
    np.save(tmp_path / "x.npy", data.x)
    np.save(tmp_path / "s.npy", data.sources)
    return tmp_path, data


def test_train_tcl_then_eval_through_main(tcl_files, capsys: pytest.CaptureFixture[str]) -> None:
    folder, data = tcl_files
    run = folder / "run"
    argv = [
        "train", "tcl", "--data", str(folder / "x.npy"), "--segments", "200", "--hidden", "8",
        "--steps", "40", "--batch-size", "128", "--lr", "0.01", "--seed", "2",
        "--out", str(run), "--json",
    ]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary == json.loads((run / "tcl.json").read_text())
    # The shared train options reach TCL; its own defaults fill what was not given.
    config = summary["config"]
    assert (config["steps"], config["batch_size"], config["lr"], config["seed"]) == (
        40, 128, 0.01, 2,
    )  # fmt: skip
    assert config["hidden"] == [8] and summary["classes"] == 4
    features = np.load(run / "features.npy")
    np.testing.assert_allclose(load_fit(run / "tcl.pt").transform(data.x), features)
    expected = linear_mcc(features, sufficient_statistic(data.sources), seed=0).mcc
    # eval finds the TCL run and scores the features against the sources (data from tcl.json).
    argv = ["eval", str(run), "--sources", str(folder / "s.npy"), "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["mcc"] == pytest.approx(expected, abs=1e-12)
    assert result["random_init"] is False
    # Without --sources (eval) or --data (train): one line naming the fix.
    assert main(["eval", str(run)]) == 2
    assert "--sources" in capsys.readouterr().err
    assert main(["train", "tcl", "--segments", "200", "--out", str(folder / "r2")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("infomax: error: train tcl needs --data FILE") and "Traceback" not in err


def test_train_pair_through_main_matches_the_library(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3))
    y = x @ rng.normal(size=(3, 4)) + 0.1 * rng.normal(size=(500, 4))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    out = tmp_path / "pair"
    argv = [
        "train", "pair", "--x", str(tmp_path / "x.npy"), "--y", str(tmp_path / "y.npy"),
        "--steps", "30", "--batch-size", "64", "--k", "16", "--dim", "8", "--hidden", "32",
        "--seed", "1", "--out", str(out), "--json",
    ]  # fmt: skip
    torch.set_num_threads(1)
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((out / "pair.json").read_text())
    assert (out / "model.pt").is_file()
    reference = train_pair(x, y, dim=8, hidden=32, steps=30, batch_size=64, k=16, seed=1).to_dict()
    assert printed["heldout"] == pytest.approx(reference["heldout"], abs=1e-6)
    assert printed["random_encoder"] == pytest.approx(reference["random_encoder"], abs=1e-6)
    assert printed["heldout"]["k"] == 16
    assert printed["heldout"]["infonce"] <= math.log(16)


def test_train_word2vec_through_main_matches_the_library(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = MarkovCorpus.random(30, 3, seed=0).write(
        tmp_path / "c.txt", sentences=20, length=50, seed=0
    )
    out = tmp_path / "w2v"
    argv = [
        "train", "word2vec", "--text", str(text), "--mode", "counts", "--steps", "20",
        "--dim", "8", "--min-count", "1", "--subsample", "0", "--out", str(out),
    ]  # fmt: skip
    assert main(argv) == 0
    assert f"vectors in {out}" in capsys.readouterr().out
    reference = train_sgns(
        read_sentences(text), dim=8, min_count=1, subsample_threshold=None, mode="counts",
        steps=20,
    )  # fmt: skip
    assert (out / "words.txt").read_text().split() == list(reference.vocabulary.words)
    np.testing.assert_allclose(
        np.load(out / "vectors.npy"), reference.word_vectors.astype(np.float32), atol=1e-6
    )
    np.testing.assert_allclose(
        np.load(out / "contexts.npy"), reference.context_vectors.astype(np.float32), atol=1e-6
    )


def test_eval_measures_through_main_match_the_measures_of_the_features(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``eval --measures`` reports NDM and InfoNCE(PCA(pixels); y) of the run's training split."""
    from infomax.evaluation import (
        extract_features,
        load_splits,
        neural_dependency_measure,
        pixel_features,
        representation_mi,
    )
    from infomax.train.run_folder import load_encoder

    run = tmp_path / "run"
    small = [
        "--data", "digits", "--image-size", "16", "--batch-size", "64", "--threads", "1",
        "--encoder-option", "widths=8/16,fc_dim=32", "--option", "critic_dim=32",
        "--no-progress",
    ]  # fmt: skip
    assert main(["train", "dim-local", *small, "--steps", "2", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["eval", str(run), "--measures", "--seed", "3", "--json", "--no-progress"]) == 0
    measures = json.loads(capsys.readouterr().out)["measures"]

    encoder, config = load_encoder(run)
    images, _ = load_splits("digits", (16, 16), seed=3)
    y, _ = extract_features(encoder, images, "y", mean=config.mean, std=config.std)
    pixels, _ = pixel_features(images, mean=config.mean, std=config.std)
    estimate = representation_mi(
        pixels, y, components=64, seed=3, batch_size=143, bound="infonce", progress=False
    )
    assert measures["n"] == len(images) == 1437
    assert measures["mi_components"] == 64
    assert measures["mi"] == pytest.approx(estimate.mi, abs=1e-9)
    if math.isfinite(estimate.stderr):
        assert measures["mi_stderr"] == pytest.approx(estimate.stderr, abs=1e-9)
    else:  # one held-out batch: no standard error, null in JSON
        assert measures["mi_stderr"] is None
    assert measures["ndm"] == pytest.approx(neural_dependency_measure(y, seed=3), abs=1e-9)
    assert measures["mi"] <= math.log(143) + 1e-9  # InfoNCE's cap on a batch of 143
