"""``infomax train`` and ``infomax eval``: output, JSON, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from infomax.checkpoint import load_checkpoint
from infomax.cli import main

SMALL = [
    "--data", "digits", "--image-size", "16", "--batch-size", "64", "--threads", "1",
    "--encoder-option", "widths=8/16,fc_dim=32", "--option", "critic_dim=32", "--no-progress",
]  # fmt: skip


def _fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    errors = [line for line in captured.err.splitlines() if line.startswith("infomax: error: ")]
    assert len(errors) == 1, captured.err
    return errors[0].removeprefix("infomax: error: ")


def test_train_then_eval_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main(["train", "dim-local", *SMALL, "--steps", "4", "--out", str(run), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 4 and summary["stopped"] == "steps"
    assert summary["run_dir"] == str(run)
    assert (
        main(["eval", str(run), "--layer", "fc", "--probe", "knn", "--json", "--no-progress"]) == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert {"accuracy", "probe", "layer", "n_train", "n_test"} <= set(result)
    assert result["probe"] == "knn" and result["layer"] == "fc"
    assert result["n_train"] == 1437 and result["n_test"] == 360
    assert 0.5 < result["accuracy"] <= 1.0


def test_train_human_summary_names_the_run_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    simclr = [a for a in SMALL if a not in ("--option", "critic_dim=32")]  # DIM's option
    assert main(["train", "simclr", *simclr, "--steps", "2", "--out", str(run)]) == 0
    out = capsys.readouterr().out
    assert "simclr: 2 steps" in out and f"infomax eval {run}" in out


@pytest.mark.parametrize("subview", ["cutout", "crop"])
def test_train_demi_takes_the_subview_and_dim_takes_two_views(
    subview: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = [a for a in SMALL if a not in ("--option", "critic_dim=32")]
    run = tmp_path / "demi"
    argv = ["train", "demi", *plain, "--subview", subview, "--steps", "1", "--out", str(run)]
    assert main([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 1
    saved = json.loads((run / "config.json").read_text())
    assert saved["train"]["method_options"]["subview"] == subview
    two = tmp_path / "dimg"
    options = ["--option", "critic_dim=32,views=2"]
    argv = ["train", "dim-global", *plain, *options, "--steps", "1", "--out", str(two)]
    assert main([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "byol", "--data", "digits"], "unknown method 'byol'"),
        (["train", "dim-local", "--data", "nowhere/x.tar"], "unknown data source"),
        (["train", "simclr", "--data", "digits", "--option", "tau"], "expected NAME=VALUE"),
        (["train", "simclr", "--data", "digits", "--option", "tau=1"], "no option 'tau'"),
        (["train", "dim-local", "--data", "digits", "--resume", "--out", "/nonexistent/run"],
         "cannot resume"),
        (["train", "simclr", "--data", "digits", "--subview", "crop"], "no option 'subview'"),
        (["eval", "/nonexistent/run"], "no run folder"),
        (["eval", ".", "--pixels", "--random-init"], "cannot be combined"),
    ],
)  # fmt: skip
def test_bad_train_and_eval_input_is_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert message in _fails(argv, capsys)


# --------------------------------------------------------------------------- hardening


def _stripes(root: Path, count: int, splits: bool) -> Path:
    """PNG stripes, horizontal vs vertical, 16x16: root/{train,test}/<class>/ or root/<class>/."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("train", "test") if splits else ("",):
        for label, axis in (("horizontal", 0), ("vertical", 1)):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(count):
                wave = ((np.arange(16) + rng.integers(4)) // 2) % 2
                image = (
                    np.repeat(wave[:, None], 16, 1) if axis == 0 else np.repeat(wave[None], 16, 0)
                )
                rgb = (image[..., None] * rng.integers(60, 255, size=3)).astype(np.uint8)
                Image.fromarray(rgb).save(folder / f"{i}.png")
    return root


@pytest.fixture
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-step dim-local run on digits (shared by the error cases that need a run)."""
    run = tmp_path_factory.mktemp("trained") / "run"
    assert main(["train", "dim-local", *SMALL, "--steps", "3", "--out", str(run), "--json"]) == 0
    return run


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--device", "cuda:99"], "device 'cuda:99'"),
        (["--device", "foo"], "unknown device 'foo'; use --device cpu, cuda, cuda:N"),
        (["--option", "critic_dim=32,gamma=abc"], "option gamma takes a number"),
        (["--option", "critic_dim=32,estimator=3"], "option estimator takes a name"),
    ],
)
def test_bad_devices_and_option_types_are_one_line(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "dim-local", *SMALL, "--steps", "1", "--out", str(tmp_path / "r"), *extra]
    assert message in _fails(argv, capsys)
    assert not (tmp_path / "r" / "checkpoint.pt").exists()


def test_resume_and_run_folder_errors_name_the_problem_and_the_fix(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    resume = ["train", "--resume", "--out"]
    # No budget left: the saved budget (3 steps) is spent.
    message = _fails([*resume, str(trained)], capsys)
    assert "nothing to resume" in message and "max_steps=3 (done 3)" in message
    # A contradicting flag names the flag and the saved value.
    message = _fails([*resume, str(trained), "--steps", "5", "--lr", "0.5"], capsys)
    assert "trained with --lr 0.001, not 0.5" in message and "drop the flag" in message
    message = _fails([*resume, str(trained), "--steps", "5", "--option", "critic_dim=64"], capsys)
    assert "critic_dim=32 in --option, not critic_dim=64" in message
    # A folder with a checkpoint but no config.json.
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "checkpoint.pt").write_bytes((trained / "checkpoint.pt").read_bytes())
    message = _fails([*resume, str(bare), "--steps", "5"], capsys)
    assert message.startswith("cannot resume: ") and "has no config.json" in message
    # A broken config.json: the file is named, for train and eval alike.
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"method": "dim-local",')
    for argv in ([*resume, str(broken), "--steps", "5"], ["eval", str(broken)]):
        message = _fails(argv, capsys)
        assert f"{broken / 'config.json'} is not valid JSON" in message
    # A device this build cannot use is not reported as a corrupt checkpoint.
    message = _fails(["eval", str(trained), "--device", "cuda:99"], capsys)
    assert "device 'cuda:99'" in message and "corrupt" not in message
    # Without --resume, METHOD and --data are required.
    assert "give a METHOD" in _fails(["train", "--data", "digits"], capsys)
    assert "give the data" in _fails(["train", "simclr", "--steps", "1"], capsys)


def test_resume_reads_the_saved_settings_and_ends_where_a_straight_run_ends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = [*SMALL, "--lr", "0.002", "--seed", "5", "--option", "critic_dim=32,gamma=0.3"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert main(["train", "dim-local", *settings, "--steps", "6", "--out", str(straight)]) == 0
    assert main(["train", "dim-local", *settings, "--steps", "2", "--out", str(split)]) == 0
    capsys.readouterr()
    # Only the new budget: every other setting comes from config.json.
    assert main(["train", "--resume", "--out", str(split), "--steps", "6", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 6 and summary["stopped"] == "steps"
    saved = json.loads((split / "config.json").read_text())
    assert saved["train"]["lr"] == 0.002 and saved["train"]["seed"] == 5
    assert saved["train"]["method_options"] == {"critic_dim": 32, "gamma": 0.3}
    assert saved["version"] == 2
    a = load_checkpoint(straight / "checkpoint.pt")["model"]
    b = load_checkpoint(split / "checkpoint.pt")["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_progress_goes_to_a_log_as_plain_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    quiet = [a for a in SMALL if a != "--no-progress"]
    assert main(["train", "dim-local", *quiet, "--steps", "4", "--out", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err  # not a terminal: a plain line, no carriage returns
    lines = [line for line in err.splitlines() if line.startswith("train dim-local ")]
    assert len(lines) == 1 and lines[0].startswith("train dim-local 4/4 ") and "\r" not in err


def test_help_shows_defaults_and_explains_probe_and_layer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 128)" in text and "(default: 0.001)" in text and "(default: cpu)" in text
    assert "time inside optimiser steps" in text and "--wall-minutes" in text
    assert "--checkpoint-minutes" in text and "(default: 5)" in text
    assert main(["eval", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "200 nearest neighbours" in text and "(default: linear)" in text
    assert "fc (the last hidden vector)" in text and "(default: conv)" in text
    assert "--test-fraction" in text and "(default: 500)" in text


def test_relative_data_is_stored_absolute_and_a_flat_folder_gets_a_seeded_test_split(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFOMAX_CACHE", str(tmp_path / "cache"))
    _stripes(tmp_path / "work" / "flat", 30, splits=False)
    monkeypatch.chdir(tmp_path / "work")
    plain = [a for a in SMALL if a not in ("--data", "digits", "--option", "critic_dim=32")]
    run = tmp_path / "run"
    argv = ["train", "simclr", "--data", "flat", *plain, "--batch-size", "16", "--steps", "2"]
    assert main([*argv, "--out", str(run)]) == 0
    saved = json.loads((run / "config.json").read_text())
    assert saved["data"] == str(tmp_path / "work" / "flat") == saved["train"]["data"]
    monkeypatch.chdir(tmp_path)  # elsewhere: the stored path still finds the data
    capsys.readouterr()
    message = _fails(["eval", str(run), "--no-progress"], capsys)
    assert "no 'test' split" in message and "--test-fraction 0.2" in message
    probe = ["eval", str(run), "--probe", "knn", "--layer", "y", "--json", "--no-progress"]
    assert main([*probe, "--test-fraction", "0.25"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["n_test"] == 15 and first["n_train"] == 45  # round(0.25 * 60) held out
    assert first["info"]["test_fraction"] == 0.25
    assert main([*probe, "--test-fraction", "0.25"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == first["accuracy"]  # same split
