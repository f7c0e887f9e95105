"""Bad input gets a ValueError or TypeError that names the argument and the problem."""

import pytest
import torch

import verify
from verify.math.attention import attention_energy, attention_step
from verify.math.feedforward import ff_energy, linear_layer
from verify.math.norm import layer_norm, rms_norm
from verify.model.case import Case

Y = torch.randn(3, 2, dtype=torch.float64)
W = torch.eye(2, dtype=torch.float64)


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda: attention_energy(torch.tensor([[float("nan"), 0.0]]), torch.eye(2)), ValueError, "Y contains NaN"),
        (lambda: attention_energy(torch.tensor([[float("inf"), 0.0]]), torch.eye(2)), ValueError, "Y contains Inf"),
        (lambda: attention_energy(Y, torch.full((2, 2), float("nan"), dtype=torch.float64)), ValueError, "W contains NaN"),
        (lambda: attention_energy(torch.ones(3), W), ValueError, "Y must have at least 2 dimensions"),
        (lambda: attention_energy(Y, torch.eye(3, dtype=torch.float64)), ValueError, "W must be (2, 2)"),
        (lambda: attention_energy(Y, W.float()), TypeError, "W has dtype torch.float32 but Y has torch.float64"),
        (lambda: attention_step(Y, W.float(), 1.0), TypeError, "W has dtype"),
        (lambda: attention_energy(torch.ones(3, 2, dtype=torch.int64), W), TypeError, "Y must have a floating dtype"),
        (lambda: attention_energy([[1.0]], W), TypeError, "Y must be a torch.Tensor"),
        (lambda: ff_energy(Y, W, torch.zeros(3, dtype=torch.float64)), ValueError, "b must have last dimension 2"),
        (lambda: linear_layer(Y, torch.eye(3, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)), ValueError, "M must be (2, 2)"),
        (lambda: layer_norm(torch.ones(2, 1, dtype=torch.float64)), ValueError, "d >= 2"),
        (lambda: layer_norm(torch.full((2, 3), 4.0, dtype=torch.float64)), ValueError, "constant row"),
        (lambda: layer_norm(torch.tensor([[1.0, float("nan")]])), ValueError, "Y contains NaN"),
        (lambda: rms_norm(torch.zeros(2, 3)), ValueError, "zero row"),
        (lambda: verify.check_descent(lambda y: y, lambda y: y.sum(), dtype="int32"), TypeError, "dtype must be a floating dtype"),
        (lambda: verify.check_descent(lambda y: y, lambda y: y.sum(), dtype="float16x"), TypeError, "dtype"),
        (lambda: verify.check_descent(lambda y: y, lambda y: y.sum(), inputs=[Y]), TypeError, "inputs must be a Hypothesis strategy"),
        (lambda: verify.check_descent("step", lambda y: y.sum()), TypeError, "step must be callable"),
        (lambda: verify.check_equivalence(lambda y: y, None), TypeError, "g must be callable"),
        (lambda: verify.check_descent(lambda y: y, lambda y: y.sum(), max_examples=0), ValueError, "max_examples"),
        (
            lambda: verify.check_gradient_step(lambda y: y, lambda y: y.sum(), step_size=float("nan")),
            ValueError,
            "step_size must be finite",
        ),
        (lambda: verify.run(ids="NO-SUCH-*"), ValueError, "match no claim"),
        (lambda: Case.from_json("[1, 2]"), ValueError, "case must be a JSON object"),
    ],
)
def test_error_names_the_argument(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)


def test_cuda_device_when_absent_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="device is 'cuda' but CUDA is not available"):
        verify.check_descent(lambda y: y, lambda y: y.sum(), device="cuda")


def test_step_returning_wrong_shape_raises_naming_it():
    with pytest.raises(verify.UserCodeError, match=r"step\(Y\) must have the shape of Y .*, on the case Y \("):
        verify.check_descent(lambda y: y[:1], lambda y: (y * y).sum(), verify.token_inputs(n=(2, 3)), max_examples=5)


def test_energy_returning_a_vector_raises_naming_it():
    with pytest.raises(verify.UserCodeError, match=r"energy\(Y\) must return a scalar tensor, got shape \(2,\)"):
        verify.check_descent(lambda y: y, lambda y: y.sum(-1), verify.token_inputs(n=(2, 2)), max_examples=5)
