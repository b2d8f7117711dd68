"""Fitting TCL (or its auxiliary-variable form) to an array of observations.

:func:`fit_tcl` takes rows ``x`` and either a segment length (TCL proper:
row ``t`` is in segment ``t // length``) or one observed discrete label per
row (the auxiliary variable ``u``; several label columns are combined into
one label per distinct row). Labels are renumbered ``0..K-1``. A held-out
share of the rows measures the classifier at the end: cross-entropy,
accuracy and the bound ``H(u) - CE`` on ``I(x; u)``, in nats.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from infomax.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from infomax.minimise import minimise
from infomax.tcl.data import segment_labels
from infomax.tcl.model import TCLClassifier, TCLFeatures, tcl_loss
from infomax.validation import InputError, validate_rows

__all__ = ["TCLFit", "build_model", "encode_labels", "fit_tcl", "load_fit", "save_fit", "transform"]


@dataclass
class TCLFit:
    """A fitted TCL model and how it did.

    Attributes:
        model: the classifier; ``model.features`` is ``h``.
        classes: ``(K,)`` original label values (or rows, for label columns)
            in the order of the classifier's outputs.
        losses: training cross-entropy per logged step, in nats.
        heldout_loss: cross-entropy on the held-out rows, in nats (NaN if none).
        heldout_accuracy: classification accuracy on the held-out rows.
        mi_lower_bound: ``H(u) - CE`` on the held-out rows, a lower bound on
            ``I(x; u)`` in nats (``H(u)`` from the label frequencies).
        config: the settings, enough to rebuild the model.
    """

    model: TCLClassifier
    classes: np.ndarray
    losses: list[float] = field(default_factory=list)
    heldout_loss: float = math.nan
    heldout_accuracy: float = math.nan
    mi_lower_bound: float = math.nan
    config: dict[str, Any] = field(default_factory=dict)

    def transform(self, x: Any) -> np.ndarray:
        """``(T, d)`` rows -> ``(T, n)`` features ``h(x)``."""
        return transform(self.model.features, x)


def encode_labels(labels: Any, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels as ``0..K-1`` integers, from a segment length or one label per row.

    Args:
        labels: an ``int`` segment length, or ``(T,)`` / ``(T, c)`` discrete
            labels (integers, or floats with integer values).
        n_rows: number of rows ``T``.

    Returns:
        ``(T,)`` int64 codes and the ``(K,)`` or ``(K, c)`` distinct labels.
    """
    if isinstance(labels, (int, np.integer)):
        codes = segment_labels(n_rows, int(labels))
        return codes, np.unique(codes)
    array = np.asarray(labels)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim not in (1, 2) or len(array) != n_rows:
        raise InputError(
            f"labels must have shape ({n_rows},) or ({n_rows}, c) like x's rows, "
            f"got shape {array.shape}"
        )
    if array.dtype.kind == "f":
        if not np.isfinite(array).all() or (array != np.round(array)).any():
            raise InputError("labels must be whole numbers (discrete segments or classes)")
        array = array.astype(np.int64)
    elif array.dtype.kind not in "biu":
        raise InputError(f"labels must be integers, got dtype {array.dtype}")
    classes, codes = np.unique(array, axis=0, return_inverse=True)
    return codes.reshape(-1).astype(np.int64), classes


def transform(features: TCLFeatures, x: Any, batch_size: int = 65536) -> np.ndarray:
    """Apply ``h`` to ``(T, d)`` rows in batches; returns ``(T, n)`` float64 features."""
    rows = validate_rows(x, features.net[0].in_features, name="x")
    device = features.mean.device
    was_training = features.training
    features.eval()
    with torch.no_grad():
        out = [
            features(torch.from_numpy(rows[i : i + batch_size]).to(device)).cpu().numpy()
            for i in range(0, len(rows), batch_size)
        ]
    features.train(was_training)
    return np.concatenate(out).astype(np.float64)


def fit_tcl(
    x: Any,
    labels: Any,
    *,
    n_features: int | None = None,
    hidden: Sequence[int] = (64, 64),
    final: str = "abs",
    negative_slope: float = 0.2,
    steps: int = 3000,
    batch_size: int = 512,
    lr: float = 3e-3,
    weight_decay: float = 1e-5,
    heldout_fraction: float = 0.1,
    seed: int = 0,
    device: str = "cpu",
    log_every: int = 100,
) -> TCLFit:
    """Train TCL's feature extractor to classify each row's segment or label.

    Args:
        x: ``(T, d)`` observations.
        labels: a segment length (``int``) or ``(T,)`` / ``(T, c)`` discrete labels ``u``.
        n_features: number of features ``n`` (default ``d``: as many sources as inputs).
        hidden: widths of the extractor's hidden layers; as many layers as the
            mixing has is enough to invert a leaky-ReLU mixing.
        final: the extractor's last nonlinearity: ``abs`` (Laplace-like sources),
            ``square`` (Gaussian-like) or ``none``.
        negative_slope: the hidden layers' leaky ReLU slope.
        steps: Adam steps.
        batch_size: rows per step.
        lr: Adam learning rate (cosine-decayed to zero over ``steps``).
        weight_decay: Adam's L2 penalty.
        heldout_fraction: share of rows kept out of training to measure the
            classifier (0 to train on all rows).
        seed: seed of the weights, the held-out split and the batches.
        device: torch device.
        log_every: steps between recorded training losses.

    Returns:
        The :class:`TCLFit`.
    """
    width = np.shape(x)[1] if np.ndim(x) == 2 else 1
    rows = validate_rows(x, width, name="x")
    codes, classes = encode_labels(labels, len(rows))
    n_classes = len(classes)
    if steps < 1 or batch_size < 1:
        raise InputError("steps and batch_size must be positive integers")
    if not 0 <= heldout_fraction < 1:
        raise InputError(f"heldout_fraction must be in [0, 1), got {heldout_fraction}")
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    order = torch.randperm(len(rows), generator=generator).numpy()
    n_heldout = int(round(heldout_fraction * len(rows)))
    heldout, train = order[:n_heldout], order[n_heldout:]
    if len(train) < 2:
        raise InputError(f"{len(rows)} rows are too few to train on; pass more rows")
    config = {
        "n_inputs": width, "n_features": n_features or width, "hidden": list(hidden),
        "final": final, "negative_slope": negative_slope, "n_classes": n_classes,
        "steps": steps, "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay,
        "heldout_fraction": heldout_fraction, "seed": seed,
    }  # fmt: skip
    model = build_model(config)
    x_train = torch.from_numpy(rows[train])
    model.features.mean.copy_(x_train.mean(0))
    model.features.std.copy_(x_train.std(0).clamp_min(1e-8))
    model = model.to(device)
    x_train = x_train.to(device)
    y_train = torch.from_numpy(codes[train]).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    losses: list[float] = []

    def batch_loss(_: int) -> Tensor:
        batch = torch.randint(len(train), (min(batch_size, len(train)),), generator=generator)
        batch = batch.to(device)
        return tcl_loss(model(x_train[batch]), y_train[batch])

    def record(step: int, loss: Tensor) -> None:
        if (step - 1) % log_every == 0 or step == steps:
            losses.append(float(loss.detach()))

    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    minimise(optimizer, batch_loss, steps, schedule=schedule, after_step=record)
    fit = TCLFit(model=model.eval(), classes=classes, losses=losses, config=config)
    if n_heldout:
        with torch.no_grad():
            logits = model(torch.from_numpy(rows[heldout]).to(device))
            target = torch.from_numpy(codes[heldout]).to(device)
            fit.heldout_loss = float(tcl_loss(logits, target))
            fit.heldout_accuracy = float((logits.argmax(1) == target).float().mean())
        frequencies = np.bincount(codes, minlength=n_classes) / len(codes)
        entropy = float(-(frequencies * np.log(np.where(frequencies > 0, frequencies, 1))).sum())
        fit.mi_lower_bound = entropy - fit.heldout_loss
    return fit


def build_model(config: dict[str, Any]) -> TCLClassifier:
    """A fresh (randomly initialised) classifier as described by a fit's ``config``."""
    features = TCLFeatures(
        config["n_inputs"], config["n_features"], config["hidden"], config["negative_slope"],
        config["final"],
    )  # fmt: skip
    return TCLClassifier(features, config["n_classes"])


def save_fit(fit: TCLFit, path: str | os.PathLike[str]) -> None:
    """Write a fit (weights, input standardisation, classes, settings) atomically."""
    save_checkpoint(
        path,
        {
            "kind": "tcl", "model": fit.model.state_dict(), "config": fit.config,
            "classes": torch.from_numpy(np.ascontiguousarray(fit.classes)),
            "losses": fit.losses, "heldout_loss": fit.heldout_loss,
            "heldout_accuracy": fit.heldout_accuracy, "mi_lower_bound": fit.mi_lower_bound,
        },
    )  # fmt: skip


def load_fit(path: str | os.PathLike[str], map_location: str = "cpu") -> TCLFit:
    """Read a fit written by :func:`save_fit`.

    Raises:
        CheckpointError: the file is missing, corrupt or not a TCL fit.
    """
    state = load_checkpoint(path, map_location=map_location)
    if state.get("kind") != "tcl":
        raise CheckpointError(f"{path} is not a TCL fit (written by infomax train tcl)")
    model = build_model(state["config"])
    model.load_state_dict(state["model"])
    return TCLFit(
        model=model.eval(), classes=state["classes"].numpy(), losses=list(state["losses"]),
        heldout_loss=state["heldout_loss"], heldout_accuracy=state["heldout_accuracy"],
        mi_lower_bound=state["mi_lower_bound"], config=dict(state["config"]),
    )  # fmt: skip
