"""A dependency-free progress bar for long loops: a bar on a terminal, plain lines in a log."""

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
        lines: when the bar is off only because ``stream`` is not a terminal
            (a log file under nohup, CI, a notebook), write plain lines
            instead of nothing: one per update, or at most one per ``every``
            seconds (and a last one on closing).
        every: seconds between plain lines in line mode (0: one per update,
            for coarse loops such as a benchmark's cells).

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
        every: float = 0.0,
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
        self._every = float(every)
        self._last_line = self.start
        self._lined = 0  # the count at the last plain line

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
            now = time.perf_counter()
            if now - self._last_line >= self._every:
                self._line(now)
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last_draw >= self._interval or self.count >= self.total:
            self._last_draw = now
            self._draw(now)

    def set_count(self, count: int) -> None:
        """Restart the count at ``count`` (a resumed run, a new epoch) without drawing."""
        self.count = self._lined = int(count)

    def _line(self, now: float) -> None:
        self._last_line = now
        self._lined = self.count
        self.stream.write(
            f"{self.desc} {self.count}/{self.total} {now - self.start:.0f}s {self._extras()}\n"
        )
        self.stream.flush()

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
        """Finish the line (if anything was drawn); in line mode, a last line for unseen steps."""
        if self.line_mode and self.count != self._lined:
            self._line(time.perf_counter())
        if self.enabled and self.count:
            self._draw(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()
