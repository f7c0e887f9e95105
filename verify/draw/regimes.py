"""Token matrices Y by regime (the claims' builders), batched: (B, n, d) float64 from a `Source`.

    free           entries in [-3, 3]
    coincident     free tokens shrunk by a factor in [1e-3, 1] (nearly coincident tokens)
    nonneg         entries in [0, 3];  negative: entries in [-3, 0]
    equal-norms    equal q_i = y_i^T sym(W) y_i (needs W)
    rms            rows of norm sqrt(d)
    heterogeneous  row norms spread over [0.05, 5]
    eigen-cluster  RMS rows near the extreme eigenvectors of W (needs W)
    unequal-norms  heterogeneous, rms or eigen-cluster rows
    offset         free tokens plus a common offset per row in [-100, 100] (ill-conditioned for LN)

'+' mixes kinds, one per case ('free+coincident').
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from verify.draw.source import Source

TOKEN_KINDS = ("free", "coincident", "nonneg", "negative", "equal-norms", "rms", "heterogeneous", "eigen-cluster",
               "unequal-norms", "offset")


def unit_rows(Z: Tensor) -> Tensor:
    """Rows scaled to norm 1 (rows of norm <= 1e-8 become e_1)."""
    norms = torch.linalg.vector_norm(Z, dim=-1, keepdim=True)
    E = torch.zeros_like(Z)
    E[..., 0] = 1.0
    return torch.where(norms > 1e-8, Z / norms.clamp_min(1e-300), E)


def equal_w_norm_rows(Z: Tensor, W: Tensor, r: Tensor) -> Tensor:
    """Rows with equal q_i = y_i^T sym(W) y_i = s r^2, s the sign W allows (any symmetric W).

    A row of the wrong sign gets its component on the extreme eigenvector u (eigenvalue of sign
    s) replaced, z -> z_perp + k u with k chosen to make s q > 0; then every row is scaled."""
    S = (W + W.mT) / 2
    lam, U = torch.linalg.eigh(S)
    size = lam.abs().amax(-1)
    # the sign with a clearly nonzero eigenvalue: a +1e-17 top eigenvalue of a negative W is rounding
    positive = lam[:, -1] > 1e-9 * size
    s = torch.where(positive, 1.0, -1.0).to(Z.dtype)
    j = torch.where(positive, lam.shape[-1] - 1, 0)
    rows = torch.arange(len(j), device=Z.device)
    u, lu = U[rows, :, j], lam[rows, j].abs().clamp_min(1e-300)
    q = ((Z @ S) * Z).sum(-1)
    wrong = s[:, None] * q < 1e-6 * (1 + (Z * Z).sum(-1)) * lu[:, None]
    along = (Z * u[:, None, :]).sum(-1, keepdim=True)
    Zp = Z - along * u[:, None, :]
    qp = ((Zp @ S) * Zp).sum(-1, keepdim=True)
    fixed = Zp + torch.sqrt((qp.abs() + r[:, None, None] ** 2) / lu[:, None, None]) * u[:, None, :]
    Z = torch.where(wrong[..., None], fixed, Z)
    q = ((Z @ S) * Z).sum(-1, keepdim=True)
    out = Z * r[:, None, None] / torch.sqrt(s[:, None, None] * q)
    return torch.where((size < 1e-12)[:, None, None], r[:, None, None] * unit_rows(Z), out)


def eigen_cluster_rows(src: Source, W: Tensor, n: int) -> Tensor:
    """RMS rows near the eigenvectors of sym(W) with the smallest or the largest eigenvalue."""
    d = W.shape[-1]
    _, U = torch.linalg.eigh((W + W.mT) / 2)
    ends = torch.where(src.uniform(0.0, 1.0, (n,)) < 0.5, 0, d - 1)
    picked = U.gather(2, ends[:, None, :].expand(-1, d, n)).mT  # (B, n, d): row i is eigenvector ends[i]
    return math.sqrt(d) * unit_rows(picked + src.uniform(-0.4, 0.4, (n, d)))


def tokens(src: Source, kind: str, n: int, d: int, W: Tensor | None = None) -> Tensor:
    """Y of a named kind (see the module docstring); '+' mixes kinds per case."""
    kinds = kind.split("+")
    unknown = [k for k in kinds if k not in TOKEN_KINDS]
    if unknown:
        raise ValueError(f"token kind must be one of {', '.join(TOKEN_KINDS)} (or a '+' mix), got {kind!r}")
    if any(k in ("equal-norms", "eigen-cluster", "unequal-norms") for k in kinds) and W is None:
        raise ValueError(f"token kind {kind!r} needs the weight W")
    if len(kinds) > 1:  # the kinds built from free tokens share one draw of them
        free = src.uniform(-3.0, 3.0, (n, d)) if any(k in FROM_FREE for k in kinds) else None
        return src.mix("tokens", {k: (lambda k=k: _one_kind(src, k, n, d, W, free)) for k in kinds})
    return _one_kind(src, kind, n, d, W)


FROM_FREE = ("free", "coincident", "nonneg", "negative", "equal-norms", "rms", "heterogeneous", "offset")


def _one_kind(src: Source, kind: str, n: int, d: int, W: Tensor | None, free: Tensor | None = None) -> Tensor:
    if kind == "unequal-norms":
        return tokens(src, "heterogeneous+rms+eigen-cluster", n, d, W)
    if kind == "eigen-cluster":
        assert W is not None
        return eigen_cluster_rows(src, W, n)
    if free is None:
        free = src.uniform(-3.0, 3.0, (n, d))
    if kind == "free":
        return free
    if kind == "coincident":
        return free * src.log_uniform(1e-3, 1.0)[:, None, None]
    if kind == "nonneg":
        return free.abs()
    if kind == "negative":
        return -free.abs()
    if kind == "equal-norms":
        assert W is not None
        return equal_w_norm_rows(free, W, src.uniform(0.1, 3.0))
    if kind == "rms":
        return math.sqrt(d) * unit_rows(free)
    if kind == "heterogeneous":
        return unit_rows(free) * src.log_uniform(0.05, 5.0, (n, 1))
    assert kind == "offset"
    return free + src.uniform(-100.0, 100.0, (n, 1))
