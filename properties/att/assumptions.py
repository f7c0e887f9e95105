"""ATT assumptions: on rho, on the step size, and (shared, from verify.draw.conditions) on W and the tokens."""

from __future__ import annotations

from torch import Tensor

from verify.draw.conditions import equal_norms, every, psd_weight, query_key_tie, replaced, scalar_value, symmetric_weight
from verify.draw.steps import step_limit
from verify.math.rho import get as get_rho
from verify.model.case import Case
from verify.model.claim import Assumption


def _rho(case: Case):
    return get_rho(str(case["rho"]))


RHO_CONCAVE = Assumption("rho concave", lambda c: every(c, _rho(c).concave), {"rho": "convex"})
RHO_NONDECREASING = Assumption("rho nondecreasing", lambda c: every(c, _rho(c).nondecreasing), {"rho": "decreasing"})
# the same assumption for claims that also assume concavity: its ablation draws a concave decreasing rho
RHO_NONDECREASING_CONCAVE_KEPT = Assumption(RHO_NONDECREASING.name, RHO_NONDECREASING.holds, {"rho": "concave-decreasing"})
RHO_NEG_EXP = Assumption("rho = -exp(-z)", lambda c: every(c, c["rho"] == "neg_exp"), {"rho": "concave-not-exp"})


def _in_step_range(c: Case) -> Tensor:
    a = c.tensor("a")
    return (a >= 0) & (a <= step_limit(_rho(c)))


STEP = Assumption("0 <= a <= 1, or <= 2 when B >= 0", _in_step_range, {"step": "beyond"},
                  project=lambda c: replaced(c, a=c.tensor("a").clamp(0.0, step_limit(_rho(c)))))

W_PSD = psd_weight()
W_SYMMETRIC = symmetric_weight()
EQUAL_NORMS = equal_norms()
QUERY_KEY_TIE = query_key_tie()
SCALAR_VALUE = scalar_value()
