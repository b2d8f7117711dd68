"""What the training loop calls around its steps.

Signals, logging, the checkpoint cadence, metric windows, RNG states and the
agreement of every process on when to stop.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from infomax.distributed import World

__all__ = [
    "CheckpointCadence",
    "MetricsLogger",
    "Signals",
    "Window",
    "agree",
    "gather_rng_states",
    "rank_seed",
    "rng_state",
    "set_rng_state",
]


class Signals:
    """Turns SIGINT/SIGTERM into a flag the loop checks after each step."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: object) -> None:
        self.received = signum

    @contextmanager
    def installed(self) -> Iterator[Signals]:
        """Catch the signals inside the block (only in the main thread, where Python allows it)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        try:
            yield self
        finally:
            for sig, handler in self._previous.items():
                signal.signal(sig, handler)


class MetricsLogger:
    """``metrics.jsonl`` plus TensorBoard when the ``tensorboard`` package is installed.

    On resume, lines logged after the checkpoint's step are dropped: the
    resumed run logs those steps again.
    """

    def __init__(self, run_dir: Path, resume_step: int) -> None:
        self.path = run_dir / "metrics.jsonl"
        if self.path.exists():
            kept = [
                line
                for line in self.path.read_text().splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= resume_step
            ]
            self.path.write_text("".join(line + "\n" for line in kept))
        self.handle = self.path.open("a")
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer: Any = SummaryWriter(
                str(run_dir / "tensorboard"), purge_step=resume_step + 1
            )
        except ImportError:
            self.writer = None

    def log(self, step: int, values: dict[str, float]) -> None:
        """One JSON line ``{"step": step, **values}`` (and TensorBoard scalars)."""
        self.handle.write(json.dumps({"step": step, **values}) + "\n")
        self.handle.flush()
        if self.writer is not None:
            for key, value in values.items():
                if isinstance(value, int | float) and key not in ("epoch",):
                    self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        """Close the file and the TensorBoard writer."""
        self.handle.close()
        if self.writer is not None:
            self.writer.close()


class CheckpointCadence:
    """When the next checkpoint is due, bounded in time and in the share of time spent writing.

    A checkpoint is due ``minutes`` of wall-clock time after the previous one
    was written, or later when writing takes long: the gap is at least
    ``50 x`` the last write's duration, so checkpoints cost at most about 2% of
    the run however large they are. The loop also writes one at the end and on
    a signal, whatever the cadence says.

    Args:
        minutes: the gap between checkpoints in wall-clock minutes.
        clock: seconds from an arbitrary origin (for tests).
    """

    #: A gap is at least this many times the time the last checkpoint took to write.
    WRITE_RATIO = 50.0

    def __init__(self, minutes: float, clock: Any = time.monotonic) -> None:
        self.gap = float(minutes) * 60.0
        self.clock = clock
        self.next_due = clock() + self.gap

    def due(self) -> bool:
        """Whether the next checkpoint is due now."""
        return self.clock() >= self.next_due

    def written(self, seconds: float) -> None:
        """Record that a checkpoint was written in ``seconds``; schedule the next."""
        self.next_due = self.clock() + max(self.gap, self.WRITE_RATIO * seconds)


class Window:
    """Running sums of one logging window: step time, view time, images, metrics."""

    def __init__(self) -> None:
        self.steps = 0
        self.images = 0
        self.step_seconds = 0.0
        self.view_seconds = 0.0
        self.sums: dict[str, float] = {}

    def add(self, step_seconds: float, view_seconds: float, images: int) -> None:
        """Count one step's time, its view-making time and its images."""
        self.step_seconds += step_seconds
        self.view_seconds += view_seconds
        self.images += images

    def accumulate(self, values: dict[str, Any]) -> None:
        """Add one step's metrics."""
        self.steps += 1
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + float(value)

    def rate(self) -> float:
        """Images per second of step time."""
        return self.images / self.step_seconds if self.step_seconds > 0 else 0.0

    def view_share(self) -> float:
        """The share of step time spent making views."""
        return self.view_seconds / self.step_seconds if self.step_seconds > 0 else 0.0

    def flush(self, epoch: int, seconds: float) -> dict[str, float]:
        """The window's mean metrics with epoch, seconds and rates; then start a new window."""
        values = {key: total / max(self.steps, 1) for key, total in self.sums.items()}
        values.update(
            epoch=epoch,
            seconds=round(seconds, 3),
            images_per_second=self.rate(),
            view_share=self.view_share(),
        )
        self.__init__()  # type: ignore[misc]
        return values


def rng_state() -> dict[str, Any]:
    """This process's torch (and CUDA) RNG state."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore a state from :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def rank_seed(seed: int, step: int, rank: int) -> int:
    """A seed for process ``rank``'s view stream (from the run's seed and the step)."""
    return int(np.random.default_rng([seed, step, rank, 0x1AF0]).integers(2**62))


def gather_rng_states(world: World) -> list[dict[str, Any]]:
    """Every process's RNG state, in rank order (on every process)."""
    state = rng_state()
    if world.world_size == 1:
        return [state]
    states: list[Any] = [None] * world.world_size
    torch.distributed.all_gather_object(states, state)
    return states


def agree(world: World, *flags: bool) -> tuple[bool, ...]:
    """Each flag true if it is true on any process."""
    if world.world_size == 1:
        return flags
    values = torch.tensor([float(f) for f in flags])
    torch.distributed.all_reduce(values, op=torch.distributed.ReduceOp.MAX)
    return tuple(bool(v) for v in values.tolist())
