"""Where does ``estimate_mi`` lose nats? Its trained critic against a task's exact log ratio.

Runs :func:`infomax.estimate_mi` with its defaults on a ground-truth task (the
Student-t copula by default, the heavy-tailed task), then scores fresh
rows of the same task with the kept critic (:meth:`MIEstimate.scores`) and
compares them with the exact log density ratio on the same rows:

* the DV value of both critics on the fresh rows (what the read-out would give);
* the pointwise error ``f - f*`` of the DV-normalised critic on the positive pairs
  (mean and standard deviation; a DV deficit of about half its variance is
  expected);
* how much of each partition the top negative pairs carry (is it tail-dominated?);
* the positive-pair error by quantile of ``|x|`` (where does the critic go wrong?).

Variants of the estimate (BENCHMARKS.md, "estimate_mi diagnostics"):
``--seed`` (the data and the estimate), ``--option key=value`` (any
:func:`infomax.estimate_mi` keyword, the value read as JSON, e.g.
``--option dv_weight=1.0 --option heldout=0.2``), and ``--marginal`` (map each
column through its ranks to another marginal before ``estimate_mi``, which then
gets ``preprocess=None``; the ranks are taken over all rows, which carry no
pairing information). ``--fresh-seeds`` scores several fresh row sets and
reports each and their mean; the detailed breakdown uses the first.
``--exact-draws N`` reads out the exact critic on ``N`` more fresh row sets, to
measure the read-out's own bias and spread.

The exact critic is also read out on the estimate's own test rows, which splits
the held-out read-out's error into the draw of those rows and the critic's deficit
(the reported estimate, that read-out raised toward the training rows' one, is
recorded beside it).
``--ensemble N`` trains ``N - 1`` more critics on the same split (``split_seed``
fixed, ``seed`` varied) and reads out the mean of the ``N`` critics' scores on
the test rows and on the fresh rows: what averaging away the training's own
spread would gain.

Usage::

    .venv/bin/python benchmarks/estimate_diagnostics.py [--task student-t|gaussian|spiral]
        [--rows 7500] [--seed 0] [--option KEY=JSON ...] [--marginal normal|logistic|laplace|t5]
        [--fresh-seeds 1,2] [--exact-draws 8] [--ensemble 3]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from scipy.special import logsumexp

from _record import write_result


def _log_mean_exp(values: np.ndarray) -> float:
    return float(logsumexp(values) - np.log(values.size))


#: Target quantile functions of ``--marginal``, each scaled to unit variance.
MARGINALS = ("normal", "logistic", "laplace", "t5")


def remap_marginals(data: np.ndarray, marginal: str) -> np.ndarray:
    """Map each column through its mid-ranks to ``marginal``'s quantiles: (N, d) -> (N, d)."""
    from scipy import special, stats

    ranks = stats.rankdata(data, axis=0)
    u = (ranks - 0.5) / data.shape[0]
    if marginal == "normal":
        out = special.ndtri(u)
    elif marginal == "logistic":
        out = special.logit(u) * np.sqrt(3.0) / np.pi
    elif marginal == "laplace":
        out = np.where(u < 0.5, np.log(2 * u), -np.log(2 * (1 - u))) / np.sqrt(2.0)
    elif marginal == "t5":
        out = stats.t.ppf(u, 5) / np.sqrt(5.0 / 3.0)
    else:
        raise ValueError(f"unknown marginal {marginal!r}; choose from {', '.join(MARGINALS)}")
    return out.astype(np.float32)


def _option(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _dv(scores: np.ndarray) -> float:
    """DV over all off-diagonal negatives of a square score matrix, nats."""
    off = ~np.eye(scores.shape[0], dtype=bool)
    return float(np.diag(scores).mean() - _log_mean_exp(scores[off]))


def main(argv: list[str] | None = None, **extra_options: object) -> int:
    """Run the diagnosis; ``extra_options`` go to ``estimate_mi`` too (e.g. a critic factory)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="student-t", choices=("student-t", "gaussian", "spiral"))
    parser.add_argument("--samples", type=int, default=50_000, help="rows given to estimate_mi")
    parser.add_argument("--rows", type=int, default=7500, help="fresh rows scored afterwards")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and the estimate")
    parser.add_argument(
        "--option", type=_option, action="append", default=[], metavar="KEY=JSON",
        help="an estimate_mi keyword, e.g. dv_weight=1.0 or preprocess=\"standardize\"",
    )  # fmt: skip
    parser.add_argument("--marginal", choices=MARGINALS, default=None)
    parser.add_argument("--fresh-seeds", default="1", help="comma-separated seeds of fresh rows")
    parser.add_argument("--exact-draws", type=int, default=0, help="extra exact read-outs")
    parser.add_argument(
        "--ensemble", type=int, default=1, help="critics trained on the same split, averaged"
    )
    parser.add_argument("--json", dest="json_out", default=None)
    args = parser.parse_args(argv)
    options = {**dict(args.option), **extra_options}
    fresh_seeds = [int(v) for v in args.fresh_seeds.split(",")]
    if args.seed in fresh_seeds:
        parser.error("a fresh seed equal to --seed would score the training rows again")

    import torch

    from infomax import distributions as D
    from infomax import estimate_mi
    from infomax.estimate import DEFAULTS
    from infomax.fit import split_rows

    torch.set_num_threads(args.threads)
    if args.task == "student-t":
        task = D.student_t(dim=5, dof=3.0, mi=2.0)
    elif args.task == "spiral":
        task = D.spiral(dim=5, mi=2.0)
    else:
        task = D.correlated_gaussian(dim=20, mi=10.0)
    x_raw, y_raw = task.sample(args.samples, seed=args.seed)
    x, y = x_raw, y_raw
    if args.marginal is not None:
        x, y = remap_marginals(x, args.marginal), remap_marginals(y, args.marginal)
        options["preprocess"] = None
    start = time.perf_counter()
    result = estimate_mi(x, y, seed=args.seed, progress=False, **options)
    seconds = time.perf_counter() - start

    def score(estimate: object, xr: np.ndarray, yr: np.ndarray) -> np.ndarray:
        """A trained critic's scores of raw rows (remapped as its training rows were)."""
        if args.marginal is not None:  # the critic sees remapped rows; ranks of the fresh set
            xr, yr = remap_marginals(xr, args.marginal), remap_marginals(yr, args.marginal)
        return estimate.scores(xr, yr)  # type: ignore[attr-defined]

    def fresh(
        seed: int, score_rows: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Fresh raw x rows, the trained critic's scores (if ``score_rows``), the exact scores."""
        xr, yr = task.sample(args.rows, seed=seed)
        exact = task.log_density_ratio(torch.from_numpy(xr), torch.from_numpy(yr)).numpy()
        return xr, score(result, xr, yr) if score_rows else None, exact

    fresh_dv = []
    for seed in fresh_seeds:
        xr, trained_r, exact_r = fresh(seed)
        assert trained_r is not None
        fresh_dv.append({"seed": seed, "trained": _dv(trained_r), "exact": _dv(exact_r)})
        if seed == fresh_seeds[0]:  # the detailed breakdown below uses the first set
            xf, trained, exact = xr, trained_r, exact_r
    off = ~np.eye(args.rows, dtype=bool)
    out: dict[str, object] = {
        "task": task.label,
        "true_mi": task.mi,
        "seed": args.seed,
        "options": {
            key: value if isinstance(value, (int, float, str, type(None))) else repr(value)
            for key, value in options.items()
        },
        "marginal": args.marginal,
        "estimate": result.mi,
        "heldout_estimate": result.info["heldout_estimate"],
        "training_readout": result.info["training_readout"],
        "stderr": result.stderr,
        "seconds": seconds,
        "fresh_dv": fresh_dv,
        "fresh_dv_mean": {
            name: float(np.mean([row[name] for row in fresh_dv])) for name in ("trained", "exact")
        },
    }
    normalised = {}
    for name, scores in (("trained", trained), ("exact", exact)):
        shifted = scores - _log_mean_exp(scores[off])
        normalised[name] = shifted
        partition = np.sort(np.exp(shifted[off]))[::-1]
        out[name] = {
            "dv_on_fresh_rows": float(np.diag(shifted).mean()),
            "partition_share_top100": float(partition[:100].sum() / partition.sum()),
            "partition_share_top10000": float(partition[:10000].sum() / partition.sum()),
        }
    error = np.diag(normalised["trained"]) - np.diag(normalised["exact"])
    out["positive_error_mean"] = float(error.mean())
    out["positive_error_std"] = float(error.std())
    radius = np.linalg.norm(xf, axis=1)
    edges = np.quantile(radius, [0.0, 0.5, 0.9, 0.99, 1.0])
    by_radius = []
    for lo, hi, label in zip(
        edges[:-1], edges[1:], ("0-50%", "50-90%", "90-99%", "99-100%"), strict=True
    ):
        rows = (radius >= lo) & (radius <= hi)
        by_radius.append(
            {"quantile": label, "rows": int(rows.sum()), "error": float(error[rows].mean())}
        )
    out["error_by_x_norm"] = by_radius
    if args.exact_draws:
        draws = [_dv(fresh(10_000 + k, score_rows=False)[2]) for k in range(args.exact_draws)]
        out["exact_readout"] = {
            "draws": args.exact_draws, "mean": float(np.mean(draws)), "std": float(np.std(draws)),
        }  # fmt: skip

    # The estimate's own test rows (the remapped data has the same rows, so the same split).
    heldout = float(options.get("heldout", DEFAULTS["heldout"]))
    _, _, test = split_rows(x.shape[0], heldout, args.seed)
    x_test, y_test = x_raw[test], y_raw[test]
    exact_test = task.log_density_ratio(torch.from_numpy(x_test), torch.from_numpy(y_test))
    out["exact_on_test_rows"] = _dv(exact_test.numpy().astype(np.float64))
    if args.ensemble > 1:
        xr, yr = task.sample(args.rows, seed=fresh_seeds[0])  # the first fresh set again
        test_scores = [score(result, x_test, y_test)]
        fresh_scores = [trained]
        members = [result.mi]
        for k in range(1, args.ensemble):
            member = estimate_mi(
                x, y, seed=1000 * k + args.seed, split_seed=args.seed, progress=False, **options
            )
            members.append(member.mi)
            test_scores.append(score(member, x_test, y_test))
            fresh_scores.append(score(member, xr, yr))
        out["ensemble"] = {
            "members": args.ensemble,
            "member_estimates": members,
            "test_rows": _dv(np.mean(test_scores, axis=0, dtype=np.float64)),
            f"fresh_rows_{fresh_seeds[0]}": _dv(np.mean(fresh_scores, axis=0, dtype=np.float64)),
            "member_fresh_rows": [_dv(np.asarray(s, dtype=np.float64)) for s in fresh_scores],
        }

    print(
        f"{task.label}: true MI {task.mi:.3f}, estimate {result.mi:.3f} (held out "
        f"{result.info['heldout_estimate']:.3f} ± {result.stderr:.3f}; {seconds:.0f} s); "
        f"exact critic on the same test rows {out['exact_on_test_rows']:.3f}"
    )
    if args.ensemble > 1:
        ens = out["ensemble"]
        assert isinstance(ens, dict)
        print(
            f"ensemble of {args.ensemble} critics on one split: members "
            + ", ".join(f"{v:.3f}" for v in ens["member_estimates"])
            + f"; averaged scores: test rows {ens['test_rows']:.3f}, fresh rows "
            + f"{ens[f'fresh_rows_{fresh_seeds[0]}']:.3f} (members "
            + ", ".join(f"{v:.3f}" for v in ens["member_fresh_rows"])
            + ")"
        )
    for name in ("trained", "exact"):
        row = out[name]
        assert isinstance(row, dict)
        print(
            f"{name:>8} critic on {args.rows} fresh rows: DV {row['dv_on_fresh_rows']:.3f}, "
            f"top 100 / 10,000 negatives carry {row['partition_share_top100']:.1%} / "
            f"{row['partition_share_top10000']:.1%} of the partition"
        )
    print(
        f"positive-pair error of the trained critic: mean {error.mean():.3f}, "
        f"std {error.std():.3f} nats (half its variance: {error.var() / 2:.3f})"
    )
    print(
        f"DV on fresh row sets (seeds {args.fresh_seeds}): trained "
        + ", ".join(f"{row['trained']:.3f}" for row in fresh_dv)
        + f" (mean {out['fresh_dv_mean']['trained']:.3f}), exact "  # type: ignore[index]
        + ", ".join(f"{row['exact']:.3f}" for row in fresh_dv)
    )
    if args.exact_draws:
        readout = out["exact_readout"]
        print(f"exact critic over {args.exact_draws} draws of {args.rows} rows: {readout}")
    print(
        "error by |x| quantile: "
        + ", ".join(f"{r['quantile']} {r['error']:.2f}" for r in by_radius)
    )
    if args.json_out:
        write_result(args.json_out, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
