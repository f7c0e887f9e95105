"""HOPFIELD: the modern Hopfield update as a CCCP step (spec section HOPFIELD).

    E_hop(xi) = -lse(beta, Y xi) + (1/2) xi^T xi + (1 / beta) log N + (1/2) M^2,  M = max_i ||y_i||
    update    xi' = Y^T softmax(beta Y xi)   (the states R: softmax(beta R Y^T) Y)

Each claim in a fixed order: id, statement, source, assumptions, expected, cases, check,
certificate, examples.
"""

from __future__ import annotations

from properties.hopfield import certificates, checks
from properties.hopfield.assumptions import BETA_POSITIVE, SHARED_BETA, TRIPLE_BETA
from properties.hopfield.cases import hopfield_cases, self_attention_cases
from verify.model.claim import Claim

RAMSAUER = "Ramsauer et al. 2021, arXiv:2008.02217"

CLAIMS = (
    Claim(
        id="HOPFIELD-CCCP-DESCENT", family="HOPFIELD",
        statement="E_hop(xi') <= E_hop(xi), xi' = Y^T softmax(beta Y xi), for every state, pattern set and beta",
        source=f"{RAMSAUER}, eq. (2)-(3) and Theorem 1 (the update is a CCCP step, Yuille & Rangarajan 2003) (spec: HOPFIELD)",
        assumptions=(BETA_POSITIVE, SHARED_BETA),
        cases=hopfield_cases, params={"beta": "positive", "ratio": "shared"},
        check=checks.slacks_cccp_descent,
        certify=certificates.CCCP,
        proof="E_hop = xi^T xi / 2 (convex) + (-lse) (concave); the update sets grad(xi^T xi / 2) at xi' to "
        "grad lse at xi, so E(xi') <= E(xi) - |xi' - xi|^2 / 2",
    ),
    Claim(
        id="HOPFIELD-ENERGY-BOUNDS", family="HOPFIELD",
        statement="0 <= E_hop(xi) for every xi; E_hop(h) <= 2 M^2 for every h on the patterns' convex hull "
        "(where every update lands)",
        source=f"{RAMSAUER}, eq. (2) and Lemma A1 (the energy's bounds, as the spec cites it) (spec: HOPFIELD)",
        assumptions=(BETA_POSITIVE,),
        cases=hopfield_cases, params={"beta": "positive", "hull": True},
        check=checks.slacks_energy_bounds,
        proof="lse >= max_i z_i gives E >= (|xi| - M)^2 / 2 >= 0; lse >= mean_i z_i + log N / beta gives "
        "E <= |xi| M + M^2 <= 2 M^2 when |xi| <= M",
    ),
    Claim(
        id="HOPFIELD-BETA-MISMATCH", family="HOPFIELD",
        statement="the update with beta' = 3 beta, Y^T softmax(3 beta Y xi), does not raise E_hop with beta",
        source=f"{RAMSAUER}, eq. (2)-(3): the CCCP step needs the energy's own beta (spec: HOPFIELD)",
        assumptions=(BETA_POSITIVE, TRIPLE_BETA),
        expected="refuted",
        cases=hopfield_cases, params={"beta": "positive", "ratio": "triple", "n": (2, 7), "d": (1, 3), "m": (1, 1)},
        check=checks.slacks_cccp_descent,
        explanation="With beta' != beta the update no longer solves grad(xi'^T xi' / 2) = grad lse(beta, Y xi): it is "
        "a CCCP step of another energy. It rises rarely (about 1 state in 250 at the spec's N = 3, d = 2, beta = 1), "
        "where beta M^2 is of order 1 and the state lies between patterns.",
    ),
    Claim(
        id="HOPFIELD-SELF-ATTN-GLOBAL", family="HOPFIELD",
        statement="Y' = softmax(beta Y Y^T) Y does not raise sum_i E_hop(y_i; patterns = rows of Y)",
        source=f"{RAMSAUER}, Sec. 3 (the Hopfield layer is attention); Niu et al. 2024, arXiv:2405.08707 "
        "(layer energies built on E_hop) (spec: HOPFIELD)",
        assumptions=(BETA_POSITIVE,),
        expected="refuted",
        cases=self_attention_cases,
        check=checks.slacks_self_attention,
        explanation="Each row takes a CCCP step for the patterns of the moment, but the patterns are the tokens and "
        "move with the step: the seed paper's question asked through the Hopfield lens, and the answer is no.",
    ),
)
