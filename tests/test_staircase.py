"""Tests of the MI staircase benchmark (infomax.staircase)."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch

from infomax.staircase import (
    BOUND_CHOICES,
    BoundObjective,
    StackedStaircase,
    build_reference_models,
    format_table,
    result_to_json,
    rho_for_mi,
    run_staircase,
    sample_correlated_gaussian,
)


@pytest.fixture
def float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def _independent_training(names, critics, baselines, batches, lr):
    """The plain loop: one module and one default Adam per bound. Returns (steps, M) estimates."""
    objectives = [BoundObjective(name) for name in names]
    optimizers = []
    for critic, baseline in zip(critics, baselines, strict=True):
        params = list(critic.parameters()) + ([] if baseline is None else list(baseline.parameters()))
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
