"""Scalar functions rho and step sizes, from a `Source`.

    rho(src, kind)              a rho of a named class, shared by the batch (see RHO_KINDS)
    step_limit(rho)             the largest MM step with guaranteed descent: 2 for a PSD kernel, else 1
    step_sizes(src, kind, rho)  (B,) a in [0, limit] (the limit itself mixed in) 'kernel',
                                [0, 1] 'unit', or (limit, limit + 2] 'beyond'
"""

from __future__ import annotations

from torch import Tensor

from verify.draw.source import Source
from verify.math.rho import RHOS, Rho

RHO_KINDS: dict[str, tuple[str, ...]] = {
    "exp": ("neg_exp",),
    "concave": ("neg_exp", "log1p", "log_sigmoid", "min_one", "linear"),
    "concave-not-exp": ("log1p", "log_sigmoid", "min_one", "linear"),
    "psd-kernel": ("neg_exp", "log1p", "linear"),
    "convex": ("exp",),  # convex and nondecreasing: breaks concavity alone
    "decreasing": ("exp_decay", "neg_linear"),  # breaks monotonicity
    "concave-decreasing": ("neg_linear",),  # breaks monotonicity, keeps concavity
}
STEP_KINDS = ("kernel", "unit", "beyond")


def rho(src: Source, kind: str) -> str:
    """The name of a rho of class `kind`, shared by the batch."""
    if kind not in RHO_KINDS:
        raise ValueError(f"rho kind must be one of {', '.join(RHO_KINDS)}, got {kind!r}")
    return src.choose("rho", RHO_KINDS[kind])


def step_limit(rho: Rho) -> float:
    """The largest MM step with guaranteed descent: 2 for a PSD kernel, else 1."""
    return 2.0 if rho.psd_kernel else 1.0


def step_sizes(src: Source, kind: str, rho_name: str) -> Tensor:
    """(B,) step sizes a of a named kind for the rho named."""
    limit = step_limit(RHOS[rho_name])
    if kind == "kernel":
        return src.mix("step", {"limit": lambda: src.full(limit), "inside": lambda: src.uniform(0.0, limit)}, weights=(1, 7))
    if kind == "unit":
        return src.uniform(0.0, 1.0)
    if kind == "beyond":  # (limit, limit + 2]: 2 - u over u in [0, 2 - 1e-9] keeps the limit itself out
        return limit + 2.0 - src.uniform(0.0, 2.0 - 1e-9)
    raise ValueError(f"step kind must be one of {', '.join(STEP_KINDS)}, got {kind!r}")
