"""Each layer's heads as the energy sees them, precomputed once from the weights.

For head h of a layer (see `metrics` for the factorisation):

    sym(M_h)        = U_h diag(l_h) U_h^T               M_h = s Wq_h Wk_h^T
    W+_h            = proj_PSD(sym(M_h)) = G_h G_h^T      G_h = U_h diag(sqrt(max(l_h, 0)))
    c_h             = tr(Wv_h Wo_h) / d,   c+_h = max(c_h, 0)
    shift_h         = bv_h Wo_h                          (the value bias: one vector added to every token)

The nearest descent-compatible head keeps W+_h as its query-key metric (plain softmax, no query
or key bias), c+_h I as its value-output map, and the shift (which moves every token alike and so
leaves E_att unchanged):  compatible_h(Y) = c+_h softmax(Y W+_h Y^T) Y + 1 shift_h^T.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from verify.running.audit.checkpoint import Encoder, LayerWeights
from verify.running.audit.metrics import SymmetricFactor, symmetric_factor


@dataclass(frozen=True)
class LayerGeometry:
    """Per head, stacked over the layer's h heads: U (h, d, r), sym_metric (h, r, r) = diag(l),
    psd_root G (h, d, r), c (h,), shift (h, d); and the factors themselves."""

    U: Tensor
    sym_metric: Tensor
    psd_root: Tensor
    c: Tensor
    shift: Tensor
    factors: tuple[SymmetricFactor, ...]

    @property
    def c_plus(self) -> Tensor:
        return self.c.clamp(min=0)


def layer_geometry(encoder: Encoder, layer: LayerWeights) -> LayerGeometry:
    """The LayerGeometry of one layer's heads."""
    s, d = encoder.config.scale, encoder.config.hidden
    factors = tuple(symmetric_factor(layer.Wq[h], layer.Wk[h], s) for h in range(layer.Wq.shape[0]))
    VO = layer.Wv @ layer.Wo
    c = torch.diagonal(VO, dim1=-2, dim2=-1).sum(-1) / d
    return LayerGeometry(
        U=torch.stack([f.U for f in factors]), sym_metric=torch.stack([torch.diag_embed(f.eigenvalues) for f in factors]),
        psd_root=torch.stack([f.psd_root() for f in factors]), c=c, shift=(layer.bv[:, None, :] @ layer.Wo)[:, 0, :],
        factors=factors,
    )


def compatible_updates(geometry: LayerGeometry, X: Tensor) -> Tensor:
    """compatible_h(X) = c+_h softmax(X W+_h X^T) X + 1 shift_h^T for every head, (h, n, d)."""
    projected = X @ geometry.psd_root
    weights = torch.softmax(projected @ projected.mT, dim=-1)
    return geometry.c_plus[:, None, None] * (weights @ X) + geometry.shift[:, None, :]
