"""The progress bar: silent in logs unless asked for plain lines, drawn on a terminal."""

from __future__ import annotations

import io

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
