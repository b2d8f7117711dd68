"""Test-wide settings: one torch thread keeps tiny models fast and results repeatable."""

import torch

torch.set_num_threads(1)
