"""Contrastive learning on paired data of two modalities.

- :mod:`infomax.pair.model`: two encoders, the separable critic, symmetric InfoNCE,
  retrieval accuracy.
- :mod:`infomax.pair.train`: :func:`train_pair`, the API of ``infomax train pair``.
- :mod:`infomax.pair.word2vec`: skip-gram with negative sampling (SGNS) on a text file.
- :mod:`infomax.pair.corpus`: a Markov-chain corpus with exact PMI (SGNS's known answer).
- :mod:`infomax.pair.audiovisual`: synthetic sound / image pairs sharing a latent.
"""

from infomax.pair.model import PairModel, symmetric_infonce, topk_accuracy
from infomax.pair.train import PairResult, evaluate_pair, train_pair

__all__ = [
    "PairModel",
    "PairResult",
    "evaluate_pair",
    "symmetric_infonce",
    "topk_accuracy",
    "train_pair",
]
