"""Scoring new rows with a trained critic, preprocessed as its training rows were."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from infomax.validation import validate_rows

__all__ = ["CriticScorer"]


class CriticScorer:
    """Scores new raw rows with a trained critic, preprocessed as its training rows were."""

    def __init__(
        self,
        critic: nn.Module,
        px: Callable[[np.ndarray], np.ndarray],
        py: Callable[[np.ndarray], np.ndarray],
        x_dim: int,
        y_dim: int,
    ) -> None:
        self.critic, self.px, self.py = critic, px, py
        self.x_dim, self.y_dim = x_dim, y_dim

    @torch.no_grad()
    def __call__(self, x: Any, y: Any) -> np.ndarray:
        xs = torch.from_numpy(self.px(validate_rows(x, self.x_dim, name="x")))
        ys = torch.from_numpy(self.py(validate_rows(y, self.y_dim, name="y")))
        was_training = self.critic.training
        self.critic.train(False)
        try:
            out = torch.cat([self.critic(xs[i : i + 1024], ys) for i in range(0, len(xs), 1024)])
        finally:
            self.critic.train(was_training)
        return out.double().numpy()
