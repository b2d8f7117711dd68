"""Frozen-encoder probes and representation measures.

A trained encoder is judged by how much a simple classifier fit on its frozen
features can do (the *probe*), as in the Deep InfoMax paper (Hjelm et al.,
2019) and the contrastive-learning papers that followed.

==================  ====================================================================
module              what it holds
==================  ====================================================================
``probes``          :func:`linear_probe`, :func:`mlp_probe`, :func:`knn_probe`,
                    :data:`PROBES` and :func:`run_probe`
``classifier``      the Adam loop behind the linear and MLP probes
``result``          :class:`ProbeResult`, :func:`format_probe`, :func:`probe_to_json`
``features``        :func:`extract_features`, :func:`pixel_features`,
                    :func:`recalibrate_batchnorm`
``measures``        :func:`neural_dependency_measure`, :func:`representation_mi`
``run_measures``    :func:`measure_run`: both measures of a run folder's encoder
``runs``            :func:`evaluate_run`, :func:`evaluate_encoder`, :func:`evaluate_pixels`,
                    :func:`load_splits` (a seeded test split where the data has none)
``checks``          input checks shared by the others
==================  ====================================================================

Entry points, from the most to the least packaged:

- :func:`evaluate_run`: the encoder of a training run folder (or a randomly
  initialised one of the same shape, the usual baseline) on a data set's
  train and test splits (or a seeded split of a folder without one);
- :func:`evaluate_encoder`: any encoder on two :class:`ImageDataset` splits;
  :func:`evaluate_pixels`: the raw-pixel baseline;
- :func:`extract_features` then :func:`run_probe`: features and a probe
  separately (e.g. to try several probes on one set of features).

Representation measures from the DIM paper work on features directly:
:func:`neural_dependency_measure` (NDM, how far the coordinates of a
representation are from independent) and :func:`representation_mi` (a lower
bound on I(X; E(X)) with :func:`infomax.estimate_mi`).

Example:
    >>> from infomax.evaluation import evaluate_run, format_probe  # doctest: +SKIP
    >>> result = evaluate_run("runs/dim-cifar10", "cifar10", probe="linear")  # doctest: +SKIP
    >>> print(format_probe(result))  # doctest: +SKIP
    linear probe on conv: ...% test accuracy (train ...%), 50000 train / 10000 test, ... s
"""

from __future__ import annotations

from infomax.evaluation.features import extract_features, pixel_features, recalibrate_batchnorm
from infomax.evaluation.measures import neural_dependency_measure, representation_mi
from infomax.evaluation.probes import PROBES, knn_probe, linear_probe, mlp_probe, run_probe
from infomax.evaluation.result import ProbeResult, format_probe, probe_to_json
from infomax.evaluation.run_measures import RepresentationMeasures, measure_run
from infomax.evaluation.runs import evaluate_encoder, evaluate_pixels, evaluate_run, load_splits

__all__ = [
    "PROBES",
    "ProbeResult",
    "RepresentationMeasures",
    "evaluate_encoder",
    "evaluate_pixels",
    "evaluate_run",
    "extract_features",
    "format_probe",
    "knn_probe",
    "linear_probe",
    "load_splits",
    "measure_run",
    "mlp_probe",
    "neural_dependency_measure",
    "pixel_features",
    "probe_to_json",
    "recalibrate_batchnorm",
    "representation_mi",
    "run_probe",
]
