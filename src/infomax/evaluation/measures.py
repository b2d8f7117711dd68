"""The DIM paper's representation measures: NDM and a lower bound on I(X; E(X)), in nats."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from infomax.bounds import make_bound
from infomax.evaluation.checks import as_features, check_positive, feature_stats, pick_device
from infomax.minimise import minimise
from infomax.validation import InputError, heldout_count

if TYPE_CHECKING:
    from infomax.result import MIEstimate

__all__ = ["neural_dependency_measure", "representation_mi"]


def _shuffle_columns(y: Tensor, generator: torch.Generator) -> Tensor:
    """``y`` (B, D) with each column permuted independently across the rows."""
    order = torch.rand(y.shape, generator=generator).argsort(dim=0)
    return y.gather(0, order.to(y.device))


def neural_dependency_measure(
    y: Any,
    *,
    steps: int = 1000,
    batch_size: int = 256,
    hidden: int = 256,
    lr: float = 1e-3,
    heldout: float = 0.3,
    shuffles: int = 10,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> float:
    """The DIM paper's neural dependency measure (NDM) of a representation, in nats.

    NDM is ``KL(p(y) || prod_d p(y_d))``, the total correlation of the
    representation's coordinates: 0 when they are independent, larger the
    more they depend on each other. It is estimated as in Hjelm et al. (2019,
    section 4): a discriminator ``T`` (an MLP with two hidden layers of
    ``hidden`` ReLU units) learns to tell rows of ``y`` from rows of a copy
    whose every column is shuffled independently across the batch (a sample
    of the product of the marginals), trained with the logistic
    (Jensen-Shannon) loss, whose optimum ``T`` is the log density ratio. The
    estimate is the Donsker-Varadhan bound read out on held-out rows never
    used in training::

        NDM = mean_i T(y_i) - log mean_j exp T(y~_j)

    with ``y~`` ``shuffles`` column-shuffled copies of the held-out rows. It
    is a lower bound on the KL (up to noise): about 0, possibly slightly
    negative, for independent coordinates. Columns are standardized with the
    training rows' statistics first (KL is invariant to that).

    Args:
        y: (N, D) representation, D >= 2 (tensor or array).
        steps: Adam steps of the discriminator.
        batch_size: rows per step (and as many shuffled rows).
        hidden: width of the discriminator's hidden layers.
        lr: Adam learning rate.
        heldout: fraction of rows held out for the read-out.
        shuffles: column-shuffled copies of the held-out rows in the read-out.
        seed: seeds the split, the discriminator and the shuffles.
        device: where to train (default: ``y``'s device).

    Returns:
        The NDM estimate in nats.

    Raises:
        InputError: fewer than 2 columns, too few rows, NaN/inf, or bad settings.
    """
    x = as_features(y, "y")
    n, d = x.shape
    if d < 2:
        raise InputError(f"NDM needs a representation of at least 2 columns, got {d}")
    check_positive(steps, "steps", integer=True)
    check_positive(batch_size, "batch_size", integer=True)
    check_positive(hidden, "hidden", integer=True)
    check_positive(shuffles, "shuffles", integer=True)
    n_held = heldout_count(n, heldout, name="heldout", minimum=10)
    dev = pick_device(device, x)
    generator = torch.Generator().manual_seed(int(seed))
    order = torch.randperm(n, generator=generator)
    train, held = x[order[n_held:]], x[order[:n_held]]
    mean, std = feature_stats(train)
    train = ((train - mean) / std).to(dev)
    held = ((held - mean) / std).to(dev)
    batch = min(int(batch_size), train.shape[0])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        critic = nn.Sequential(
            nn.Linear(d, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 1),
        ).to(dev)

    jsd, dv = make_bound("jsd"), make_bound("dv")  # the training objective and the read-out

    def batch_loss(_: int) -> Tensor:
        rows = torch.randint(train.shape[0], (batch,), generator=generator).to(dev)
        joint = train[rows]
        marginal = _shuffle_columns(joint, generator)
        objective, _ = jsd.samples(critic(joint), critic(marginal))
        return -objective

    minimise(torch.optim.Adam(critic.parameters(), lr=lr), batch_loss, int(steps))
    with torch.no_grad():
        positive = critic(held)
        negative = torch.cat(
            [critic(_shuffle_columns(held, generator)).flatten() for _ in range(int(shuffles))]
        )
        _, estimate = dv.samples(positive, negative)
    return float(estimate)


def representation_mi(
    images_flat: Any,
    y: Any,
    *,
    components: int = 64,
    y_components: int | None = None,
    seed: int = 0,
    **estimate_options: Any,
) -> MIEstimate:
    """A lower-bound estimate of I(X; E(X)) between images and their representation, nats.

    The images are reduced to their first ``components`` principal components
    (``torch.pca_lowrank``, centred) and :func:`infomax.estimate_mi` estimates
    the MI between those and ``y``. The number is a lower bound on
    I(X; E(X)) twice over: the PCA is a function of X, so by the data
    processing inequality I(PCA(X); Y) <= I(X; Y), and the estimator itself
    reports a variational lower bound on held-out rows. For a deterministic
    encoder of continuous images the true value is unbounded; what this
    measures is how much of the images' dominant variation the
    representation keeps, as far as the critic can tell from N samples.

    Constant columns of ``y`` (e.g. dead ReLU units) are dropped first.

    Args:
        images_flat: (N, P) flattened, normalised images (or (N, C, H, W),
            flattened here).
        y: (N, D) their representations.
        components: principal components of the images kept (capped at N and P).
        y_components: if given, ``y`` is PCA-reduced to this many components
            too (useful for wide layers such as the 4,096 conv features).
        seed: seeds the PCA's random projection and the estimator.
        **estimate_options: passed to :func:`infomax.estimate_mi` (``steps``,
            ``batch_size``, ``bound``, ...); the default ``batch_size`` of 512
            needs about 2,200 rows. The critic defaults to ``quadratic``, one
            critic rather than ``estimate_mi``'s race of two, so that the measure
            of every encoder comes from the same critic family at half the cost.

    Returns:
        The :class:`~infomax.result.MIEstimate`; ``info`` also holds
        ``pca_components`` and ``explained_variance`` (fraction of the
        images' variance the components keep).

    Raises:
        InputError: mismatched rows, NaN/inf, a constant ``y``, or the
            estimator's own checks (too few rows, ...).
    """
    from infomax.estimate import estimate_mi

    x = torch.as_tensor(images_flat)
    if x.ndim > 2:
        x = x.flatten(1)
    x = as_features(x, "images_flat")
    z = as_features(y, "y")
    if x.shape[0] != z.shape[0]:
        raise InputError(
            f"images_flat and y must have the same number of rows: {x.shape[0]} vs {z.shape[0]}"
        )
    check_positive(components, "components", integer=True)
    keep = z.std(dim=0) > 0
    if not bool(keep.any()):
        raise InputError("every column of y is constant; it carries no information")
    z = z[:, keep]
    x_pca, explained = _pca(x, components, seed)
    if y_components is not None:
        check_positive(y_components, "y_components", integer=True)
        z, _ = _pca(z, y_components, seed)
    estimate_options.setdefault("critic", "quadratic")
    result = estimate_mi(x_pca.numpy(), z.numpy(), seed=seed, **estimate_options)
    result.info["pca_components"] = int(x_pca.shape[1])
    result.info["explained_variance"] = explained
    result.info["y_columns"] = int(z.shape[1])
    return result


def _pca(x: Tensor, components: int, seed: int) -> tuple[Tensor, float]:
    """Scores of ``x`` (N, P) on its first ``q`` principal components, and their variance share."""
    q = min(int(components), x.shape[0], x.shape[1])
    centred = x - x.mean(dim=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        _, _, v = torch.pca_lowrank(centred, q=q, center=False, niter=4)
    scores = centred @ v[:, :q]
    total = float(centred.square().sum())
    explained = float(scores.square().sum()) / total if total > 0 else 0.0
    return scores.contiguous(), explained
