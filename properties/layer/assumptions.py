"""LAYER assumptions: on the two quadratics and the step, on the Apollonius point, and the weight
ties of a Transformer block (the attention ones shared with ATT, from verify.draw.conditions)."""

from __future__ import annotations

import torch
from torch import Tensor

from verify.draw.conditions import (
    SPECTRUM_TOL,
    equal_norms,
    every,
    lmax,
    lmin,
    psd,
    query_key_tie,
    replaced,
    scalar_value,
    sym,
    symmetric,
    symmetric_weight,
    with_symmetric_part,
)
from verify.model.case import Case
from verify.model.claim import Assumption

PAIR_POSITIVE = Assumption(
    "P, Q symmetric > 0",
    lambda c: symmetric(c.tensor("P")) & symmetric(c.tensor("Q")) & (lmin(c.tensor("P")) > 0) & (lmin(c.tensor("Q")) > 0),
    untestable="f and h are defined with P, Q symmetric positive definite; the descriptions draw no other",
    project=lambda c: replaced(c, P=sym(c.tensor("P")), Q=sym(c.tensor("Q"))))


def _isotropic(A: Tensor) -> Tensor:
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
    return (A - A[:, :1, :1] * eye).abs().flatten(1).amax(1) <= 1e-12 * A.abs().flatten(1).amax(1).clamp_min(1.0)


def _to_isotropic(A: Tensor) -> Tensor:
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
    return A.diagonal(dim1=-2, dim2=-1).mean(-1)[:, None, None] * eye


ISOTROPIC = Assumption("P = p I, Q = q I", lambda c: _isotropic(c.tensor("P")) & _isotropic(c.tensor("Q")),
                       untestable="the region is stated for isotropic quadratics; LAYER-APOLLONIUS covers general P, Q",
                       project=lambda c: replaced(c, P=_to_isotropic(c.tensor("P")), Q=_to_isotropic(c.tensor("Q"))))


def _pair_step(c: Case) -> Tensor:
    t = c.tensor("t")
    return (t > 0) & (t < 2 / torch.maximum(lmax(c.tensor("P")), lmax(c.tensor("Q"))))


PAIR_STEP = Assumption("0 < t < 2 / max(lmax P, lmax Q)", _pair_step,
                       untestable="each half-step is a descent on its own term only in this range; outside it the claim is void")


def _pair_step_sum(c: Case) -> Tensor:
    t = c.tensor("t")
    return (t > 0) & (t < 2 / lmax(c.tensor("P") + c.tensor("Q")))


PAIR_STEP_SUM = Assumption("t < 2 / lmax(P + Q)", _pair_step_sum, untestable="C_t is undefined (or negative) outside it")


def _apollonius(c: Case) -> Tensor:
    P, Q, t = c.tensor("P"), c.tensor("Q"), c.tensor("t")
    denominator = lmin(P) * (1 - t * lmax(P + Q) / 2)
    C = lmax(Q) / denominator.clamp_min(1e-300)
    y, a, cc = c.tensor("y"), c.tensor("a"), c.tensor("c")
    far = torch.linalg.vector_norm(y - a, dim=-1) > C * torch.linalg.vector_norm(y - cc, dim=-1)
    return far & (denominator > 0)  # C_t undefined: the condition cannot be met


APOLLONIUS = Assumption("||y - a|| / ||y - c|| > C_t", _apollonius, {"point": "mixed"})


def _ffn_tied(c: Case) -> Tensor:
    """W2 = -t V (with W1 = V^T, b1 = c, b2 = 0 built in): the FFN is a gradient step on E_mlp."""
    V = c.tensor("V")
    gap = (c.tensor("W2") + c.tensor("t")[:, None, None] * V).abs().flatten(1).amax(1)
    return gap <= 1e-12 * V.abs().flatten(1).amax(1).clamp_min(1.0)


FFN_TIED = Assumption("W2 = -t W1^T (tied FFN)", _ffn_tied, {"ffn": "untied"})
QUERY_KEY_TIE = query_key_tie()
W_SYMMETRIC = symmetric_weight()
EQUAL_NORMS = equal_norms()
SCALAR_VALUE = scalar_value()


# the sublayers of a full layer, each meeting its own conditions (ATT-DESCENT's and FF-DESCENT's)
W_PSD = Assumption("sym(W) PSD", lambda c: psd(c.tensor("W")), {"weight": "indefinite"},
                   project=lambda c: replaced(c, W=with_symmetric_part(c.tensor("W"), 0.0)))
RHO_NEG_EXP = Assumption("rho = -exp(-z)", lambda c: every(c, c["rho"] == "neg_exp"), {"rho": "concave-not-exp"})
ATT_STEP = Assumption("0 <= a <= 2", lambda c: (c.tensor("a") >= 0) & (c.tensor("a") <= 2), {"step": "beyond"})
M_SYMMETRIC = Assumption("M symmetric", lambda c: symmetric(c.tensor("M")), {"M": "asymmetric"},
                         project=lambda c: replaced(c, M=sym(c.tensor("M"))))
M_LMIN = Assumption("lmin(M) >= -1", lambda c: lmin(c.tensor("M")) >= -1 - SPECTRUM_TOL, {"M": "below"},
                    project=lambda c: replaced(c, M=with_symmetric_part(c.tensor("M"), -1.0)))
# with one token attention is the identity, and the claim would be FF-DESCENT's
TOKENS = Assumption("n >= 2", lambda c: every(c, c.tensor("Y").shape[-2] >= 2))
