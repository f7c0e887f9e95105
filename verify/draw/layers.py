"""Weights of standard layers, tied to the optimisation steps they unfold, batched.

    tied_attention(src, W, value)   Wq = R, Wk = W^T R^-T (so Wq Wk^T = W), Wv = S, and
                                    Wo = c S^-1 ('scalar': Wv Wo = c I, c in [0, 3]) or that
                                    plus a generic E with some |E_ij| >= 0.05 ('generic');
                                    R, S = I + 0.3 U[-1, 1] (well conditioned)
    nonzero(src, shape, bound, floor)  entries in [-bound, bound], never all below `floor`
"""

from __future__ import annotations

import torch
from torch import Tensor

from verify.draw.source import Source

VALUE_KINDS = ("scalar", "generic")


def nonzero(src: Source, shape: tuple[int, ...], bound: float, floor: float) -> Tensor:
    """Entries in [-bound, bound]; a matrix whose largest entry is below `floor` becomes its sign
    pattern times 2 floor (so a perturbation or a weight is never negligible)."""
    E = src.uniform(-bound, bound, shape)
    small = E.abs().flatten(1).amax(1).reshape(-1, *([1] * len(shape))) <= floor
    return torch.where(small, torch.where(E >= 0, 2 * floor, -2 * floor), E)


def tied_attention(src: Source, W: Tensor, value: str = "scalar") -> dict[str, Tensor]:
    """{Wq, Wk, Wv, Wo, c} of one head with Wq Wk^T = W and Wv Wo = c I ('scalar') or not ('generic')."""
    if value not in VALUE_KINDS:
        raise ValueError(f"value kind must be one of {', '.join(VALUE_KINDS)}, got {value!r}")
    d = W.shape[-1]
    eye = src.eye(d)
    R = eye + 0.3 * src.uniform(-1.0, 1.0, (d, d))
    S = eye + 0.3 * src.uniform(-1.0, 1.0, (d, d))
    c = src.uniform(0.0, 3.0)
    Wo = c[:, None, None] * torch.linalg.inv(S)
    if value == "generic":
        Wo = Wo + nonzero(src, (d, d), 1.0, 0.05)
    return {"Wq": R, "Wk": W.mT @ torch.linalg.inv(R).mT, "Wv": S, "Wo": Wo, "c": c}
