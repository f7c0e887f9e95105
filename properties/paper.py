"""PAPER-CODE: the paper's own energy-curve model, from the formulas in the spec."""

from __future__ import annotations

import dataclasses

import torch

from verify import assumptions as A
from verify import samplers as B
from verify import strategies as S
from verify.attention import attention_energy_scale
from verify.case import Case
from verify.claims import Claim, swept
from verify.numerics import Slacks, descent_slacks, worst_slacks
from verify.paper import (
    clipped_psd,
    corrected_attention_forward,
    paper_attention_energy,
    paper_attention_forward,
    paper_ffn_energy,
    paper_ffn_forward,
)

SOURCE = "Yang, Huang, Wipf 2022, energy-curve model (FFTYYY/Transformers-From-Optimization energy_curve/model.py, f0c75d0)"


def _attention_scale(Y: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    return attention_energy_scale(Y, V @ V.mT) + ((Y.abs() @ V.abs()) ** 2).sum((-2, -1))


def _n_terms(Y: torch.Tensor) -> int:
    return Y.shape[-2] ** 2 * Y.shape[-1]


# --- checks (batched: a leading batch dimension, see verify.sweep) ------------------------------


def _attention_descent(case: Case, forward) -> Slacks:
    Y, V = case.tensor("Y"), case.tensor("V")
    Y1 = forward(Y, V)
    return descent_slacks(paper_attention_energy(Y, V), paper_attention_energy(Y1, V), dtype=Y.dtype,
                          scale=_attention_scale(Y, V) + _attention_scale(Y1, V), n_terms=_n_terms(Y))


def slacks_attention(case: Case) -> Slacks:
    """E_pa(softmax(Y M Y^T) Y) <= E_pa(Y), M = V^T V."""
    return _attention_descent(case, paper_attention_forward)


def slacks_attention_fixed(case: Case) -> Slacks:
    """E_pa((D + I)^{-1} B Y) <= E_pa(Y)."""
    return _attention_descent(case, corrected_attention_forward)


def _ffn_scale(Y: torch.Tensor, U: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return ((Y.abs() @ U.abs()) * Y.abs()).sum((-2, -1)) + ((Y.abs() + b.abs()[..., None, :]) ** 2).sum((-2, -1))


def slacks_ffn(case: Case) -> Slacks:
    """E_pf(-Y sym(U) + 1 b^T) <= E_pf(Y), with and without the ReLU, U = clip(A A^T).

    The ReLU variant is a projected (proximal) step: it descends from feasible points Y >= 0,
    which every layer after the first sees (relu outputs, then convex combinations of them)."""
    Y, b = case.tensor("Y"), case.tensor("b")
    U = clipped_psd(case.tensor("A"))
    slacks = []
    for relu in (False, True):
        Y1 = paper_ffn_forward(Y, U, b, relu=relu)
        slacks.append(descent_slacks(paper_ffn_energy(Y, U, b), paper_ffn_energy(Y1, U, b), dtype=Y.dtype,
                                     scale=_ffn_scale(Y, U, b) + _ffn_scale(Y1, U, b), n_terms=Y.shape[-2] * Y.shape[-1] ** 2))
    return worst_slacks(*slacks)


def slacks_layer_monotone(case: Case) -> Slacks:
    """The total E_pa + E_pf does not rise across one layer (attention forward, then FFN forward)."""
    Y, V, b = case.tensor("Y"), case.tensor("V"), case.tensor("b")
    U = clipped_psd(case.tensor("A"))
    total = lambda Z: paper_attention_energy(Z, V) + paper_ffn_energy(Z, U, b)  # noqa: E731
    Y2 = paper_ffn_forward(paper_attention_forward(Y, V), U, b)
    scale = _attention_scale(Y, V) + _attention_scale(Y2, V) + _ffn_scale(Y, U, b) + _ffn_scale(Y2, U, b)
    return descent_slacks(total(Y), total(Y2), dtype=Y.dtype, scale=scale, n_terms=_n_terms(Y))


NONNEG = dataclasses.replace(A.tokens_nonneg(), violate={"tokens": "free+negative"})

CLAIMS = (
    Claim(
        id="PAPER-ATTN-DESCENT", family="PAPER",
        statement="the paper model's attention forward softmax(Y M Y^T) Y, M = V^T V, lowers its attention energy "
        "sum_{i>j} -exp(-||(y_i - y_j)^T V||^2 / 2) + ||Y V||_F^2 / 2",
        source=SOURCE, assumptions=(), cases=S.paper_cases, **swept(slacks_attention, B.paper_batch), expected="refuted",
        explanation="The forward pass is the plain softmax step, which is not the MM step of this energy: it ignores "
        "the norm-dependent key bias (ATT-SOFTMAX-KEYBIAS) and the regulariser (1/2)||Y V||^2. It raises the energy for "
        "a sizeable share of random draws, with V symmetric too, so the V V^T vs V^T V metric mismatch is not the cause. "
        "Fix: PAPER-ATTN-FIXED.",
    ),
    Claim(
        id="PAPER-ATTN-FIXED", family="PAPER",
        statement="the corrected step (D + I)^{-1} B Y, B = [exp(-||(y_i - y_j)^T V||^2 / 2)], lowers that energy",
        source=SOURCE, assumptions=(), cases=S.paper_cases, **swept(slacks_attention_fixed, B.paper_batch),
        explanation="The energy is (1/2)[E_att + tr(Y W Y^T)] + n/2 with W = V V^T, so ATT-REG-DESCENT with lam = 2 "
        "applies: the Jacobi step on its majoriser descends.",
    ),
    Claim(
        id="PAPER-FFN-DESCENT", family="PAPER",
        statement="the FFN forward -Y sym(U) + 1 b^T (and its ReLU) lowers (1/2) tr(Y U Y^T) + (1/2)||Y - 1 b^T||^2, "
        "U = A A^T clipped to spectrum [0, 0.95]",
        source=SOURCE, assumptions=(NONNEG,), cases=S.paper_cases, params={"tokens": "nonneg"},
        **swept(slacks_ffn, B.paper_batch),
        explanation="Without the ReLU the FFN is a gradient step of size 1 on an energy with Hessian I + U, spectrum "
        "in [1, 1.95] < 2: it always descends. With the ReLU it is a projected step, which descends from Y >= 0 only: "
        "Y = [[0], [-1]], U = 0, b = -1 goes 0.5 -> 1.0.",
        examples={"Y >= 0": (Case(Y=torch.tensor([[0.0], [-1.0]], dtype=torch.float64), V=torch.zeros(1, 1, dtype=torch.float64),
                                  A=torch.zeros(1, 1, dtype=torch.float64), b=torch.tensor([-1.0], dtype=torch.float64)),)},
    ),
    Claim(
        id="PAPER-LAYER-MONOTONE", family="PAPER",
        statement="the total energy of the paper model does not rise across a layer (attention, then FFN)",
        source=SOURCE, assumptions=(), cases=S.paper_cases, **swept(slacks_layer_monotone, B.paper_batch), expected="refuted",
        explanation="Even with each sublayer descending its own energy the sum need not (LAYER-SUM-NOT-MONOTONE); "
        "here the attention forward does not even descend its own.",
    ),
)
