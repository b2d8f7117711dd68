"""Timings of the data path: first decode, cached load, loader and views.

Run as ``python -m infomax.data.bench --data PATH [--cache DIR] [--fresh]``; prints
one JSON object. ``--fresh`` decodes into a new temporary cache so the first
load is a real decode.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["main", "time_views"]


def _rate(step: Callable[[], object], images: int, seconds: float) -> float:
    step()  # warm-up
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        count += 1
    return images * count / (time.perf_counter() - start)


def time_views(
    images: Any,
    presets: Sequence[str] = ("none", "flip", "crop", "cutout", "simclr"),
    batch_size: int = 256,
    seconds: float = 3.0,
) -> dict[str, float]:
    """Images per second of :class:`Augment` for each preset on one batch (first ``batch_size``)."""
    import torch

    from infomax.data.augment import Augment

    batch = torch.from_numpy(np.array(images[:batch_size])).permute(0, 3, 1, 2).contiguous()
    out = {}
    for preset in presets:
        augment = Augment(preset, size=int(batch.shape[-1]))
        out[preset] = round(_rate(lambda a=augment: a(batch), len(batch), seconds), 1)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the timings as JSON."""
    parser = argparse.ArgumentParser(prog="python -m infomax.data.bench", description=__doc__)
    parser.add_argument("--data", required=True, help="folder, tar archive, cifar10, digits")
    parser.add_argument("--cache", default=None, help="cache folder (default: the usual one)")
    parser.add_argument("--fresh", action="store_true", help="decode into a new temporary cache")
    parser.add_argument("--workers", type=int, default=None, help="decoding processes")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the views")
    parser.add_argument("--seconds", type=float, default=3.0, help="time per view preset")
    args = parser.parse_args(argv)

    import torch

    from infomax.data.dataset import load_dataset

    torch.set_num_threads(args.threads)
    cache = tempfile.mkdtemp(prefix="infomax-bench-") if args.fresh else args.cache
    try:
        result: dict[str, Any] = {"data": args.data, "cpu_count": os.cpu_count()}
        for split in ("train", "test"):
            try:
                first = load_dataset(args.data, split, cache_dir=cache, workers=args.workers)
            except ValueError as exc:
                if split == "test":
                    break
                raise SystemExit(f"infomax.data.bench: error: {exc}") from None
            again = load_dataset(args.data, split, cache_dir=cache, workers=args.workers)
            result[split] = {
                "images": len(first),
                "shape": list(first.images.shape),
                "first_load_s": round(first.seconds, 2),
                "first_load_from_cache": first.from_cache,
                "cached_load_s": round(again.seconds, 2),
            }
        data = load_dataset(args.data, "train", cache_dir=cache)
        loader = data.loader(batch_size=256, dtype=torch.uint8)
        batches = itertools.chain.from_iterable(loader.epoch(e) for e in itertools.count())
        result["loader_images_per_s"] = round(
            _rate(lambda: next(batches), loader.batch_size, args.seconds), 1
        )
        result["views_images_per_s_batch_256"] = time_views(data.images, seconds=args.seconds)
        result["torch_threads"] = args.threads
        print(json.dumps(result, indent=1))
    finally:
        if args.fresh and cache is not None:
            shutil.rmtree(cache, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
