"""Energy per depth on real text.

At every state along the forward pass (X_0, Z_0, X_1, ..., X_L) each head's PSD energy

    e_lh(Y) = E_{W+_lh}(Y) / n^2 = (1 / n^2) sum_ij -exp(-||y_i - y_j||_{W+_lh}^2 / 2)   in [-1, 0)

(divided by n^2 so that sentences of different lengths compare: -1 when every token coincides in
that metric, near 0 when they are far apart). The model's energy at a depth is the mean over all
heads of all layers (one fixed energy evaluated along the pass); a layer's own energy is the mean
over its heads.
"""

from __future__ import annotations

import torch
from torch import Tensor

from verify.math.attention import attention_energy
from verify.running.audit.geometry import LayerGeometry


def depth_energies(geometries: list[LayerGeometry], states: list[Tensor]) -> Tensor:
    """e_lh at every state, shape (states, layers, heads)."""
    roots = torch.stack([g.psd_root for g in geometries])  # (L, h, d, r)
    eye = torch.eye(roots.shape[-1], dtype=roots.dtype, device=roots.device)
    n = states[0].shape[-2]
    return torch.stack([attention_energy(Y @ roots, eye) for Y in states]) / (n * n)
