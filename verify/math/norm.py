"""Layer normalization as a projection (spec section NORM).

For a token `y` in R^d (rows of `(..., n, d)` tensors), `P = I - 1 1^T / d`:

    LN(y)   = sqrt(d) P y / ||P y||             nearest point of {1^T x = 0, ||x||^2 = d}
    RMS(y)  = sqrt(d) y / ||y||                 nearest point of {||x||^2 = d}
    ball(y) = sqrt(d) P y / max(||P y||, sqrt(d))   projection onto {1^T x = 0, ||x||^2 <= d}

No epsilon, no affine part. `d = 1` (the LN set is empty) and `P y = 0` (every point of
the set is equally near) are errors, not NaN.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from verify.model import validate

UNDEFINED = "norm undefined: a zero (RMS) or constant (LN) row"


def centre_features(Y: Tensor) -> Tensor:
    """P y = y - mean(y) 1, row by row."""
    return Y - Y.mean(dim=-1, keepdim=True)


def degenerate_rows(Y: Tensor) -> Tensor:
    """Rows where LN is undefined in Y's dtype: P y is rounding noise (or d < 2)."""
    if Y.shape[-1] < 2:
        return torch.ones(Y.shape[:-1], dtype=torch.bool, device=Y.device)
    return _degenerate_rows(torch.linalg.vector_norm(centre_features(Y), dim=-1), Y)


def _degenerate_rows(norms: Tensor, Y: Tensor) -> Tensor:
    """Rows whose norm is rounding noise relative to the row's entries."""
    floor = 4 * torch.finfo(Y.dtype).eps * math.sqrt(Y.shape[-1]) * Y.abs().amax(-1)
    return norms <= floor


def layer_norm(Y: Tensor) -> Tensor:
    """LN(y) = sqrt(d) P y / ||P y|| for every row y of Y."""
    validate.tensor("Y", Y, min_ndim=1)
    d = Y.shape[-1]
    if d < 2:
        raise ValueError("Y must have d >= 2 features for layer norm: with d = 1 the set {1^T x = 0, ||x||^2 = d} is empty")
    P = centre_features(Y)
    norms = torch.linalg.vector_norm(P, dim=-1)
    if bool(_degenerate_rows(norms, Y).any()):
        raise ValueError("Y has a constant row (P y = 0): layer norm is undefined there, every point of the set is equally near")
    return math.sqrt(d) * P / norms[..., None]


def rms_norm(Y: Tensor) -> Tensor:
    """RMS(y) = sqrt(d) y / ||y|| for every row y of Y."""
    validate.tensor("Y", Y, min_ndim=1)
    norms = torch.linalg.vector_norm(Y, dim=-1)
    if bool((norms == 0).any()):
        raise ValueError("Y has a zero row: RMS norm is undefined there")
    return math.sqrt(Y.shape[-1]) * Y / norms[..., None]


def centred_ball_projection(Y: Tensor) -> Tensor:
    """sqrt(d) P y / max(||P y||, sqrt(d)): projection onto {1^T x = 0, ||x||^2 <= d}."""
    P = centre_features(Y)
    norms = torch.linalg.vector_norm(P, dim=-1, keepdim=True)
    return math.sqrt(Y.shape[-1]) * P / torch.clamp(norms, min=math.sqrt(Y.shape[-1]))


def centred_sphere_distance_identity(x: Tensor, Y: Tensor) -> tuple[Tensor, Tensor]:
    """Both sides of ||x - y||^2 = ||x - P y||^2 + d mean(y)^2 for 1^T x = 0."""
    lhs = ((x - Y) ** 2).sum(-1)
    rhs = ((x - centre_features(Y)) ** 2).sum(-1) + Y.shape[-1] * Y.mean(-1) ** 2
    return lhs, rhs


def condition(Y: Tensor, centred: bool = True, terms: Tensor | None = None) -> Tensor:
    """kappa = 1 + max over the rows of each (n, d) matrix of ||y||_inf / ||P y|| (||y|| for RMS),
    shape (...): how much rounding in y grows in N(y), the factor the spec scales LN tolerances
    by. When y was computed as a sum that cancels (y = z + c A z), pass the magnitude of its
    terms (|z| + c A |z|) as `terms`: their rounding is what N amplifies."""
    rows = centre_features(Y) if centred else Y
    size = (Y.abs() if terms is None else terms).amax(-1)
    return 1.0 + (size / torch.linalg.vector_norm(rows, dim=-1)).amax(-1)
