"""Representation-learning methods: each an ``nn.Module`` holding an encoder and a loss.

==========  ===============================================================
dim-local   Deep InfoMax, local objective (DIM(L): beta=1, gamma=0.1)
dim-global  Deep InfoMax, global objective (DIM(G): alpha=1, gamma=1)
dim         Deep InfoMax, both (alpha=0.5, beta=1, gamma=0.1); all three
            take the structural tasks ``occlude`` and ``coord``
simclr      SimCLR: two augmented views, projection head, NT-Xent
demi        DEMI: views x, y and a sub-view x' of x; InfoNCE(x', y) plus the
            conditional term I(x; y | x') (I_BO by default, ``conditional="is"``)
multiview   the same three views with InfoNCE(x', y) + InfoNCE(x, y): DEMI's
            baseline without the conditional term
cpc         CPC on a grid of image patches (needs the ``patch-dim`` encoder,
            which ``infomax train cpc`` picks by default); CPC v2's
            ``directions="all"`` and ``patch_aug=True``
==========  ===============================================================

(``cpc-seq``, CPC on sequences, has no image encoder: see
:class:`infomax.methods.cpc.CPCSequence` and ``infomax train cpc-seq``.)

:func:`make_method` builds one by name around an encoder; every method has
``make_views(uint8 batch) -> views`` and ``loss(views) -> MethodOutput``.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from torch import nn

from infomax.data.augment import Augment
from infomax.methods.base import GradientReversal, Method, MethodOutput, init_options
from infomax.methods.cpc import CPCImage, CPCSequence
from infomax.methods.demi import DEMI, MultiViewInfoNCE, SubView
from infomax.methods.dim import PRESETS as DIM_PRESETS
from infomax.methods.dim import DeepInfoMax, dim_objective
from infomax.methods.simclr import SimCLR, nt_xent
from infomax.validation import InputError

__all__ = [
    "DEMI",
    "CPCImage",
    "CPCSequence",
    "METHODS",
    "DeepInfoMax",
    "GradientReversal",
    "Method",
    "MethodOutput",
    "MultiViewInfoNCE",
    "SimCLR",
    "SubView",
    "check_option_types",
    "dim_objective",
    "make_method",
    "nt_xent",
]

#: Method name -> (class, default options, default augmentation preset).
METHODS: dict[str, tuple[type[Method], dict[str, Any], str]] = {
    "dim-local": (DeepInfoMax, DIM_PRESETS["dim-local"], "dim"),
    "dim-global": (DeepInfoMax, DIM_PRESETS["dim-global"], "dim"),
    "dim": (DeepInfoMax, DIM_PRESETS["dim"], "dim"),
    "simclr": (SimCLR, {}, "simclr"),
    "demi": (DEMI, {}, "simclr"),
    "multiview": (MultiViewInfoNCE, {}, "simclr"),
    "cpc": (CPCImage, {}, "crop"),
}

#: Methods that need a particular encoder, and the one ``infomax train`` picks for them.
METHOD_ENCODERS: dict[str, str] = {"cpc": "patch-dim"}


def make_method(
    name: str,
    encoder: nn.Module,
    *,
    image_size: int | tuple[int, int],
    mean: float | Sequence[float] = 0.5,
    std: float | Sequence[float] = 0.5,
    augment: str | None = None,
    **options: Any,
) -> Method:
    """Build a method by name around ``encoder``.

    Args:
        name: a key of :data:`METHODS`.
        encoder: from :func:`infomax.nets.make_encoder`.
        image_size: the views' height and width.
        mean: per-channel mean of the data (normalises the views).
        std: per-channel standard deviation of the data.
        augment: an augmentation preset replacing the method's default.
        **options: the method class's own arguments (e.g. ``estimator="jsd"``,
            ``gamma=0``, ``temperature=0.2``), overriding the preset.

    Raises:
        InputError: an unknown method, option or preset.
    """
    if name not in METHODS:
        raise InputError(f"unknown method {name!r}; use one of {', '.join(METHODS)}")
    cls, defaults, preset = METHODS[name]
    allowed = set(init_options(cls))
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise InputError(
            f"method {name!r} has no option {unknown[0]!r}; its options are "
            f"{', '.join(sorted(allowed))}"
        )
    check_option_types(f"method {name!r}", cls, options, defaults)
    views = Augment(augment or preset, size=image_size, mean=mean, std=std)
    return cls(encoder, views, **{**defaults, **options})


def _kind(value: Any) -> str | None:
    """The kind of an option's default a given value must match: bool, number or text."""
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a name"
    return None


def check_option_types(
    owner: str, function: Any, options: dict[str, Any], defaults: dict[str, Any] | None = None
) -> None:
    """Refuse an option whose value is not of the kind of its default (e.g. ``gamma=abc``).

    Args:
        owner: what the options belong to, for the message ("method 'dim-local'").
        function: the callable taking the options (its defaults give the kinds), or a
            method class (:func:`~infomax.methods.base.init_options`).
        options: the options given.
        defaults: preset values that override the signature's defaults.

    Raises:
        InputError: naming the option, the kind it needs and the value given.
    """
    is_class = isinstance(function, type)
    params = init_options(function) if is_class else inspect.signature(function).parameters
    for key, value in options.items():
        default = (defaults or {}).get(key, params[key].default if key in params else None)
        kind = _kind(default)
        if kind is None or value is None:
            continue
        if _kind(value) != kind:
            raise InputError(
                f"{owner}: option {key} takes {kind} (default {default!r}), got {value!r}"
            )
