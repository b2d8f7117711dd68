"""A dependency-free progress bar for long loops, shown only on a terminal."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

__all__ = ["Progress"]


class Progress:
    """Progress of a loop of known length, redrawn on one line of ``stream``.

    Disabled (silent) unless ``enabled`` is true or, by default, ``stream`` is a
    terminal, so logs and pipes stay clean. Redraws at most ``fps`` times a second.

    Args:
        total: number of steps.
        desc: short label.
        enabled: force on/off; ``None`` means "only on a terminal".
        stream: where to draw (stderr by default).
        fps: maximum redraws per second.
        lines: for coarse loops (a benchmark's cells, minutes each): when the
            bar is off only because ``stream`` is not a terminal (a log file
            under nohup), write one plain line per update instead of nothing.

    Example:
        >>> with Progress(100, "train") as bar:
        ...     for step in range(100):
        ...         bar.update(loss=0.1)
    """

    def __init__(
        self,
        total: int,
        desc: str = "",
        enabled: bool | None = None,
        stream: TextIO | None = None,
        fps: float = 8.0,
        lines: bool = False,
    ) -> None:
        self.total = max(int(total), 1)
        self.desc = desc
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.line_mode = lines and enabled is None and not self.enabled
        self.count = 0
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._interval = 1.0 / fps
        self._postfix: dict[str, Any] = {}

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: int = 1, **postfix: Any) -> None:
        """Advance by ``n`` steps and set the values shown after the bar."""
        self.count += n
        if postfix:
            self._postfix = postfix
        if self.line_mode:
            elapsed = time.perf_counter() - self.start
            self.stream.write(
                f"{self.desc} {self.count}/{self.total} {elapsed:.0f}s {self._extras()}\n"
            )
            self.stream.flush()
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last_draw >= self._interval or self.count >= self.total:
            self._last_draw = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        frac = min(self.count / self.total, 1.0)
        elapsed = now - self.start
        rate = self.count / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.count) / rate if rate > 0 else 0.0
        width = 24
        filled = int(width * frac)
        extras = self._extras()
        line = (
            f"\r{self.desc} [{'#' * filled}{'.' * (width - filled)}] {self.count}/{self.total} "
            f"{rate:.0f}/s eta {eta:.0f}s {extras}"
        )
        self.stream.write(line[:160].ljust(80))
        self.stream.flush()

    def _extras(self) -> str:
        return " ".join(
            f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in self._postfix.items()
        )

    def close(self) -> None:
        """Finish the line (if anything was drawn)."""
        if self.enabled and self.count:
            self._draw(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()
