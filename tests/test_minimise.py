"""The minibatch gradient loop against the same steps written out by hand."""

from __future__ import annotations

import torch

from infomax.minimise import minimise


def _model_and_data() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    x, y = torch.randn(40, 3), torch.randn(40, 1)
    return model, x, y


def test_minimise_takes_the_same_steps_as_a_hand_written_loop() -> None:
    model, x, y = _model_and_data()
    reference = torch.nn.Linear(3, 1)
    reference.load_state_dict(model.state_dict())
    optimizer = torch.optim.Adam(reference.parameters(), lr=0.1, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, 7)
    expected = []
    for step in range(1, 8):
        rows = slice(5 * (step - 1), 5 * step)
        loss = (reference(x[rows]) - y[rows]).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        expected.append((step, loss.item(), optimizer.param_groups[0]["lr"]))

    optimizer = torch.optim.Adam(model.parameters(), lr=0.1, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, 7)
    seen = []

    def batch_loss(step: int) -> torch.Tensor:
        rows = slice(5 * (step - 1), 5 * step)
        return (model(x[rows]) - y[rows]).square().mean()

    def record(step: int, loss: torch.Tensor) -> None:  # after the schedule's step
        seen.append((step, loss.item(), optimizer.param_groups[0]["lr"]))

    minimise(optimizer, batch_loss, 7, schedule=schedule, after_step=record)
    assert seen == expected
    for ours, theirs in zip(model.parameters(), reference.parameters(), strict=True):
        assert torch.equal(ours, theirs)


def test_minimise_keeps_the_optimizer_state_across_calls() -> None:
    model, x, y = _model_and_data()
    twice = torch.nn.Linear(3, 1)
    twice.load_state_dict(model.state_dict())

    def loss_of(module: torch.nn.Module) -> torch.Tensor:
        return (module(x) - y).square().mean()

    minimise(torch.optim.Adam(model.parameters(), lr=0.05), lambda _: loss_of(model), 6)
    optimizer = torch.optim.Adam(twice.parameters(), lr=0.05)
    minimise(optimizer, lambda _: loss_of(twice), 2)
    minimise(optimizer, lambda _: loss_of(twice), 4)
    for ours, theirs in zip(model.parameters(), twice.parameters(), strict=True):
        assert torch.equal(ours, theirs)
