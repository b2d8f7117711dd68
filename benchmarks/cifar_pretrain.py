"""CIFAR-10: the same wall-clock pre-training budget for each method, then frozen-feature probes.

Phase ``train`` runs ``infomax.train.train`` for each method in turn with a
``--minutes`` budget (default 20) on the DIM conv encoder; a method whose run
folder already finished its budget is skipped, and an interrupted one resumes.
Phase ``probe`` fits the linear probe on the frozen conv features of every run
(full 50,000-image training set, scored on the 10,000 test images), next to
the same probe on a randomly initialised encoder (BatchNorm statistics from
the data) and on raw pixels, and writes ``probes.json`` and a Markdown table.

Usage::

    python benchmarks/cifar_pretrain.py train --data ../shared/data/cifar10-jpg.tar.gz
    python benchmarks/cifar_pretrain.py probe --data ../shared/data/cifar10-jpg.tar.gz
    python benchmarks/cifar_pretrain.py summary --seeds 0,1 --runs ...   # mean and spread

``benchmarks/cifar_demi_compare.sh`` and ``benchmarks/cifar_structural.sh`` run
named pairs of :data:`RUNS` side by side on one core each.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from _record import read_result, write_result

#: name -> (method, TrainConfig overrides)
RUNS: dict[str, tuple[str, dict[str, Any]]] = {
    "dim-local-infonce": ("dim-local", {"lr": 5e-4, "method_options": {"estimator": "infonce"}}),
    "simclr": ("simclr", {"lr": 1e-3}),
    "dim-local-jsd": ("dim-local", {"lr": 5e-4, "method_options": {"estimator": "jsd"}}),
    "dim-global": ("dim-global", {"lr": 5e-4, "method_options": {"estimator": "infonce"}}),
    # DEMI and its baselines: SimCLR's views, head, temperature and learning rate.
    "demi-bo": ("demi", {"lr": 1e-3, "method_options": {"conditional": "bo"}}),
    "demi-is": ("demi", {"lr": 1e-3, "method_options": {"conditional": "is"}}),
    "multiview": ("multiview", {"lr": 1e-3}),
    # DIM(G) with y of one view against the feature map of another (SimCLR's views).
    "dim-global-2view": (
        "dim-global",
        {"lr": 5e-4, "augment": "simclr", "method_options": {"estimator": "infonce", "views": 2}},
    ),
    "dim-global-2view-g01": (
        "dim-global",
        {
            "lr": 5e-4,
            "augment": "simclr",
            "method_options": {"estimator": "infonce", "views": 2, "gamma": 0.1},
        },
    ),
    # CPC on the patch grid: the DIM conv layers applied to each 8x8 patch (patch-dim).
    "cpc": ("cpc", {"lr": 1e-3}),
    # DIM's structural tasks (issue 17, section 3): DIM(L) with y from an occluded view,
    # with the coordinate-prediction heads, and with both.
    "dim-local-occlude": (
        "dim-local",
        {"lr": 5e-4, "method_options": {"estimator": "infonce", "occlude": 0.25}},
    ),
    "dim-local-coord": (
        "dim-local",
        {"lr": 5e-4, "method_options": {"estimator": "infonce", "coord": 1.0}},
    ),
    "dim-local-both": (
        "dim-local",
        {"lr": 5e-4, "method_options": {"estimator": "infonce", "occlude": 0.25, "coord": 1.0}},
    ),
    # CPC v2's changes (issue 17, section 4), one at a time against "cpc".
    "cpc-all-dirs": ("cpc", {"lr": 1e-3, "method_options": {"directions": "all"}}),
    "cpc-layernorm": ("cpc", {"lr": 1e-3, "encoder_options": {"norm": "layer"}}),
    "cpc-patchaug": ("cpc", {"lr": 1e-3, "method_options": {"patch_aug": True}}),
}

#: The runs of the representation-learning comparison (the default of --runs).
DEFAULT_RUNS = ("dim-local-infonce", "simclr", "dim-local-jsd", "dim-global")


def _finished(run: Path, minutes: float) -> bool:
    summary = run / "summary.json"
    if not summary.is_file():
        return False
    done = json.loads(summary.read_text())
    return done.get("stopped") in ("minutes", "epochs") and done["seconds"] >= minutes * 60 - 1


def run_training(args: argparse.Namespace) -> None:
    from infomax.train import TrainConfig, train

    for name in args.runs:
        method, overrides = RUNS[name]
        run = args.out / f"{name}-s{args.seed}"
        if _finished(run, args.minutes):
            print(f"{name}: done already ({run})", flush=True)
            continue
        config = TrainConfig(
            method=method, data=args.data, minutes=args.minutes, batch_size=args.batch_size,
            seed=args.seed, threads=args.threads, **overrides,
            **({"log_every": args.log_every} if args.log_every else {}),
        )  # fmt: skip
        resume = (run / "checkpoint.pt").is_file()
        started = time.time()
        result = train(config, run, resume=resume, progress=False)
        if result.stopped == "signal":
            raise SystemExit(f"{name}: stopped by signal {result.signal}; rerun to resume")
        print(
            f"{name}: {result.steps} steps, {result.epochs_done} epochs, "
            f"{result.images_per_second:.0f} img/s, views {result.view_share:.1%}, "
            f"last {result.last}, wall {time.time() - started:.0f}s",
            flush=True,
        )


def run_probes(args: argparse.Namespace) -> None:
    from infomax.data import load_dataset
    from infomax.evaluation import evaluate_encoder, evaluate_pixels, probe_to_json
    from infomax.train.run_folder import build_encoder, load_encoder, read_run_config

    train_data = load_dataset(args.data, "train")
    test_data = load_dataset(args.data, "test")
    results: dict[str, Any] = {}
    path = args.out / f"probes-s{args.seed}.json"
    if path.is_file():
        results = read_result(path)

    def record(key: str, result: Any, extra: dict[str, Any]) -> None:
        results[key] = {**probe_to_json(result), **extra}
        write_result(path, results)
        print(f"{key}: {results[key]['accuracy']:.4f}", flush=True)

    for name in args.runs:
        run = args.out / f"{name}-s{args.seed}"
        if name in results or not (run / "checkpoint.pt").is_file():
            continue
        encoder, config = load_encoder(run)
        summary = json.loads((run / "summary.json").read_text())
        result = evaluate_encoder(
            encoder, train_data, test_data, probe=args.probe, layer=args.layer,
            mean=config.mean, std=config.std, seed=args.seed,
        )  # fmt: skip
        record(name, result, {"pretrain": summary})
    # One randomly initialised baseline per encoder (and encoder options) among the runs
    # (cpc uses patch-dim; cpc-layernorm patch-dim with norm=layer).
    seen: set[str] = set()
    for name in args.runs:
        run = args.out / f"{name}-s{args.seed}"
        if not (run / "config.json").is_file():
            continue
        config = read_run_config(run)
        key = random_key(config.encoder, config.encoder_options)
        if key in seen or key in results:
            seen.add(key)
            continue
        seen.add(key)
        torch.manual_seed(args.seed)
        encoder = build_encoder(config)
        result = evaluate_encoder(
            encoder, train_data, test_data, probe=args.probe, layer=args.layer,
            mean=config.mean, std=config.std, seed=args.seed, recalibrate=True,
        )  # fmt: skip
        record(key, result, {})
    if "raw-pixels" not in results:
        record("raw-pixels", evaluate_pixels(train_data, test_data, probe=args.probe), {})
    print_table(results)


def random_key(encoder: str, options: dict[str, Any]) -> str:
    """The name of a randomly initialised encoder's probe: "random-encoder" for dim-conv,
    "random-<encoder>" otherwise, with "-<option>=<value>" for each encoder option."""
    key = "random-encoder" if encoder == "dim-conv" else f"random-{encoder}"
    return key + "".join(f"-{k}={v}" for k, v in sorted(options.items()))


def print_table(results: dict[str, Any]) -> None:
    """A Markdown table of probe accuracy with each run's pre-training figures."""
    print("| run | linear probe (conv) | steps | epochs | images/s | views share |")
    print("|---|---|---|---|---|---|")
    for name, row in results.items():
        done = row.get("pretrain")
        figures = (
            f"{done['steps']} | {done['steps'] * 128 / 50000:.1f} | "
            f"{done['images_per_second']:.0f} | {done['view_share']:.1%}"
            if done
            else "- | - | - | -"
        )
        print(f"| {name} | {100 * row['accuracy']:.2f}% | {figures} |")


def summarise(args: argparse.Namespace) -> None:
    """Across seeds: each run's probe accuracy per seed, mean and spread (max - min)."""
    seeds = [int(s) for s in args.seeds.split(",")]
    tables = {}
    for seed in seeds:
        path = args.out / f"probes-s{seed}.json"
        if path.is_file():
            tables[seed] = read_result(path)
    randoms = sorted({n for t in tables.values() for n in t if n.startswith("random-")})
    names = [n for n in [*args.runs, *randoms, "raw-pixels"]
             if any(n in t for t in tables.values())]  # fmt: skip
    header = " | ".join(f"seed {s}" for s in seeds)
    print(f"| run | {header} | mean | spread | images/s | steps |")
    print(f"|---|{'---|' * len(seeds)}---|---|---|---|")
    summary: dict[str, Any] = {}
    for name in names:
        rows = {s: tables[s][name] for s in seeds if s in tables and name in tables[s]}
        accuracies = [100 * rows[s]["accuracy"] for s in rows]
        cells = " | ".join(f"{100 * rows[s]['accuracy']:.2f}%" if s in rows else "-" for s in seeds)
        pretrain = [rows[s]["pretrain"] for s in rows if "pretrain" in rows[s]]
        speed = (
            f"{sum(p['images_per_second'] for p in pretrain) / len(pretrain):.0f} | "
            f"{sum(p['steps'] for p in pretrain) / len(pretrain):.0f}"
            if pretrain
            else "- | -"
        )
        mean = sum(accuracies) / len(accuracies)
        spread = max(accuracies) - min(accuracies)
        summary[name] = {"accuracies": accuracies, "mean": mean, "spread": spread}
        print(f"| {name} | {cells} | {mean:.2f}% | {spread:.2f} | {speed} |")
    write_result(args.out / args.summary_file, summary)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phase", choices=("train", "probe", "summary"))
    parser.add_argument("--data", default="../shared/data/cifar10-jpg.tar.gz")
    parser.add_argument("--out", type=Path, default=Path("runs/cifar"))
    parser.add_argument(
        "--runs", default=",".join(DEFAULT_RUNS), help=f"comma-separated, of {', '.join(RUNS)}"
    )
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", default="0,1", help="summary: the seeds to put side by side")
    parser.add_argument(
        "--summary-file", default="summary.json", help="summary: file name written under --out"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--log-every", type=int, help="train: steps between log lines")
    parser.add_argument("--probe", default="linear")
    parser.add_argument("--layer", default="conv")
    args = parser.parse_args()
    args.runs = [name for name in args.runs.split(",") if name]
    unknown = [name for name in args.runs if name not in RUNS]
    if unknown:
        parser.error(f"unknown run {unknown[0]!r}; use {', '.join(RUNS)}")
    torch.set_num_threads(args.threads)
    if args.phase == "train":
        run_training(args)
    elif args.phase == "probe":
        run_probes(args)
    else:
        summarise(args)


if __name__ == "__main__":
    main()
