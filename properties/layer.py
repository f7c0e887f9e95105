"""LAYER: heterogeneous layers and alternating descent (spec section LAYER)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from properties.att import NORM_UNDEFINED
from verify import assumptions as A
from verify import convex
from verify import samplers as B
from verify import strategies as S
from verify.alternating import (
    cycle,
    cycle_fixed_point,
    fixed_point_bias,
    gradient_step,
    joint_minimiser,
    pair_energy,
    region_ball,
    region_change,
)
from verify.attention import attention_energy, attention_energy_scale, attention_step, attention_weights, pairwise_sq_dists
from verify.batch import per_case
from verify.case import Case
from verify.claims import Claim, swept
from verify.feedforward import ff_energy, ff_energy_scale, linear_layer, tied_mlp_layer
from verify.layers import transformer_block
from verify.norm import condition, layer_norm, rms_norm
from verify.numerics import (
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

SOURCE = "Yang, Huang, Wipf 2022, heterogeneous layers (spec: LAYER)"


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
    solved, certificate = convex.quadratic_pair_minimum(*(v.detach().cpu().double().numpy() for v in (P, a, Q, c)))
    if certificate.optimal:
        agree = identity_slack(torch.as_tensor(solved, dtype=y_star.dtype), y_star, scale=size)
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
            return undecided_slacks(1, NORM_UNDEFINED, Y.device)
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


def _pair_case(P, a, Q, c, t, y) -> Case:
    return Case(P=np.array(P, float), a=np.array(a, float), Q=np.array(Q, float), c=np.array(c, float), t=t, y=np.array(y, float))


POSITIVE = A.pair_positive()
STEP = A.pair_step()
SPEC_EXAMPLE = _pair_case([[1.0]], [0.0], [[1.0]], [1.0], 0.5, [0.25])

CLAIMS = (
    Claim(
        id="LAYER-SUM-NOT-MONOTONE", family="LAYER",
        statement="f + h does not rise along alternating f-steps and h-steps (each a descent on its own term)",
        source=SOURCE, assumptions=(POSITIVE, STEP), cases=S.pair_cases, **swept(slacks_sum_monotone, B.pair_batch),
        expected="refuted", examples={None: (SPEC_EXAMPLE,)},
        explanation="Each half-step lowers its own quadratic, yet the sum rises: in the limit 2-cycle one of the "
        "half-steps always raises f + h. Spec example d = 1, p = q = 1, a = 0, c = 1, t = 0.5, y = 0.25: 0.3125 -> 0.390625.",
    ),
    Claim(
        id="LAYER-ALT-FIXED-POINT", family="LAYER",
        statement="the cycle converges to y_inf = (P + Q - t Q P)^{-1} (P a + Q c - t Q P a); "
        "y_inf - y* = t (P + Q - t Q P)^{-1} Q P (y* - a) = Theta(t), energy gap Theta(t^2)",
        source=SOURCE, assumptions=(POSITIVE, STEP), cases=S.pair_cases, check=check_fixed_point,
    ),
    Claim(
        id="LAYER-ALT-REGION", family="LAYER",
        statement="P = pI, Q = qI: one f-step raises f + h exactly inside the open ball B(a + g (c - a), g ||c - a||), "
        "g = q / ((2 - t p)(p + q))",
        source=SOURCE, assumptions=(POSITIVE, STEP), cases=S.pair_cases,
        params={"isotropic": "yes", "point": "boundary"}, **swept(slacks_region, B.pair_batch),
    ),
    Claim(
        id="LAYER-APOLLONIUS", family="LAYER",
        statement="||y - a|| / ||y - c|| > C_t = lmax(Q) / (lmin(P) (1 - t lmax(P + Q) / 2)) implies the f-step lowers f + h",
        source=SOURCE, assumptions=(POSITIVE, A.pair_apollonius(), A.pair_step_sum()), cases=S.pair_cases,
        params={"point": "apollonius"}, **swept(slacks_apollonius, B.pair_batch),
    ),
    Claim(
        id="LAYER-FULL-SUM-DESCENT", family="LAYER",
        statement="E_att + E_ff decreases across a full layer FF(ATT(Y))",
        source=SOURCE, assumptions=(), cases=S.full_layer_cases, **swept(slacks_full_sum, B.full_layer_batch), expected="refuted",
        explanation="Each sublayer lowers its own energy (ATT-DESCENT, FF-DESCENT), but the FF step is blind to E_att "
        "and the attention step to E_ff: their sum can rise across the layer.",
    ),
    Claim(
        id="LAYER-BLOCK-EQUIV", family="LAYER",
        statement="a post-norm block N(Z + relu(Z W1 + 1 b1^T) W2), Z = N(Y + sum_h softmax(Y Wq_h Wk_h^T Y^T) Y Wv_h Wo_h), "
        "equals N(mlp(N(T_a Y))): an MM step on E_att, a norm projection, a gradient step on E_mlp, a projection",
        source=SOURCE, assumptions=(A.query_key_tie(), A.weight_symmetric(), A.equal_w_norms(), A.value_scalar(), A.ffn_tied()),
        cases=S.block_cases, params={"weight": "symmetric", "tokens": "equal-norms", "value": "scalar", "ffn": "tied"},
        **swept(slacks_block_equiv, B.block_batch),
        explanation="Ties: every head has Wq_h Wk_h^T = W (symmetric) and Wv_h Wo_h = c_h I with sum c_h = c; "
        "W1 = V^T, b1 = c, W2 = -t V, b2 = 0; equal W-norms. Then a = c / (1 + c) (ATT-LAYER-EQUIV) and the FFN is "
        "FF-TIED-MLP's gradient step.",
    ),
    Claim(
        id="LAYER-ENERGY-CURVE", family="LAYER",
        statement="in a weight-shared 6-layer model meeting the ATT and FF assumptions each sublayer lowers its own "
        "energy at every depth (the sum is plotted, not asserted)",
        source=SOURCE, assumptions=(), cases=S.full_layer_cases, params={"depth": 6}, **swept(slacks_energy_curve, B.full_layer_batch),
    ),
)
