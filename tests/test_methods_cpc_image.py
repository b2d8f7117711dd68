"""CPC on image patch grids: the four prediction directions, LayerNorm patches, patch views."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from infomax.methods import make_method
from infomax.methods.cpc import DIRECTIONS, orient, unorient
from infomax.nets import make_encoder
from infomax.validation import InputError

#: (row, column) step of each direction's target, k patches away.
STEP = {"down": (1, 0), "up": (-1, 0), "right": (0, 1), "left": (0, -1)}


def _small_cpc(**options: object) -> torch.nn.Module:
    """CPC on 16x20 images: 8x8 patches at stride 4, a 3x4 grid (not square, on purpose)."""
    torch.manual_seed(0)
    encoder = make_encoder(
        "patch-dim", in_channels=3, image_size=(16, 20), widths=(4, 8), fc_dim=8, out_dim=6,
        norm="layer",
    )  # fmt: skip
    return make_method("cpc", encoder, image_size=(16, 20), context_dim=5, steps=2, **options)


def test_orient_turns_each_direction_s_targets_below_and_unorient_undoes_it() -> None:
    grid = torch.arange(12.0).reshape(1, 1, 3, 4)
    for direction, (dr, dc) in STEP.items():
        turned = orient(grid, direction)
        assert torch.equal(unorient(turned, direction), grid)
        # the patch one row below in the turned grid is one step in the direction
        for r in range(turned.shape[2] - 1):
            for c in range(turned.shape[3]):
                here, below = float(turned[0, 0, r, c]), float(turned[0, 0, r + 1, c])
                (i, j), (i2, j2) = divmod(int(here), 4), divmod(int(below), 4)
                assert (i2 - i, j2 - j) == (dr, dc), direction


def test_all_direction_loss_matches_per_direction_loops_over_the_grid() -> None:
    method = _small_cpc(directions="all")
    assert method.directions == DIRECTIONS
    torch.manual_seed(1)
    x = torch.randn(3, 3, 16, 20)
    out = method.loss([x])
    with torch.no_grad():
        z = method.encoder(x).local.double()  # (B, Z, 3, 4); per-patch norm: no batch effect
        candidates = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1]).numpy()  # every patch
        index = np.arange(len(candidates)).reshape(3, 3, 4)
        per_direction = {}
        for direction in DIRECTIONS:
            c = method.contexts(z.float(), direction).double()  # image orientation
            weights = [p.weight.double().numpy() for p in method.stack(direction)[2]]
            steps = []
            for k, w in enumerate(weights, start=1):
                losses = []
                for b in range(3):
                    for r in range(3):
                        for col in range(4):
                            tr, tc = r + k * STEP[direction][0], col + k * STEP[direction][1]
                            if not (0 <= tr < 3 and 0 <= tc < 4):
                                continue
                            logits = candidates @ (w @ c[b, :, r, col].numpy())
                            top = logits.max()
                            lse = top + np.log(np.exp(logits - top).sum())
                            losses.append(lse - logits[index[b, tr, tc]])
                steps.append(np.mean(losses))
            per_direction[direction] = steps
    # float32 model against a float64 loop on the same encodings and contexts
    expected = np.mean([np.mean(v) for v in per_direction.values()])
    assert float(out.loss.detach()) == pytest.approx(expected, rel=1e-5)
    cap = np.log(3 * 12)
    for direction, steps in per_direction.items():
        assert float(out.metrics[f"mi_{direction}"]) == pytest.approx(
            cap - np.mean(steps), abs=1e-5
        )
    for k in (1, 2):
        mean_k = np.mean([steps[k - 1] for steps in per_direction.values()])
        assert float(out.metrics[f"mi_k{k}"]) == pytest.approx(cap - mean_k, abs=1e-5)


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_each_direction_s_context_never_sees_its_targets(direction: str) -> None:
    """d c[r, c] / d z is zero at every patch strictly ahead in the direction, nonzero
    somewhere behind or at it (the row-causal stack, turned)."""
    method = _small_cpc(directions="all")
    z = torch.randn(2, 6, 3, 4, requires_grad=True)
    c = method.contexts(z, direction)
    dr, dc = STEP[direction]
    for r in range(3):
        for col in range(4):
            (grad,) = torch.autograd.grad(c[:, :, r, col].sum(), z, retain_graph=True)
            reach = grad.abs().sum((0, 1))  # (3, 4)
            rows, cols = torch.meshgrid(torch.arange(3), torch.arange(4), indexing="ij")
            ahead = (rows - r) * dr + (cols - col) * dc > 0
            assert float(reach[ahead].abs().sum()) == 0.0, (direction, r, col)
            assert float(reach[~ahead].sum()) > 0
            assert float(reach[r, col]) > 0  # its own patch


def test_down_is_the_default_and_other_directions_are_absent() -> None:
    method = _small_cpc()
    assert method.directions == ("down",) and len(method.turned) == 0
    with pytest.raises(InputError, match="this CPC predicts down, not 'up'"):
        method.stack("up")
    out = method.loss([torch.randn(2, 3, 16, 20)])
    assert set(out.metrics) == {"mi_k1", "mi_k2"}


def test_layer_norm_patch_encoder_encodes_each_patch_on_its_own() -> None:
    torch.manual_seed(0)
    kwargs = {"in_channels": 3, "image_size": 16, "widths": (4, 8), "fc_dim": 8}
    layer = make_encoder("patch-dim", norm="layer", **kwargs)
    batch = make_encoder("patch-dim", **kwargs)
    norms = [type(m).__name__ for m in layer.modules() if "Norm" in type(m).__name__]
    assert norms == ["GroupNorm", "GroupNorm", "LayerNorm"]
    count = sum(p.numel() for p in layer.parameters())
    assert count == sum(p.numel() for p in batch.parameters())
    layer.train()
    x = torch.randn(4, 3, 16, 16)
    together = layer(x).local
    alone = torch.cat([layer(x[i : i + 1]).local for i in range(4)])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(batch(x).local[:1], batch(x[:1].repeat(2, 1, 1, 1)).local[:1])
    with pytest.raises(InputError, match="norm must be one of batch, layer, got 'group'"):
        make_encoder("patch-dim", norm="group", **kwargs)


def test_patch_aug_views_are_augmented_patches_that_the_loss_encodes() -> None:
    from infomax.data.patch_augment import PatchAugment

    method = _small_cpc(patch_aug=True)
    plain = _small_cpc()
    plain.load_state_dict(method.state_dict())
    images = torch.randint(0, 256, (4, 3, 16, 20), dtype=torch.uint8)
    torch.manual_seed(3)
    (patches,) = method.make_views(images)
    assert patches.shape == (4 * 12, 3, 8, 8)
    torch.manual_seed(3)
    (view,) = plain.make_views(images)
    torch.testing.assert_close(patches, method.patch_augment(method.encoder.cut(view)))
    assert not torch.allclose(patches, method.encoder.cut(view))
    # with an augmentation that changes nothing, the loss is plain CPC's on the view
    method.patch_augment = PatchAugment(
        method.augment.mean, method.augment.std, crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0),
        flip_p=0.0, drop_p=0.0, grayscale_p=0.0,
    )  # fmt: skip
    torch.manual_seed(3)
    same = method.make_views(images)
    torch.testing.assert_close(method.loss(same).loss, plain.loss([view]).loss)
    torch.testing.assert_close(method.loss(same).features, plain.loss([view]).features)


def test_cpc_options_name_the_problem() -> None:
    with pytest.raises(InputError, match="directions must be 'down' or 'all', got 'diagonal'"):
        _small_cpc(directions="diagonal")
    with pytest.raises(InputError, match="option patch_aug takes true or false"):
        _small_cpc(patch_aug="yes")
    encoder = make_encoder("patch-dim", in_channels=1, image_size=(16, 28), widths=(4, 8))
    make_method("cpc", encoder, image_size=(16, 28), steps=2)  # 3 rows: 2 steps down fit
    with pytest.raises(InputError, match="steps must be in 1..2 for a 3x6 grid"):
        make_method("cpc", encoder, image_size=(16, 28), steps=3, directions="all")
    with pytest.raises(InputError, match=r"patches \(B \* 18, 1, 8, 8\)"):
        encoder.encode_patches(torch.zeros(17, 1, 8, 8))
