"""Process-wide tuning that a command may apply before a long CPU benchmark.

Nothing in the library calls these: the ``infomax`` command line does, for
``infomax bench staircase``, and a script may. Both change the whole process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
import sys

__all__ = ["idle_cores", "keep_freed_memory"]

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, glibc's malloc.h
_allocator_tuned = False


def keep_freed_memory(mmap_threshold: int = 32 * 2**20, trim_threshold: int = 1024 * 2**20) -> bool:
    """Let glibc's malloc reuse freed blocks instead of handing them back to the OS.

    A staircase training step allocates and frees tens of megabytes of
    temporaries in blocks of 1-4 MiB (stacked activations and weight
    gradients). With glibc's defaults the freed top of the heap is trimmed and
    the next step page-faults it back in, thousands of minor faults per step.
    Raising the mmap and trim thresholds keeps those pages mapped.
    This is process-wide and not undone (the process keeps up to
    ``trim_threshold`` bytes of freed heap); elsewhere than Linux/glibc it does
    nothing.

    Args:
        mmap_threshold: blocks at least this large are mmapped (glibc caps it at 32 MiB).
        trim_threshold: freed heap kept before memory is returned to the OS, bytes.

    Returns:
        Whether the thresholds were set.
    """
    global _allocator_tuned
    if _allocator_tuned:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(
        mallopt(_M_TRIM_THRESHOLD, trim_threshold)
    )
    _allocator_tuned = ok
    return ok


def idle_cores(limit: int) -> int:
    """The cores the 1-minute load average leaves idle: at least 1, at most ``limit``.

    A CPU run with more threads than idle cores slows down when other
    processes keep the cores busy: OpenMP threads wait at every op for a
    descheduled peer. Where the load average or the CPU affinity cannot be
    read, ``limit``.

    Args:
        limit: the most threads to use (e.g. ``torch.get_num_threads()``).
    """
    try:
        cores = len(os.sched_getaffinity(0))
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return limit
    return max(1, min(limit, math.floor(cores - load + 0.5)))
