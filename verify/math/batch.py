"""Per-case parameters in batched math.

Every energy, step and surrogate acts on tensors batched over leading dimensions. A
scalar parameter (a step size a, a weight lam, a scale t) is either one Python float shared
by the whole batch or a tensor with the batch shape (...), one value per case; `per_case`
lines such a tensor up with the trailing (n, d) dimensions it multiplies.
"""

from __future__ import annotations

from torch import Tensor


def per_case(x: float | Tensor, trailing: int = 2) -> float | Tensor:
    """x unchanged when a float, else x[..., None, ..., None] with `trailing` new dimensions."""
    if isinstance(x, Tensor):
        return x.reshape(*x.shape, *([1] * trailing))
    return x
