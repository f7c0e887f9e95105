"""The paper's own energy-curve model, written from the formulas in the spec (PAPER-CODE).

Weights: V (d x d) with M = V^T V; U (d x d) replaced by A A^T with eigenvalues clipped at
0.95 (spectrum in [0, 0.95]); b (d).

    attention energy   E_pa(Y)  = sum_{i>j} -exp(-(1/2) ||(y_i - y_j)^T V||^2) + (1/2) ||Y V||_F^2
    attention forward  softmax(Y M Y^T) Y
    FFN energy         E_pf(Y)  = (1/2) tr(Y U Y^T) + (1/2) ||Y - 1 b^T||^2
    FFN forward        -Y sym(U) + 1 b^T            (a gradient step of size 1), optional ReLU

The metric in E_pa is V V^T, so E_pa = (1/2) [E_att + tr(Y W Y^T)] + n/2 with W = V V^T and
rho = -exp(-z): the corrected attention step is ATT-REG-DESCENT's (D + I)^{-1} B Y with that W.
"""

from __future__ import annotations

import torch
from torch import Tensor

from verify.math.attention import attention_energy, regularized_step, softmax_step


def clipped_psd(A: Tensor, top: float = 0.95) -> Tensor:
    """A A^T with its eigenvalues clipped to at most `top`."""
    w, Q = torch.linalg.eigh(A @ A.mT)
    return (Q * w.clamp(0.0, top)[..., None, :]) @ Q.mT


def paper_attention_energy(Y: Tensor, V: Tensor) -> Tensor:
    """sum_{i>j} -exp(-(1/2) ||(y_i - y_j)^T V||^2) + (1/2) ||Y V||_F^2."""
    W = V @ V.mT
    n = Y.shape[-2]
    pairs = (attention_energy(Y, W) + n) / 2  # sum over i > j of -exp(-d2 / 2)
    return pairs + ((Y @ V) ** 2).sum((-2, -1)) / 2


def paper_attention_forward(Y: Tensor, V: Tensor) -> Tensor:
    """softmax(Y M Y^T) Y with M = V^T V."""
    return softmax_step(Y, V.mT @ V)


def corrected_attention_forward(Y: Tensor, V: Tensor) -> Tensor:
    """(D + I)^{-1} B Y with B = [exp(-(1/2) ||(y_i - y_j)^T V||^2)]: a descent step on E_pa."""
    return regularized_step(Y, V @ V.mT, 2.0)


def paper_ffn_energy(Y: Tensor, U: Tensor, b: Tensor) -> Tensor:
    """(1/2) tr(Y U Y^T) + (1/2) ||Y - 1 b^T||^2."""
    return ((Y @ U) * Y).sum((-2, -1)) / 2 + ((Y - b[..., None, :]) ** 2).sum((-2, -1)) / 2


def paper_ffn_forward(Y: Tensor, U: Tensor, b: Tensor, relu: bool = False) -> Tensor:
    """-Y sym(U) + 1 b^T, then relu if asked."""
    out = -Y @ ((U + U.mT) / 2) + b[..., None, :]
    return torch.relu(out) if relu else out
