"""Every staircase critic trained as one stacked model with one Adam.

All requested bounds are trained at once: every weight has a leading model
axis, ``(M, in, out)``, each layer is one :func:`torch.baddbmm`, and one Adam
updates all of them. The models share no parameter, so the gradient of the
summed objective with respect to model ``m``'s slice is the gradient of model
``m``'s own objective, and Adam is elementwise: this is the same computation as
``M`` separate critics with ``M`` separate optimisers
(``tests/test_staircase.py`` checks it step by step), with a handful of large
kernels instead of ``M`` times as many small ones.

``precision="bfloat16"`` runs the hidden layers' matmuls in bfloat16 (float32
weights, gradients and scores), which is faster on a CPU with bfloat16
dot-product units.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from infomax.bench.protocol import (
    BASELINE_HIDDEN,
    BOUNDS_WITH_BASELINE,
    CRITIC_CHOICES,
    DIM,
    EMBED_DIM,
    HIDDEN,
    PRECISION_CHOICES,
    StaircaseBound,
    build_reference_models,
    check_choices,
)
from infomax.critics import ConcatCritic, SeparableCritic

__all__ = ["StackedCritic", "StackedMLP", "StackedStaircase", "compute_dtype"]

#: Largest pair-activation tensor (bytes) the stacked concat critic builds at once.
_PAIR_CHUNK_BYTES = 8 * 2**20


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


def compute_dtype(precision: str) -> torch.dtype | None:
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
            elsewhere it can be slower (BENCHMARKS.md, section "Staircase speed:
            all bounds stacked vs a plain loop").

    Attributes:
        chunk: concat only: models sent through the pair MLP together; 0 (the
            default) picks the most whose activations fit in 8 MiB.
    """

    def __init__(self, kind: str, count: int, dim: int = DIM, precision: str = "float32") -> None:
        super().__init__()
        if kind not in CRITIC_CHOICES:
            raise ValueError(f"unknown critic {kind!r}; choose from {', '.join(CRITIC_CHOICES)}")
        low = compute_dtype(precision)
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


def _make_adam(params: Sequence[Tensor], lr: float) -> torch.optim.Adam:
    """Adam with the fused kernel where this torch build has one (same update, fewer kernels)."""
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr)


class StackedStaircase(nn.Module):
    """All the benchmark's critics (and baselines) as one model with one Adam.

    Args:
        bound_names: bounds in :data:`~infomax.bench.protocol.BOUND_CHOICES`; model ``m``
            trains bound ``m``.
        critic: ``separable`` or ``concat``.
        lr: Adam learning rate.
        dim: dimension of x and y.
        critics, baselines: optional plain modules (as from
            :func:`~infomax.bench.protocol.build_reference_models`) to start from; built from the
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
        names = check_choices(bound_names, critic)
        if critics is None or baselines is None:
            critics, baselines = build_reference_models(names, critic, dim)
        self.bound_names = names
        self.objectives = nn.ModuleList(StaircaseBound(name) for name in names)
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
        """Copy the current weights into plain modules.

        Args:
            critics, baselines: as from :func:`~infomax.bench.protocol.build_reference_models`.
        """
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
