"""The MI "staircase" benchmark of Poole et al. (2019) and Song & Ermon (2020).

Pairs ``(x, y)`` are 20-dimensional correlated Gaussians, ``x ~ N(0, I)`` and
``y = rho x + sqrt(1 - rho^2) eps`` with ``rho = sqrt(1 - exp(-2 I / 20))`` so
that ``I(x; y) = I`` nats exactly. The true MI steps through 2, 4, 6, 8, 10
nats; a fresh batch is drawn at every optimiser step, and one critic per bound
is trained continuously across the stages. With ``cubic=True`` the critic sees
``y ** 3`` instead of ``y`` (an invertible map, so the MI is unchanged). The
number reported at each step is the bound evaluated on that step's training
batch, as in the original protocol.

All requested bounds are trained at once as *one stacked model*: every weight
has a leading model axis, ``(M, in, out)``, each layer is one
:func:`torch.baddbmm`, and one Adam updates all of them. The models share no
parameter, so the gradient of the summed objective with respect to model
``m``'s slice is the gradient of model ``m``'s own objective, and Adam is
elementwise: this is the same computation as ``M`` separate critics with ``M``
separate optimisers (``tests/test_staircase.py`` checks it step by step), but
with a handful of large kernels instead of ``M`` times as many small ones.
Estimates stay on the device in a preallocated (steps, M) tensor; nothing
synchronises per step.

Speed on a 2-core CPU (``benchmarks/staircase_speed.py``, 8 bounds, B = 64,
1 thread; BENCHMARKS.md §3): separable 1.3-2x the plain per-bound loop,
depending on the CPU; concat about 1x in float32, because the concat critic is bound by its
(B * B, 256) x (256, 256) matmuls (70-85% of the time in both
implementations), which stacking cannot shrink. ``precision="bfloat16"`` runs
those matmuls in bfloat16 (float32 weights, gradients and scores), which is
several times faster on a CPU with bfloat16 dot-product units.

Example:
    >>> from infomax.staircase import format_table, run_staircase
    >>> result = run_staircase(["infonce", "smile"], steps_per_stage=200)  # doctest: +SKIP
    >>> print(format_table(result))  # doctest: +SKIP
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from infomax import bounds as bound_fns
from infomax.critics import ConcatCritic, SeparableCritic, mlp
from infomax.distributions import rho_from_mi
from infomax.progress import Progress

__all__ = [
    "BOUND_CHOICES",
    "CRITIC_CHOICES",
    "PRECISION_CHOICES",
    "DEFAULT_BOUNDS",
    "BoundObjective",
    "StackedCritic",
    "StackedMLP",
    "StackedStaircase",
    "build_reference_models",
    "format_table",
    "keep_freed_memory",
    "load_history",
    "plot_staircase",
    "result_to_json",
    "rho_for_mi",
    "run_staircase",
    "sample_correlated_gaussian",
    "save_history",
]

#: Bounds the benchmark knows, in the order they are reported.
BOUND_CHOICES: tuple[str, ...] = (
    "infonce",
    "nwj",
    "tuba",
    "dv",
    "mine",
    "jsd",
    "smile",
    "interpolated",
)
DEFAULT_BOUNDS: tuple[str, ...] = BOUND_CHOICES
CRITIC_CHOICES: tuple[str, ...] = ("separable", "concat")
#: ``precision`` of the stacked trainer: the dtype of the hidden layers' matmuls.
PRECISION_CHOICES: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16}

#: Protocol constants (Poole et al. 2019; Song & Ermon 2020).
DIM = 20
HIDDEN: tuple[int, ...] = (256, 256, 256)
EMBED_DIM = 32
#: Hidden widths of the learned baseline ``log a(x)`` used by TUBA and the interpolated bound.
BASELINE_HIDDEN: tuple[int, ...] = (64,)
SMILE_TAU = 5.0
INTERPOLATED_ALPHA = 0.01
MINE_MOMENTUM = 0.01
#: Bounds whose estimate needs a learned baseline ``log a(x_i)``.
BOUNDS_WITH_BASELINE: frozenset[str] = frozenset({"tuba", "interpolated"})
#: Values kept in the JSON file's per-step history at most (bounds x steps).
JSON_HISTORY_LIMIT = 20_000
#: Largest pair-activation tensor (bytes) the stacked concat critic builds at once.
_PAIR_CHUNK_BYTES = 8 * 2**20


def _check_choices(bound_names: Sequence[str], critic: str) -> tuple[str, ...]:
    if isinstance(bound_names, str):
        bound_names = [b for b in bound_names.split(",") if b]
    names = tuple(bound_names)
    if not names:
        raise ValueError(f"no bound given; choose from {', '.join(BOUND_CHOICES)}")
    unknown = [b for b in names if b not in BOUND_CHOICES]
    if unknown:
        raise ValueError(
            f"unknown bound(s) {', '.join(map(repr, unknown))}; choose from "
            f"{', '.join(BOUND_CHOICES)}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"bound listed twice in {list(names)}")
    if critic not in CRITIC_CHOICES:
        raise ValueError(f"unknown critic {critic!r}; choose from {', '.join(CRITIC_CHOICES)}")
    return names


def rho_for_mi(mi: float, dim: int = DIM) -> float:
    """Correlation per coordinate that gives ``mi`` nats between ``dim``-dimensional x and y.

    ``I = -dim / 2 * log(1 - rho^2)``, so ``rho = sqrt(1 - exp(-2 I / dim))``.
    """
    if mi < 0:
        raise ValueError(f"mutual information must be >= 0 nats, got {mi}")
    return float(rho_from_mi(mi / dim).reshape(-1)[0])


def sample_correlated_gaussian(
    rho: float,
    batch_size: int,
    dim: int = DIM,
    cubic: bool = False,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    """Draw a batch of ``x ~ N(0, I)``, ``y = rho x + sqrt(1 - rho^2) eps`` (``y ** 3`` if cubic).

    Args:
        rho: correlation of each coordinate pair, in ``[0, 1)``.
        batch_size: ``B``.
        dim: dimension of ``x`` and ``y``.
        cubic: apply ``y -> y ** 3`` (same MI, harder critic).
        generator: random generator (on ``device``).
        device: where to sample.

    Returns:
        ``x`` (B, dim) and ``y`` (B, dim).
    """
    noise = torch.randn(batch_size, 2 * dim, generator=generator, device=device)
    x, eps = noise[:, :dim], noise[:, dim:]
    y = rho * x + math.sqrt(1.0 - rho * rho) * eps
    if cubic:
        y = y**3
    return x, y


class BoundObjective(nn.Module):
    """One bound's training objective and reported estimate, from :mod:`infomax.bounds`.

    - ``infonce``, ``nwj``, ``dv``: maximise the bound, report it.
    - ``tuba``: ``tuba(S, log a(x))`` with a learned baseline, maximised and reported.
    - ``interpolated``: ``interpolated(S, log a(x), alpha=0.01)``, learned baseline.
    - ``mine``: DV value with MINE's moving-average gradient
      (:class:`~infomax.bounds.MovingAveragePartition`, momentum 0.01); reports DV.
    - ``jsd``: maximise ``jsd_objective``, report ``jsd``.
    - ``smile``: maximise ``smile_objective(tau=5)`` (JSD gradient), report ``smile(tau=5)``.

    Args:
        name: a bound in :data:`BOUND_CHOICES`.
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        _check_choices([name], "separable")
        self.name = name
        self.needs_baseline = name in BOUNDS_WITH_BASELINE
        self.partition = bound_fns.MovingAveragePartition(MINE_MOMENTUM) if name == "mine" else None

    def forward(self, scores: Tensor, log_baseline: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Args: scores (B, B); log_baseline (B,) for tuba/interpolated, else unused.

        Returns:
            ``(objective, estimate)``: the scalar to maximise (carries the
            gradient) and the detached scalar MI estimate in nats.
        """
        name = self.name
        if name in ("tuba", "interpolated"):
            if log_baseline is None:
                raise ValueError(f"bound {name!r} needs a log baseline (B,)")
            if name == "tuba":
                objective = bound_fns.tuba(scores, log_baseline)
            else:
                objective = bound_fns.interpolated(scores, log_baseline, INTERPOLATED_ALPHA)
        elif name == "infonce":
            objective = bound_fns.infonce(scores)
        elif name == "nwj":
            objective = bound_fns.nwj(scores)
        elif name == "dv":
            objective = bound_fns.dv(scores)
        elif name == "mine":
            assert self.partition is not None
            objective = self.partition(scores)  # value: DV; gradient: MINE's
        elif name == "smile":
            objective = bound_fns.smile_objective(scores, SMILE_TAU)  # value: SMILE; gradient: JSD
        else:  # jsd
            objective = bound_fns.jsd_objective(scores)
            with torch.no_grad():
                return objective, bound_fns.jsd(scores)
        return objective, objective.detach()


def _make_baseline(dim: int) -> nn.Sequential:
    return mlp(dim, BASELINE_HIDDEN, 1)


def build_reference_models(
    bound_names: Sequence[str], critic: str = "separable", dim: int = DIM
) -> tuple[list[nn.Module], list[nn.Module | None]]:
    """One plain ``nn.Module`` critic (and baseline where needed) per bound.

    Built in bound order from the global RNG, critic then baseline, so that the
    reference loop and :class:`StackedStaircase` start from the same weights
    given the same seed.

    Args:
        bound_names: bounds in :data:`BOUND_CHOICES`.
        critic: ``separable`` (g(x).h(y), hidden 256-256-256, embedding 32) or
            ``concat`` (MLP on [x; y], hidden 256-256-256).
        dim: dimension of x and y.

    Returns:
        ``(critics, baselines)``: lists of length M; ``baselines[m]`` is an MLP
        ``x (B, dim) -> log a(x) (B, 1)`` or ``None``.
    """
    names = _check_choices(bound_names, critic)
    critics: list[nn.Module] = []
    baselines: list[nn.Module | None] = []
    for name in names:
        if critic == "separable":
            critics.append(SeparableCritic(dim, dim, HIDDEN, EMBED_DIM))
        else:
            critics.append(ConcatCritic(dim, dim, HIDDEN))
        baselines.append(_make_baseline(dim) if name in BOUNDS_WITH_BASELINE else None)
    return critics, baselines


class StackedMLP(nn.Module):
    """``N`` independent MLPs of the same shape, run as one with batched matmuls.

    Layer ``l`` holds ``weight_l`` (N, in, out) and ``bias_l`` (N, 1, out); the
    forward pass is ``h <- act(baddbmm(bias_l, h, weight_l))`` with ReLU between
    layers and none after the last.

    Args:
        widths: ``(in, hidden..., out)``.
        count: ``N``, the number of MLPs.
        compute_dtype: dtype of every layer's matmul but the last (mixed precision:
            the parameters, their gradients and the output stay float32; the
            activations between layers are rounded to this dtype, and the matmuls
            accumulate in float32). None: the parameters' dtype.
    """

    def __init__(
        self, widths: Sequence[int], count: int, compute_dtype: torch.dtype | None = None
    ) -> None:
        super().__init__()
        self.widths = tuple(widths)
        self.compute_dtype = compute_dtype
        self.weights = nn.ParameterList(
            nn.Parameter(torch.empty(count, a, b))
            for a, b in zip(widths[:-1], widths[1:], strict=True)
        )
        self.biases = nn.ParameterList(nn.Parameter(torch.empty(count, 1, b)) for b in widths[1:])

    def load_linears(self, index: int, linears: Sequence[nn.Linear]) -> None:
        """Copy the weights of one plain MLP (its ``nn.Linear`` layers) into slot ``index``."""
        with torch.no_grad():
            for weight, bias, linear in zip(self.weights, self.biases, linears, strict=True):
                weight[index].copy_(linear.weight.T)
                bias[index, 0].copy_(linear.bias)

    def store_linears(self, index: int, linears: Sequence[nn.Linear]) -> None:
        """Copy slot ``index`` back into the ``nn.Linear`` layers of a plain MLP."""
        with torch.no_grad():
            for weight, bias, linear in zip(self.weights, self.biases, linears, strict=True):
                linear.weight.copy_(weight[index].T)
                linear.bias.copy_(bias[index, 0])

    def forward(self, inputs: Tensor, lo: int = 0, hi: int | None = None) -> Tensor:
        """Args: inputs (N, B, in). Returns: (N, B, out)."""
        hidden = inputs
        last = len(self.weights) - 1
        low = self.compute_dtype
        for layer, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            weight, bias = weight[lo:hi], bias[lo:hi]
            if layer < last and low is not None:
                weight, bias, hidden = weight.to(low), bias.to(low), hidden.to(low)
            elif layer == last:
                hidden = hidden.to(weight.dtype)  # the output is computed in full precision
            hidden = torch.baddbmm(bias, hidden, weight)
            if layer < last:
                # In place is safe: baddbmm's backward needs its inputs, not its output.
                hidden = hidden.relu_()
        return hidden


def _compute_dtype(precision: str) -> torch.dtype | None:
    """The hidden layers' matmul dtype for a ``precision`` name (None: the parameters')."""
    if precision not in PRECISION_CHOICES:
        raise ValueError(
            f"unknown precision {precision!r}; choose from {', '.join(PRECISION_CHOICES)}"
        )
    return None if precision == "float32" else PRECISION_CHOICES[precision]


def _linears(module: nn.Module) -> list[nn.Linear]:
    return [layer for layer in module.modules() if isinstance(layer, nn.Linear)]


class StackedCritic(nn.Module):
    """``M`` critics of one architecture evaluated together: scores (M, B, B).

    ``separable``: the ``M`` networks ``g`` and the ``M`` networks ``h`` form one
    :class:`StackedMLP` of ``2 M`` nets (input ``[x]*M + [y]*M``), and
    ``S_m = g_m(x) h_m(y)^T`` is one :func:`torch.bmm`.

    ``concat``: the first layer splits as in :class:`~infomax.critics.ConcatCritic`
    (``W_x x + b`` and ``W_y y`` computed once per sample and broadcast to all
    ``B * B`` pairs); the remaining layers are a :class:`StackedMLP` over the
    ``M`` models on ``(M, B * B, hidden)``.

    Args:
        kind: ``separable`` or ``concat``.
        count: ``M``.
        dim: dimension of x and y.
        precision: ``float32``, or ``bfloat16``: mixed precision, the hidden
            layers' matmuls (and, for concat, the pair activations) in bfloat16
            with float32 parameters, gradients and scores (see
            :class:`StackedMLP`). On a CPU with bfloat16 dot-product units
            (``avx512_bf16``, AMX) oneDNN runs those matmuls several times faster;
            elsewhere it can be slower (BENCHMARKS.md §3).

    Attributes:
        chunk: concat only: models sent through the pair MLP together; 0 (the
            default) picks the most whose activations fit in 8 MiB.
    """

    def __init__(self, kind: str, count: int, dim: int = DIM, precision: str = "float32") -> None:
        super().__init__()
        if kind not in CRITIC_CHOICES:
            raise ValueError(f"unknown critic {kind!r}; choose from {', '.join(CRITIC_CHOICES)}")
        low = _compute_dtype(precision)
        self.kind = kind
        self.count = count
        self.chunk = 0
        if kind == "separable":
            self.nets = StackedMLP((dim, *HIDDEN, EMBED_DIM), 2 * count, low)
        else:
            self.x_weight = nn.Parameter(torch.empty(count, dim, HIDDEN[0]))
            self.x_bias = nn.Parameter(torch.empty(count, 1, HIDDEN[0]))
            self.y_weight = nn.Parameter(torch.empty(count, dim, HIDDEN[0]))
            self.rest = StackedMLP((*HIDDEN, 1), count, low)

    def load_modules(self, critics: Sequence[nn.Module]) -> None:
        """Copy the weights of ``M`` plain critics into the stacked parameters."""
        if len(critics) != self.count:
            raise ValueError(f"expected {self.count} critics, got {len(critics)}")
        for m, critic in enumerate(critics):
            if self.kind == "separable":
                assert isinstance(critic, SeparableCritic) and not critic.cosine
                self.nets.load_linears(m, _linears(critic.g))
                self.nets.load_linears(self.count + m, _linears(critic.h))
            else:
                assert isinstance(critic, ConcatCritic)
                with torch.no_grad():
                    self.x_weight[m].copy_(critic.x_in.weight.T)
                    self.x_bias[m, 0].copy_(critic.x_in.bias)
                    self.y_weight[m].copy_(critic.y_in.weight.T)
                self.rest.load_linears(m, _linears(critic.rest))

    def store_modules(self, critics: Sequence[nn.Module]) -> None:
        """Copy the stacked parameters back into ``M`` plain critics (for inspection/tests)."""
        for m, critic in enumerate(critics):
            if self.kind == "separable":
                assert isinstance(critic, SeparableCritic)
                self.nets.store_linears(m, _linears(critic.g))
                self.nets.store_linears(self.count + m, _linears(critic.h))
            else:
                assert isinstance(critic, ConcatCritic)
                with torch.no_grad():
                    critic.x_in.weight.copy_(self.x_weight[m].T)
                    critic.x_in.bias.copy_(self.x_bias[m, 0])
                    critic.y_in.weight.copy_(self.y_weight[m].T)
                self.rest.store_linears(m, _linears(critic.rest))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Args: x (B, dim), y (B, dim). Returns: (M, B, B), ``S[m, i, j] = f_m(x_i, y_j)``."""
        count, batch = self.count, x.shape[0]
        if self.kind == "separable":
            inputs = torch.cat([x.expand(count, -1, -1), y.expand(count, -1, -1)])
            embeddings = self.nets(inputs)  # (2M, B, e)
            return torch.bmm(embeddings[:count], embeddings[count:].transpose(1, 2))
        from_x = torch.baddbmm(self.x_bias, x.expand(count, -1, -1), self.x_weight)  # (M, B, h)
        from_y = torch.bmm(y.expand(count, -1, -1), self.y_weight)  # (M, B, h)
        if self.rest.compute_dtype is not None:  # the (M, B * B, h) pair activations too
            from_x, from_y = from_x.to(self.rest.compute_dtype), from_y.to(self.rest.compute_dtype)
        # Models go through the pair MLP in groups whose (m, B * B, h) activations stay under
        # _PAIR_CHUNK_BYTES: one huge tensor per layer is slower on CPU (the allocator maps
        # fresh pages for every block above 32 MiB, and the GEMM loses cache locality).
        pair_bytes = batch * batch * from_x.shape[-1] * from_x.element_size()
        chunk = self.chunk or max(1, _PAIR_CHUNK_BYTES // pair_bytes)
        outputs = []
        for lo in range(0, count, chunk):
            hi = min(lo + chunk, count)
            hidden = (from_x[lo:hi, :, None, :] + from_y[lo:hi, None, :, :]).relu_()  # (m, B, B, h)
            outputs.append(self.rest(hidden.view(hi - lo, batch * batch, -1), lo, hi))
        return torch.cat(outputs).view(count, batch, batch)


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, glibc's malloc.h
_allocator_tuned = False


def keep_freed_memory(mmap_threshold: int = 32 * 2**20, trim_threshold: int = 1024 * 2**20) -> bool:
    """Let glibc's malloc reuse freed blocks instead of handing them back to the OS.

    A training step allocates and frees tens of megabytes of temporaries in
    blocks of 1-4 MiB (stacked activations and weight gradients). With glibc's
    defaults the freed top of the heap is trimmed and the next step
    page-faults it back in: thousands of minor faults per step (measured
    ~2600 per 8-bound separable step, 5 ms of system time, and the first
    touches are slow). Raising the mmap and trim thresholds keeps those pages
    mapped: measured 0 faults per step afterwards.
    This is process-wide and not undone (the process keeps up to
    ``trim_threshold`` bytes of freed heap); elsewhere than Linux/glibc it does
    nothing.

    Args:
        mmap_threshold: blocks at least this large are mmapped (glibc caps it at 32 MiB).
        trim_threshold: freed heap kept before memory is returned to the OS, bytes.

    Returns:
        Whether the thresholds were set.
    """
    global _allocator_tuned
    if _allocator_tuned:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(
        mallopt(_M_TRIM_THRESHOLD, trim_threshold)
    )
    _allocator_tuned = ok
    return ok


def _make_adam(params: Sequence[Tensor], lr: float) -> torch.optim.Adam:
    """Adam with the fused kernel where this torch build has one (same update, fewer kernels)."""
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr)


class StackedStaircase(nn.Module):
    """All the benchmark's critics (and baselines) as one model with one Adam.

    Args:
        bound_names: bounds in :data:`BOUND_CHOICES`; model ``m`` trains bound ``m``.
        critic: ``separable`` or ``concat``.
        lr: Adam learning rate.
        dim: dimension of x and y.
        critics, baselines: optional plain modules (as from
            :func:`build_reference_models`) to start from; built from the
            global RNG when omitted.
        precision: the critics' matmul precision, ``float32`` or ``bfloat16``
            (see :class:`StackedCritic`); the baselines stay float32.
    """

    def __init__(
        self,
        bound_names: Sequence[str],
        critic: str = "separable",
        lr: float = 5e-4,
        dim: int = DIM,
        critics: Sequence[nn.Module] | None = None,
        baselines: Sequence[nn.Module | None] | None = None,
        precision: str = "float32",
    ) -> None:
        super().__init__()
        names = _check_choices(bound_names, critic)
        if critics is None or baselines is None:
            critics, baselines = build_reference_models(names, critic, dim)
        self.bound_names = names
        self.objectives = nn.ModuleList(BoundObjective(name) for name in names)
        self.critic = StackedCritic(critic, len(names), dim, precision)
        self.critic.load_modules(critics)
        baseline_slots = [m for m, name in enumerate(names) if name in BOUNDS_WITH_BASELINE]
        #: model index -> row of the stacked baseline output.
        self.baseline_row = {m: row for row, m in enumerate(baseline_slots)}
        self.baseline: StackedMLP | None = None
        if baseline_slots:
            self.baseline = StackedMLP((dim, *BASELINE_HIDDEN, 1), len(baseline_slots))
            for row, m in enumerate(baseline_slots):
                module = baselines[m]
                if module is None:
                    raise ValueError(f"bound {names[m]!r} needs a baseline module")
                self.baseline.load_linears(row, _linears(module))
        self.optimizer = _make_adam(list(self.parameters()), lr)

    def store_modules(
        self, critics: Sequence[nn.Module], baselines: Sequence[nn.Module | None]
    ) -> None:
        """Copy the current weights into plain modules (as from :func:`build_reference_models`)."""
        self.critic.store_modules(critics)
        if self.baseline is not None:
            for m, row in self.baseline_row.items():
                module = baselines[m]
                assert module is not None
                self.baseline.store_linears(row, _linears(module))

    def estimate(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Objectives and estimates of every bound on one batch.

        Args:
            x: (B, dim).
            y: (B, dim).

        Returns:
            ``(objectives, estimates)``, each (M,): the summed objectives carry
            the gradient; estimates are detached, nats.
        """
        scores = self.critic(x, y)  # (M, B, B)
        log_baselines = None
        if self.baseline is not None:
            rows = len(self.baseline_row)
            log_baselines = self.baseline(x.expand(rows, -1, -1)).squeeze(-1)  # (K, B)
        objectives, estimates = [], []
        for m, objective_fn in enumerate(self.objectives):
            log_baseline = None
            if log_baselines is not None and m in self.baseline_row:
                log_baseline = log_baselines[self.baseline_row[m]]
            objective, estimate = objective_fn(scores[m], log_baseline)
            objectives.append(objective)
            estimates.append(estimate)
        return torch.stack(objectives), torch.stack(estimates)

    def step(self, x: Tensor, y: Tensor) -> Tensor:
        """One Adam step of every model on the batch ``(x, y)``.

        Args:
            x: (B, dim).
            y: (B, dim).

        Returns:
            (M,) detached estimates (nats) on this batch, before the update;
            stays on the device (no synchronisation).
        """
        objectives, estimates = self.estimate(x, y)
        self.optimizer.zero_grad(set_to_none=True)
        (-objectives.sum()).backward()
        self.optimizer.step()
        return estimates


def _summarise(values: Tensor) -> dict[str, Any]:
    finite = torch.isfinite(values)
    nonfinite = int((~finite).sum())
    if nonfinite:
        return {"mean": None, "std": None, "nonfinite": nonfinite}
    return {
        "mean": float(values.mean()),
        "std": float(values.std()) if values.numel() > 1 else 0.0,
        "nonfinite": 0,
    }


def run_staircase(
    bounds: Sequence[str] = DEFAULT_BOUNDS,
    critic: str = "separable",
    steps_per_stage: int = 4000,
    batch_size: int = 64,
    cubic: bool = False,
    stages: Sequence[float] = (2, 4, 6, 8, 10),
    lr: float = 5e-4,
    seed: int = 0,
    out: Path | None = None,
    progress: bool | None = None,
    precision: str = "float32",
) -> dict:
    """Train one critic per bound through the MI staircase and summarise the estimates.

    Args:
        bounds: bound names from :data:`BOUND_CHOICES` (or one comma-separated string).
        critic: ``separable`` (``g(x) . h(y)``) or ``concat`` (MLP on ``[x; y]``).
        steps_per_stage: optimiser steps at each true-MI value.
        batch_size: ``B``; InfoNCE cannot exceed ``log B`` nats.
        cubic: feed the critic ``y ** 3`` instead of ``y``.
        stages: true MI of each stage, nats.
        lr: Adam learning rate.
        seed: seeds the initial weights (``seed``) and the data (``seed + 1``);
            the caller's global RNG state is left untouched.
        out: directory for ``staircase.json`` and ``staircase.png``; nothing is
            written when ``None``.
        progress: progress bar on stderr; ``None`` means only on a terminal.
        precision: ``float32`` (default), or ``bfloat16``: mixed precision for the
            critics' hidden layers (:class:`StackedCritic`), several times faster
            for the concat critic on a CPU with bfloat16 units (BENCHMARKS.md §3).

    Side effects: runs with as many torch threads as the load average leaves
    cores idle (at least 1, at most the current setting; restored afterwards,
    see :func:`_threads_for`) and calls :func:`keep_freed_memory`.

    Returns:
        A JSON-ready dict (see :func:`result_to_json` for what goes to disk)::

            {"benchmark": "staircase",
             "config": {...every argument and protocol constant...},
             "true_mi": [2.0, 4.0, ...],          # per stage, nats
             "log_batch_size": 4.159,             # InfoNCE's cap, nats
             "summary_window": 1000,              # last quarter of each stage, steps
             "steps_per_second": 41.3,            # whole run; one step trains every bound
             "seconds": 484.0,
             "bounds": {"infonce": {"stages": [{"true_mi": 2.0, "mean": 1.6,
                                                "std": 0.1, "nonfinite": 0}, ...]},
                        ...},
             "history": {"infonce": [per-step estimates, nats], ...}}

        ``mean``/``std`` are over the last quarter of the stage's steps; they
        are ``None`` (with ``nonfinite`` > 0) where the bound diverged to
        inf/NaN in that window.
    """
    names = _check_choices(bounds, critic)
    if steps_per_stage < 1:
        raise ValueError(f"steps_per_stage must be >= 1, got {steps_per_stage}")
    if batch_size < 2:
        raise ValueError(f"batch_size must be >= 2, got {batch_size}")
    stage_mis = [float(mi) for mi in stages]
    if not stage_mis:
        raise ValueError("stages must list at least one true-MI value")
    for mi in stage_mis:
        rho_for_mi(mi)  # validates
    _compute_dtype(precision)  # validates

    keep_freed_memory()
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(_threads_for(critic))
    try:
        result = _run(
            names, critic, steps_per_stage, batch_size, cubic, stage_mis, lr, seed, progress,
            precision=precision,
        )  # fmt: skip
    finally:
        torch.set_num_threads(previous_threads)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "staircase.json").write_text(json.dumps(result_to_json(result), indent=2) + "\n")
        save_history(result, out / "staircase_history.npz")
        plot_staircase(result, out / "staircase.png")
    return result


def save_history(result: dict, path: Path) -> None:
    """Write the per-step estimates, (steps,) float32 per bound, to a compressed ``.npz``.

    :func:`load_history` reads them back, e.g. to re-plot a finished run with
    :func:`plot_staircase` when the JSON file left them out.
    """
    import numpy as np

    arrays = {
        name: np.asarray(values, dtype=np.float32) for name, values in result["history"].items()
    }
    np.savez_compressed(path, **arrays)


def load_history(path: Path) -> dict[str, list[float]]:
    """Per-step estimates written by :func:`save_history`: ``{bound: [nats, ...]}``."""
    import numpy as np

    with np.load(path) as data:
        return {name: data[name].astype(float).tolist() for name in data.files}


def _threads_for(critic: str) -> int:
    """Torch threads for a run: the idle cores, at least 1, at most the current setting.

    Both critics are faster with more threads on an idle machine (measured on 2
    cores: separable 48 -> 92 steps/s, concat 3.4 -> 6.3). But when other
    processes keep the cores busy, OpenMP threads wait at every op for a
    descheduled peer and a run collapses (measured with a load of ~3-5 on 2
    cores: separable 46 -> 23 steps/s with 2 threads, 28 -> 2 in a worse
    moment). So count the cores the 1-minute load average leaves idle.
    """
    del critic  # same rule for both critics
    current = torch.get_num_threads()
    try:
        cores = len(os.sched_getaffinity(0))
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return current
    return max(1, min(current, math.floor(cores - load + 0.5)))


def _run(
    names: tuple[str, ...],
    critic: str,
    steps_per_stage: int,
    batch_size: int,
    cubic: bool,
    stage_mis: list[float],
    lr: float,
    seed: int,
    progress: bool | None,
    device: torch.device | str = "cpu",
    precision: str = "float32",
) -> dict[str, Any]:
    rhos = [rho_for_mi(mi) for mi in stage_mis]
    with torch.random.fork_rng(devices=[]):  # leave the caller's global RNG as it was
        torch.manual_seed(seed)
        # .to keeps the parameters' identity (the optimiser holds them)
        model = StackedStaircase(names, critic, lr, precision=precision).to(device)
    generator = torch.Generator(device).manual_seed(seed + 1)
    total = steps_per_stage * len(stage_mis)
    history = torch.empty(total, len(names), device=device)  # filled without synchronising
    bar = Progress(total, f"staircase {critic}", enabled=progress)
    show_every = max(total // 200, 1)

    start = time.perf_counter()
    step = 0
    for rho in rhos:
        for _ in range(steps_per_stage):
            x, y = sample_correlated_gaussian(rho, batch_size, DIM, cubic, generator, device)
            history[step] = model.step(x, y)
            step += 1
            if bar.enabled and step % show_every == 0:
                bar.update(show_every, **dict(zip(names, history[step - 1].tolist(), strict=True)))
    history = history.cpu()  # waits for the device
    seconds = time.perf_counter() - start
    if bar.enabled:
        bar.update(total - bar.count)
    bar.close()

    window = max(steps_per_stage // 4, 1)
    per_bound: dict[str, Any] = {}
    for m, name in enumerate(names):
        stage_rows = []
        for s, mi in enumerate(stage_mis):
            end = (s + 1) * steps_per_stage
            stage_rows.append({"true_mi": mi, **_summarise(history[end - window : end, m])})
        per_bound[name] = {"stages": stage_rows}

    result: dict[str, Any] = {
        "benchmark": "staircase",
        "config": {
            "bounds": list(names),
            "critic": critic,
            "steps_per_stage": steps_per_stage,
            "batch_size": batch_size,
            "cubic": cubic,
            "stages": stage_mis,
            "lr": lr,
            "seed": seed,
            "dim": DIM,
            "hidden": list(HIDDEN),
            "embed_dim": EMBED_DIM if critic == "separable" else None,
            "baseline_hidden": list(BASELINE_HIDDEN),
            "smile_tau": SMILE_TAU,
            "interpolated_alpha": INTERPOLATED_ALPHA,
            "mine_momentum": MINE_MOMENTUM,
            "torch_version": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "precision": precision,
        },
        "true_mi": stage_mis,
        "log_batch_size": math.log(batch_size),
        "summary_window": window,
        "steps_per_second": total / seconds,
        "seconds": seconds,
        "bounds": per_bound,
        "history": {name: history[:, m].tolist() for m, name in enumerate(names)},
    }
    return result


def _json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def result_to_json(result: dict, include_history: bool | None = None) -> dict:
    """The part of a :func:`run_staircase` result that goes to disk / stdout.

    Args:
        result: as returned by :func:`run_staircase`.
        include_history: keep the per-step estimates; ``None`` keeps them only
            when there are at most :data:`JSON_HISTORY_LIMIT` values in all.

    Returns:
        A copy that ``json.dumps`` writes as strict JSON (non-finite history
        values become ``null``).
    """
    out = {k: v for k, v in result.items() if k != "history"}
    history = result.get("history", {})
    size = sum(len(v) for v in history.values())
    if include_history or (include_history is None and size <= JSON_HISTORY_LIMIT):
        out["history"] = {k: [_json_number(v) for v in vs] for k, vs in history.items()}
    return out


def format_table(result: dict) -> str:
    """A plain-text table: one row per bound, one column per stage (mean ± std, nats).

    Args:
        result: as returned by :func:`run_staircase` (or read back from its JSON).

    Returns:
        The table, with the true MI as the header row and a footer giving the
        window, ``log B`` and the speed.
    """
    true_mi = result["true_mi"]
    names = list(result["bounds"])
    label = max(12, *(len(n) for n in names))
    rows: list[tuple[str, list[str]]] = []
    for name in names:
        cells = []
        for row in result["bounds"][name]["stages"]:
            if row["mean"] is None:
                cells.append("diverged")
            else:
                cells.append(f"{row['mean']:.2f} ± {row['std']:.2f}")
        rows.append((name, cells))
    cell = 2 + max([13, *(len(c) for _, cells in rows for c in cells)])
    header = f"{'true MI':<{label}}" + "".join(f"{mi:>{cell}.1f}" for mi in true_mi)
    lines = [header, "-" * len(header)]
    for name, cells in rows:
        lines.append(f"{name:<{label}}" + "".join(f"{c:>{cell}}" for c in cells))
    config = result["config"]
    lines.append(
        f"mean ± std over the last {result['summary_window']} of {config['steps_per_stage']} "
        f"steps per stage (nats); {config['critic']} critic, B = {config['batch_size']} "
        f"(log B = {result['log_batch_size']:.2f})"
        + (", cubic" if config["cubic"] else "")
        + f"; {result['steps_per_second']:.1f} steps/s"
    )
    return "\n".join(lines)


def _ema(values: Sequence[float], weight: float) -> list[float]:
    smoothed: list[float] = []
    state = math.nan
    for value in values:
        if not math.isfinite(value):
            smoothed.append(math.nan)
            continue
        state = value if math.isnan(state) else (1.0 - weight) * state + weight * value
        smoothed.append(state)
    return smoothed


def plot_staircase(result: dict, path: Path) -> None:
    """Save a figure of estimate vs step: one panel per bound.

    Each panel shows the raw per-step estimates (light), their exponential
    moving average (dark), the true MI as a staircase and ``log B`` dashed.

    Args:
        result: as returned by :func:`run_staircase` (needs ``history``).
        path: where to write the PNG.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result["bounds"])
    history = result["history"]
    steps_per_stage = result["config"]["steps_per_stage"]
    true_mi = result["true_mi"]
    total = steps_per_stage * len(true_mi)
    columns = min(4, len(names))
    rows = math.ceil(len(names) / columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(3.4 * columns, 2.9 * rows), sharex=True, sharey=True, squeeze=False
    )
    stair_x = [s * steps_per_stage for s in range(len(true_mi))] + [total]
    stair_y = [*true_mi, true_mi[-1]]
    top = max(true_mi) + 2.0
    steps = list(range(total))
    ema_weight = 1.0 / min(100.0, max(steps_per_stage / 20.0, 1.0))  # time constant <= 100 steps
    for ax, name in zip(axes.flat, names, strict=False):
        values = history[name]
        clipped = [min(max(v, -2.0), top) if math.isfinite(v) else math.nan for v in values]
        ax.plot(steps, clipped, color="tab:blue", alpha=0.25, linewidth=0.5, label="per step")
        ax.plot(
            steps, _ema(values, ema_weight), color="tab:blue", linewidth=1.2, label="moving average"
        )
        ax.step(stair_x, stair_y, where="post", color="black", linewidth=1.0, label="true MI")
        ax.axhline(
            result["log_batch_size"], color="tab:red", linestyle="--", linewidth=0.8, label="log B"
        )
        ax.set_title(name)
        ax.set_ylim(-1.0, top)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(names) :]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("step")
    for ax in axes[:, 0]:
        ax.set_ylabel("MI (nats)")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    config = result["config"]
    fig.suptitle(
        f"MI staircase: {config['critic']} critic, B = {config['batch_size']}"
        + (", cubic" if config["cubic"] else ""),
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.06 / rows, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)
