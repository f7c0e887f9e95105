"""The scalar functions `rho` of the attention energy `E_att(Y) = sum_ij rho(||y_i - y_j||_W^2 / 2)`.

Each `Rho` holds its value, its derivative (a supergradient where it has a kink), and
the facts the ATT claims rest on: concave, nondecreasing, and whether its kernel
`B_ij = rho'(||y_i - y_j||_W^2 / 2)` is positive semidefinite for every `Y` when `W >= 0`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Rho:
    """rho(z) with rho'(z); `log_deriv` is log rho'(z) where that is cheap and exact."""

    name: str
    formula: str
    value: Callable[[Tensor], Tensor]
    deriv: Callable[[Tensor], Tensor]
    concave: bool
    nondecreasing: bool
    psd_kernel: bool
    log_deriv: Callable[[Tensor], Tensor] | None = None
    value_and_deriv: Callable[[Tensor], tuple[Tensor, Tensor]] | None = None
    low: float = -math.inf  # rho is defined for z > low (log(1 + z): z > -1; an indefinite W gives z < 0)

    def both(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """(rho(z), rho'(z)), from one pass where the two share their work (-exp(-z) and exp(-z))."""
        if self.value_and_deriv is not None:
            return self.value_and_deriv(z)
        return self.value(z), self.deriv(z)

    def __repr__(self) -> str:
        return f"Rho({self.name}: {self.formula})"


def _neg_exp_both(z: Tensor) -> tuple[Tensor, Tensor]:
    e = torch.exp(-z)
    return -e, e


NEG_EXP = Rho(
    "neg_exp", "-exp(-z)", lambda z: -torch.exp(-z), lambda z: torch.exp(-z),
    concave=True, nondecreasing=True, psd_kernel=True, log_deriv=lambda z: -z, value_and_deriv=_neg_exp_both,
)
LOG1P = Rho(
    "log1p", "log(1 + z)", torch.log1p, lambda z: 1.0 / (1.0 + z),
    concave=True, nondecreasing=True, psd_kernel=True, log_deriv=lambda z: -torch.log1p(z), low=-1.0,
)
LOG_SIGMOID = Rho(
    "log_sigmoid", "log(sigmoid(z))", torch.nn.functional.logsigmoid, lambda z: torch.sigmoid(-z),
    concave=True, nondecreasing=True, psd_kernel=False,
    log_deriv=lambda z: torch.nn.functional.logsigmoid(-z),
)
MIN_ONE = Rho(
    "min_one", "min(z, 1)", lambda z: torch.clamp(z, max=1.0), lambda z: (z < 1.0).to(z.dtype),
    concave=True, nondecreasing=True, psd_kernel=False,
)
LINEAR = Rho(
    "linear", "z", lambda z: z, torch.ones_like,
    concave=True, nondecreasing=True, psd_kernel=True, log_deriv=torch.zeros_like,
)
EXP = Rho(
    "exp", "exp(z)", torch.exp, torch.exp,
    concave=False, nondecreasing=True, psd_kernel=False, log_deriv=lambda z: z,
)
SQUARE = Rho(
    "square", "z^2", lambda z: z * z, lambda z: 2.0 * z,
    concave=False, nondecreasing=False, psd_kernel=False,
)
EXP_DECAY = Rho(
    "exp_decay", "exp(-z)", lambda z: torch.exp(-z), lambda z: -torch.exp(-z),
    concave=False, nondecreasing=False, psd_kernel=False,
)
NEG_LINEAR = Rho(
    "neg_linear", "-z", lambda z: -z, lambda z: -torch.ones_like(z),
    concave=True, nondecreasing=False, psd_kernel=False,
)

RHOS: dict[str, Rho] = {r.name: r for r in (NEG_EXP, LOG1P, LOG_SIGMOID, MIN_ONE, LINEAR, EXP, SQUARE, EXP_DECAY, NEG_LINEAR)}


def get(name: str | Rho) -> Rho:
    """Look a rho up by name; a ValueError lists the known ones."""
    if isinstance(name, Rho):
        return name
    try:
        return RHOS[name]
    except KeyError:
        raise ValueError(f"rho must be one of {sorted(RHOS)}, got {name!r}") from None
