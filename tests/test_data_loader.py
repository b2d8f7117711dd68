"""BatchLoader: coverage, shuffling by (seed, epoch), resuming mid-epoch, ranks, conversion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from infomax.data import BatchLoader, DataError


def labelled_images(n: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Image i is filled with i; its label is i % 3 (so batches can be checked)."""
    images = np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None], (n, 4, 5, 3))
    return np.ascontiguousarray(images), np.arange(n) % 3


def ids(images: torch.Tensor) -> list[int]:
    """The image ids in a batch (uint8 values, or floats scaled back from [0, 1])."""
    scale = 255.0 if images.is_floating_point() else 1.0
    return (images[:, 0, 0, 0].double() * scale).round().long().tolist()


def test_an_epoch_covers_every_image_once_with_aligned_labels() -> None:
    images, labels = labelled_images(10)
    loader = BatchLoader(images, labels, batch_size=4, drop_last=False, dtype=torch.uint8)
    batches = list(loader)
    assert [len(b.images) for b in batches] == [4, 4, 2] and len(loader) == 3
    seen = [i for b in batches for i in ids(b.images)]
    assert sorted(seen) == list(range(10))
    for b in batches:
        assert b.images.shape[1:] == (3, 4, 5) and b.images.dtype == torch.uint8
        assert b.labels.dtype == torch.int64
        assert b.labels.tolist() == [i % 3 for i in ids(b.images)]


def test_float_batches_are_scaled_to_unit_range() -> None:
    images, labels = labelled_images(6)
    batch = next(iter(BatchLoader(images * 40, labels, batch_size=6, shuffle=False)))
    assert batch.images.dtype == torch.float32
    expected = torch.from_numpy(images * 40).permute(0, 3, 1, 2).float() / 255
    torch.testing.assert_close(batch.images, expected, rtol=0, atol=0)


def test_drop_last_and_no_labels() -> None:
    images, _ = labelled_images(10)
    loader = BatchLoader(images, batch_size=4)
    assert len(loader) == 2
    assert all(b.labels.tolist() == [-1] * 4 for b in loader)


def test_order_depends_on_seed_and_epoch_only() -> None:
    images, labels = labelled_images(50)
    one = BatchLoader(images, labels, batch_size=10, seed=7)
    two = BatchLoader(images, labels, batch_size=10, seed=7)
    epoch0 = [ids(b.images) for b in one]
    epoch1 = [ids(b.images) for b in one]
    assert [ids(b.images) for b in two.epoch(0)] == epoch0
    assert [ids(b.images) for b in two.epoch(1)] == epoch1
    assert epoch0 != epoch1
    assert [ids(b.images) for b in BatchLoader(images, labels, 10, seed=8).epoch(0)] != epoch0
    assert [ids(b.images) for b in two.epoch(1, start=3)] == epoch1[3:]
    order = np.random.default_rng([7, 0]).permutation(50)
    assert np.array_equal(one.indices(0), order)
    assert epoch0 == [order[i : i + 10].tolist() for i in range(0, 50, 10)]  # batch order kept


def test_ranks_get_disjoint_equal_shares() -> None:
    images, labels = labelled_images(11)
    shares = [
        sorted(
            i
            for b in BatchLoader(images, labels, 5, rank=r, world_size=2).epoch(4)
            for i in ids(b.images)
        )
        for r in range(2)
    ]
    assert len(shares[0]) == len(shares[1]) == 5
    assert not set(shares[0]) & set(shares[1])


def test_loader_errors() -> None:
    images, labels = labelled_images(10)
    with pytest.raises(
        DataError, match=r"^images must be uint8 \(N, H, W, C\), got float32 \(10, 4, 5, 3\)$"
    ):
        BatchLoader(images.astype(np.float32), labels)
    with pytest.raises(DataError, match=r"^labels must have shape \(10,\), got \(9,\)$"):
        BatchLoader(images, labels[:9])
    with pytest.raises(DataError, match="^batch_size 16 is larger than the 10 images each process"):
        BatchLoader(images, labels, batch_size=16)
    with pytest.raises(DataError, match="^rank must be in 0..1, got 2$"):
        BatchLoader(images, labels, batch_size=2, rank=2, world_size=2)
    with pytest.raises(
        DataError, match="^dtype must be torch.uint8 or a float type, got torch.int64$"
    ):
        BatchLoader(images, labels, batch_size=2, dtype=torch.int64)
