"""``train tcl`` / ``eval`` of a TCL run, driven through their own argument parsers."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from infomax.tcl import linear_mcc, make_nonstationary_mixture, sufficient_statistic
from infomax.tcl.cli import (
    add_eval_arguments,
    add_tcl_options,
    add_train_arguments,
    is_tcl_run,
    run_eval,
    run_train,
)
from infomax.tcl.fit import load_fit
from infomax.validation import InputError


def _parse(add, argv):
    parser = argparse.ArgumentParser()
    if add is add_eval_arguments:
        parser.add_argument("run_dir")
    add(parser)
    return parser.parse_args(argv)


@pytest.fixture()
def files(tmp_path):
    data = make_nonstationary_mixture(2, 4, 200, 1, seed=0)
    np.save(tmp_path / "x.npy", data.x)
    np.save(tmp_path / "s.npy", data.sources)
    np.save(tmp_path / "u.npy", data.labels)
    return tmp_path, data


def test_train_writes_a_run_that_eval_reads_back(files, capsys):
    folder, data = files
    run = folder / "run"
    argv = [
        "--data", str(folder / "x.npy"), "--segments", "200", "--sources", str(folder / "s.npy"),
        "--hidden", "8", "--steps", "50", "--out", str(run), "--json",
    ]  # fmt: skip
    assert run_train(_parse(add_train_arguments, argv)) == 0
    summary = json.loads(capsys.readouterr().out)
    assert is_tcl_run(run) and summary["classes"] == 4
    assert summary == json.loads((run / "tcl.json").read_text())
    features = np.load(run / "features.npy")
    np.testing.assert_allclose(load_fit(run / "tcl.pt").transform(data.x), features)
    expected = linear_mcc(features, sufficient_statistic(data.sources)).mcc
    assert summary["mcc"] == pytest.approx(expected, abs=1e-12)
    # eval (data path recorded by train) reports the same MCC.
    argv = [str(run), "--sources", str(folder / "s.npy"), "--json"]
    assert run_eval(_parse(add_eval_arguments, argv)) == 0
    assert json.loads(capsys.readouterr().out)["mcc"] == pytest.approx(expected, abs=1e-12)


def test_train_with_labels_from_a_file_and_bad_input(files, capsys):
    folder, _ = files
    argv = [
        "--data", str(folder / "x.npy"), "--segments", str(folder / "u.npy"),
        "--hidden", "4", "--steps", "5", "--out", str(folder / "run-u"),
    ]  # fmt: skip
    assert run_train(_parse(add_train_arguments, argv)) == 0
    assert "4 classes" in capsys.readouterr().out
    np.save(folder / "short.npy", np.zeros((7, 2)))
    with pytest.raises(InputError, match="one row per row"):
        run_train(_parse(add_train_arguments, [*argv, "--sources", str(folder / "short.npy")]))
    with pytest.raises(InputError, match="--sources"):
        run_eval(_parse(add_eval_arguments, [str(folder / "run-u")]))


def test_tcl_options_join_a_shared_train_parser(files, capsys):
    """The shared ``train`` parser leaves budgets unset (None): TCL's defaults apply."""
    folder, _ = files
    parser = argparse.ArgumentParser()
    parser.add_argument("method")
    parser.add_argument("--data", required=True)
    for name in ("--steps", "--batch-size", "--seed", "--threads"):
        parser.add_argument(name, type=int)
    for name in ("--lr",):
        parser.add_argument(name, type=float)
    parser.add_argument("--device")
    parser.add_argument("--out")
    parser.add_argument("--json", action="store_true")
    add_tcl_options(parser, train=True)
    argv = ["tcl", "--data", str(folder / "x.npy"), "--out", str(folder / "r"), "--steps", "3"]
    args = parser.parse_args(argv)
    with pytest.raises(InputError, match="--segments"):
        run_train(args)
    args = parser.parse_args([*argv, "--segments", "100", "--hidden", "4", "--json"])
    assert run_train(args) == 0
    config = json.loads(capsys.readouterr().out)["config"]
    assert (config["steps"], config["batch_size"], config["lr"]) == (3, 512, 3e-3)
    assert (config["hidden"], config["seed"], config["n_classes"]) == ([4], 0, 8)


def test_eval_scores_the_statistic_of_the_family_the_run_was_trained_for(files, capsys):
    folder, data = files
    run = folder / "run-g"
    argv = [
        "--data", str(folder / "x.npy"), "--segments", "200", "--distribution", "gaussian",
        "--hidden", "4", "--steps", "5", "--out", str(run),
    ]  # fmt: skip
    assert run_train(_parse(add_train_arguments, argv)) == 0
    assert load_fit(run / "tcl.pt").config["final"] == "square"
    capsys.readouterr()
    argv = [str(run), "--sources", str(folder / "s.npy"), "--seed", "3", "--json"]
    assert run_eval(_parse(add_eval_arguments, argv)) == 0
    expected = linear_mcc(np.load(run / "features.npy"), data.sources**2, seed=3).mcc
    assert json.loads(capsys.readouterr().out)["mcc"] == pytest.approx(expected, abs=1e-12)
