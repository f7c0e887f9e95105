"""Softmax self-attention as majorization-minimization (spec section ATT).

Notation: `Y` is `(..., n, d)` (rows are tokens), `W` is `(..., d, d)`, and only
`sym(W) = (W + W^T) / 2` enters the distances `dist2_ij = ||y_i - y_j||_W^2`.

    E_att(Y)     = sum_ij rho(dist2_ij / 2)
    beta_ij      = rho'(dist2_ij / 2),   B = [beta_ij],  D = diag(B 1),  L = D - B
    S(Y; Y0)     = E_att(Y0) + sum_ij beta_ij(Y0) (dist2_ij(Y) - dist2_ij(Y0)) / 2
    T_a(Y)       = (1 - a) Y + a D^{-1} B Y

Distances use the Gram form on centred tokens (`G = Yc sym(W) Yc^T`,
`dist2_ij = G_ii + G_jj - 2 G_ij`), O(n^2) memory, never an `(n, n, d)` tensor; the
energy only depends on differences of tokens, so centring changes nothing but the
rounding. Distances are not clamped at 0: for an indefinite `W` they are genuinely
negative. Row weights `D^{-1} B` are a softmax of `log rho'` where that is available.
"""

from __future__ import annotations

import torch
from torch import Tensor

from verify.math.batch import per_case
from verify.math.rho import NEG_EXP, Rho
from verify.model import validate


def sym(W: Tensor) -> Tensor:
    """(W + W^T) / 2 over the last two dimensions."""
    return (W + W.mT) / 2


def centre(Y: Tensor) -> Tensor:
    """Y - 1 mean(Y): subtract the mean token."""
    return Y - Y.mean(dim=-2, keepdim=True)


def w_norms(Y: Tensor, W: Tensor) -> Tensor:
    """q_i = y_i^T W y_i (uncentred), shape (..., n)."""
    return ((Y @ sym(W)) * Y).sum(-1)


def pairwise_sq_dists(Y: Tensor, W: Tensor) -> Tensor:
    """dist2_ij = ||y_i - y_j||_W^2, shape (..., n, n), exactly symmetric with zero diagonal."""
    return sq_dists(Y, sym(W))


def sq_dists(Y: Tensor, Ws: Tensor) -> Tensor:
    """pairwise_sq_dists for an already symmetric Ws = sym(W) (the form a check computes once)."""
    Yc = centre(Y)
    G = sym(Yc @ Ws @ Yc.mT)
    q = G.diagonal(dim1=-2, dim2=-1)
    d2 = q[..., :, None] + q[..., None, :] - 2 * G
    return d2 - torch.diag_embed(d2.diagonal(dim1=-2, dim2=-1))


def attention_energy(Y: Tensor, W: Tensor, rho: Rho = NEG_EXP) -> Tensor:
    """E_att(Y) = sum_ij rho(dist2_ij / 2), shape (...)."""
    validate.tokens_with(Y, W=W)
    return rho.value(pairwise_sq_dists(Y, W) / 2).sum((-2, -1))


def pairwise_rounding_scale(Y: Tensor, W: Tensor) -> Tensor:
    """A bound on the size of the terms dist2_ij = q_i + q_j - 2 G_ij is computed from, on centred
    tokens: its rounding is eps times this, not eps |dist2_ij| (large tokens in W's near-null space
    cancel to a small distance)."""
    return rounding_scale(Y, sym(W).abs())


def rounding_scale(Y: Tensor, abs_Ws: Tensor) -> Tensor:
    """r (||y_i|| + ||y_j||)^2 on centred tokens, r the largest row sum of |sym(W)|: it bounds
    |y_i|^T |W| |y_i| + |y_j|^T |W| |y_j| + 2 |y_i|^T |W| |y_j|, the terms of dist2_ij (||A||_2 <=
    ||A||_inf for the symmetric A = |sym(W)|), at O(n^2) cost instead of the O(n^2 d) of the terms
    themselves, and at most a factor d above them."""
    norms = torch.linalg.vector_norm(centre(Y), dim=-1)
    r = abs_Ws.sum(-1).amax(-1)[..., None, None]
    pair = norms[..., :, None] + norms[..., None, :]
    return r * pair * pair


def attention_energy_scale(Y: Tensor, W: Tensor, rho: Rho = NEG_EXP) -> Tensor:
    """Magnitude of the terms behind E_att: sum_ij |rho| + |rho'| ((|q_i| + |q_j|) / 2 + |dist2_ij|).

    The second part is the rounding of each distance carried through rho; tolerances for
    E_att are proportional to it.
    """
    d2 = pairwise_sq_dists(Y, W)
    return (rho.value(d2 / 2).abs() + rho.deriv(d2 / 2).abs() * pairwise_rounding_scale(Y, W)).sum((-2, -1))


def energy_with_scale(Y: Tensor, W: Tensor, rho: Rho = NEG_EXP) -> tuple[Tensor, Tensor]:
    """(attention_energy, attention_energy_scale) from one computation of the distances."""
    validate.tokens_with(Y, W=W)
    half = pairwise_sq_dists(Y, W) / 2
    value = rho.value(half)
    return value.sum((-2, -1)), (value.abs() + rho.deriv(half).abs() * pairwise_rounding_scale(Y, W)).sum((-2, -1))


def attention_kernel(Y: Tensor, W: Tensor, rho: Rho = NEG_EXP) -> Tensor:
    """B_ij = rho'(dist2_ij / 2), shape (..., n, n)."""
    return rho.deriv(pairwise_sq_dists(Y, W) / 2)


def attention_weights(Y: Tensor, W: Tensor, rho: Rho = NEG_EXP) -> Tensor:
    """D^{-1} B: rows of the kernel normalised to sum 1 (a log-domain softmax when possible)."""
    return weights_of(pairwise_sq_dists(Y, W), rho)


def weights_of(d2: Tensor, rho: Rho = NEG_EXP) -> Tensor:
    """D^{-1} B from the squared distances."""
    if rho.log_deriv is not None:
        return torch.softmax(rho.log_deriv(d2 / 2), dim=-1)
    B = rho.deriv(d2 / 2)
    return B / B.sum(-1, keepdim=True)


def attention_step(Y: Tensor, W: Tensor, a: float | Tensor, rho: Rho = NEG_EXP) -> Tensor:
    """T_a(Y) = (1 - a) Y + a D^{-1} B Y: the MM step on E_att with step size a."""
    validate.tokens_with(Y, W=W)
    a = per_case(a)
    return (1 - a) * Y + a * (attention_weights(Y, W, rho) @ Y)


def energy_gradient(Y: Tensor, W: Tensor, rho: Rho = NEG_EXP) -> Tensor:
    """grad E_att(Y) = 2 L Y sym(W), L = D - B: each ordered pair (i, j) pulls y_i along
    rho'(dist2_ij / 2) sym(W) (y_i - y_j), from both of its places in the sum."""
    return gradient_of(Y, sym(W), pairwise_sq_dists(Y, W), rho)


def gradient_of(Y: Tensor, Ws: Tensor, d2: Tensor, rho: Rho = NEG_EXP) -> Tensor:
    """energy_gradient from sym(W) and the squared distances (shared with the energy and the step)."""
    return kernel_gradient(Y, Ws, rho.deriv(d2 / 2))


def kernel_gradient(Y: Tensor, Ws: Tensor, B: Tensor) -> Tensor:
    """energy_gradient from sym(W) and the kernel B = rho'(dist2 / 2): 2 (D - B) Y sym(W)."""
    return 2 * ((B.sum(-1, keepdim=True) * Y - B @ Y) @ Ws)


def surrogate(Y: Tensor, Y0: Tensor, W: Tensor, rho: Rho = NEG_EXP) -> Tensor:
    """S(Y; Y0) = E_att(Y0) + sum_ij beta_ij(Y0) (dist2_ij(Y) - dist2_ij(Y0)) / 2."""
    d0 = pairwise_sq_dists(Y0, W)
    beta0 = rho.deriv(d0 / 2)
    change = (beta0 * (pairwise_sq_dists(Y, W) - d0)).sum((-2, -1)) / 2
    return rho.value(d0 / 2).sum((-2, -1)) + change


def surrogate_decrease(Y: Tensor, Y1: Tensor, W: Tensor, rho: Rho = NEG_EXP) -> Tensor:
    """S(Y; Y) - S(Y1; Y) = sum_ij beta_ij(Y) (dist2_ij(Y) - dist2_ij(Y1)) / 2."""
    beta = attention_kernel(Y, W, rho)
    return (beta * (pairwise_sq_dists(Y, W) - pairwise_sq_dists(Y1, W))).sum((-2, -1)) / 2


def mm_decrease_spectral(Y: Tensor, W: Tensor, a: float | Tensor, rho: Rho = NEG_EXP) -> Tensor:
    """The exact decrease S(Y;Y) - S(T_a Y; Y), from the spectra (a metamorphic check).

    With sym(W) = sum_k w_k u_k u_k^T, N = D^{-1/2} B D^{-1/2} = sum_m mu_m v_m v_m^T and
    c_km = v_m^T D^{1/2} Y u_k:
        sum_k w_k sum_m a (1 - mu_m)^2 (2 - a (1 - mu_m)) c_km^2.
    """
    B = attention_kernel(Y, W, rho)
    Dh = B.sum(-1).sqrt()
    mu, V = torch.linalg.eigh(B / (Dh[..., :, None] * Dh[..., None, :]))
    w, U = torch.linalg.eigh(sym(W))
    C = V.mT @ (Dh[..., :, None] * Y) @ U  # C[m, k] = c_km
    g = 1 - mu
    a = per_case(a, 1)
    per_m = a * g * g * (2 - a * g)
    return (per_m[..., :, None] * w[..., None, :] * C * C).sum((-2, -1))


def key_bias_softmax(Y: Tensor, W: Tensor) -> Tensor:
    """softmax(Y W Y^T - 1 q^T / 2) Y with q_j = y_j^T W y_j: attention with a key bias."""
    logits = Y @ W @ Y.mT - w_norms(Y, W)[..., None, :] / 2
    return torch.softmax(logits, dim=-1) @ Y


def softmax_step(Y: Tensor, W: Tensor) -> Tensor:
    """softmax(Y W Y^T) Y: the plain attention update (no value or output weights)."""
    return torch.softmax(Y @ W @ Y.mT, dim=-1) @ Y


def postnorm_softmax_step(Y: Tensor, W: Tensor) -> Tensor:
    """softmax(Y W Y^T) Y, each row then rescaled to the mean W-norm of the input rows.

    With equal input norms q_i = r^2 every output row z gets z^T W z = r^2.
    """
    Z = softmax_step(Y, W)
    target = w_norms(Y, W).mean(-1, keepdim=True)
    return Z * (target / w_norms(Z, W)).sqrt()[..., None]


def regularized_energy(Y: Tensor, W: Tensor, lam: float | Tensor, rho: Rho = NEG_EXP) -> Tensor:
    """E_reg(Y) = E_att(Y) + (lam / 2) tr(Y W Y^T)."""
    return attention_energy(Y, W, rho) + per_case(lam, 0) / 2 * w_norms(Y, W).sum(-1)


def regularized_step(Y: Tensor, W: Tensor, lam: float | Tensor, rho: Rho = NEG_EXP) -> Tensor:
    """(D + (lam / 2) I)^{-1} B Y: a Jacobi step on the majoriser of E_reg."""
    B = attention_kernel(Y, W, rho)
    return (B @ Y) / (B.sum(-1, keepdim=True) + per_case(lam) / 2)
