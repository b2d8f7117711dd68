"""``infomax train`` and ``infomax eval``: output, JSON, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
