"""LAYER: heterogeneous layers and alternating descent (spec section LAYER).

    f(y) = (1/2)(y - a)^T P (y - a),  h(y) = (1/2)(y - c)^T Q (y - c),  P, Q > 0
    cycle: an f-step y - t P (y - a), then an h-step;  y* = (P + Q)^{-1} (P a + Q c)

and a whole Transformer layer: attention then FF, and the post-norm block with tied weights.
Each claim in a fixed order: id, statement, source, assumptions, expected, cases, check,
certificate, examples.
"""

from __future__ import annotations

import numpy as np

from properties.layer import checks, stories
from properties.layer.assumptions import (
    APOLLONIUS,
    ATT_STEP,
    EQUAL_NORMS,
    FFN_TIED,
    ISOTROPIC,
    M_LMIN,
    M_SYMMETRIC,
    PAIR_POSITIVE,
    PAIR_STEP,
    PAIR_STEP_SUM,
    QUERY_KEY_TIE,
    RHO_NEG_EXP,
    SCALAR_VALUE,
    TOKENS,
    W_PSD,
    W_SYMMETRIC,
)
from properties.layer.cases import block_cases, full_layer_cases, pair_cases
from verify.model.case import Case
from verify.model.claim import Claim, Looped

SOURCE = "Yang, Huang, Wipf 2022, heterogeneous layers (spec: LAYER)"


def _pair_case(P, a, Q, c, t, y) -> Case:
    return Case(P=np.array(P, float), a=np.array(a, float), Q=np.array(Q, float), c=np.array(c, float), t=t, y=np.array(y, float))


SPEC_EXAMPLE = _pair_case([[1.0]], [0.0], [[1.0]], [1.0], 0.5, [0.25])

CLAIMS = (
    Claim(
        id="LAYER-SUM-NOT-MONOTONE", family="LAYER",
        statement="f + h does not rise along alternating f-steps and h-steps (each a descent on its own term)",
        source=SOURCE,
        paper="Figures 2-3 (authors' combination_energy.py): alternating steps on two energies need not lower their sum",
        assumptions=(PAIR_POSITIVE, PAIR_STEP),
        expected="refuted",
        cases=pair_cases,
        check=checks.slacks_sum_monotone,
        examples={None: (SPEC_EXAMPLE,)},
        story=stories.sum_not_monotone,
        explanation="Each half-step lowers its own quadratic, yet the sum can rise: in the limit 2-cycle one of the "
        "half-steps always raises f + h.",
    ),
    Claim(
        id="LAYER-ALT-FIXED-POINT", family="LAYER",
        statement="the cycle converges to y_inf = (P + Q - t Q P)^{-1} (P a + Q c - t Q P a); "
        "y_inf - y* = t (P + Q - t Q P)^{-1} Q P (y* - a) = Theta(t), energy gap Theta(t^2)",
        source=SOURCE,
        paper="Figures 2-3 (authors' combination_energy.py): where alternating steps on two energies converge",
        assumptions=(PAIR_POSITIVE, PAIR_STEP),
        cases=pair_cases,
        check=Looped(checks.check_fixed_point),
        requires=("cvxpy",),
    ),
    Claim(
        id="LAYER-ALT-REGION", family="LAYER",
        statement="P = pI, Q = qI: one f-step raises f + h exactly inside the open ball B(a + g (c - a), g ||c - a||), "
        "g = q / ((2 - t p)(p + q))",
        source=SOURCE,
        paper="the spec's own: the exact region where an f-step raises f + h (a ball, not an Apollonius circle)",
        assumptions=(PAIR_POSITIVE, ISOTROPIC, PAIR_STEP),
        cases=pair_cases, params={"isotropic": "yes", "point": "boundary"},
        check=checks.slacks_region,
    ),
    Claim(
        id="LAYER-APOLLONIUS", family="LAYER",
        statement="||y - a|| / ||y - c|| > C_t = lmax(Q) / (lmin(P) (1 - t lmax(P + Q) / 2)) implies the f-step lowers f + h",
        source=SOURCE,
        paper="Figure 1 (authors' apollo_circle.py): the circles outside which an f-step lowers f + h",
        assumptions=(PAIR_POSITIVE, APOLLONIUS, PAIR_STEP_SUM),
        cases=pair_cases, params={"point": "apollonius"},
        check=checks.slacks_apollonius,
    ),
    Claim(
        id="LAYER-FULL-SUM-DESCENT", family="LAYER",
        statement="E_att + E_ff decreases across a full layer FF(ATT(Y)), each sublayer meeting its own conditions",
        source=SOURCE,
        paper="an obstacle the paper names: heterogeneous layers, each a descent step on its own energy",
        assumptions=(TOKENS, W_PSD, RHO_NEG_EXP, ATT_STEP, M_SYMMETRIC, M_LMIN),
        expected="refuted",
        cases=full_layer_cases,
        check=checks.slacks_full_sum,
        story=stories.full_sum,
        explanation="Each sublayer lowers its own energy (ATT-DESCENT, FF-DESCENT), but the FF step is blind to E_att "
        "and the attention step to E_ff: their sum can rise across the layer.",
    ),
    Claim(
        id="LAYER-BLOCK-EQUIV", family="LAYER",
        statement="a post-norm block N(Z + relu(Z W1 + 1 b1^T) W2), Z = N(Y + sum_h softmax(Y Wq_h Wk_h^T Y^T) Y Wv_h Wo_h), "
        "equals N(mlp(N(T_a Y))): an MM step on E_att, a norm projection, a gradient step on E_mlp, a projection",
        source=SOURCE,
        paper="the paper's unfolding of a whole block (the spec's assembly of ATT-LAYER-EQUIV and FF-TIED-MLP)",
        assumptions=(QUERY_KEY_TIE, W_SYMMETRIC, EQUAL_NORMS, SCALAR_VALUE, FFN_TIED),
        cases=block_cases, params={"weight": "symmetric", "tokens": "equal-norms", "value": "scalar", "ffn": "tied"},
        check=checks.slacks_block_equiv,
        explanation="Ties: every head has Wq_h Wk_h^T = W (symmetric) and Wv_h Wo_h = c_h I with sum c_h = c; "
        "W1 = V^T, b1 = c, W2 = -t V, b2 = 0; equal W-norms. Then a = c / (1 + c) (ATT-LAYER-EQUIV) and the FFN is "
        "FF-TIED-MLP's gradient step.",
    ),
    Claim(
        id="LAYER-ENERGY-CURVE", family="LAYER",
        statement="in a weight-shared 6-layer model meeting the ATT and FF assumptions each sublayer lowers its own "
        "energy at every depth (the sum is plotted, not asserted)",
        source=SOURCE,
        paper="Figures 5-6 (authors' energy_curve/): energy per layer of a weight-shared model",
        assumptions=(W_PSD, RHO_NEG_EXP, ATT_STEP, M_SYMMETRIC, M_LMIN),
        cases=full_layer_cases, params={"depth": 6},
        check=checks.slacks_energy_curve,
    ),
)
