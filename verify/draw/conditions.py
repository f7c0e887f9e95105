"""Conditions a description can guarantee or break, as batched predicates, and the generic
assumptions built on them.

Every predicate takes a batch (leading dimension B, float64, any device) and returns (B,)
bool. They are what the suite trusts: an ablation's cases are filtered by them, and every
counterexample is checked against them before it is shown. The tolerances are relative to
the entries (1e-12 for symmetry, 1e-10 for the spectrum, 1e-9 for equal norms): far above
the rounding of a float64 construction, far below any violation a description draws.

Assumptions shared by several families (properties of attention weights and tokens) are
built here; a family's own assumptions live in its folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from verify.model.case import Case
from verify.model.claim import Assumption

SYMMETRY_TOL = 1e-12
SPECTRUM_TOL = 1e-10
NORMS_TOL = 1e-9
TIE_TOL = 1e-10


def _size(A: Tensor) -> Tensor:
    """max(1, largest |entry|) of each matrix of the batch."""
    return A.abs().flatten(1).amax(1).clamp_min(1.0)


def sym(A: Tensor) -> Tensor:
    return (A + A.mT) / 2


def symmetric(A: Tensor) -> Tensor:
    """A == A^T (relative 1e-12)."""
    return (A - A.mT).abs().flatten(1).amax(1) <= SYMMETRY_TOL * _size(A)


def lmin(A: Tensor) -> Tensor:
    """The smallest eigenvalue of sym(A), per matrix of the batch."""
    return torch.linalg.eigvalsh(sym(A))[..., 0]


def lmax(A: Tensor) -> Tensor:
    return torch.linalg.eigvalsh(sym(A))[..., -1]


def psd(A: Tensor) -> Tensor:
    """sym(A) >= 0 (relative 1e-10)."""
    return lmin(A) >= -SPECTRUM_TOL * _size(A)


def w_norms(Y: Tensor, W: Tensor) -> Tensor:
    """q_i = y_i^T sym(W) y_i, (B, n)."""
    return ((Y @ sym(W)) * Y).sum(-1)


def equal_w_norms(Y: Tensor, W: Tensor) -> Tensor:
    """All q_i equal (relative 1e-9)."""
    q = w_norms(Y, W)
    spread = q.amax(-1) - q.amin(-1)
    return spread <= NORMS_TOL * q.abs().amax(-1).clamp_min(1.0)


def close(A: Tensor, B: Tensor, tol: float = TIE_TOL) -> Tensor:
    """A == B entrywise (relative `tol` of B's entries), per case."""
    return (A - B).abs().flatten(1).amax(1) <= tol * _size(B)


def with_symmetric_part(A: Tensor, low: float) -> Tensor:
    """A with the eigenvalues of its symmetric part clamped to >= low (its antisymmetric part kept)."""
    w, Q = torch.linalg.eigh(sym(A))
    return A - sym(A) + (Q * w.clamp_min(low)[..., None, :]) @ Q.mT


def replaced(case: Case, **fields: Tensor) -> Case:
    return Case(**{**case, **fields})


def every(case: Case, value: bool) -> Tensor:
    """(B,) filled with `value` (for conditions on names shared by the batch)."""
    return torch.full((case.size,), value, dtype=torch.bool, device=case.device)


# --- assumptions on attention weights and tokens (ATT, LAYER and the audit share them) -----------


def psd_weight(key: str = "W", broken_by: Mapping[str, Any] | None = None) -> Assumption:
    return Assumption(f"sym({key}) PSD", lambda c: psd(c.tensor(key)), broken_by or {"weight": "indefinite"},
                      project=lambda c: replaced(c, **{key: with_symmetric_part(c.tensor(key), 0.0)}))


def symmetric_weight(key: str = "W", broken_by: Mapping[str, Any] | None = None) -> Assumption:
    return Assumption(f"{key} symmetric", lambda c: symmetric(c.tensor(key)), broken_by or {"weight": "asymmetric"},
                      project=lambda c: replaced(c, **{key: sym(c.tensor(key))}))


def _equal_norm_rows(Y: Tensor, W: Tensor) -> Tensor:
    """Each row rescaled to the rows' mean |q_i| (rows of q_i of the other sign are left to `fits`)."""
    q = w_norms(Y, W).abs().clamp_min(1e-300)
    return Y * (q.mean(-1, keepdim=True) / q).sqrt()[..., None]


def equal_norms(tokens: str = "Y", weight: str = "W", broken_by: Mapping[str, Any] | None = None) -> Assumption:
    return Assumption("equal W-norms q_i", lambda c: equal_w_norms(c.tensor(tokens), c.tensor(weight)),
                      broken_by or {"tokens": "unequal-norms"},
                      project=lambda c: replaced(c, **{tokens: _equal_norm_rows(c.tensor(tokens), c.tensor(weight))}))


def query_key_tie() -> Assumption:
    """Wq_h Wk_h^T = W for every head: W is what the unfolded step uses, so a case without the tie
    is about some other matrix (shrinking must keep it; no ablation can drop it)."""

    def holds(c: Case) -> Tensor:
        QK = c.tensor("Wq") @ c.tensor("Wk").mT
        W = c.tensor("W")
        if QK.ndim == 4:  # (B, heads, d, d): every head
            return close(QK, W[:, None].expand_as(QK))
        return close(QK, W)

    return Assumption("Wq Wk^T = W", holds, untestable="W is defined as Wq Wk^T: without the tie the claim is about another matrix")


def scalar_value() -> Assumption:
    """Wv Wo = c I with c >= 0 (summed over heads when the weights are stacked per head)."""

    def holds(c: Case) -> Tensor:
        VO = c.tensor("Wv") @ c.tensor("Wo")
        VO = VO.sum(1) if VO.ndim == 4 else VO
        scale = c.tensor("c")
        eye = torch.eye(VO.shape[-1], dtype=VO.dtype, device=VO.device)
        off = (VO - scale[:, None, None] * eye).abs().flatten(1).amax(1)
        return (off <= 1e-10 * scale.clamp_min(1.0)) & (scale >= 0)

    return Assumption("Wv Wo = cI, c >= 0", holds, {"value": "generic"})
