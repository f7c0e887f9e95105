"""The modern continuous Hopfield network: energy and update (spec section HOPFIELD).

Notation (Ramsauer et al.'s Hopfield layer): the stored patterns are the rows y_1..y_N of `Y`
(..., N, d); the states are the rows xi of `R` (..., m, d), each updated on its own; `beta` > 0 a
float or one per case (...); M = max_i ||y_i||.

    lse(beta, z)   = (1 / beta) log sum_i exp(beta z_i)
    E_hop(xi)      = -lse(beta, Y xi) + (1/2) xi^T xi + (1 / beta) log N + (1/2) M^2
    update         xi' = Y^T softmax(beta Y xi);  for all states at once: softmax(beta R Y^T) Y

E_hop is convex ((1/2) xi^T xi, Hessian I) plus concave (-lse, Hessian
-beta Y^T (diag(p) - p p^T) Y, p = softmax(beta Y xi)); the update solves
grad (1/2)||xi'||^2 = -grad(-lse)(xi): one step of the concave-convex procedure.

Self-attention through this lens: `self_attention_energy(Y)` = sum_i E_hop(y_i; patterns = rows of Y)
and `self_attention_step(Y)` = softmax(beta Y Y^T) Y, every token a state and a pattern at once.
"""

from __future__ import annotations

import torch
from torch import Tensor

from verify.math.batch import per_case


def _like(beta: float | Tensor, z: Tensor) -> float | Tensor:
    """beta with z's number of dimensions (a tensor beta has z's leading shape, or a prefix of it)."""
    return beta.reshape(*beta.shape, *([1] * (z.ndim - beta.ndim))) if isinstance(beta, Tensor) else beta


def lse(beta: float | Tensor, z: Tensor) -> Tensor:
    """(1 / beta) log sum_i exp(beta z_i) over the last dimension (torch.logsumexp: stable), shape z[..., 0]."""
    b = _like(beta, z)
    return torch.logsumexp(b * z, -1) / (b[..., 0] if isinstance(b, Tensor) else b)


def mean_lse(beta: float | Tensor, z: Tensor) -> Tensor:
    """lse(beta, z) - (1 / beta) log N = (1 / beta) log((1 / N) sum_i exp(beta z_i)), computed as
    z_r + (1 / beta) log1p(mean_i expm1(beta (z_i - z_r))), z_r the z_i with the largest beta z_i: no
    (1 / beta) log N is subtracted from a number that holds it, so a small beta loses nothing (the error
    is a few eps times N min(max z - min z, 1 / |beta|)). Shape z[..., 0]."""
    b = _like(beta, z)
    reference = z.gather(-1, (b * z).argmax(-1, keepdim=True))
    spread = torch.expm1(b * (z - reference)).mean(-1)
    return reference[..., 0] + torch.log1p(spread) / (b[..., 0] if isinstance(b, Tensor) else b)


def _beta_for_states(beta: float | Tensor) -> float | Tensor:
    """beta lined up with (..., m) per-state values."""
    return per_case(beta, 1)


def pattern_radius(Y: Tensor) -> Tensor:
    """M = max_i ||y_i||, shape (...)."""
    return torch.linalg.vector_norm(Y, dim=-1).amax(-1)


def hopfield_energy(R: Tensor, Y: Tensor, beta: float | Tensor) -> Tensor:
    """E_hop(xi) = -lse(beta, Y xi) + (1/2) xi^T xi + (1 / beta) log N + (1/2) M^2 per state, (..., m), with
    -lse + (1 / beta) log N taken together (`mean_lse`)."""
    M = pattern_radius(Y)[..., None]
    return -mean_lse(beta, R @ Y.mT) + (R * R).sum(-1) / 2 + M * M / 2  # R Y^T: z = Y xi for each state


def hopfield_update(R: Tensor, Y: Tensor, beta: float | Tensor) -> Tensor:
    """xi' = Y^T softmax(beta Y xi) for every state (row of R): softmax(beta R Y^T) Y, (..., m, d)."""
    return torch.softmax(per_case(beta) * (R @ Y.mT), -1) @ Y


def hopfield_energy_scale(R: Tensor, Y: Tensor, beta: float | Tensor) -> Tensor:
    """Magnitude of the terms behind E_hop per state, (..., m): z_max = the largest |xi|^T |y_i| (the scores),
    N min(2 z_max, 1 / |beta|) (the rounding of `mean_lse`'s log1p), (1/2) |xi|^2 and (1/2) M^2."""
    N = Y.shape[-2]
    terms = (R.abs() @ Y.abs().mT).amax(-1)
    M = pattern_radius(Y)[..., None]
    inverse = 1 / torch.as_tensor(_beta_for_states(beta), dtype=R.dtype, device=R.device).abs()
    spread = N * torch.minimum(2 * terms, inverse.expand_as(terms))
    return terms + spread + (R * R).sum(-1) / 2 + M * M / 2


def update_sensitivity(R: Tensor, Y: Tensor, beta: float | Tensor) -> Tensor:
    """How far the rounding of xi' = softmax(beta Y xi)^T Y moves E_hop(xi'), per state (..., m), in
    units of the dtype's epsilon: sum_k |grad E_hop(xi')_k| (p^T |Y|)_k (1 + |beta| max_i |xi|^T |y_i|),
    the softmax's relative rounding growing with its logits; grad E_hop(xi') = xi' - update(xi')."""
    p = torch.softmax(per_case(beta) * (R @ Y.mT), -1)
    R1 = p @ Y
    gradient = R1 - hopfield_update(R1, Y, beta)
    logits = abs(_beta_for_states(beta)) * (R.abs() @ Y.abs().mT).amax(-1)
    return (gradient.abs() * (p @ Y.abs())).sum(-1) * (1 + logits)


def concave_hessian(xi: Tensor, Y: Tensor, beta: float | Tensor) -> Tensor:
    """Hessian of -lse(beta, Y xi) in xi: -beta Y^T (diag(p) - p p^T) Y, p = softmax(beta Y xi), (..., d, d)."""
    b = per_case(beta)
    p = torch.softmax(per_case(beta, 1) * (Y @ xi[..., None])[..., 0], -1)
    covariance = torch.diag_embed(p) - p[..., :, None] * p[..., None, :]
    return -b * (Y.mT @ covariance @ Y)


def self_attention_step(Y: Tensor, beta: float | Tensor) -> Tensor:
    """Y' = softmax(beta Y Y^T) Y: every token updated as a state, with all tokens as the patterns."""
    return hopfield_update(Y, Y, beta)


def self_attention_energy(Y: Tensor, beta: float | Tensor) -> Tensor:
    """sum_i E_hop(y_i; patterns = rows of Y), shape (...)."""
    return hopfield_energy(Y, Y, beta).sum(-1)
