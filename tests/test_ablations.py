"""The spec's ablations: each listed counterexample fails its claim with the spec's numbers,
and the search finds a counterexample on its own (known examples withheld)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import strategies as st

from verify.assumptions import w_norms_equal
from verify.attention import attention_energy, attention_step, softmax_step, surrogate
from verify.case import Case
from verify.claims import registry
from verify.feedforward import ff_energy, linear_layer, relu_layer
from verify.profiles import search_settings
from verify.rho import get
from verify.search import falsify, search_claim
from verify.strategies import attention_cases

CLAIMS = registry()
ABLATIONS = [
    (claim.id, name)
    for claim in CLAIMS.values()
    for name in claim.known_counterexamples()
]
# cases needed to find each without its @example (seed fixed): a generous budget, measured
BUDGET = {("ATT-SOFTMAX-DESCENT", "W symmetric"): 1500, ("ATT-SOFTMAX-DESCENT", "equal W-norms q_i"): 1000}


@pytest.mark.parametrize(("claim_id", "assumption"), ABLATIONS)
def test_known_counterexamples_fail(claim_id, assumption):
    claim = CLAIMS[claim_id]
    for case in claim.examples[assumption]:
        assert not claim.assumption(assumption).holds(case), f"{case!r} meets {assumption}"
        slack = claim.check(case)
        assert slack.undecided is None and not slack.ok, f"{claim_id} holds on {case!r}: {slack}"


@pytest.mark.parametrize(("claim_id", "assumption"), ABLATIONS)
def test_search_finds_counterexample_unaided(claim_id, assumption):
    claim = CLAIMS[claim_id]
    budget = BUDGET.get((claim_id, assumption), 300)
    verdict = search_claim(claim, violate=assumption, use_examples=False, max_examples=budget)
    assert verdict.status == "refuted", str(verdict)
    assert not claim.assumption(assumption).holds(verdict.counterexample)
    # the replay string re-runs the shrunk case
    assert verdict.replay.startswith(f"python -m verify replay {claim_id} ")


def test_rare_rms_nonscalar_counterexample_is_found():
    """Plain softmax on RMS rows with an ill-conditioned non-scalar W >= 0 (1 in 5000 at random)."""
    claim = CLAIMS["ATT-SOFTMAX-DESCENT"]
    cases = attention_cases(weight="ill-conditioned", tokens="rms+eigen-cluster", rho="exp", step=None, d=(2, 3)).filter(
        lambda c: not w_norms_equal(c.tensor("Y").numpy(), c.tensor("W").numpy())
    )
    verdict = falsify(cases, claim.check, settings=search_settings("quick", 1000), seed=3)
    assert verdict.status == "refuted", str(verdict)
    Y, W = verdict.counterexample.tensor("Y"), verdict.counterexample.tensor("W")
    assert torch.allclose(torch.linalg.vector_norm(Y, dim=-1), torch.full((Y.shape[0],), math.sqrt(Y.shape[1]), dtype=Y.dtype))
    assert not torch.allclose(W, W[0, 0] * torch.eye(W.shape[0], dtype=W.dtype))


def _t(rows):
    return torch.tensor(rows, dtype=torch.float64)


def _circle(radius, degrees):
    return _t([[radius * math.cos(math.radians(t)), radius * math.sin(math.radians(t))] for t in degrees])


@pytest.mark.parametrize(
    ("Y", "W", "step", "before", "after"),
    [
        (_t([[0], [0.25]]), _t([[0.0625]]), lambda Y, W: attention_step(Y, W, 2.25), -3.996098, -3.993927),
        (_t([[0], [0.5]]), _t([[1.0]]), lambda Y, W: attention_step(Y, W, 3.0), -3.76499, -3.32630),
        (_t([[0], [1]]), _t([[-1.0]]), lambda Y, W: attention_step(Y, W, 1.0), -5.29744, -4.06089),
        (_circle(3, [241, 301, 230]), _t([[1, 0.5], [-0.5, 1]]), softmax_step, -4.72203, -4.67957),
        (_t([[0], [0.25], [-3]]), _t([[1.25]]), softmax_step, -4.93331, -4.81334),
        (_circle(math.sqrt(2), [16, 81, 4]), _t([[2, 0], [0, 8]]), softmax_step, -4.43113, -3.97312),
        (_t([[1], [-1]]), _t([[-1.0]]), softmax_step, -16.778, -8.380),
    ],
)
def test_spec_numbers_reproduce(Y, W, step, before, after):
    """E_att before and after each spec counterexample, to the digits the spec quotes."""
    quoted = lambda x: 0.51 * 10.0 ** -len(repr(x).split(".")[1])  # noqa: E731  (half a unit in the last digit)
    assert abs(float(attention_energy(Y, W)) - before) <= quoted(before)
    assert abs(float(attention_energy(step(Y, W), W)) - after) <= quoted(after)


def test_spec_numbers_surrogate_and_ff():
    Y, W, rho = _t([[0, 0], [0.72, 1.2], [1.44, 0]]), torch.eye(2, dtype=torch.float64), get("min_one")
    rise = surrogate(attention_step(Y, W, 2.0, rho), Y, W, rho) - attention_energy(Y, W, rho)
    assert abs(float(rise) - 1.203) < 1e-3
    M, b, Y1 = _t([[-2.0]]), torch.zeros(1, dtype=torch.float64), _t([[1.0]])
    assert float(ff_energy(Y1, M, b)) == pytest.approx(1.5)
    assert float(ff_energy(linear_layer(Y1, M, b), M, b)) == pytest.approx(6.0)
    M, b, Y0 = _t([[-1.5]]), torch.tensor([0.5], dtype=torch.float64), _t([[0.0]])
    assert float(ff_energy(relu_layer(Y0, M, b), M, b)) == pytest.approx(0.0625)


def test_bottom_eigenvector_adversary_finds_lmin_just_below_minus_one():
    """lmin(M) = -1 - 1e-4: random inputs miss it, the adversary does not."""
    claim = CLAIMS["FF-DESCENT"]
    M = np.diag([-1 - 1e-4, 0.5])
    cases = st.builds(lambda y: Case(Y=np.tile(y, (2, 1)), M=M, b=(np.eye(2) - M).T @ y - np.array([1.0, 0.0])),
                      st.lists(st.floats(0.1, 2.0), min_size=2, max_size=2).map(np.array))
    verdict = falsify(cases, claim.check, settings=search_settings("quick", 50))
    assert verdict.status == "refuted"
