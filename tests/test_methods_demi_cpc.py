"""DEMI pre-training and CPC losses against references computed another way."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from infomax.bounds import boosted_conditional_infonce, importance_sampled_infonce
from infomax.data import DataError
from infomax.data.sequences import load_sequences, markov_sequences
from infomax.distributions import optimal_phi_scores, optimal_psi_scores
from infomax.methods import make_method
from infomax.methods.cpc import CPCSequence, cpc_step_losses
from infomax.nets import make_encoder
from infomax.validation import InputError


def _log_softmax_first(logits: np.ndarray) -> float:
    return float(logits[0] - np.log(np.exp(logits - logits.max()).sum()) - logits.max())


def _small_demi(name: str, **options: object) -> torch.nn.Module:
    torch.manual_seed(0)
    encoder = make_encoder("mlp", in_channels=1, image_size=8, hidden=32, out_dim=8)
    return make_method(name, encoder, image_size=8, hidden_dim=16, projection_dim=6, **options)


def _cosine_matrix(a: np.ndarray, b: np.ndarray, tau: float) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.array([[a[i] @ b[j] / tau for j in range(len(b))] for i in range(len(a))])


@pytest.mark.parametrize("conditional", ["bo", "is"])
def test_demi_loss_matches_a_loop_reference(conditional: str) -> None:
    method = _small_demi("demi", conditional=conditional, temperature=0.3)
    method.eval()  # BatchNorm with running statistics: the heads are fixed functions
    torch.manual_seed(1)
    views = [torch.randn(5, 1, 8, 8, dtype=torch.float32) for _ in range(3)]
    out = method.loss(views)
    with torch.no_grad():
        h = [method.head(method.encoder(v).y) for v in views]
        h_x, h_y, h_sub = (t.double().numpy() for t in h)
        g = method.combine(torch.cat([h[2], h[0]], dim=1)).double().numpy()
    psi = _cosine_matrix(h_sub, h_y, 0.3)
    phi = _cosine_matrix(g, h_y, 0.3)
    k = len(psi)

    def infonce_rows(scores: np.ndarray) -> float:
        rows = [_log_softmax_first(np.r_[scores[i, i], np.delete(scores[i], i)]) for i in range(k)]
        return float(np.mean(rows)) + math.log(k)

    mi_subview = infonce_rows(psi)
    if conditional == "bo":
        boosted = infonce_rows(psi + phi)
        expected_loss = -(mi_subview + boosted)
        expected_cmi = boosted - mi_subview
    else:
        values = []
        for i in range(k):
            others = [j for j in range(k) if j != i]
            w = np.exp(psi[i, others] - psi[i, others].max())
            w /= w.sum()
            partition = (np.exp(phi[i, i]) + (k - 1) * (w * np.exp(phi[i, others])).sum()) / k
            values.append(phi[i, i] - np.log(partition))
        expected_cmi = float(np.mean(values))
        expected_loss = -(mi_subview + expected_cmi)
    assert float(out.loss.detach()) == pytest.approx(expected_loss, rel=1e-5, abs=1e-5)  # float32
    assert float(out.metrics["cmi"]) == pytest.approx(expected_cmi, rel=1e-5, abs=1e-6)
    assert float(out.metrics["mi_subview"]) == pytest.approx(mi_subview, rel=1e-5, abs=1e-6)


def test_multiview_loss_is_the_sum_of_two_infonce_terms() -> None:
    method = _small_demi("multiview", temperature=0.5)
    method.eval()
    torch.manual_seed(2)
    views = [torch.randn(6, 1, 8, 8) for _ in range(3)]
    out = method.loss(views)
    total = out.metrics["mi_subview"] + out.metrics["mi_view"]
    assert float(out.loss.detach()) == pytest.approx(-float(total), rel=1e-6)


def test_conditional_term_is_zero_when_x_adds_nothing_beyond_the_subview() -> None:
    """x = (x', noise): y depends on x' only, so the optimal phi is zero and so are I_BO, I_IS."""
    torch.manual_seed(0)
    rho = torch.tensor([0.8, 0.8, 0.0, 0.0], dtype=torch.float64)
    x = torch.randn(64, 4, dtype=torch.float64)
    y = rho * x + torch.sqrt(1 - rho**2) * torch.randn(64, 4, dtype=torch.float64)
    psi = optimal_psi_scores(x, y, rho, prefix=2)
    phi = optimal_phi_scores(x, y, rho, prefix_prev=2, prefix=4)
    assert float(phi.abs().max()) == 0.0
    estimate, _ = importance_sampled_infonce(phi, psi)
    assert float(estimate) == pytest.approx(0.0, abs=1e-12)
    assert float(boosted_conditional_infonce(phi, psi)) == pytest.approx(0.0, abs=1e-12)


def test_demi_views_and_options() -> None:
    method = _small_demi("demi", subview="crop")
    images = torch.randint(0, 256, (4, 1, 8, 8), dtype=torch.uint8)
    x, y, sub = method.make_views(images)
    assert x.shape == y.shape == sub.shape == (4, 1, 8, 8)
    cutout = _small_demi("demi", subview="cutout", subview_scale=(0.5, 0.5))
    x, _, sub = cutout.make_views(images)
    erased = (sub == 0) & (x != 0)
    assert 0 < float(erased.float().mean()) <= 0.6  # about half of each image erased
    with pytest.raises(InputError, match="unknown sub-view"):
        _small_demi("demi", subview="mask")
    with pytest.raises(InputError, match="unknown conditional estimator"):
        _small_demi("demi", conditional="var")


def _cpc_reference(c: np.ndarray, z: np.ndarray, weights: list[np.ndarray]) -> list[float]:
    batch, length, _ = z.shape
    flat = z.reshape(batch * length, -1)
    out = []
    for k, w in enumerate(weights, start=1):
        losses = []
        for b in range(batch):
            for t in range(length - k):
                logits = flat @ (w @ c[b, t])
                target = b * length + t + k
                losses.append(-(logits[target] - np.log(np.exp(logits).sum())))
        out.append(float(np.mean(losses)))
    return out


def test_cpc_step_losses_match_a_loop_reference() -> None:
    torch.manual_seed(0)
    c = torch.randn(3, 6, 5, dtype=torch.float64)
    z = torch.randn(3, 6, 4, dtype=torch.float64)
    predictors = torch.nn.ModuleList(torch.nn.Linear(5, 4, bias=False).double() for _ in range(3))
    losses = cpc_step_losses(c, z, predictors)
    reference = _cpc_reference(
        c.numpy(), z.numpy(), [p.weight.detach().numpy() for p in predictors]
    )
    assert [float(v.detach()) for v in losses] == pytest.approx(reference, rel=1e-10)


def test_cpc_context_never_sees_the_future() -> None:
    torch.manual_seed(0)
    model = CPCSequence(input_dim=3, hidden=8, z_dim=4, context_dim=5, steps=2)
    x = torch.randn(2, 10, 3)
    changed = x.clone()
    changed[:, 6:] += 5.0
    c, _ = model.contexts(x)
    c2, _ = model.contexts(changed)
    assert torch.equal(c[:, :6], c2[:, :6])
    assert not torch.allclose(c[:, 6:], c2[:, 6:])
    with pytest.raises(InputError, match=r"\(B, T, 3\)"):
        model.contexts(torch.randn(2, 10, 4))


def test_cpc_learns_and_its_estimate_falls_with_the_prediction_step() -> None:
    x, s = markov_sequences(n=512, length=24, states=4, dim=8, stay=0.85, noise=0.5, seed=0)
    torch.manual_seed(0)
    model = CPCSequence(input_dim=8, hidden=32, z_dim=16, context_dim=32, steps=3)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    data = torch.from_numpy(x)
    generator = torch.Generator().manual_seed(0)
    for _ in range(150):
        index = torch.randint(0, 512, (32,), generator=generator)
        out = model.loss([data[index]])
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
    with torch.no_grad():
        out = model.loss([data[:64]])
    mi = [float(out.metrics[f"mi_k{k}"]) for k in (1, 2, 3)]
    assert mi[0] > 0.5 and mi[0] > mi[1] > mi[2], mi
    cap = math.log(64 * 24)
    assert all(v <= cap for v in mi)
    # and c_t encodes the hidden state: a linear read-out beats chance (0.25) by far
    features = out.features
    labels = torch.from_numpy(s[:64]).reshape(-1)
    probe = torch.nn.Linear(32, 4)
    opt = torch.optim.Adam(probe.parameters(), lr=1e-2)
    for _ in range(200):
        loss = F.cross_entropy(probe(features), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float((probe(features).argmax(1) == labels).float().mean()) > 0.8


def test_markov_sequences_follow_their_chain() -> None:
    x, s = markov_sequences(n=2000, length=20, states=5, dim=3, stay=0.9, seed=1)
    assert x.shape == (2000, 20, 3) and s.shape == (2000, 20) and x.dtype == np.float32
    stays = float((s[:, 1:] == s[:, :-1]).mean())
    assert stays == pytest.approx(0.9, abs=0.01)
    assert set(np.unique(s)) == set(range(5))


def test_load_sequences_names_bad_files(tmp_path) -> None:
    assert load_sequences("markov").x.ndim == 3
    with pytest.raises(DataError, match="no sequence file"):
        load_sequences(tmp_path / "missing.npy")
    np.save(tmp_path / "flat.npy", np.zeros((4, 5)))
    with pytest.raises(DataError, match=r"\(N, T, D\)"):
        load_sequences(tmp_path / "flat.npy")
    bad = np.zeros((4, 5, 2))
    bad[1, 2, 0] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(DataError, match="1 sequences hold NaN"):
        load_sequences(tmp_path / "nan.npy")
    np.savez(tmp_path / "labels.npz", x=np.zeros((4, 5, 2)), labels=np.zeros((4, 4), int))
    with pytest.raises(DataError, match="labels must be integers"):
        load_sequences(tmp_path / "labels.npz")


def test_image_cpc_context_never_sees_rows_below() -> None:
    from infomax.methods.cpc import CPCImage

    torch.manual_seed(0)
    encoder = make_encoder("patch-dim", in_channels=1, image_size=16, widths=(4, 8), fc_dim=8)
    method = make_method("cpc", encoder, image_size=16, context_dim=6, steps=2)
    assert isinstance(method, CPCImage)
    z = torch.randn(2, encoder.out_dim, *encoder.grid)  # 16x16, 8x8 patches, stride 4: 3x3
    changed = z.clone()
    changed[:, :, 2:] += 3.0  # rows 2 and below
    c, c2 = method.contexts(z), method.contexts(changed)
    torch.testing.assert_close(c[:, :, :2], c2[:, :, :2])
    assert not torch.allclose(c[:, :, 2:], c2[:, :, 2:])


def test_patch_encoder_cuts_the_grid_in_row_major_order() -> None:
    encoder = make_encoder("patch-dim", in_channels=1, image_size=16, widths=(4, 8), fc_dim=8)
    assert encoder.grid == (3, 3)
    image = torch.arange(256.0).reshape(1, 1, 16, 16)
    patches = encoder.patches(image)
    assert patches.shape == (9, 1, 8, 8)
    torch.testing.assert_close(patches[1], image[0, :, 0:8, 4:12])  # row 0, column 1
    torch.testing.assert_close(patches[3], image[0, :, 4:12, 0:8])  # row 1, column 0
    out = encoder(torch.randn(4, 1, 16, 16))
    assert out.local.shape == (4, encoder.out_dim, 3, 3) and out.conv.shape == (4, 8 * 2 * 2, 4, 4)
    with pytest.raises(InputError, match="patch-dim"):
        make_method("cpc", make_encoder("mlp", in_channels=1, image_size=8), image_size=8)
