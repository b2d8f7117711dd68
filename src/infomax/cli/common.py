"""Pieces every ``infomax`` command shares: the parser class, error lines, option parsers.

Nothing here imports torch: building the parser must stay fast (``infomax --help``).
"""

from __future__ import annotations

import argparse
import inspect
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infomax.validation import InputError

__all__ = [
    "EXIT_USAGE",
    "Command",
    "KeepLinesFormatter",
    "LazyHelp",
    "Parser",
    "UsageError",
    "add_commands",
    "add_flags",
    "add_keyword_options",
    "fraction",
    "key_values",
    "name_list",
    "number_list",
    "options",
    "out_dir",
    "plus_minus",
    "positive_float",
    "positive_int",
    "print_error",
    "print_warning",
    "torch_threads",
]

#: Exit status for bad input and usage errors (as argparse uses).
EXIT_USAGE = 2


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, one-line help, argument builder and runner.

    Attributes:
        name: what the user types (``estimate``).
        help: one line for ``infomax --help``.
        add_arguments: adds the command's arguments to its parser.
        run: carries out the command on the parsed arguments; returns the
            exit status.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


class UsageError(Exception):
    """A usage error of ``parser`` (raised by :class:`Parser` instead of exiting)."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser
        self.message = message


class Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises on usage errors, adds its arguments late, and routes.

    - Usage errors raise :class:`UsageError`, so :func:`infomax.cli.main` returns a status.
    - :meth:`defer` queues an argument builder that runs only when this parser parses or
      prints help: building the whole command tree imports nothing heavy (torch).
    - :attr:`routes` maps a first argument (``pair`` in ``infomax train pair ...``) to
      another parser that parses everything after it, for commands whose variants need
      options of their own.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: list[Callable[[argparse.ArgumentParser], None]] = []
        self.routes: dict[str, Parser] = {}

    def defer(self, add_arguments: Callable[[argparse.ArgumentParser], None]) -> None:
        """Run ``add_arguments(self)`` before this parser is first used."""
        self._pending.append(add_arguments)

    def _populate(self) -> None:
        while self._pending:
            self._pending.pop(0)(self)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self._populate()
        args = list(sys.argv[1:] if args is None else args)
        if args and args[0] in self.routes:
            return self.routes[args[0]].parse_known_args(args[1:], namespace)
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        self._populate()
        return super().format_usage()

    def format_help(self) -> str:
        self._populate()
        return super().format_help()

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(self, message)


def add_commands(
    parser: argparse.ArgumentParser, commands: dict[str, Command], *, dest: str, metavar: str
) -> None:
    """One subparser per command; each adds its arguments only when it is used."""
    subparsers = parser.add_subparsers(
        dest=dest, metavar=metavar, required=True, parser_class=Parser
    )
    for command in commands.values():
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        sub.set_defaults(run=command.run)
        sub.defer(command.add_arguments)


class KeepLinesFormatter(argparse.HelpFormatter):
    """Fills descriptions and epilogs as usual, but keeps one with line breaks (a table) as is."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class LazyHelp:
    """A help text computed only when help is printed (it may need torch-heavy modules).

    Args:
        text: returns the help text.
    """

    def __init__(self, text: Callable[[], str]) -> None:
        self._text = text

    def __str__(self) -> str:
        return self._text()

    def strip(self) -> str:
        return str(self).strip()

    def __mod__(self, params: dict[str, Any]) -> str:
        return str(self) % params


def add_flags(parser: argparse.ArgumentParser | Any, flags: dict[str, str]) -> None:
    """On/off switches (``store_true``): option -> help."""
    for flag, text in flags.items():
        parser.add_argument(flag, action="store_true", help=text)


# --------------------------------------------------------------------------- printing


def _one_line(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return " ".join(lines)


def print_error(message: str) -> None:
    """``infomax: error: <message on one line>`` on stderr."""
    print(f"infomax: error: {_one_line(message)}", file=sys.stderr)


def print_warning(message: str) -> None:
    """``infomax: warning: <message on one line>`` on stderr."""
    print(f"infomax: warning: {_one_line(message)}", file=sys.stderr)


def plus_minus(stderr: float) -> str:
    """`` ± 0.0123``, or `` ± n/a`` where there is no standard error (one held-out batch)."""
    return f" ± {stderr:.4f}" if math.isfinite(stderr) else " ± n/a"


# --------------------------------------------------------------------------- option values


def _parsed(text: str, kind: type, what: str) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def _checked(value: Any, ok: bool, message: str) -> Any:
    if not ok:
        raise argparse.ArgumentTypeError(message)
    return value


def positive_int(text: str) -> int:
    """argparse type: a whole number above 0."""
    value = _parsed(text, int, "a whole number")
    return _checked(value, value > 0, f"must be positive, got {value}")


def positive_float(text: str) -> float:
    """argparse type: a finite number above 0."""
    value = _parsed(text, float, "a number")
    return _checked(
        value, value > 0 and math.isfinite(value), f"must be a positive number, got {text}"
    )


def fraction(text: str) -> float:
    """argparse type: a number strictly between 0 and 1."""
    value = _parsed(text, float, "a number")
    message = f"must be a fraction strictly between 0 and 1, got {text}"
    return _checked(value, 0.0 < value < 1.0, message)


def name_list(text: str, what: str) -> list[str]:
    """``a,b`` -> ["a", "b"]; an empty name is an :class:`InputError` naming ``what``."""
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise InputError(f"{what}: empty name in {text!r}; separate names with single commas")
    return names


def number_list(text: str, what: str, kind: type) -> list[Any]:
    """``1,2`` -> [kind("1"), kind("2")]; anything else is an :class:`InputError`."""
    try:
        return [kind(v) for v in name_list(text, what)]
    except ValueError:
        raise InputError(f"{what}: expected comma-separated numbers, got {text!r}") from None


def key_values(text: str, flag: str = "--option") -> dict[str, Any]:
    """``a=1,b=jsd`` -> {"a": 1, "b": "jsd"} (numbers and booleans parsed; ``a=1/2`` a list)."""
    values: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"{flag}: expected NAME=VALUE in {text!r}, got {item!r}")
        value: Any = raw.strip()
        if "/" in value:
            values[key.strip().replace("-", "_")] = [_scalar(part) for part in value.split("/")]
            continue
        values[key.strip().replace("-", "_")] = _scalar(value)
    return values


def _scalar(value: str) -> Any:
    """ "3" -> 3, "0.5" -> 0.5, "true" -> True, anything else stays a string."""
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value


def add_keyword_options(
    parser: argparse.ArgumentParser | Any,
    function: Callable[[], Callable[..., Any]],
    table: dict[str, tuple[str, dict[str, Any]]],
) -> None:
    """Options that pass straight to keyword arguments of a library function.

    Each option parses as ``None`` when it is not given, so :func:`options` leaves it out and
    the function's own default applies; its help ends in that default, read from the
    function's signature only when help is printed (``function`` returns the function, and
    may import torch).

    Args:
        parser: the command's parser (or an argument group).
        function: returns the library function the options are passed to.
        table: keyword -> (flag, argparse keywords, ``help`` among them); the keyword is
            the option's ``dest``.
    """

    def help_text(name: str, text: str) -> LazyHelp:
        def text_with_default() -> str:
            default = inspect.signature(function()).parameters[name].default
            return f"{text} (default: {default})"

        return LazyHelp(text_with_default)

    for name, (flag, keywords) in table.items():
        keywords = dict(keywords)
        text = help_text(name, keywords.pop("help"))
        parser.add_argument(flag, dest=name, default=None, help=text, **keywords)


def options(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    """The options among ``names`` the user set (argparse default ``None`` means unset)."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def out_dir(text: str | None, create: bool = False) -> Path | None:
    """``--out DIR`` as a path (None: not given); an existing non-folder is an InputError.

    With ``create``, the folder (and its parents) is made at once, before any work starts.
    """
    if text is None:
        return None
    if Path(text).exists() and not Path(text).is_dir():
        raise InputError(f"--out {text} exists and is not a directory")
    if create:
        Path(text).mkdir(parents=True, exist_ok=True)
    return Path(text)


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run the block with ``count`` torch CPU threads (None: as they are), then restore them."""
    import torch

    previous = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
