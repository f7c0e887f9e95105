"""HOPFIELD certificate: the CCCP argument, checked on the drawn case (certified-instance).

E_hop = u + v with u(xi) = (1/2) xi^T xi convex and v(xi) = -lse(beta, Y xi) concave; the update is the
CCCP step grad u(xi') = -grad v(xi), i.e. xi' = Y^T softmax(beta Y xi), and then
E(xi') <= E(xi) - (1/2) ||xi' - xi||^2 (Yuille and Rangarajan 2003; Ramsauer et al. 2021, Theorem 1).
For each state xi of the case and its update xi', the certificate computes by autograd:
    the Hessian of u: positive definite, lmin against its eigenvalue rounding bound
    the Hessian of v at xi and xi': negative semidefinite, lmax against its bound, and equal to the
        closed form -beta Y^T (diag(p) - p p^T) Y within rounding
    the step: xi' (the update as computed, with the case's beta' = ratio * beta) equals grad lse(beta, Y xi)
A Hessian of v with exact zero eigenvalues (N - 1 < d patterns, or a softmax that put all its weight on
one pattern) cannot be certified semidefinite in floating point: inconclusive, never a pass. The
sub-problem min_z u(z) + grad v(xi)^T z is solved in closed form by the update; its first-order residual
|xi' - grad lse(beta, Y xi)| is the certificate's `residual` (no solver, so no duality gap).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from verify.math.hopfield import concave_hessian, hopfield_energy, hopfield_update, lse
from verify.model.case import Case
from verify.model.tolerance import tolerance
from verify.proof.certificate import Certification, Certifier, eigenvalue_certificate, eigenvalue_error, weakest

# Hessians by torch.autograd, eigenvalues by numpy.linalg.eigvalsh; the margin is that of the weakest condition
QUANTITY = "the weakest of lmin(H_convex), -lmax(H_concave) at xi and xi', by eigvalsh of autograd Hessians"
SCOPE = "these states, their updates, these patterns and beta"
STATEMENT = ("Hessian of xi^T xi / 2 > 0, Hessian of -lse(beta, Y xi) <= 0 at xi and xi', xi' = grad lse(beta, Y xi): "
             "E(xi') <= E(xi) - |xi' - xi|^2 / 2")


def _hessians(f, X: torch.Tensor) -> np.ndarray:
    """The autograd Hessian of f at each row of X, (states, d, d), in one vectorised pass."""
    return torch.func.vmap(torch.func.hessian(f))(X).numpy()


def cccp(case: Case) -> Certification:
    Y, R, beta, ratio = case.tensor("Y"), case.tensor("R"), case.number("beta"), case.number("ratio")
    R1 = hopfield_update(R, Y, ratio * beta)
    # the logits' size at every point a Hessian or gradient is taken, xi and xi' alike (rounding of a
    # logit of 1000 moves p, and so the Hessian, by 1000 eps: xi' = grad lse can be far larger than xi)
    logits = abs(beta) * float((torch.cat([R, R1]).abs() @ Y.abs().T).max())
    size = float(Y.abs().max())
    conditions, measures = [], {"lmin(H_convex)": math.inf, "lmax(H_concave)": -math.inf, "|H_concave - formula|": 0.0,
                                "|xi' - grad lse|": 0.0}
    for convex in _hessians(lambda x: (x * x).sum() / 2, R):
        bottom = float(np.linalg.eigvalsh(convex)[0])
        measures["lmin(H_convex)"] = min(measures["lmin(H_convex)"], bottom)
        conditions.append((bottom, eigenvalue_error(convex)))
    points = torch.cat([R, R1])
    # rounding in forming the Hessian, per entry: beta |Y|^2 times the relative error of p, which a
    # logit's rounding sets; its 2-norm is at most d times that. Near a one-hot p the Hessian is near
    # 0 while this stays beta |Y|^2 eps: an eigenvalue of +3e-14 there is rounding (beta = 26, |Y| = 2.5)
    bound = tolerance(torch.float64, abs(beta) * size * size * (1 + logits), Y.shape[0] * Y.shape[1])
    for point, concave in zip(points, _hessians(lambda x: -lse(beta, Y @ x), points), strict=True):
        top = float(np.linalg.eigvalsh((concave + concave.T) / 2)[-1])
        measures["lmax(H_concave)"] = max(measures["lmax(H_concave)"], top)
        conditions.append((-top, eigenvalue_error(concave) + concave.shape[0] * bound))
        formula = float(np.abs(concave - concave_hessian(point, Y, beta).numpy()).max())
        measures["|H_concave - formula|"] = max(measures["|H_concave - formula|"], formula)
        if formula > bound:  # autograd and the closed form disagree: whatever was computed is not this Hessian
            conditions.append((-formula, bound))
    gradients = torch.func.vmap(torch.func.grad(lambda x: lse(beta, Y @ x)))(R)
    step = float((R1 - gradients).abs().max())
    measures["|xi' - grad lse|"] = step
    step_bound = tolerance(torch.float64, size * (1 + logits), Y.shape[0])
    if step > step_bound:  # the update is not the CCCP step of this energy (another beta, say)
        conditions.append((-step, step_bound))
    before, after = hopfield_energy(R, Y, beta), hopfield_energy(R1, Y, beta)
    guaranteed = ((R1 - R) ** 2).sum(-1) / 2
    measures["min decrease / (|xi' - xi|^2 / 2)"] = float(((before - after) / guaranteed).min()) if bool((guaranteed > 0).all()) \
        else math.nan
    margin, error = weakest(*conditions)
    return eigenvalue_certificate("certified-instance", SCOPE, STATEMENT, QUANTITY, margin, 0.0, error, measures)


def cccp_details(certs: list[Certification]) -> dict[str, float | None]:
    """The range of what the certificates computed, for the report."""
    def extreme(key: str, pick) -> float | None:
        values = [c.measures[key] for c in certs if key in c.measures and math.isfinite(c.measures[key])]
        return pick(values) if values else None

    return {"max lmax(H_concave)": extreme("lmax(H_concave)", max), "min lmin(H_convex)": extreme("lmin(H_convex)", min),
            "max |H_concave - formula|": extreme("|H_concave - formula|", max),
            "min decrease / (|xi' - xi|^2 / 2)": extreme("min decrease / (|xi' - xi|^2 / 2)", min)}


CCCP = Certifier(cccp, cccp_details)
