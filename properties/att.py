"""ATT: softmax self-attention as majorization-minimization (spec section ATT)."""

from __future__ import annotations

import math

import torch

from verify import assumptions as A
from verify import certificates as C
from verify import samplers as B
from verify import strategies as S
from verify.attention import (
    attention_energy,
    attention_energy_scale,
    attention_kernel,
    attention_step,
    attention_weights,
    energy_with_scale,
    key_bias_softmax,
    pairwise_rounding_scale,
    pairwise_sq_dists,
    postnorm_softmax_step,
    regularized_energy,
    regularized_step,
    softmax_step,
    surrogate,
    surrogate_decrease,
    sym,
    w_norms,
)
from verify.batch import per_case
from verify.case import Case
from verify.claims import Claim, swept
from verify.layers import attention_block
from verify.norm import condition, layer_norm, rms_norm
from verify.numerics import Slacks, descent_slacks, identity_slacks, inequality_slacks, undecided_slacks
from verify.rho import NEG_EXP, get

SOURCE = "Yang, Huang, Wipf 2022, attention as MM (spec: ATT)"


def _t(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


def _circle(radius: float, degrees: list[float]) -> torch.Tensor:
    return _t([[radius * math.cos(math.radians(t)), radius * math.sin(math.radians(t))] for t in degrees])


def _n_terms(Y: torch.Tensor) -> int:
    return Y.shape[-2] ** 2 * Y.shape[-1]


def _logit_scale(Y: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """Largest term |y_i|^T |W| |y_j| behind a logit of Y W Y^T (and q/2), per case: the softmax's relative rounding."""
    A = Y.abs()
    return (A @ W.abs() @ A.mT).amax((-2, -1)) * 1.5


# --- checks (batched: every tensor has a leading batch dimension, see verify.sweep) -------------


def slacks_majorize(case: Case) -> Slacks:
    """E_att(Y) <= S(Y; Y0)."""
    Y0, Y, W, rho = case.tensor("Y0"), case.tensor("Y"), case.tensor("W"), get(str(case["rho"]))
    beta0 = attention_kernel(Y0, W, rho).abs()
    change = (beta0 * (pairwise_rounding_scale(Y, W) + pairwise_rounding_scale(Y0, W))).sum((-2, -1)) / 2
    scale = attention_energy_scale(Y, W, rho) + attention_energy_scale(Y0, W, rho) + change
    return inequality_slacks(
        attention_energy(Y, W, rho), surrogate(Y, Y0, W, rho), dtype=Y.dtype, scale=scale, n_terms=_n_terms(Y)
    )


def slacks_surrogate_descent(case: Case) -> Slacks:
    """S(T_a Y; Y) <= S(Y; Y), i.e. the surrogate decrease is >= 0."""
    Y, W, a, rho = case.tensor("Y"), case.tensor("W"), case.tensor("a"), get(str(case["rho"]))
    Y1 = attention_step(Y, W, a, rho)
    beta = attention_kernel(Y, W, rho).abs()
    scale = (beta * (pairwise_rounding_scale(Y, W) + pairwise_rounding_scale(Y1, W))).sum((-2, -1)) / 2
    decrease = surrogate_decrease(Y, Y1, W, rho)
    return inequality_slacks(torch.zeros_like(decrease), decrease, dtype=Y.dtype, scale=scale, n_terms=_n_terms(Y))


def _energy_descent(case: Case, Y1: torch.Tensor, rho=NEG_EXP, logits: torch.Tensor | float = 0.0) -> Slacks:
    """E_att(Y1) <= E_att(Y); Y1 came from a softmax over logits of size `logits`, whose rounding
    (relative eps (1 + logits) in Y1) moves E_att(Y1) by up to that times sum |grad| |Y1|."""
    Y, W = case.tensor("Y"), case.tensor("W")
    before, before_scale = energy_with_scale(Y, W, rho)
    Z = Y1.detach().clone().requires_grad_(True)
    after, after_scale = energy_with_scale(Z, W, rho)
    (grad,) = torch.autograd.grad(after.sum(), Z)
    moved = (grad.abs() * Y1.abs()).sum((-2, -1)) * (1 + logits)  # verify.numerics.sensitivity, sharing the forward pass
    scale = before_scale + after_scale.detach() + moved
    return descent_slacks(before, after.detach(), dtype=Y.dtype, scale=scale, n_terms=_n_terms(Y))


def slacks_descent(case: Case) -> Slacks:
    """E_att(T_a Y) <= E_att(Y)."""
    Y, W, rho = case.tensor("Y"), case.tensor("W"), get(str(case["rho"]))
    logits = pairwise_sq_dists(Y, W).abs().amax((-2, -1)) / 2
    return _energy_descent(case, attention_step(Y, W, case.tensor("a"), rho), rho, logits)


def slacks_softmax_keybias(case: Case) -> Slacks:
    """D^{-1} B Y == softmax(Y W Y^T - 1 q^T / 2) Y (rho = the case's rho)."""
    Y, W, rho = case.tensor("Y"), case.tensor("W"), get(str(case["rho"]))
    scale = Y.abs().amax((-2, -1)) * (1 + _logit_scale(Y, W))
    return identity_slacks(attention_weights(Y, W, rho) @ Y, key_bias_softmax(Y, W), scale=scale, n_terms=_n_terms(Y))


def slacks_softmax_equal_norms(case: Case) -> Slacks:
    """D^{-1} B Y == softmax(Y W Y^T) Y."""
    Y, W, rho = case.tensor("Y"), case.tensor("W"), get(str(case["rho"]))
    scale = Y.abs().amax((-2, -1)) * (1 + _logit_scale(Y, W))
    return identity_slacks(attention_weights(Y, W, rho) @ Y, softmax_step(Y, W), scale=scale, n_terms=_n_terms(Y))


def slacks_softmax_descent(case: Case) -> Slacks:
    """E_att(softmax(Y W Y^T) Y) <= E_att(Y), rho = -exp(-z)."""
    Y, W = case.tensor("Y"), case.tensor("W")
    return _energy_descent(case, softmax_step(Y, W), logits=_logit_scale(Y, W))


def slacks_postnorm_descent(case: Case) -> Slacks:
    """E_att(renormalise(softmax(Y W Y^T) Y)) <= E_att(Y), rho = -exp(-z)."""
    Y, W = case.tensor("Y"), case.tensor("W")
    undefined = (w_norms(Y, W) <= 0).any(-1) | (w_norms(softmax_step(Y, W), W) <= 0).any(-1)
    Y1 = torch.where(undefined[:, None, None], Y, postnorm_softmax_step(Y, W))  # placeholder where undefined
    slacks = _energy_descent(case, Y1, logits=_logit_scale(Y, W))
    return slacks.skip_where(undefined, "renormalisation undefined: a row has W-norm <= 0")


NORM_UNDEFINED = "norm undefined: a zero (RMS) or constant (LN) row"


def slacks_layer_equiv(case: Case) -> Slacks:
    """N(Y + softmax(Y Wq Wk^T Y^T) Y Wv Wo) == N(T_a Y), a = c / (1 + c).

    Where N is undefined for a case (a zero or constant row) the norms raise; a batch of one
    is then undecided, a larger one lets the sweep engine halve it down to that case."""
    Y, W, c = case.tensor("Y"), case.tensor("W"), case.tensor("c")
    norm = layer_norm if case["norm"] == "layer_norm" else rms_norm
    a = c / (1 + c)
    unfolded = attention_step(Y, W, a)
    kappa = condition(unfolded, norm is layer_norm, (1 - per_case(a)) * Y.abs() + per_case(a) * (attention_weights(Y, W) @ Y.abs()))
    conditioning = torch.linalg.cond(case.tensor("Wq")) * torch.linalg.cond(case.tensor("Wv"))
    scale = math.sqrt(Y.shape[-1]) * kappa * conditioning * (1 + c) * (1 + _logit_scale(Y, W))
    try:
        heads = [case.tensor(k)[:, None] for k in ("Wq", "Wk", "Wv", "Wo")]  # one head, on its own axis: (B, 1, d, d)
        standard = attention_block(Y, *heads, norm)
        reference = norm(unfolded)
    except ValueError:
        if len(Y) == 1:
            return undecided_slacks(1, NORM_UNDEFINED, Y.device)
        raise
    return identity_slacks(standard, reference, scale=scale, n_terms=_n_terms(Y))


def slacks_regularized_descent(case: Case) -> Slacks:
    """E_reg((D + (lam/2) I)^{-1} B Y) <= E_reg(Y)."""
    Y, W, lam, rho = case.tensor("Y"), case.tensor("W"), case.tensor("lam"), get(str(case["rho"]))
    Y1 = regularized_step(Y, W, lam, rho)
    quad = lambda Z: ((Z.abs() @ sym(W).abs()) * Z.abs()).sum((-2, -1))  # noqa: E731
    scale = attention_energy_scale(Y, W, rho) + attention_energy_scale(Y1, W, rho) + lam * (quad(Y) + quad(Y1))
    return descent_slacks(
        regularized_energy(Y, W, lam, rho), regularized_energy(Y1, W, lam, rho),
        dtype=Y.dtype, scale=scale, n_terms=_n_terms(Y),
    )


# --- the spec's small counterexamples ---------------------------------------------------------

STEP_TOO_LONG = (
    Case(Y=_t([[0.0], [0.25]]), W=_t([[0.0625]]), rho="neg_exp", a=2.25),
    Case(Y=_t([[0.0], [0.5]]), W=_t([[1.0]]), rho="neg_exp", a=3.0),
)
INDEFINITE = (Case(Y=_t([[0.0], [1.0]]), W=_t([[-1.0]]), rho="neg_exp", a=1.0),)
NON_PSD_KERNEL = (Case(Y=_t([[0, 0], [0.72, 1.2], [1.44, 0]]), W=_t([[1, 0], [0, 1]]), rho="min_one", a=2.0),)
CONVEX_RHO = (Case(Y0=_t([[0.0], [0.0]]), Y=_t([[0.0], [1.0]]), W=_t([[1.0]]), rho="exp"),)
SOFTMAX_ASYMMETRIC = (Case(Y=_circle(3.0, [241, 301, 230]), W=_t([[1, 0.5], [-0.5, 1]]), rho="neg_exp"),)
SOFTMAX_UNEQUAL = (
    Case(Y=_t([[0.0], [0.25], [-3.0]]), W=_t([[1.25]]), rho="neg_exp"),
    Case(Y=_circle(math.sqrt(2), [16, 81, 4]), W=_t([[2, 0], [0, 8]]), rho="neg_exp"),
)
SOFTMAX_NEGATIVE = (Case(Y=_t([[1.0], [-1.0]]), W=_t([[-1.0]]), rho="neg_exp"),)

W_PSD, W_SYM, RHO_CONCAVE, STEP, NORMS = (
    A.weight_psd(), A.weight_symmetric(), A.rho_concave_nondecreasing(), A.mm_step_range(), A.equal_w_norms()
)
MM = (W_PSD, RHO_CONCAVE, STEP)
MM_PARAMS = {"weight": "psd", "tokens": "free+coincident", "rho": "concave", "step": "kernel"}
SOFTMAX_PARAMS = {"weight": "psd", "tokens": "equal-norms", "rho": "exp", "step": None}

CLAIMS = (
    Claim(
        id="ATT-MAJORIZE", family="ATT",
        statement="S(Y; Y0) >= E_att(Y) for all Y, equality at Y0",
        source=SOURCE, assumptions=(A.rho_concave(),),
        cases=S.majorize_cases, params={"weight": "any", "rho": "concave"},
        **swept(slacks_majorize, B.majorize_batch), examples={"rho concave": CONVEX_RHO},
    ),
    Claim(
        id="ATT-SURROGATE-DESCENT", family="ATT",
        statement="S(T_a Y; Y) <= S(Y; Y), T_a(Y) = (1 - a) Y + a D^{-1} B Y",
        source=SOURCE, assumptions=MM, cases=S.attention_cases, params=MM_PARAMS,
        **swept(slacks_surrogate_descent, B.attention_batch), certify=C.attention_surrogate,
        examples={STEP.name: NON_PSD_KERNEL + STEP_TOO_LONG, W_PSD.name: INDEFINITE},
    ),
    Claim(
        id="ATT-DESCENT", family="ATT",
        statement="E_att(T_a Y) <= E_att(Y)",
        source=SOURCE, assumptions=MM, cases=S.attention_cases, params=MM_PARAMS,
        **swept(slacks_descent, B.attention_batch),
        examples={STEP.name: STEP_TOO_LONG, W_PSD.name: INDEFINITE},
    ),
    Claim(
        id="ATT-SOFTMAX-KEYBIAS", family="ATT",
        statement="D^{-1} B Y = softmax(Y W Y^T - 1 q^T / 2) Y (row softmax)",
        source=SOURCE, assumptions=(A.rho_neg_exp(), W_SYM),
        cases=S.attention_cases, params={"weight": "symmetric", "tokens": "free", "rho": "exp", "step": None},
        **swept(slacks_softmax_keybias, B.attention_batch),
    ),
    Claim(
        id="ATT-SOFTMAX-EQUAL-NORMS", family="ATT",
        statement="D^{-1} B Y = softmax(Y W Y^T) Y",
        source=SOURCE, assumptions=(A.rho_neg_exp(), W_SYM, NORMS),
        cases=S.attention_cases, params={**SOFTMAX_PARAMS, "weight": "symmetric"},
        **swept(slacks_softmax_equal_norms, B.attention_batch),
    ),
    Claim(
        id="ATT-SOFTMAX-DESCENT", family="ATT",
        statement="E_att(softmax(Y W Y^T) Y) <= E_att(Y)",
        source=SOURCE, assumptions=(W_SYM, W_PSD, NORMS),
        cases=S.attention_cases, params=SOFTMAX_PARAMS, **swept(slacks_softmax_descent, B.attention_batch),
        examples={W_SYM.name: SOFTMAX_ASYMMETRIC, NORMS.name: SOFTMAX_UNEQUAL, W_PSD.name: SOFTMAX_NEGATIVE},
    ),
    Claim(
        id="ATT-POSTNORM-DESCENT", family="ATT",
        statement="softmax(Y W Y^T) Y, rows renormalised to the common W-norm, lowers E_att",
        source=SOURCE, assumptions=(W_SYM, W_PSD, NORMS),
        cases=S.attention_cases, params=SOFTMAX_PARAMS, **swept(slacks_postnorm_descent, B.attention_batch),
        proof="proved (sketch), checked: on the sphere the kernel is PSD (Schur product) and "
        "linearising the convex exp leaves a PSD quadratic that the normalised softmax row maximises",
    ),
    Claim(
        id="ATT-LAYER-EQUIV", family="ATT",
        statement="N(Y + softmax(Y Wq Wk^T Y^T) Y Wv Wo) = N(T_a Y), a = c / (1 + c), N = LN or RMS",
        source=SOURCE, assumptions=(A.query_key_tie(), W_SYM, NORMS, A.value_scalar()),
        cases=S.attention_layer_cases, params={"weight": "symmetric", "tokens": "equal-norms", "value": "scalar"},
        **swept(slacks_layer_equiv, B.attention_layer_batch),
    ),
    Claim(
        id="ATT-REG-DESCENT", family="ATT",
        statement="E_reg((D + (lam/2) I)^{-1} B Y) <= E_reg(Y), E_reg = E_att + (lam/2) tr(Y W Y^T)",
        source=SOURCE, assumptions=(W_PSD, RHO_CONCAVE),
        cases=S.regularized_cases, params={"weight": "psd", "rho": "concave"},
        **swept(slacks_regularized_descent, B.regularized_batch),
    ),
)
