"""DEMI for dialogue: response selection, InfoNCE against DEMI (I_BO, I_IS), equal steps and time.

The synthetic multi-turn corpus of ``infomax.dialogue.corpus`` (a hidden topic
carried across turns and revealed only by earlier utterances, an intent in the
last utterance; the response depends on both) with its exact references: the
Bayes-optimal recall@1 among K candidates from the whole context x and from
the last utterance x' alone, and the exact I(x; y), I(x'; y), I(x; y | x').
Three objectives train the same GRU encoders (``infomax.dialogue.train_dialogue``):

* InfoNCE on (context, response);
* DEMI with I_BO: InfoNCE on (x', y) plus InfoNCE of the boosted critic psi + phi;
* DEMI with I_IS: InfoNCE on (x', y) plus importance-sampled conditional InfoNCE.

Two budgets, each with every seed: equal steps (``--steps`` each), and equal
training time, the slowest objective's mean training time at ``--steps`` (that
objective's equal-step runs are reused; the others train for that long). Training
time is the process's CPU time inside training steps: with one thread it is the
wall time of an idle machine, and unlike wall time it is not inflated by other
jobs sharing the cores. Each
run reports recall@1 on the same test dialogues and candidate sets, and for
DEMI also that of its x' critic psi alone.

Usage::

    python benchmarks/dialogue.py [--out benchmarks/results/dialogue.json] [--threads 1]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from _record import RESULTS, write_result
from infomax.dialogue import DialogueSpec, train_dialogue
from infomax.dialogue.model import OBJECTIVES


def _row(result: Any, budget: str, reused: bool = False) -> dict[str, Any]:
    config = result.config
    return {
        "objective": config["objective"],
        "budget": budget,
        "seed": config["seed"],
        "steps": result.steps,
        "seconds": result.seconds,
        "cpu_seconds": result.cpu_seconds,
        "stopped": result.stopped,
        "reused": reused,
        "selection": result.selection,
        "selection_subview": result.selection_subview,
        "final_mi": result.history[-1][2] if result.history else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(RESULTS / "dialogue.json"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=2500, help="steps of the equal-step runs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--dialogues", type=int, default=20000, help="training dialogues")
    parser.add_argument("--test", type=int, default=2000, help="test dialogues")
    parser.add_argument("--k", type=int, nargs="+", default=[10, 100])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    spec = DialogueSpec()
    common = dict(
        n_train=args.dialogues, n_test=args.test, batch_size=args.batch_size, ks=args.k,
        log_every=250,
    )  # fmt: skip
    start = time.perf_counter()
    references: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    equal_steps: dict[str, list[Any]] = {name: [] for name in OBJECTIVES}
    for seed in args.seeds:  # objectives interleaved, so load changes hit them alike
        for objective in OBJECTIVES:
            result = train_dialogue(
                spec, objective=objective, steps=args.steps, seed=seed,
                with_references=not references, **common,
            )  # fmt: skip
            references = references or result.references
            equal_steps[objective].append(result)
            rows.append(_row(result, "steps"))
            print({k: rows[-1][k] for k in ("objective", "seed", "steps", "cpu_seconds")},
                  {k: v["recall"] for k, v in result.selection.items()}, flush=True)  # fmt: skip
    mean_seconds = {
        name: float(np.mean([r.cpu_seconds for r in runs])) for name, runs in equal_steps.items()
    }
    slowest = max(mean_seconds, key=mean_seconds.__getitem__)
    budget = mean_seconds[slowest]
    for seed_index, seed in enumerate(args.seeds):
        for objective in OBJECTIVES:
            if objective == slowest:
                rows.append(_row(equal_steps[objective][seed_index], "time", reused=True))
                continue
            result = train_dialogue(
                spec, objective=objective, steps=None, seconds=budget, clock="cpu", seed=seed,
                with_references=False, **common,
            )  # fmt: skip
            rows.append(_row(result, "time"))
            print({k: rows[-1][k] for k in ("objective", "seed", "steps", "cpu_seconds")},
                  {k: v["recall"] for k, v in result.selection.items()}, flush=True)  # fmt: skip
    payload = {
        "config": {
            "spec": spec.to_dict(), "steps": args.steps, "seeds": args.seeds,
            "batch_size": args.batch_size, "n_train": args.dialogues, "n_test": args.test,
            "ks": args.k, "encoder": "gru", "threads": args.threads,
        },
        "references": references,
        "time_budget": {
            "cpu_seconds": budget, "slowest": slowest, "mean_cpu_seconds": mean_seconds,
        },
        "rows": rows,
        "seconds": time.perf_counter() - start,
    }  # fmt: skip
    print(f"wrote {write_result(Path(args.out), payload)}")


if __name__ == "__main__":
    main()
