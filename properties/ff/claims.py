"""FF: the feed-forward block as (proximal) gradient descent (spec section FF).

    E_ff(Y)   = (1/2) tr(Y (I - M) Y^T) - sum_i b^T y_i,  grad E_ff(Y) = Y (I - M) - 1 b^T
    layer     Y M + 1 b^T = Y - grad E_ff(Y)  (M symmetric)
    E_mlp(Y)  = (1/2) sum_ik relu(v_k^T y_i + c_k)^2

Each claim in a fixed order: id, statement, source, assumptions, expected, cases, check,
certificate, examples.
"""

from __future__ import annotations

import torch

from properties.ff import certificates, checks
from properties.ff.assumptions import LMIN, M_ASYMMETRIC, M_SYMMETRIC, MLP_STEP, TOKENS_NONNEG
from properties.ff.cases import ff_cases, no_energy_cases, tied_mlp_cases
from verify.model.case import Case
from verify.model.claim import Claim, Looped

SOURCE = "Yang, Huang, Wipf 2022, feed-forward block as gradient descent (spec: FF)"


def _t(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)  # host: the spec's cases (a check receives Case.to(dtype, device))


CLAIMS = (
    Claim(
        id="FF-GRAD-EQUIV", family="FF",
        statement="Y M + 1 b^T = Y - grad E_ff(Y), E_ff(Y) = (1/2) tr(Y (I - M) Y^T) - sum_i b^T y_i",
        source=SOURCE,
        paper="the paper's feed-forward claim: a symmetric linear layer is a gradient step",
        assumptions=(M_SYMMETRIC,),
        cases=ff_cases, params={"M": "symmetric"},
        check=checks.slacks_grad_equiv,
    ),
    Claim(
        id="FF-DESCENT", family="FF",
        statement="E_ff(Y M + 1 b^T) <= E_ff(Y) for all Y (sharp: fails for some Y when lmin(M) < -1)",
        source=SOURCE,
        paper="the paper's feed-forward claim: the layer descends E_ff (the spec gives the sharp condition lmin(M) >= -1)",
        assumptions=(M_SYMMETRIC, LMIN),
        cases=ff_cases, params={"M": "lmin>=-1"},
        check=checks.slacks_descent,
        certify=certificates.FF_DESCENT,
        examples={LMIN.name: (Case(Y=_t([[1.0]]), M=_t([[-2.0]]), b=_t([0.0])),)},
    ),
    Claim(
        id="FF-NO-ENERGY", family="FF",
        statement="for asymmetric M the displacement Y M + 1 b^T - Y has Jacobian I_n (x) (M^T - I), "
        "||J - J^T||_F = sqrt(n) ||M - M^T||_F, and nonzero circulation pi r^2 (q^T J p - p^T J q)",
        source=SOURCE,
        paper="an obstacle the paper names: asymmetric weights admit no energy",
        assumptions=(M_ASYMMETRIC,),
        cases=no_energy_cases, params={"M": "asymmetric"},
        check=Looped(checks.check_no_energy),
    ),
    Claim(
        id="FF-RELU-PROX", family="FF",
        statement="relu(Z) = argmin_{X >= 0} (1/2)||X - Z||^2; relu(Y M + 1 b^T) = "
        "argmin_{X >= 0} <grad E_ff(Y), X - Y> + (1/2)||X - Y||^2",
        source=SOURCE,
        paper="the paper's feed-forward claim: the ReLU makes the step a proximal (projected) gradient step",
        assumptions=(M_SYMMETRIC,),
        cases=ff_cases, params={"M": "symmetric"},
        check=Looped(checks.check_relu_prox),
        certify=certificates.RELU_PROX,
        requires=("cvxpy", "osqp"),
    ),
    Claim(
        id="FF-RELU-DESCENT", family="FF",
        statement="for Y >= 0: E_ff(relu(Y M + 1 b^T)) <= E_ff(Y) - (1/2) tr(Dl (I + M) Dl^T), Dl = Y+ - Y",
        source=SOURCE,
        paper="the paper's feed-forward claim: the ReLU step descends from nonnegative tokens",
        assumptions=(M_SYMMETRIC, LMIN, TOKENS_NONNEG),
        cases=ff_cases, params={"M": "lmin>=-1", "tokens": "nonneg"},
        check=checks.slacks_relu_descent,
        certify=certificates.FF_RELU_DESCENT,
        examples={LMIN.name: (Case(Y=_t([[0.0]]), M=_t([[-1.5]]), b=_t([0.5])),)},
    ),
    Claim(
        id="FF-TIED-MLP", family="FF",
        statement="Y - t relu(Y V^T + 1 c^T) V = Y - t grad E_mlp(Y), E_mlp = (1/2) sum_ik relu(v_k^T y_i + c_k)^2, "
        "and it descends E_mlp",
        source=SOURCE,
        paper="the spec's own: a residual MLP with tied weights is a gradient step",
        assumptions=(MLP_STEP,),
        cases=tied_mlp_cases, params={"step": "stable"},
        check=checks.slacks_tied_mlp,
        certify=certificates.TIED_MLP,
    ),
)
