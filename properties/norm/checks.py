"""NORM checks: batched, but the ball relaxation's (a cvxpy projection per row)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import torch

from verify.math.batch import per_case
from verify.math.layers import torch_layer_norm
from verify.math.norm import (
    centre_features,
    centred_ball_projection,
    centred_sphere_distance_identity,
    condition,
    degenerate_rows,
    layer_norm,
    rms_norm,
)
from verify.model.case import Case
from verify.model.tolerance import (
    Slack,
    Slacks,
    identity_slack,
    identity_slacks,
    inequality_slacks,
    worst,
    worst_per_case,
    worst_slacks,
)

TORCH_DEFAULT_EPS = 1e-5


def _nearest(norm: Callable[[torch.Tensor], torch.Tensor], case: Case, centred: bool) -> Slacks:
    """N(y) lies on the set and is no farther from y than two competitors on the set:
    N(x) for a free x, and N(N(y) + 0.01 x) next to it."""
    Y, X = case.tensor("Y"), case.tensor("X")
    B, n, d = Y.shape
    Z = norm(Y)
    competitors = [rival.to(Y.dtype) for rival in _competitors(norm, X.double(), Z.double(), centred)]
    kappa = condition(Y, centred)
    # ||y - N(y)||^2 has terms (sum |y|)^2; N(y) carries relative error eps kappa, which moves it by
    # up to 2 (sum |y| + d) sqrt(d) kappa eps (a row of spread 1e-3 on an offset of 100: kappa ~ 1e5)
    size = (Y.abs().sum(-1) ** 2).amax(-1) + d * kappa + 2 * (Y.abs().sum(-1) + d).amax(-1) * math.sqrt(d) * kappa
    n_terms = d * n
    on_sphere = identity_slacks((Z**2).sum(-1), torch.full_like(Z[..., 0], float(d)), scale=d * kappa, n_terms=n_terms)
    slacks = [on_sphere]
    if centred:
        on_plane = identity_slacks(Z.sum(-1), torch.zeros_like(Z[..., 0]), scale=math.sqrt(d) * d * kappa, n_terms=n_terms)
        slacks.append(on_plane)
    own = ((Y - Z) ** 2).sum(-1)
    for rival in competitors:
        other = ((Y - rival) ** 2).sum(-1)
        per_row = inequality_slacks(own.reshape(-1), other.reshape(-1), dtype=Y.dtype, scale=size.repeat_interleave(n), n_terms=n_terms)
        slacks.append(worst_per_case(per_row, B))
        if centred:
            lhs, rhs = centred_sphere_distance_identity(rival, Y)
            slacks.append(identity_slacks(lhs, rhs, scale=size, n_terms=n_terms))
    return worst_slacks(*slacks)


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


def _in_ln_domain(case: Case, slacks: Callable[[Case], Slacks]) -> Slacks:
    """A row that is constant once cast to this dtype (offset 100 + tiny spread in float32) is
    outside LN's domain there: that case is undecided, not an error of the claim (the others
    are judged, with the constant rows replaced by 0, 1, ..., d - 1)."""
    Y = case.tensor("Y")
    outside = degenerate_rows(Y).any(-1)
    if not bool(outside.any()):
        return slacks(case)
    spread = torch.arange(Y.shape[-1], dtype=Y.dtype, device=Y.device).expand_as(Y)
    judged = slacks(Case(**{**case, "Y": torch.where(outside[:, None, None], spread, Y)}))
    return judged.skip_where(outside, f"a row is constant in {str(Y.dtype).removeprefix('torch.')} (P y = 0)")


def slacks_ln_projection(case: Case) -> Slacks:
    """LN(y) is the nearest point of {1^T x = 0, ||x||^2 = d}."""
    return _in_ln_domain(case, lambda c: _nearest(layer_norm, c, centred=True))


def slacks_rms_projection(case: Case) -> Slacks:
    """RMS(y) is the nearest point of {||x||^2 = d}."""
    return _nearest(rms_norm, case, centred=False)


def check_ball_relaxation(case: Case) -> Slack:
    """The cvxpy projection onto {1^T x = 0, ||x||^2 <= d} equals the closed form, and equals
    LN(y) when ||P y|| >= sqrt(d), P y otherwise."""
    from verify.proof import convex

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


def _scale_invariance(case: Case) -> Slacks:
    Y, t = case.tensor("Y"), case.tensor("t")
    d = Y.shape[-1]
    tY = per_case(t) * Y
    return worst_slacks(
        identity_slacks(layer_norm(tY), layer_norm(Y), scale=math.sqrt(d) * condition(Y), n_terms=d),
        identity_slacks(rms_norm(tY), rms_norm(Y), scale=math.sqrt(d) * condition(Y, centred=False), n_terms=d),
    )


def slacks_scale_invariance(case: Case) -> Slacks:
    """LN(t y) == LN(y) and RMS(t y) == RMS(y)."""
    return _in_ln_domain(case, _scale_invariance)


def _torch_equiv(case: Case) -> Slacks:
    Y = case.tensor("Y")
    d = Y.shape[-1]
    kappa = condition(Y)
    exact = identity_slacks(layer_norm(Y), torch_layer_norm(Y, eps=0.0), scale=math.sqrt(d) * kappa, n_terms=d)
    var = (centre_features(Y) ** 2).mean(-1)
    with_eps = (torch_layer_norm(Y, eps=TORCH_DEFAULT_EPS) ** 2).sum(-1)
    off_sphere = identity_slacks(with_eps, d * var / (var + TORCH_DEFAULT_EPS), scale=d * kappa, n_terms=d)
    return worst_slacks(exact, off_sphere)


def slacks_torch_equiv(case: Case) -> Slacks:
    """LN(y) == layer_norm(y, eps=0); with the default eps, ||out||^2 == d var / (var + eps)."""
    return _in_ln_domain(case, _torch_equiv)
