"""DIM's structural tasks (occlusion, coordinate prediction) against loop references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from infomax.methods import dim_objective, make_method
from infomax.methods.dim_structural import (
    CoordinateHeads,
    occlusion_mask,
    offset_class,
    relative_pairs,
)
from infomax.nets import make_encoder
from infomax.validation import InputError


def _cross_entropy(logits: np.ndarray, target: int) -> float:
    top = logits.max()
    return float(top + np.log(np.exp(logits - top).sum()) - logits[target])


def _heads(channels: int = 4, y_dim: int = 5, grid: tuple[int, int] = (2, 3)) -> CoordinateHeads:
    torch.manual_seed(0)
    return CoordinateHeads(channels, y_dim, grid).double()


def test_coordinate_cross_entropy_matches_a_loop_over_images_and_locations() -> None:
    heads = _heads()
    local = torch.randn(3, 4, 2, 3, dtype=torch.float64)
    y = torch.randn(3, 5, dtype=torch.float64)
    out = heads(local, y)
    losses, hits = [], []
    with torch.no_grad():
        for b in range(3):
            for location in range(6):
                i, j = divmod(location, 3)
                logits = heads.absolute(torch.cat([local[b, :, i, j], y[b]])).numpy()
                losses.append(_cross_entropy(logits, location))
                hits.append(int(logits.argmax()) == location)
    # float64 throughout: the batched split first layer equals the concatenated one
    assert float(out["coord_loss"].detach()) == pytest.approx(np.mean(losses), rel=1e-12)
    assert float(out["coord_accuracy"]) == pytest.approx(np.mean(hits), abs=1e-7)


def test_relative_coordinate_cross_entropy_matches_a_loop_over_pairs() -> None:
    heads = _heads()
    local = torch.randn(3, 4, 2, 3, dtype=torch.float64)
    y = torch.randn(3, 5, dtype=torch.float64)
    torch.manual_seed(7)
    out = heads(local, y)
    torch.manual_seed(7)  # the same draw of partners (the heads' only randomness)
    partner = relative_pairs(3, 6)
    offsets = [(di, dj) for di in range(-1, 2) for dj in range(-2, 3)]  # 3 x 5 classes
    losses, hits = [], []
    with torch.no_grad():
        for b in range(3):
            for first in range(6):
                second = int(partner[b, first])
                (i1, j1), (i2, j2) = divmod(first, 3), divmod(second, 3)
                target = offsets.index((i2 - i1, j2 - j1))
                pair = torch.cat([local[b, :, i1, j1], local[b, :, i2, j2]])
                logits = heads.relative(pair).numpy()
                losses.append(_cross_entropy(logits, target))
                hits.append(int(logits.argmax()) == target)
    assert float(out["relcoord_loss"].detach()) == pytest.approx(np.mean(losses), rel=1e-12)
    assert float(out["relcoord_accuracy"]) == pytest.approx(np.mean(hits), abs=1e-7)


def test_relative_partners_are_the_other_locations_uniformly() -> None:
    torch.manual_seed(0)
    partner = relative_pairs(4000, 5)
    own = torch.arange(5).expand(4000, -1)
    assert not (partner == own).any()
    # each of the 4 other locations with probability 1/4: 4000 draws per location, so the
    # frequency's standard error is sqrt(1/4 * 3/4 / 4000) = 0.0068; 5 sigma
    for location in range(5):
        counts = torch.bincount(partner[:, location], minlength=5).double() / 4000
        others = [k for k in range(5) if k != location]
        assert counts[others].sub(0.25).abs().max() < 5 * 0.0068
    # offset classes: (0, 0) is the centre class, (+1, -1) on a 2x3 grid
    assert int(offset_class(torch.tensor(4), torch.tensor(4), (2, 3))) == 1 * 5 + 2
    assert int(offset_class(torch.tensor(1), torch.tensor(3), (2, 3))) == 2 * 5 + 1


def test_coordinate_heads_learn_positions_that_the_features_carry() -> None:
    """Features holding a location code: both heads reach (near) perfect accuracy."""
    torch.manual_seed(0)
    heads = CoordinateHeads(6, 3, (2, 3))
    code = torch.eye(6).T.reshape(6, 2, 3)  # channel l is 1 at location l
    optimizer = torch.optim.Adam(heads.parameters(), lr=1e-2)
    for _ in range(150):
        local = code + 0.1 * torch.randn(8, 6, 2, 3)
        out = heads(local, torch.randn(8, 3))
        optimizer.zero_grad()
        (out["coord_loss"] + out["relcoord_loss"]).backward()
        optimizer.step()
    assert float(out["coord_accuracy"]) == 1.0
    assert float(out["relcoord_accuracy"]) > 0.95
    assert float(out["coord_loss"].detach()) < 0.1 * math.log(6)


def test_occlusion_masks_whole_cells_by_fraction_or_by_count() -> None:
    torch.manual_seed(0)
    mask = occlusion_mask(2000, (16, 12), 0.3, 4)
    assert mask.shape == (2000, 1, 16, 12)
    cells = mask[:, 0, ::4, ::3]  # one pixel per cell (4x3 pixels each)
    assert torch.equal(mask[:, 0], cells.repeat_interleave(4, 1).repeat_interleave(3, 2))
    # 32,000 Bernoulli(0.3) cells: standard error 0.0026 of the occluded share; 5 sigma
    assert float(1 - cells.mean()) == pytest.approx(0.3, abs=5 * 0.0026)
    counted = occlusion_mask(500, (16, 16), 5, 4)
    assert torch.equal((counted == 0).sum((1, 2, 3)), torch.full((500,), 5 * 16))
    # every cell is occluded at some point: the draw is over all 16
    assert bool((counted[:, 0, ::4, ::4] == 0).any(0).all())


def _recording(encoder: torch.nn.Module) -> list[torch.Tensor]:
    seen: list[torch.Tensor] = []
    encoder.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach()))
    return seen


@pytest.mark.parametrize("views", [1, 2])
def test_occlusion_masks_only_the_global_input_and_leaves_the_local_path_unchanged(
    views: int,
) -> None:
    torch.manual_seed(0)
    encoder = make_encoder("dim-conv", in_channels=1, image_size=16, widths=(8, 16), fc_dim=32)
    method = make_method("dim", encoder, image_size=16, occlude=0.5, views=views, gamma=0.0)
    method.eval()  # BatchNorm on running statistics: the encoder is a per-image function
    seen = _recording(encoder)
    images = torch.randint(0, 256, (5, 1, 16, 16), dtype=torch.uint8)
    made = method.make_views(images)
    out = method.loss(made)
    (given,) = seen
    clean = torch.cat(made)
    assert torch.equal(given[: len(clean)], clean)  # the maps' input: the full views
    hidden = given[len(clean) :]
    kept = (hidden != 0) | (clean == 0)
    assert torch.equal(hidden, clean * kept)  # the occluded views: cells of the full ones
    assert 0.2 < float((hidden == 0).float().mean()) < 0.8
    with torch.no_grad():
        full, occluded = encoder(clean), encoder(hidden)
        pairs = [(0, 0)] if views == 1 else [(0, 1), (1, 0)]
        ys, maps = occluded.y.chunk(views), full.local.chunk(views)
        local, glob = [], []
        for a, b in pairs:
            u = method.local_y(ys[a]) * method.scale
            scores = torch.einsum("id,jdl->ijl", u, method.local_map(maps[b]))
            local.append(dim_objective(scores)[1])
            g = method.global_y(ys[a]) * method.scale
            glob.append(dim_objective(g @ method.global_map(maps[b].flatten(1)).T)[1])
    torch.testing.assert_close(out.metrics["local_mi"], torch.stack(local).mean())
    torch.testing.assert_close(out.metrics["global_mi"], torch.stack(glob).mean())
    torch.testing.assert_close(out.features, full.conv[:5].flatten(1))


def test_coord_adds_its_weighted_losses_and_reports_accuracies() -> None:
    torch.manual_seed(0)
    encoder = make_encoder("dim-conv", in_channels=1, image_size=16, widths=(8, 16), fc_dim=32)
    plain = make_method("dim-local", encoder, image_size=16, gamma=0.0)
    with_coord = make_method("dim-local", encoder, image_size=16, gamma=0.0, coord=0.5)
    with_coord.load_state_dict(plain.state_dict(), strict=False)
    assert plain.coord_heads is None and not any("coord" in k for k in plain.state_dict())
    for module in (plain, with_coord):
        module.eval()
    views = plain.make_views(torch.randint(0, 256, (4, 1, 16, 16), dtype=torch.uint8))
    base, out = plain.loss(views), with_coord.loss(views)
    m = out.metrics
    assert set(m) == {
        "local_mi", "coord_loss", "coord_accuracy", "relcoord_loss", "relcoord_accuracy",
    }  # fmt: skip
    expected = base.loss + 0.5 * (m["coord_loss"] + m["relcoord_loss"])
    torch.testing.assert_close(out.loss, expected)
    # untrained heads: near chance, -log(1/64) and -log(1/225) nats
    assert float(m["coord_loss"]) == pytest.approx(math.log(64), abs=0.3)
    assert float(m["relcoord_loss"]) == pytest.approx(math.log(225), abs=0.3)
    out.loss.backward()
    grads = [p.grad for p in with_coord.coord_heads.parameters()]
    assert all(g is not None and float(g.abs().sum()) > 0 for g in grads)


def test_structural_options_name_the_problem() -> None:
    encoder = make_encoder("dim-conv", in_channels=1, image_size=16, widths=(8, 16), fc_dim=32)
    for options, message in [
        ({"occlude": -0.1}, "occlude must be >= 0"),
        ({"occlude": 1.5}, "fraction in \\(0, 1\\) or a whole number of cells below 16"),
        ({"occlude": 16}, "below 16 \\(occlude_grid=4\\)"),
        ({"occlude": 0.2, "occlude_grid": 1}, "occlude_grid must be a whole number >= 2"),
        ({"occlude": 0.2, "occlude_grid": 2.5}, "occlude_grid must be a whole number"),
        ({"coord": -1.0}, "coord is a loss weight"),
        ({"occlude": "lots"}, "option occlude takes a number"),
        ({"coord": True}, "option coord takes a number"),
    ]:
        with pytest.raises(InputError, match=message):
            make_method("dim-local", encoder, image_size=16, **options)
    mlp = make_encoder("mlp", in_channels=1, image_size=4)
    with pytest.raises(InputError, match="at least 2 locations, got 1x1"):
        make_method("dim-local", mlp, image_size=4, coord=1.0)
