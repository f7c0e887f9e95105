"""PAPER-CODE: the paper's own energy-curve model, from the formulas in the spec (never its code).

    E_pa(Y) = sum_{i>j} -exp(-||(y_i - y_j)^T V||^2 / 2) + ||Y V||_F^2 / 2,  forward softmax(Y V^T V Y^T) Y
    E_pf(Y) = (1/2) tr(Y U Y^T) + (1/2) ||Y - 1 b^T||^2,  forward -Y sym(U) + 1 b^T (optional ReLU)

Each claim in a fixed order: id, statement, source, assumptions, expected, cases, check,
certificate, examples.
"""

from __future__ import annotations

import torch

from properties.paper import checks, stories
from properties.paper.assumptions import TOKENS, TOKENS_NONNEG
from properties.paper.cases import paper_cases
from verify.model.case import Case
from verify.model.claim import Claim


def _t(rows: list) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)  # host: the spec's cases (a check receives Case.to(dtype, device))


SOURCE = "Yang, Huang, Wipf 2022, energy-curve model (FFTYYY/Transformers-From-Optimization energy_curve/model.py, f0c75d0)"

CLAIMS = (
    Claim(
        id="PAPER-ATTN-DESCENT", family="PAPER",
        statement="the paper model's attention forward softmax(Y M Y^T) Y, M = V^T V, lowers its attention energy "
        "sum_{i>j} -exp(-||(y_i - y_j)^T V||^2 / 2) + ||Y V||_F^2 / 2",
        source=SOURCE,
        paper="Figures 5-6: the attention forward of the authors' energy-curve model (energy_curve/model.py)",
        assumptions=(TOKENS,),
        expected="refuted",
        cases=paper_cases,
        check=checks.slacks_attention,
        story=stories.attention,
        explanation="The forward pass is the plain softmax step, which is not the MM step of this energy: it ignores "
        "the norm-dependent key bias (ATT-SOFTMAX-KEYBIAS) and the regulariser (1/2)||Y V||^2. Fix: PAPER-ATTN-FIXED.",
    ),
    Claim(
        id="PAPER-ATTN-FIXED", family="PAPER",
        statement="the corrected step (D + I)^{-1} B Y, B = [exp(-||(y_i - y_j)^T V||^2 / 2)], lowers that energy",
        source=SOURCE,
        paper="the spec's own correction of the authors' attention forward",
        assumptions=(),
        cases=paper_cases,
        check=checks.slacks_attention_fixed,
        explanation="The energy is (1/2)[E_att + tr(Y W Y^T)] + n/2 with W = V V^T, so ATT-REG-DESCENT with lam = 2 "
        "applies: the Jacobi step on its majoriser descends.",
    ),
    Claim(
        id="PAPER-FFN-DESCENT", family="PAPER",
        statement="the FFN forward -Y sym(U) + 1 b^T (and its ReLU) lowers (1/2) tr(Y U Y^T) + (1/2)||Y - 1 b^T||^2, "
        "U = A A^T clipped to spectrum [0, 0.95]",
        source=SOURCE,
        paper="Figures 5-6: the FFN forward of the authors' energy-curve model",
        assumptions=(TOKENS_NONNEG,),
        cases=paper_cases, params={"tokens": "nonneg"},
        check=checks.slacks_ffn,
        examples={TOKENS_NONNEG.name: (Case(Y=_t([[0.0], [-1.0]]), V=_t([[0.0]]), A=_t([[0.0]]), b=_t([-1.0])),)},
        explanation="Without the ReLU the FFN is a gradient step of size 1 on an energy with Hessian I + U, spectrum "
        "in [1, 1.95] < 2: it always descends. With the ReLU it is a projected step, which descends from Y >= 0 only: "
        "Y = [[0], [-1]], U = 0, b = -1 goes 0.5 -> 1.0.",
    ),
    Claim(
        id="PAPER-LAYER-MONOTONE", family="PAPER",
        statement="the total energy of the paper model does not rise across a layer (attention, then FFN)",
        source=SOURCE,
        paper="Figures 5-6: whether the authors' model lowers its total energy layer by layer",
        assumptions=(TOKENS,),
        expected="refuted",
        cases=paper_cases,
        check=checks.slacks_layer_monotone,
        story=stories.layer,
        explanation="Even when each sublayer descends its own energy the sum need not (LAYER-SUM-NOT-MONOTONE).",
    ),
)
