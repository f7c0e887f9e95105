"""The paper's assumptions read off the weights, per head and per layer (see `metrics`).

Per head h of layer l:  M = s Wq_h Wk_h^T: asymmetry; inertia, extreme eigenvalues and PSD
distance of sym(M) (from the full d x d eigendecomposition, and again from the exact 2k-factor,
the two compared); the nearest c I to Wv_h Wo_h.
Per layer: the nearest c I to the summed value-output map Wv Wo = sum_h Wv_h Wo_h; the FFN's
effective linear map under two linearisations of act(Z W1 + 1 b1^T) W2:

    ignoring the activation:    M_ff = W1 W2
    mean Jacobian on real text: M_ff = W1 diag(mean over tokens of act'(h)) W2,  h = z W1 + b1

and for each: its asymmetry, lmin(sym(M_ff)), and the FF-DESCENT certificate lmin(I + sym(M))
for the two readings of "the layer": the FFN alone (M = M_ff) and the residual sublayer before
its norm (M = I + M_ff, so lmin(2 I + sym(M_ff))).
"""

from __future__ import annotations

import torch
from torch import Tensor

from verify.math.attention import sym
from verify.running.audit.checkpoint import ACTIVATIONS, Encoder, LayerWeights
from verify.running.audit.geometry import LayerGeometry
from verify.running.audit.metrics import asymmetry, scalar_fit, scalar_floor, spectrum

IGNORING_ACTIVATION = "W1 W2 (activation ignored)"
MEAN_JACOBIAN = "W1 diag(mean act') W2 (mean Jacobian on the text)"


def activation_slope(name: str, H: Tensor) -> Tensor:
    """act'(H) elementwise, by autograd."""
    H = H.detach().requires_grad_(True)
    (slope,) = torch.autograd.grad(ACTIVATIONS[name](H).sum(), H)
    return slope


def head_assumptions(encoder: Encoder, layer: LayerWeights, geometry: LayerGeometry) -> list[dict]:
    """One record per head."""
    s, d, k = encoder.config.scale, encoder.config.hidden, encoder.config.head_dim
    rows = []
    for h in range(layer.Wq.shape[0]):
        M = s * layer.Wq[h] @ layer.Wk[h].T
        full = spectrum(sym(M))
        factored = geometry.factors[h].spectrum()
        rows.append({
            "head": h, "asymmetry": asymmetry(M), "sym": full.as_json(),
            "factor_check": {"inertia_equal": (full.positive, full.negative) == (factored.positive, factored.negative),
                             "psd_distance_difference": abs(full.psd_distance - factored.psd_distance),
                             "lmin_difference": abs(full.lmin - factored.lmin)},
            "value_output": {**scalar_fit(layer.Wv[h] @ layer.Wo[h]).as_json(), "floor": scalar_floor(k, d)},
        })
    return rows


def ffn_assumptions(layer: LayerWeights, mean_slope: Tensor) -> dict:
    """Per linearisation: asymmetry, spectrum of sym(M_ff), and both FF-DESCENT certificates."""
    out = {}
    for name, M in ((IGNORING_ACTIVATION, layer.W1 @ layer.W2), (MEAN_JACOBIAN, layer.W1 @ (mean_slope[:, None] * layer.W2))):
        spec = spectrum(sym(M))
        out[name] = {"asymmetry": asymmetry(M), "lmin": spec.lmin, "lmax": spec.lmax,
                     "positive": spec.positive, "negative": spec.negative, "zero": spec.zero,
                     "lmin_I_plus_sym": 1 + spec.lmin, "lmin_2I_plus_sym": 2 + spec.lmin}
    return out


def layer_assumptions(layer: LayerWeights, mean_slope: Tensor) -> dict:
    """The summed value-output map's nearest c I, and the FFN's linearisations."""
    return {"value_output": scalar_fit((layer.Wv @ layer.Wo).sum(0)).as_json(), "ffn": ffn_assumptions(layer, mean_slope)}
