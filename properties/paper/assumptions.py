"""PAPER assumptions: the ReLU variant of the FFN descends only from nonnegative tokens."""

from __future__ import annotations

from verify.draw.conditions import every
from verify.model.claim import Assumption

TOKENS_NONNEG = Assumption("Y >= 0", lambda c: (c.tensor("Y") >= 0).flatten(1).all(1), {"tokens": "free+negative"})
# with one token attention is the identity: a layer would be the FFN alone, which descends
TOKENS = Assumption("n >= 2", lambda c: every(c, c.tensor("Y").shape[-2] >= 2))
