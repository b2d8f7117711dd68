"""The named pre-training runs of benchmarks/cifar_pretrain.py build: every option is known."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from infomax.methods import METHOD_ENCODERS, make_method
from infomax.nets import make_encoder
from infomax.train import TrainConfig

ROOT = Path(__file__).resolve().parent.parent


def _cifar_pretrain():
    sys.path.insert(0, str(ROOT / "benchmarks"))  # for its `from _record import ...`
    try:
        path = ROOT / "benchmarks" / "cifar_pretrain.py"
        spec = importlib.util.spec_from_file_location("benchmarks_cifar_pretrain", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return module


BENCH = _cifar_pretrain()


@pytest.mark.parametrize("name", sorted(BENCH.RUNS))
def test_every_named_run_builds_its_encoder_and_method(name: str) -> None:
    method_name, overrides = BENCH.RUNS[name]
    config = TrainConfig(method=method_name, data="unused", **overrides)
    encoder = make_encoder(
        config.encoder or METHOD_ENCODERS.get(method_name, "dim-conv"),
        in_channels=3, image_size=32, widths=(4, 8, 16), fc_dim=8, **config.encoder_options,
    )  # fmt: skip
    # make_method and make_encoder raise InputError on an unknown option or a bad value
    method = make_method(
        method_name, encoder, image_size=32, augment=config.augment, **config.method_options
    )
    assert method.encoder is encoder


def test_random_baselines_are_named_by_encoder_and_options() -> None:
    assert BENCH.random_key("dim-conv", {}) == "random-encoder"
    assert BENCH.random_key("patch-dim", {}) == "random-patch-dim"
    assert BENCH.random_key("patch-dim", {"norm": "layer"}) == "random-patch-dim-norm=layer"
