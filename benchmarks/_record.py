"""Write and read benchmark result files with the run's provenance.

Every script in ``benchmarks/`` writes its result through :func:`write_result`,
which wraps the payload in one envelope::

    {
      "name": "estimate_accuracy-elliptical",
      "command": "python benchmarks/estimate_accuracy.py --threads 2 --json ...",
      "commit": "<git commit of the tree that ran it, '+dirty' if it had changes>",
      "date": "<UTC, ISO 8601>",
      "machine": {"cpu": ..., "cores": ..., "torch": ..., "os": ..., "python": ...},
      "result": <the script's own payload>
    }

``benchmarks/report.py`` renders BENCHMARKS.md from these files. Result files
written before this envelope existed were wrapped afterwards; they carry
``"metadata": "reconstructed from git history"``.
"""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infomax.jsonable import write_json_atomic

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
#: The keys every result file carries besides ``result``.
METADATA_KEYS = ("command", "commit", "machine", "date")

__all__ = ["METADATA_KEYS", "RESULTS", "machine", "read_result", "write_result"]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags() -> list[str]:
    """The CPU flags that decide reduced-precision speed (empty where unknown)."""
    wanted = ("avx512_bf16", "amx_bf16", "amx_tile", "avx512_fp16", "avx2")
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                return [flag for flag in wanted if flag in flags]
    except OSError:
        pass
    return []


def machine() -> dict[str, Any]:
    """CPU model, core count, relevant CPU flags, torch and Python versions, OS."""
    import torch

    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cpu_flags": _cpu_flags(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "os": platform.platform(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", "src", "benchmarks")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def _command(argv: list[str]) -> str:
    script = Path(argv[0]).resolve()
    try:
        shown = str(script.relative_to(ROOT))
    except ValueError:
        shown = argv[0]
    return shlex.join(["python", shown, *argv[1:]])


def write_result(path: str | os.PathLike[str], payload: Any, argv: list[str] | None = None) -> Path:
    """Write ``payload`` to ``path`` (atomically, strict JSON) inside the provenance envelope.

    Args:
        path: the result file, normally ``benchmarks/results/<name>.json``.
        payload: the script's result (dicts, lists, numbers; see ``infomax.jsonable``).
        argv: the script's command line; ``sys.argv`` when omitted.

    Returns:
        The path written.
    """
    path = Path(path)
    envelope = {
        "name": path.stem,
        "command": _command(list(sys.argv if argv is None else argv)),
        "commit": _commit(),
        "date": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "machine": machine(),
        "result": payload,
    }
    return write_json_atomic(path, envelope)


def read_result(path: str | os.PathLike[str]) -> Any:
    """The payload of a result file (a file without the envelope is returned whole)."""
    import json

    data = json.loads(Path(path).read_text())
    if isinstance(data, dict) and "result" in data and "command" in data:
        return data["result"]
    return data
