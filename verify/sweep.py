"""The sweep engine: many cases per tensor call, its worst case shrunk.

Hypothesis spends about a millisecond per case on drawing and bookkeeping, while the
claims are tensor math that a batch of thousands of cases costs little more than one.
`sweep_claim` draws batches with the claim's sampler (`Claim.sweep.sample`), judges every
case of a batch with one call of its batched check (`Claim.sweep.slacks`), and keeps the
worst case. A failing case is shrunk (`verify.shrink`) so that a sweep-found counterexample
reads like a Hypothesis-found one, and replays with the same command.

Hypothesis stays the engine for structure, targeting and the ablations; the sweep is the
engine for volume. Both are seeded: the same seed gives the same cases.
"""

from __future__ import annotations

import math
import time
from collections import Counter

import torch

from verify.case import Case
from verify.claims import Claim
from verify.numerics import Slack, Slacks, cat_slacks, undecided_slacks
from verify.search import replay_command
from verify.shrink import shrink
from verify.verdict import Verdict

DEFAULT_BATCH = 4096
OUTSIDE = "sampler drew a case outside the assumptions"


def _judge(claim: Claim, batch: Case, size: int) -> Slacks:
    """The batched check; where it raises (a NaN met by an input check), the batch is halved
    until the cases that raise stand alone, and those are left undecided with the error."""
    assert claim.sweep is not None
    try:
        return claim.sweep.slacks(batch)
    except (ValueError, RuntimeError) as err:
        if size == 1:
            return undecided_slacks(1, f"check raised {type(err).__name__}: {err}")
        half = size // 2
        return cat_slacks(_judge(claim, batch.take(slice(0, half)), half), _judge(claim, batch.take(slice(half, size)), size - half))


def sweep_claim(
    claim: Claim,
    cases: int,
    *,
    dtype: torch.dtype = torch.float64,
    device: str = "cpu",
    seed: int = 0,
    batch: int = DEFAULT_BATCH,
    violate: str | None = None,
    params: dict[str, object] | None = None,
) -> Verdict:
    """Judge `cases` cases of `claim` in batches of `batch`: all assumptions met, or `violate`
    broken and the others met (cases that do not break it are not counted).

    Stops at the first batch with a failing case and shrinks the worst failing case of that
    batch. `params` override the sampler parameters (sizes, for benchmarks).
    """
    if claim.sweep is None:
        raise ValueError(f"claim {claim.id} has no batched check (its check needs a solver or per-case autograd)")
    if cases < 1:
        raise ValueError(f"cases must be >= 1, got {cases}")
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    broken = None if violate is None else claim.assumption(violate)
    if broken is not None and broken.untestable:
        raise ValueError(f"assumption {broken.name!r} of {claim.id} cannot be violated by a case: {broken.untestable}")
    kept = [a for a in claim.assumptions if a.name != violate]

    def fits(case: Case) -> bool:
        """The case keeps every kept assumption and breaks the dropped one."""
        return all(a.holds(case) for a in kept) and (broken is None or not broken.holds(case))

    generator = torch.Generator(device).manual_seed(seed)
    options = {**claim.params, **(broken.violate if broken is not None else {}), **(params or {})}
    start = time.perf_counter()
    judged, drawn = 0, 0
    undecided: Counter[str] = Counter()
    worst: Slack | None = None
    failure: tuple[Case, Slack] | None = None
    while drawn < cases and failure is None:
        size = min(batch, cases - drawn)
        drawn += size
        sample = claim.sweep.sample(generator, size, **options)
        slacks = _judge(claim, sample.to(dtype, device), size)
        if broken is not None:  # a drawn case that keeps the assumption, or breaks another, is no case of this ablation
            on_cpu = sample.to(torch.float64, "cpu")
            outside = torch.tensor([not fits(on_cpu.unbatch(i)) for i in range(size)], device=slacks.reason.device)
            slacks = slacks.skip_where(outside, f"drawn case is not one of this ablation (keeps {broken.name!r} or breaks another)")
        while bool(slacks.failing.any()):
            k = int(slacks.violation.argmax())
            case = sample.unbatch(k).to(torch.float64, "cpu")
            if fits(case):
                failure = (case, slacks.at(k))
                break
            # the sampler is trusted for volume; a failing case is checked against every predicate
            slacks = slacks.skip_where(torch.arange(size, device=slacks.reason.device) == k, OUTSIDE)
        judged += int(slacks.decided.sum())
        undecided.update(slacks.undecided_counts())
        if failure is not None or not bool(slacks.decided.any()):
            continue
        least = int(torch.where(slacks.decided, slacks.relative, math.inf).argmin())
        if worst is None or float(slacks.relative[least]) < worst.relative:
            worst = slacks.at(least)
    counterexample = None
    if failure is not None:
        counterexample, worst = shrink(claim, *failure, violate=violate, dtype=dtype, device=device)
    return Verdict(
        holds=failure is None and judged > 0,
        examples=judged,
        worst_slack=worst.relative if worst is not None else math.nan,
        counterexample=counterexample,
        evidence="sampled",
        replay=replay_command(claim.id, counterexample, dtype, device) if counterexample is not None else None,
        worst=worst,
        undecided=undecided,
        seconds=time.perf_counter() - start,
        engines={"sweep": judged},
    )
