"""Critics build the full score matrix in one pass and agree with a per-pair loop."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from infomax.critics import BilinearCritic, ConcatCritic, SeparableCritic, make_critic, mlp


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(6, 3, generator=g), torch.randn(5, 4, generator=g)


def test_separable_matches_pairwise_loop(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = batch
    critic = SeparableCritic(3, 4, hidden=(16,), embed_dim=8, temperature=0.5)
    scores = critic(x, y)
    assert scores.shape == (6, 5)
    for i in range(6):
        for j in range(5):
            expected = critic.g(x[i]) @ critic.h(y[j]) / 0.5
            assert scores[i, j].item() == pytest.approx(expected.item(), abs=1e-5)


def test_mlp_takes_an_activation_name_or_factory(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, _ = batch
    torch.manual_seed(0)
    named = mlp(3, (5, 4), 2, "tanh")
    torch.manual_seed(0)
    leaky = mlp(3, (5, 4), 2, partial(torch.nn.LeakyReLU, 0.25))
    first, _, second, _, last = leaky
    # The same layers, drawn in the same order, so the same weights under one seed.
    assert all(
        torch.equal(a, b) for a, b in zip(named.parameters(), leaky.parameters(), strict=True)
    )
    hidden = torch.tanh(named[2](torch.tanh(named[0](x))))
    assert torch.equal(named(x), named[4](hidden))
    leaky_relu = torch.nn.functional.leaky_relu
    expected = last(leaky_relu(second(leaky_relu(first(x), 0.25)), 0.25))
    assert torch.equal(leaky(x), expected)
    with pytest.raises(ValueError, match="unknown activation"):
        mlp(3, (5,), 2, "swish")


def test_cosine_critic_scores_are_bounded(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = batch
    critic = SeparableCritic(3, 4, hidden=(16,), cosine=True, temperature=0.1)
    assert critic(x, y).abs().max().item() <= 10.0 + 1e-5


def test_concat_matches_mlp_on_concatenated_pairs(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = batch
    critic = ConcatCritic(3, 4, hidden=(16, 8))
    scores = critic(x, y)
    assert scores.shape == (6, 5)
    # The same network written as one Linear on [x; y].
    first = torch.nn.Linear(7, 16)
    with torch.no_grad():
        first.weight.copy_(torch.cat([critic.x_in.weight, critic.y_in.weight], dim=1))
        first.bias.copy_(critic.x_in.bias)
    for i in range(6):
        for j in range(5):
            hidden = torch.relu(first(torch.cat([x[i], y[j]])))
            assert scores[i, j].item() == pytest.approx(critic.rest(hidden).item(), abs=1e-5)
    aligned = critic.pairwise(x[:5], y)
    torch.testing.assert_close(aligned, scores[:5].diagonal())


def test_bilinear_shape_and_factory(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = batch
    assert BilinearCritic(3, 4)(x, y).shape == (6, 5)
    assert isinstance(make_critic("concat", 3, 4), ConcatCritic)
    with pytest.raises(ValueError, match="unknown critic 'nope'"):
        make_critic("nope", 3, 4)


def test_default_critic_learns_a_gaussian_log_ratio() -> None:
    """The default separable critic (hidden ReLU layers) fits a quadratic log-ratio.

    Trained with TUBA (optimum: the log density ratio itself) on a 2-dim Gaussian
    with 1 nat, its mean positive score lands near the true MI.
    """
    from infomax.bounds import tuba

    torch.manual_seed(0)
    rho = (1 - torch.exp(torch.tensor(-2 * 1.0 / 2))).sqrt()
    critic = SeparableCritic(2, 2, hidden=(64, 64), embed_dim=16)
    opt = torch.optim.Adam(critic.parameters(), lr=2e-3)
    for _ in range(600):
        x = torch.randn(256, 2)
        y = rho * x + (1 - rho**2).sqrt() * torch.randn(256, 2)
        loss = -tuba(critic(x, y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    x = torch.randn(4096, 2)
    y = rho * x + (1 - rho**2).sqrt() * torch.randn(4096, 2)
    with torch.no_grad():
        assert tuba(critic(x, y)).item() == pytest.approx(1.0, abs=0.1)


def test_each_critic_declares_how_it_scores_all_pairs() -> None:
    """pair_scorer's row blocks and positives are forward's matrix and diagonal; a critic
    without embeddings declares none, and a subclass that redefines forward is scored by it."""
    from infomax.critics import Critic, QuadraticSeparableCritic

    class Extra(QuadraticSeparableCritic):
        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return super().forward(x, y) + 0.1 * torch.cdist(x, y)

    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(40, 3, generator=g), torch.randn(40, 3, generator=g)
    t_copula = QuadraticSeparableCritic(3, 3, hidden=(8,))
    t_copula.init_student_t(torch.eye(6).numpy() * 0.5 + 0.5, dof=3.0)
    critics: list[Critic] = [
        SeparableCritic(3, 3, hidden=(8,), temperature=0.5),
        QuadraticSeparableCritic(3, 3, hidden=(8,)),
        t_copula,
        Extra(3, 3, hidden=(8,)),
    ]
    assert [type(c).scored_by_forward for c in critics] == [False, False, False, True]
    with torch.no_grad():
        for critic in critics:
            dense = critic(x, y)
            scorer = critic.pair_scorer(x, y)
            assert scorer is not None
            torch.testing.assert_close(scorer.rows(5, 17), dense[5:17], atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(scorer.positives, dense.diagonal(), atol=1e-4, rtol=1e-4)
    assert ConcatCritic(3, 3, hidden=(8,)).pair_scorer(x, y) is None
    assert BilinearCritic(3, 3).pair_scorer(x, y) is None
