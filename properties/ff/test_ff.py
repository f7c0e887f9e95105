"""FF: the spec's counterexamples reproduce its numbers, and the bottom-eigenvector adversary finds
lmin(M) just below -1, which random inputs miss."""

import numpy as np
import pytest
import torch
from hypothesis import strategies as st

from verify.engines.profiles import search_settings
from verify.engines.search import falsify
from verify.math.feedforward import ff_energy, linear_layer, relu_layer
from verify.model.case import Case
from verify.running.registry import registry


def _t(rows):
    return torch.tensor(rows, dtype=torch.float64)


def test_spec_numbers_ff():
    M, b, Y1 = _t([[-2.0]]), torch.zeros(1, dtype=torch.float64), _t([[1.0]])
    assert float(ff_energy(Y1, M, b)) == pytest.approx(1.5)
    assert float(ff_energy(linear_layer(Y1, M, b), M, b)) == pytest.approx(6.0)
    M, b, Y0 = _t([[-1.5]]), torch.tensor([0.5], dtype=torch.float64), _t([[0.0]])
    assert float(ff_energy(relu_layer(Y0, M, b), M, b)) == pytest.approx(0.0625)


def test_bottom_eigenvector_adversary_finds_lmin_just_below_minus_one():
    """lmin(M) = -1 - 1e-4: random inputs miss it, the adversary does not."""
    claim = registry()["FF-DESCENT"]
    M = np.diag([-1 - 1e-4, 0.5])
    cases = st.builds(lambda y: Case(Y=np.tile(y, (2, 1)), M=M, b=(np.eye(2) - M).T @ y - np.array([1.0, 0.0])),
                      st.lists(st.floats(0.1, 2.0), min_size=2, max_size=2).map(np.array))
    verdict = falsify(cases, claim.judge, settings=search_settings("quick", 50))
    assert verdict.status == "refuted"
