"""Per-patch augmentation for CPC: each operation against what it must do to a patch."""

from __future__ import annotations

import pytest
import torch

from infomax.data import DataError
from infomax.data.patch_augment import PatchAugment

MEAN, STD = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)
OFF = {"crop_scale": (1.0, 1.0), "crop_ratio": (1.0, 1.0), "flip_p": 0.0}
NO_COLOUR = {"drop_p": 0.0, "grayscale_p": 0.0}


def test_no_crop_no_flip_no_colour_is_the_identity() -> None:
    torch.manual_seed(0)
    patches = torch.randn(50, 3, 8, 8)
    out = PatchAugment(MEAN, STD, **OFF, **NO_COLOUR)(patches)
    # an identity affine grid hits pixel centres: bilinear weights are exactly 0 and 1
    torch.testing.assert_close(out, patches, rtol=0, atol=1e-5)
    flipped = PatchAugment(MEAN, STD, **{**OFF, "flip_p": 1.0}, **NO_COLOUR)(patches)
    torch.testing.assert_close(flipped, patches.flip(-1), rtol=0, atol=1e-5)


def test_crops_zoom_each_patch_by_its_own_factor_within_the_scale_range() -> None:
    """On a ramp along the columns a crop-resize of width w gives a ramp of slope w
    (bilinear interpolation keeps linear functions), flipped: slope -w."""
    torch.manual_seed(0)
    ramp = torch.arange(8.0).expand(200, 1, 8, 8).contiguous()
    augment = PatchAugment(crop_scale=(0.25, 0.5), crop_ratio=(1.0, 1.0), flip_p=0.5)
    out = augment(ramp)
    slopes = out[:, 0, :, 1:] - out[:, 0, :, :-1]  # (200, 8, 7)
    slope = slopes[:, 0, 0]
    torch.testing.assert_close(slopes, slope.view(-1, 1, 1).expand_as(slopes), atol=1e-4, rtol=0)
    # square crops of area 0.25-0.5: side sqrt(area) in [0.5, 0.707] of the patch
    assert float(slope.abs().min()) >= 0.5 - 1e-4 and float(slope.abs().max()) <= 0.7072
    assert 0.3 < float((slope < 0).float().mean()) < 0.7  # about half flipped
    assert len(torch.unique(slope.abs().round(decimals=3))) > 100  # a factor per patch
    assert float(out.min()) >= 0 and float(out.max()) <= 7  # inside the patch


def test_grayscale_gives_the_luminance_of_the_pixel_values_in_every_channel() -> None:
    torch.manual_seed(0)
    patches = torch.randn(20, 3, 4, 4)
    out = PatchAugment(MEAN, STD, **OFF, drop_p=0.0, grayscale_p=1.0)(patches)
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    pixels = patches * std + mean
    luma = 0.299 * pixels[:, 0] + 0.587 * pixels[:, 1] + 0.114 * pixels[:, 2]
    torch.testing.assert_close(out * std + mean, luma.unsqueeze(1).expand(-1, 3, -1, -1))


def test_colour_drop_keeps_one_channel_per_patch_and_sets_the_others_to_the_mean() -> None:
    torch.manual_seed(0)
    patches = torch.randn(300, 3, 4, 4)
    out = PatchAugment(MEAN, STD, **OFF, drop_p=1.0, grayscale_p=0.0)(patches)
    kept = (out != 0).flatten(2).any(2)  # (300, 3)
    assert torch.equal(kept.sum(1), torch.ones(300, dtype=torch.long))
    channel = kept.float().argmax(1)
    torch.testing.assert_close(out[torch.arange(300), channel], patches[torch.arange(300), channel])
    # each channel kept for about a third of the patches: 300 draws, sd 0.027; 5 sigma
    share = torch.bincount(channel, minlength=3).float() / 300
    assert float((share - 1 / 3).abs().max()) < 5 * 0.027
    # with probability 0.5, about half the patches keep all three channels
    half = PatchAugment(MEAN, STD, **OFF, drop_p=0.5, grayscale_p=0.0)(patches)
    whole = float(((half != 0).flatten(2).any(2).sum(1) == 3).float().mean())
    assert whole == pytest.approx(0.5, abs=5 * 0.029)


def test_grey_patches_skip_colour_and_bad_input_is_named() -> None:
    torch.manual_seed(0)
    grey = torch.randn(10, 1, 4, 4)
    out = PatchAugment(0.5, 0.5, **OFF, drop_p=1.0, grayscale_p=1.0)(grey)
    torch.testing.assert_close(out, grey, rtol=0, atol=1e-5)
    with pytest.raises(DataError, match="unknown patch augmentation option 'blur'"):
        PatchAugment(blur=1.0)
    with pytest.raises(DataError, match="crop_scale must lie in"):
        PatchAugment(crop_scale=(0.0, 1.0))
    with pytest.raises(DataError, match="probabilities"):
        PatchAugment(drop_p=2.0)
    with pytest.raises(DataError, match=r"float patches \(N, 1 or 3, p, p\)"):
        PatchAugment()(torch.zeros(2, 2, 4, 4))
