"""Gradient-guided falsification: climb the violation from the cases that came nearest to failing.

The claims are differentiable, so a case that nearly fails can be pushed over the edge:

    maximise  v(case) = (lhs - rhs) / scale      (how far the relation is from failing, relative)

over the case's movable fields by normalised gradient ascent (Adam on a relative parametrisation:
each field moves in units of its own size), batched over the starting cases, projecting every
step back onto the domain the cases were drawn from (a PSD cone, a spectrum window, equal norms,
a step-size range). A failure set of measure 1 in 5000 draws, or a narrow spectral window, is one
the sampler meets only by luck and the climb finds by following the slope.

A climbed case is reported only if it still lies in the domain (`fits`), judged with the full
tolerances; the caller shrinks it like any other counterexample.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from verify.engines.search import replay_command
from verify.engines.shrink import shrink
from verify.engines.sweep import OUTSIDE, batch_seed, judge_batch
from verify.model.case import Case
from verify.model.claim import Scope
from verify.model.verdict import Verdict

DEFAULT_STEPS = 100


def climb(
    start: Case,
    violation: Callable[[Case], Tensor],
    movable: Sequence[str],
    *,
    project: Callable[[Case], Case] | None = None,
    steps: int = DEFAULT_STEPS,
    lr: float = 0.05,
    seconds: float = math.inf,
) -> Case:
    """The batch `start` moved along the gradient of `violation` ((B,) per case, larger is nearer to
    failing) for `steps` Adam steps (or until `seconds` pass) over the float tensor fields in
    `movable`, each step projected by `project`; for each case, its state at the largest violation
    reached."""
    deadline = time.perf_counter() + seconds
    names = [k for k in movable if k in start and isinstance(start[k], Tensor) and start[k].is_floating_point()]
    if not names or steps < 1:
        return start
    origin = {k: start.tensor(k).detach() for k in names}
    size = {k: origin[k].abs().reshape(start.size, -1).amax(1).clamp_min(1e-3).reshape(-1, *([1] * (origin[k].ndim - 1)))
            for k in names}
    moves = {k: torch.zeros_like(origin[k], requires_grad=True) for k in names}
    first = {k: torch.zeros_like(origin[k]) for k in names}  # Adam's moment estimates, written out:
    second = {k: torch.zeros_like(origin[k]) for k in names}  # torch.optim would import torch._dynamo (1.5 s)
    beta1, beta2 = 0.9, 0.999
    best_value = torch.full((start.size,), -math.inf, dtype=torch.float64, device=start.device)
    best = {k: origin[k].clone() for k in names}

    def current() -> Case:
        return Case(**{**start, **{k: origin[k] + size[k] * moves[k] for k in names}})

    for step in range(1, steps + 1):
        if time.perf_counter() > deadline:
            break
        case = current()
        value = violation(case).double()
        value = torch.where(torch.isfinite(value), value, torch.full_like(value, -math.inf))
        better = value.detach() > best_value
        best_value = torch.where(better, value.detach(), best_value)
        for k in names:
            mask = better.reshape(-1, *([1] * (origin[k].ndim - 1)))
            best[k] = torch.where(mask, case.tensor(k).detach(), best[k])
        objective = -torch.where(torch.isfinite(value), value, torch.zeros_like(value)).sum()
        if objective.requires_grad:
            grads = torch.autograd.grad(objective, [moves[k] for k in names], allow_unused=True)
            with torch.no_grad():
                for k, g in zip(names, grads, strict=True):
                    if g is None:
                        continue
                    g = torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0)
                    first[k].mul_(beta1).add_(g, alpha=1 - beta1)
                    second[k].mul_(beta2).addcmul_(g, g, value=1 - beta2)
                    denominator = (second[k] / (1 - beta2**step)).sqrt_().add_(1e-8)
                    moves[k].sub_(lr * (first[k] / (1 - beta1**step)) / denominator)
        with torch.no_grad():
            moved = current()
            if project is not None:
                moved = project(moved)
            for k in names:
                moves[k].copy_((moved.tensor(k) - origin[k]) / size[k])
    return Case(**{**start, **best})


def climb_scope(
    scope: Scope, *, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu", seed: int = 0,
    pool: int = 1024, frontier: int = 16, steps: int = DEFAULT_STEPS,
) -> Verdict | None:
    """Climb a claim's check from the `frontier` cases nearest to failing among a `pool` drawn for it
    (seeded apart from the sweep's batches, so a run split into shards climbs from the same cases),
    within the scope: its kept assumptions' projections each step, its predicates at the end. A
    climbed case that fails is shrunk like a sweep-found one. Counts the climbed cases judged at
    the end; None when no climbed case could be judged (all left the scope)."""
    start = time.perf_counter()
    drawn = scope.sample(torch.Generator(torch.device(device)).manual_seed(batch_seed(seed, -1)), pool)
    with torch.no_grad():
        slacks = judge_batch(scope, drawn.to(dtype, device))
        if scope.dropped is not None:
            slacks = slacks.skip_where(~scope.fits(drawn).to(slacks.reason.device), OUTSIDE)
    violation = slacks.violation
    if not bool(torch.isfinite(violation).any()):
        return None
    top = torch.topk(violation, min(frontier, int(torch.isfinite(violation).sum()))).indices
    chosen = drawn.take(top)
    movable = [k for k, v in chosen.items() if isinstance(v, Tensor) and v.is_floating_point() and v.ndim >= 2]
    with torch.enable_grad():
        climbed = climb(chosen, lambda b: scope.claim.check(b.to(dtype, device)).violation, movable,
                        project=scope.project, steps=steps)
    with torch.no_grad():
        slacks = judge_batch(scope, climbed.to(dtype, device))
        slacks = slacks.skip_where(~scope.fits(climbed).to(slacks.reason.device), OUTSIDE)
    judged = int(slacks.decided.sum())
    if not judged:
        return None
    failing = slacks.failing
    undecided = Counter(slacks.undecided_counts())
    if bool(failing.any()):
        k = int(torch.where(failing, slacks.violation, torch.full_like(slacks.violation, -math.inf)).argmax())
        case, slack = shrink(scope, climbed.unbatch(k).to(torch.float64, "cpu"), slacks.at(k), dtype=dtype, device=device)
        return Verdict(holds=False, examples=judged, worst_slack=slack.relative, counterexample=case, worst=slack,
                       replay=replay_command(scope.claim.id, case, dtype, device), undecided=undecided,
                       seconds=time.perf_counter() - start, engines={"climb": judged}, failures=int(failing.sum()))
    least = int(torch.where(slacks.decided, slacks.relative, math.inf).argmin())
    worst = slacks.at(least)
    return Verdict(holds=True, examples=judged, worst_slack=worst.relative, worst=worst, undecided=undecided,
                   seconds=time.perf_counter() - start, engines={"climb": judged})
