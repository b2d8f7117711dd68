"""SimCLR (Chen et al., 2020): two augmented views, a projection head, NT-Xent.

NT-Xent is InfoNCE with cosine similarity over a temperature, where each of
the 2B views must pick its partner out of the other 2B - 1 views of the batch.
Its MI estimate ``log(2B - 1) - loss`` never exceeds ``log(2B - 1)`` nats.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from infomax.distributed import gather
from infomax.methods.base import MethodOutput, ProjectedMethod
from infomax.validation import InputError

__all__ = ["SimCLR", "nt_xent"]


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """Normalised-temperature cross entropy of two batches of embeddings.

    Args:
        z1: (B, D) embeddings of the first views.
        z2: (B, D) embeddings of the second views; row i pairs with row i of z1.
        temperature: divides the cosine similarities.

    Returns:
        Scalar loss (nats), the mean over all 2B anchors.

    Raises:
        InputError: mismatched shapes, B < 2 or a non-positive temperature.
    """
    if z1.ndim != 2 or z1.shape != z2.shape or z1.shape[0] < 2:
        raise InputError(
            f"nt_xent expects two (B, D) batches with B >= 2, got {tuple(z1.shape)} and "
            f"{tuple(z2.shape)}"
        )
    if temperature <= 0:
        raise InputError(f"temperature must be positive, got {temperature}")
    batch = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)  # (2B, D)
    logits = z @ z.T / temperature
    logits = logits.masked_fill(torch.eye(2 * batch, dtype=torch.bool, device=z.device), -math.inf)
    partner = torch.cat([torch.arange(batch, 2 * batch), torch.arange(batch)]).to(z.device)
    return F.cross_entropy(logits, partner)


class SimCLR(ProjectedMethod):
    """SimCLR: InfoNCE between two augmented views of each image.

    The projection head maps the encoder's output ``y`` through
    Linear-BatchNorm-ReLU-Linear to ``projection_dim``; probes read the
    encoder's layers, never the head.

    Args:
        encoder: an encoder with an ``out_dim`` attribute.
        augment: the view distribution (SimCLR's preset: resized crop, flip,
            colour jitter, grayscale).
        temperature: NT-Xent temperature.
        hidden_dim: width of the projection head.
        projection_dim: size of the projected embedding.
        probe_layer: encoder layer handed to the online probe.

    Shapes:
        input of :meth:`forward`: (B, C, H, W) uint8 images.
        :attr:`MethodOutput.metrics`: ``mi`` (nats) and ``accuracy`` (how often
        a view's nearest neighbour among the other 2B - 1 is its partner).
    """

    num_views = 2

    def loss(self, views: list[torch.Tensor]) -> MethodOutput:
        """NT-Xent on two views, each (B, C, H, W), encoded in one pass."""
        batch = views[0].shape[0]
        out = self.encoder(torch.cat(views[:2]))
        z = self.head(out.y)
        z1, z2 = gather(z[:batch]), gather(z[batch:])  # the global batch under torchrun
        batch = z1.shape[0]
        z = torch.cat([z1, z2])
        loss = nt_xent(z1, z2, self.temperature)
        with torch.no_grad():
            zn = F.normalize(z, dim=1)
            sim = (zn @ zn.T).fill_diagonal_(-math.inf)
            partner = torch.cat([torch.arange(batch, 2 * batch), torch.arange(batch)])
            accuracy = (sim.argmax(1).cpu() == partner).float().mean()
        local = views[0].shape[0]
        metrics = {"mi": math.log(2 * batch - 1) - loss.detach(), "accuracy": accuracy}
        features = out.layer(self.probe_layer)[:local].detach()
        return MethodOutput(loss, metrics, features)
