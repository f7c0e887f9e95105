"""ATT: softmax self-attention as majorization-minimization (spec section ATT).

    E_att(Y)  = sum_ij rho(dist2_ij / 2),  dist2_ij = ||y_i - y_j||_W^2
    S(Y; Y0)  = E_att(Y0) + sum_ij beta_ij(Y0) (dist2_ij(Y) - dist2_ij(Y0)) / 2,  beta_ij = rho'(dist2_ij / 2)
    T_a(Y)    = (1 - a) Y + a D^{-1} B Y,  B = [beta_ij],  D = diag(B 1)

Each claim in a fixed order: id, statement, source, assumptions, expected, cases, check,
certificate, examples.
"""

from __future__ import annotations

from properties.att import checks, examples
from properties.att.assumptions import (
    EQUAL_NORMS,
    QUERY_KEY_TIE,
    RHO_CONCAVE,
    RHO_NEG_EXP,
    RHO_NONDECREASING,
    RHO_NONDECREASING_CONCAVE_KEPT,
    SCALAR_VALUE,
    STEP,
    W_PSD,
    W_SYMMETRIC,
)
from properties.att.cases import attention_cases, attention_layer_cases, majorize_cases, regularized_cases
from properties.att.certificates import SURROGATE_DESCENT
from verify.model.claim import Claim

SOURCE = "Yang, Huang, Wipf 2022, attention as MM (spec: ATT)"
SURROGATE = (W_PSD, RHO_NONDECREASING, STEP)
MM = (W_PSD, RHO_NONDECREASING_CONCAVE_KEPT, RHO_CONCAVE, STEP)
MM_CASES = {"weight": "psd", "tokens": "free+coincident", "rho": "concave", "step": "kernel"}
SOFTMAX_CASES = {"weight": "psd", "tokens": "equal-norms", "rho": "exp", "step": None}

CLAIMS = (
    Claim(
        id="ATT-MAJORIZE", family="ATT",
        statement="S(Y; Y0) >= E_att(Y) for all Y, equality at Y0",
        source=SOURCE,
        paper="the majorizer behind the paper's reading of attention as a majorization-minimization step",
        assumptions=(RHO_CONCAVE,),
        cases=majorize_cases, params={"weight": "any", "rho": "concave"},
        check=checks.slacks_majorize,
        examples={RHO_CONCAVE.name: examples.CONVEX_RHO},
    ),
    Claim(
        id="ATT-SURROGATE-DESCENT", family="ATT",
        statement="S(T_a Y; Y) <= S(Y; Y), T_a(Y) = (1 - a) Y + a D^{-1} B Y",
        source=SOURCE,
        paper="the paper's attention claim: the update is an MM step, so it lowers the majorizer",
        assumptions=SURROGATE,
        cases=attention_cases, params=MM_CASES,
        check=checks.slacks_surrogate_descent,
        certify=SURROGATE_DESCENT,
        examples={STEP.name: examples.NON_PSD_KERNEL + examples.STEP_TOO_LONG, W_PSD.name: examples.INDEFINITE,
                  RHO_NONDECREASING.name: examples.DECREASING_RHO},
    ),
    Claim(
        id="ATT-DESCENT", family="ATT",
        statement="E_att(T_a Y) <= E_att(Y)",
        source=SOURCE,
        paper="the paper's attention claim: the update lowers the attention energy E_att",
        assumptions=MM,
        cases=attention_cases, params=MM_CASES,
        check=checks.slacks_descent,
        examples={STEP.name: examples.STEP_TOO_LONG, W_PSD.name: examples.INDEFINITE},
    ),
    Claim(
        id="ATT-SOFTMAX-KEYBIAS", family="ATT",
        statement="D^{-1} B Y = softmax(Y W Y^T - 1 q^T / 2) Y (row softmax)",
        source=SOURCE,
        paper="how the MM step becomes softmax attention: with a key bias -q_j / 2 (the authors' code computes it and leaves it unused)",
        assumptions=(RHO_NEG_EXP, W_SYMMETRIC),
        cases=attention_cases, params={"weight": "symmetric", "tokens": "free", "rho": "exp", "step": None},
        check=checks.slacks_softmax_keybias,
    ),
    Claim(
        id="ATT-SOFTMAX-EQUAL-NORMS", family="ATT",
        statement="D^{-1} B Y = softmax(Y W Y^T) Y",
        source=SOURCE,
        paper="the paper's equal-norm condition under which the key bias drops out (why a norm precedes attention)",
        assumptions=(RHO_NEG_EXP, W_SYMMETRIC, EQUAL_NORMS),
        cases=attention_cases, params={**SOFTMAX_CASES, "weight": "symmetric"},
        check=checks.slacks_softmax_equal_norms,
    ),
    Claim(
        id="ATT-SOFTMAX-DESCENT", family="ATT",
        statement="E_att(softmax(Y W Y^T) Y) <= E_att(Y)",
        source=SOURCE,
        paper="the paper's equal-norm condition: plain softmax attention then descends E_att",
        assumptions=(W_SYMMETRIC, W_PSD, EQUAL_NORMS),
        cases=attention_cases, params=SOFTMAX_CASES,
        check=checks.slacks_softmax_descent,
        examples={W_SYMMETRIC.name: examples.SOFTMAX_ASYMMETRIC, EQUAL_NORMS.name: examples.SOFTMAX_UNEQUAL,
                  W_PSD.name: examples.SOFTMAX_NEGATIVE},
    ),
    Claim(
        id="ATT-POSTNORM-DESCENT", family="ATT",
        statement="softmax(Y W Y^T) Y, rows renormalised to the common W-norm, lowers E_att",
        source=SOURCE,
        paper="the spec's own (proved, sketch): softmax attention followed by renormalisation descends",
        assumptions=(W_SYMMETRIC, W_PSD, EQUAL_NORMS),
        cases=attention_cases, params=SOFTMAX_CASES,
        check=checks.slacks_postnorm_descent,
        proof="proved (sketch), checked: on the sphere the kernel is PSD (Schur product) and "
        "linearising the convex exp leaves a PSD quadratic that the normalised softmax row maximises",
    ),
    Claim(
        id="ATT-LAYER-EQUIV", family="ATT",
        statement="N(Y + softmax(Y Wq Wk^T Y^T) Y Wv Wo) = N(T_a Y), a = c / (1 + c), N = LN or RMS",
        source=SOURCE,
        paper="the paper's identification of a standard attention layer (residual, Wq Wk^T = W, Wv Wo = c I, a norm) with the MM step",
        assumptions=(QUERY_KEY_TIE, W_SYMMETRIC, EQUAL_NORMS, SCALAR_VALUE),
        cases=attention_layer_cases, params={"weight": "symmetric", "tokens": "equal-norms", "value": "scalar"},
        check=checks.slacks_layer_equiv,
    ),
    Claim(
        id="ATT-REG-DESCENT", family="ATT",
        statement="E_reg((D + (lam/2) I)^{-1} B Y) <= E_reg(Y), E_reg = E_att + (lam/2) tr(Y W Y^T)",
        source=SOURCE,
        paper="the spec's own: the step on E_att + (lam/2) tr(Y W Y^T) (the authors' energy adds ||Y V||^2 / 2)",
        assumptions=(W_PSD, RHO_NONDECREASING_CONCAVE_KEPT, RHO_CONCAVE),
        cases=regularized_cases, params={"weight": "psd", "rho": "concave"},
        check=checks.slacks_regularized_descent,
    ),
)
