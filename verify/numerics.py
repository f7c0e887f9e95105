"""Tolerances: how far a computed relation may miss through rounding alone.

Every relation the suite checks is judged here and nowhere else. A relation
`lhs <= rhs` (or `lhs == rhs`) between computed quantities gets the absolute tolerance

    tol = SAFETY * eps(dtype) * sqrt(n_terms) * scale

where `scale` is the magnitude of the *terms* that were summed to get the two sides
(not of the result: a sum of large terms that cancel carries the rounding error of the
large terms), and `n_terms` the number of terms accumulated (rounding errors of a sum
grow like its square root for the pairwise/blocked sums torch uses). `SAFETY` was set
against the measured false-alarm rate on true claims (zero over 10^5 cases per dtype,
see tests/test_false_alarms.py and the closing note of issue 2); it is small enough that
a relative perturbation of 1e-7 is still refuted in float64.

A `Slack` says how far a relation holds: `margin >= -tol` means it holds, and the
margin divided by `scale` is the dimensionless slack the reports show. Where the tolerance
exceeds both sides (terms of size 1e9 behind energies of size 10 in float32), the case is
undecided, never a pass: a loose tolerance must not let a false claim through.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

SAFETY = 16.0


def eps(dtype: torch.dtype) -> float:
    """Machine epsilon of a floating dtype."""
    return float(torch.finfo(dtype).eps)


def tolerance(dtype: torch.dtype, scale: float, n_terms: int = 1) -> float:
    """Absolute tolerance for a quantity built from `n_terms` terms of size `scale`."""
    return SAFETY * eps(dtype) * math.sqrt(max(n_terms, 1)) * abs(scale)


@dataclass(frozen=True)
class Slack:
    """How far one checked relation holds.

    lhs, rhs:  the two sides (for identities of tensors: the entries that differ most)
    margin:    rhs - lhs for `lhs <= rhs`; -|lhs - rhs| for `lhs == rhs`
    tol:       the absolute tolerance it is judged by
    scale:     the magnitude of the terms, so that margin / scale is comparable
    undecided: why this case could not be judged (overflow, solver trouble), or None
    """

    lhs: float
    rhs: float
    margin: float
    tol: float
    scale: float
    relation: str = "<="
    undecided: str | None = None

    @property
    def ok(self) -> bool:
        """The relation was judged and holds (an undecided case is no pass)."""
        return self.undecided is None and self.margin >= -self.tol

    @property
    def relative(self) -> float:
        """margin / scale: negative where the relation fails."""
        return self.margin / self.scale if self.scale > 0 else self.margin

    @property
    def violation(self) -> float:
        """How far past its tolerance the relation fails, relative (<= 0 when it holds)."""
        if self.undecided is not None:
            return -math.inf
        return (-self.margin - self.tol) / self.scale if self.scale > 0 else -self.margin

    @staticmethod
    def skip(reason: str) -> Slack:
        return Slack(math.nan, math.nan, math.nan, math.nan, math.nan, undecided=reason)


def sensitivity(energy: Callable[[Tensor], Tensor], Y: Tensor) -> float:
    """sum |grad E(Y)| |Y| (autograd): how much a relative perturbation of Y's entries, such
    as the rounding of the step that computed Y, moves E. 0 where E is not differentiable."""
    Z = Y.detach().clone().requires_grad_(True)
    try:
        (grad,) = torch.autograd.grad(energy(Z).sum(), Z)
    except RuntimeError:
        return 0.0
    return float((grad.abs() * Z.detach().abs()).sum())


def _finite_or_skip(*values: float) -> str | None:
    if all(math.isfinite(v) for v in values):
        return None
    return "non-finite value (overflow)"


def inequality_slack(
    lhs: Tensor | float, rhs: Tensor | float, *, dtype: torch.dtype, scale: float, n_terms: int = 1
) -> Slack:
    """Slack of `lhs <= rhs`, two scalars computed in `dtype` from terms of size `scale`."""
    lo, hi = float(lhs), float(rhs)
    reason = _finite_or_skip(lo, hi, scale)
    if reason:
        return Slack.skip(reason)
    scale = max(abs(scale), abs(lo), abs(hi), float(torch.finfo(dtype).tiny))
    tol = tolerance(dtype, scale, n_terms)
    if 0 < abs(lo) + abs(hi) <= tol:
        # the rounding of the terms exceeds both sides: the comparison says nothing either way
        return Slack.skip(f"beyond {str(dtype).removeprefix('torch.')} precision: rounding of the terms exceeds both sides")
    return Slack(lo, hi, hi - lo, tol, scale)


def descent_slack(
    before: Tensor | float, after: Tensor | float, *, dtype: torch.dtype, scale: float, n_terms: int = 1
) -> Slack:
    """Slack of the descent `after <= before`."""
    return inequality_slack(after, before, dtype=dtype, scale=scale, n_terms=n_terms)


def identity_slack(
    lhs: Tensor, rhs: Tensor, *, scale: float | None = None, n_terms: int | None = None
) -> Slack:
    """Slack of the elementwise identity `lhs == rhs` (same shape, same dtype).

    `scale` defaults to the largest entry of either side; pass the magnitude of the
    terms when the sides were computed from larger terms that cancel.
    """
    if lhs.shape != rhs.shape:
        raise ValueError(f"identity between shapes {tuple(lhs.shape)} and {tuple(rhs.shape)}")
    dtype = lhs.dtype if lhs.dtype.itemsize <= rhs.dtype.itemsize else rhs.dtype
    if not (torch.isfinite(lhs).all() and torch.isfinite(rhs).all()):
        return Slack.skip("non-finite value (overflow)")
    if lhs.numel() == 0:
        return Slack(0.0, 0.0, 0.0, 0.0, 1.0, relation="==")
    diff = (lhs.to(torch.float64) - rhs.to(torch.float64)).abs()
    k = int(diff.argmax())
    size = max(float(lhs.abs().max()), float(rhs.abs().max()))
    scale = max(scale if scale is not None else 0.0, size, float(torch.finfo(dtype).tiny))
    n = n_terms if n_terms is not None else lhs.shape[-1]
    tol = tolerance(dtype, scale, n)
    if 0 < size <= tol:
        return Slack.skip(f"beyond {str(dtype).removeprefix('torch.')} precision: rounding of the terms exceeds both sides")
    return Slack(
        float(lhs.reshape(-1)[k]),
        float(rhs.reshape(-1)[k]),
        -float(diff.reshape(-1)[k]),
        tol,
        scale,
        relation="==",
    )


def worst(*slacks: Slack) -> Slack:
    """The slack that fails most (or holds least), undecided ones only if all are."""
    decided = [s for s in slacks if s.undecided is None]
    if not decided:
        return slacks[0]
    return max(decided, key=lambda s: s.violation)
