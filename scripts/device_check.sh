#!/usr/bin/env bash
# The CUDA checks in one run, for a machine with an NVIDIA GPU (the device tool's `run`), from the
# repository root: the CUDA tests (every claim on CUDA, CPU/CUDA agreement, the sweep on CUDA),
# `python -m verify run --device cuda`, and the CUDA bench, all into $OUT (default ./device-out).
#
# Such a machine carries a CUDA build of torch, hypothesis, pytest, numpy, scipy and tabulate but
# no cvxpy: without it the suite still runs every claim whose check needs no solver and says
# which it left out. For the solver-backed claims and certificates bring cvxpy's wheels, built
# for the machine's Python (3.12 here), into .whl/ (ignored by git) before the run:
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl cvxpy==1.9.3 clarabel==0.11.1 osqp==1.1.3 highspy==1.16.0 qdldl==0.1.9.post1 cffi==2.1.1 pycparser==3.12
# and name .whl in the device call's carry. Budget: about 8 minutes on an H100.
set -uo pipefail
OUT="${OUT:-device-out}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import torch, sys; print(sys.version.split()[0], torch.__version__, torch.cuda.get_device_name(0))"
  python3 -c "import cvxpy; print('cvxpy', cvxpy.__version__)" 2>&1 | tail -1
} > "$OUT/gpu.txt" 2>&1
start=$SECONDS
timeout 120 python3 -m pytest -q -p no:cacheprovider -n 8 -k cuda tests/test_claims.py tests/test_sweep.py \
  tests/test_search.py > "$OUT/cuda_tests.txt" 2>&1
echo "cuda tests: exit $? in $((SECONDS - start)) s" >> "$OUT/gpu.txt"
start=$SECONDS
timeout 150 python3 -m verify run --device cuda --out "$OUT/run" > "$OUT/run.txt" 2>&1
echo "verify run --device cuda: exit $? in $((SECONDS - start)) s" >> "$OUT/gpu.txt"
rm -f "$OUT/run/partial."*
start=$SECONDS
timeout 180 python3 -m verify bench --json --device cuda > "$OUT/bench.json" 2> "$OUT/bench.err"
echo "bench --device cuda: exit $? in $((SECONDS - start)) s" >> "$OUT/gpu.txt"
start=$SECONDS
timeout 60 python3 scripts/profile_sweep.py --device cuda > "$OUT/profile.txt" 2>&1
echo "profile: exit $? in $((SECONDS - start)) s" >> "$OUT/gpu.txt"
