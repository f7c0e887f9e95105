"""The math modules: metamorphic identities, batching, centring, numerics."""

import math

import pytest
import torch

from verify.math.attention import (
    attention_energy,
    attention_step,
    attention_weights,
    mm_decrease_spectral,
    pairwise_sq_dists,
    surrogate,
    surrogate_decrease,
)
from verify.math.feedforward import ff_energy, ff_exact_change, linear_layer
from verify.math.rho import RHOS
from verify.model.tolerance import identity_slack, inequality_slack

g = torch.Generator().manual_seed(0)


def rand(*shape):
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def psd(d):
    A = rand(d, d)
    return A @ A.T / d


@pytest.mark.parametrize("a", [0.3, 1.0, 1.7, 2.5])
def test_mm_decrease_matches_spectral_formula(a):
    for _ in range(20):
        Y, W = rand(6, 3), psd(3)
        direct = surrogate_decrease(Y, attention_step(Y, W, a), W)
        spectral = mm_decrease_spectral(Y, W, a)
        assert float(direct) == pytest.approx(float(spectral), rel=1e-9, abs=1e-12)


def test_surrogate_equals_energy_at_its_anchor_and_majorizes():
    for name in ("neg_exp", "log1p", "log_sigmoid", "min_one", "linear"):
        rho = RHOS[name]
        Y0, Y, W = rand(5, 2), rand(5, 2), psd(2)
        assert float(surrogate(Y0, Y0, W, rho)) == pytest.approx(float(attention_energy(Y0, W, rho)), rel=1e-12)
        assert float(surrogate(Y, Y0, W, rho)) >= float(attention_energy(Y, W, rho)) - 1e-9


def test_ff_exact_change():
    A = rand(3, 3)
    M, b = (A + A.T) / 2, rand(3)
    Y = rand(4, 3)
    change = ff_energy(linear_layer(Y, M, b), M, b) - ff_energy(Y, M, b)
    assert float(change) == pytest.approx(float(ff_exact_change(Y, M, b)), rel=1e-10)


def test_batched_equals_one_by_one():
    Ys, Ws = rand(4, 5, 3), torch.stack([psd(3) for _ in range(4)])
    batched = attention_energy(Ys, Ws)
    single = torch.stack([attention_energy(Y, W) for Y, W in zip(Ys, Ws, strict=True)])
    torch.testing.assert_close(batched, single, rtol=1e-13, atol=0)
    steps = attention_step(Ys, Ws, 0.7)
    torch.testing.assert_close(steps, torch.stack([attention_step(Y, W, 0.7) for Y, W in zip(Ys, Ws, strict=True)]))


def test_energy_is_translation_invariant_and_float32_stable_at_offset():
    """Centred Gram form: a common offset of 100 costs float32 no accuracy."""
    Y, W = rand(6, 3), psd(3)
    reference = attention_energy(Y, W)
    shifted32 = attention_energy((Y + 100).float(), W.float())
    assert abs(float(shifted32) - float(reference)) <= 1e-5 * abs(float(reference))


def test_distances_negative_for_indefinite_w():
    """No clamp at 0: an indefinite W gives negative squared 'distances' (the spec's counterexample needs them)."""
    d2 = pairwise_sq_dists(torch.tensor([[0.0], [1.0]], dtype=torch.float64), -torch.eye(1, dtype=torch.float64))
    assert float(d2[0, 1]) == -1.0 and float(d2[0, 0]) == 0.0


def test_weights_are_log_domain_stable():
    Y = torch.tensor([[0.0], [40.0], [80.0]], dtype=torch.float64)
    weights = attention_weights(Y, torch.eye(1, dtype=torch.float64))
    assert torch.isfinite(weights).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, dtype=torch.float64))


def test_slack_judges_with_dtype_tolerance():
    x = torch.tensor([1.0], dtype=torch.float64)
    assert identity_slack(x, x * (1 + 1e-15)).ok
    assert not identity_slack(x, x * (1 + 1e-10)).ok
    x32 = x.float()
    assert identity_slack(x32, x32 * (1 + 1e-7)).ok
    assert not identity_slack(x32, x32 * (1 + 1e-4)).ok
    assert inequality_slack(1.0 + 1e-16, 1.0, dtype=torch.float64, scale=1.0).ok
    assert not inequality_slack(1.0 + 1e-9, 1.0, dtype=torch.float64, scale=1.0).ok
    assert math.isclose(inequality_slack(0.0, 2.0, dtype=torch.float64, scale=4.0).relative, 0.5)
