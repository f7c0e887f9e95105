"""The paper's assumptions measured on weight matrices (all Frobenius norms, float64).

For a head with query/key maps Wq_h, Wk_h (d, k) and logit scale s:

    M            = s Wq_h Wk_h^T                       (d, d), rank <= k
    asymmetry    = ||M - M^T|| / ||M||                  0 iff M is symmetric
    inertia      = counts of eigenvalues of sym(M) above tol, below -tol, and within +-tol,
                   tol = SAFETY eps sqrt(d) ||sym(M)||_2  (verify.model.tolerance)
    psd_distance = ||sym(M) - proj_PSD(sym(M))|| / ||sym(M)|| = sqrt(sum l_-^2 / sum l^2)
    scalar_fit   = c = tr(A) / d, ||A - c I|| / ||A||  for A = Wv_h Wo_h; for rank(A) <= k it
                   is at least sqrt(1 - k / d) (|tr A|^2 <= k ||A||^2), the floor `scalar_floor`

The symmetric part of a rank-k product has an exact factorisation of size 2k, which the
energies use (a distance in W = F C F^T is a distance in C of the projected tokens Y F):

    sym(M) = F C F^T,  F = [Wq_h, Wk_h] (d, 2k),  C = (s / 2) [[0, I], [I, 0]]
    F = Q R (reduced QR), R C R^T = V diag(l) V^T  =>  sym(M) = (Q V) diag(l) (Q V)^T
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from verify.math.attention import sym
from verify.model.tolerance import tolerance


def frobenius(A: Tensor) -> Tensor:
    return torch.linalg.matrix_norm(A)


def asymmetry(M: Tensor) -> float:
    """||M - M^T|| / ||M|| (0 for M = 0)."""
    size = float(frobenius(M))
    return float(frobenius(M - M.mT)) / size if size > 0 else 0.0


def eigen_tolerance(eigenvalues: Tensor, d: int) -> float:
    """Eigenvalues within +-SAFETY eps sqrt(d) max |l| are zero up to rounding."""
    return tolerance(eigenvalues.dtype, float(eigenvalues.abs().max()), d)


@dataclass(frozen=True)
class Spectrum:
    """Of a symmetric (d, d) matrix: its eigenvalues (ascending) and the tolerance they are judged by."""

    eigenvalues: Tensor
    tol: float
    d: int

    @property
    def positive(self) -> int:
        return int((self.eigenvalues > self.tol).sum())

    @property
    def negative(self) -> int:
        return int((self.eigenvalues < -self.tol).sum())

    @property
    def zero(self) -> int:
        return self.d - self.positive - self.negative

    @property
    def lmin(self) -> float:
        return float(self.eigenvalues.min()) if self.eigenvalues.numel() == self.d else min(float(self.eigenvalues.min()), 0.0)

    @property
    def lmax(self) -> float:
        return float(self.eigenvalues.max()) if self.eigenvalues.numel() == self.d else max(float(self.eigenvalues.max()), 0.0)

    @property
    def psd_distance(self) -> float:
        """||S - proj_PSD(S)|| / ||S||."""
        total = float((self.eigenvalues**2).sum())
        return math.sqrt(float((self.eigenvalues.clamp(max=0) ** 2).sum()) / total) if total > 0 else 0.0

    @property
    def is_psd(self) -> bool:
        return self.negative == 0

    def as_json(self) -> dict:
        return {"positive": self.positive, "negative": self.negative, "zero": self.zero, "lmin": self.lmin, "lmax": self.lmax,
                "psd_distance": self.psd_distance, "tolerance": self.tol}


def spectrum(S: Tensor) -> Spectrum:
    """The full eigendecomposition of a symmetric (d, d) S."""
    eigenvalues = torch.linalg.eigvalsh(sym(S))
    return Spectrum(eigenvalues, eigen_tolerance(eigenvalues, S.shape[-1]), S.shape[-1])


@dataclass(frozen=True)
class SymmetricFactor:
    """sym(s Wq Wk^T) = U diag(l) U^T with U (d, 2k) orthonormal columns: the nonzero spectrum, exactly."""

    U: Tensor
    eigenvalues: Tensor
    d: int

    def spectrum(self) -> Spectrum:
        """The same Spectrum as `spectrum(sym(M))`, the d - 2k structural zeros left implicit."""
        return Spectrum(self.eigenvalues, eigen_tolerance(self.eigenvalues, self.d), self.d)

    def psd_root(self) -> Tensor:
        """G = U diag(sqrt(l_+)) (d, 2k): proj_PSD(sym(M)) = G G^T."""
        return self.U * self.eigenvalues.clamp(min=0).sqrt()

    def sym_factor(self) -> tuple[Tensor, Tensor]:
        """(U, diag(l)): sym(M) = U diag(l) U^T."""
        return self.U, torch.diag_embed(self.eigenvalues)


def symmetric_factor(Wq: Tensor, Wk: Tensor, scale: float) -> SymmetricFactor:
    """Factor sym(s Wq Wk^T) through F = [Wq, Wk] (see the module docstring); Wq, Wk are (..., d, k)."""
    k = Wq.shape[-1]
    F = torch.cat([Wq, Wk], dim=-1)
    Q, R = torch.linalg.qr(F)
    eye = torch.eye(k, dtype=Wq.dtype, device=Wq.device)
    zero = torch.zeros_like(eye)
    C = scale / 2 * torch.cat([torch.cat([zero, eye], -1), torch.cat([eye, zero], -1)], -2)
    eigenvalues, V = torch.linalg.eigh(sym(R @ C @ R.mT))
    return SymmetricFactor(Q @ V, eigenvalues, Wq.shape[-2])


@dataclass(frozen=True)
class ScalarFit:
    """The nearest c I to A (Frobenius): c = tr(A) / d, and the relative distance."""

    c: float
    distance: float

    def as_json(self) -> dict:
        return {"c": self.c, "distance": self.distance, "c_sign": "positive" if self.c > 0 else "negative" if self.c < 0 else "zero"}


def scalar_fit(A: Tensor) -> ScalarFit:
    """c = tr(A) / d minimises ||A - c I||; distance = ||A - c I|| / ||A||."""
    d = A.shape[-1]
    c = float(torch.diagonal(A, dim1=-2, dim2=-1).sum()) / d
    size = float(frobenius(A))
    eye = torch.eye(d, dtype=A.dtype, device=A.device)
    return ScalarFit(c, float(frobenius(A - c * eye)) / size if size > 0 else 0.0)


def scalar_floor(rank: int, d: int) -> float:
    """sqrt(1 - rank / d): no A of that rank is closer to any c I, relatively."""
    return math.sqrt(max(1 - rank / d, 0.0))
