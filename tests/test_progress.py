"""The progress bar: silent in logs unless asked for plain lines, drawn on a terminal."""

from __future__ import annotations

import io

import pytest

from infomax.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_silent_off_a_terminal_by_default() -> None:
    stream = io.StringIO()
    with Progress(3, "demi", stream=stream) as bar:
        for _ in range(3):
            bar.update(value=1.5)
    assert stream.getvalue() == ""


def test_line_mode_writes_one_line_per_update_into_a_log() -> None:
    stream = io.StringIO()
    with Progress(2, "demi", stream=stream, lines=True) as bar:
        bar.update(mi=20.0, est="is")
        bar.update(mi=30.0, est="bo")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("demi 1/2 ") and "mi=20.000 est=is" in lines[0]
    assert lines[1].startswith("demi 2/2 ")


def test_explicit_off_beats_line_mode_and_a_terminal_gets_the_bar() -> None:
    quiet = io.StringIO()
    with Progress(2, "demi", enabled=False, stream=quiet, lines=True) as bar:
        bar.update()
    assert quiet.getvalue() == ""
    terminal = _Terminal()
    with Progress(2, "demi", stream=terminal, lines=True) as bar:
        bar.update()
        bar.update()
    drawn = terminal.getvalue()
    assert "\r" in drawn and "2/2" in drawn and drawn.endswith("\n")


def test_line_mode_with_an_interval_writes_periodic_lines_and_a_last_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = iter([0.0, 10.0, 20.0, 31.0, 40.0, 62.0, 70.0, 75.0])
    monkeypatch.setattr("infomax.progress.time.perf_counter", lambda: next(clock))
    stream = io.StringIO()
    with Progress(100, "train", stream=stream, lines=True, every=30) as bar:
        for _ in range(6):  # at 10, 20, 31, 40, 62, 70 s
            bar.update(loss=0.5)
    lines = stream.getvalue().splitlines()
    # A line at 31 s and 62 s (30 s apart at least), and one on closing (75 s) for step 6.
    assert lines == [
        "train 3/100 31s loss=0.500",
        "train 5/100 62s loss=0.500",
        "train 6/100 75s loss=0.500",
    ]
