"""Tolerances: how far a computed relation may miss through rounding alone.

Every relation the suite checks is judged here and nowhere else. A relation
`lhs <= rhs` (or `lhs == rhs`) between computed quantities gets the absolute tolerance

    tol = SAFETY * eps(dtype) * sqrt(n_terms) * scale

where `scale` is the magnitude of the *terms* that were summed to get the two sides
(not of the result: a sum of large terms that cancel carries the rounding error of the
large terms), and `n_terms` the number of terms accumulated (rounding errors of a sum
grow like its square root for the pairwise/blocked sums torch uses). `SAFETY` was set
against the measured false-alarm rate on true claims (zero over 10^5 cases per dtype,
see the closing notes of issues 2 and 6); it is small enough that
a relative perturbation of 1e-7 is still refuted in float64.

A `Slack` says how far a relation holds: `margin >= -tol` means it holds, and the
margin divided by `scale` is the dimensionless slack the reports show. Where the tolerance
exceeds both sides (terms of size 1e9 behind energies of size 10 in float32), the case is
undecided, never a pass: a loose tolerance must not let a false claim through.
"""

from __future__ import annotations

import dataclasses
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


def sensitivity(energy: Callable[[Tensor], Tensor], Y: Tensor) -> Tensor:
    """sum |grad E(Y)| |Y| over each (n, d) token matrix of the batch `Y` (autograd): how much a
    relative perturbation of Y's entries, such as the rounding of the step that computed Y,
    moves E. 0 where E is not differentiable."""
    Z = Y.detach().clone().requires_grad_(True)
    try:
        (grad,) = torch.autograd.grad(energy(Z).sum(), Z)
    except RuntimeError:
        return torch.zeros(Y.shape[:-2], dtype=Y.dtype, device=Y.device)
    return (grad.abs() * Z.detach().abs()).sum((-2, -1))


OVERFLOW = "infinite value (overflow)"
UNDEFINED = "NaN (an undefined value: 0/0, inf - inf, or a NaN input)"


def _beyond(dtype: torch.dtype) -> str:
    return f"beyond {str(dtype).removeprefix('torch.')} precision: rounding of the terms exceeds both sides"


@dataclass(frozen=True)
class Slacks:
    """The slacks of a batch of cases, one entry per case (tensors of shape (B,), float64).

    The fields mean what `Slack`'s do; `reason[k]` is 0 for a judged case and i > 0 for one
    left undecided for `reasons[i - 1]`. `at(k)` is case k's `Slack`, exactly what the
    one-case check gives (the one-case check is this with B = 1).
    """

    lhs: Tensor
    rhs: Tensor
    margin: Tensor
    tol: Tensor
    scale: Tensor
    reason: Tensor
    reasons: tuple[str, ...] = ()
    relation: str | tuple[str, ...] = "<="  # one for all, or one per case

    def __len__(self) -> int:
        return self.margin.shape[0]

    @property
    def decided(self) -> Tensor:
        return self.reason == 0

    @property
    def failing(self) -> Tensor:
        """Judged cases whose relation misses by more than the tolerance."""
        return self.decided & (self.margin < -self.tol)

    @property
    def relative(self) -> Tensor:
        return torch.where(self.scale > 0, self.margin / self.scale, self.margin)

    @property
    def violation(self) -> Tensor:
        """As `Slack.violation`, per case: -inf where undecided."""
        excess = torch.where(self.scale > 0, (-self.margin - self.tol) / self.scale, -self.margin)
        return torch.where(self.decided, excess, torch.full_like(excess, -math.inf))

    def at(self, k: int) -> Slack:
        if int(self.reason[k]) != 0:
            return Slack.skip(self.reasons[int(self.reason[k]) - 1])
        value = lambda t: float(t[k])  # noqa: E731
        return Slack(value(self.lhs), value(self.rhs), value(self.margin), value(self.tol), value(self.scale),
                     _relation_at(self.relation, k))

    def undecided_counts(self) -> dict[str, int]:
        counts = torch.bincount(self.reason.cpu(), minlength=len(self.reasons) + 1).tolist()
        return {r: c for r, c in zip(self.reasons, counts[1:], strict=True) if c}

    def skip_where(self, mask: Tensor, reason: str) -> Slacks:
        """The same slacks with the cases in `mask` left undecided for `reason` (which names why better than
        a NaN or overflow the same cause produced)."""
        reasons = self.reasons if reason in self.reasons else (*self.reasons, reason)
        code = reasons.index(reason) + 1
        new = torch.where(mask.to(self.reason.device), torch.full_like(self.reason, code), self.reason)
        return dataclasses.replace(self, reason=new, reasons=reasons)


def _with_tolerance(lhs: Tensor, rhs: Tensor, margin: Tensor, size: Tensor, scale: Tensor, *, dtype: torch.dtype,
           n_terms: int, finite: Tensor, undefined: Tensor, relation: str) -> Slacks:
    """Tolerance and undecided codes: 1 infinite, 2 beyond the dtype's precision (size <= tol), 3 NaN."""
    tol = tolerance(dtype, 1.0, n_terms) * scale
    reason = torch.zeros(margin.shape, dtype=torch.int64, device=margin.device)
    reason = torch.where((size > 0) & (size <= tol), torch.full_like(reason, 2), reason)
    reason = torch.where(finite, reason, torch.full_like(reason, 1))
    reason = torch.where(undefined, torch.full_like(reason, 3), reason)
    return Slacks(lhs, rhs, margin, tol, scale, reason, (OVERFLOW, _beyond(dtype), UNDEFINED), relation)


def inequality_slacks(lhs: Tensor, rhs: Tensor, *, dtype: torch.dtype, scale: Tensor | float, n_terms: int = 1) -> Slacks:
    """Slacks of `lhs <= rhs` per case: (B,) values computed in `dtype` from terms of size `scale`."""
    lo = _float64(lhs)
    lo, hi = torch.broadcast_tensors(lo, _float64(rhs).to(lo.device))
    s = torch.as_tensor(scale, dtype=torch.float64, device=lo.device).expand_as(lo)
    finite = torch.isfinite(lo) & torch.isfinite(hi) & torch.isfinite(s)
    undefined = lo.isnan() | hi.isnan() | s.isnan()
    s = torch.maximum(torch.maximum(s.abs(), lo.abs()), torch.maximum(hi.abs(), torch.full_like(lo, torch.finfo(dtype).tiny)))
    return _with_tolerance(lo, hi, hi - lo, lo.abs() + hi.abs(), s, dtype=dtype, n_terms=n_terms, finite=finite,
                           undefined=undefined, relation="<=")


def descent_slacks(before: Tensor, after: Tensor, *, dtype: torch.dtype, scale: Tensor | float, n_terms: int = 1) -> Slacks:
    """Slacks of the descent `after <= before` per case."""
    return inequality_slacks(after, before, dtype=dtype, scale=scale, n_terms=n_terms)


def identity_slacks(lhs: Tensor, rhs: Tensor, *, scale: Tensor | float | None = None, n_terms: int | None = None) -> Slacks:
    """Slacks of the elementwise identity `lhs == rhs` per case: dimension 0 is the batch, the
    rest are compared entry by entry (the entries that differ most speak)."""
    if lhs.shape != rhs.shape:
        raise ValueError(f"identity between shapes {tuple(lhs.shape)} and {tuple(rhs.shape)}")
    dtype = lhs.dtype if lhs.dtype.itemsize <= rhs.dtype.itemsize else rhs.dtype
    L, R = lhs.reshape(lhs.shape[0], -1).double(), rhs.reshape(rhs.shape[0], -1).double()
    B = L.shape[0]
    if L.shape[1] == 0:
        zero = torch.zeros(B, dtype=torch.float64, device=L.device)
        return Slacks(zero, zero, zero, zero, zero + 1, torch.zeros(B, dtype=torch.int64, device=L.device), relation="==")
    finite = torch.isfinite(L).all(1) & torch.isfinite(R).all(1)
    undefined = L.isnan().any(1) | R.isnan().any(1) | torch.as_tensor(scale if scale is not None else 0.0, device=L.device).isnan()
    diff = (L - R).abs()
    k = diff.argmax(1, keepdim=True)
    size = torch.maximum(L.abs().amax(1), R.abs().amax(1))
    s = torch.zeros_like(size) if scale is None else torch.as_tensor(scale, dtype=torch.float64, device=L.device).expand_as(size)
    s = torch.maximum(torch.maximum(s, size), torch.full_like(size, torch.finfo(dtype).tiny))
    n = n_terms if n_terms is not None else lhs.shape[-1]
    return _with_tolerance(L.gather(1, k)[:, 0], R.gather(1, k)[:, 0], -diff.gather(1, k)[:, 0], size, s,
                  dtype=dtype, n_terms=n, finite=finite, undefined=undefined, relation="==")


def _common_reasons(slacks: tuple[Slacks, ...]) -> tuple[tuple[str, ...], list[Tensor]]:
    """One reason table for several Slacks, and each one's codes mapped into it."""
    reasons: tuple[str, ...] = ()
    for s in slacks:
        reasons += tuple(r for r in s.reasons if r not in reasons)
    recode = [torch.tensor([0] + [reasons.index(r) + 1 for r in s.reasons], device=s.reason.device)[s.reason] for s in slacks]
    return reasons, recode


def cat_slacks(*slacks: Slacks) -> Slacks:
    """The slacks of consecutive batches as one."""
    reasons, codes = _common_reasons(slacks)
    relation: str | tuple[str, ...] = slacks[0].relation
    if any(s.relation != relation for s in slacks):
        relation = tuple(_relation_at(s.relation, k) for s in slacks for k in range(len(s)))
    cat = lambda name: torch.cat([getattr(s, name) for s in slacks])  # noqa: E731
    return Slacks(cat("lhs"), cat("rhs"), cat("margin"), cat("tol"), cat("scale"), torch.cat(codes), reasons, relation)


def stack_slacks(slacks: list[Slack], device: torch.device | str = "cpu") -> Slacks:
    """One-case slacks as the slacks of a batch (the inverse of `Slacks.at`)."""
    reasons = tuple(dict.fromkeys(s.undecided for s in slacks if s.undecided is not None))
    code = torch.tensor([0 if s.undecided is None else reasons.index(s.undecided) + 1 for s in slacks],
                        dtype=torch.int64, device=device)
    column = lambda name: torch.tensor([getattr(s, name) for s in slacks], dtype=torch.float64, device=device)  # noqa: E731
    relations = tuple(s.relation for s in slacks)
    relation: str | tuple[str, ...] = relations[0] if relations and all(r == relations[0] for r in relations) else relations
    return Slacks(column("lhs"), column("rhs"), column("margin"), column("tol"), column("scale"), code, reasons, relation)


def undecided_slacks(size: int, reason: str, device: torch.device | str = "cpu") -> Slacks:
    """`size` cases left undecided for `reason`."""
    nan = torch.full((size,), math.nan, dtype=torch.float64, device=device)
    return Slacks(nan, nan, nan, nan, nan, torch.ones(size, dtype=torch.int64, device=device), (reason,))


def worst_slacks(*slacks: Slacks) -> Slacks:
    """Per case, the slack that fails most (or holds least); undecided only where all are
    (then with the first one's reason), as `worst` does for one case."""
    reasons, codes = _common_reasons(slacks)
    pick = torch.stack([s.violation for s in slacks]).argmax(0)
    none = torch.stack([~s.decided for s in slacks]).all(0)
    pick = torch.where(none, torch.zeros_like(pick), pick)
    gather = lambda name: torch.stack([getattr(s, name) for s in slacks]).gather(0, pick[None])[0]  # noqa: E731
    reason = torch.stack(codes).gather(0, pick[None])[0]
    relations = [s.relation for s in slacks]
    relation: str | tuple[str, ...] = relations[0]
    if any(r != relation for r in relations):  # per case, the relation of the slack picked
        relation = tuple(_relation_at(relations[p], k) for k, p in enumerate(pick.tolist()))
    return Slacks(gather("lhs"), gather("rhs"), gather("margin"), gather("tol"), gather("scale"), reason, reasons, relation)


def worst_per_case(slacks: Slacks, cases: int) -> Slacks:
    """Slacks of `cases * k` relations, k per case in order, reduced to the worst one of each case
    (as `worst` over a case's k slacks)."""
    k = len(slacks) // cases
    grouped = lambda t: t.reshape(cases, k)  # noqa: E731
    violation = grouped(slacks.violation)
    pick = torch.where(grouped(~slacks.decided).all(1), torch.zeros_like(violation[:, 0], dtype=torch.int64), violation.argmax(1))
    take = lambda t: grouped(t).gather(1, pick[:, None])[:, 0]  # noqa: E731
    relation = slacks.relation
    if not isinstance(relation, str):
        relation = tuple(relation[i * k + int(p)] for i, p in enumerate(pick.tolist()))
    return Slacks(take(slacks.lhs), take(slacks.rhs), take(slacks.margin), take(slacks.tol), take(slacks.scale),
                  take(slacks.reason), slacks.reasons, relation)


def _relation_at(relation: str | tuple[str, ...], k: int) -> str:
    return relation if isinstance(relation, str) else relation[k]


def _float64(x: Tensor | float) -> Tensor:
    """x as float64 (a Python float must not pass through float32 on its way); a tensor keeps its
    graph, so that a search can climb a slack's margin by autograd (verify.engines.climb)."""
    return x.double() if isinstance(x, Tensor) else torch.tensor(x, dtype=torch.float64)  # host: a Python number


def _one(x: Tensor | float) -> Tensor:
    return _float64(x).reshape(1)


def inequality_slack(
    lhs: Tensor | float, rhs: Tensor | float, *, dtype: torch.dtype, scale: float, n_terms: int = 1
) -> Slack:
    """Slack of `lhs <= rhs`, two scalars computed in `dtype` from terms of size `scale`."""
    return inequality_slacks(_one(lhs), _one(rhs), dtype=dtype, scale=float(scale), n_terms=n_terms).at(0)


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
    n = n_terms if n_terms is not None else (lhs.shape[-1] if lhs.ndim else 1)
    return identity_slacks(lhs.detach()[None], rhs.detach()[None], scale=None if scale is None else float(scale), n_terms=n).at(0)


def worst(*slacks: Slack) -> Slack:
    """The slack that fails most (or holds least), undecided ones only if all are."""
    decided = [s for s in slacks if s.undecided is None]
    if not decided:
        return slacks[0]
    return max(decided, key=lambda s: s.violation)
