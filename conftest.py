"""Test set-up for tests/ and the family folders' tests: one torch thread (tiny ops on 2-core
machines can run 300x slower with two), the Hypothesis profile (`ci` under CI, else `dev`, or
HYPOTHESIS_PROFILE), and the devices a test runs on (CUDA skipped, with the reason, without one)."""

import pytest
import torch

from verify.engines.profiles import load_test_profile

torch.set_num_threads(1)
load_test_profile()

DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available here")),
]
