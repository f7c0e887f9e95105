"""NORM: layer normalization as a projection (spec section NORM).

    LN(y)  = sqrt(d) P y / ||P y||,  P = I - 1 1^T / d   nearest point of {1^T x = 0, ||x||^2 = d}
    RMS(y) = sqrt(d) y / ||y||                          nearest point of {||x||^2 = d}

Each claim in a fixed order: id, statement, source, assumptions, expected, cases, check,
certificate, examples.
"""

from __future__ import annotations

from properties.norm import certificates, checks
from properties.norm.assumptions import LN_DOMAIN, RMS_DOMAIN, SCALE_POSITIVE
from properties.norm.cases import norm_cases
from verify.model.claim import Claim, Looped

SOURCE = "Yang, Huang, Wipf 2022, layer normalization as projection (spec: NORM)"

CLAIMS = (
    Claim(
        id="NORM-LN-PROJECTION", family="NORM",
        statement="LN(y) = sqrt(d) P y / ||P y|| is the unique nearest point to y in {1^T x = 0, ||x||^2 = d}",
        source=SOURCE,
        paper="the paper's treatment of layer normalization as a constraint: LN is the projection onto it",
        assumptions=(LN_DOMAIN,),
        cases=norm_cases,
        check=checks.slacks_ln_projection,
    ),
    Claim(
        id="NORM-RMS-PROJECTION", family="NORM",
        statement="RMS(y) = sqrt(d) y / ||y|| is the unique nearest point on {||x||^2 = d}",
        source=SOURCE,
        paper="the spec's own extension to RMSNorm",
        assumptions=(RMS_DOMAIN,),
        cases=norm_cases,
        check=checks.slacks_rms_projection,
    ),
    Claim(
        id="NORM-BALL-RELAXATION", family="NORM",
        statement="the projection onto {1^T x = 0, ||x||^2 <= d} is sqrt(d) P y / max(||P y||, sqrt(d)): "
        "LN(y) exactly when ||P y|| >= sqrt(d)",
        source=SOURCE,
        paper="the spec's own: the convex relaxation of the layer-norm constraint",
        assumptions=(),
        cases=norm_cases, params={"tokens": "free+coincident"},
        check=Looped(checks.check_ball_relaxation),
        certify=certificates.BALL_RELAXATION,
        requires=("cvxpy",),
    ),
    Claim(
        id="NORM-SCALE-INVARIANCE", family="NORM",
        statement="LN(t y) = LN(y), RMS(t y) = RMS(y)",
        source=SOURCE,
        paper="what lets a norm absorb the residual's scale (used by ATT-LAYER-EQUIV)",
        assumptions=(SCALE_POSITIVE,),
        cases=norm_cases,
        check=checks.slacks_scale_invariance,
    ),
    Claim(
        id="NORM-TORCH-EQUIV", family="NORM",
        statement="LN(y) = torch.nn.functional.layer_norm(y, (d,), eps=0); with the default eps the output "
        "is off the sphere by O(eps): ||out||^2 = d var / (var + eps)",
        source=SOURCE,
        paper="the spec's own: LN as the torch layer_norm computes it",
        assumptions=(),
        cases=norm_cases,
        check=checks.slacks_torch_equiv,
    ),
)
