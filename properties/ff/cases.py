"""FF case descriptions: the matrix M by spectrum kind, tokens, biases, and the adversary that puts
the gradient on the bottom eigenvector of M (random inputs miss lmin(M) just below -1; it never does)."""

from __future__ import annotations

import torch
from torch import Tensor

from verify.draw import Source, description
from verify.draw.layers import nonzero
from verify.draw.matrices import antisymmetric, with_spectrum
from verify.draw.regimes import tokens as token_matrices
from verify.model.case import Case

M_KINDS = ("lmin>=-1", "below-minus-one", "symmetric", "expansive", "asymmetric")


def ff_matrix(src: Source, kind: str, d: int) -> tuple[Tensor, Tensor]:
    """(M, u): M of a named kind and the bottom eigenvector u of its spectral part, known from
    the draw (no eigh):
        lmin>=-1         spectrum in [-1, 3], the smallest eigenvalue pinned at -1 in one case of 16
                         (the boundary, where no certificate can decide, as an edge case)
        below-minus-one  lmin = -1 - e, e log-uniform over [1e-6, 2], the rest in [-3, 3]
        symmetric        spectrum in [-3, 3]
        expansive        spectrum in [1.2, 3] (the step spreads tokens apart)
        asymmetric       spectrum in [-1, 3] plus a nonzero antisymmetric part (d >= 2)"""
    if kind not in M_KINDS:
        raise ValueError(f"M kind must be one of {', '.join(M_KINDS)}, got {kind!r}")
    if kind == "lmin>=-1":
        w = src.uniform(-1.0, 3.0, (d,))
        w = torch.where(src.flag("lmin pinned at -1", 1 / 16)[:, None] & (w == w.amin(-1, keepdim=True)), -1.0, w)
    elif kind == "below-minus-one":
        w = src.uniform(-3.0, 3.0, (d,)).clone()
        w[:, 0] = -1.0 - src.log_uniform(1e-6, 2.0)
    elif kind == "symmetric":
        w = src.uniform(-3.0, 3.0, (d,))
    elif kind == "expansive":
        w = src.uniform(1.2, 3.0, (d,))
    else:
        w = src.uniform(-1.0, 3.0, (d,))
    M, bottom = with_spectrum(src, w)
    if kind == "asymmetric":
        M = M + antisymmetric(src, d)  # the spectral part's bottom vector is only the adversary's direction
    return M, bottom


@description
def ff_cases(
    src: Source, M: str = "lmin>=-1", tokens: str = "free", n: tuple[int, int] = (1, 4), d: tuple[int, int] = (1, 3)
) -> Case:
    """Case(Y, M, b), half of it the bottom-eigenvector adversary: Y = 1 y^T, y > 0,
    b = (I - M)^T y - s u, so grad E_ff(Y) = s 1 u^T along the bottom eigenvector u."""
    low_d = 2 if M == "asymmetric" else d[0]
    n_, d_ = src.size(*n), src.size(low_d, max(low_d, d[1]))
    matrix, bottom = ff_matrix(src, M, d_)

    def drawn() -> dict[str, Tensor]:
        return {"Y": token_matrices(src, tokens, n_, d_), "b": src.uniform(-3.0, 3.0, (d_,))}

    def adversary() -> dict[str, Tensor]:
        y = src.uniform(0.0, 3.0, (d_,)) + src.uniform(0.0, 1.0)[:, None]
        eye = torch.eye(d_, dtype=y.dtype, device=y.device)
        b = ((eye - matrix).mT @ y[..., None])[..., 0] - bottom * src.log_uniform(1e-2, 3.0)[:, None]
        return {"Y": y[:, None, :].expand(-1, n_, d_).contiguous(), "b": b}

    fields = src.mix("ff input", {"drawn": drawn, "bottom-eigenvector adversary": adversary})
    return Case(Y=fields["Y"], M=matrix, b=fields["b"])


@description
def no_energy_cases(src: Source, M: str = "asymmetric") -> Case:
    """Case(Y, M, b, p, q, r): a layer, a centre point, a plane (p, q) and a radius."""
    base = ff_cases.draw_with(src, M=M)
    size = base.tensor("Y")[0].numel()
    return Case(**base, p=src.uniform(-1.0, 1.0, (size,)), q=src.uniform(-1.0, 1.0, (size,)), r=src.uniform(0.1, 3.0))


@description
def tied_mlp_cases(src: Source, step: str = "stable") -> Case:
    """Case(Y, V, c, t), t = f 2 / ||V||_2^2 with f in [0, 1] ('stable') or (1, 10] ('beyond')."""
    if step not in ("stable", "beyond"):
        raise ValueError(f"step must be 'stable' or 'beyond', got {step!r}")
    n_, d_ = src.size(1, 4), src.size(1, 3)
    k = src.size(1, 4)
    V = nonzero(src, (k, d_), 2.0, 1e-3)
    fraction = src.uniform(0.0, 1.0) if step == "stable" else 10.0 - src.uniform(0.0, 9.0 - 1e-9)
    t = fraction * 2.0 / torch.linalg.matrix_norm(V, 2) ** 2
    return Case(Y=src.uniform(-3.0, 3.0, (n_, d_)), V=V, c=src.uniform(-3.0, 3.0, (k,)), t=t)
