"""The bound registry: one :class:`Bound` subclass per name, registered with :func:`register`.

A bound turns a ``(B, B)`` score matrix (``S[i, j] = f(x_i, y_j)``, positives on
the diagonal; see :mod:`infomax.bounds.contrastive`) into

* the **estimate** it reports (nats), :meth:`Bound.estimate`;
* the **objective** that trains the critic (maximised), :meth:`Bound.objective`,
  which differs from the estimate where the method says so (JSD, SMILE,
  MINE's moving-average gradient, ``contrastive_dv``);

and declares what else it needs: a learned per-row baseline ``log a(x)``
(:attr:`Bound.needs_baseline`, built by :func:`make_baseline`), state of its
own (MINE's :class:`~infomax.bounds.contrastive.MovingAveragePartition`, a
submodule, so it lives in the objective's ``state_dict``), options
(:attr:`Bound.options`), and whether its estimate is the DV estimate, so that
the all-pairs read-out (:mod:`infomax.bounds.all_pairs`) applies
(:attr:`Bound.dv_readout`). Bounds with a form on sets of positive and negative
scores (:mod:`infomax.bounds.samples`) serve critics whose scores are not one
square matrix: DIM's (B, B, L) local scores, NDM's discriminator
(:meth:`Bound.samples`).

Everything that offers a choice of bound reads this registry:
:func:`infomax.estimate.estimate_mi`, the staircase benchmark, the CLI help
(:func:`describe`). A new bound is one :func:`register_function` call next to its
function in :mod:`infomax.bounds.contrastive` where it is made of functions of the
scores (its estimate, its objective, their options), or one registered
:class:`Bound` subclass where it holds state or reads out differently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from infomax.critics import mlp

__all__ = [
    "BASELINE_HIDDEN",
    "BOUNDS",
    "Bound",
    "bound_names",
    "describe",
    "make_baseline",
    "make_bound",
    "register",
    "register_function",
]

#: Bounds by name, in registration order.
BOUNDS: dict[str, type[Bound]] = {}
#: Hidden widths of the learned baseline ``log a(x)`` of TUBA and the interpolated bound.
BASELINE_HIDDEN: tuple[int, ...] = (64,)


class Bound(nn.Module):
    """A named MI bound: training objective and reported estimate from a score matrix.

    Subclasses set the class attributes and implement :meth:`estimate`; they
    override :meth:`objective` where training maximises something else, and
    :meth:`samples` where the bound has a form on sets of scores. Options
    (``tau``, ``alpha``, ...) are the keyword arguments of ``__init__``, declared
    with their defaults in :attr:`options` and kept as attributes of the same
    names; state is held in submodules or buffers.

    Calling the module, ``bound(scores, log_baseline)``, returns
    ``(objective, estimate)``: the scalar to maximise (with its gradient) and
    the detached estimate in nats.
    """

    #: Registry name.
    name: ClassVar[str] = ""
    #: One phrase for help texts.
    summary: ClassVar[str] = ""
    #: Whether :meth:`estimate` and :meth:`objective` take a learned ``log a(x_i)`` (B,).
    needs_baseline: ClassVar[bool] = False
    #: Whether the estimate is the DV estimate (then the all-pairs read-out applies).
    dv_readout: ClassVar[bool] = False
    #: Whether the objective's value is the estimate (only its gradient may differ).
    objective_is_estimate: ClassVar[bool] = True
    #: Keyword options of ``__init__`` and their defaults.
    options: ClassVar[dict[str, Any]] = {}

    def __init__(self, **options: Any) -> None:
        super().__init__()
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise TypeError(f"bound {self.name!r} has no option {unknown[0]!r}")
        for key, default in self.options.items():
            setattr(self, key, options.get(key, default))

    def estimate(self, scores: Tensor, log_baseline: Tensor | None = None) -> Tensor:
        """The MI estimate of a (B, B) score matrix, scalar, nats."""
        raise NotImplementedError

    def objective(self, scores: Tensor, log_baseline: Tensor | None = None) -> Tensor:
        """The training objective (maximise it) of a (B, B) score matrix, scalar."""
        return self.estimate(scores, log_baseline)

    def samples(self, positive: Tensor, negative: Tensor) -> tuple[Tensor, Tensor]:
        """``(objective, estimate)`` from sets of positive and negative scores.

        See :mod:`infomax.bounds.samples` for the shapes; the objective (maximise
        it) carries the gradient, the estimate is detached, nats.

        Raises:
            ValueError: the bound has no such form.
        """
        have = [name for name, bound in BOUNDS.items() if bound.samples is not Bound.samples]
        raise ValueError(
            f"bound {self.name!r} has no form on sets of scores; {', '.join(have)} have"
        )

    def forward(self, scores: Tensor, log_baseline: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Args: scores (B, B); log_baseline (B,) where :attr:`needs_baseline`.

        Returns:
            ``(objective, estimate)``: the scalar to maximise (carries the
            gradient) and the detached scalar estimate, nats.
        """
        if self.needs_baseline and log_baseline is None:
            raise ValueError(f"bound {self.name!r} needs a log baseline (B,)")
        objective = self.objective(scores, log_baseline)
        if self.objective_is_estimate:
            return objective, objective.detach()
        with torch.no_grad():
            return objective, self.estimate(scores, log_baseline)


def register(cls: type[Bound]) -> type[Bound]:
    """Class decorator: add a :class:`Bound` subclass to :data:`BOUNDS` under ``cls.name``."""
    if not cls.name or cls.name in BOUNDS:
        raise ValueError(f"a bound needs a new, non-empty name, got {cls.name!r}")
    BOUNDS[cls.name] = cls
    return cls


def register_function(
    name: str,
    function: Callable[..., Tensor],
    summary: str,
    *,
    objective: Callable[..., Tensor] | None = None,
    objective_is_estimate: bool | None = None,
    needs_baseline: bool = False,
    dv_readout: bool = False,
    options: dict[str, Any] | None = None,
    samples: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]] | None = None,
) -> type[Bound]:
    """Register a bound made of functions of the score matrix.

    The estimate is ``function(scores, **options)``, or ``function(scores,
    log_baseline, **options)`` where the bound takes a baseline (a missing one
    reads as 0); training maximises ``objective`` called the same way, or the
    estimate itself.

    Args:
        name: registry name.
        function: (B, B) scores -> scalar estimate, nats.
        summary: one phrase for help texts.
        objective: the training objective where it is not ``function``.
        objective_is_estimate: whether ``objective``'s value is the estimate (only
            its gradient differs); default: only when there is no ``objective``.
        needs_baseline: whether the functions take a learned ``log a(x_i)`` (B,).
        dv_readout: whether the estimate is the DV estimate.
        options: the functions' keyword options and their defaults.
        samples: its form on sets of scores, ``(positive, negative) -> (objective,
            estimate)`` (:meth:`Bound.samples`), if it has one.

    Returns:
        The registered :class:`Bound` subclass.
    """

    def call(
        bound: Bound, f: Callable[..., Tensor], scores: Tensor, log_baseline: Tensor | None
    ) -> Tensor:
        baseline = (0.0 if log_baseline is None else log_baseline,) if needs_baseline else ()
        return f(scores, *baseline, **{key: getattr(bound, key) for key in bound.options})

    doc = f":func:`{function.__module__}.{function.__name__}`"
    attributes: dict[str, Any] = {
        "name": name,
        "summary": summary,
        "needs_baseline": needs_baseline,
        "dv_readout": dv_readout,
        "objective_is_estimate": objective is None or bool(objective_is_estimate),
        "options": dict(options or {}),
        "estimate": lambda self, scores, log_baseline=None: call(
            self, function, scores, log_baseline
        ),
        "__doc__": f"{doc}, maximised and reported."
        if objective is None
        else f"{doc} reported; trained by :func:`{objective.__name__}`.",
    }
    if objective is not None:
        attributes["objective"] = lambda self, scores, log_baseline=None: call(
            self, objective, scores, log_baseline
        )
    if samples is not None:
        attributes["samples"] = lambda self, positive, negative: samples(positive, negative)
    return register(type(function.__name__.upper(), (Bound,), attributes))


def bound_names() -> tuple[str, ...]:
    """Names of the registered bounds, in registration order."""
    return tuple(BOUNDS)


def make_bound(name: str, **options: Any) -> Bound:
    """Build the bound ``name``; options it does not take are ignored.

    Args:
        name: a key of :data:`BOUNDS`.
        **options: bound options (``tau``, ``alpha``, ``dv_weight``, ``momentum``);
            each bound takes those in its :attr:`Bound.options`.

    Raises:
        ValueError: an unknown name, or an option no bound takes.
    """
    try:
        cls = BOUNDS[name]
    except KeyError:
        raise ValueError(
            f"unknown bound {name!r}; choose one of {', '.join(sorted(BOUNDS))}"
        ) from None
    known = {option for bound in BOUNDS.values() for option in bound.options}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(
            f"unknown bound option(s) {', '.join(unknown)}; bounds take {', '.join(sorted(known))}"
        )
    return cls(**{key: value for key, value in options.items() if key in cls.options})


def make_baseline(x_dim: int) -> nn.Module:
    """The learned baseline ``x (B, x_dim) -> log a(x) (B, 1)``: an MLP with one ReLU layer."""
    return mlp(x_dim, BASELINE_HIDDEN, 1)


def describe(names: tuple[str, ...] | None = None) -> str:
    """``name (summary), ...`` of the registered bounds, for help texts."""
    return ", ".join(f"{n} ({BOUNDS[n].summary})" for n in (names or bound_names()))
