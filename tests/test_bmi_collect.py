"""benchmarks/bmi_suite/collect.py: how the interval coverage of the suite's cells is counted."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _collect():
    path = ROOT / "benchmarks" / "bmi_suite" / "collect.py"
    spec = importlib.util.spec_from_file_location("benchmarks_bmi_collect", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # it puts benchmarks/ on sys.path itself
    return module


def test_coverage_mirrors_the_interval_about_the_heldout_estimate() -> None:
    collect = _collect()
    tasks = [{"id": "a", "mi_true": 1.0}, {"id": "b", "mi_true": 1.0}, {"id": "c", "mi_true": 1.0}]
    rows = [
        # Held out 0.9, interval [0.85, 1.1]: holds the truth; mirrored, [0.85, 0.95] does not
        # (about the raised estimate 1.0 it would, to 1.15).
        {"task": "a", "estimator": "e", "mi": 1.0, "heldout_estimate": 0.9, "ci90": [0.85, 1.1]},
        # No held-out estimate recorded: mirrored about mi, [0.95, 1.05].
        {"task": "b", "estimator": "e", "mi": 1.0, "ci90": [0.95, 1.2]},
        # Misses either way.
        {"task": "c", "estimator": "e", "mi": 0.5, "heldout_estimate": 0.5, "ci90": [0.4, 0.7]},
        {"task": "c", "estimator": "ksg", "mi": 1.0, "ci90": None},
    ]
    coverage = collect.interval_coverage(tasks, rows)
    assert coverage == {"e": {"cells": 3, "covered": 2, "covered_symmetric": 1}}
    assert collect.tolerance(0.5) == pytest.approx(0.1)
    assert collect.tolerance(2.0) == pytest.approx(0.2)


def test_tasks_where_infomax_trails_the_closest_bmi_estimator_by_more_than_the_margin() -> None:
    collect = _collect()
    tasks = [
        {"id": t, "family": "f", "dim_x": 1, "dim_y": 1, "mi_true": 1.0} for t in ("a", "b", "c")
    ]
    rows = [
        # a: infomax 0.07 further than CCA (0.03 off): listed.
        {"task": "a", "estimator": "infomax-default", "mi": 0.9, "seed": 0, "seconds": 1.0},
        {"task": "a", "estimator": "bmi-cca", "mi": 1.03, "seed": 0, "seconds": 1.0},
        {"task": "a", "estimator": "bmi-ksg", "mi": 0.8, "seed": 0, "seconds": 1.0},
        # b: 0.04 further: inside the margin. c: no bmi estimator ran.
        {"task": "b", "estimator": "infomax-default", "mi": 0.95, "seed": 0, "seconds": 1.0},
        {"task": "b", "estimator": "bmi-ksg", "mi": 0.99, "seed": 0, "seconds": 1.0},
        {"task": "c", "estimator": "infomax-default", "mi": 0.5, "seed": 0, "seconds": 1.0},
    ]
    behind = collect.summarise(tasks, rows)["behind_closest"]
    assert [entry["id"] for entry in behind] == ["a"]
    assert behind[0]["closest"] == "bmi-cca"
    assert behind[0]["infomax_error"] == pytest.approx(0.1)
    assert behind[0]["closest_error"] == pytest.approx(0.03)
