"""Tests of the ``infomax`` command: argument plumbing, output, and one-line errors."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from infomax import __version__
from infomax.cli import main
from infomax.result import MIEstimate


def _save(path: Path, array: np.ndarray) -> str:
    np.save(path, array)
    return str(path)


@pytest.fixture
def pair(tmp_path: Path) -> tuple[str, str]:
    """A correlated Gaussian pair, 3000 rows, saved as x.npy (3 columns) and y.npy (2)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 3))
    y = x[:, :2] + 0.5 * rng.normal(size=(3000, 2))
    return _save(tmp_path / "x.npy", x), _save(tmp_path / "y.npy", y)


class FakeEstimate:
    """Stands in for infomax.estimate; records each call, returns ``result``."""

    def __init__(self, result: MIEstimate) -> None:
        self.result = result
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def module(self) -> types.ModuleType:
        module = types.ModuleType("infomax.estimate")

        def estimate_mi(x: Any, y: Any, **kwargs: Any) -> MIEstimate:
            self.calls.append(("estimate_mi", (x, y), kwargs))
            return self.result

        def estimate_cmi(x: Any, y: Any, z: Any, **kwargs: Any) -> MIEstimate:
            self.calls.append(("estimate_cmi", (x, y, z), kwargs))
            return self.result

        module.estimate_mi = estimate_mi  # type: ignore[attr-defined]
        module.estimate_cmi = estimate_cmi  # type: ignore[attr-defined]
        return module


def _result(**changes: Any) -> MIEstimate:
    fields: dict[str, Any] = {
        "mi": 1.25,
        "stderr": 0.05,
        "bound": "smile",
        "n_train": 2100,
        "n_heldout": 900,
        "history": [0.1, 0.2],
        "heldout_curve": [(1, 0.2)],
    }
    fields.update(changes)
    return MIEstimate(**fields)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeEstimate:
    recorder = FakeEstimate(_result())
    monkeypatch.setitem(sys.modules, "infomax.estimate", recorder.module())
    return recorder


def _fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``main(argv)``, expect exit status 2 and one error line; return the message."""
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Traceback" not in captured.err
    lines = captured.err.splitlines()
    errors = [line for line in lines if line.startswith("infomax: error: ")]
    assert len(errors) == 1, captured.err
    return errors[0].removeprefix("infomax: error: ")


# --------------------------------------------------------------------------- top level


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"infomax {__version__}\n"


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "estimate" in out and "bench" in out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert _fails([], capsys) == "the following arguments are required: COMMAND"


def test_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert _fails(["frobnicate"], capsys).startswith(
        "argument COMMAND: invalid choice: 'frobnicate'"
    )


def test_usage_error_shows_the_subcommand_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", "x.npy"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: infomax estimate ")
    assert err.endswith("infomax: error: the following arguments are required: Y\n")


# --------------------------------------------------------------------------- estimate plumbing


def test_estimate_passes_only_the_options_set(
    fake: FakeEstimate, pair: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["estimate", *pair]) == 0
    name, (x, y), kwargs = fake.calls[0]
    assert name == "estimate_mi"
    assert kwargs == {"progress": None}
    assert x.shape == (3000, 3) and y.shape == (3000, 2)
    np.testing.assert_array_equal(x, np.load(pair[0]))


def test_estimate_passes_every_option(
    fake: FakeEstimate, pair: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["estimate", *pair, "--bound", "infonce", "--critic", "concat", "--batch-size", "32"]
    argv += ["--steps", "5", "--seed", "7", "--heldout", "0.2", "--no-progress"]
    assert main(argv) == 0
    assert fake.calls[0][2] == {
        "bound": "infonce",
        "critic": "concat",
        "batch_size": 32,
        "steps": 5,
        "seed": 7,
        "heldout": 0.2,
        "progress": False,
    }
    assert main(["estimate", *pair, "--init", "none"]) == 0
    assert fake.calls[1][2] == {"init": None, "progress": None}
    assert main(["estimate", *pair, "--init", "gaussian"]) == 0
    assert fake.calls[2][2] == {"init": "gaussian", "progress": None}
    assert main(["estimate", *pair, "--repeats", "3"]) == 0
    assert fake.calls[3][2] == {"repeats": 3, "progress": None}


def test_estimate_ksg_options_and_ignored_ones(
    fake: FakeEstimate, pair: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["estimate", *pair, "--bound", "ksg", "--k", "5", "--jitter", "auto"]
    assert main([*argv, "--steps", "9", "--critic", "concat"]) == 0
    assert fake.calls[0][2] == {"bound": "ksg", "k": 5, "jitter": "auto", "progress": None}
    err = capsys.readouterr().err
    assert err == "infomax: warning: --critic, --steps do not apply to ksg; ignored\n"
    assert main(["estimate", *pair, "--k", "4", "--jitter", "0.001"]) == 0
    assert fake.calls[1][2] == {"progress": None}
    err = capsys.readouterr().err
    assert err == (
        "infomax: warning: --k, --jitter do not apply to the neural estimators; ignored\n"
    )
    assert main(["estimate", *pair, "--bound", "gaussian", "--jitter", "0"]) == 0
    assert fake.calls[2][2] == {"bound": "gaussian", "progress": None}
    assert "--jitter does not apply to gaussian" in capsys.readouterr().err
    assert _fails(["estimate", *pair, "--jitter", "-1"], capsys).endswith(
        "expected auto or a number >= 0, got '-1'"
    )


def test_estimate_subviews_and_conditional(
    fake: FakeEstimate, pair: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["estimate", *pair, "--subviews", "1,2", "--conditional", "bo"]) == 0
    assert fake.calls[0][2] == {"subviews": [1, 2], "conditional": "bo", "progress": None}


def test_estimate_given_calls_estimate_cmi(
    fake: FakeEstimate, pair: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    z = _save(tmp_path / "z.npy", np.arange(3000.0))
    assert main(["estimate", *pair, "--given", z, "--conditional", "bo", "--steps", "3"]) == 0
    name, args, kwargs = fake.calls[0]
    assert name == "estimate_cmi"
    np.testing.assert_array_equal(args[2], np.arange(3000.0))
    assert kwargs == {"conditional": "bo", "steps": 3, "progress": None}
    assert capsys.readouterr().out.startswith("I(X; Y | Z) = 1.2500 ± 0.0500 nats")


def test_estimate_reads_csv_columns(
    fake: FakeEstimate, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a,b,c\n1,2,3\n4,5,6\n7,8,10\n")
    assert main(["estimate", f"{path}:a,c", f"{path}:b"]) == 0
    _, (x, y), _ = fake.calls[0]
    np.testing.assert_array_equal(x, [[1, 3], [4, 6], [7, 10]])
    np.testing.assert_array_equal(y, [[2], [5], [8]])


def test_human_summary(
    fake: FakeEstimate, pair: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["estimate", *pair]) == 0
    bits = 1 / math.log(2)
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"I(X; Y) = 1.2500 ± 0.0500 nats = {1.25 * bits:.4f} ± {0.05 * bits:.4f} bits",
        "90% interval: 1.1678 to 1.3322 nats (the read-out's sampling variance)",
        "bound: smile",
        "samples: 2100 to fit, 900 held out for the estimate",
    ]
    assert captured.err == ""


def test_human_summary_names_the_race_winner(
    fake: FakeEstimate, pair: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake.result = _result(
        info={
            "critic": "separable",
            "critic_candidates": {"quadratic": 0.5851, "separable": 1.5962, "grid": 1.5385},
            "critic_steps": {"quadratic": 750, "separable": 2500, "grid": 0},
            "blend": {"critic": "grid", "weight": 0.3, "validation": 1.6123},
        }
    )
    assert main(["estimate", *pair]) == 0
    assert capsys.readouterr().out.splitlines()[3:5] == [
        "critic: separable (best on the validation rows: quadratic 0.5851 after 750 steps, "
        "separable 1.5962 after 2500 steps, grid 1.5385 (fitted, not trained))",
        "blended with grid at weight 0.3: 1.6123 on the validation rows",
    ]


def test_human_summary_with_terms_and_warnings(
    fake: FakeEstimate, pair: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake.result = _result(
        bound="demi-is",
        terms=[
            {"name": "I(x_1; y)", "mi": 0.5, "stderr": 0.01},
            {"name": "I(x; y | x_1)", "mi": 0.75, "stderr": 0.02},
        ],
        info={"warnings": ["few held-out batches", "critic saturated"]},
    )
    assert main(["estimate", *pair, "--subviews", "1"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[1:] == [
        "90% interval: 1.1678 to 1.3322 nats (the read-out's sampling variance)",
        "bound: demi-is",
        "samples: 2100 to fit, 900 held out for the estimate",
        "chain-rule terms:",
        "  I(x_1; y): 0.5000 ± 0.0100 nats",
        "  I(x; y | x_1): 0.7500 ± 0.0200 nats",
    ]
    assert captured.err.splitlines() == [
        "infomax: warning: few held-out batches",
        "infomax: warning: critic saturated",
    ]


def test_closed_form_summary(
    fake: FakeEstimate, pair: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake.result = _result(bound="gaussian", n_train=0, n_heldout=3000)
    assert main(["estimate", *pair, "--bound", "gaussian"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "bound: gaussian",
        "samples: 3000 (nothing fitted)",
    ]


def test_json_output(
    fake: FakeEstimate, pair: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake.result = _result(
        stderr=math.nan,
        terms=[{"name": "t", "mi": 1.25, "stderr": 0.1}],
        info={"seconds": np.float32(1.5), "warnings": ["one batch"]},
    )
    assert main(["estimate", *pair, "--json"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 1
    data = json.loads(captured.out)
    assert data == {
        "mi": 1.25,
        "stderr": None,
        "bound": "smile",
        "n_train": 2100,
        "n_heldout": 900,
        "terms": [{"name": "t", "mi": 1.25, "stderr": 0.1}],
        "info": {"seconds": 1.5, "warnings": ["one batch"]},
        "mi_bits": 1.25 / math.log(2),
        "ci90": None,
    }
    assert captured.err == "infomax: warning: one batch\n"


def test_a_bug_keeps_its_traceback(
    fake: FakeEstimate, pair: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> MIEstimate:
        raise RuntimeError("internal bug")

    monkeypatch.setattr(sys.modules["infomax.estimate"], "estimate_mi", broken)
    with pytest.raises(RuntimeError, match="internal bug"):
        main(["estimate", *pair])


def test_value_error_message_is_put_on_one_line(
    fake: FakeEstimate,
    pair: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def picky(*args: Any, **kwargs: Any) -> MIEstimate:
        raise ValueError("first line\n   second line\n")

    monkeypatch.setattr(sys.modules["infomax.estimate"], "estimate_mi", picky)
    assert _fails(["estimate", *pair], capsys) == "first line second line"


# --------------------------------------------------------------------------- estimate errors


def test_missing_file(
    pair: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "nope.npy")
    assert _fails(["estimate", pair[0], missing], capsys) == f"no such file: {missing}"


def test_missing_npz_key(
    pair: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, a=np.ones(3), b=np.ones(3))
    message = _fails(["estimate", pair[0], f"{path}:c"], capsys)
    assert message == f"{path} has no array 'c'; available: 'a', 'b'"


def test_non_numeric_csv_column(
    pair: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a,label\n1,cat\n2,dog\n")
    message = _fails(["estimate", str(path), pair[1]], capsys)
    assert message.startswith(f"{path}: column 'label' is not numeric (e.g. 'cat' on line 2)")


def test_pickled_npy(
    pair: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "objects.npy"
    np.save(path, np.array([[1.0], "two", None], dtype=object), allow_pickle=True)
    message = _fails(["estimate", str(path), pair[1]], capsys)
    assert message.startswith(f"{path} holds pickled Python objects; infomax never unpickles")


def test_subviews_checked_against_x_width(
    fake: FakeEstimate, pair: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    message = _fails(["estimate", *pair, "--subviews", "1,3"], capsys)
    assert message.startswith("sub-view size 3 is not smaller than X's width (3 columns)")
    assert _fails(["estimate", *pair, "--subviews", "2,1"], capsys) == (
        "sub-view sizes must be strictly increasing (nested prefixes), got 1 after 2"
    )
    assert fake.calls == []


def test_option_conflicts(
    fake: FakeEstimate, pair: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _fails(["estimate", *pair, "--subviews", "1", "--given", pair[0]], capsys).startswith(
        "--subviews and --given cannot be combined"
    )
    assert _fails(["estimate", *pair, "--conditional", "is"], capsys) == (
        "--conditional chooses the estimator of conditional terms; it needs --subviews or --given"
    )
    assert fake.calls == []


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        (
            "--heldout",
            "1.5",
            "argument --heldout: must be a fraction strictly between 0 and 1, got 1.5",
        ),
        ("--heldout", "x", "argument --heldout: expected a number, got 'x'"),
        ("--batch-size", "0", "argument --batch-size: must be positive, got 0"),
        ("--steps", "ten", "argument --steps: expected a whole number, got 'ten'"),
        (
            "--conditional",
            "nce",
            "argument --conditional: invalid choice: 'nce' (choose from 'is', 'bo', 'var')",
        ),
    ],
)
def test_bad_option_values(
    option: str,
    value: str,
    expected: str,
    pair: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _fails(["estimate", *pair, option, value], capsys) == expected


# The errors below come from the real estimator (infomax.estimate), which validates the arrays
# with infomax.validation before training anything, so each of these runs in milliseconds.


def test_mismatched_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(1)
    x = _save(tmp_path / "x.npy", rng.normal(size=(3000, 2)))
    y = _save(tmp_path / "y.npy", rng.normal(size=(2990, 2)))
    assert _fails(["estimate", x, y], capsys) == (
        "X and Y must have the same number of rows (paired samples): X has 3000, Y has 2990"
    )


def test_nan_rows(
    pair: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    y = np.load(pair[1])
    y[[17, 40, 41], 1] = [np.nan, np.inf, -np.inf]
    bad = _save(tmp_path / "bad.npy", y)
    assert (
        _fails(["estimate", pair[0], bad], capsys)
        == "Y has 3 rows with NaN or inf (first at row 17)"
    )


def test_too_few_samples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(2)
    x = _save(tmp_path / "x.npy", rng.normal(size=(100, 2)))
    y = _save(tmp_path / "y.npy", rng.normal(size=(100, 2)))
    message = _fails(["estimate", x, y, "--batch-size", "64"], capsys)
    assert message.startswith("too few samples: X and Y have 100 rows, at least ")


def test_constant_column(
    pair: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = np.load(pair[0])
    x[:, 2] = 1.0
    bad = _save(tmp_path / "bad.npy", x)
    assert _fails(["estimate", bad, pair[1]], capsys).startswith("X column 2 is constant")


def test_unknown_bound(pair: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    message = _fails(["estimate", *pair, "--bound", "nope"], capsys)
    assert message.startswith("unknown bound 'nope'; choose one of ")
    assert "infonce" in message and "smile" in message


def test_unknown_critic(pair: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    message = _fails(["estimate", *pair, "--critic", "nope", "--steps", "1"], capsys)
    assert message.startswith("unknown critic 'nope'; choose one of ")


# --------------------------------------------------------------------------- end to end


def test_human_summary_without_stderr(
    fake: FakeEstimate, pair: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fake.result = _result(stderr=math.nan, terms=[{"name": "t", "mi": 1.0, "stderr": math.nan}])
    assert main(["estimate", *pair]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"I(X; Y) = 1.2500 ± n/a nats = {1.25 / math.log(2):.4f} ± n/a bits"
    assert lines[-1] == "  t: 1.0000 ± n/a nats"


def test_neural_end_to_end(pair: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["estimate", *pair, "--bound", "infonce", "--steps", "3", "--batch-size", "32"]
    assert main([*argv, "--json", "--no-progress"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["bound"] == "infonce"
    assert data["n_train"] > 0 and data["n_heldout"] > 0
    assert math.isfinite(data["mi"]) and data["terms"] == []
    assert "history" not in data
    low, high = data["ci90"]
    assert low < data["mi"] <= high
    assert high >= data["info"]["training_readout"]


def test_subviews_end_to_end(pair: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["estimate", *pair, "--subviews", "1,2", "--steps", "2", "--batch-size", "32"]
    assert main([*argv, "--no-progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("I(X; Y) = ")
    assert lines[1].startswith("90% interval: ")
    # The interval reaches at least the critic's read-out on its own training rows.
    assert "on its training rows, " in lines[1]
    assert lines[4] == "chain-rule terms:"
    assert len(lines) == 5 + 3  # one line per term: x_1, x_2 given x_1, x given x_2


def test_gaussian_end_to_end(pair: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", *pair, "--bound", "gaussian", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # y = x[:, :2] + 0.5 noise: I = 2 * 0.5 * log(1 + 1 / 0.25) nats.
    assert data["mi"] == pytest.approx(math.log(5.0), abs=0.1)
    assert data["bound"] == "gaussian"
    assert {"mi", "stderr", "bound", "n_train", "n_heldout", "terms", "info", "mi_bits"} <= set(
        data
    )


def _console_script() -> Path:
    """The installed ``infomax`` script; its absence is a broken install, so the test fails."""
    script = Path(sys.executable).parent / "infomax"
    assert script.exists(), f"no infomax console script next to {sys.executable}: pip install -e ."
    return script


def test_console_script_gaussian_json(pair: tuple[str, str]) -> None:
    done = subprocess.run(
        [str(_console_script()), "estimate", *pair, "--bound", "gaussian", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["mi"] == pytest.approx(math.log(5.0), abs=0.1)


def test_console_script_bad_input_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "missing.npy"
    done = subprocess.run(
        [str(_console_script()), "estimate", str(missing), str(missing)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == f"infomax: error: no such file: {missing}\n"


# --------------------------------------------------------------------------- bench staircase


@pytest.fixture
def fake_staircase(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    import infomax.bench.plots as plots

    calls: list[Any] = []
    module = types.ModuleType("infomax.bench.staircase")

    def run_staircase(**kwargs: Any) -> dict[str, Any]:
        calls.append(kwargs)
        return {"bounds": {"smile": [0.5, float("nan")]}, "true_mi": [0.5, 1.0]}

    def format_table(result: dict[str, Any]) -> str:
        return f"TABLE {sorted(result)}"

    def result_to_json(result: dict[str, Any]) -> dict[str, Any]:
        return {**result, "to_json": True}

    module.run_staircase = run_staircase  # type: ignore[attr-defined]
    module.result_to_json = result_to_json  # type: ignore[attr-defined]
    module.format_table = format_table  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "infomax.bench.staircase", module)
    monkeypatch.setattr(plots, "plot_staircase", lambda result, path: calls.append(("plot", path)))
    return calls


def test_staircase_defaults_and_table(
    fake_staircase: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "staircase"]) == 0
    assert fake_staircase == [{}]
    assert capsys.readouterr().out == "TABLE ['bounds', 'true_mi']\n"


def test_staircase_options_and_json(
    fake_staircase: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["bench", "staircase", "--bound", "infonce, smile", "--critic", "concat"]
    argv += ["--steps-per-stage", "3", "--batch-size", "16", "--cubic", "--out", str(tmp_path)]
    argv += ["--seed", "4", "--json"]
    assert main(argv) == 0
    assert fake_staircase == [
        {
            "bounds": ["infonce", "smile"],
            "critic": "concat",
            "steps_per_stage": 3,
            "batch_size": 16,
            "cubic": True,
            "out": tmp_path,
            "seed": 4,
        },
        ("plot", tmp_path / "staircase.png"),  # after the table, with matplotlib
    ]
    assert json.loads(capsys.readouterr().out) == {
        "bounds": {"smile": [0.5, None]},
        "true_mi": [0.5, 1.0],
        "to_json": True,
    }


def test_staircase_bad_options(
    fake_staircase: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _fails(["bench", "staircase", "--bound", "infonce,,smile"], capsys) == (
        "--bound: empty name in 'infonce,,smile'; separate names with single commas"
    )
    file = tmp_path / "file.txt"
    file.write_text("x")
    assert _fails(["bench", "staircase", "--out", str(file)], capsys) == (
        f"--out {file} exists and is not a directory"
    )
    assert _fails(["bench", "staircase", "--critic", "bilinear"], capsys).startswith(
        "argument --critic: invalid choice: 'bilinear'"
    )
    assert _fails(["bench"], capsys) == "the following arguments are required: BENCHMARK"
    assert fake_staircase == []


def test_staircase_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "staircase", "--bound", "infonce,nwj", "--steps-per-stage", "1"]
    assert main([*argv, "--batch-size", "8", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["config"]["bounds"] == ["infonce", "nwj"]
    assert data["config"]["batch_size"] == 8
    assert data["config"]["steps_per_stage"] == 1
    assert set(data["bounds"]) == {"infonce", "nwj"}


def test_staircase_unknown_bound(capsys: pytest.CaptureFixture[str]) -> None:
    message = _fails(
        ["bench", "staircase", "--bound", "infonce,nope", "--steps-per-stage", "1"], capsys
    )
    assert "nope" in message
