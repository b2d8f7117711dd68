"""Encoders: output shapes, parameter counts, errors, and digits -> loader -> encoder end to end."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from infomax.data import Augment, load_dataset
from infomax.nets import (
    DIMConvEncoder,
    EncoderOutput,
    MLPEncoder,
    ResNet18,
    count_parameters,
    make_encoder,
)
from infomax.validation import InputError


def shapes(out: EncoderOutput) -> dict[str, tuple[int, ...]]:
    return {k: tuple(getattr(out, k).shape) for k in ("local", "conv", "fc", "y")}


def test_dim_conv_shapes_for_32x32() -> None:
    # Kernel 4, stride 2, padding 1 halves the size: 32 -> 16 -> 8 -> 4.
    encoder = make_encoder("dim-conv", in_channels=3, image_size=32)
    out = encoder(torch.randn(2, 3, 32, 32))
    assert shapes(out) == {
        "local": (2, 128, 8, 8),
        "conv": (2, 256, 4, 4),
        "fc": (2, 1024),
        "y": (2, 64),
    }
    assert encoder.local_shape == (128, 8, 8) and encoder.conv_shape == (256, 4, 4)
    assert (encoder.fc_dim, encoder.out_dim) == (1024, 64)
    assert out.layer("conv").shape == (2, 4096) and out.layer("local").shape == (2, 8192)
    assert out.layer("fc").shape == (2, 1024) and out.layer("y").shape == (2, 64)


def test_dim_conv_parameter_count() -> None:
    encoder = DIMConvEncoder()
    assert count_parameters(encoder) == 4_922_304
    convs = sum(count_parameters(c) for c in encoder.convs)
    assert (convs, count_parameters(encoder.fc), count_parameters(encoder.out)) == (
        659_328,
        4_197_376,
        65_600,
    )
    assert all(c[0].bias is None for c in encoder.convs)  # BatchNorm follows: no conv bias


def test_dim_conv_for_64x64_with_a_fourth_convolution() -> None:
    encoder = DIMConvEncoder(image_size=64, widths=(64, 128, 256, 512))
    out = encoder(torch.randn(2, 3, 64, 64))
    assert shapes(out)["local"] == (2, 256, 8, 8) and shapes(out)["conv"] == (2, 512, 4, 4)
    assert DIMConvEncoder(local_index=2).local_shape == (256, 4, 4)


def test_resnet18_shapes_and_parameter_count() -> None:
    encoder = make_encoder("resnet18", in_channels=3, image_size=32)
    assert count_parameters(encoder) == 11_201_664
    assert count_parameters(encoder.out) == 32_832
    out = encoder(torch.randn(2, 3, 32, 32))
    assert shapes(out) == {
        "local": (2, 256, 8, 8),
        "conv": (2, 512, 4, 4),
        "fc": (2, 512),
        "y": (2, 64),
    }
    assert encoder.local_shape == (256, 8, 8) and encoder.conv_shape == (512, 4, 4)
    assert ResNet18(local_layer="layer4").local_shape == (512, 4, 4)
    assert isinstance(encoder.stem[0], torch.nn.Conv2d) and encoder.stem[0].kernel_size == (3, 3)
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in encoder.modules())


def test_mlp_shapes_and_parameter_count() -> None:
    encoder = make_encoder("mlp", in_channels=1, image_size=8)
    assert count_parameters(encoder) == 330_816
    out = encoder(torch.randn(3, 1, 8, 8))
    assert shapes(out) == {
        "local": (3, 512, 1, 1),
        "conv": (3, 512, 1, 1),
        "fc": (3, 512),
        "y": (3, 64),
    }
    assert MLPEncoder(hidden=32, out_dim=5).out.out_features == 5


def test_make_encoder_aliases_and_options() -> None:
    assert isinstance(make_encoder("dim", 1, 16, out_dim=8, fc_dim=32), DIMConvEncoder)
    encoder = make_encoder("DIM-Conv", in_channels=1, image_size=16, fc_dim=32)
    assert encoder(torch.randn(2, 1, 16, 16)).fc.shape == (2, 32)


def test_encoder_errors_name_the_problem() -> None:
    with pytest.raises(
        InputError, match="^unknown encoder 'vgg'; use one of dim-conv, resnet18, mlp, patch-dim$"
    ):
        make_encoder("vgg")
    with pytest.raises(
        InputError, match="^encoder 'mlp' has no option 'widths'; its options are hidden$"
    ):
        make_encoder("mlp", widths=(1,))
    with pytest.raises(InputError, match="^in_channels must be a positive int, got 0$"):
        make_encoder("mlp", in_channels=0)
    with pytest.raises(
        InputError,
        match="^DIMConvEncoder with 3 stride-2 convolutions needs an image size that is a "
        "multiple of 8, got 30x30$",
    ):
        make_encoder("dim-conv", image_size=30, resize=False)
    with pytest.raises(InputError, match="^ResNet18 needs images of at least 8x8, got 4x4$"):
        make_encoder("resnet18", image_size=4, resize=False)
    encoder = make_encoder("dim-conv")
    with pytest.raises(
        InputError, match=r"^DIMConvEncoder expects images \(B, 3, 32, 32\), got \(2, 1, 28, 28\)$"
    ):
        encoder(torch.randn(2, 1, 28, 28))
    with pytest.raises(InputError, match="^DIMConvEncoder expects float images, got torch.uint8"):
        encoder(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(InputError, match="^unknown layer 'pool'; use one of conv, local, fc, y$"):
        encoder.eval()(torch.randn(1, 3, 32, 32)).layer("pool")


def test_digits_end_to_end_supervised_sanity() -> None:
    """Data -> loader -> views -> encoder trains: labels and images line up."""
    torch.manual_seed(0)
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    augment = Augment("none", size=8, mean=train.mean, std=train.std)
    encoder = make_encoder("mlp", in_channels=1, image_size=8, hidden=128)
    head = torch.nn.Linear(encoder.fc_dim, 10)
    optimizer = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=3e-3)
    for _ in range(4):
        for images, labels in train.loader(batch_size=128, dtype=torch.uint8):
            loss = F.cross_entropy(head(encoder(augment(images)).fc), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    encoder.eval()
    with torch.no_grad():
        images = torch.from_numpy(test.images).permute(0, 3, 1, 2)
        predictions = head(encoder(augment(images)).fc).argmax(1)
    accuracy = (predictions == torch.from_numpy(test.labels)).float().mean().item()
    assert accuracy > 0.9


def test_digits_upsampled_through_the_dim_conv_encoder() -> None:
    torch.manual_seed(0)
    data = load_dataset("digits", size=32)
    encoder = make_encoder("dim-conv", in_channels=1, image_size=32)
    augment = Augment("crop", size=32, mean=data.mean, std=data.std)
    images, _ = next(iter(data.loader(batch_size=16, dtype=torch.uint8)))
    out = encoder(augment(images))
    assert shapes(out)["local"] == (16, 128, 8, 8) and shapes(out)["y"] == (16, 64)
    out.y.pow(2).mean().backward()
    grads = [p.grad for p in encoder.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


# --- image sizes the layers cannot take -----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "side", "net", "local", "conv"),
    [
        ("dim-conv", 28, 32, (128, 8, 8), (256, 4, 4)),  # MNIST: up to the next multiple of 8
        ("dim-conv", 96, 96, (128, 24, 24), (256, 12, 12)),  # STL: taken as it is
        ("dim-conv", 30, 32, (128, 8, 8), (256, 4, 4)),
        ("resnet18", 28, 28, (256, 7, 7), (512, 4, 4)),  # any side >= 8 as it is
        ("resnet18", 96, 96, (256, 24, 24), (512, 12, 12)),
        ("resnet18", 5, 8, (256, 2, 2), (512, 1, 1)),
        ("patch-dim", 30, 32, (64, 7, 7), (256, 4, 4)),  # (30 - 8) % 4 != 0: up to 32
        ("patch-dim", 28, 28, (64, 6, 6), (256, 4, 4)),
    ],
)
def test_encoders_take_any_image_size(
    name: str,
    side: int,
    net: int,
    local: tuple[int, ...],
    conv: tuple[int, ...],
    caplog: pytest.LogCaptureFixture,
) -> None:
    torch.manual_seed(0)
    with caplog.at_level("WARNING", logger="infomax"):
        encoder = make_encoder(name, in_channels=1, image_size=side).eval()
    assert encoder.image_size == (side, side) and encoder.net_size == (net, net)
    assert (encoder.local_shape, encoder.conv_shape) == (local, conv)
    messages = [r.getMessage() for r in caplog.records]
    if net == side:
        assert messages == []
    else:
        assert len(messages) == 1
        assert (
            messages[0].startswith(f"images are {side}x{side}; {name} needs sides ")
            and f"so it resizes them to {net}x{net} (bilinear" in messages[0]
        )
    x = torch.rand(2, 1, side, side)
    with torch.no_grad():
        out = encoder(x)
        assert tuple(out.local.shape[1:]) == local and tuple(out.conv.shape[1:]) == conv
        # The resize is the bilinear one, applied inside: same features as feeding it resized.
        if net != side:
            resized = F.interpolate(x, size=(net, net), mode="bilinear", align_corners=False)
            encoder.image_size = (net, net)
            again = encoder(resized)
            torch.testing.assert_close(again.y, out.y)


def test_a_non_square_resize_names_height_and_width(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="infomax"):
        encoder = make_encoder("dim-conv", in_channels=3, image_size=(28, 41))
    assert encoder.net_size == (32, 48)
    assert (
        caplog.records[0]
        .getMessage()
        .startswith(
            "images are 28x41 (height x width); dim-conv needs sides that are multiples of 8, "
            "so it resizes them to 32x48 (bilinear, inside the encoder: the same at training and "
            "evaluation; pass --image-size to resize once when decoding instead)"
        )
    )
