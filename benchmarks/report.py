"""Generate BENCHMARKS.md from the result files in ``benchmarks/results``.

Each section of BENCHMARKS.md is a template in ``benchmarks/sections/`` (what the
benchmark measures, how to read it) with ``{{table_name}}`` placeholders; each
placeholder is filled by a function below that renders one table from result
files and lists, under it, every file it read with its command, machine, date
and commit. Usage::

    python benchmarks/report.py            # rewrite BENCHMARKS.md
    python benchmarks/report.py --check    # exit 1 if BENCHMARKS.md is stale

``tests/test_benchmarks_report.py`` runs the check, and checks that every result
file carries its metadata and appears in some table.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SECTIONS = ROOT / "benchmarks" / "sections"
OUTPUT = ROOT / "BENCHMARKS.md"
METADATA_KEYS = ("command", "commit", "machine", "date")
#: I_IS effective sample size under which estimate_mi warns (the library's LOW_ESS).
LOW_ESS = 3.0
#: ``estimate_scaling.py --caps 0,0`` records "no cap" as a huge integer.
UNCAPPED = 10**9
#: Stage means of the staircase's reference implementation (Song & Ermon, 2020), as given
#: in issue #2: 2000 steps per stage, batch 64, separable critic.
STAIRCASE_REFERENCE = {
    "infonce": (1.62, 2.86, 3.57, 3.92, 4.05),
    "smile": (1.50, 3.57, 5.70, 7.84, 10.06),
}


class Report:
    """The loaded result files, and which of them the rendered tables used."""

    def __init__(self, results: Path = RESULTS) -> None:
        self.files = {
            path.stem: json.loads(path.read_text()) for path in sorted(results.glob("*.json"))
        }
        self.used: set[str] = set()

    def data(self, name: str) -> Any:
        """The payload of result file ``name`` (its stem), marked as used."""
        if name not in self.files:
            raise KeyError(f"no result file benchmarks/results/{name}.json")
        self.used.add(name)
        return self.files[name]["result"]

    def sources(self, names: Iterable[str]) -> str:
        """One line per result file: path, command, machine, date and commit."""
        lines = []
        for name in names:
            env = self.files[name]
            note = " (metadata reconstructed from git history)" if _reconstructed(env) else ""
            lines.append(
                f"- [`{name}.json`](benchmarks/results/{name}.json): `{env['command']}`; "
                f"{describe_machine(env['machine'])}; {env['date'][:10]}, "
                f"commit {env['commit'][:7]}{note}"
            )
        return "Source:\n\n" + "\n".join(lines)


def _reconstructed(env: dict[str, Any]) -> bool:
    return str(env.get("metadata", "")).startswith("reconstructed")


def describe_machine(machine: dict[str, Any]) -> str:
    """``cpu, N cores, torch X`` (and the GPU where there was one)."""
    parts = [str(machine.get("cpu", "unknown CPU")), f"{machine.get('cores', '?')} cores"]
    if machine.get("memory_gib"):
        parts.append(f"{machine['memory_gib']} GiB")
    if machine.get("gpu"):
        parts.append(str(machine["gpu"]))
    parts.append(f"torch {machine.get('torch', '?')}")
    return ", ".join(parts)


def table(header: list[str], rows: list[list[str]], align: str | None = None) -> str:
    """A Markdown table; ``align`` has one ``l`` or ``r`` per column (default: l then r)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---" if a == "l" else "---:" for a in align]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def pm(mean: float, std: float, digits: int = 2) -> str:
    """``mean ± std``: both to ``digits`` decimals, a std of 10 or more to 3 figures."""
    if std is None:
        return f"{mean:.{digits}f}"
    spread = f"{std:.{digits}f}" if abs(std) < 10 else _sig3(std)
    return f"{mean:.{digits}f} ± {spread}"


def _sig3(value: float) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def percent(value: float, digits: int = 1) -> str:
    return f"{value:.{digits}f}%"


# --------------------------------------------------------------------------- staircase

BOUND_LABELS = {"jsd": "jsd (NWJ read-out)"}


def _bound_label(name: str, config: dict[str, Any]) -> str:
    if name == "smile":
        return f"smile (tau {config['smile_tau']:g})"
    if name == "interpolated":
        return f"interpolated (alpha {config['interpolated_alpha']:g})"
    return BOUND_LABELS.get(name, name)


def _stage_header(result: dict[str, Any]) -> list[str]:
    return [f"{mi:g}" for mi in result["true_mi"]]


def staircase_accuracy(report: Report, name: str, reference: bool) -> str:
    result = report.data(name)
    rows = []
    for bound, data in result["bounds"].items():
        cells = [pm(stage["mean"], stage["std"]) for stage in data["stages"]]
        rows.append([_bound_label(bound, result["config"]), *cells])
        if reference and bound in STAIRCASE_REFERENCE:
            label = f"{bound}, reference (issue #2)"
            rows.append([label, *(f"{v:.2f}" for v in STAIRCASE_REFERENCE[bound])])
    header = ["bound", *_stage_header(result)]
    return table(header, rows) + "\n\n" + report.sources([name])


def staircase_4000(report: Report) -> str:
    return staircase_accuracy(report, "staircase-separable-4000", reference=False)


def staircase_2000(report: Report) -> str:
    return staircase_accuracy(report, "staircase-separable-fp32-2000-bf16-machine", reference=True)


def _precision_table(report: Report, names: dict[str, str], reference: bool) -> str:
    results = {label: report.data(name) for label, name in names.items()}
    first = next(iter(results.values()))
    rows = []
    for bound in first["bounds"]:
        for label, result in results.items():
            cells = []
            for stage in result["bounds"][bound]["stages"]:
                cell = f"{stage['mean']:.2f}"
                if stage["std"] is not None and stage["std"] > 0.5:
                    cell += f" ± {_sig3(stage['std'])}"
                cells.append(cell)
            rows.append([bound, label, *cells])
        if reference and bound in STAIRCASE_REFERENCE:
            reference_cells = [f"{v:.2f}" for v in STAIRCASE_REFERENCE[bound]]
            rows.append([bound, "reference (issue #2)", *reference_cells])
    header = ["bound", "precision", *_stage_header(first)]
    return (
        table(header, rows, "ll" + "r" * len(first["true_mi"]))
        + "\n\n"
        + report.sources(names.values())
    )


def staircase_precision_concat(report: Report) -> str:
    names = {"float32": "staircase-concat-fp32-600", "bfloat16": "staircase-concat-bf16-600"}
    return _precision_table(report, names, reference=False)


def staircase_precision_separable(report: Report) -> str:
    names = {
        "float32": "staircase-separable-fp32-2000-bf16-machine",
        "bfloat16": "staircase-separable-bf16-2000",
    }
    return _precision_table(report, names, reference=True)


IMPL_LABELS = {
    "reference": "plain loop (reference)",
    "reference-fused": "plain loop, fused Adam",
    "vmap": "torch.func vmap",
    "stacked": "**stacked**",
    "reference-bf16": "plain loop under autocast bf16",
    "stacked-bf16": "**stacked, bfloat16**",
}


def staircase_speed(report: Report) -> str:
    name = "staircase-speed-tuned-bf16-machine"
    result = report.data(name)
    rows = []
    for critic in ("separable", "concat"):
        by_impl = {row["impl"]: row for row in result["rows"] if row["critic"] == critic}
        for impl, label in IMPL_LABELS.items():
            if impl in by_impl:
                row = by_impl[impl]
                speed = f"{row['steps_per_second']:.3g}"
                rows.append([critic, label, speed, f"{row['speedup']:.2f}x"])
    header = ["critic", "implementation", "steps/s", "vs the plain float32 loop"]
    return table(header, rows, "llrr") + "\n\n" + report.sources([name])


def matmul_precision(report: Report) -> str:
    name = "matmul-precision-bf16-machine"
    result = report.data(name)
    gflops = result["gflops"]
    base = gflops["float32"]["block_fwd_bwd"]
    shape = result["config"]
    rows = [
        [
            dtype,
            f"{rates['matmul']:.0f}",
            f"{rates['block_fwd_bwd']:.0f}",
            f"{rates['block_fwd_bwd'] / base:.2f}x",
        ]
        for dtype, rates in gflops.items()
    ]
    m, n, w = shape["models"], shape["pairs"], shape["width"]
    header = [
        "dtype",
        f"batched matmul ({m}, {n}, {w}) @ ({m}, {w}, {w}), GFLOP/s",
        f"{w}-{w} block, forward + backward, GFLOP/s",
        "block vs float32",
    ]
    f32 = gflops["float32"]
    extra = (
        f"\n\nThe same float32 block as a Python loop of 2-D matmuls over the {m} models: "
        f"{f32['block_fwd_bwd_looped']:.0f} GFLOP/s; a square 2048^3 float32 matmul: "
        f"{f32['square_2048']:.0f} GFLOP/s."
    )
    return table(header, rows) + extra + "\n\n" + report.sources([name])


# --------------------------------------------------------------------------- estimate_mi


def _start(row: dict[str, Any]) -> str:
    start = {"gaussian": "Gaussian", "student_t": "Student-t"}.get(row.get("start"), "none")
    if row.get("start_dof"):
        start += f", dof {row['start_dof']:g}"
    return start


def _accuracy_row(row: dict[str, Any], first: str) -> list[str]:
    error = "" if row["true_mi"] == 0 else percent(row["abs_error_percent"])
    return [
        first,
        f"{row['true_mi']:.2f}",
        f"{row['mi']:.3f}",
        f"{row['stderr']:.3f}",
        error,
        f"{row['seconds']:.0f}",
        _start(row),
    ]


def estimate_accuracy(report: Report) -> str:
    name = "estimate_accuracy-elliptical"
    rows = [_accuracy_row(row, row["task"]) for row in report.data(name)["results"]]
    header = ["task", "true MI", "estimate", "stderr", "error", "wall s", "start chosen"]
    return table(header, rows, "lrrrrrl") + "\n\n" + report.sources([name])


def estimate_accuracy_seeds(report: Report) -> str:
    runs = [
        ("estimate_accuracy-elliptical", "student-t", 0, 0),
        ("estimate_accuracy-elliptical-student-t-s1", "student-t", 1, 0),
        ("estimate_accuracy-elliptical-student-t-s2", "student-t", 2, 0),
        ("estimate_accuracy-elliptical-spiral-s0-e0", "spiral", 0, 0),
        ("estimate_accuracy-elliptical-spiral-s1", "spiral", 1, 0),
        ("estimate_accuracy-elliptical-spiral-s2", "spiral", 2, 0),
        ("estimate_accuracy-elliptical-spiral-s1-e1", "spiral", 1, 1),
        ("estimate_accuracy-elliptical-spiral-s2-e2", "spiral", 2, 2),
    ]
    rows = []
    for name, task, seed, estimator_seed in runs:
        result = report.data(name)
        assert (result["seed"], result["estimator_seed"]) == (seed, estimator_seed), name
        row = next(r for r in result["results"] if r["task"].startswith(task))
        cells = _accuracy_row(row, row["task"])
        rows.append([cells[0], str(seed), str(estimator_seed), *cells[2:6]])
    header = ["task", "data seed", "estimator seed", "estimate", "stderr", "error", "wall s"]
    names = list(dict.fromkeys(name for name, *_ in runs))
    return table(header, rows) + "\n\n" + report.sources(names)


def estimate_accuracy_nonmonotone(report: Report) -> str:
    """The sine task over data seeds: estimate, 90% interval, error, the race's choice."""
    names = [f"estimate_accuracy-nonmonotone-s{seed}" for seed in range(3)]
    rows = []
    for name in names:
        result = report.data(name)
        for row in result["results"]:
            low, high = row["ci90"]
            candidates = row.get("critic_candidates") or {}
            race = ", ".join(f"{k} {v:.3f}" for k, v in candidates.items())
            rows.append(
                [
                    str(result["seed"]),
                    f"{row['true_mi']:.3f}",
                    f"{row['mi']:.3f}",
                    f"[{low:.3f}, {high:.3f}]" + ("" if low <= row["true_mi"] <= high else " *"),
                    percent(row["abs_error_percent"]),
                    f"{row['critic']} ({race})",
                    f"{row['seconds']:.0f}",
                ]
            )
    header = ["data seed", "true MI", "estimate", "90% interval", "error", "critic (validation)",
              "wall s"]  # fmt: skip
    return table(header, rows, "rrrrrlr") + "\n\n" + report.sources(names)


def estimate_accuracy_student_t(report: Report) -> str:
    name = "estimate_accuracy-elliptical-student-t-variants"
    rows = [_accuracy_row(row, row["task"]) for row in report.data(name)["results"]]
    header = ["task", "true MI", "estimate", "stderr", "error", "wall s", "start chosen"]
    return table(header, rows, "lrrrrrl") + "\n\n" + report.sources([name])


def estimate_deficit(report: Report) -> str:
    names = [f"estimate_diagnostics-elliptical-s{seed}" for seed in range(3)]
    rows = []
    for name in names:
        d = report.data(name)
        fresh = d["fresh_dv_mean"]
        rows.append(
            [
                str(d["seed"]),
                f"{d['heldout_estimate']:.3f}",
                f"{d['exact_on_test_rows']:.3f}",
                f"{d['exact_on_test_rows'] - d['heldout_estimate']:.3f}",
                f"{fresh['trained']:.3f} / {fresh['exact']:.3f}",
                f"{d['estimate']:.3f}",
            ]
        )
    header = [
        "data seed",
        "held-out read-out (test rows)",
        "exact critic, same test rows",
        "deficit",
        f"trained / exact critic, fresh rows (mean of {len(d['fresh_dv'])} sets)",
        "reported estimate",
    ]
    return table(header, rows) + "\n\n" + report.sources(names)


def estimate_clip(report: Report) -> str:
    rows, names = [], []
    for seed in range(3):
        no_cap = f"estimate_diagnostics-spiral-s{seed}-no-cap"
        clipped = f"estimate_accuracy-elliptical-spiral-s{seed}-e{seed}"
        names += [no_cap, clipped]
        d = report.data(no_cap)
        row = report.data(clipped)["results"][0]
        rows.append(
            [
                f"({seed}, {seed})",
                pm(d["heldout_estimate"], d["stderr"], 3),
                pm(row["heldout_estimate"], row["stderr"], 3),
                f"{d['exact_on_test_rows']:.3f}",
            ]
        )
    header = [
        "spiral, seeds (data, estimator)",
        "held-out read-out, no clip",
        "held-out read-out, clip (default)",
        "exact critic, same test rows",
    ]
    return table(header, rows) + "\n\n" + report.sources(names)


def estimate_scaling(report: Report) -> str:
    names = ["estimate-scaling", "estimate-scaling-uncapped"]
    rows = []
    for name in names:
        result = report.data(name)
        caps = result["caps"]
        uncapped = not all(caps) or min(caps) >= UNCAPPED
        cap_text = "none" if uncapped else f"{caps[0]:,} / {caps[1]:,}"
        for row in result["rows"]:
            rows.append(
                [
                    f"{row['samples']:,}",
                    cap_text,
                    f"{row['n_heldout']:,}",
                    f"{row['n_train']:,}",
                    pm(row["estimate"], row["stderr"], 3),
                    f"{row['seconds']:.1f}",
                    f"{row['readout_seconds']:.1f}",
                ]
            )
    header = [
        "samples",
        "caps (validation / test rows)",
        "test rows",
        "train rows",
        "estimate",
        "wall s",
        "of which all-pairs read-outs",
    ]
    return table(header, rows, "rlrrrrr") + "\n\n" + report.sources(names)


# --------------------------------------------------------------------------- DEMI


def _demi_flags(row: dict[str, Any]) -> str:
    flags = []
    if row["mi_hat"] > row["mi"]:
        flags.append("above true MI")
    if row.get("ess") is not None and row["ess"] < LOW_ESS:
        flags.append("low ESS")
    return ", ".join(flags)


def _optional(value: float | None, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


DEMI_LABELS = {"infonce": "InfoNCE", "oracle": "oracle", "is": "I_IS", "bo": "I_BO", "var": "I_VAR"}


def demi_goal(report: Report) -> str:
    name = "demi-all"
    rows = []
    for row in report.data(name)["rows"]:
        if row["mi"] == 20 and row["batch"] == 64 and row["views"] in (1, 4):
            rows.append(
                [
                    DEMI_LABELS.get(row["estimator"], row["estimator"]),
                    str(row["views"]),
                    pm(row["mi_hat"], row["stderr"]),
                    f"{row['optimal']:.2f}",
                ]
            )
    header = ["estimator", "n", "trained (nats)", "optimal critic"]
    return table(header, rows) + "\n\n" + report.sources([name])


def demi_all(report: Report) -> str:
    name = "demi-all"
    rows = [
        [
            f"{row['mi']:g}",
            str(row["batch"]),
            f"{row['log_k']:.2f}",
            str(row["views"]),
            row["estimator"],
            pm(row["mi_hat"], row["stderr"]),
            f"{row['optimal']:.2f}",
            _optional(row.get("ess"), ".1f"),
            _demi_flags(row),
        ]
        for row in report.data(name)["rows"]
    ]
    header = ["true MI", "K", "log K", "n", "estimator", "trained (nats)", "optimal critic"]
    header += ["ESS", "flag"]
    return table(header, rows, "rrrrlrrrl") + "\n\n" + report.sources([name])


def demi_optimal(report: Report) -> str:
    name = "demi_optimal_critics"
    rows = [
        [
            f"{row['mi']:g}",
            str(row["batch"]),
            str(row["views"]),
            f"{row['infonce']:.2f}",
            f"{row['oracle']:.2f}",
            f"{row['is']:.2f}",
            f"{row['bo']:.2f}",
            _optional(row.get("ess"), ".1f"),
            f"{max(row[k + '_stderr'] for k in ('infonce', 'oracle', 'is', 'bo')):.3f}",
        ]
        for row in report.data(name)["rows"]
        if row["views"] > 1
    ]
    header = ["MI", "K", "n", "InfoNCE", "oracle chain", "I_IS chain", "I_BO chain"]
    header += ["I_IS ESS", "largest stderr"]
    return table(header, rows) + "\n\n" + report.sources([name])


def demi_shared(report: Report) -> str:
    rows_all = report.data("demi-all")["rows"]
    separate = {(r["mi"], r["batch"], r["views"], r["estimator"]): r for r in rows_all}
    names = ["demi-shared-k64-mi20-n4", "demi-shared-k64-mi10-is"]
    rows = []
    for name in names:
        for row in report.data(name)["rows"]:
            key = (row["mi"], row["batch"], row["views"], row["estimator"])
            sep = separate[key]
            rows.append(
                [
                    f"{row['mi']:g}",
                    str(row["batch"]),
                    str(row["views"]),
                    DEMI_LABELS.get(row["estimator"], row["estimator"]),
                    pm(sep["mi_hat"], sep["stderr"]),
                    pm(row["mi_hat"], row["stderr"]),
                    f"{row['optimal']:.2f}",
                ]
            )
    header = ["MI", "K", "n", "estimator", "separate critics", "shared critic", "optimal critic"]
    return table(header, rows, "rrrlrrr") + "\n\n" + report.sources(["demi-all", *names])


# --------------------------------------------------------------------------- CIFAR-10

#: (label, settings, probes file, probe key, pre-training summary file)
CIFAR_RUNS = [
    ("DIM(L), InfoNCE, seed 0", "lr 5e-4, crop+flip, gamma 0.1 (machine shared)",
     "cifar_probes_s0", "dim-local-infonce", "cifar_pretrain_dim-local-infonce_s0_summary"),
    ("DIM(L), InfoNCE, seed 1", "the same, machine free",
     "cifar_probes_s1", "dim-local-infonce", "cifar_pretrain_dim-local-infonce_s1_summary"),
    ("DIM(L), JSD", "lr 5e-4, crop+flip, gamma 0.1",
     "cifar_probes_s0", "dim-local-jsd", "cifar_pretrain_dim-local-jsd_s0_summary"),
    ("DIM(G), InfoNCE", "lr 5e-4, crop+flip, gamma 1",
     "cifar_probes_s0", "dim-global", "cifar_pretrain_dim-global_s0_summary"),
    ("DIM(G), JSD", "lr 5e-4, crop+flip, gamma 0.1",
     "cifar_probe_dim-global-jsd-g01_s0", None, "cifar_pretrain_dim-global-jsd-g01_s0_summary"),
    ("SimCLR", "lr 1e-3, tau 0.5, SimCLR views (kornia jitter)",
     "cifar_probes_s0", "simclr", "cifar_pretrain_simclr_s0_summary"),
    ("DIM(G), two views, InfoNCE", "lr 5e-4, SimCLR views, gamma 0.1, `--option views=2`",
     "cifar_probes_s0", "dim-global-2view-g01", "cifar_pretrain_dim-global-2view-g01_s0_summary"),
    ("random encoder, seed 0", "-", "cifar_probes_s0", "random-encoder", None),
    ("random encoder, seed 1", "-", "cifar_probes_s1", "random-encoder", None),
    ("raw pixels", "-", "cifar_probes_s0", "raw-pixels", None),
]  # fmt: skip
CIFAR_TRAIN_IMAGES = 50_000
CIFAR_BATCH = 128


def cifar_pretrain(report: Report) -> str:
    rows, names = [], []
    for label, settings, probes, key, summary in CIFAR_RUNS:
        probe = report.data(probes)
        probe = probe[key] if key else probe
        names.append(probes)
        cells = [label, settings, percent(100 * probe["accuracy"], 2)]
        if summary:
            names.append(summary)
            s = report.data(summary)
            epochs = s["steps"] * CIFAR_BATCH / CIFAR_TRAIN_IMAGES
            cells += [
                str(s["steps"]),
                f"{epochs:.1f}",
                f"{s['images_per_second']:.0f}",
                percent(100 * s["view_share"]),
            ]
        else:
            cells += ["-"] * 4
        rows.append(cells)
    header = ["run", "settings", "linear probe (conv)", "steps", "epochs", "images/s"]
    header += ["time making views"]
    body = table(header, rows, "llrrrrr")
    return body + "\n\n" + report.sources(dict.fromkeys(names))


#: (label, key in the 1-core summary)
CIFAR_1CORE_RUNS = [
    ("DEMI (I_BO)", "demi-bo"),
    ("DEMI (I_IS)", "demi-is"),
    ("multi-view InfoNCE", "multiview"),
    ("SimCLR", "simclr"),
    ("DIM(L), InfoNCE (lr 5e-4, crop+flip)", "dim-local-infonce"),
    ("DIM(G), two views, InfoNCE, gamma 1", "dim-global-2view"),
    ("DIM(G), two views, InfoNCE, gamma 0.1", "dim-global-2view-g01"),
    ("CPC (patch-dim encoder)", "cpc"),
    ("random patch-dim encoder", "random-patch-dim"),
    ("random DIM conv encoder", "random-encoder"),
    ("raw pixels", "raw-pixels"),
]


def _seed_rows(
    summary: dict[str, Any], probes: list[dict[str, Any]], runs: list[tuple[str, str]]
) -> list[list[str]]:
    """One row per run: accuracy per seed, mean, spread, mean images/s and steps."""
    rows = []
    for label, key in runs:
        entry = summary[key]
        seeds = [p[key] for p in probes if key in p]
        cells = [percent(100 * p["accuracy"], 2) for p in seeds]
        cells += ["-"] * (len(probes) - len(cells))
        pretrain = [p["pretrain"] for p in seeds if "pretrain" in p]
        speed = ["-", "-"]
        if pretrain:
            images = sum(p["images_per_second"] for p in pretrain) / len(pretrain)
            steps = sum(p["steps"] for p in pretrain) / len(pretrain)
            speed = [f"{images:.0f}", f"{steps:.0f}"]
        spread = f"{entry['spread']:.2f}" if len(seeds) > 1 else "-"
        rows.append([label, *cells, percent(entry["mean"], 2), spread, *speed])
    return rows


def cifar_1core(report: Report) -> str:
    names = ["cifar_1core_summary", "cifar_1core_probes-s0", "cifar_1core_probes-s1"]
    summary = report.data(names[0])
    probes = [report.data(names[1]), report.data(names[2])]
    rows = _seed_rows(summary, probes, CIFAR_1CORE_RUNS)
    header = ["run", "seed 0", "seed 1", "mean", "spread", "images/s", "steps"]
    return table(header, rows) + "\n\n" + report.sources(names)


#: (label, key in the structural-tasks summary)
CIFAR_STRUCTURAL_RUNS = [
    ("DIM(L), InfoNCE", "dim-local-infonce"),
    ("DIM(L) + occlusion (occlude=0.25)", "dim-local-occlude"),
    ("DIM(L) + coordinates (coord=1)", "dim-local-coord"),
    ("DIM(L) + both", "dim-local-both"),
    ("CPC (down, BatchNorm)", "cpc"),
    ("CPC, four directions", "cpc-all-dirs"),
    ("CPC, LayerNorm patch encoder", "cpc-layernorm"),
    ("CPC, per-patch augmentation", "cpc-patchaug"),
    ("random DIM conv encoder", "random-encoder"),
    ("random patch-dim encoder", "random-patch-dim"),
    ("random patch-dim encoder, LayerNorm", "random-patch-dim-norm=layer"),
    ("raw pixels", "raw-pixels"),
]


def _last_metric(probes: list[dict[str, Any]], key: str, metric: str) -> str:
    """Mean over seeds of a run's last logged training metric, as a percentage, or "-"."""
    values = [
        p[key]["pretrain"]["last"][metric]
        for p in probes
        if metric in p.get(key, {}).get("pretrain", {}).get("last", {})
    ]
    return percent(100 * sum(values) / len(values)) if values else "-"


def cifar_structural(report: Report) -> str:
    names = [
        "cifar_structural_summary", "cifar_structural_probes-s0", "cifar_structural_probes-s1"
    ]  # fmt: skip
    names = [name for name in names if name in report.files]  # seed 1 may not be run yet
    summary = report.data(names[0])
    probes = [report.data(name) for name in names[1:]]
    probes += [{}] * (2 - len(probes))  # the table keeps a column per seed
    runs = [(label, key) for label, key in CIFAR_STRUCTURAL_RUNS if key in summary]
    rows = _seed_rows(summary, probes, runs)
    for row, (_, key) in zip(rows, runs, strict=True):
        row += [_last_metric(probes, key, m) for m in ("coord_accuracy", "relcoord_accuracy")]
    header = ["run", "seed 0", "seed 1", "mean", "spread", "images/s", "steps"]
    header += ["coord accuracy", "relative accuracy"]
    return table(header, rows) + "\n\n" + report.sources(names)


def pretrain_throughput(report: Report) -> str:
    name = "pretrain_throughput"
    rows = [
        [
            row["method"],
            row["jitter"],
            f"{row['images_per_second']:.0f}",
            f"{row['view_ms_per_step']:.0f}",
            f"{row['step_ms']:.0f}",
            percent(100 * row["view_share"]),
        ]
        for row in report.data(name)
    ]
    header = ["method", "colour jitter", "images/s", "views ms/step", "step ms", "view share"]
    return table(header, rows, "llrrrr") + "\n\n" + report.sources([name])


# --------------------------------------------------------------------------- CPC, DDP

CPC_RUNS = {"1": "cpc_sequences_noise1", "3": "cpc_sequences_noise3"}


def cpc_probe(report: Report) -> str:
    rows = []
    for noise, name in CPC_RUNS.items():
        acc = report.data(name)["probe_accuracy"]
        rows.append([noise, *(percent(100 * acc[k]) for k in ("cpc", "random", "observation"))])
    header = ["observation noise", "from CPC's c_t", "from a random CPC model's c_t"]
    header += ["from x_t alone"]
    return table(header, rows) + "\n\n" + report.sources(CPC_RUNS.values())


def cpc_steps(report: Report) -> str:
    runs = {noise: report.data(name) for noise, name in CPC_RUNS.items()}
    first = next(iter(runs.values()))
    rows = []
    for i, step in enumerate(first["per_step"]):
        cells = [f"{run['per_step'][i]['infonce']:.3f}" for run in runs.values()]
        rows.append([str(step["k"]), *cells, f"{step['state_mi']:.3f}"])
    header = ["k", *(f"InfoNCE, noise {noise}" for noise in runs), "I(s_t; s_{t+k})"]
    training = ", ".join(
        f"noise {noise}: {run['train']['steps']} steps in {run['train']['seconds']:.0f} s"
        for noise, run in runs.items()
    )
    cap = f"\n\nInfoNCE cap: log(64 x 32) = {first['infonce_cap']:.2f} nats. Training: {training}"
    return table(header, rows) + cap + ".\n\n" + report.sources(CPC_RUNS.values())


def ddp_infonce(report: Report) -> str:
    name = "ddp_infonce"
    rows = [
        [
            str(row["processes"]),
            str(row["K"]),
            f"{row['log_K']:.2f}",
            pm(row["estimate"], row["estimate_std"]),
            f"{row['pairs_per_second']:.0f}",
            f"{row['steps_per_second']:.1f}",
        ]
        for row in report.data(name)
    ]
    header = ["processes", "K", "log K", "InfoNCE (nats)", "pairs/s", "steps/s"]
    return table(header, rows) + "\n\n" + report.sources([name])


# --------------------------------------------------------------------------- paired data


def pair_word2vec(report: Report) -> str:
    name = "pair"
    result = report.data(name)["word2vec"]
    config = result["config"]
    rows = []
    for row in result["rows"]:
        noise = "unigram" if row["noise_power"] == 1 else f"unigram^{row['noise_power']:g}"
        subsample = "off" if row["subsample"] is None else f"t = {row['subsample']:g}"
        rows.append(
            [
                row["trainer"],
                noise,
                subsample,
                row["target"],
                f"{row['pairs']:,}",
                f"{row['pearson']:.3f}",
                f"{row['mean_offset']:+.3f}",
                f"{row['rmse']:.3f}",
                f"{row['seconds']:.0f}",
            ]
        )
    header = [
        "trainer",
        "noise P_n",
        "subsampling",
        "compared with",
        "pairs",
        "Pearson r",
        "mean of w.c - (target - log k)",
        "RMS",
        "wall s",
    ]
    ceiling = result["rows"][0]["pearson_counts_exact"]
    extra = (
        f"\n\nCorpus: {config['tokens']:,} tokens, {config['vocab']} words in "
        f"{config['classes']} classes, window {config['window']}, k = {config['negatives']} "
        f"(log k = {result['log_k']:.3f}), d = {config['dim']}; pairs seen at least "
        f"{config['min_pairs']} times. The counts' own PMI against the exact PMI on the same "
        f"pairs (sampling noise): r = {ceiling:.3f}."
    )
    return table(header, rows, "llll" + "r" * 5) + extra + "\n\n" + report.sources([name])


def pair_audiovisual(report: Report) -> str:
    name = "pair"
    rows = []
    for run in report.data(name)["audiovisual"]:
        k = run["config"]["k"]
        for label, key in (("trained", "trained"), ("random init", "random")):
            figures = run[key]
            infonce = run["infonce"] if key == "trained" else run["infonce_random"]
            rows.append(
                [
                    f"{run['noise']:g}",
                    label,
                    str(k),
                    percent(100 * figures["top1"]),
                    percent(100 * figures["top5"]),
                    percent(100 * figures["match"]),
                    f"{infonce:.2f} (cap {run['log_k']:.2f})",
                ]
            )
    header = [
        "noise",
        "encoders",
        "K",
        "top-1 sound -> image",
        "top-5",
        "correspondence",
        "InfoNCE, nats",
    ]
    return table(header, rows, "llrrrrr") + "\n\n" + report.sources([name])


# --------------------------------------------------------------------------- TCL

TCL_OVERCOMPLETE = ("tcl-overcomplete", "tcl-overcomplete-s1")


def _tcl_table(report: Report, names: Iterable[str]) -> str:
    """One row per (L, K, seed): TCL, FastICA and random MCC, the margin, the goals met."""
    cells = []
    for name in names:
        result = report.data(name)
        goals = result["goals"]
        for row in result["rows"]:
            goal = goals["mcc"][str(row["layers"])]
            met = [
                "MCC" if row["tcl"]["mcc"] >= goal else "",
                "margin" if row["margin"] >= goals["margin_over_fastica"] else "",
            ]
            cells.append(
                (
                    row["layers"],
                    row["segments"],
                    row["seed"],
                    [
                        str(row["layers"]),
                        f"{row['segments']} ({row['segment_length']})",
                        str(row["seed"]),
                        f"{row['tcl']['mcc']:.3f}",
                        f"{row['tcl']['mcc_direct']:.3f}",
                        f"{row['fastica']['mcc']:.3f}",
                        f"{row['random']['mcc']:.3f}",
                        f"{row['margin']:+.3f}",
                        f"{goal:g} / +{goals['margin_over_fastica']:g}",
                        " + ".join(m for m in met if m) or "neither",
                        percent(100 * row["heldout_accuracy"]),
                        f"{row['train_seconds']:.0f}",
                    ],
                )
            )
    rows = [cells_ for *_, cells_ in sorted(cells, key=lambda c: c[:3])]
    header = [
        "L",
        "K (rows each)",
        "seed",
        "TCL",
        "TCL, no map",
        "FastICA",
        "random h",
        "TCL - FastICA",
        "goal: MCC / margin",
        "met",
        "held-out segment acc.",
        "train s",
    ]
    return table(header, rows, "lll" + "r" * 6 + "l" + "rr") + "\n\n" + report.sources(names)


def tcl_overcomplete(report: Report) -> str:
    return _tcl_table(report, TCL_OVERCOMPLETE)


def tcl_one_per_source(report: Report) -> str:
    return _tcl_table(report, ["tcl"])


# --------------------------------------------------------------------------- estimate_cmi


def estimate_cmi_table(report: Report) -> str:
    """``estimate_cmi``'s conditional estimators on tasks with known I(x; y | z)."""
    name = "estimate_cmi"
    data = report.data(name)
    rows_in = data["results"]
    seeds = sorted({row["seed"] for row in rows_in})
    rows = []
    for task in dict.fromkeys(row["task"] for row in rows_in):
        for conditional in dict.fromkeys(row["conditional"] for row in rows_in):
            cells = [r for r in rows_in if r["task"] == task and r["conditional"] == conditional]
            if not cells:
                continue
            by_seed = {r["seed"]: r for r in cells}
            values = [
                f"{by_seed[s]['cmi']:.3f} ± {by_seed[s]['stderr']:.3f}" if s in by_seed else "-"
                for s in seeds
            ]
            error = sum(abs(r["cmi"] - r["truth"]) for r in cells) / len(cells)
            seconds = sum(r["seconds"] for r in cells) / len(cells)
            offered = "yes" if conditional != "var" else "no (refused)"
            rows.append(
                [task, f"{cells[0]['truth']:.3f}", conditional, offered, *values,
                 f"{error:.3f}", f"{seconds:.0f}"]
            )  # fmt: skip
    header = ["task", "true CMI", "estimator", "in estimate_cmi"]
    header += [f"seed {s}" for s in seeds] + ["mean abs error", "seconds"]
    return table(header, rows) + "\n\n" + report.sources([name])


# --------------------------------------------------------------------------- bmi suite

#: Column labels of the suite's estimators, in table order (others follow, by name).
BMI_SUITE_LABELS = {
    "infomax-default": "infomax",
    "infomax-repeats3": "infomax repeats=3",
    "bmi-ksg": "KSG",
    "bmi-cca": "CCA",
    "bmi-infonce": "InfoNCE",
    "bmi-nwj": "NWJ",
    "bmi-dv": "DV",
    "bmi-mine": "MINE",
}


def _bmi_label(data: dict[str, Any], name: str) -> str:
    """An estimator's column label, with its seeds where it ran fewer than the others."""
    seeds = {
        n: max((t[n]["seeds"] for t in data["per_task"] if n in t), default=0)
        for n in data["estimators"]
    }
    label = BMI_SUITE_LABELS.get(name, name)
    if seeds[name] < max(seeds.values()):
        label += f" ({seeds[name]} seed{'s' if seeds[name] > 1 else ''})"
    return label


def _bmi_estimators(data: dict[str, Any]) -> list[str]:
    names = data["estimators"]
    return [n for n in BMI_SUITE_LABELS if n in names] + sorted(
        n for n in names if n not in BMI_SUITE_LABELS
    )


def bmi_suite_families(report: Report) -> str:
    """Per family: each estimator's mean |error| (within / tasks run, closest), coverage."""
    name = "bmi_suite"
    data = report.data(name)
    names = _bmi_estimators(data)
    rows = []
    for family, entry in data["per_family"].items():
        cells = []
        for est in names:
            s = entry.get(est)
            cells.append(
                "-"
                if s is None
                else f"{s['mean_abs_error']:.3f} ({s['within']}/{s['tasks_done']}, {s['closest']})"
            )
        rows.append([family, str(entry["tasks"]), *cells])
    header = ["family", "tasks", *(_bmi_label(data, n) for n in names)]
    coverage = [
        f"{BMI_SUITE_LABELS.get(n, n)}: {c['covered']}/{c['cells']} cells"
        + (
            f" ({c['covered_symmetric']}/{c['cells']} with the upper side mirrored from the lower)"
            if "covered_symmetric" in c
            else ""
        )
        for n, c in data["coverage"].items()
    ]
    extra = "\n\n90% intervals holding the true MI: " + "; ".join(coverage) if coverage else ""
    for est, t in data.get("timing", {}).items():
        if not est.startswith("infomax"):
            continue
        threads = ", ".join(str(n) for n in t["threads"]) or "?"
        extra += (
            f"\n\nWall time of {BMI_SUITE_LABELS.get(est, est)} per call (threads: {threads}; "
            f"{t['cells']} calls): median {t['median_seconds']:.0f} s, slowest "
            f"{t['max_seconds']:.0f} s (`{t['slowest_task']}`), {t['over_60_seconds']} over 60 s."
        )
    return table(header, rows) + extra + "\n\n" + report.sources([name])


def bmi_suite_tasks(report: Report) -> str:
    """Per task: the true MI, each estimator's mean estimate, infomax's chosen critic (and
    the candidate it is blended with, at that weight)."""
    data = report.data("bmi_suite")
    names = _bmi_estimators(data)
    critics: dict[str, set[str]] = {}
    for cell in data["cells"]:
        if cell["estimator"] == "infomax-default" and cell.get("critic"):
            blended = cell.get("blend")
            label = cell["critic"] + (
                f" + {blended['critic']} {blended['weight']:g}" if blended else ""
            )
            critics.setdefault(cell["task"], set()).add(label)
    rows = []
    for task in data["per_task"]:
        values = []
        for est in names:
            e = task.get(est)
            values.append("-" if e is None else f"{e['mean']:.3f}" + ("" if e["within"] else "*"))
        dims = f"{task['dim_x']}x{task['dim_y']}"
        chosen = ", ".join(sorted(critics.get(task["id"], ()))) or "-"
        default = task.get("infomax-default")
        seconds = "-" if default is None else f"{default['seconds']:.0f}"
        rows.append([task["id"], dims, f"{task['mi_true']:.3f}", *values, chosen, seconds])
    header = ["task", "dims", "true MI", *(_bmi_label(data, n) for n in names)]
    header += ["infomax critic", "infomax s"]
    return table(header, rows)


def bmi_suite_behind(report: Report) -> str:
    """The tasks on which infomax is more than 0.05 nats further from the truth than the
    closest bmi estimator, beside the Gaussian MI that CCA converges to on many rows."""
    data = report.data("bmi_suite")
    behind = data.get("behind_closest", [])
    if not behind:
        return "(none: on every task infomax is within 0.05 nats of the closest bmi estimator)"
    by_id = {task["id"]: task for task in data["per_task"]}
    rows = []
    for entry in behind:
        task = by_id[entry["id"]]
        closest = entry["closest"]
        limit = task.get("gaussian_limit")
        rows.append(
            [
                task["id"],
                f"{task['dim_x']}x{task['dim_y']}",
                f"{task['mi_true']:.3f}",
                f"{task['infomax-default']['mean']:.3f}",
                f"{BMI_SUITE_LABELS.get(closest, closest)} {task[closest]['mean']:.3f}",
                "-" if limit is None else f"{limit:.3f}",
            ]
        )
    header = ["task", "dims", "true MI", "infomax", "closest bmi estimator", "Gaussian MI, large N"]
    return table(header, rows)


# --------------------------------------------------------------------------- dialogue

DIALOGUE_LABELS = {"infonce": "InfoNCE (x, y)", "demi-bo": "DEMI, I_BO", "demi-is": "DEMI, I_IS"}


def _spread(values: list[float]) -> str:
    """``mean ± half the range`` over seeds, 3 decimals."""
    return pm(float(sum(values) / len(values)), (max(values) - min(values)) / 2, 3)


def dialogue_selection(report: Report) -> str:
    """Recall@1 by objective and budget (mean ± half the range over seeds), then references."""
    name = "dialogue"
    result = report.data(name)
    ks = [str(k) for k in result["config"]["ks"]]
    rows = []
    for budget, label in (("steps", "equal steps"), ("time", "equal time")):
        for objective, text in DIALOGUE_LABELS.items():
            runs = [
                r for r in result["rows"] if (r["budget"], r["objective"]) == (budget, objective)
            ]
            if not runs:
                continue
            subview = [
                _spread([r["selection_subview"][k]["recall"] for r in runs])
                if runs[0]["selection_subview"]
                else "-"
                for k in ks
            ]
            rows.append(
                [
                    text,
                    label + (" (the equal-step runs)" if runs[0]["reused"] else ""),
                    f"{sum(r['steps'] for r in runs) / len(runs):,.0f}",
                    f"{sum(r['cpu_seconds'] for r in runs) / len(runs):.0f}",
                    *[_spread([r["selection"][k]["recall"] for r in runs]) for k in ks],
                    *subview,
                ]
            )
    refs = result["references"]
    for text, key in (
        ("chance, 1/K", "chance"),
        ("Bayes from x' (last utterance), exact", "bayes_subview"),
        ("Bayes from x (whole context), exact", "bayes"),
    ):
        rows.append([text, "", "", "", *[f"{refs[k][key]:.3f}" for k in ks], *[""] * len(ks)])
    rows.append(
        ["exact-ratio scorer from x, these candidates", "", "", "",
         *[f"{refs[k]['oracle']['recall']:.3f}" for k in ks], *[""] * len(ks)]
    )  # fmt: skip
    header = ["objective", "budget", "steps", "train CPU s"]
    header += [f"recall@1, K={k}" for k in ks] + [f"x' critic psi, K={k}" for k in ks]
    info, config = refs["information"], result["config"]
    stderr = max(r["selection"][k]["stderr"] for r in result["rows"] for k in ks)
    log_batch, budget = math.log(config["batch_size"]), result["time_budget"]
    extra = (
        f"\n\nExact information on the test dialogues: I(x; y) = {info['mi_context']:.3f} nats, "
        f"I(x'; y) = {info['mi_subview']:.3f}, I(x; y | x') = {info['cmi']:.3f} "
        f"(batch {config['batch_size']}: InfoNCE's cap log B = {log_batch:.3f}). "
        f"Equal time: {budget['cpu_seconds']:.0f} CPU s of training each, the mean of "
        f"{DIALOGUE_LABELS[budget['slowest']]} at {config['steps']:,} steps. "
        f"{config['n_test']:,} test dialogues, seeds {', '.join(map(str, config['seeds']))}; one "
        f"run's standard error over test dialogues is at most {stderr:.3f}."
    )
    return (
        table(header, rows, "ll" + "r" * (len(header) - 2))
        + extra
        + "\n\n"
        + report.sources([name])
    )


TABLES: dict[str, Callable[[Report], str]] = {
    fn.__name__: fn
    for fn in (
        staircase_4000,
        staircase_2000,
        staircase_speed,
        matmul_precision,
        staircase_precision_concat,
        staircase_precision_separable,
        estimate_accuracy,
        estimate_accuracy_seeds,
        estimate_accuracy_nonmonotone,
        estimate_accuracy_student_t,
        estimate_deficit,
        estimate_clip,
        estimate_scaling,
        demi_goal,
        demi_all,
        demi_optimal,
        demi_shared,
        cifar_pretrain,
        pretrain_throughput,
        cpc_probe,
        cpc_steps,
        cifar_1core,
        cifar_structural,
        ddp_infonce,
        pair_word2vec,
        pair_audiovisual,
        tcl_overcomplete,
        tcl_one_per_source,
        dialogue_selection,
        estimate_cmi_table,
        bmi_suite_families,
        bmi_suite_tasks,
        bmi_suite_behind,
    )
}
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
HEADER = """\
# Benchmarks

<!-- Generated by `python benchmarks/report.py` from benchmarks/results/*.json and
benchmarks/sections/*.md; edit those, not this file. -->

Current figures only, one section per benchmark. Each table is rendered from the
result files listed under it, each of which records the command that produced it, the
commit, the machine and the date; files marked "metadata reconstructed from git history"
were written before result files carried their metadata. Unless a section says otherwise,
runs used one torch thread on a 2-core CPU machine without a GPU, often shared with
other jobs: ratios against a reference measured in the same run are comparable, absolute
wall times are upper bounds. Earlier figures and how they changed are in the git history
of this file and of `benchmarks/results/`.
"""


def render(report: Report | None = None) -> str:
    """BENCHMARKS.md's text from the section templates and the result files."""
    report = report or Report()
    parts = [HEADER]
    for section in sorted(SECTIONS.glob("*.md")):
        text = section.read_text()
        unknown = set(PLACEHOLDER.findall(text)) - set(TABLES)
        if unknown:
            raise KeyError(f"{section.name}: no table named {sorted(unknown)}")
        parts.append(PLACEHOLDER.sub(lambda m: TABLES[m.group(1)](report), text).strip() + "\n")
    return "\n".join(parts)


def unused_results(report: Report) -> list[str]:
    """Result files that no table read (call after :func:`render`)."""
    return sorted(set(report.files) - report.used)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if BENCHMARKS.md is stale")
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    report = Report()
    text = render(report)
    unused = unused_results(report)
    if unused:
        print(f"warning: result files in no table: {', '.join(unused)}", file=sys.stderr)
    if args.check:
        if not args.out.is_file() or args.out.read_text() != text:
            print(f"{args.out} is stale: run python benchmarks/report.py", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
