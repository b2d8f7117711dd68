"""A plain install (no matplotlib): benchmarks and the demo print their tables, skip the plot."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from infomax.bench.plots import PLOT_SKIPPED
from infomax.cli import main


@pytest.fixture
def no_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import matplotlib`` fail as it does where the package is not installed."""
    for name in [n for n in sys.modules if n == "matplotlib" or n.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError):
        import matplotlib  # noqa: F401


def test_plot_skip_line_names_the_extra() -> None:
    assert PLOT_SKIPPED == (
        "plot skipped: matplotlib is not installed (pip install 'infomax[plot]')"
    )


def test_staircase_without_matplotlib(
    no_matplotlib: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["bench", "staircase", "--bound", "infonce,nwj", "--steps-per-stage", "2"]
    assert main([*argv, "--batch-size", "8", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].split() == ["true", "MI", "2.0", "4.0", "6.0", "8.0", "10.0"]
    assert [line.split()[0] for line in lines[2:4]] == ["infonce", "nwj"]
    assert captured.err.splitlines()[-1] == PLOT_SKIPPED
    assert json.loads((tmp_path / "staircase.json").read_text())["config"]["batch_size"] == 8
    assert not (tmp_path / "staircase.png").exists()


def test_demi_without_matplotlib(
    no_matplotlib: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["bench", "demi", "--mi", "4", "--batch-size", "16", "--subviews", "1", "--steps", "3"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    table = captured.out.splitlines()
    assert table[0].startswith("| true MI | K | log K | n | estimator |")
    assert table[2].startswith("| 4 | 16 | 2.77 | 1 | infonce |")
    assert captured.err.splitlines()[-1] == PLOT_SKIPPED
    assert json.loads((tmp_path / "demi.json").read_text())["complete"] is True
    assert not (tmp_path / "demi.png").exists()


def test_demo_without_matplotlib(
    no_matplotlib: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--steps", "4", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    labels = [line.split("  ")[1].strip() for line in captured.out.splitlines()[1:4]]
    assert labels == ["InfoNCE", "DEMI, I_IS", "DEMI, I_BO"]
    assert "plot:" not in captured.out
    assert captured.err.splitlines()[-1] == PLOT_SKIPPED
    assert not (tmp_path / "demo.png").exists()
