"""LAYER checks: batched, but the alternating fixed point's (a cvxpy solve and log-log fits per case)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from verify.math.alternating import (
    cycle,
    cycle_fixed_point,
    fixed_point_bias,
    gradient_step,
    joint_minimiser,
    pair_energy,
    region_ball,
    region_change,
)
from verify.math.attention import attention_energy, attention_energy_scale, attention_step, attention_weights, pairwise_sq_dists
from verify.math.batch import per_case
from verify.math.feedforward import ff_energy, ff_energy_scale, linear_layer, tied_mlp_layer
from verify.math.layers import transformer_block
from verify.math.norm import UNDEFINED, condition, layer_norm, rms_norm
from verify.model.case import Case
from verify.model.tolerance import (
    Slack,
    Slacks,
    descent_slacks,
    identity_slack,
    identity_slacks,
    sensitivity,
    undecided_slacks,
    worst,
    worst_slacks,
)


def _pair(case: Case) -> tuple[torch.Tensor, ...]:
    return case.tensor("P"), case.tensor("a"), case.tensor("Q"), case.tensor("c")


def _pair_scale(y: torch.Tensor, case: Case) -> torch.Tensor:
    """|y - a|^T |P| |y - a| + |y - c|^T |Q| |y - c| + |y|^T |P| |y| + |y|^T |Q| |y|, per case."""
    P, a, Q, c = _pair(case)
    absq = lambda v, M: (v.abs() * (M.abs() @ v.abs()[..., None])[..., 0]).sum(-1)  # noqa: E731
    return absq(y - a, P) + absq(y - c, Q) + absq(y, P) + absq(y, Q)


def _half_step_descent(case: Case, y: torch.Tensor, y1: torch.Tensor) -> Slacks:
    P, a, Q, c = _pair(case)
    return descent_slacks(pair_energy(y, P, a, Q, c), pair_energy(y1, P, a, Q, c), dtype=y.dtype,
                          scale=_pair_scale(y, case) + _pair_scale(y1, case), n_terms=y.shape[-1] ** 2)


def slacks_sum_monotone(case: Case) -> Slacks:
    """(f + h) does not rise under the f-step, nor under the h-step that follows."""
    P, a, Q, c = _pair(case)
    y, t = case.tensor("y"), case.tensor("t")
    y1 = gradient_step(y, P, a, t)
    y2 = gradient_step(y1, Q, c, t)
    return worst_slacks(_half_step_descent(case, y, y1), _half_step_descent(case, y1, y2))


def _loglog_slope(ts: list[float], values: list[float]) -> float:
    x, z = np.log(ts), np.log(values)
    return float(np.polyfit(x, z, 1)[0])


def check_fixed_point(case: Case) -> Slack:
    """y_inf is the cycle's fixed point, the cycle contracts to it, y_inf - y* is the predicted
    bias, y* is cvxpy's argmin of f + h, and over t -> 0 the bias is Theta(t) (log-log slope 1)
    and the energy gap Theta(t^2) (slope 2)."""
    P, a, Q, c = _pair(case)
    t = case.number("t")
    eye = torch.eye(P.shape[-1], dtype=P.dtype, device=P.device)
    y_inf, y_star = cycle_fixed_point(P, a, Q, c, t), joint_minimiser(P, a, Q, c)
    size = float(y_inf.abs().max() + a.abs().max() + c.abs().max())
    # y_inf solves (P + Q - t Q P) y = ...: near t = 2 / lmax that matrix is a small difference of large terms,
    # so its rounding is eps times the terms, amplified by its condition number
    system = P + Q - t * Q @ P
    terms = P.abs() + Q.abs() + t * Q.abs() @ P.abs()
    kappa = float(torch.linalg.cond(system) * torch.linalg.matrix_norm(terms, 2) / torch.linalg.matrix_norm(system, 2))
    slacks = [
        # the cycle is two gradient steps, y - t P (y - a) then - t Q (. - c): its terms grow like (1 + t|P|)(1 + t|Q|)
        identity_slack(cycle(y_inf, P, a, Q, c, t), y_inf, scale=size * (1 + t * float(P.abs().sum())) * (1 + t * float(Q.abs().sum()))),
        identity_slack(y_inf - y_star, fixed_point_bias(P, a, Q, c, t), scale=size * kappa),
    ]
    rho = float(torch.linalg.eigvals((eye - t * Q) @ (eye - t * P)).abs().max())
    slacks.append(Slack(rho, 1.0, 1.0 - rho, 0.0, 1.0, relation="<"))
    from verify.proof import convex

    solved, certificate = convex.quadratic_pair_minimum(*(v.detach().cpu().double().numpy() for v in (P, a, Q, c)))
    if certificate.optimal:
        agree = identity_slack(torch.as_tensor(solved, dtype=y_star.dtype, device=y_star.device), y_star, scale=size)
        slacks.append(dataclasses.replace(agree, tol=max(agree.tol, certificate.accuracy * max(1.0, size))))
    if float(torch.linalg.vector_norm(a - c)) > 1e-3 and y_star.dtype == torch.float64:
        top = float(torch.linalg.eigvalsh(P + Q)[-1])
        ts = [1e-3 / top * 2.0**-k for k in range(6)]
        bias = [float(torch.linalg.vector_norm(cycle_fixed_point(P, a, Q, c, s) - y_star)) for s in ts]
        gap = [float(pair_energy(cycle_fixed_point(P, a, Q, c, s), P, a, Q, c) - pair_energy(y_star, P, a, Q, c)) for s in ts]
        if min(bias) > 0 and min(gap) > 0:
            for slope, expected in ((_loglog_slope(ts, bias), 1.0), (_loglog_slope(ts, gap), 2.0)):
                slacks.append(Slack(abs(slope - expected), 0.02, 0.02 - abs(slope - expected), 0.0, 1.0, relation="<="))
    return worst(*slacks)


def slacks_region(case: Case) -> Slacks:
    """One f-step changes f + h by t p (1 - t p/2)(p + q)(r^2 - ||y - o||^2): computed both ways;
    and on points drawn just inside / outside the ball, the sign says which side."""
    P, a, Q, c = _pair(case)
    y, t = case.tensor("y"), case.tensor("t")
    p, q = P[..., 0, 0], Q[..., 0, 0]
    y1 = gradient_step(y, P, a, t)
    direct = pair_energy(y1, P, a, Q, c) - pair_energy(y, P, a, Q, c)
    predicted = region_change(y, a, c, p, q, t)
    scale = _pair_scale(y, case) + _pair_scale(y1, case)
    n_terms = y.shape[-1] ** 2
    exact = identity_slacks(direct[:, None], predicted[:, None], scale=scale, n_terms=n_terms)
    o, r = region_ball(a, c, p, q, t)
    inside = torch.linalg.vector_norm(y - o, dim=-1) < r
    side = torch.where(inside, direct, -direct)  # > 0 inside (rises), < 0 outside (falls)
    judged = descent_slacks(torch.zeros_like(side), side, dtype=y.dtype, scale=scale, n_terms=n_terms)
    sign = dataclasses.replace(judged, lhs=torch.zeros_like(side).double(), rhs=side.double(), margin=side.double(),
                               relation=">= (side)")
    return worst_slacks(exact, sign)


def slacks_apollonius(case: Case) -> Slacks:
    """||y - a|| / ||y - c|| > C_t implies the f-step lowers f + h."""
    P, a, Q, c = _pair(case)
    y, t = case.tensor("y"), case.tensor("t")
    return _half_step_descent(case, y, gradient_step(y, P, a, t))


def _sum_energy(case: Case, Y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    W, M, b = case.tensor("W"), case.tensor("M"), case.tensor("b")
    return attention_energy(Y, W) + ff_energy(Y, M, b), attention_energy_scale(Y, W) + ff_energy_scale(Y, M, b)


def slacks_full_sum(case: Case) -> Slacks:
    """E_att + E_ff at FF(ATT(Y)) <= at Y."""
    Y, W, M, b, a = case.tensor("Y"), case.tensor("W"), case.tensor("M"), case.tensor("b"), case.tensor("a")
    Y2 = linear_layer(attention_step(Y, W, a), M, b)
    (before, s0), (after, s1) = _sum_energy(case, Y), _sum_energy(case, Y2)
    return descent_slacks(before, after, dtype=Y.dtype, scale=s0 + s1, n_terms=Y.shape[-2] ** 2 * Y.shape[-1])


def slacks_energy_curve(case: Case) -> Slacks:
    """In a weight-shared model of `depth` layers each sublayer lowers its own energy at every depth
    (each judged with the scale of the terms at the two states it compares)."""
    Y, W, M, b, a = case.tensor("Y"), case.tensor("W"), case.tensor("M"), case.tensor("b"), case.tensor("a")
    n_terms = Y.shape[-2] ** 2 * Y.shape[-1]
    slacks = []
    for _ in range(int(case.get("depth", 1))):
        Z = attention_step(Y, W, a)
        scale = attention_energy_scale(Y, W) + attention_energy_scale(Z, W)
        scale = scale + sensitivity(lambda X: attention_energy(X, W), Z) * (1 + pairwise_sq_dists(Y, W).abs().amax((-2, -1)) / 2)
        slacks.append(descent_slacks(attention_energy(Y, W), attention_energy(Z, W), dtype=Y.dtype, scale=scale, n_terms=n_terms))
        Y = linear_layer(Z, M, b)
        scale = ff_energy_scale(Z, M, b) + ff_energy_scale(Y, M, b)
        slacks.append(descent_slacks(ff_energy(Z, M, b), ff_energy(Y, M, b), dtype=Y.dtype, scale=scale,
                                     n_terms=Y.shape[-2] * Y.shape[-1]))
    return worst_slacks(*slacks)


def slacks_block_equiv(case: Case) -> Slacks:
    """The post-norm block N(Z + ffn(Z)), Z = N(Y + attention(Y)), equals N(mlp(N(T_a Y))), a = c / (1 + c),
    with mlp(Y) = Y - t grad E_mlp(Y) = Y - t relu(Y V^T + 1 c^T) V (undefined norms as in ATT-LAYER-EQUIV)."""
    Y, W, c, t, V, cb = (case.tensor("Y"), case.tensor("W"), case.tensor("c"), case.tensor("t"),
                         case.tensor("V"), case.tensor("cb"))
    norm = layer_norm if case["norm"] == "layer_norm" else rms_norm
    attention = (case.tensor("Wq"), case.tensor("Wk"), case.tensor("Wv"), case.tensor("Wo"))
    ffn = (V.mT, cb, case.tensor("W2"), torch.zeros_like(V[..., 0, :]))
    a = c / (1 + c)
    try:
        inner = norm(attention_step(Y, W, a))
        outer_input = tied_mlp_layer(inner, V, cb, t)
        unfolded = norm(outer_input)
        standard = transformer_block(Y, attention, ffn, norm)
    except ValueError:
        if len(Y) == 1:
            return undecided_slacks(1, UNDEFINED, Y.device)
        raise
    centred = norm is layer_norm
    attention_terms = (1 - per_case(a)) * Y.abs() + per_case(a) * (attention_weights(Y, W) @ Y.abs())
    mlp_terms = inner.abs() + per_case(t) * (torch.relu(inner @ V.mT + cb[..., None, :]).abs() @ V.abs())
    kappa = condition(attention_step(Y, W, a), centred, attention_terms) * condition(outer_input, centred, mlp_terms)
    conditioning = torch.linalg.cond(attention[0][:, 0]) * torch.linalg.cond(attention[2][:, 0])
    A = Y.abs()
    logits = (A @ W.abs() @ A.mT).amax((-2, -1))
    step = 1 + t * torch.linalg.matrix_norm(V, 2) ** 2 + t * cb.abs().amax(-1) * V.abs().sum(-2).amax(-1)
    scale = math.sqrt(Y.shape[-1]) * kappa * conditioning * (1 + c) * (1 + logits) * step
    return identity_slacks(standard, unfolded, scale=scale, n_terms=Y.shape[-2] * Y.shape[-1] * attention[0].shape[-3])
