#!/usr/bin/env bash
# The CUDA checks in one run, for a machine with an NVIDIA GPU (the device tool's `run`):
# the CUDA tests (claims on CUDA, CPU/CUDA agreement, the sweep on CUDA) and the bench on cpu and cuda.
# Results go to $OUT (default ./device-out). Budget: about 6 minutes on an H100.
set -euo pipefail
OUT="${OUT:-device-out}"
mkdir -p "$OUT"
# needs a CUDA build of torch: the one already on the machine (system python), else pip's
if ! python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  python3 -m venv .venv-gpu && . .venv-gpu/bin/activate && pip install -q "torch==2.13.0"
fi
python3 -m pip install -q -e ".[test]" || true
nvidia-smi --query-gpu=name,memory.total --format=csv > "$OUT/gpu.txt" || true
python3 -c "import torch; print(torch.__version__, torch.cuda.is_available(), torch.cuda.get_device_name(0))" >> "$OUT/gpu.txt"
python3 -m pytest -q -k "cuda" tests/test_sweep.py tests/test_claims.py 2>&1 | tail -30 > "$OUT/cuda_tests.txt" || true
python3 -m verify bench --json --device cpu --device cuda > "$OUT/bench.json" 2> "$OUT/bench.err" || true
