"""FastColorJitter: each adjustment against its definition."""

from __future__ import annotations

import pytest
import torch

from infomax.data.augment import Augment
from infomax.data.jitter import FastColorJitter

LUMA = torch.tensor([0.299, 0.587, 0.114])


def mid_images(n: int = 16) -> torch.Tensor:
    torch.manual_seed(0)
    return 0.35 + 0.3 * torch.rand(n, 3, 8, 8)  # away from 0 and 1: no clamping


def luma(x: torch.Tensor) -> torch.Tensor:
    return torch.einsum("bchw,c->bhw", x, LUMA)


def test_probability_zero_is_the_identity() -> None:
    x = mid_images()
    torch.testing.assert_close(FastColorJitter(0.4, 0.4, 0.4, 0.1, p=0.0)(x), x)


def test_brightness_scales_each_image_by_one_factor_in_range() -> None:
    x = mid_images()
    y = FastColorJitter(brightness=0.2)(x)
    ratio = y / x
    per_image = ratio.flatten(1)
    assert torch.allclose(per_image, per_image[:, :1], atol=1e-5)
    assert float(per_image.min()) >= 0.8 - 1e-6 and float(per_image.max()) <= 1.2 + 1e-6
    assert float(per_image[:, 0].std()) > 0.01  # factors differ between images


def test_contrast_keeps_the_mean_luma() -> None:
    x = mid_images()
    y = FastColorJitter(contrast=0.3)(x)
    torch.testing.assert_close(luma(y).mean((1, 2)), luma(x).mean((1, 2)), atol=1e-5, rtol=0)


def test_saturation_and_hue_keep_luma_and_leave_grey_alone() -> None:
    x = mid_images()
    for jitter in (FastColorJitter(saturation=0.5), FastColorJitter(hue=0.05)):
        torch.testing.assert_close(luma(jitter(x)), luma(x), atol=1e-5, rtol=0)
    grey = x.mean(1, keepdim=True).expand(-1, 3, -1, -1)
    torch.testing.assert_close(
        FastColorJitter(saturation=0.5, hue=0.5)(grey), grey, atol=1e-5, rtol=0
    )


def test_hue_changes_colour_but_not_brightness() -> None:
    x = mid_images(4)
    y = FastColorJitter(hue=0.05)(x)
    assert float((y - x).abs().max()) > 0.01


def test_augment_uses_it_and_output_stays_in_range() -> None:
    augment = Augment("simclr", size=8, mean=0.0, std=1.0, jitter_impl="fast")
    out = augment(torch.randint(0, 256, (32, 3, 8, 8), dtype=torch.uint8))
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    with pytest.raises(ValueError, match="jitter strengths"):
        FastColorJitter(hue=0.7)
