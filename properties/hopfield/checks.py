"""HOPFIELD checks, batched over cases and, within a case, over its states (the worst state speaks).
Tolerances carry the magnitude of the terms behind E_hop (verify.math.hopfield) and how far the
rounding of a softmax update moves the energy."""

from __future__ import annotations

import torch

from verify.math.hopfield import (
    hopfield_energy,
    hopfield_energy_scale,
    hopfield_update,
    pattern_radius,
    self_attention_energy,
    self_attention_step,
    update_sensitivity,
)
from verify.model.case import Case
from verify.model.tolerance import Slacks, descent_slacks, inequality_slacks, sensitivity, worst_per_case, worst_slacks


def _flat(x: torch.Tensor) -> torch.Tensor:
    """(B, m) per-state values as (B * m,), case by case."""
    return x.reshape(-1)


def _descent(R: torch.Tensor, Y: torch.Tensor, beta: torch.Tensor, update_beta: torch.Tensor) -> Slacks:
    """E_hop(xi') <= E_hop(xi) for every state, xi' the update with `update_beta`, energy with `beta`."""
    R1 = hopfield_update(R, Y, update_beta)
    before, after = hopfield_energy(R, Y, beta), hopfield_energy(R1, Y, beta)
    scale = hopfield_energy_scale(R, Y, beta) + hopfield_energy_scale(R1, Y, beta) + update_sensitivity(R, Y, update_beta)
    slacks = descent_slacks(_flat(before), _flat(after), dtype=R.dtype, scale=_flat(scale), n_terms=Y.shape[-2] * Y.shape[-1])
    return worst_per_case(slacks, R.shape[0])


def slacks_cccp_descent(case: Case) -> Slacks:
    """E_hop(Y^T softmax(beta' Y xi)) <= E_hop(xi) for every state xi, beta' = ratio * beta (1 under the claim)."""
    R, Y, beta = case.tensor("R"), case.tensor("Y"), case.tensor("beta")
    return _descent(R, Y, beta, beta * case.tensor("ratio"))


def slacks_energy_bounds(case: Case) -> Slacks:
    """0 <= E_hop(xi) at every state and hull point, and E_hop(h) <= 2 M^2 at every hull point h = w^T Y."""
    R, Y, beta, w = case.tensor("R"), case.tensor("Y"), case.tensor("beta"), case.tensor("hull")
    H = w @ Y
    M = pattern_radius(Y)[:, None].expand(-1, R.shape[-2])
    n = Y.shape[-2] * Y.shape[-1]
    zero = torch.zeros_like(_flat(M))

    def above_zero(X: torch.Tensor) -> Slacks:
        return inequality_slacks(zero, _flat(hopfield_energy(X, Y, beta)), dtype=R.dtype,
                                 scale=_flat(hopfield_energy_scale(X, Y, beta)), n_terms=n)

    hull_scale = hopfield_energy_scale(H, Y, beta) + 2 * M * M
    below = inequality_slacks(_flat(hopfield_energy(H, Y, beta)), _flat(2 * M * M), dtype=R.dtype, scale=_flat(hull_scale),
                              n_terms=n)
    return worst_per_case(worst_slacks(above_zero(R), above_zero(H), below), R.shape[0])


def slacks_self_attention(case: Case) -> Slacks:
    """sum_i E_hop(y_i'; patterns Y') <= sum_i E_hop(y_i; patterns Y), Y' = softmax(beta Y Y^T) Y."""
    Y, beta = case.tensor("Y"), case.tensor("beta")
    Y1 = self_attention_step(Y, beta)
    logits = beta.abs() * (Y.abs() @ Y.abs().mT).amax((-2, -1))
    moved = sensitivity(lambda Z: self_attention_energy(Z, beta), Y1) * (1 + logits)  # the step's rounding, through E
    scale = hopfield_energy_scale(Y, Y, beta).sum(-1) + hopfield_energy_scale(Y1, Y1, beta).sum(-1) + moved
    return descent_slacks(self_attention_energy(Y, beta), self_attention_energy(Y1, beta), dtype=Y.dtype, scale=scale,
                          n_terms=Y.shape[-2] ** 2 * Y.shape[-1])

