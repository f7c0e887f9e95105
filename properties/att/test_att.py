"""ATT: the spec's counterexamples reproduce its numbers, and the rare one is found by a targeted description."""

import math

import torch

from properties.att.cases import attention_cases
from verify.draw.conditions import equal_w_norms
from verify.engines.profiles import search_settings
from verify.engines.search import falsify
from verify.math.attention import attention_energy, attention_step, softmax_step, surrogate
from verify.math.rho import get
from verify.running.registry import registry


def _t(rows):
    return torch.tensor(rows, dtype=torch.float64)


def _circle(radius, degrees):
    return _t([[radius * math.cos(math.radians(t)), radius * math.sin(math.radians(t))] for t in degrees])


SPEC_NUMBERS = [
    (_t([[0], [0.25]]), _t([[0.0625]]), lambda Y, W: attention_step(Y, W, 2.25), -3.996098, -3.993927),
    (_t([[0], [0.5]]), _t([[1.0]]), lambda Y, W: attention_step(Y, W, 3.0), -3.76499, -3.32630),
    (_t([[0], [1]]), _t([[-1.0]]), lambda Y, W: attention_step(Y, W, 1.0), -5.29744, -4.06089),
    (_circle(3, [241, 301, 230]), _t([[1, 0.5], [-0.5, 1]]), softmax_step, -4.72203, -4.67957),
    (_t([[0], [0.25], [-3]]), _t([[1.25]]), softmax_step, -4.93331, -4.81334),
    (_circle(math.sqrt(2), [16, 81, 4]), _t([[2, 0], [0, 8]]), softmax_step, -4.43113, -3.97312),
    (_t([[1], [-1]]), _t([[-1.0]]), softmax_step, -16.778, -8.380),
]


def test_spec_numbers_reproduce():
    """E_att before and after each spec counterexample, to the digits the spec quotes."""
    quoted = lambda x: 0.51 * 10.0 ** -len(repr(x).split(".")[1])  # noqa: E731  (half a unit in the last digit)
    for Y, W, step, before, after in SPEC_NUMBERS:
        assert abs(float(attention_energy(Y, W)) - before) <= quoted(before)
        assert abs(float(attention_energy(step(Y, W), W)) - after) <= quoted(after)


def test_spec_numbers_surrogate():
    Y, W, rho = _t([[0, 0], [0.72, 1.2], [1.44, 0]]), torch.eye(2, dtype=torch.float64), get("min_one")
    rise = surrogate(attention_step(Y, W, 2.0, rho), Y, W, rho) - attention_energy(Y, W, rho)
    assert abs(float(rise) - 1.203) < 1e-3


def test_rare_rms_nonscalar_counterexample_is_found():
    """Plain softmax on RMS rows with an ill-conditioned non-scalar W >= 0 (1 in 5000 at random)."""
    claim = registry()["ATT-SOFTMAX-DESCENT"]
    cases = attention_cases(weight="ill-conditioned", tokens="rms+eigen-cluster", rho="exp", step=None, d=(2, 3)).strategy().filter(
        lambda c: not bool(equal_w_norms(c.tensor("Y")[None], c.tensor("W")[None])[0])
    )
    verdict = falsify(cases, claim.judge, settings=search_settings("quick", 1000), seed=3)
    assert verdict.status == "refuted", str(verdict)
    Y, W = verdict.counterexample.tensor("Y"), verdict.counterexample.tensor("W")
    assert torch.allclose(torch.linalg.vector_norm(Y, dim=-1), torch.full((Y.shape[0],), math.sqrt(Y.shape[1]), dtype=Y.dtype))
    assert not torch.allclose(W, W[0, 0] * torch.eye(W.shape[0], dtype=W.dtype))
