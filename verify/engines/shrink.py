"""Shrinking a failing case found outside Hypothesis (by the sweep engine).

A greedy local search over simpler cases, each kept only if it still fits the scope (every
kept assumption met, the dropped one broken) and still fails, judged by the claim's own check:
- drop one token (a row of every token matrix: Y, Y0, X), for as long as one can go;
- drop one feature j (index j along every axis of length d, but the token axis of the token
  matrices): a principal submatrix of W, M, P, Q keeps their spectral assumptions, and a
  construction it breaks (Wq Wk^T = W, Wv Wo = c I, W2 = -t V) is an assumption, so the
  predicates reject it; shapes that no longer fit raise and are rejected too;
- round every number to 1, 2, 3 significant digits (all fields together, then one at a time);
- set entries below 1e-3 of their field's largest to zero.
The result is never larger than the input and always a decided failure.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator

import torch

from verify.model.case import Case
from verify.model.claim import Scope
from verify.model.tolerance import Slack

TOKEN_FIELDS = ("Y", "Y0", "X")
MAX_PASSES = 32


def _round(x: torch.Tensor | float, digits: int) -> torch.Tensor | float:
    """x rounded to `digits` significant digits (zeros stay zero)."""
    if isinstance(x, torch.Tensor):
        magnitude = torch.floor(torch.log10(x.abs().clamp_min(1e-300)))
        factor = 10.0 ** (digits - 1 - magnitude)
        return torch.where(x == 0, x, torch.round(x * factor) / factor)
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


def _drop_feature(x: torch.Tensor, j: int, d: int, tokens: bool) -> torch.Tensor:
    """x without index j along each axis of length d (a token matrix keeps its token axis)."""
    keep = torch.tensor([i for i in range(d) if i != j], device=x.device)
    for axis in range(x.ndim):
        if x.shape[axis] == d and not (tokens and axis == x.ndim - 2):
            x = x.index_select(axis, keep)
    return x


def _numeric(case: Case) -> list[str]:
    return [k for k, v in case.items() if isinstance(v, torch.Tensor) or isinstance(v, float)]


def _candidates(case: Case) -> Iterator[Case]:
    """Simpler cases, the most ambitious first."""
    tokens = [k for k in TOKEN_FIELDS if k in case]
    if tokens:
        n = case.tensor(tokens[0]).shape[0]
        for i in range(n if n > 1 else 0):
            keep = [j for j in range(n) if j != i]
            yield Case(**{**case, **{k: case.tensor(k)[keep] for k in tokens}})
    d = next((case.tensor(k).shape[-1] for k in ("Y", "y") if k in case), 1)
    for j in range(d if d > 1 else 0):
        yield Case(**{**case, **{k: _drop_feature(case.tensor(k), j, d, k in TOKEN_FIELDS) for k in case
                                 if isinstance(case[k], torch.Tensor)}})
    fields = _numeric(case)
    for digits in (1, 2, 3):
        yield Case(**{**case, **{k: _round(case[k], digits) for k in fields}})  # type: ignore[arg-type]
        for k in fields:
            yield Case(**{**case, k: _round(case[k], digits)})  # type: ignore[arg-type]
    for k in fields:
        v = case[k]
        if isinstance(v, torch.Tensor) and v.numel():
            small = v.abs() < 1e-3 * v.abs().max()
            if bool(small.any()) and bool((v[small] != 0).any()):
                yield Case(**{**case, k: torch.where(small, torch.zeros_like(v), v)})


def _size(case: Case) -> tuple[int, int]:
    """(entries, total significant digits): what shrinking lowers."""
    entries, digits = 0, 0
    for k in _numeric(case):
        v = case[k]
        values = v.reshape(-1).tolist() if isinstance(v, torch.Tensor) else [v]
        entries += len(values)
        digits += sum(len(repr(abs(x)).replace(".", "").rstrip("0").lstrip("0")) for x in values)
    return entries, digits


def simplest(case: Case, slack: Slack, fails: Callable[[Case], Slack | None],
             seconds: float = math.inf) -> tuple[Case, Slack]:
    """The simplest case reachable from `case` by the moves above for which `fails(candidate)` gives
    a failing slack (it returns None for a candidate that holds, is undecided, leaves the domain or
    raises), with that slack; after `seconds`, the simplest found so far."""
    deadline = time.perf_counter() + seconds
    for _ in range(MAX_PASSES):
        improved = False
        for candidate in _candidates(case):
            if time.perf_counter() > deadline:
                return case, slack
            if _size(candidate) >= _size(case):
                continue
            s = fails(candidate)
            if s is not None:
                case, slack, improved = candidate, s, True
                break
        if not improved:
            break
    return case, slack


def shrink(
    scope: Scope, case: Case, slack: Slack, *, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu",
) -> tuple[Case, Slack]:
    """The simplest failing case of the scope reachable from `case` (float64, CPU)."""

    def fails(candidate: Case) -> Slack | None:
        try:
            if not scope.fits_one(candidate):
                return None
            s = scope.claim.judge(candidate.to(dtype, device))
        except (ValueError, RuntimeError, ArithmeticError):
            return None
        return s if s.undecided is None and not s.ok else None

    return simplest(case, slack, fails)
