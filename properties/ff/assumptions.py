"""FF assumptions: on the matrix M, the tokens and the MLP step size."""

from __future__ import annotations

import torch
from torch import Tensor

from verify.draw.conditions import SPECTRUM_TOL, lmin, replaced, sym, symmetric, with_symmetric_part
from verify.model.case import Case
from verify.model.claim import Assumption

M_SYMMETRIC = Assumption("M symmetric", lambda c: symmetric(c.tensor("M")), {"M": "asymmetric"},
                         project=lambda c: replaced(c, M=sym(c.tensor("M"))))
M_ASYMMETRIC = Assumption("M asymmetric", lambda c: ~symmetric(c.tensor("M")), {"M": "symmetric"})
LMIN = Assumption("lmin(M) >= -1", lambda c: lmin(c.tensor("M")) >= -1 - SPECTRUM_TOL, {"M": "below-minus-one"},
                  project=lambda c: replaced(c, M=with_symmetric_part(c.tensor("M"), -1.0)))
TOKENS_NONNEG = Assumption("Y >= 0", lambda c: (c.tensor("Y") >= 0).flatten(1).all(1), {"tokens": "free"},
                           project=lambda c: replaced(c, Y=c.tensor("Y").clamp_min(0.0)))


def _mlp_step(c: Case) -> Tensor:
    t = c.tensor("t")
    return (t >= 0) & (t <= 2.0 / torch.linalg.matrix_norm(c.tensor("V"), 2) ** 2 * (1 + 1e-12))


MLP_STEP = Assumption("0 <= t <= 2 / ||V||_2^2", _mlp_step, {"step": "beyond"},
                      project=lambda c: replaced(c, t=torch.minimum(c.tensor("t").clamp_min(0.0),
                                                                    2.0 / torch.linalg.matrix_norm(c.tensor("V"), 2) ** 2)))
