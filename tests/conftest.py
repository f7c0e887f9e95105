"""Test set-up: one torch thread (tiny ops on 2-core machines can run 300x slower with
two), and the Hypothesis profile: `ci` under CI, else `dev`, or HYPOTHESIS_PROFILE."""

import pytest
import torch

from verify.profiles import load_test_profile

torch.set_num_threads(1)
load_test_profile()

DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available here")),
]
