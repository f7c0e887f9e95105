"""NORM: layer normalization as a projection (spec section NORM)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import torch

from verify import assumptions as A
from verify import certificates as C
from verify import convex
from verify import strategies as S
from verify.case import Case
from verify.claims import Claim
from verify.layers import torch_layer_norm
from verify.norm import (
    centre_features,
    centred_ball_projection,
    centred_sphere_distance_identity,
    condition,
    degenerate_rows,
    layer_norm,
    rms_norm,
)
from verify.numerics import Slack, identity_slack, inequality_slack, worst

SOURCE = "Yang, Huang, Wipf 2022, layer normalization as projection (spec: NORM)"
TORCH_DEFAULT_EPS = 1e-5


def _nearest(norm: Callable[[torch.Tensor], torch.Tensor], case: Case, centred: bool) -> Slack:
    """N(y) lies on the set and is no farther from y than two competitors on the set:
    N(x) for a free x, and N(N(y) + 0.01 x) next to it."""
    Y, X = case.tensor("Y"), case.tensor("X")
    d = Y.shape[-1]
    Z = norm(Y)
    competitors = [rival.to(Y.dtype) for rival in _competitors(norm, X.double(), Z.double(), centred)]
    kappa = condition(Y, centred)
    size = float((Y.abs().sum(-1) ** 2).max()) + d * kappa
    n_terms = d * Y.shape[-2]
    on_sphere = identity_slack((Z**2).sum(-1), torch.full_like(Z[..., 0], float(d)), scale=d * kappa, n_terms=n_terms)
    slacks = [on_sphere]
    if centred:
        on_plane = identity_slack(Z.sum(-1), torch.zeros_like(Z[..., 0]), scale=math.sqrt(d) * d * kappa, n_terms=n_terms)
        slacks.append(on_plane)
    own = ((Y - Z) ** 2).sum(-1)
    for rival in competitors:
        other = ((Y - rival) ** 2).sum(-1)
        slacks += [inequality_slack(own[i], other[i], dtype=Y.dtype, scale=size, n_terms=n_terms) for i in range(len(own))]
        if centred:
            lhs, rhs = centred_sphere_distance_identity(rival, Y)
            slacks.append(identity_slack(lhs, rhs, scale=size, n_terms=n_terms))
    return worst(*slacks)


def _competitors(norm: Callable[[torch.Tensor], torch.Tensor], X: torch.Tensor, Z: torch.Tensor,
                 centred: bool) -> list[torch.Tensor]:
    """Points on the set, built in float64 from well-conditioned rows (kappa <= 100): a far
    one, N(x), and a near one, N(N(y) + 0.01 x). They are the check's yardsticks, so their
    own rounding must not enter the verdict."""
    fallback = torch.arange(X.shape[-1], dtype=X.dtype, device=X.device)
    rows = centre_features(X) if centred else X
    conditioned = (X.abs().amax(-1) < 100 * torch.linalg.vector_norm(rows, dim=-1))[..., None]
    far = norm(torch.where(conditioned, X, fallback))
    return [far, norm(Z + 0.01 * torch.where(conditioned, X, fallback))]


def _ln_domain(Y: torch.Tensor) -> Slack | None:
    """A row that is constant once cast to this dtype (offset 100 + tiny spread in float32) is
    outside LN's domain there: undecided, not an error of the claim."""
    if bool(degenerate_rows(Y).any()):
        return Slack.skip(f"a row is constant in {str(Y.dtype).removeprefix('torch.')} (P y = 0)")
    return None


def check_ln_projection(case: Case) -> Slack:
    """LN(y) is the nearest point of {1^T x = 0, ||x||^2 = d}."""
    return _ln_domain(case.tensor("Y")) or _nearest(layer_norm, case, centred=True)


def check_rms_projection(case: Case) -> Slack:
    """RMS(y) is the nearest point of {||x||^2 = d}."""
    return _nearest(rms_norm, case, centred=False)


def check_ball_relaxation(case: Case) -> Slack:
    """The cvxpy projection onto {1^T x = 0, ||x||^2 <= d} equals the closed form, and equals
    LN(y) when ||P y|| >= sqrt(d), P y otherwise."""
    Y = case.tensor("Y")
    d = Y.shape[-1]
    formula = centred_ball_projection(Y)
    P = centre_features(Y)
    slacks = []
    for i, y in enumerate(Y):
        x, certificate = convex.centred_ball_projection(y.detach().cpu().to(torch.float64).numpy())
        if not certificate.optimal:
            return Slack.skip(f"solver {certificate.solver}: {certificate.status}")
        solved = torch.as_tensor(x, dtype=Y.dtype, device=Y.device)
        outside = float(torch.linalg.vector_norm(P[i])) >= math.sqrt(d)
        expected = layer_norm(y[None])[0] if outside else P[i]
        for s in (identity_slack(formula[i], solved), identity_slack(expected, solved)):
            slacks.append(dataclasses.replace(s, tol=max(s.tol, certificate.accuracy * max(1.0, s.scale))))
    return worst(*slacks)


def certify_ball_relaxation(case: Case) -> C.Certification:
    """Clarabel's projection of each row agrees with LN(y) (outside the ball) or P y (inside)
    within the accuracy its KKT residual certifies; the worst row speaks."""
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
        margins.append(cert.accuracy * max(1.0, float(y.abs().max())) - float((expected - torch.as_tensor(x)).abs().max()))
    worst = max(certs, key=lambda c: (not c.optimal, c.residual))
    return C.Certification(
        "certified-instance", "these rows y", "projection onto {1^T x = 0, ||x||^2 <= d} = LN(y) if ||P y|| >= sqrt(d), else P y",
        min(margins) if len(margins) == len(Y) else math.nan, 0.0,
        solver=worst.solver, status=worst.status, gap=worst.gap, residual=worst.residual,
    )


def check_scale_invariance(case: Case) -> Slack:
    """LN(t y) == LN(y) and RMS(t y) == RMS(y)."""
    Y, t = case.tensor("Y"), case.number("t")
    d = Y.shape[-1]
    skip = _ln_domain(Y)
    if skip:
        return skip
    return worst(
        identity_slack(layer_norm(t * Y), layer_norm(Y), scale=math.sqrt(d) * condition(Y), n_terms=d),
        identity_slack(rms_norm(t * Y), rms_norm(Y), scale=math.sqrt(d) * condition(Y, centred=False), n_terms=d),
    )


def check_torch_equiv(case: Case) -> Slack:
    """LN(y) == layer_norm(y, eps=0); with the default eps, ||out||^2 == d var / (var + eps)."""
    Y = case.tensor("Y")
    d = Y.shape[-1]
    skip = _ln_domain(Y)
    if skip:
        return skip
    kappa = condition(Y)
    exact = identity_slack(layer_norm(Y), torch_layer_norm(Y, eps=0.0), scale=math.sqrt(d) * kappa, n_terms=d)
    var = (centre_features(Y) ** 2).mean(-1)
    with_eps = (torch_layer_norm(Y, eps=TORCH_DEFAULT_EPS) ** 2).sum(-1)
    off_sphere = identity_slack(with_eps, d * var / (var + TORCH_DEFAULT_EPS), scale=d * kappa, n_terms=d)
    return worst(exact, off_sphere)


CLAIMS = (
    Claim(
        id="NORM-LN-PROJECTION", family="NORM",
        statement="LN(y) = sqrt(d) P y / ||P y|| is the unique nearest point to y in {1^T x = 0, ||x||^2 = d}",
        source=SOURCE, assumptions=(A.ln_domain(),), cases=S.norm_cases, check=check_ln_projection,
    ),
    Claim(
        id="NORM-RMS-PROJECTION", family="NORM",
        statement="RMS(y) = sqrt(d) y / ||y|| is the unique nearest point on {||x||^2 = d}",
        source=SOURCE, assumptions=(A.rms_domain(),), cases=S.norm_cases, check=check_rms_projection,
    ),
    Claim(
        id="NORM-BALL-RELAXATION", family="NORM",
        statement="the projection onto {1^T x = 0, ||x||^2 <= d} is sqrt(d) P y / max(||P y||, sqrt(d)): "
        "LN(y) exactly when ||P y|| >= sqrt(d)",
        source=SOURCE, assumptions=(), cases=S.norm_cases, params={"tokens": "free+coincident"},
        check=check_ball_relaxation, certify=certify_ball_relaxation,
    ),
    Claim(
        id="NORM-SCALE-INVARIANCE", family="NORM",
        statement="LN(t y) = LN(y), RMS(t y) = RMS(y)",
        source=SOURCE, assumptions=(A.scale_positive(),), cases=S.norm_cases, check=check_scale_invariance,
    ),
    Claim(
        id="NORM-TORCH-EQUIV", family="NORM",
        statement="LN(y) = torch.nn.functional.layer_norm(y, (d,), eps=0); with the default eps the output "
        "is off the sphere by O(eps): ||out||^2 = d var / (var + eps)",
        source=SOURCE, assumptions=(), cases=S.norm_cases, check=check_torch_equiv,
    ),
)
