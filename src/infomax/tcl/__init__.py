"""Nonlinear ICA by time-contrastive learning (TCL; Hyvärinen & Morioka, 2016).

A small API::

    from infomax.tcl import fit_tcl, linear_mcc, make_nonstationary_mixture

    data = make_nonstationary_mixture(n_sources=5, n_segments=64, n_layers=2, seed=0)
    fit = fit_tcl(data.x, 256, hidden=(32, 32))      # segments of 256 rows
    h = fit.transform(data.x)                        # (T, 5) features
    print(linear_mcc(h, data.statistic).mcc)         # q(s) = A h(x) + b, read on held-out rows

Passing one observed discrete label per row instead of a segment length is
the auxiliary-variable generalisation (``fit_tcl(x, u)``).
"""

from __future__ import annotations

from infomax.tcl.data import (
    NonstationaryMixture,
    make_nonstationary_mixture,
    segment_labels,
    sufficient_statistic,
)
from infomax.tcl.fit import TCLFit, encode_labels, fit_tcl, transform
from infomax.tcl.mcc import MCCResult, correlation_matrix, linear_mcc, mcc
from infomax.tcl.model import TCLClassifier, TCLFeatures, tcl_loss

__all__ = [
    "MCCResult",
    "NonstationaryMixture",
    "TCLClassifier",
    "TCLFeatures",
    "TCLFit",
    "correlation_matrix",
    "encode_labels",
    "fit_tcl",
    "linear_mcc",
    "make_nonstationary_mixture",
    "mcc",
    "segment_labels",
    "sufficient_statistic",
    "tcl_loss",
    "transform",
]
