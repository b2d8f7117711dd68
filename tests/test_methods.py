"""Method losses on hand-made inputs, against references computed another way."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from infomax.bounds import dv, infonce, jsd, jsd_objective
from infomax.methods import (
    GradientReversal,
    dim_objective,
    make_method,
    nt_xent,
)
from infomax.nets import make_encoder
from infomax.validation import InputError


def _loop_local_infonce(scores: np.ndarray) -> float:
    """InfoNCE over (i, l): positive S[i, i, l] against every S[i, j != i, l'] (plain loops)."""
    batch, _, locations = scores.shape
    losses = []
    for i in range(batch):
        negatives = [scores[i, j, m] for j in range(batch) if j != i for m in range(locations)]
        for loc in range(locations):
            logits = np.array([scores[i, i, loc], *negatives])
            losses.append(-(logits[0] - np.log(np.exp(logits).sum())))
    return float(np.mean(losses))


def test_local_infonce_matches_a_loop_reference() -> None:
    torch.manual_seed(0)
    scores = torch.randn(4, 4, 3, dtype=torch.float64) * 2
    loss, mi = dim_objective(scores, "infonce")
    reference = _loop_local_infonce(scores.numpy())
    assert float(loss) == pytest.approx(reference, rel=1e-10)
    assert float(mi) == pytest.approx(math.log(1 + 3 * 3) - reference, rel=1e-10)


def test_global_objectives_agree_with_the_bounds_module() -> None:
    torch.manual_seed(1)
    scores = torch.randn(6, 6, dtype=torch.float64)
    loss, mi = dim_objective(scores, "infonce")
    assert float(mi) == pytest.approx(float(infonce(scores)), rel=1e-10)
    assert float(loss) == pytest.approx(math.log(6) - float(infonce(scores)), rel=1e-10)
    loss, mi = dim_objective(scores, "jsd")
    assert float(loss) == pytest.approx(-float(jsd_objective(scores)), rel=1e-10)
    assert float(mi) == pytest.approx(float(jsd(scores)), rel=1e-10)
    loss, mi = dim_objective(scores, "dv")
    assert float(mi) == pytest.approx(float(dv(scores)), rel=1e-10)
    assert float(loss) == pytest.approx(-float(dv(scores)), rel=1e-10)


def test_local_infonce_never_exceeds_its_cap_and_reaches_it_with_a_perfect_critic() -> None:
    batch, locations = 8, 5
    cap = math.log(1 + (batch - 1) * locations)
    scores = torch.full((batch, batch, locations), -50.0)
    scores[torch.arange(batch), torch.arange(batch)] = 50.0
    _, mi = dim_objective(scores, "infonce")
    assert float(mi) == pytest.approx(cap, abs=1e-6)
    for seed in range(5):
        torch.manual_seed(seed)
        _, mi = dim_objective(torch.randn(batch, batch, locations) * 10, "infonce")
        assert float(mi) <= cap + 1e-6


def test_uninformative_scores_give_zero_mi() -> None:
    _, mi = dim_objective(torch.zeros(8, 8, 4), "infonce")
    assert float(mi) == pytest.approx(0.0, abs=1e-6)
    _, mi = dim_objective(torch.zeros(8, 8, 4), "dv")
    assert float(mi) == pytest.approx(0.0, abs=1e-6)


def test_dim_objective_rejects_bad_input() -> None:
    with pytest.raises(InputError, match="unknown DIM estimator"):
        dim_objective(torch.zeros(4, 4), "mine")
    with pytest.raises(InputError, match=r"\(B, B, L\)"):
        dim_objective(torch.zeros(4, 3, 2))


def _nt_xent_reference(z1: np.ndarray, z2: np.ndarray, temperature: float) -> float:
    z = np.concatenate([z1, z2])
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    n = len(z1)
    losses = []
    for a in range(2 * n):
        partner = (a + n) % (2 * n)
        others = [b for b in range(2 * n) if b != a]
        logits = np.array([z[a] @ z[b] / temperature for b in others])
        target = others.index(partner)
        losses.append(-(logits[target] - np.log(np.exp(logits).sum())))
    return float(np.mean(losses))


def test_nt_xent_matches_a_loop_reference() -> None:
    rng = np.random.default_rng(0)
    z1, z2 = rng.normal(size=(5, 7)), rng.normal(size=(5, 7))
    value = nt_xent(torch.from_numpy(z1), torch.from_numpy(z2), temperature=0.3)
    assert float(value) == pytest.approx(_nt_xent_reference(z1, z2, 0.3), rel=1e-10)


def test_nt_xent_of_identical_views_approaches_zero_at_low_temperature() -> None:
    z = torch.eye(6, dtype=torch.float64)
    assert float(nt_xent(z, z.clone(), temperature=0.01)) < 1e-10
    with pytest.raises(InputError, match="temperature"):
        nt_xent(z, z, temperature=0.0)
    with pytest.raises(InputError, match=r"\(B, D\)"):
        nt_xent(z, z[:3])


def test_gradient_reversal_negates_only_the_gradient() -> None:
    x = torch.tensor([1.0, -2.0], requires_grad=True)
    y = GradientReversal()(x)
    assert torch.equal(y, x.detach())
    (y * torch.tensor([3.0, 4.0])).sum().backward()
    assert torch.equal(x.grad, torch.tensor([-3.0, -4.0]))


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("dim-local", {}),
        ("dim-local", {"estimator": "jsd"}),
        ("dim-global", {"estimator": "dv"}),
        ("dim", {}),
        ("dim-global", {"views": 2}),
        ("simclr", {}),
    ],
)
def test_every_method_gives_a_finite_loss_with_gradients_for_the_encoder(
    name: str, options: dict[str, object]
) -> None:
    torch.manual_seed(0)
    encoder = make_encoder("dim-conv", in_channels=1, image_size=16, widths=(8, 16), fc_dim=32)
    method = make_method(name, encoder, image_size=16, **options)
    images = torch.randint(0, 256, (6, 1, 16, 16), dtype=torch.uint8)
    output = method.loss(method.make_views(images))
    assert output.loss.ndim == 0 and torch.isfinite(output.loss)
    assert output.features is not None and output.features.shape == (6, 16 * 4 * 4)
    output.loss.backward()
    grads = [p.grad for p in method.encoder.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads if g is not None)


@pytest.mark.parametrize("name", ["dim-global", "dim-local"])
def test_two_view_dim_reduces_to_one_view_on_identical_views_and_is_symmetric(name: str) -> None:
    """y of one view against the map of the other: with x twice it is the one-view loss."""
    torch.manual_seed(0)
    encoder = make_encoder("dim-conv", in_channels=1, image_size=16, widths=(8, 16), fc_dim=32)
    two = make_method(name, encoder, image_size=16, views=2, gamma=0.0)
    one = make_method(name, encoder, image_size=16, views=1, gamma=0.0)
    one.load_state_dict(two.state_dict())
    assert two.num_views == 2 and one.num_views == 1
    images = torch.randint(0, 256, (6, 1, 16, 16), dtype=torch.uint8)
    a, b = two.make_views(images)
    assert not torch.equal(a, b)
    same = two.loss([a, a]).loss
    torch.testing.assert_close(same, one.loss([a]).loss, rtol=1e-5, atol=1e-6)
    # Swapping the views swaps the two directions, whose losses are averaged.
    torch.testing.assert_close(two.loss([a, b]).loss, two.loss([b, a]).loss, rtol=1e-5, atol=1e-6)
    assert float((two.loss([a, b]).loss - same).detach().abs()) > 1e-4
    with pytest.raises(InputError, match="views=1 or views=2"):
        make_method(name, encoder, image_size=16, views=3)


def test_dim_prior_discriminator_and_encoder_pull_opposite_ways() -> None:
    """With gradient reversal one backward pass trains D to separate and E to fool it."""
    torch.manual_seed(0)
    encoder = make_encoder("mlp", in_channels=1, image_size=4, hidden=16, out_dim=3)
    method = make_method("dim-local", encoder, image_size=4, augment="none", gamma=1.0, beta=1.0)
    images = torch.randint(0, 256, (16, 1, 4, 4), dtype=torch.uint8)
    y = encoder(method.make_views(images)[0]).y
    fake = method.discriminator(method.reverse(torch.sigmoid(y)))
    torch.nn.functional.softplus(fake).mean().backward()
    # D's loss on fakes is softplus(D(fake)); its gradient w.r.t. the fake logits is positive,
    # and the encoder receives the reversed sign: moving y along -grad raises D(fake).
    out_weight = method.encoder.out.weight
    assert out_weight.grad is not None and float(out_weight.grad.abs().sum()) > 0


def test_make_method_names_the_problem() -> None:
    encoder = make_encoder("mlp", in_channels=1, image_size=4)
    with pytest.raises(InputError, match="unknown method 'cpc2'"):
        make_method("cpc2", encoder, image_size=4)
    with pytest.raises(InputError, match="no option 'temprature'"):
        make_method("simclr", encoder, image_size=4, temprature=0.1)
    with pytest.raises(InputError, match="alpha \\+ beta > 0"):
        make_method("dim-local", encoder, image_size=4, beta=0.0)
