"""The energy curves of the report: three 12-layer models on synthetic inputs, energy per depth,
and how often their layers raised an energy (the paper's Figure 5 set-up). Computed on the host
at the end of a run, from a CPU generator (the same curves on every machine)."""

from __future__ import annotations

import torch

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


def reference_model(seed: int, n: int = 16, d: int = 8, depth: int = 12, batch: int = 64) -> EnergyCurve:
    """The paper's Figure-5 set-up on synthetic inputs: a weight-shared model whose weights meet
    the ATT and FF assumptions (W >= 0, a = 1; M symmetric with spectrum in [-0.9, 0.9])."""
    g = torch.Generator().manual_seed(seed)  # host: report curves
    A = torch.randn(d, d, generator=g, dtype=torch.float64)  # host: report curves
    W = A @ A.T / d
    Qm, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))  # host: report curves
    M = (Qm * (torch.rand(d, generator=g, dtype=torch.float64) * 1.8 - 0.9)) @ Qm.T  # host: report curves
    b = torch.randn(d, generator=g, dtype=torch.float64) * 0.5  # host: report curves
    Y = torch.randn(batch, n, d, generator=g, dtype=torch.float64)  # host: report curves
    layers = [lambda Z: attention_step(Z, W, 1.0), lambda Z: linear_layer(Z, M, b)] * depth
    return energy_curve(layers, {"attention": lambda Z: attention_energy(Z, W), "ff": lambda Z: ff_energy(Z, M, b)}, Y)


def paper_model(seed: int, corrected: bool, n: int = 16, d: int = 8, depth: int = 12, batch: int = 64) -> EnergyCurve:
    """The paper's experiment model (random weights, 12 layers), its own attention forward or
    the corrected one (D + I)^{-1} B Y."""
    g = torch.Generator().manual_seed(seed)  # host: report curves
    V = torch.randn(d, d, generator=g, dtype=torch.float64) / d**0.5  # host: report curves
    U = clipped_psd(torch.randn(d, d, generator=g, dtype=torch.float64) / d**0.5)  # host: report curves
    b = torch.randn(d, generator=g, dtype=torch.float64) * 0.5  # host: report curves
    Y = torch.randn(batch, n, d, generator=g, dtype=torch.float64)  # host: report curves
    attend = corrected_attention_forward if corrected else paper_attention_forward
    layers = [lambda Z: attend(Z, V), lambda Z: paper_ffn_forward(Z, U, b)] * depth
    return energy_curve(
        layers, {"attention": lambda Z: paper_attention_energy(Z, V), "ff": lambda Z: paper_ffn_energy(Z, U, b)}, Y
    )


def raise_rates(curve: EnergyCurve) -> dict[str, float]:
    """Fractions of (sample, layer) where a sublayer raised its own energy, and where a whole
    layer (attention then FFN) raised the total, and of samples with any such layer."""
    att, ff, total = curve.values["attention"], curve.values["ff"], curve.total
    tol = 1e-10 * (1 + total.abs().max())
    att_up = att[1::2] > att[0:-1:2] + tol
    ff_up = ff[2::2] > ff[1:-1:2] + tol
    layer_up = total[2::2] > total[0:-2:2] + tol
    return {
        "attention_sublayer": float(att_up.double().mean()),
        "ffn_sublayer": float(ff_up.double().mean()),
        "layer_total": float(layer_up.double().mean()),
        "trajectories_with_a_rising_layer": float(layer_up.any(0).double().mean()),
        "final_below_start": float((total[-1] < total[0]).double().mean()),
    }
