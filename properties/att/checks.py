"""ATT checks, batched (a leading batch dimension on every tensor): both sides computed, with
the tolerance each relation is judged by (verify.model.tolerance)."""

from __future__ import annotations

import math

import torch

from verify.math.attention import (
    attention_energy,
    attention_energy_scale,
    attention_kernel,
    attention_step,
    attention_weights,
    kernel_gradient,
    key_bias_softmax,
    pairwise_rounding_scale,
    pairwise_sq_dists,
    postnorm_softmax_step,
    regularized_energy,
    regularized_step,
    rounding_scale,
    softmax_step,
    sq_dists,
    surrogate,
    surrogate_decrease,
    sym,
    w_norms,
    weights_of,
)
from verify.math.batch import per_case
from verify.math.layers import attention_block
from verify.math.norm import UNDEFINED, condition, layer_norm, rms_norm
from verify.math.rho import NEG_EXP, get
from verify.model import validate
from verify.model.case import Case
from verify.model.tolerance import Slacks, descent_slacks, identity_slacks, inequality_slacks, undecided_slacks


def _n_terms(Y: torch.Tensor) -> int:
    return Y.shape[-2] ** 2 * Y.shape[-1]


def _logit_scale(Y: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """Largest term |y_i|^T |W| |y_j| behind a logit of Y W Y^T (and q/2), per case: the softmax's relative rounding."""
    A = Y.abs()
    return (A @ W.abs() @ A.mT).amax((-2, -1)) * 1.5


def slacks_majorize(case: Case) -> Slacks:
    """E_att(Y) <= S(Y; Y0)."""
    Y0, Y, W, rho = case.tensor("Y0"), case.tensor("Y"), case.tensor("W"), get(str(case["rho"]))
    beta0 = attention_kernel(Y0, W, rho).abs()
    change = (beta0 * (pairwise_rounding_scale(Y, W) + pairwise_rounding_scale(Y0, W))).sum((-2, -1)) / 2
    scale = attention_energy_scale(Y, W, rho) + attention_energy_scale(Y0, W, rho) + change
    slacks = inequality_slacks(
        attention_energy(Y, W, rho), surrogate(Y, Y0, W, rho), dtype=Y.dtype, scale=scale, n_terms=_n_terms(Y)
    )
    if rho.low == -math.inf:
        return slacks
    outside = torch.zeros_like(slacks.margin, dtype=torch.bool)
    for Z in (Y, Y0):  # an indefinite W gives negative squared distances
        outside |= (pairwise_sq_dists(Z, W) / 2 <= rho.low).flatten(-2).any(-1).to(outside.device)
    return slacks.skip_where(outside, f"outside rho's domain: some ||y_i - y_j||_W^2 / 2 <= {rho.low:g} ({rho.formula})")


def slacks_surrogate_descent(case: Case) -> Slacks:
    """S(T_a Y; Y) <= S(Y; Y), i.e. the surrogate decrease is >= 0."""
    Y, W, a, rho = case.tensor("Y"), case.tensor("W"), case.tensor("a"), get(str(case["rho"]))
    Y1 = attention_step(Y, W, a, rho)
    beta = attention_kernel(Y, W, rho).abs()
    # the step's own rounding: T_a Y = (1 - a) Y + a D^-1 B Y is computed with an error of about
    # eps (|1 - a| + a) max|y| per entry, relative to the tokens, not to their (maybe tiny) spread;
    # it moves dist2_ij(T_a Y) by up to 2 ||y1_i - y1_j|| r ||error_i - error_j|| (r the largest row sum of |sym W|)
    r = sym(W).abs().sum(-1).amax(-1)
    a_ = torch.as_tensor(a, dtype=Y.dtype, device=Y.device)
    entry_error = ((1 - a_).abs() + a_.abs()) * Y.abs().flatten(-2).amax(-1) * math.sqrt(Y.shape[-1])
    moved = 4 * torch.cdist(Y1, Y1) * (r * entry_error)[..., None, None]
    scale = (beta * (pairwise_rounding_scale(Y, W) + pairwise_rounding_scale(Y1, W) + moved)).sum((-2, -1)) / 2
    decrease = surrogate_decrease(Y, Y1, W, rho)
    return inequality_slacks(torch.zeros_like(decrease), decrease, dtype=Y.dtype, scale=scale, n_terms=_n_terms(Y))


def _energy_terms(Y: torch.Tensor, Ws: torch.Tensor, d2: torch.Tensor, rho) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """E_att, the magnitude of its terms (verify.math.attention.energy_with_scale) and the kernel
    B = rho'(dist2 / 2), from the distances."""
    value, B = rho.both(d2 * 0.5)
    return value.sum((-2, -1)), (value.abs() + B.abs() * rounding_scale(Y, Ws.abs())).sum((-2, -1)), B


def _energy_descent(Y: torch.Tensor, Ws: torch.Tensor, d0: torch.Tensor, Y1: torch.Tensor, rho=NEG_EXP,
                    logits: torch.Tensor | float = 0.0) -> Slacks:
    """E_att(Y1) <= E_att(Y), with d0 the distances of Y; Y1 came from a softmax over logits of size
    `logits`, whose rounding (relative eps (1 + logits) in Y1) moves E_att(Y1) by up to that times
    sum |grad E_att(Y1)| |Y1| (the gradient in closed form, 2 L Y1 sym(W), from Y1's own distances)."""
    before, before_scale, _ = _energy_terms(Y, Ws, d0, rho)
    after, after_scale, B1 = _energy_terms(Y1, Ws, sq_dists(Y1, Ws), rho)
    moved = (kernel_gradient(Y1, Ws, B1).abs() * Y1.abs()).sum((-2, -1)) * (1 + logits)
    return descent_slacks(before, after, dtype=Y.dtype, scale=before_scale + after_scale + moved, n_terms=_n_terms(Y))


def slacks_descent(case: Case) -> Slacks:
    """E_att(T_a Y) <= E_att(Y)."""
    Y, W, a, rho = case.tensor("Y"), case.tensor("W"), case.tensor("a"), get(str(case["rho"]))
    validate.tokens_with(Y, W=W)
    Ws = sym(W)
    d0 = sq_dists(Y, Ws)
    Y1 = (1 - per_case(a)) * Y + per_case(a) * (weights_of(d0, rho) @ Y)  # T_a Y, sharing Y's distances
    return _energy_descent(Y, Ws, d0, Y1, rho, d0.abs().amax((-2, -1)) / 2)


def slacks_softmax_keybias(case: Case) -> Slacks:
    """D^{-1} B Y == softmax(Y W Y^T - 1 q^T / 2) Y (rho = the case's rho)."""
    Y, W, rho = case.tensor("Y"), case.tensor("W"), get(str(case["rho"]))
    scale = Y.abs().amax((-2, -1)) * (1 + _logit_scale(Y, W))
    return identity_slacks(attention_weights(Y, W, rho) @ Y, key_bias_softmax(Y, W), scale=scale, n_terms=_n_terms(Y))


def slacks_softmax_equal_norms(case: Case) -> Slacks:
    """D^{-1} B Y == softmax(Y W Y^T) Y."""
    Y, W, rho = case.tensor("Y"), case.tensor("W"), get(str(case["rho"]))
    scale = Y.abs().amax((-2, -1)) * (1 + _logit_scale(Y, W))
    return identity_slacks(attention_weights(Y, W, rho) @ Y, softmax_step(Y, W), scale=scale, n_terms=_n_terms(Y))


def slacks_softmax_descent(case: Case) -> Slacks:
    """E_att(softmax(Y W Y^T) Y) <= E_att(Y), rho = -exp(-z)."""
    Y, W = case.tensor("Y"), case.tensor("W")
    validate.tokens_with(Y, W=W)
    Ws = sym(W)
    return _energy_descent(Y, Ws, sq_dists(Y, Ws), softmax_step(Y, W), logits=_logit_scale(Y, W))


def slacks_postnorm_descent(case: Case) -> Slacks:
    """E_att(renormalise(softmax(Y W Y^T) Y)) <= E_att(Y), rho = -exp(-z)."""
    Y, W = case.tensor("Y"), case.tensor("W")
    undefined = (w_norms(Y, W) <= 0).any(-1) | (w_norms(softmax_step(Y, W), W) <= 0).any(-1)
    Y1 = torch.where(undefined[:, None, None], Y, postnorm_softmax_step(Y, W))  # placeholder where undefined
    Ws = sym(W)
    slacks = _energy_descent(Y, Ws, sq_dists(Y, Ws), Y1, logits=_logit_scale(Y, W))
    return slacks.skip_where(undefined, "renormalisation undefined: a row has W-norm <= 0")


def slacks_layer_equiv(case: Case) -> Slacks:
    """N(Y + softmax(Y Wq Wk^T Y^T) Y Wv Wo) == N(T_a Y), a = c / (1 + c).

    Where N is undefined for a case (a zero or constant row) the norms raise; a batch of one
    is then undecided, a larger one lets the sweep engine halve it down to that case."""
    Y, W, c = case.tensor("Y"), case.tensor("W"), case.tensor("c")
    norm = layer_norm if case["norm"] == "layer_norm" else rms_norm
    a = c / (1 + c)
    unfolded = attention_step(Y, W, a)
    kappa = condition(unfolded, norm is layer_norm, (1 - per_case(a)) * Y.abs() + per_case(a) * (attention_weights(Y, W) @ Y.abs()))
    conditioning = torch.linalg.cond(case.tensor("Wq")) * torch.linalg.cond(case.tensor("Wv"))
    scale = math.sqrt(Y.shape[-1]) * kappa * conditioning * (1 + c) * (1 + _logit_scale(Y, W))
    try:
        heads = [case.tensor(k)[:, None] for k in ("Wq", "Wk", "Wv", "Wo")]  # one head, on its own axis: (B, 1, d, d)
        standard = attention_block(Y, *heads, norm)
        reference = norm(unfolded)
    except ValueError:
        if len(Y) == 1:
            return undecided_slacks(1, UNDEFINED, Y.device)
        raise
    return identity_slacks(standard, reference, scale=scale, n_terms=_n_terms(Y))


def slacks_regularized_descent(case: Case) -> Slacks:
    """E_reg((D + (lam/2) I)^{-1} B Y) <= E_reg(Y)."""
    Y, W, lam, rho = case.tensor("Y"), case.tensor("W"), case.tensor("lam"), get(str(case["rho"]))
    Y1 = regularized_step(Y, W, lam, rho)
    quad = lambda Z: ((Z.abs() @ sym(W).abs()) * Z.abs()).sum((-2, -1))  # noqa: E731
    scale = attention_energy_scale(Y, W, rho) + attention_energy_scale(Y1, W, rho) + lam * (quad(Y) + quad(Y1))
    return descent_slacks(
        regularized_energy(Y, W, lam, rho), regularized_energy(Y1, W, lam, rho),
        dtype=Y.dtype, scale=scale, n_terms=_n_terms(Y),
    )
