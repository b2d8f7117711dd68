"""The built-in ``digits`` data set: scikit-learn's 1,797 8x8 grey handwritten digits."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

__all__ = ["DIGITS_TEST_SIZE", "load_digits_arrays", "resize_images"]

#: Images in the fixed test split (20%); the other 1,437 are the training split.
DIGITS_TEST_SIZE = 360


def resize_images(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize uint8 (N, H, W, C) images to (N, size[0], size[1], C), bilinear (antialiased).

    Runs batch-wise in torch; returns uint8.
    """
    import torch
    import torch.nn.functional as F

    if tuple(images.shape[1:3]) == tuple(size):
        return images
    out = np.empty((len(images), *size, images.shape[-1]), dtype=np.uint8)
    for start in range(0, len(images), 2048):
        block = torch.from_numpy(np.ascontiguousarray(images[start : start + 2048]))
        block = block.permute(0, 3, 1, 2).float()
        block = F.interpolate(
            block, size=size, mode="bilinear", align_corners=False, antialias=True
        )
        block = block.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
        out[start : start + 2048] = block.numpy()
    return out


def _read_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 x 64 grey levels (0..16) and the targets.

    Reads the CSV that scikit-learn ships without importing scikit-learn
    (which takes seconds); falls back to ``sklearn.datasets.load_digits``.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            csv = Path(folder) / "datasets" / "data" / "digits.csv.gz"
            if csv.is_file():
                table = np.loadtxt(csv, delimiter=",", dtype=np.float64)
                if table.shape == (1797, 65):
                    return table[:, :64], table[:, 64].astype(np.int64)
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        from infomax.data.errors import DataError

        raise DataError(
            "the digits data set comes with scikit-learn: pip install scikit-learn"
        ) from None
    bunch = load_digits()
    return bunch.data, bunch.target


def load_digits_arrays(split: str = "train") -> tuple[np.ndarray, np.ndarray, list[str]]:
    """One split of scikit-learn's digits as uint8 images.

    The 0..16 grey levels are scaled to 0..255. The split is fixed: a seeded
    permutation puts 360 images in "test" and 1,437 in "train"; "all" keeps
    all 1,797 in their original order.

    Args:
        split: "train", "test" or "all".

    Returns:
        images: uint8 (N, 8, 8, 1).
        labels: int64 (N,), 0..9.
        classes: ["0", ..., "9"].
    """
    from infomax.data.errors import DataError

    if split not in ("train", "test", "all"):
        raise DataError(f"digits has splits 'train', 'test' and 'all', not {split!r}")
    levels, target = _read_digits()
    images = np.round(levels.reshape(-1, 8, 8) * (255.0 / 16.0)).astype(np.uint8)[..., None]
    labels = target.astype(np.int64)
    if split != "all":
        order = np.random.default_rng(0).permutation(len(images))
        chosen = order[:DIGITS_TEST_SIZE] if split == "test" else order[DIGITS_TEST_SIZE:]
        chosen = np.sort(chosen)
        images, labels = images[chosen], labels[chosen]
    return np.ascontiguousarray(images), labels, [str(d) for d in range(10)]
