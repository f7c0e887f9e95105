"""NORM certificates: for drawn rows (certified-instance), Clarabel's projection onto the convex
{1^T x = 0, ||x||^2 <= d} agrees with LN(y) (outside the ball) or P y (inside) within the
accuracy its own KKT residual certifies; the worst row speaks."""

from __future__ import annotations

import math

import torch

from verify.math.norm import centre_features, layer_norm
from verify.model.case import Case
from verify.proof.certificate import Certification, Certifier, solver_certificate


def ball_relaxation(case: Case) -> Certification:
    from verify.proof import convex

    Y = case.tensor("Y")
    d = Y.shape[-1]
    margins, certs = [], []
    for y in Y:
        x, cert = convex.centred_ball_projection(y.numpy())
        certs.append(cert)
        if not cert.optimal:
            break
        P = centre_features(y[None])[0]
        expected = layer_norm(y[None])[0] if float(torch.linalg.vector_norm(P)) >= math.sqrt(d) else P
        margins.append(cert.accuracy * max(1.0, float(y.abs().max())) - float((expected - torch.as_tensor(x, device=y.device)).abs().max()))
    worst = max(certs, key=lambda c: (not c.optimal, c.residual))
    return solver_certificate(
        "certified-instance", "these rows y", "projection onto {1^T x = 0, ||x||^2 <= d} = LN(y) if ||P y|| >= sqrt(d), else P y",
        min(margins) if len(margins) == len(Y) else math.nan, 0.0, worst.solver, worst.status, worst.gap, worst.residual,
    )


BALL_RELAXATION = Certifier(ball_relaxation, requires=("cvxpy",))
