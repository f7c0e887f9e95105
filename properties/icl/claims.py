"""ICL: linear self-attention as gradient descent on in-context least squares (spec section ICL).

    L(W)      = (1 / 2N) sum_i ||W x_i - y_i||^2,   W' = W + (eta / N) sum_i (y_i - W x_i) x_i^T Gamma^T
    Z         = [[X, Y], [x_q, 0]],  E_icl(Z) = (1 / 2N) sum_{i <= N} ||r_i||^2 (context y-slots)
    layer     Z + (Z Wq (Zk Wk)^T / N) Zk Wv Wo,  Zk = the context tokens (the mask)
    K         = X Gamma X^T / N: the layer maps the residual block R to (I - eta K) R

Each claim in a fixed order: id, statement, source, assumptions, expected, cases, check,
certificate, examples.
"""

from __future__ import annotations

from properties.icl import certificates, checks, examples
from properties.icl.assumptions import CONSTRUCTION, GAMMA_PSD, GAMMA_SYMMETRIC, MASK, STEP
from properties.icl.cases import icl_cases
from verify.model.claim import Claim

VON_OSWALD = "von Oswald et al. 2023, arXiv:2212.07677, Prop. 1"
GATMIRY = "Gatmiry et al. 2024, arXiv:2410.08292 (a looped linear transformer runs multi-step preconditioned GD)"
DESCENT_CASES = {"gamma": "psd", "step": "stable", "k": (1, 1)}
CONTRACTION = (GAMMA_SYMMETRIC, GAMMA_PSD, STEP)

CLAIMS = (
    Claim(
        id="ICL-GD-STEP", family="ICL",
        statement="one layer from Z = [[X, Y], [x_q, 0]] gives query slot -W_1 x_q and context slots y_i - W_1 x_i, "
        "W_1 one GD step from W_0 = 0",
        source=f"{VON_OSWALD} (spec: ICL)",
        assumptions=(CONSTRUCTION, MASK),
        cases=icl_cases, params={"gamma": "any", "step": "any", "k": (1, 1)},
        check=checks.slacks_gd_tokens,
        proof="scores x_a^T Gamma x_j / N times values (0, -eta r_j): r_i' = r_i - eta (K R)_i, u' = -(eta / N) "
        "Y^T X Gamma^T x_q; for one layer the mask does not matter, since the query's value is -eta u = 0",
    ),
    Claim(
        id="ICL-LOOPED-GD", family="ICL",
        statement="the same layer applied k times (k <= 4) gives -W_k x_q and y_i - W_k x_i, W_k the k-th "
        "preconditioned GD iterate",
        source=f"{GATMIRY}; {VON_OSWALD} (spec: ICL)",
        assumptions=(CONSTRUCTION, MASK),
        cases=icl_cases, params={"gamma": "any", "step": "any", "k": (1, 4)},
        check=checks.slacks_gd_tokens,
        examples={MASK.name: (examples.NO_MASK,)},
        proof="by induction: while the y-slots hold residuals, one layer is one GD step; the mask keeps the query's "
        "slot, which holds -W_k x_q, out of the values",
    ),
    Claim(
        id="ICL-DESCENT", family="ICL",
        statement="E_icl(layer(Z)) <= E_icl(Z) for every Y",
        source=f"{VON_OSWALD}, with the descent of one preconditioned GD step on the quadratic L (spec: ICL)",
        assumptions=(CONSTRUCTION, *CONTRACTION),
        cases=icl_cases, params=DESCENT_CASES,
        check=checks.slacks_descent,
        certify=certificates.DESCENT,
        examples={
            STEP.name: (examples.STEP_TOO_LONG,),
            GAMMA_PSD.name: (examples.icl_case(**examples.INDEFINITE),),
            GAMMA_SYMMETRIC.name: (examples.icl_case(**examples.ASYMMETRIC),),
        },
        proof="E_icl(Z') = (1 / 2N) ||(I - eta K) R||^2 and K = K^T >= 0 with eta lmax(K) <= 2 makes "
        "||I - eta K||_2 <= 1",
    ),
    Claim(
        id="ICL-RATE", family="ICL",
        statement="L(W_k) - L_inf <= rho^{2k} (L(W_0) - L_inf), rho = max over the positive eigenvalues lam of K of "
        "|1 - eta lam|, L_inf the part of L(W_0) on K's null space (k <= 5)",
        source=f"{VON_OSWALD}; {GATMIRY}; the rate from the eigen-decomposition of K (spec: ICL)",
        assumptions=CONTRACTION,
        cases=icl_cases, params={**DESCENT_CASES, "k": (1, 5), "layer": False, "residuals": ("drawn", "slowest mode")},
        check=checks.slacks_rate,
        certify=certificates.RATE,
        examples={
            GAMMA_PSD.name: (examples.icl_case(**examples.INDEFINITE, layer=False),),
            GAMMA_SYMMETRIC.name: (examples.icl_case(**examples.ASYMMETRIC, layer=False),),
        },
        proof="R_k = (I - eta K)^k R_0; on K's eigenvectors each component is multiplied by (1 - eta lam)^k, and the "
        "null-space part (L_inf) stays; rho <= 1 needs 0 <= eta lmax(K) <= 2, the bound itself holds for any eta",
    ),
)
