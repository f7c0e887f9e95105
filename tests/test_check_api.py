"""The researcher-facing API: true claims hold, perturbed ones are refuted."""

import math

import pytest
import torch
from hypothesis import strategies as st

import verify
from verify.math.feedforward import ff_energy, ff_step, linear_layer

M = torch.tensor([[0.5, 0.2], [0.2, -0.3]], dtype=torch.float64)
b = torch.tensor([0.1, -0.4], dtype=torch.float64)
W = torch.tensor([[1.0, 0.3], [0.3, 0.5]], dtype=torch.float64)


def energy(Y):
    return ff_energy(Y, M.to(Y.dtype), b.to(Y.dtype))


def layer(Y):
    return linear_layer(Y, M.to(Y.dtype), b.to(Y.dtype))


two_features = verify.token_inputs(d=(2, 2))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_true_descent_holds(dtype):
    verdict = verify.check_descent(layer, energy, two_features, dtype=dtype)
    assert verdict.holds and verdict.status == "holds", str(verdict)
    assert verdict.examples >= 100 and verdict.evidence == "sampled"


def test_attention_step_descends_default_inputs():
    from verify.math.attention import attention_energy, attention_step

    def step(Y):
        return attention_step(Y, torch.eye(Y.shape[-1], dtype=Y.dtype), 1.0)

    def E(Y):
        return attention_energy(Y, torch.eye(Y.shape[-1], dtype=Y.dtype))

    assert verify.check_descent(step, E).holds


def test_sign_flip_is_refuted():
    def ascent(Y):
        return 2 * Y - layer(Y)  # Y + grad E(Y)

    verdict = verify.check_descent(ascent, energy, two_features)
    assert verdict.status == "refuted" and verdict.counterexample is not None
    assert verdict.worst.lhs > verdict.worst.rhs


def test_factor_one_plus_1e7_is_refuted():
    """Y -> (1 + 1e-7) Y raises ||Y||^2 / 2 by a relative 2e-7; float64 must see it."""
    verdict = verify.check_descent(lambda Y: (1 + 1e-7) * Y, lambda Y: (Y * Y).sum() / 2)
    assert verdict.status == "refuted"
    energy_at = (verdict.counterexample**2).sum() / 2
    assert float(energy_at) > 0


def test_perturbed_energy_is_refuted():
    """The FF layer descends E_ff, not -E_ff."""
    verdict = verify.check_descent(layer, lambda Y: -energy(Y), two_features)
    assert verdict.status == "refuted"


@pytest.mark.parametrize(
    "g",
    [
        lambda Y: linear_layer(Y, M.mT.contiguous() + torch.tensor([[0.0, 0.1], [0.0, 0.0]], dtype=Y.dtype), b),
        lambda Y: layer(Y) * (1 + 1e-7),
        lambda Y: -layer(Y),
    ],
    ids=["wrong-transpose", "factor-1e-7", "sign-flip"],
)
def test_equivalence_refutes_perturbations(g):
    verdict = verify.check_equivalence(layer, g, two_features)
    assert verdict.status == "refuted", str(verdict)


def test_equivalence_holds_for_the_gradient_form():
    def gradient_form(Y):
        Z = Y.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(energy(Z), Z)
        return Y - grad

    for dtype in ("float64", "float32"):
        assert verify.check_equivalence(layer, gradient_form, two_features, dtype=dtype).holds


def test_gradient_step_reports_the_step_and_the_range():
    t = 0.4
    verdict = verify.check_gradient_step(lambda Y: ff_step(Y, M, b, t), energy, two_features)
    assert verdict.holds, str(verdict)
    assert verdict.implied_step == pytest.approx(t, rel=1e-12)
    assert verdict.identity_residual < 1e-12
    lmax = float(torch.linalg.eigvalsh(torch.eye(2, dtype=torch.float64) - M).abs().max())
    assert verdict.descent_range[1] == pytest.approx(2 / lmax, rel=1e-9)
    assert verdict.in_descent_range is True


def test_gradient_step_with_given_step_size_refutes_the_wrong_one():
    verdict = verify.check_gradient_step(lambda Y: ff_step(Y, M, b, 0.4), energy, two_features, step_size=0.41)
    assert verdict.status == "refuted"


def test_not_a_gradient_step_wrong_transpose():
    asym = M + torch.tensor([[0.0, 0.3], [-0.3, 0.0]], dtype=torch.float64)
    verdict = verify.check_gradient_step(lambda Y: linear_layer(Y, asym, b), energy, two_features)
    assert verdict.status == "refuted", str(verdict)


def test_gradient_step_with_varying_step_is_refuted():
    """Y - t(Y) grad E with t depending on the input is a descent but not a gradient step."""

    def step(Y):
        t = 0.2 + 0.1 * math.tanh(float(Y.abs().sum()))
        return ff_step(Y, M, b, t)

    verdict = verify.check_gradient_step(step, energy, two_features)
    assert verdict.status == "refuted" and "varies" in verdict.note


def test_replay_reproduces_the_counterexample():
    """verify.replay(verdict) re-judges the case with the verdict's own functions; the snippet's
    literal case, with the functions put back, refutes again on exactly that case."""
    step, E = (lambda Y: (1 + 1e-7) * Y), (lambda Y: (Y * Y).sum() / 2)
    verdict = verify.check_descent(step, E)
    again = verify.replay(verdict)
    assert again.lhs == verdict.worst.lhs and again.rhs == verdict.worst.rhs and not again.ok
    snippet = verdict.replay.split("# or ", 1)[1].replace("<your functions>", "step, E")
    rerun = eval(snippet, {"verify": verify, "step": step, "E": E})
    assert rerun.status == "refuted" and torch.equal(rerun.counterexample, verdict.counterexample)


def test_replay_snippet_names_importable_functions():
    """Functions importable by module and name give a snippet that runs as it is."""
    from verify.math.norm import rms_norm

    verdict = verify.check_equivalence(rms_norm, torch.nn.functional.normalize, verify.token_inputs(n=(1, 3), d=(2, 3)),
                                       domain_errors=(ValueError,))
    assert verdict.status == "refuted", str(verdict)
    assert verdict.replay.startswith("import verify"), verdict.replay
    namespace: dict = {}
    exec(verdict.replay.replace("print(", "result = ("), namespace)
    assert namespace["result"].status == "refuted"
    assert torch.equal(namespace["result"].counterexample, verdict.counterexample)


def test_same_seed_same_counterexample():
    a = verify.check_descent(lambda Y: 2 * Y, lambda Y: (Y * Y).sum(), seed=5)
    c = verify.check_descent(lambda Y: 2 * Y, lambda Y: (Y * Y).sum(), seed=5)
    assert torch.equal(a.counterexample, c.counterexample)


def test_user_strategy_of_numpy_arrays_is_accepted():
    from hypothesis.extra.numpy import arrays

    inputs = arrays("float64", (3, 2), elements=st.floats(-2, 2))
    assert verify.check_descent(layer, energy, inputs, max_examples=30).holds
