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
    package: str, exports: dict[str, tuple[str, ...]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """The ``__getattr__``, ``__dir__`` and ``__all__`` of a package whose names load lazily.

    Args:
        package: the package's ``__name__``.
        exports: each module -> the public names it defines.

    Returns:
        ``(__getattr__, __dir__, __all__)``, to assign at the package's top level.
    """
    home = {name: module for module, names in exports.items() for name in names}

    def attribute(name: str) -> Any:
        if name in home:
            return getattr(importlib.import_module(home[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def names() -> list[str]:
        return sorted([*vars(sys.modules[package]), *home])

    return attribute, names, sorted(home)
