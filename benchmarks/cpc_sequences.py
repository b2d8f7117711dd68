"""CPC on the hidden-Markov sequences: probe the latent state from c_t, and InfoNCE per step k.

Trains ``infomax train cpc-seq`` (through :func:`infomax.train.train`) on
sequences of the built-in Markov task, then on held-out sequences:

* a linear probe of the hidden state s_t from the context c_t, next to the
  same probe on a randomly initialised CPC model and on the raw observation x_t;
* the InfoNCE estimate of each prediction step k (nats; it should fall with k),
  next to the MI between the hidden states I(s_t; s_{t+k}), which bounds what
  the context can know about the future.

Usage::

    python benchmarks/cpc_sequences.py --out runs/cpc-seq [--epochs 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from _record import write_result


def state_mi(states: int, stay: float, k: int) -> float:
    """I(s_t; s_{t+k}) in nats for the symmetric sticky chain at stationarity (uniform)."""
    decay = (stay - (1 - stay) / (states - 1)) ** k
    same = 1 / states + (1 - 1 / states) * decay
    other = (1 - same) / (states - 1)
    terms = [same * math.log(same * states)]
    if other > 0:
        terms.append((states - 1) * other * math.log(other * states))
    return sum(terms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/cpc-seq"))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--states", type=int, default=8)
    parser.add_argument("--stay", type=float, default=0.9)
    parser.add_argument("--noise", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=4, help="prediction steps K")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from infomax.checkpoint import load_checkpoint
    from infomax.data.sequences import markov_sequences
    from infomax.evaluation import run_probe
    from infomax.methods.cpc import CPCSequence, cpc_step_losses
    from infomax.train import TrainConfig, train

    x, s = markov_sequences(
        n=5120, length=32, states=args.states, dim=16, stay=args.stay, noise=args.noise,
        seed=args.seed,
    )  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    data = args.out / "markov.npz"
    np.savez(data, x=x[:4096], labels=s[:4096])
    run = args.out / "run"
    shutil.rmtree(run, ignore_errors=True)
    options = {"steps": args.steps}
    started = time.time()
    result = train(
        TrainConfig(
            method="cpc-seq", data=str(data), epochs=args.epochs, batch_size=64, lr=1e-3,
            seed=args.seed, method_options=options, threads=args.threads,
        ),
        run,
        progress=False,
    )  # fmt: skip
    train_seconds = time.time() - started

    trained = CPCSequence(16, **options)
    trained.load_state_dict(load_checkpoint(run / "checkpoint.pt")["model"])
    torch.manual_seed(args.seed + 1)
    random = CPCSequence(16, **options)
    x_train, s_train = torch.from_numpy(x[:4096]), torch.from_numpy(s[:4096]).reshape(-1)
    x_test, s_test = torch.from_numpy(x[4096:]), torch.from_numpy(s[4096:]).reshape(-1)

    def contexts(model: CPCSequence, seqs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model.contexts(seqs)[0].reshape(-1, model.gru.hidden_size)

    probes = {}
    for name, model in (("cpc", trained), ("random", random)):
        probes[name] = run_probe(
            contexts(model, x_train), s_train, contexts(model, x_test), s_test, "linear"
        ).accuracy
    probes["observation"] = run_probe(
        x_train.reshape(-1, 16), s_train, x_test.reshape(-1, 16), s_test, "linear"
    ).accuracy

    per_step = np.zeros(args.steps)
    batches = 0
    with torch.no_grad():
        for start in range(0, len(x_test) - 63, 64):
            c, z = trained.contexts(x_test[start : start + 64])
            per_step += np.array([float(v) for v in cpc_step_losses(c, z, trained.predictors)])
            batches += 1
    cap = math.log(64 * 32)
    steps = [
        {
            "k": k,
            "infonce": cap - per_step[k - 1] / batches,
            "state_mi": state_mi(args.states, args.stay, k),
        }
        for k in range(1, args.steps + 1)
    ]
    report = {
        "train": {"steps": result.steps, "seconds": train_seconds,
                  "sequences_per_second": result.images_per_second},
        "probe_accuracy": probes,
        "chance": 1 / args.states,
        "infonce_cap": cap,
        "per_step": steps,
    }  # fmt: skip
    write_result(args.out / "cpc_sequences.json", report)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"trained {result.steps} steps in {train_seconds:.0f} s")
    print(
        "linear probe of s_t (held out): "
        + ", ".join(f"{k} {v:.3f}" for k, v in probes.items())
        + f" (chance {1 / args.states:.3f})"
    )
    print("| k | InfoNCE (nats) | I(s_t; s_t+k) (nats) |")
    print("|---|---|---|")
    for row in steps:
        print(f"| {row['k']} | {row['infonce']:.3f} | {row['state_mi']:.3f} |")


if __name__ == "__main__":
    main()
