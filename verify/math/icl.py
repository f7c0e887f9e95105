"""In-context least squares, and linear self-attention as gradient descent on it (spec section ICL).

Notation: context pairs (x_i, y_i), i = 1..N, stacked as `X` (..., N, dx) and `Y` (..., N, dy); a
query `xq` (..., dx); a weight `W` (..., dy, dx); a preconditioner `Gamma` (..., dx, dx); a step `eta`
(a float, or one per case).

    L(W)         = (1 / 2N) sum_i ||W x_i - y_i||^2
    GD step      W' = W + (eta / N) sum_i (y_i - W x_i) x_i^T Gamma^T
    tokens Z     (N + 1) x (dx + dy): row i <= N is (x_i, r_i), the last row (x_q, u); at the
                 start r_i = y_i (the residuals of W_0 = 0) and u = 0
    E_icl(Z)     = (1 / 2N) sum_{i <= N} ||r_i||^2  (the context rows' y-slots)
    layer        Z' = Z + (Z Wq (Zk Wk)^T / N) Zk Wv Wo, Zk the keys: the N context tokens (the
                 mask) or all N + 1 tokens (no mask); scores divided by N either way
    K            = X Gamma X^T / N: the layer maps the residual block R to (I - eta K) R

The layer is computed from its four weight matrices and the mask, the GD step from W, Gamma and eta;
`gd_weights` is von Oswald et al.'s construction (Wq Wk^T = [[Gamma, 0], [0, 0]],
Wv Wo = [[0, 0], [0, -eta I]]) that makes them equal, which the suite checks, never assumes.
"""

from __future__ import annotations

import torch
from torch import Tensor

from verify.math.batch import per_case


def icl_tokens(X: Tensor, Y: Tensor, xq: Tensor) -> Tensor:
    """Z = [[X, Y], [xq, 0]]: (..., N + 1, dx + dy)."""
    query = torch.cat([xq, torch.zeros(*xq.shape[:-1], Y.shape[-1], dtype=Y.dtype, device=Y.device)], -1)
    return torch.cat([torch.cat([X, Y], -1), query[..., None, :]], -2)


def context_slots(Z: Tensor, dx: int) -> Tensor:
    """The context rows' y-slots r_i, (..., N, dy)."""
    return Z[..., :-1, dx:]


def query_slot(Z: Tensor, dx: int) -> Tensor:
    """The query row's y-slot u, (..., dy)."""
    return Z[..., -1, dx:]


def icl_energy(Z: Tensor, dx: int) -> Tensor:
    """E_icl(Z) = (1 / 2N) sum_{i <= N} ||r_i||^2, shape (...)."""
    R = context_slots(Z, dx)
    return (R * R).sum((-2, -1)) / (2 * R.shape[-2])


def icl_loss(W: Tensor, X: Tensor, Y: Tensor) -> Tensor:
    """L(W) = (1 / 2N) sum_i ||W x_i - y_i||^2, shape (...)."""
    R = Y - X @ W.mT
    return (R * R).sum((-2, -1)) / (2 * X.shape[-2])


def gd_step(W: Tensor, X: Tensor, Y: Tensor, Gamma: Tensor, eta: float | Tensor) -> Tensor:
    """W' = W + (eta / N) sum_i (y_i - W x_i) x_i^T Gamma^T = W + (eta / N) (Y - X W^T)^T X Gamma^T."""
    return W + per_case(eta) * ((Y - X @ W.mT).mT @ X @ Gamma.mT) / X.shape[-2]


def gd_iterate(X: Tensor, Y: Tensor, Gamma: Tensor, eta: float | Tensor, steps: int) -> Tensor:
    """W_k: `steps` preconditioned GD steps from W_0 = 0, (..., dy, dx)."""
    W = torch.zeros(*X.shape[:-2], Y.shape[-1], X.shape[-1], dtype=X.dtype, device=X.device)
    for _ in range(steps):
        W = gd_step(W, X, Y, Gamma, eta)
    return W


def gd_tokens(W: Tensor, X: Tensor, Y: Tensor, xq: Tensor) -> Tensor:
    """The tokens the GD reading predicts: [[X, Y - X W^T], [xq, -W xq]]."""
    query = torch.cat([xq, -(W @ xq[..., None])[..., 0]], -1)
    return torch.cat([torch.cat([X, Y - X @ W.mT], -1), query[..., None, :]], -2)


def linear_self_attention(Z: Tensor, Wq: Tensor, Wk: Tensor, Wv: Tensor, Wo: Tensor, masked: bool = True) -> Tensor:
    """Z + (Z Wq (Zk Wk)^T / N) Zk Wv Wo: keys and values from the N context tokens when `masked`
    (the query is no key), from all N + 1 tokens when not; scores divided by N = n - 1 either way."""
    N = Z.shape[-2] - 1
    keys = Z[..., :N, :] if masked else Z
    scores = (Z @ Wq) @ (keys @ Wk).mT / N
    return Z + scores @ (keys @ Wv @ Wo)


def looped_layer(Z: Tensor, Wq: Tensor, Wk: Tensor, Wv: Tensor, Wo: Tensor, layers: int, masked: bool = True) -> Tensor:
    """The same linear self-attention layer applied `layers` times."""
    for _ in range(layers):
        Z = linear_self_attention(Z, Wq, Wk, Wv, Wo, masked)
    return Z


def gd_weights(Gamma: Tensor, eta: float | Tensor, dy: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The plainest (Wq, Wk, Wv, Wo) of the construction: Wq = Wv = I, Wk = [[Gamma, 0], [0, 0]]^T,
    Wo = [[0, 0], [0, -eta I]]."""
    eye = torch.eye(Gamma.shape[-1] + dy, dtype=Gamma.dtype, device=Gamma.device).expand(*Gamma.shape[:-2], -1, -1)
    return eye, query_key_product(Gamma, dy).mT, eye, value_output_product(Gamma, eta, dy)


def query_key_product(Gamma: Tensor, dy: int) -> Tensor:
    """[[Gamma, 0], [0, 0]], (..., dx + dy, dx + dy): what Wq Wk^T must be."""
    dx = Gamma.shape[-1]
    A = torch.zeros(*Gamma.shape[:-2], dx + dy, dx + dy, dtype=Gamma.dtype, device=Gamma.device)
    A[..., :dx, :dx] = Gamma
    return A


def value_output_product(Gamma: Tensor, eta: float | Tensor, dy: int) -> Tensor:
    """[[0, 0], [0, -eta I]], (..., dx + dy, dx + dy): what Wv Wo must be (Gamma gives dx, batch, dtype)."""
    dx = Gamma.shape[-1]
    B = torch.zeros(*Gamma.shape[:-2], dx + dy, dx + dy, dtype=Gamma.dtype, device=Gamma.device)
    eye = torch.eye(dy, dtype=Gamma.dtype, device=Gamma.device)
    B[..., dx:, dx:] = -per_case(eta) * eye
    return B


def preconditioned_kernel(X: Tensor, Gamma: Tensor) -> Tensor:
    """K = X Gamma X^T / N, (..., N, N): the layer maps the residual block R to (I - eta K) R."""
    return X @ Gamma @ X.mT / X.shape[-2]


def residual_map(R: Tensor, X: Tensor, Gamma: Tensor, eta: float | Tensor) -> Tensor:
    """(I - eta K) R."""
    return R - per_case(eta) * (preconditioned_kernel(X, Gamma) @ R)


def convergence_factor(eigenvalues: Tensor, eta: float | Tensor, floor: float | Tensor) -> Tensor:
    """rho = max over the eigenvalues lam > floor of |1 - eta lam| (0 when there is none), shape (...)."""
    positive = eigenvalues > per_case(floor, 1)
    factor = (1 - per_case(eta, 1) * eigenvalues).abs()
    return torch.where(positive, factor, torch.zeros_like(factor)).amax(-1)


def null_space_loss(R: Tensor, eigenvalues: Tensor, eigenvectors: Tensor, floor: float | Tensor) -> Tensor:
    """L_inf = (1 / 2N) ||P_0 R||^2, P_0 the projection onto the eigenvectors of K with |lam| <= floor:
    the part of the loss no step can remove, shape (...)."""
    null = eigenvalues.abs() <= per_case(floor, 1)
    coefficients = eigenvectors.mT @ R  # (..., N, dy): R in the eigenbasis
    return ((coefficients * coefficients).sum(-1) * null).sum(-1) / (2 * R.shape[-2])


def layer_rounding(Z: Tensor, Wq: Tensor, Wk: Tensor, Wv: Tensor, Wo: Tensor, layers: int, masked: bool = True) -> Tensor:
    """First-order bound on the rounding of `layers` applications of the layer built by the construction,
    entrywise and in units of the dtype's epsilon, (..., N + 1, dx + dy). Each layer adds the terms it
    sums, |Z| + (|Z| |Wq|)(|Zk| |Wk|)^T (|Zk| |Wv| |Wo|) / N, and carries the error E it was handed
    through the values only, E' = E + |S| (Ek |Wv Wo|) / N, S the computed scores: under the construction
    the x-slots stay exact (Wv Wo has no x-columns) and an error in a y-slot does not reach the scores
    (Wq Wk^T has no y-rows), to first order."""
    N = Z.shape[-2] - 1
    E = torch.zeros_like(Z)
    for _ in range(layers):
        keys = Z[..., :N, :] if masked else Z
        errors = E[..., :N, :] if masked else E
        scores = (Z @ Wq) @ (keys @ Wk).mT
        summed = Z.abs() + (Z.abs() @ Wq.abs()) @ (keys.abs() @ Wk.abs()).mT @ (keys.abs() @ Wv.abs() @ Wo.abs()) / N
        E = E + scores.abs() @ (errors @ (Wv @ Wo).abs()) / N + summed
        Z = linear_self_attention(Z, Wq, Wk, Wv, Wo, masked)
    return E


def iterate_rounding(X: Tensor, Y: Tensor, Gamma: Tensor, eta: float | Tensor, steps: int) -> Tensor:
    """First-order bound on the rounding of W_k, entrywise and in units of the dtype's epsilon, (..., dy, dx):
    each step adds its terms |W| + |eta| (|Y| + |X| |W|^T)^T |X| |Gamma|^T / N and carries the error E as
    E' = E + |eta| (|X| E^T)^T |X| |Gamma|^T / N, the magnitudes taken at the computed iterates."""
    W = torch.zeros(*X.shape[:-2], Y.shape[-1], X.shape[-1], dtype=X.dtype, device=X.device)
    E = torch.zeros_like(W)
    step = per_case(eta).abs() if isinstance(eta, Tensor) else abs(eta)
    for _ in range(steps):
        spread = X.abs() @ Gamma.abs().mT / X.shape[-2]
        E = E + step * ((X.abs() @ E.mT).mT @ spread) + W.abs() + step * ((Y.abs() + X.abs() @ W.abs().mT).mT @ spread)
        W = gd_step(W, X, Y, Gamma, eta)
    return E
