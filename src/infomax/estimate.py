"""One-call MI estimation on a user's arrays: :func:`estimate_mi` and :func:`estimate_cmi`.

The recipe, and where each step lives:

1. **Validate** the arrays once (:mod:`infomax.validation`): shape, NaN/inf,
   constant columns, enough rows. Bad input is an :class:`~infomax.validation.InputError`.
2. **Split** the rows at random into a training set (fits the critic), a
   validation set (chooses when to stop) and a test set (reports the
   estimate) (:func:`infomax.fit.split_rows`). The all-pairs read-out is
   quadratic in the held-out rows, so both held-out sets are capped; on
   larger data the rest train.
3. **Preprocess** each column with a transform fitted on the training rows
   (:mod:`infomax.preprocess`; the rank / copula transform by default).
4. **Start** the quadratic critic at the best elliptical copula fitted to the
   training rows (:mod:`infomax.warm_start`), a candidate the validation rows
   judge like any checkpoint; the grid critic at its plug-in table.
5. **Train** it (:class:`infomax.fit.Training`; with ``critic="auto"`` the
   critics of :func:`auto_critics` race, :mod:`infomax.race`): Adam on fresh
   minibatches, the learning rate decaying on a cosine for a single bound,
   the validation estimate every ``eval_every`` steps, the best checkpoint
   kept, early stopping after ``patience`` evaluations without improvement.
   The race's winner is blended with another candidate where the blend reads
   higher on the validation rows (:mod:`infomax.blend`).
6. **Read out** the trained critic on the test rows with its standard error: the
   DV estimate over *all* pairs of the test rows where the bound's estimate is DV
   and the critic is separable (:mod:`infomax.bounds.all_pairs`), else the
   bound's estimate averaged over disjoint test batches.
7. **Report** that held-out read-out raised half-way toward the same read-out
   on the training rows, and the 90% interval between them
   (:mod:`infomax.bracket`).

Why these defaults (``bound="contrastive_dv"``, the quadratic critic among those raced):

* **Read-out over all pairs.** At large MI the DV partition is carried by the
  rare negative pairs that nearly match, a fraction about ``e^{-I}`` of them:
  a batch has too few (InfoNCE cannot exceed ``log B``), ``N`` test rows give
  ``N^2`` pairs.
* **Training: symmetric InfoNCE plus DV**
  (:func:`~infomax.bounds.contrastive_dv_objective`): InfoNCE is low-variance
  and its optimum is the log density ratio up to a constant the DV read-out
  ignores; the DV term pushes down the negatives scored too high, the pairs
  the read-out is most sensitive to.
* **Critic: quadratic model plus MLP residual**
  (:class:`~infomax.critics.QuadraticSeparableCritic`): after the rank
  transform the marginals are normal, and the log ratio of a Gaussian copula
  is quadratic; the MLP learns deviations.

Nothing here knows the true MI or assumes Gaussian data; on independent data
the estimate is about 0. Measured accuracy and wall time: BENCHMARKS.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from infomax import fit
from infomax.blend import blend
from infomax.bounds import bound_names
from infomax.bracket import bracket, midpoint, training_readout
from infomax.objectives import (
    REFERENCE_BOUNDS,
    CriticObjective,
    CriticSpec,
    Objective,
    build_objective,
)
from infomax.objectives.critic import unknown_bound
from infomax.preprocess import make_preprocess
from infomax.progress import Progress
from infomax.race import race
from infomax.repeats import repeated_estimate
from infomax.result import MIEstimate
from infomax.safeguards import (
    DEFAULT_BATCH_SIZE,
    MIN_AUTO_BATCH,
    auto_batch_size,
    check_width,
    min_rows,
    range_warnings,
    readout_cap,
)
from infomax.scorer import CriticScorer
from infomax.validation import InputError, validate_conditioning, validate_pair
from infomax.warm_start import INITS, warm_start

__all__ = ["AUTO_CRITICS", "DEFAULTS", "estimate_cmi", "estimate_mi"]

#: The critics ``critic="auto"`` trains for a single bound; the validation rows choose.
#: The quadratic one (warm-started at a fitted copula) is exact where the rank transform
#: leaves a Gaussian or Student-t copula; the separable MLP makes no such assumption and
#: learns non-monotone dependence that the quadratic one's start steers it away from.
AUTO_CRITICS = ("quadratic", "separable")
#: Joined by this one where each side has a single column (:mod:`infomax.critics.grid`).
AUTO_GRID = "grid"


def auto_critics(x_dim: int, y_dim: int) -> tuple[str, ...]:
    """The candidates of ``critic="auto"`` for a single bound on ``x_dim`` and ``y_dim`` columns."""
    return AUTO_CRITICS + ((AUTO_GRID,) if x_dim == 1 and y_dim == 1 else ())


#: Defaults of :func:`estimate_mi`, chosen on the tasks of BENCHMARKS.md.
DEFAULTS: dict[str, Any] = {
    "bound": "contrastive_dv",
    "critic": "auto",
    "batch_size": DEFAULT_BATCH_SIZE,
    "eval_batch_size": 1024,
    "steps": 2500,
    "lr": 1e-3,
    "heldout": 0.3,
    "eval_every": 250,
    "patience": 4,
    "preprocess": "rank",
    "init": "elliptical",
}


def estimate_mi(
    x: Any,
    y: Any,
    *,
    bound: str = DEFAULTS["bound"],
    critic: CriticSpec = DEFAULTS["critic"],
    batch_size: int | None = None,
    eval_batch_size: int | None = None,
    steps: int = DEFAULTS["steps"],
    lr: float = DEFAULTS["lr"],
    heldout: float = DEFAULTS["heldout"],
    eval_every: int = DEFAULTS["eval_every"],
    patience: int = DEFAULTS["patience"],
    preprocess: str | None = DEFAULTS["preprocess"],
    init: str | None = DEFAULTS["init"],
    seed: int = 0,
    split_seed: int | None = None,
    max_seconds: float | None = None,
    progress: bool | None = None,
    subviews: Sequence[int] | Sequence[Callable[[Tensor], Tensor]] | None = None,
    conditional: str = "is",
    given: Any = None,
    critic_kwargs: dict[str, Any] | None = None,
    objective: Objective | None = None,
    repeats: int = 1,
    **bound_kwargs: Any,
) -> MIEstimate:
    """Estimate I(x; y) in nats from paired samples, reported on held-out rows.

    Args:
        x: (N, d_x) samples (numpy array, tensor or nested list; 1-D is one column).
        y: (N, d_y) samples paired row by row with ``x``.
        bound: a bound of the registry (:data:`infomax.bounds.BOUNDS`):
            ``contrastive_dv`` (default: symmetric InfoNCE + DV training, DV
            read-out over all held-out pairs), ``smile``, ``infonce``, ``nwj``,
            ``tuba``, ``dv``, ``mine``, ``jsd``, ``interpolated``; or the
            non-neural ``ksg`` and ``gaussian`` (see :mod:`infomax.reference`).
        critic: ``auto`` (default): for a single bound, the critics of
            :func:`auto_critics` race (:func:`infomax.race.race`: trained side by
            side, one that cannot catch up stops early) and the one with the best
            validation estimate reports (``info["critic"]``; each one's best
            validation estimate and steps run in ``info["critic_candidates"]``,
            ``info["critic_steps"]``), blended with another candidate where the blend
            reads higher on the validation rows (``info["blend"]``: the partner and its
            weight, or None; :mod:`infomax.blend`);
            with ``subviews``, ``separable``. Or one of ``quadratic``
            (:class:`~infomax.critics.QuadraticSeparableCritic`), ``separable``,
            ``grid`` (:class:`~infomax.critics.CopulaGridCritic`, one column a side;
            with a start it is fitted by counting and not trained), ``bilinear``,
            ``concat``; or your own critic, as a factory
            ``critic(x_dim, y_dim, **critic_kwargs)`` returning an ``nn.Module``
            that maps x (B, d_x) and y (M, d_y) to scores (B, M), nats. A subclass
            of :class:`~infomax.critics.QuadraticSeparableCritic` gets the warm
            start; a :class:`~infomax.critics.Critic` that declares embeddings gets
            the all-pairs read-out, any other module the batched one. Single-bound
            estimates only (not with ``subviews``). ``concat`` runs its MLP on all
            ``B^2`` pairs of a batch, so lower ``batch_size`` with it.
        batch_size: training minibatch size (InfoNCE is capped at its log). None:
            ``DEFAULTS["batch_size"]``, or on small data the largest size that
            leaves the held-out sets an evaluation batch each
            (:func:`infomax.safeguards.auto_batch_size`).
        eval_batch_size: batch size of the held-out estimate (default
            ``max(batch_size, 1024)``, or ``batch_size`` with ``subviews``;
            lowered where needed so the held-out rows give at least 4 batches).
        steps: maximum training steps.
        lr: Adam learning rate; for a single bound the peak of a cosine decay
            to 0 over ``steps``.
        heldout: fraction of rows held out (half to choose the checkpoint,
            half to report the estimate), at most :data:`MAX_VALIDATION_ROWS`
            (10,000) and :data:`MAX_TEST_ROWS` (30,000) rows; the rest train.
        eval_every: steps between validation estimates.
        patience: evaluations without improvement before early stopping.
        preprocess: ``rank`` (copula transform, default), ``standardize`` or ``None``.
        init: ``elliptical`` (default): the quadratic critic starts at the log
            density ratio of the best of a Gaussian and several Student-t copulas
            fitted to the training rows, chosen on the validation rows (the choice
            is in ``info["start"]``, ``info["start_dof"]``; :mod:`infomax.warm_start`);
            ``gaussian``: the Gaussian one only; ``None``: at zero. The grid critic
            starts at its plug-in table (knots and smoothing in ``info["grid_knots"]``,
            ``info["grid_smoothing"]``) unless ``init`` is None, when it starts at zero
            and trains. Other critics ignore it.
        seed: seeds the split, the critic's initialisation and the batch order.
        split_seed: seeds the train / validation / test split instead of ``seed``
            (None: ``seed``). Fixing it while varying ``seed`` retrains on the same
            rows, which separates the training's own spread from the split's.
        max_seconds: wall-clock training budget (shared by the candidate critics).
        progress: progress bar (None: only on a terminal).
        subviews: DEMI chain-rule decomposition over nested sub-views of x:
            prefix widths ``[w_1, ..., w_{n-1}]`` (x_k = x[:, :w_k], x_n = x).
        conditional: DEMI's conditional estimator: ``is``, ``bo`` or ``var``.
        given: (N, d_z) conditioning samples ``z``: estimate by the chain rule
            over the joint view ``[z, x]`` with the sub-view ``z`` (what
            :func:`estimate_cmi` reports); not with ``subviews``.
        critic_kwargs: passed to the critic (e.g. ``hidden=(512, 512)``).
        objective: a ready-made :class:`~infomax.objectives.Objective`
            (overrides ``bound``/``critic``/``subviews``).
        repeats: run the whole estimate this many times, each on its own split
            with its own training seed (``seed``, ``seed + 1``, ...), and report
            their mean, with ``stderr`` and ``ci90`` from their spread plus the
            rows' own sampling error, which covers retraining as one estimate's
            read-out error cannot (:mod:`infomax.repeats`). Costs ``repeats``
            times the time.
        **bound_kwargs: bound options (``tau`` for SMILE, ``alpha`` for interpolated,
            ``dv_weight``, ``momentum``, ``cap_negatives=False`` for the all-pairs DV
            without its clip; see :class:`~infomax.objectives.CriticObjective`); for
            ``ksg``, :data:`infomax.reference.KSG_OPTIONS` (``k``, ``jitter``, ...).
            The non-neural estimators ignore the training options.

    Returns:
        :class:`~infomax.result.MIEstimate` with ``mi`` (nats; the held-out
        read-out raised toward the training rows' one, :func:`infomax.bracket.midpoint`;
        the neural estimators keep the held-out read-out in
        ``info["heldout_estimate"]``), ``stderr`` (nats, the held-out read-out's),
        ``ci90``, the training ``history`` and the validation curve; ``terms`` holds
        the chain-rule terms when ``subviews`` is given.

    Raises:
        InputError: bad arrays or options, with a one-line message.
    """
    if repeats != 1:
        if bound in REFERENCE_BOUNDS or objective is not None:
            raise InputError("repeats is for the neural estimators built here")
        options = {k: v for k, v in locals().items() if k not in ("repeats", "bound_kwargs")}
        return repeated_estimate(estimate_mi, repeats, **options, **bound_kwargs)
    if bound in REFERENCE_BOUNDS and subviews is None and given is None and objective is None:
        from infomax.reference import reference_estimate

        return reference_estimate(bound, x, y, **bound_kwargs)
    if bound not in bound_names() and objective is None:
        raise unknown_bound(bound)
    if objective is not None and not isinstance(objective, Objective):
        raise InputError(
            f"objective must be an infomax.objectives.Objective, got {type(objective).__name__}"
        )
    if given is not None and subviews is not None:
        raise InputError("given and subviews cannot be combined: given z sets the sub-view")
    auto_batch = batch_size is None
    if auto_batch:
        batch_size = MIN_AUTO_BATCH
    if batch_size < 2:
        raise InputError(f"batch_size must be at least 2, got {batch_size}")
    if init not in INITS:
        raise InputError(f"unknown init {init!r}; choose elliptical, gaussian or None")
    if callable(critic) and (subviews is not None or given is not None):
        raise InputError("a critic factory is for single-bound estimates; with subviews, name one")
    # DEMI's conditional terms depend on K, so by default they are read out at the training K.
    chain = subviews is not None or given is not None
    xa, ya = validate_pair(x, y, min_samples=min_rows(batch_size, heldout))
    if auto_batch:
        batch_size = auto_batch_size(xa.shape[0], heldout)
    eval_batch_size = eval_batch_size or (batch_size if chain else max(batch_size, 1024))
    if given is not None:
        za = validate_conditioning(given, xa.shape[0])
        xa, subviews = np.concatenate([za, xa], axis=1), [za.shape[1]]
    train_idx, val_idx, test_idx = fit.split_rows(
        xa.shape[0], heldout, seed if split_seed is None else split_seed
    )
    if len(train_idx) < batch_size:
        raise InputError(
            f"only {len(train_idx)} training rows for batch size {batch_size}; "
            "lower --batch-size or --heldout, or give more samples"
        )
    check_width(xa.shape[1] + ya.shape[1], len(train_idx))
    # At least 4 held-out batches, so the standard error is defined (never below batch_size).
    eval_batch_size = min(
        eval_batch_size,
        max(min(len(val_idx), len(test_idx)) // 4, batch_size),
        len(val_idx),
        len(test_idx),
    )
    px = make_preprocess(preprocess, xa[train_idx])
    py = make_preprocess(preprocess, ya[train_idx])
    xt, yt = torch.from_numpy(px(xa)), torch.from_numpy(py(ya))

    built_here = objective is None  # a ready-made objective keeps its own start
    if objective is not None:
        names: tuple[str, ...] = ("given",)
    elif critic == "auto":
        names = ("separable",) if subviews is not None else auto_critics(xa.shape[1], ya.shape[1])
    else:
        names = (critic,)  # type: ignore[assignment]
    # The grid critic's start is its fit (the plug-in table chosen on the validation rows),
    # so it is not trained further.
    steps_of = {name: 0 if name == AUTO_GRID and init is not None else steps for name in names}
    trained = sum(1 for n in steps_of.values() if n) or 1
    budget = None if max_seconds is None else max_seconds / trained
    x_train, y_train, x_val, y_val = xt[train_idx], yt[train_idx], xt[val_idx], yt[val_idx]
    trainings: dict[str, fit.Training] = {}
    start_info: dict[str, Any] = {}  # the quadratic critic's start, whichever critic wins
    bar = Progress(sum(steps_of.values()), "estimate", enabled=progress)
    with bar:
        for name in names:
            torch.manual_seed(seed)
            candidate = (
                objective
                if objective is not None
                else build_objective(
                    critic if name == "given" or callable(critic) else name,
                    xt,
                    yt,
                    train_idx,
                    bound=bound,
                    subviews=subviews,
                    conditional=conditional,
                    critic_kwargs=critic_kwargs,
                    bound_kwargs=bound_kwargs,
                )
            )
            if built_here and isinstance(candidate, CriticObjective):
                start_info |= warm_start(
                    candidate, init, x_train, y_train, x_val, y_val, eval_batch_size
                )
            trainings[name] = fit.Training(
                candidate,
                x_train,
                y_train,
                x_val,
                y_val,
                batch_size=batch_size,
                eval_batch_size=eval_batch_size,
                steps=steps_of[name],
                lr=lr,
                eval_every=eval_every,
                patience=patience,
                seed=seed,
                max_seconds=budget,
                lr_schedule=candidate.lr_schedule,
                bar=bar,
                label=f"{name} " if len(names) > 1 else "",
            )
        chosen_name = race(trainings)
    fitted_all = {name: training.finish() for name, training in trainings.items()}
    objective, fitted = trainings[chosen_name].objective, fitted_all[chosen_name]
    if len(names) > 1:
        blended = blend(trainings, chosen_name, x_val, y_val, eval_batch_size)
        start_info = {
            **start_info,
            "critic": chosen_name,
            "critic_candidates": {name: t.best_value for name, t in trainings.items()},
            "critic_steps": {name: f["steps_run"] for name, f in fitted_all.items()},
            "blend": blended,
        }
    terms, per_batch, diags, readout = fit.heldout_terms(
        objective, xt[test_idx], yt[test_idx], eval_batch_size
    )
    all_pairs = readout == "all-pairs"
    result = fit.summarise(
        objective,
        per_batch,
        diags,
        fitted,
        name=bound if subviews is None else f"demi-{conditional}",
        n_train=len(train_idx),
        n_heldout=len(test_idx) if all_pairs else per_batch.shape[0] * eval_batch_size,
        extra={
            "rows": xa.shape[0],
            "eval_batch_size": eval_batch_size,
            "preprocess": preprocess,
            "readout": readout,
            **start_info,
        },
        estimate=terms,
    )
    infonce_batches = bound == "infonce" and subviews is None
    cap = readout_cap(
        len(test_idx) if all_pairs else None, eval_batch_size if infonce_batches else None
    )
    result.info["warnings"].extend(range_warnings(result.mi, cap))
    _bracket_by_training_readout(
        result, training_readout(objective, x_train, y_train, len(test_idx), eval_batch_size)
    )
    if isinstance(objective, CriticObjective):
        result.scorer = CriticScorer(objective.critic, px, py, xa.shape[1], ya.shape[1])
    return result


def _bracket_by_training_readout(result: MIEstimate, trained: Tensor) -> None:
    """Set ``result``'s estimate and 90% interval (each term's too) from the training read-out.

    The held-out estimate moves to ``info["heldout_estimate"]`` (each term's to
    ``heldout_mi``) and ``mi`` becomes :func:`~infomax.bracket.midpoint`; the interval
    is :func:`~infomax.bracket.bracket` of the held-out estimate. A decomposition is
    raised term by term (each term by its own read-outs), ``mi`` their sum, and its
    interval reaches up to the sum of the terms' upper read-outs.

    Args:
        result: the held-out estimate.
        trained: (n_terms,) the same read-out on the training rows, nats.
    """
    heldout = result.mi
    result.info["training_readout"] = float(trained.sum())
    result.info["heldout_estimate"] = heldout
    upper = float(trained.sum())
    if result.terms:
        upper = 0.0
        for term, value in zip(result.terms, trained.tolist(), strict=True):
            term["training_readout"] = value
            term["heldout_mi"] = term["mi"]
            term["mi"] = midpoint(term["heldout_mi"], term["stderr"], value)
            upper += max(term["heldout_mi"], value)
            if math.isfinite(term["stderr"]):
                term["ci90"] = list(bracket(term["heldout_mi"], term["stderr"], value))
        result.mi = sum(term["mi"] for term in result.terms)
    else:
        result.mi = midpoint(heldout, result.stderr, upper)
    if math.isfinite(result.stderr):
        result.interval = bracket(heldout, result.stderr, upper)


def estimate_cmi(x: Any, y: Any, z: Any, **kwargs: Any) -> MIEstimate:
    """Estimate the conditional MI I(x; y | z) in nats by the chain rule.

    ``I(x; y | z) = I([z, x]; y) - I(z; y)``: DEMI's decomposition with the
    single sub-view ``z`` of the joint view ``[z, x]``. The conditional
    term is estimated directly (not as a difference of two estimates) with
    the conditional estimator ``conditional``: ``is`` (default) or ``bo``, whose
    negatives come from the data itself. DEMI's ``var`` (negatives from a
    linear-Gaussian ``q(y | z)``) is not offered here: its estimate is only as
    right as that ``q``.

    Args:
        x: (N, d_x) samples.
        y: (N, d_y) samples.
        z: (N, d_z) conditioning samples.
        **kwargs: as :func:`estimate_mi` (the arrays are validated once, there).

    Returns:
        :class:`~infomax.result.MIEstimate` whose ``mi`` is the conditional
        term I(x; y | z); ``terms`` holds I(z; y) and I(x; y | z).
    """
    if kwargs.get("conditional") == "var":
        raise InputError(
            "estimate_cmi does not offer conditional='var': I_VAR samples its negatives from "
            "a linear-Gaussian q(y | z), and where p(y | z) is not linear-Gaussian the critic "
            "learns the gap between them and reports it as I(x; y | z); use 'is' (default) or "
            "'bo'"
        )
    full = estimate_mi(x, y, given=z, **kwargs)
    conditional_term = full.terms[-1]
    full.info["chain_total"] = full.mi
    full.mi, full.stderr = conditional_term["mi"], conditional_term["stderr"]
    full.interval = tuple(conditional_term["ci90"]) if "ci90" in conditional_term else None
    full.info["training_readout"] = conditional_term.get("training_readout")
    full.info["heldout_estimate"] = conditional_term.get("heldout_mi")
    full.bound = f"cmi-{kwargs.get('conditional', 'is')}"
    return full
