"""Where one sweep batch spends its time: torch.profiler over the draw and the check of a claim's
batch, on a device, the top operators by self time (CPU and, on CUDA, the device's own).

    python scripts/profile_sweep.py [--claim ATT-DESCENT] [--n 16] [--d 16] [--batch 65536] [--device cuda]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch
from torch.profiler import ProfilerActivity, profile

from verify.engines.sweep import judge_batch
from verify.running.registry import registry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claim", default="ATT-DESCENT")
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--d", type=int, default=16)
    parser.add_argument("--batch", type=int, default=65536)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    claim = registry()[args.claim]
    claim = dataclasses.replace(claim, params={**claim.params, "n": (args.n, args.n), "d": (args.d, args.d)})
    scope = claim.scope()
    g = torch.Generator(args.device).manual_seed(0)

    def sync() -> None:
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    for _ in range(2):  # warm-up: kernels, allocator
        judge_batch(scope, scope.sample(g, args.batch).to(dtype, args.device))
    sync()
    t0 = time.perf_counter()
    batch = scope.sample(g, args.batch)
    sync()
    t1 = time.perf_counter()
    judge_batch(scope, batch.to(dtype, args.device))
    sync()
    t2 = time.perf_counter()
    print(f"{args.claim} n={args.n} d={args.d} {args.dtype} {args.device} batch {args.batch}: draw {t1 - t0:.4f} s, "
          f"check {t2 - t1:.4f} s, {args.batch / (t2 - t0):.3g} cases/s")
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if args.device.startswith("cuda") else [])
    with profile(activities=activities) as prof:
        batch = scope.sample(g, args.batch)
        judge_batch(scope, batch.to(dtype, args.device))
        sync()
    for key in ["self_cpu_time_total"] + (["self_cuda_time_total"] if args.device.startswith("cuda") else []):
        print(prof.key_averages().table(sort_by=key, row_limit=25))


if __name__ == "__main__":
    main()
