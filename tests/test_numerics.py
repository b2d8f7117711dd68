"""Subnormal floats are flushed inside the block and the default is back afterwards."""

from __future__ import annotations

import torch

from infomax.numerics import flush_denormals

TINY = 1e-39  # below float32's smallest normal number (1.18e-38)


def _survives() -> bool:
    return bool(torch.tensor([TINY], dtype=torch.float32)[0] != 0)


def test_flush_denormals_zeroes_subnormals_only_inside() -> None:
    assert _survives()
    with flush_denormals() as supported:
        if supported:
            assert not _survives()
            assert float(torch.tensor([2e-38])[0]) > 0  # normal numbers are untouched
    assert _survives()


def test_flush_denormals_decorates_and_restores_after_an_error() -> None:
    @flush_denormals()
    def inside() -> bool:
        return _survives()

    assert inside() is (not torch.set_flush_denormal(False))  # False where supported
    try:
        with flush_denormals():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert _survives()
