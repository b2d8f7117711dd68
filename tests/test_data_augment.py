"""Batch-wise views: shapes, dtypes, ranges, real flips and crops, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from infomax.data import PRESETS, Augment, DataError


def batch(b: int = 8, c: int = 3, size: int = 32, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (b, c, size, size), dtype=torch.uint8, generator=generator)


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("channels", [1, 3])
def test_every_preset_gives_float_views_of_the_right_shape(preset: str, channels: int) -> None:
    torch.manual_seed(0)
    x = batch(c=channels)
    augment = Augment(preset, size=24, mean=0.0, std=1.0)
    for source in (x, x.float() / 255):
        out = augment(source)
        assert out.shape == (8, channels, 24, 24) and out.dtype == torch.float32
        assert out.min() >= -1e-6 and out.max() <= 1 + 1e-6
    assert torch.isfinite(out).all()


def test_none_is_scale_and_normalise_only() -> None:
    x = batch()
    mean, std = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)
    out = Augment("none", size=32, mean=mean, std=std)(x)
    expected = (x.float() / 255 - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(
        1, 3, 1, 1
    )
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)


def test_flip_with_p_one_is_an_exact_mirror() -> None:
    x = batch()
    out = Augment("flip", size=32, mean=0.0, std=1.0, flip_p=1.0)(x)
    assert torch.equal(out, torch.flip(x.float() / 255, dims=[-1]))


def test_flip_flips_some_images_and_leaves_the_rest() -> None:
    torch.manual_seed(0)
    x = batch(b=64).float() / 255
    out = Augment("flip", size=32, mean=0.0, std=1.0)(x)
    same = (out == x).flatten(1).all(1)
    mirrored = (out == torch.flip(x, dims=[-1])).flatten(1).all(1)
    assert bool((same ^ mirrored).all())
    assert int(mirrored.sum()) == 35  # of 64, with p = 0.5 under torch.manual_seed(0)


def test_pad_crop_is_an_integer_shift_of_the_padded_image() -> None:
    torch.manual_seed(1)
    x = batch(b=6).float() / 255
    out = Augment("crop", size=32, mean=0.0, std=1.0, flip_p=0.0)(x)
    padded = F.pad(x, (4, 4, 4, 4))
    for i in range(len(x)):
        errors = [
            (out[i] - padded[i, :, dy : dy + 32, dx : dx + 32]).abs().max().item()
            for dy in range(9)
            for dx in range(9)
        ]
        assert min(errors) < 1e-5


def test_simclr_views_differ_and_are_reproducible() -> None:
    x = batch(b=16)
    augment = Augment("simclr", size=32, mean=0.0, std=1.0)
    torch.manual_seed(3)
    first, second = augment.views(x)
    torch.manual_seed(3)
    again, _ = augment.views(x)
    assert first.shape == second.shape == (16, 3, 32, 32)
    assert torch.equal(first, again)
    assert (first - second).abs().flatten(1).amax(1).min() > 0.01


def test_views_are_n_views_of_each_image() -> None:
    x = batch(b=4)
    views = Augment("flip", size=16, flip_p=0.0, mean=0.0, std=1.0).views(x, n=3)
    assert len(views) == 3 and all(v.shape == (4, 3, 16, 16) for v in views)
    assert torch.equal(views[0], views[2])


def test_cutout_erases_a_rectangle_to_the_mean() -> None:
    torch.manual_seed(0)
    x = batch(b=8)
    out = Augment("cutout", size=32, mean=0.5, std=0.5, flip_p=0.0)(x)
    # (k / 255 - 0.5) / 0.5 is never exactly 0 for an integer k, so zeros are the erased pixels.
    erased = (out == 0).all(dim=1).flatten(1).sum(1)
    assert bool((erased >= 1).all())
    kept = out != 0
    expected = (x.float() / 255 - 0.5) / 0.5
    assert torch.equal(out[kept], expected[kept])


def test_augment_runs_where_the_batch_is_and_has_no_state() -> None:
    augment = Augment("simclr")
    assert list(augment.state_dict()) == []
    assert augment(batch()).device == batch().device


def test_errors_name_the_problem() -> None:
    with pytest.raises(DataError, match="^unknown augmentation preset 'fancy'; use one of none,"):
        Augment("fancy")
    with pytest.raises(DataError, match="^unknown augmentation option 'flip'; options are crop,"):
        Augment("simclr", flip=True)
    with pytest.raises(DataError, match="^crop must be 'none', 'resized' or 'pad', got 'center'$"):
        Augment("none", crop="center")
    with pytest.raises(DataError, match=r"^std must be positive, got \[0.0\]$"):
        Augment("none", std=0.0)
    augment = Augment("flip")
    with pytest.raises(
        DataError, match=r"^Augment expects a batch \(B, C, H, W\), got \(3, 32, 32\)$"
    ):
        augment(batch()[0])
    with pytest.raises(DataError, match=r"^Augment expects 1 or 3 channels, got 2 \(B, C, H, W\)$"):
        augment(batch(c=2))
    with pytest.raises(DataError, match="^Augment expects uint8 or float images, got torch.int64$"):
        augment(batch().long())
    with pytest.raises(DataError, match="^mean/std have 2/1 values for 3 channels$"):
        Augment("flip", mean=(0.5, 0.5))(batch())
