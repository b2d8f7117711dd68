"""Tests of the MI staircase benchmark (infomax.bench.staircase, .stacked, .protocol)."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch

from infomax.bench.plots import plot_staircase
from infomax.bench.protocol import BOUND_CHOICES, StaircaseBound, build_reference_models
from infomax.bench.stacked import StackedCritic, StackedStaircase
from infomax.bench.staircase import format_table, result_to_json, run_staircase
from infomax.distributions import gaussian_pairs, rho_from_mi


def rho_for_mi(mi):
    """The staircase's per-coordinate correlation for ``mi`` nats over 20 coordinates."""
    return float(rho_from_mi(mi / 20)[0])


def sample_correlated_gaussian(rho, batch_size, cubic=False, generator=None):
    """A batch as the staircase draws it (one (B, 40) normal draw)."""
    return gaussian_pairs(batch_size, rho, 20, cubic=cubic, one_draw=True, generator=generator)


@pytest.fixture
def float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def _independent_training(names, critics, baselines, batches, lr):
    """The plain loop: one module and one default Adam per bound. Returns (steps, M) estimates."""
    objectives = [StaircaseBound(name) for name in names]
    optimizers = []
    for critic, baseline in zip(critics, baselines, strict=True):
        params = list(critic.parameters()) + (
            [] if baseline is None else list(baseline.parameters())
        )
        optimizers.append(torch.optim.Adam(params, lr=lr))
    history = []
    for x, y in batches:
        row = []
        for m in range(len(names)):
            scores = critics[m](x, y)
            log_baseline = None if baselines[m] is None else baselines[m](x).squeeze(-1)
            objective, estimate = objectives[m](scores, log_baseline)
            optimizers[m].zero_grad()
            (-objective).backward()
            optimizers[m].step()
            row.append(estimate)
        history.append(torch.stack(row))
    return torch.stack(history)


@pytest.mark.parametrize(("critic", "batch_size"), [("separable", 32), ("concat", 12)])
def test_stacked_equals_independent_training(critic, batch_size, float64):
    """Six steps of the stacked trainer == 8 separately trained nn.Modules with 8 Adams.

    In float64, so that round-off (which Adam amplifies to +-lr in directions whose
    gradient is exactly zero, e.g. InfoNCE's invariance to a constant added to h(y))
    stays far below the tolerance.
    """
    names = BOUND_CHOICES
    torch.manual_seed(0)
    critics, baselines = build_reference_models(names, critic)
    stacked = StackedStaircase(
        names, critic, lr=1e-3, critics=copy.deepcopy(critics), baselines=copy.deepcopy(baselines)
    )
    generator = torch.Generator().manual_seed(1)
    batches = [
        sample_correlated_gaussian(rho_for_mi(mi), batch_size, generator=generator)
        for mi in (2.0, 2.0, 4.0, 4.0, 6.0, 6.0)
    ]
    expected = _independent_training(names, critics, baselines, batches, lr=1e-3)
    got = torch.stack([stacked.step(x, y) for x, y in batches])
    assert got.shape == (len(batches), len(names))
    assert torch.isfinite(expected).all()
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9)
    # The estimates move over the steps, so equality is not trivially of untrained models.
    assert (expected[-1] - expected[0]).abs().max() > 0.05
    # Weights after 6 Adam steps agree parameter by parameter.
    trained_critics, trained_baselines = copy.deepcopy(critics), copy.deepcopy(baselines)
    for module in [*trained_critics, *(b for b in trained_baselines if b is not None)]:
        for p in module.parameters():
            p.data.zero_()
    stacked.store_modules(trained_critics, trained_baselines)
    pairs = list(zip(critics, trained_critics, strict=True)) + [
        (a, b) for a, b in zip(baselines, trained_baselines, strict=True) if a is not None
    ]
    for reference, ours in pairs:
        for (name, p_ref), p_ours in zip(
            reference.named_parameters(), ours.parameters(), strict=True
        ):
            torch.testing.assert_close(p_ours, p_ref, rtol=1e-9, atol=1e-10, msg=name)


def test_true_mi_of_the_stages():
    for mi in (2.0, 4.0, 6.0, 8.0, 10.0):
        rho = rho_for_mi(mi)
        assert -20 / 2 * math.log(1 - rho**2) == pytest.approx(mi, rel=1e-12)
    assert rho_for_mi(2.0) == pytest.approx(math.sqrt(1 - math.exp(-0.2)), rel=1e-12)
    # Samples have the intended per-coordinate correlation and no cross-coordinate one.
    x, y = sample_correlated_gaussian(
        rho_for_mi(6.0), 20_000, generator=torch.Generator().manual_seed(0)
    )
    corr = torch.corrcoef(torch.cat([x, y], 1).T)[:20, 20:]
    assert corr.diagonal().mean().item() == pytest.approx(rho_for_mi(6.0), abs=0.005)
    assert (corr - torch.diag(corr.diagonal())).abs().max().item() < 0.05
    _, y_cubic = sample_correlated_gaussian(
        0.5, 8, cubic=True, generator=torch.Generator().manual_seed(3)
    )
    _, y_plain = sample_correlated_gaussian(0.5, 8, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(y_cubic, y_plain**3)


def test_short_run_structure(tmp_path):
    names = ["infonce", "smile", "interpolated"]
    before = torch.get_rng_state()
    result = run_staircase(names, steps_per_stage=150, stages=(2, 4), out=tmp_path, progress=False)
    assert torch.equal(torch.get_rng_state(), before)  # the caller's RNG is untouched

    assert result["benchmark"] == "staircase"
    assert result["true_mi"] == [2.0, 4.0]
    assert result["log_batch_size"] == pytest.approx(math.log(64))
    assert result["summary_window"] == 37
    config = result["config"]
    assert config["bounds"] == names and config["critic"] == "separable"
    assert (config["steps_per_stage"], config["batch_size"], config["cubic"]) == (150, 64, False)
    assert config["hidden"] == [256, 256, 256] and config["embed_dim"] == 32
    assert result["steps_per_second"] > 0 and result["seconds"] > 0
    assert list(result["bounds"]) == names
    for name in names:
        stages = result["bounds"][name]["stages"]
        assert [row["true_mi"] for row in stages] == [2.0, 4.0]
        history = torch.tensor(result["history"][name])
        assert history.shape == (300,) and torch.isfinite(history).all()
        for s, row in enumerate(stages):
            window = history[(s + 1) * 150 - 37 : (s + 1) * 150]
            assert row["mean"] == pytest.approx(window.mean().item(), abs=1e-6)
            assert row["std"] == pytest.approx(window.std().item(), abs=1e-6)
            assert row["nonfinite"] == 0
    infonce_history = torch.tensor(result["history"]["infonce"])
    assert infonce_history.max().item() <= math.log(64) + 1e-5
    # It learns: after 150 steps at 2 nats the estimate is well above 0 and below the truth.
    assert 0.5 < result["bounds"]["infonce"]["stages"][0]["mean"] < 2.0
    assert (
        result["bounds"]["infonce"]["stages"][1]["mean"]
        > result["bounds"]["infonce"]["stages"][0]["mean"]
    )

    on_disk = json.loads((tmp_path / "staircase.json").read_text())
    assert on_disk["bounds"] == result["bounds"]
    assert on_disk["history"]["smile"] == pytest.approx(
        result["history"]["smile"]
    )  # 900 values: kept
    plot_staircase(result, tmp_path / "staircase.png")  # the figure is drawn separately
    assert (tmp_path / "staircase.png").stat().st_size > 10_000
    table = format_table(result)
    assert table.splitlines()[0].split() == ["true", "MI", "2.0", "4.0"]
    assert all(name in table for name in names)


def test_same_seed_same_numbers():
    first = run_staircase(
        ["infonce", "mine"], steps_per_stage=5, stages=(2,), seed=3, batch_size=16
    )
    second = run_staircase(
        ["infonce", "mine"], steps_per_stage=5, stages=(2,), seed=3, batch_size=16
    )
    assert first["history"] == second["history"]


def test_json_and_table_for_a_diverged_bound():
    result = {
        "true_mi": [2.0, 4.0],
        "log_batch_size": math.log(64),
        "summary_window": 1,
        "steps_per_second": 10.0,
        "config": {"steps_per_stage": 2, "critic": "separable", "batch_size": 64, "cubic": True},
        "bounds": {
            "nwj": {
                "stages": [
                    {"true_mi": 2.0, "mean": 1.5, "std": 0.25, "nonfinite": 0},
                    {"true_mi": 4.0, "mean": None, "std": None, "nonfinite": 1},
                ]
            }
        },
        "history": {"nwj": [1.0, 1.5, -math.inf, math.nan]},
    }
    text = json.dumps(result_to_json(result), allow_nan=False)
    assert json.loads(text)["history"]["nwj"] == [1.0, 1.5, None, None]
    assert "history" not in result_to_json(result, include_history=False)
    table = format_table(result)
    assert "1.50 ± 0.25" in table and "diverged" in table and "cubic" in table


def test_bad_names_raise_with_the_choices():
    with pytest.raises(ValueError, match="unknown bound.*'nce'.*infonce, nwj, tuba"):
        run_staircase(["infonce", "nce"], steps_per_stage=1)
    with pytest.raises(
        ValueError, match="unknown critic 'bilinear'; choose from separable, concat"
    ):
        run_staircase(["infonce"], critic="bilinear", steps_per_stage=1)
    with pytest.raises(ValueError, match="listed twice"):
        run_staircase(["smile", "smile"], steps_per_stage=1)
    with pytest.raises(ValueError, match="unknown bound"):
        StackedStaircase(["js"])
    with pytest.raises(ValueError, match=">= 0 nats"):
        run_staircase(["infonce"], stages=(-1,), steps_per_stage=1)


@pytest.mark.parametrize("critic", ["separable", "concat"])
def test_bfloat16_precision_tracks_float32_and_keeps_float32_state(critic):
    """Mixed precision: the same weights give scores and gradients close to float32 ones.

    bfloat16 keeps 8 significant bits, so activations are rounded to about 0.4%; the
    parameters, their gradients and the scores stay float32.
    """
    torch.manual_seed(0)
    critics, _ = build_reference_models(["infonce", "nwj", "dv"], critic)
    exact = StackedCritic(critic, 3)
    mixed = StackedCritic(critic, 3, precision="bfloat16")
    exact.load_modules(critics)
    mixed.load_modules(critics)
    x, y = sample_correlated_gaussian(
        rho_for_mi(4.0), 16, generator=torch.Generator().manual_seed(2)
    )
    s_exact, s_mixed = exact(x, y), mixed(x, y)
    assert s_mixed.dtype == torch.float32 and s_mixed.shape == (3, 16, 16)
    scale = s_exact.abs().max()
    assert (s_mixed - s_exact).abs().max() < 0.02 * scale
    assert (s_mixed - s_exact).abs().max() > 0  # the low precision is really used
    objective = StaircaseBound("infonce")
    for scores in (s_exact, s_mixed):
        (-sum(objective(scores[m])[0] for m in range(3))).backward()
    for p_exact, p_mixed in zip(exact.parameters(), mixed.parameters(), strict=True):
        assert p_mixed.dtype == torch.float32 and p_mixed.grad.dtype == torch.float32
        if p_exact.grad.norm() < 1e-5:  # the output bias: InfoNCE ignores a constant shift
            continue
        cosine = torch.nn.functional.cosine_similarity(
            p_exact.grad.flatten(), p_mixed.grad.flatten(), dim=0
        )
        assert cosine > 0.98


def test_bfloat16_run_is_recorded_and_bad_precision_is_named():
    result = run_staircase(
        ["infonce"], critic="concat", steps_per_stage=3, stages=(2.0,), precision="bfloat16"
    )
    assert result["config"]["precision"] == "bfloat16"
    assert math.isfinite(result["bounds"]["infonce"]["stages"][0]["mean"])
    with pytest.raises(ValueError, match="unknown precision 'float16'; choose from float32, bf"):
        run_staircase(["infonce"], steps_per_stage=1, precision="float16")
