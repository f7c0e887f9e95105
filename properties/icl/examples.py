"""The spec's smallest ICL counterexamples, each with the assumption whose absence it shows, built with
the plainest weights of the construction (verify.math.icl.gd_weights)."""

from __future__ import annotations

import torch

from verify.math.icl import gd_weights
from verify.model.case import Case


def _t(rows: list) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)  # host: the spec's examples, moved where a search runs


def icl_case(X: list, Y: list, Gamma: list, eta: float, k: int = 1, xq: list | None = None, mask: str = "context",
             layer: bool = True) -> Case:
    """A case of icl_cases' shape from plain lists (with the layer: the query, the weights, the mask)."""
    fields: dict[str, object] = {"X": _t(X), "Y": _t(Y), "Gamma": _t(Gamma), "eta": eta, "k": k}
    if layer:
        Wq, Wk, Wv, Wo = gd_weights(_t(Gamma), eta, len(Y[0]))
        fields.update(xq=_t(xq if xq is not None else [0.0] * len(X[0])), Wq=Wq, Wk=Wk, Wv=Wv, Wo=Wo, mask=mask)
    return Case(**fields)


# eta lmax(K) = 2.5 > 2, the residual on K's top eigenvector: E_icl 0.5 -> 1.125
STEP_TOO_LONG = icl_case([[1.0]], [[1.0]], [[1.0]], 2.5, xq=[1.0])
# Gamma = diag(-1, 1), X = I_2: E_icl 0.25 -> 0.275625 (and the rate bound rho^2 (L0 - L_inf) = 0.225625 fails)
INDEFINITE = dict(X=[[1.0, 0.0], [0.0, 1.0]], Y=[[1.0], [0.0]], Gamma=[[-1.0, 0.0], [0.0, 1.0]], eta=0.1)
# Gamma = I + 3 J, N = 3, dx = 2, eta = 0.5 / lmax(sym K) = 1.5: E_icl 1/6 -> 5/12 (a search's smallest, round numbers)
ASYMMETRIC = dict(X=[[0.0, 0.0], [1.0, 0.0], [0.0, -1.0]], Y=[[0.0], [-1.0], [0.0]], Gamma=[[1.0, 3.0], [-3.0, 1.0]], eta=1.5)
# a small skew part on the case of INDEFINITE still falls: 0.25 -> 0.2481 (no counterexample; kept for the test)
SMALL_SKEW = dict(X=[[1.0, 0.0], [0.0, 1.0]], Y=[[1.0], [0.0]], Gamma=[[0.1, 1.0], [-1.0, 0.1]], eta=0.1)
# N = 1, x = y = x_q = 1, eta = 0.5, Gamma = 1, two layers: query slot -0.75 with the mask, -0.5 without
NO_MASK = icl_case([[1.0]], [[1.0]], [[1.0]], 0.5, k=2, xq=[1.0], mask="none")
