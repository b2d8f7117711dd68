"""Lazy package attributes (PEP 562): a package's public names, imported on first use.

``infomax`` and ``infomax.data`` list their names with the module each lives in, so
importing the package (and the ``infomax`` command's ``--help``) pays for neither
torch nor kornia until a name is used.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package whose ``exports`` load lazily.

    Args:
        package: the package's ``__name__``.
        exports: public name -> the module that defines it.

    Returns:
        ``(__getattr__, __dir__)``, to assign at the package's top level.
    """

    def attribute(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def names() -> list[str]:
        return sorted([*vars(sys.modules[package]), *exports])

    return attribute, names
