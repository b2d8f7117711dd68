"""Lazy package attributes: ``infomax`` and ``infomax.data`` import a name's module on first use."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_importing_the_packages_imports_no_torch_until_a_name_is_used() -> None:
    code = (
        "import sys, infomax, infomax.data; before = 'torch' in sys.modules; "
        "infomax.get_task; print(before, 'torch' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split() == ["False", "True"]


def test_lazy_names_resolve_list_and_refuse_unknowns() -> None:
    import infomax
    import infomax.data
    from infomax.data.errors import DataError
    from infomax.distributions import get_task

    assert infomax.get_task is get_task and infomax.data.DataError is DataError
    assert {"estimate_mi", "__version__"} <= set(dir(infomax))
    assert "estimate_mi" in infomax.__all__ and "__version__" not in infomax.__all__
    assert infomax.__all__ == sorted(infomax.__all__)
    assert "load_dataset" in dir(infomax.data)
    with pytest.raises(AttributeError, match="module 'infomax' has no attribute 'nope'"):
        _ = infomax.nope
    with pytest.raises(AttributeError, match="module 'infomax.data' has no attribute 'nope'"):
        _ = infomax.data.nope
