"""HOPFIELD assumptions: the sign of beta, and which beta the update uses."""

from __future__ import annotations

from verify.model.claim import Assumption

BETA_POSITIVE = Assumption("beta > 0", lambda c: c.tensor("beta") > 0, {"beta": "negative"})
SHARED_BETA = Assumption("update and energy share beta", lambda c: c.tensor("ratio") == 1.0, {"ratio": "mismatched"})
TRIPLE_BETA = Assumption(
    "the update's beta' = 3 beta", lambda c: c.tensor("ratio") == 3.0,
    untestable="the claim is about the update with beta' = 3 beta",
)
