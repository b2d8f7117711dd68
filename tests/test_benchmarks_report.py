"""BENCHMARKS.md is generated from benchmarks/results: it must never go stale.

``benchmarks/report.py`` renders every table from the result files; these tests
check that the committed BENCHMARKS.md is exactly its output, that every result
file carries the provenance that ``benchmarks/_record.py`` writes, and that no
result file is left out of every table.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
METADATA_KEYS = ("command", "commit", "machine", "date")


def _load(name: str) -> ModuleType:
    path = ROOT / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def report() -> ModuleType:
    return _load("report")


def test_benchmarks_md_is_the_generators_output(report: ModuleType) -> None:
    expected = report.render(report.Report())
    actual = (ROOT / "BENCHMARKS.md").read_text()
    assert actual == expected, "BENCHMARKS.md is stale: run python benchmarks/report.py"


def test_every_result_file_carries_its_metadata() -> None:
    files = sorted(RESULTS.glob("*.json"))
    assert files, "no result files"
    for path in files:
        data = json.loads(path.read_text())
        assert isinstance(data, dict) and "result" in data, f"{path.name}: no envelope"
        for key in METADATA_KEYS:
            assert data.get(key), f"{path.name}: missing {key!r}"
        assert data["name"] == path.stem, path.name
        machine = data["machine"]
        for key in ("cpu", "cores", "torch"):
            assert machine.get(key), f"{path.name}: machine lacks {key!r}"
        assert len(data["commit"].split("+")[0]) == 40, f"{path.name}: commit is not a hash"
        assert data["date"][:4].isdigit() and data["date"][4] == "-", path.name


def test_every_result_file_is_in_a_table(report: ModuleType) -> None:
    loaded = report.Report()
    report.render(loaded)
    assert report.unused_results(loaded) == []


def test_results_are_only_json_and_their_plots() -> None:
    for path in RESULTS.iterdir():
        assert path.is_file(), f"{path.name}: results/ holds files only"
        assert path.suffix in (".json", ".png"), path.name
        if path.suffix == ".png":
            assert path.with_suffix(".json").is_file(), f"{path.name}: a plot without its result"


def test_write_result_records_the_provenance(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        record = _load("_record")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    script = ROOT / "benchmarks" / "estimate_accuracy.py"
    path = record.write_result(
        tmp_path / "demo.json", {"x": float("nan"), "y": [1, 2]}, [str(script), "--seed", "1"]
    )
    data = json.loads(path.read_text())
    assert data["name"] == "demo"
    assert data["command"] == "python benchmarks/estimate_accuracy.py --seed 1"
    assert data["result"] == {"x": None, "y": [1, 2]}
    assert set(METADATA_KEYS) <= set(data)
    assert record.read_result(path) == {"x": None, "y": [1, 2]}


def test_check_mode_flags_a_stale_file(report: ModuleType, tmp_path: Path) -> None:
    stale = tmp_path / "BENCHMARKS.md"
    stale.write_text("# Benchmarks\n")
    assert report.main(["--check", "--out", str(stale)]) == 1
    assert report.main(["--out", str(stale)]) == 0
    assert report.main(["--check", "--out", str(stale)]) == 0
