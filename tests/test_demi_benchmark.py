"""The DEMI benchmark and the demo: structure, flags, and the log K cap on real runs."""

from __future__ import annotations

import json
import math

import pytest
import torch

from infomax.bench.demi import format_demi_table, run_demi, train_cell
from infomax.bench.demi_optimal import chain_estimates, optimal_setting
from infomax.cli import main
from infomax.distributions import correlated_gaussian, gaussian_pairs


def test_optimal_infonce_matches_a_reference_loop() -> None:
    """The optimal-critic InfoNCE of a batch, against a loop over the closed-form log ratio."""
    mi, dim, batch = 3.0, 4, 16
    task = correlated_gaussian(dim, mi)
    rho = torch.from_numpy(task.rho)  # (dim,) float64
    generator = torch.Generator().manual_seed(5)
    x, y = gaussian_pairs(batch, rho, generator=generator, dtype=torch.float64)
    got = chain_estimates(x, y, rho, 1, {}, generator)["infonce"]
    ratio = task.log_density_ratio(x, y)  # (B, B): log p(x_i, y_j) / (p(x_i) p(y_j))
    terms = []
    for i in range(batch):
        normaliser = math.log(sum(math.exp(ratio[i, j].item()) for j in range(batch)) / batch)
        terms.append(ratio[i, i].item() - normaliser)
    assert got == pytest.approx(sum(terms) / batch, abs=1e-10)


def test_trained_infonce_reaches_the_optimal_critic_value() -> None:
    """600 steps of InfoNCE on a 2-nat, 4-dim Gaussian get within 0.15 nats of the optimal critic.

    The optimal critic (the log density ratio) maximises InfoNCE's expectation, so the
    trained estimate should approach that value from below.
    """
    optimal = optimal_setting(2.0, 16, [1], 4, 0.01, 200, 200, seed=0)[0]
    assert optimal["infonce_stderr"] < 0.03
    row = train_cell(
        2.0, 16, 1, "infonce", dim=4, steps=600, lr=3e-3, eval_batches=64, hidden=(64,),
        embed_dim=16,
    )  # fmt: skip
    assert row["term_names"] == ["I(x; y)"]
    assert row["mi_hat"] <= math.log(16) + 1e-6
    spread = 3 * math.hypot(row["stderr"], optimal["infonce_stderr"])
    assert optimal["infonce"] - 0.15 < row["mi_hat"] < optimal["infonce"] + spread


def test_decomposition_passes_log_k_where_infonce_cannot() -> None:
    """With 4 sub-views and 8 nats, DEMI (oracle negatives) beats InfoNCE's log 16 cap."""
    kwargs = {
        "dim": 4,
        "steps": 300,
        "lr": 3e-3,
        "eval_batches": 8,
        "hidden": (64,),
        "embed_dim": 16,
    }
    plain = train_cell(8.0, 16, 1, "infonce", **kwargs)
    demi = train_cell(8.0, 16, 4, "oracle", **kwargs)
    assert plain["mi_hat"] <= math.log(16) + 1e-6
    assert demi["mi_hat"] > math.log(16) + 1.0
    assert demi["mi_hat"] < 8.0 + 3 * demi["stderr"] + 0.3  # a lower bound stays a bound
    assert len(demi["terms"]) == 4


def test_run_demi_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="unknown estimator"):
        run_demi(estimators=("magic",))
    with pytest.raises(ValueError, match="divide"):
        run_demi(views=(3,))


def test_table_flags_overestimates_and_low_ess() -> None:
    rows = [
        {
            "mi": 10,
            "batch": 64,
            "log_k": math.log(64),
            "views": 5,
            "estimator": "is",
            "mi_hat": 11.6,
            "stderr": 0.1,
            "optimal": 11.6,
            "ess": 1.5,
        },
    ]
    table = format_demi_table({"rows": rows})
    assert "above true MI" in table and "low ESS" in table


def test_cli_bench_demi_json(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    status = main(
        [
            "bench",
            "demi",
            "--mi",
            "4",
            "--batch-size",
            "16",
            "--subviews",
            "1,2",
            "--estimators",
            "is,bo",
            "--steps",
            "10",
            "--json",
            "--out",
            str(tmp_path),
        ]
    )
    assert status == 0
    result = json.loads(capsys.readouterr().out)
    assert [(r["views"], r["estimator"]) for r in result["rows"]] == [
        (1, "infonce"),
        (2, "is"),
        (2, "bo"),
    ]
    assert (tmp_path / "demi.png").stat().st_size > 0
    assert json.loads((tmp_path / "demi.json").read_text())["config"]["steps"] == 10


def test_cli_bench_demi_bad_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "demi", "--mi", "ten"]) == 2
    assert "expected comma-separated numbers" in capsys.readouterr().err


def test_demo_runs_and_plots(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    assert main(["demo", "--steps", "20", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "InfoNCE" in out and "DEMI, I_IS" in out
    assert (tmp_path / "demo.png").stat().st_size > 0


def _tiny_demi(**kwargs):
    settings = {
        "mis": (4.0,),
        "batches": (16,),
        "views": (1, 2),
        "estimators": ("is", "bo"),
        "steps": 5,
        "dim": 4,
        "optimal_batches": 4,
        "progress": False,
    }
    return run_demi(**{**settings, **kwargs})


def test_run_demi_resume_trains_only_missing_cells(tmp_path, monkeypatch) -> None:
    import infomax.bench.demi as bench

    first = _tiny_demi(estimators=("is",), out=tmp_path)
    assert first["complete"] and len(first["rows"]) == 2  # infonce (n = 1) and is (n = 2)
    trained = []
    real = bench.train_cell

    def counting(*args, **kwargs):
        trained.append(args[:4])
        return real(*args, **kwargs)

    monkeypatch.setattr(bench, "train_cell", counting)
    second = _tiny_demi(out=tmp_path, resume=True)
    assert trained == [(4.0, 16, 2, "bo")]  # the two finished cells were reused
    assert [r["mi_hat"] for r in second["rows"][:2]] == [r["mi_hat"] for r in first["rows"]]
    # Reused cells come from strict JSON (NaN written as null); the table reads both.
    assert second["rows"][0]["ess"] is None and math.isnan(second["rows"][2]["ess"])
    assert format_demi_table(second).count("| 4 | 16 |") == 3
    trained.clear()
    _tiny_demi(out=tmp_path, resume=True, steps=6)  # other steps: nothing is reused
    assert len(trained) == 3


def test_run_demi_writes_partial_results_after_each_cell(tmp_path, monkeypatch) -> None:
    import infomax.bench.demi as bench

    real, calls = bench.train_cell, []

    def failing_second(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(bench, "train_cell", failing_second)
    with pytest.raises(KeyboardInterrupt):
        _tiny_demi(out=tmp_path)
    partial = json.loads((tmp_path / "demi.json").read_text())
    assert partial["complete"] is False
    assert [r["estimator"] for r in partial["rows"]] == ["infonce"]


def test_merge_demi_results_unions_and_replaces() -> None:
    from infomax.bench.demi import merge_demi_results

    def row(mi, views, est, value):
        return {"mi": mi, "batch": 64, "views": views, "estimator": est, "mi_hat": value}

    config = {"steps": 10, "dim": 20, "seed": 0}
    a = {"config": config, "rows": [row(20.0, 2, "var", 1.0), row(10.0, 1, "infonce", 2.0)]}
    b = {"config": config, "rows": [row(20.0, 2, "oracle", 3.0), row(20.0, 2, "var", 4.0)]}
    merged = merge_demi_results([a, b])
    assert [(r["mi"], r["estimator"], r["mi_hat"]) for r in merged["rows"]] == [
        (10.0, "infonce", 2.0),
        (20.0, "oracle", 3.0),
        (20.0, "var", 4.0),  # b's row replaced a's
    ]
    assert merged["config"]["mis"] == [10.0, 20.0]
    assert merged["config"]["estimators"] == ["oracle", "var"]
    with pytest.raises(ValueError, match="different steps"):
        merge_demi_results([a, {"config": {**config, "steps": 11}, "rows": []}])


def test_cli_bench_demi_merge(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    _tiny_demi(estimators=("is",), out=tmp_path / "a")
    _tiny_demi(views=(2,), estimators=("bo",), out=tmp_path / "b")
    merge = f"{tmp_path / 'a'},{tmp_path / 'b' / 'demi.json'}"
    assert main(["bench", "demi", "--merge", merge, "--out", str(tmp_path / "m")]) == 0
    table = capsys.readouterr().out
    assert table.count("| 4 | 16 |") == 3
    assert (tmp_path / "m" / "demi.png").stat().st_size > 0
    assert main(["bench", "demi", "--merge", str(tmp_path / "missing.json")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["bench", "demi", "--resume"]) == 2
    assert "--resume needs --out" in capsys.readouterr().err


def test_shared_critics_are_recorded_and_never_mixed_with_separate_ones(tmp_path) -> None:
    from infomax.bench.demi import merge_demi_results

    shared = _tiny_demi(views=(2,), estimators=("is",), shared_critics=True)
    separate = _tiny_demi(views=(2,), estimators=("is",))
    assert shared["config"]["shared_critics"] is True
    assert shared["rows"][0]["mi_hat"] != separate["rows"][0]["mi_hat"]
    with pytest.raises(ValueError, match="different shared_critics"):
        merge_demi_results([shared, separate])
    old = {"config": {"steps": 5, "dim": 4, "seed": 0}, "rows": []}  # before the flag existed
    assert merge_demi_results([old, separate])["config"]["shared_critics"] is False
