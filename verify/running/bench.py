"""Throughput benchmarks: numbers printed, never asserted (a timed test flakes on a busy machine).

`throughput(claim, n, d, dtype, device)` measures, in one run and on the same claim and sizes:
- sweep:      the sweep engine (sampling, batched check with its tolerances, bookkeeping);
- hypothesis: the same claim searched one case at a time by Hypothesis (draw, check, target);
- raw:        the claim's energies and step alone on a pre-drawn batch (no sampling, no
              tolerances): the floor a batched engine can approach.
`scaling(ns, d, dtype, device)` times one (n, d) token matrix through ATT-DESCENT's raw
computation and its full check as n grows, with the peak memory: the O(n^2) claim.

Peak memory is the CUDA allocator's peak on CUDA; on CPU it is how far the process's peak
resident set (ru_maxrss) rose above its resident set before the measurement (for the
throughput rows that includes the heap's slack; the scaling rows map large blocks one by one,
so theirs is the live tensors). `bench` runs every row in a fresh process, so each row's peak
is its own.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import resource
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context

import torch

from verify.engines.profiles import search_settings
from verify.engines.search import falsify
from verify.engines.sweep import sweep
from verify.math.attention import sq_dists, sym, weights_of
from verify.math.batch import per_case
from verify.math.feedforward import ff_energy, linear_layer
from verify.math.rho import get
from verify.model.case import Case
from verify.running.registry import registry
from verify.running.runner import sweep_batch


def _raw_attention(case: Case) -> torch.Tensor:
    """E_att(T_a Y) - E_att(Y): what ATT-DESCENT computes, without its tolerances, each distance
    matrix computed once (the step and E_att(Y) share Y's)."""
    Y, W, rho = case.tensor("Y"), case.tensor("W"), get(str(case["rho"]))
    Ws = sym(W)
    d0 = sq_dists(Y, Ws)
    a = per_case(case.tensor("a"))
    Y1 = (1 - a) * Y + a * (weights_of(d0, rho) @ Y)
    return rho.value(sq_dists(Y1, Ws) / 2).sum((-2, -1)) - rho.value(d0 / 2).sum((-2, -1))


def _raw_ff(case: Case) -> torch.Tensor:
    """E_ff(Y), Y M + 1 b^T, E_ff(Y M + 1 b^T): what FF-DESCENT computes, without its tolerances."""
    Y, M, b = case.tensor("Y"), case.tensor("M"), case.tensor("b")
    return ff_energy(linear_layer(Y, M, b), M, b) - ff_energy(Y, M, b)


RAW: dict[str, Callable[[Case], torch.Tensor]] = {"ATT-DESCENT": _raw_attention, "FF-DESCENT": _raw_ff}


@dataclass(frozen=True)
class Row:
    claim: str
    n: int
    d: int
    dtype: str
    device: str
    batch: int
    sweep_cases_per_s: float
    hypothesis_cases_per_s: float
    raw_cases_per_s: float
    peak_bytes: int
    sweep_over_hypothesis: float
    sweep_over_raw: float


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _peak_start(device: str) -> int:
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        return torch.cuda.memory_allocated()
    return _current_rss()


def _current_rss() -> int:
    """Resident set now (Linux /proc); elsewhere the peak so far, which is what it can tell."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize()
    except OSError:
        return _rss()


def _peak_bytes(device: str, start: int) -> int:
    if device.startswith("cuda"):
        return int(torch.cuda.max_memory_allocated() - start)
    return max(0, _rss() - start)


def _rss() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB


def throughput(
    claim_id: str, n: int, d: int, dtype: torch.dtype, device: str,
    *, sweep_cases: int = 100_000, hypothesis_cases: int = 300, batch: int | None = None, seed: int = 0,
) -> Row:
    """Cases per second of the three engines on one claim at one size (all in this process); the
    sweep and the raw math on batches of `batch` cases (default: the runner's for the device)."""
    torch.set_num_threads(1)
    if claim_id not in RAW:
        raise ValueError(f"claim must be one of {sorted(RAW)}, got {claim_id!r}")
    claim = registry()[claim_id]
    claim = dataclasses.replace(claim, params={**claim.params, "n": (n, n), "d": (d, d)})  # the sizes measured
    scope = claim.scope()
    batch = batch or sweep_batch(device, ablation=False)
    sweep_cases = max(sweep_cases, 4 * batch)  # several batches, so that one batch's set-up does not set the rate

    start = _peak_start(device)
    sweep(scope, min(batch, sweep_cases), dtype=dtype, device=device, seed=seed, batch=batch)  # warm-up
    _sync(device)
    t = time.perf_counter()
    swept = sweep(scope, sweep_cases, dtype=dtype, device=device, seed=seed + 1, batch=batch)
    _sync(device)
    sweep_rate = (swept.examples + sum(swept.undecided.values())) / (time.perf_counter() - t)
    peak = _peak_bytes(device, start)

    generator = torch.Generator(device).manual_seed(seed)
    drawn = scope.sample(generator, batch).to(dtype, device)
    raw = RAW[claim_id]
    raw(drawn)
    _sync(device)
    repeats, t = 0, time.perf_counter()
    while repeats < 3 or time.perf_counter() - t < 0.5:
        raw(drawn)
        repeats += 1
    _sync(device)
    raw_rate = repeats * batch / (time.perf_counter() - t)

    def check(case: Case):
        return claim.judge(case.to(dtype, device))

    strategy = scope.strategy()
    t = time.perf_counter()
    verdict = falsify(strategy, check, settings=search_settings("quick", hypothesis_cases), seed=seed)
    hypothesis_rate = (verdict.examples + sum(verdict.undecided.values())) / (time.perf_counter() - t)

    return Row(claim_id, n, d, str(dtype).removeprefix("torch."), device, batch, sweep_rate, hypothesis_rate, raw_rate, peak,
               sweep_rate / hypothesis_rate, sweep_rate / raw_rate)


@dataclass(frozen=True)
class ScalingRow:
    """One (n, d) ATT-DESCENT case: the raw math, the full check (tolerances included), the GEMM
    Y Y^T of the same shape (the floor of any O(n^2 d) computation), and the check's peak memory."""

    n: int
    d: int
    dtype: str
    device: str
    raw_seconds: float
    check_seconds: float
    gemm_seconds: float
    check_over_gemm: float
    peak_bytes: int


def scaling_point(n: int, d: int, dtype: torch.dtype, device: str, seed: int = 0) -> ScalingRow:
    """One (n, d) case of ATT-DESCENT: its raw computation and its full check, timed, with the peak memory."""
    torch.set_num_threads(1)
    claim = registry()["ATT-DESCENT"]
    generator = torch.Generator(device).manual_seed(seed)
    warm_up = claim.cases.with_params(**{**claim.params, "n": (32, 32), "d": (d, d)}).sample(generator, 1).to(dtype, device)
    claim.check(warm_up)  # one-time allocations (kernels, autograd engine) are not the claim's
    _raw_attention(warm_up)  # nor the raw math's (its first call on a GPU loaded kernels: 20 ms at any n)
    case = claim.cases.with_params(**{**claim.params, "n": (n, n), "d": (d, d)}).sample(generator, 1).to(dtype, device)
    Y = case.tensor("Y")
    Y @ Y.mT
    _sync(device)
    t = time.perf_counter()
    Y @ Y.mT
    _sync(device)
    gemm_seconds = time.perf_counter() - t
    start = _peak_start(device)
    t = time.perf_counter()
    _raw_attention(case)
    _sync(device)
    raw_seconds = time.perf_counter() - t
    t = time.perf_counter()
    claim.check(case)
    _sync(device)
    check_seconds = time.perf_counter() - t
    return ScalingRow(n, d, str(dtype).removeprefix("torch."), device, raw_seconds, check_seconds, gemm_seconds,
                      check_seconds / gemm_seconds, _peak_bytes(device, start))


def scaling(ns: tuple[int, ...], d: int, dtype: torch.dtype, device: str, seed: int = 0) -> list[ScalingRow]:
    """`scaling_point` at each n, in this process (peaks then overlap; `bench` isolates them)."""
    return [scaling_point(n, d, dtype, device, seed) for n in sorted(ns)]


def _isolated(function: Callable[..., object], *args: object, mapped: bool = False, **kwargs: object) -> object:
    """function(*args) in a fresh process, so that its peak memory is its own. With `mapped`,
    glibc's malloc maps every block over 64 KiB on its own, so that a freed tensor leaves the
    resident set at once and the peak counts live tensors, not the heap's high-water mark (it
    slows small allocations down, so throughput rows run without it)."""
    saved = os.environ.get("MALLOC_MMAP_THRESHOLD_")
    if mapped:
        os.environ["MALLOC_MMAP_THRESHOLD_"] = "65536"
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"), max_tasks_per_child=1) as pool:
            return pool.submit(function, *args, **kwargs).result()
    finally:
        if saved is None:
            os.environ.pop("MALLOC_MMAP_THRESHOLD_", None)
        else:
            os.environ["MALLOC_MMAP_THRESHOLD_"] = saved


def bench(devices: tuple[str, ...] = ("cpu",), quick: bool = False,
          progress: Callable[[str], None] | None = None) -> dict[str, list[dict[str, object]]]:
    """The benchmark table: throughput rows for a few (claim, n, d, dtype, device), and the n-scaling
    rows (d = 64, n up to 4096). The full bench measures each row in a fresh process (so that each
    peak is its own); --quick measures the throughput rows in this one. `progress` gets each row,
    formatted, as soon as it is measured."""
    sizes = [("ATT-DESCENT", 4, 2), ("ATT-DESCENT", 16, 16), ("FF-DESCENT", 4, 3)]
    ns = (256, 1024) if quick else (256, 1024, 4096)
    rows: list[dict[str, object]] = []
    scaled: list[dict[str, object]] = []

    def measured(kind: list[dict[str, object]], row: object) -> None:
        kind.append(asdict(row))  # type: ignore[call-overload]
        if progress is not None:
            progress(", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in kind[-1].items()))

    for device in devices:
        for dtype in (torch.float64, torch.float32):
            # on a GPU also the batches the first CUDA measurements used (4096 and 65536 cases)
            batches = [None] + ([4096, 65536] if torch.device(device).type == "cuda" and dtype == torch.float32 else [])
            for claim_id, n, d in sizes:
                for batch in batches:
                    options = dict(sweep_cases=20_000 if quick else 100_000, hypothesis_cases=50 if quick else 200, batch=batch)
                    if quick:
                        measured(rows, throughput(claim_id, n, d, dtype, device, **options))
                    else:
                        measured(rows, _isolated(throughput, claim_id, n, d, dtype, device, **options))
            for n in ns:
                measured(scaled, _isolated(scaling_point, n, 64, dtype, device, mapped=True))
    return {"rows": rows, "scaling": scaled}
