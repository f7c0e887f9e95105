"""Alternating descent on two quadratics: the paper's heterogeneous-layer obstacle (spec LAYER).

    f(y) = (1/2) (y - a)^T P (y - a),   h(y) = (1/2) (y - c)^T Q (y - c),   P, Q > 0
    f-step: y - t P (y - a);  h-step: y - t Q (y - c);  a cycle is the f-step, then the h-step
    y*    = (P + Q)^{-1} (P a + Q c)                              the minimiser of f + h
    y_inf = (P + Q - t Q P)^{-1} (P a + Q c - t Q P a)            the cycle's fixed point
    y_inf - y* = t (P + Q - t Q P)^{-1} Q P (y* - a)                a bias of order t

Isotropic P = p I, Q = q I: one f-step changes f + h by
    t p (1 - t p / 2) (p + q) (r^2 - ||y - o||^2),   o = a + g (c - a), r = g ||c - a||,
    g = q / ((2 - t p) (p + q)),
so it raises f + h exactly inside the open ball B(o, r), which passes through a. General
P, Q: ||y - a|| / ||y - c|| > C_t = lmax(Q) / (lmin(P) (1 - t lmax(P + Q) / 2)) is a
sufficient condition for the f-step to lower f + h (the paper's circles).
Vectors are (..., d), matrices (..., d, d).
"""

from __future__ import annotations

import torch
from torch import Tensor

from verify.math.batch import per_case


def quad(y: Tensor, centre: Tensor, A: Tensor) -> Tensor:
    """(1/2) (y - centre)^T A (y - centre)."""
    v = y - centre
    return (v * (A @ v[..., None])[..., 0]).sum(-1) / 2


def pair_energy(y: Tensor, P: Tensor, a: Tensor, Q: Tensor, c: Tensor) -> Tensor:
    """f(y) + h(y)."""
    return quad(y, a, P) + quad(y, c, Q)


def gradient_step(y: Tensor, A: Tensor, centre: Tensor, t: float | Tensor) -> Tensor:
    """y - t A (y - centre): a gradient step on (1/2)(y - centre)^T A (y - centre) (t: a float, or one per case)."""
    return y - per_case(t, 1) * (A @ (y - centre)[..., None])[..., 0]


def cycle(y: Tensor, P: Tensor, a: Tensor, Q: Tensor, c: Tensor, t: float) -> Tensor:
    """The f-step, then the h-step."""
    return gradient_step(gradient_step(y, P, a, t), Q, c, t)


def joint_minimiser(P: Tensor, a: Tensor, Q: Tensor, c: Tensor) -> Tensor:
    """y* = (P + Q)^{-1} (P a + Q c)."""
    rhs = (P @ a[..., None] + Q @ c[..., None])[..., 0]
    return torch.linalg.solve(P + Q, rhs)


def cycle_fixed_point(P: Tensor, a: Tensor, Q: Tensor, c: Tensor, t: float) -> Tensor:
    """y_inf = (P + Q - t Q P)^{-1} (P a + Q c - t Q P a)."""
    QP = Q @ P
    rhs = (P @ a[..., None] + Q @ c[..., None] - t * QP @ a[..., None])[..., 0]
    return torch.linalg.solve(P + Q - t * QP, rhs)


def fixed_point_bias(P: Tensor, a: Tensor, Q: Tensor, c: Tensor, t: float) -> Tensor:
    """t (P + Q - t Q P)^{-1} Q P (y* - a): the predicted y_inf - y*."""
    QP = Q @ P
    y_star = joint_minimiser(P, a, Q, c)
    return t * torch.linalg.solve(P + Q - t * QP, (QP @ (y_star - a)[..., None])[..., 0])


def region_ball(a: Tensor, c: Tensor, p: float | Tensor, q: float | Tensor, t: float | Tensor) -> tuple[Tensor, Tensor]:
    """Centre o and radius r of the ball where one f-step raises f + h (P = p I, Q = q I; p, q, t
    floats or one per case)."""
    g = q / ((2 - t * p) * (p + q))
    return a + per_case(g, 1) * (c - a), g * torch.linalg.vector_norm(c - a, dim=-1)


def region_change(y: Tensor, a: Tensor, c: Tensor, p: float | Tensor, q: float | Tensor, t: float | Tensor) -> Tensor:
    """The predicted change of f + h under one f-step: t p (1 - t p/2)(p + q)(r^2 - ||y - o||^2)."""
    o, r = region_ball(a, c, p, q, t)
    return t * p * (1 - t * p / 2) * (p + q) * (r * r - ((y - o) ** 2).sum(-1))

