"""Process-level numeric settings that long CPU runs need."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["flush_denormals"]


@contextmanager
def flush_denormals() -> Iterator[bool]:
    """Treat subnormal floats as zero on the CPU while the block runs.

    Sharp critics (conditional InfoNCE at 20-30 nats, log ratios near 10 nats)
    push ``exp`` and softmax outputs, and their gradients, below float32's
    smallest normal value (about 1e-38). x86 cores handle such subnormal
    numbers in microcode, far slower than normal ones, so a training run
    slows down as its critic sharpens. Setting values below 1e-38 to zero
    changes no estimate at the precision that matters (nats to three
    decimals).

    Yields:
        Whether the CPU supports it (x86 with SSE3); where it does not, the
        block runs unchanged.

    The setting is per thread and process-wide in effect; on exit it is
    switched off again (PyTorch's default), since PyTorch offers no way to read
    the previous state.
    """
    supported = torch.set_flush_denormal(True)
    try:
        yield supported
    finally:
        if supported:
            torch.set_flush_denormal(False)
