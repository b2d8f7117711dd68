"""Benchmarks with known ground truth: the MI staircase, the DEMI table and the demo.

They import the core (bounds, critics, the conditional estimators, the Gaussian
sampler :func:`infomax.distributions.gaussian_pairs`) and nothing
in the core imports them. Modules:

- :mod:`~infomax.bench.protocol`: the staircase protocol: bounds, constants, reference models.
- :mod:`~infomax.bench.stacked`: every staircase critic trained as one stacked model.
- :mod:`~infomax.bench.staircase`: the staircase runner, its result file and table.
- :mod:`~infomax.bench.demi_optimal`: DEMI's estimators with the analytically optimal critics.
- :mod:`~infomax.bench.demi`: trained InfoNCE and DEMI cells, the table, resume and merge.
- :mod:`~infomax.bench.demo`: ``infomax demo``.
- :mod:`~infomax.bench.plots`: the figures (matplotlib is optional).
- :mod:`~infomax.bench.process`: process tuning the command line may apply before a run.
"""
