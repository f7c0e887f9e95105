"""The paper model over many weight draws: energy per depth and how often layers raise an energy.

Four 12-layer weight-shared models, each over DRAWS weight draws and INPUTS synthetic inputs
(n = 16 tokens, d = 8 features, standard normal entries) at three input scales:

    reference    weights meeting the ATT and FF assumptions: W = A A^T / d, a = 1; M symmetric with
                 spectrum in [-0.9, 0.9] (ATT-DESCENT and FF-DESCENT hold for every sublayer)
    paper        the authors' model (energy_curve/model.py): V, U = clip(A A^T), b, its attention forward
    symmetric V  the same with V replaced by (V + V^T) / 2 (is the V V^T / V^T V mismatch the cause?)
    corrected    the same with the attention forward (D + I)^-1 B Y (PAPER-ATTN-FIXED)

Computed on the host from a CPU generator seeded by the run's seed (the same numbers on every
machine), all draws and inputs of a model at once (batched over leading dimensions).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from verify.math.attention import attention_energy, attention_step
from verify.math.curves import EnergyCurve, energy_curve
from verify.math.feedforward import ff_energy, linear_layer
from verify.math.paper import (
    clipped_psd,
    corrected_attention_forward,
    paper_attention_energy,
    paper_attention_forward,
    paper_ffn_energy,
    paper_ffn_forward,
)

DRAWS, INPUTS, N, D, DEPTH = 32, 64, 16, 8, 12
SCALES = (0.5, 1.0, 2.0)
MODELS = ("reference", "paper", "symmetric V", "corrected")


def _normal(g: torch.Generator, *shape: int) -> Tensor:
    return torch.randn(shape, generator=g, dtype=torch.float64)  # host: report curves


def model_curve(model: str, seed: int, scale: float, draws: int = DRAWS, inputs: int = INPUTS) -> EnergyCurve:
    """Energy per sublayer (attention, FFN alternating, DEPTH layers) of `draws` weight draws times
    `inputs` inputs, values of shape (2 DEPTH + 1, draws, inputs)."""
    g = torch.Generator().manual_seed(seed)  # host: report curves
    Y = scale * _normal(g, draws, inputs, N, D)
    if model == "reference":
        A = _normal(g, draws, 1, D, D)
        W = A @ A.mT / D
        Q, _ = torch.linalg.qr(_normal(g, draws, 1, D, D))
        M = (Q * (torch.rand((draws, 1, 1, D), generator=g, dtype=torch.float64) * 1.8 - 0.9)) @ Q.mT  # host: report curves
        b = 0.5 * _normal(g, draws, 1, D)
        layers: list[Callable[[Tensor], Tensor]] = [lambda Z: attention_step(Z, W, 1.0), lambda Z: linear_layer(Z, M, b)]
        energies = {"attention": lambda Z: attention_energy(Z, W), "ff": lambda Z: ff_energy(Z, M, b)}
    else:
        V = _normal(g, draws, 1, D, D) / D**0.5
        if model == "symmetric V":
            V = (V + V.mT) / 2
        U = clipped_psd(_normal(g, draws, 1, D, D) / D**0.5)
        b = 0.5 * _normal(g, draws, 1, D)
        attend = corrected_attention_forward if model == "corrected" else paper_attention_forward
        layers = [lambda Z: attend(Z, V), lambda Z: paper_ffn_forward(Z, U, b)]
        energies = {"attention": lambda Z: paper_attention_energy(Z, V), "ff": lambda Z: paper_ffn_energy(Z, U, b)}
    return energy_curve(layers * DEPTH, energies, Y)


def rises(curve: EnergyCurve) -> dict[str, Tensor]:
    """Where an energy rose, beyond rounding (1e-10 of the largest total): per (layer, draw, input)
    for the attention sublayer (its own energy), the FFN (its own) and the whole layer (the total)."""
    att, ff, total = curve.values["attention"], curve.values["ff"], curve.total
    tol = 1e-10 * (1 + total.abs().amax())
    return {
        "attention_sublayer": att[1::2] > att[0:-1:2] + tol,
        "ffn_sublayer": ff[2::2] > ff[1:-1:2] + tol,
        "layer_total": total[2::2] > total[0:-2:2] + tol,
    }


RATE_NAMES = {
    "attention_sublayer": "attention sublayer raised its own energy (share of layer steps)",
    "ffn_sublayer": "FFN sublayer raised its own energy (share of layer steps)",
    "layer_total": "a layer raised the total energy (share of layer steps)",
    "trajectories_with_a_rising_layer": "inputs with some layer raising the total",
    "final_below_start": "inputs whose total after 12 layers is below the start",
}


def rates_per_draw(curve: EnergyCurve) -> dict[str, Tensor]:
    """Each rate of RATE_NAMES for each weight draw, shape (draws,)."""
    up = rises(curve)
    total = curve.total
    per_draw = {k: v.double().mean((0, 2)) for k, v in up.items()}
    per_draw["trajectories_with_a_rising_layer"] = up["layer_total"].any(0).double().mean(-1)
    per_draw["final_below_start"] = (total[-1] < total[0]).double().mean(-1)
    return per_draw


def summary(values: Tensor) -> dict[str, float]:
    """Median and the 5-95% range over the draws."""
    q = torch.quantile(values, torch.tensor([0.05, 0.5, 0.95], dtype=values.dtype))  # host: report curves
    return {"p5": float(q[0]), "median": float(q[1]), "p95": float(q[2])}


QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def bands(curve: EnergyCurve) -> dict[str, object]:
    """The total energy relative to the start, (E_k - E_0) / |E_0|, per sublayer: its quantiles over
    all draws and inputs, and the share of inputs whose total rose across each layer."""
    total = curve.total.reshape(curve.total.shape[0], -1)
    relative = (total - total[:1]) / total[:1].abs().clamp_min(1e-300)
    q = torch.quantile(relative, torch.tensor(QUANTILES, dtype=relative.dtype), dim=1)  # host: report curves
    rising = rises(curve)["layer_total"].reshape(DEPTH, -1).double().mean(-1)
    return {"quantiles": {f"p{round(100 * p)}": q[i].tolist() for i, p in enumerate(QUANTILES)},
            "rising_share": rising.tolist()}
