"""ICL checks, batched: the layer (from its weights and mask) against the GD iterate (from W, Gamma and
eta), the energy before and after one layer, and the rate bound against the iterates' loss. Tolerances
carry first-order bounds on each side's rounding (verify.math.icl: layer_rounding, iterate_rounding)."""

from __future__ import annotations

import torch

from verify.math.icl import (
    context_slots,
    convergence_factor,
    gd_iterate,
    gd_tokens,
    icl_energy,
    icl_loss,
    icl_tokens,
    iterate_rounding,
    layer_rounding,
    looped_layer,
    null_space_loss,
    preconditioned_kernel,
)
from verify.model.case import Case
from verify.model.tolerance import Slacks, descent_slacks, eps, identity_slacks, inequality_slacks


def _layer(case: Case) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    return case.tensor("Wq"), case.tensor("Wk"), case.tensor("Wv"), case.tensor("Wo")


def _masked(case: Case) -> bool:
    return case.get("mask", "context") == "context"


def slacks_gd_tokens(case: Case) -> Slacks:
    """The layer applied k times == the tokens of the k-th GD iterate: query slot -W_k x_q, context
    slots y_i - W_k x_i, x-slots unchanged (W_k from W_0 = 0 by the GD step, never by the layer)."""
    X, Y, xq, Gamma, eta = (case.tensor(f) for f in ("X", "Y", "xq", "Gamma", "eta"))
    k = int(case["k"])
    Z = icl_tokens(X, Y, xq)
    layered = looped_layer(Z, *_layer(case), k, _masked(case))
    W = gd_iterate(X, Y, Gamma, eta, k)
    E = iterate_rounding(X, Y, Gamma, eta, k)  # the GD side: W_k, then Y - X W_k^T and -W_k x_q
    residuals = Y.abs() + X.abs() @ (W.abs() + E).mT
    query = ((W.abs() + E) @ xq.abs()[..., None])[..., 0]
    gd_side = torch.maximum(residuals.amax((-2, -1)), query.amax(-1))
    scale = layer_rounding(Z, *_layer(case), k, _masked(case)).amax((-2, -1)) + gd_side
    return identity_slacks(layered, gd_tokens(W, X, Y, xq), scale=scale, n_terms=k * Z.shape[-2] * Z.shape[-1])


def slacks_descent(case: Case) -> Slacks:
    """E_icl(layer(Z)) <= E_icl(Z), Z = [[X, Y], [xq, 0]]."""
    X, Y, xq = case.tensor("X"), case.tensor("Y"), case.tensor("xq")
    dx = X.shape[-1]
    Z = icl_tokens(X, Y, xq)
    after_tokens = looped_layer(Z, *_layer(case), 1, _masked(case))
    before, after = icl_energy(Z, dx), icl_energy(after_tokens, dx)
    rounding = context_slots(layer_rounding(Z, *_layer(case), 1, _masked(case)), dx)
    scale = before + after + (context_slots(after_tokens, dx).abs() * rounding).sum((-2, -1)) / X.shape[-2]
    return descent_slacks(before, after, dtype=X.dtype, scale=scale, n_terms=Z.shape[-2] * Z.shape[-1])


def slacks_rate(case: Case) -> Slacks:
    """L(W_k) - L_inf <= rho^{2k} (L(W_0) - L_inf): W_k by k GD steps; rho = max |1 - eta lam| over the
    eigenvalues lam of K above their rounding floor, L_inf = the part of L(W_0) on K's null space (eigh)."""
    X, Y, Gamma, eta, k = case.tensor("X"), case.tensor("Y"), case.tensor("Gamma"), case.tensor("eta"), int(case["k"])
    N = X.shape[-2]
    K = preconditioned_kernel(X, Gamma)
    lam, V = torch.linalg.eigh((K + K.mT) / 2)
    top = lam.abs().amax(-1)
    floor = 10 * N * eps(X.dtype) * top  # the rounding of a computed eigenvalue (verify.proof.certificate)
    rho = convergence_factor(lam, eta, floor)
    start = (Y * Y).sum((-2, -1)) / (2 * N)  # L(W_0), W_0 = 0
    remains = null_space_loss(Y, lam, V, floor)
    W = gd_iterate(X, Y, Gamma, eta, k)
    R = Y - X @ W.mT
    rounding = Y.abs() + X.abs() @ (W.abs() + iterate_rounding(X, Y, Gamma, eta, k)).mT  # of R = Y - X W_k^T
    spectrum = 2 * k * eta.abs() * top * N * start  # rho and L_inf from computed eigenpairs
    scale = start + icl_loss(W, X, Y) + (R.abs() * rounding).sum((-2, -1)) / N + spectrum
    return inequality_slacks(icl_loss(W, X, Y) - remains, rho ** (2 * k) * (start - remains), dtype=X.dtype, scale=scale,
                             n_terms=k * N * X.shape[-1])
