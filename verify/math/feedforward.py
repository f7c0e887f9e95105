"""The feed-forward block as (proximal) gradient descent (spec section FF).

For the token-wise linear layer `Y -> Y M + 1 b^T` (`Y` is `(..., n, d)`, `M` is
`(..., d, d)`, `b` is `(..., d)`):

    E_ff(Y)      = (1/2) tr(Y (I - M) Y^T) - sum_i b^T y_i
    grad E_ff(Y) = Y (I - sym(M)) - 1 b^T            (= Y (I - M) - 1 b^T for symmetric M)
    layer        = Y M + 1 b^T = Y - grad E_ff(Y)     (M symmetric)
    step t       = Y ((1 - t) I + t M) + t 1 b^T = Y - t grad E_ff(Y)

and the tied-weight residual MLP (`V` is `(..., k, d)`, `c` is `(..., k)`):

    E_mlp(Y)     = (1/2) sum_ik relu(v_k^T y_i + c_k)^2
    mlp layer    = Y - t relu(Y V^T + 1 c^T) V = Y - t grad E_mlp(Y)
"""

from __future__ import annotations

import torch
from torch import Tensor

from verify.math.batch import per_case
from verify.model import validate


def ff_energy(Y: Tensor, M: Tensor, b: Tensor) -> Tensor:
    """E_ff(Y) = (1/2) tr(Y (I - M) Y^T) - sum_i b^T y_i, shape (...)."""
    validate.tokens_with(Y, M=M, b=b)
    quad = (Y * (Y - Y @ M)).sum((-2, -1)) / 2
    return quad - (Y * b[..., None, :]).sum((-2, -1))


def ff_energy_scale(Y: Tensor, M: Tensor, b: Tensor) -> Tensor:
    """Magnitude of the terms behind E_ff: (1/2) sum |Y| (|Y| + |Y| |M|) + sum |Y| |b|."""
    A = Y.abs()
    return (A * (A + A @ M.abs())).sum((-2, -1)) / 2 + (A * b.abs()[..., None, :]).sum((-2, -1))


def ff_gradient(Y: Tensor, M: Tensor, b: Tensor) -> Tensor:
    """grad E_ff(Y) = Y (I - sym(M)) - 1 b^T."""
    return Y - Y @ ((M + M.mT) / 2) - b[..., None, :]


def linear_layer(Y: Tensor, M: Tensor, b: Tensor) -> Tensor:
    """Y M + 1 b^T."""
    validate.tokens_with(Y, M=M, b=b)
    return Y @ M + b[..., None, :]


def relu_layer(Y: Tensor, M: Tensor, b: Tensor) -> Tensor:
    """relu(Y M + 1 b^T)."""
    return torch.relu(linear_layer(Y, M, b))


def ff_step(Y: Tensor, M: Tensor, b: Tensor, t: float | Tensor) -> Tensor:
    """Y ((1 - t) I + t M) + t 1 b^T: the gradient step of size t on E_ff."""
    t = per_case(t)
    return (1 - t) * Y + t * linear_layer(Y, M, b)


def ff_exact_change(Y: Tensor, M: Tensor, b: Tensor) -> Tensor:
    """E_ff(Y M + 1 b^T) - E_ff(Y) = -(1/2) tr(G (I + M) G^T), G = grad E_ff(Y), M symmetric."""
    G = ff_gradient(Y, M, b)
    return -(G * (G + G @ M)).sum((-2, -1)) / 2


def displacement_jacobian(M: Tensor, n: int) -> Tensor:
    """Jacobian of vec(Y M + 1 b^T - Y) in row-major vec(Y): I_n (x) (M^T - I)."""
    eye_d = torch.eye(M.shape[-1], dtype=M.dtype, device=M.device)
    eye_n = torch.eye(n, dtype=M.dtype, device=M.device)
    return torch.kron(eye_n, (M.mT - eye_d).contiguous())


def tied_mlp_energy(Y: Tensor, V: Tensor, c: Tensor) -> Tensor:
    """E_mlp(Y) = (1/2) sum_ik relu(v_k^T y_i + c_k)^2, shape (...)."""
    return (torch.relu(Y @ V.mT + c[..., None, :]) ** 2).sum((-2, -1)) / 2


def tied_mlp_layer(Y: Tensor, V: Tensor, c: Tensor, t: float | Tensor) -> Tensor:
    """Y - t relu(Y V^T + 1 c^T) V."""
    return Y - per_case(t) * (torch.relu(Y @ V.mT + c[..., None, :]) @ V)
