"""The spec's smallest ATT counterexamples, each with the assumption whose absence it shows."""

from __future__ import annotations

import math

import torch

from verify.model.case import Case


def _t(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)  # host: the spec's cases (a check receives Case.to(dtype, device))


def _circle(radius: float, degrees: list[float]) -> torch.Tensor:
    return _t([[radius * math.cos(math.radians(t)), radius * math.sin(math.radians(t))] for t in degrees])


STEP_TOO_LONG = (
    Case(Y=_t([[0.0], [0.25]]), W=_t([[0.0625]]), rho="neg_exp", a=2.25),
    Case(Y=_t([[0.0], [0.5]]), W=_t([[1.0]]), rho="neg_exp", a=3.0),
)
INDEFINITE = (Case(Y=_t([[0.0], [1.0]]), W=_t([[-1.0]]), rho="neg_exp", a=1.0),)
NON_PSD_KERNEL = (Case(Y=_t([[0, 0], [0.72, 1.2], [1.44, 0]]), W=_t([[1, 0], [0, 1]]), rho="min_one", a=2.0),)
DECREASING_RHO = (Case(Y=_t([[0.0], [1.0]]), W=_t([[1.0]]), rho="exp_decay", a=1.0),)
CONVEX_RHO = (Case(Y0=_t([[0.0], [0.0]]), Y=_t([[0.0], [1.0]]), W=_t([[1.0]]), rho="exp"),)
SOFTMAX_ASYMMETRIC = (Case(Y=_circle(3.0, [241, 301, 230]), W=_t([[1, 0.5], [-0.5, 1]]), rho="neg_exp"),)
SOFTMAX_UNEQUAL = (
    Case(Y=_t([[0.0], [0.25], [-3.0]]), W=_t([[1.25]]), rho="neg_exp"),
    Case(Y=_circle(math.sqrt(2), [16, 81, 4]), W=_t([[2, 0], [0, 8]]), rho="neg_exp"),
)
SOFTMAX_NEGATIVE = (Case(Y=_t([[1.0], [-1.0]]), W=_t([[-1.0]]), rho="neg_exp"),)
