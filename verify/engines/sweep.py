"""The sweep engine: many cases per tensor call, its worst case shrunk.

Hypothesis spends about a millisecond per case on drawing and bookkeeping, while the claims
are tensor math that a batch of thousands of cases costs little more than one. `sweep(scope)`
draws batches with the scope's description (`Scope.sample`), keeps the cases that fit the
scope, judges every case of a batch with one call of the claim's batched check, and keeps the
worst case. A failing case is shrunk (`verify.engines.shrink`) so that a sweep-found
counterexample reads like a Hypothesis-found one, and replays with the same command.

Batch k is drawn from its own generator, seeded by (seed, k): the cases of a sweep depend
only on the seed and the batch index, never on what ran before. A sweep split into shards
(`shard=(K, N)`) gives shard K the K-th of N contiguous runs of batch indices, so that the
shards together draw exactly the batches of the unsplit sweep (verify.running.shards merges them).
"""

from __future__ import annotations

import math
import time
from collections import Counter

import torch

from verify.engines.search import replay_command
from verify.engines.shrink import shrink
from verify.model.case import Case
from verify.model.claim import Scope
from verify.model.tolerance import Slack, Slacks, cat_slacks, undecided_slacks
from verify.model.verdict import Verdict

DEFAULT_BATCH = 4096
OUTSIDE = "drawn case is outside the scope (keeps the dropped assumption or breaks a kept one)"


def batch_seed(seed: int, index: int) -> int:
    """The seed of batch `index` of a sweep seeded with `seed` (a 63-bit mix of the two)."""
    x = (seed * 0x9E3779B97F4A7C15 + index * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB) % (1 << 64)
    x ^= x >> 31
    x = (x * 0xD6E8FEB86659FD93) % (1 << 64)
    return x >> 1


def judge_batch(scope: Scope, batch: Case) -> Slacks:
    """The claim's batched check; where it raises (a NaN met by an input check), the batch is
    halved until the cases that raise stand alone, and those are left undecided with the error."""
    try:
        return scope.claim.check(batch)
    except (ValueError, RuntimeError) as err:
        size = batch.size
        if size == 1:
            return undecided_slacks(1, f"check raised {type(err).__name__}: {err}", batch.device)
        half = size // 2
        return cat_slacks(judge_batch(scope, batch.take(slice(0, half))), judge_batch(scope, batch.take(slice(half, size))))


def shard_batches(cases: int, batch: int, shard: tuple[int, int]) -> range:
    """The batch indices of shard K of N: the K-th of N contiguous runs of ceil(cases / batch) batches."""
    k, n = shard
    if not 0 <= k < n:
        raise ValueError(f"shard must be K/N with 0 <= K < N, got {k}/{n}")
    total = -(-cases // batch)
    return range(k * total // n, (k + 1) * total // n)


def sweep(
    scope: Scope,
    cases: int,
    *,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
    seed: int = 0,
    batch: int = DEFAULT_BATCH,
    shard: tuple[int, int] = (0, 1),
    frontier: int = 0,
) -> Verdict:
    """Judge `cases` drawn cases of `scope` in batches of `batch` (drawn cases outside the scope
    are counted as undecided, with the reason), or this shard's share of them. Stops at the first
    batch with a failing case and shrinks the worst failing case of that batch. Keeps the
    `frontier` judged cases nearest to failing (for the gradient climb)."""
    if not scope.claim.batched:
        raise ValueError(f"claim {scope.claim.id} has no batched check (its check needs a solver or per-case autograd)")
    if cases < 1:
        raise ValueError(f"cases must be >= 1, got {cases}")
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    device = torch.device(device)
    start = time.perf_counter()
    judged = 0
    undecided: Counter[str] = Counter()
    worst: Slack | None = None
    failure: tuple[Case, Slack] | None = None
    failures = 0
    nearest: list[tuple[float, Case]] = []
    for index in shard_batches(cases, batch, shard):
        if failure is not None:
            break
        size = min(batch, cases - index * batch)
        sample = scope.sample(torch.Generator(device).manual_seed(batch_seed(seed, index)), size)
        slacks = judge_batch(scope, sample.to(dtype, device))
        if scope.dropped is not None:  # an ablation judges only the cases that break the dropped assumption alone
            slacks = slacks.skip_where(~scope.fits(sample), OUTSIDE)
        while bool(slacks.failing.any()):
            k = int(slacks.violation.argmax())
            case = sample.unbatch(k).to(torch.float64, "cpu")
            if scope.fits_one(case):
                failure = (case, slacks.at(k))
                failures = int((slacks.failing & scope.fits(sample).to(slacks.failing.device)).sum())
                break
            # the description is trusted for volume; a failing case is checked against every predicate
            slacks = slacks.skip_where(torch.arange(size, device=slacks.reason.device) == k, OUTSIDE)
        judged += int(slacks.decided.sum())
        undecided.update(slacks.undecided_counts())
        if failure is not None or not bool(slacks.decided.any()):
            continue
        least = int(torch.where(slacks.decided, slacks.relative, math.inf).argmin())
        if worst is None or float(slacks.relative[least]) < worst.relative:
            worst = slacks.at(least)
        if frontier:
            nearest = _nearest(nearest, sample, slacks.violation, frontier)
    counterexample = None
    if failure is not None:
        counterexample, worst = shrink(scope, *failure, dtype=dtype, device=device)
    return Verdict(
        holds=failure is None and judged > 0,
        examples=judged,
        worst_slack=worst.relative if worst is not None else math.nan,
        counterexample=counterexample,
        evidence="sampled",
        replay=replay_command(scope.claim.id, counterexample, dtype, device) if counterexample is not None else None,
        worst=worst,
        undecided=undecided,
        seconds=time.perf_counter() - start,
        engines={"sweep": judged},
        failures=failures,
        frontier=None if failure is not None or not nearest else _stack([c for _, c in nearest]),
    )


def _nearest(kept: list[tuple[float, Case]], sample: Case, violation: torch.Tensor, count: int) -> list[tuple[float, Case]]:
    """The `count` cases of largest violation among those kept and this batch's decided ones (float64, CPU)."""
    bar = kept[-1][0] if len(kept) >= count else -math.inf
    top = torch.topk(violation, min(count, len(violation)))
    fresh = [(float(v), sample.unbatch(int(k)).to(torch.float64, "cpu"))
             for v, k in zip(top.values.tolist(), top.indices.tolist(), strict=True) if math.isfinite(v) and v > bar]
    return sorted(kept + fresh, key=lambda pair: -pair[0])[:count]


def _stack(cases: list[Case]) -> Case:
    """Single cases of one shape as a batch (the first case's shape; the others are left out)."""
    shape = {k: tuple(v.shape) for k, v in cases[0].items() if isinstance(v, torch.Tensor)}
    alike = [c for c in cases if {k: tuple(v.shape) for k, v in c.items() if isinstance(v, torch.Tensor)} == shape
             and all(c[k] == cases[0][k] for k in c if not isinstance(c[k], (torch.Tensor, float)))]
    return Case(**{k: torch.stack([c.tensor(k) for c in alike]) if isinstance(v, torch.Tensor)
                   else torch.tensor([c[k] for c in alike], dtype=torch.float64) if isinstance(v, float)  # host: the frontier
                   else v for k, v in cases[0].items()})
