"""ICL assumptions: the weight construction, the mask, Gamma, and the step size against lmax(K)."""

from __future__ import annotations

from torch import Tensor

from verify.draw.conditions import close, every, lmax, psd, symmetric
from verify.math.icl import preconditioned_kernel, query_key_product, value_output_product
from verify.model.case import Case
from verify.model.claim import Assumption


def _construction(c: Case) -> Tensor:
    Gamma, eta, dy = c.tensor("Gamma"), c.tensor("eta"), c.tensor("Y").shape[-1]
    query_key = close(c.tensor("Wq") @ c.tensor("Wk").mT, query_key_product(Gamma, dy))
    value_output = close(c.tensor("Wv") @ c.tensor("Wo"), value_output_product(Gamma, eta, dy))
    return query_key & value_output


CONSTRUCTION = Assumption(
    "Wq Wk^T = [[Gamma, 0], [0, 0]], Wv Wo = [[0, 0], [0, -eta I]]", _construction,
    untestable="Gamma and eta are what the weights are built from: without the construction the claim is about another layer",
)
MASK = Assumption("the query is no key (mask)", lambda c: every(c, c["mask"] == "context"), {"mask": "none"})
GAMMA_SYMMETRIC = Assumption("Gamma symmetric", lambda c: symmetric(c.tensor("Gamma")), {"gamma": "asymmetric"})
GAMMA_PSD = Assumption("sym(Gamma) PSD", lambda c: psd(c.tensor("Gamma")), {"gamma": "indefinite"})


def _step(c: Case) -> Tensor:
    eta = c.tensor("eta")
    top = lmax(preconditioned_kernel(c.tensor("X"), c.tensor("Gamma")))  # of sym(K)
    return (eta >= 0) & (eta * top <= 2.0 * (1 + 1e-12))


STEP = Assumption("0 <= eta lmax(K) <= 2", _step, {"step": "beyond"})
