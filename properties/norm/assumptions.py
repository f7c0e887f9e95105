"""NORM assumptions: the norms' domains (whose violation is an input error) and the sign of the scale."""

from __future__ import annotations

from torch import Tensor

from verify.model.case import Case
from verify.model.claim import Assumption


def _ln_domain(c: Case) -> Tensor:
    Y = c.tensor("Y")
    spread = Y.amax(-1) - Y.amin(-1)
    return (spread > 0).flatten(1).all(1) & (Y.shape[-1] >= 2)


LN_DOMAIN = Assumption("d >= 2, P y != 0", _ln_domain,
                       untestable="outside it LN raises ValueError (d = 1: empty set; P y = 0: no unique point)")
RMS_DOMAIN = Assumption("y != 0", lambda c: (c.tensor("Y").abs().amax(-1) > 0).flatten(1).all(1),
                        untestable="RMS(0) raises ValueError: every point of the sphere is equally near")
SCALE_POSITIVE = Assumption("t > 0", lambda c: c.tensor("t") > 0, {"scale": "negative"})
