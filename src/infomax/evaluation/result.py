"""What a probe reports (:class:`ProbeResult`), as a line for people and as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from infomax.jsonable import to_jsonable

__all__ = ["ProbeResult", "format_probe", "probe_to_json"]


@dataclass
class ProbeResult:
    """How well a probe fit on training features classifies test features.

    Attributes:
        accuracy: fraction of test rows classified correctly, in [0, 1].
        probe: the probe's name ("linear", "mlp", "knn").
        layer: what was probed: an encoder layer name, "pixels", or
            "features" for features given directly.
        n_train: training rows (including any held out to choose the epoch).
        n_test: test rows.
        seconds: wall time; for :func:`run_probe` the probe's, for the
            ``evaluate_*`` functions feature extraction plus probe (both also
            in ``info``).
        train_accuracy: accuracy on the rows the probe was fit on (None for
            knn, which has no fit to score).
        n_features: feature width F.
        n_classes: number of classes (largest label + 1).
        seed: seed of the probe's initialisation and batch order.
        settings: the probe's settings and training facts (epochs, learning
            rate, chosen epoch, ``k``, ...).
        info: where the features came from (run folder, data, encoder, ...).
    """

    accuracy: float
    probe: str
    layer: str
    n_train: int
    n_test: int
    seconds: float
    train_accuracy: float | None = None
    n_features: int = 0
    n_classes: int = 0
    seed: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


def format_probe(result: ProbeResult) -> str:
    """One line for people: ``<probe> probe on <layer>: <accuracy>% test accuracy (train
    <accuracy>%), <n> train / <m> test, <seconds> s``."""
    train = (
        f" (train {100 * result.train_accuracy:.2f}%)" if result.train_accuracy is not None else ""
    )
    what = "random-init " if result.info.get("random_init") else ""
    return (
        f"{result.probe} probe on {what}{result.layer}: {100 * result.accuracy:.2f}% test "
        f"accuracy{train}, {result.n_train} train / {result.n_test} test, {result.seconds:.1f} s"
    )


def probe_to_json(result: ProbeResult) -> dict[str, Any]:
    """A JSON-ready dict of every field of ``result`` (``accuracy``, ``probe``, ``layer``,
    ``n_train``, ``n_test``, ``seconds``, ``train_accuracy``, ``settings``, ``info``, ...)."""
    return to_jsonable(asdict(result))
