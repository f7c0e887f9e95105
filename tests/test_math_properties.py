"""The math modules (verify/math) against independent computations of the same quantities.

Every function is compared with a second computation of its formula that shares no code with it:
explicit loops over cases and tokens, autograd for gradients, Jacobians and Hessians, torch's own
reference layers, and identities the docstrings state (the MM decrease from the spectra, the
fixed point of a cycle, von Oswald et al.'s construction). Inputs are batched (leading shape
(3,) or (2,), sizes chosen pairwise different) so that a reduction over the wrong dimension
changes a shape or a value.

Tolerances are rounding only: |computed - reference| <= SLACK eps(float64) * scale, `scale` the
magnitude of the terms summed (computed from the inputs' absolute values), so a formula that is
off by a relative 1e-12 fails. This module is the test set of `nox -s mutants` (mutmut over
verify/math): it runs in seconds.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import pytest
import torch
from torch import Tensor

from verify.math import alternating, attention, batch, curves, feedforward, hopfield, icl, layers, norm, paper, rho
from verify.math.rho import LOG1P, MIN_ONE, NEG_EXP, RHOS, Rho

DTYPE = torch.float64
EPS = torch.finfo(DTYPE).eps
SLACK = 64.0  # rounding allowance, in units of eps times the magnitude of the terms
B, N, D = 3, 5, 4  # batch, tokens, features (pairwise different: a wrong dim is a wrong shape)


# ----------------------------------------------------------------------------------------------- helpers


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(g: torch.Generator, *shape: int) -> Tensor:
    return torch.randn(*shape, generator=g, dtype=DTYPE)


def spd(g: torch.Generator, *batch: int, d: int = D, floor: float = 0.1) -> Tensor:
    """A A^T / d + floor I: symmetric positive definite."""
    A = randn(g, *batch, d, d)
    return A @ A.mT / d + floor * torch.eye(d, dtype=DTYPE)


def psd_plus_skew(g: torch.Generator, *batch: int, d: int = D) -> Tensor:
    """A non-symmetric W whose symmetric part is positive definite: only sym(W) may enter the distances."""
    S = randn(g, *batch, d, d)
    return spd(g, *batch, d=d) + (S - S.mT) / 2


def assert_close(actual: Tensor, expected: Tensor, scale: float | Tensor) -> None:
    """Same shape and dtype, and |actual - expected| <= SLACK eps scale entrywise (NaN fails)."""
    assert actual.shape == expected.shape, f"shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    assert actual.dtype == expected.dtype, f"dtype {actual.dtype} != {expected.dtype}"
    tol = SLACK * EPS * torch.as_tensor(scale, dtype=DTYPE)
    err = (actual - expected).abs()
    assert bool((err <= tol).all()), f"error {float(err.max()):.3e} exceeds rounding tolerance {float(tol.max()):.3e}"


def cases(*batch: int) -> list[tuple[int, ...]]:
    """Every index of a batch shape."""
    return list(itertools.product(*(range(s) for s in batch)))


def per_case_loop(f: Callable[..., Tensor], *args: Tensor) -> Tensor:
    """f applied case by case over the leading dimension of each tensor argument, restacked."""
    return torch.stack([f(*(a[k] for a in args)) for k in range(args[0].shape[0])])


def softmax_rows(S: Tensor) -> Tensor:
    """exp(s_ij - max_j s_ij) / sum_j exp(s_ij - max_j s_ij), row by row, written out."""
    E = torch.exp(S - S.max(-1, keepdim=True).values)
    return E / E.sum(-1, keepdim=True)


# ----------------------------------------------------------------------------------------------- batch


def test_per_case_lines_a_tensor_up_with_trailing_dimensions() -> None:
    """per_case(x, k) = x[..., None * k] for a tensor, x itself for a float."""
    x = torch.arange(6, dtype=DTYPE).reshape(2, 3)
    assert batch.per_case(0.5) == 0.5
    assert batch.per_case(x).shape == (2, 3, 1, 1)
    assert batch.per_case(x, 1).shape == (2, 3, 1)
    assert batch.per_case(x, 0).shape == (2, 3)
    assert torch.equal(batch.per_case(x, 1)[..., 0], x)


# ----------------------------------------------------------------------------------------------- rho


def test_rho_both_repr_and_lookup() -> None:
    """both(z) = (rho(z), rho'(z)) with or without a shared pass; get() by name or Rho, errors list the names."""
    z = torch.linspace(0.1, 3.0, 7, dtype=DTYPE)
    for r, value, deriv in ((NEG_EXP, -torch.exp(-z), torch.exp(-z)), (LOG1P, torch.log1p(z), 1 / (1 + z))):
        v, dv = r.both(z)
        assert_close(v, value, 1.0)
        assert_close(dv, deriv, 1.0)
    assert repr(NEG_EXP) == "Rho(neg_exp: -exp(-z))"
    assert rho.get("log1p") is LOG1P
    assert rho.get(MIN_ONE) is MIN_ONE
    with pytest.raises(ValueError, match=r"rho must be one of \[.*'neg_exp'.*\], got 'nope'"):
        rho.get("nope")


@pytest.mark.parametrize("name", sorted(RHOS))
def test_rho_derivative_is_the_derivative(name: str) -> None:
    """deriv = d value / dz (autograd) away from kinks, and log_deriv = log deriv where given."""
    r = RHOS[name]
    z = torch.tensor([0.05, 0.4, 0.7, 1.6, 2.5], dtype=DTYPE, requires_grad=True)
    (grad,) = torch.autograd.grad(r.value(z).sum(), z)
    assert_close(r.deriv(z.detach()), grad, 4.0)
    if r.log_deriv is not None:
        assert_close(r.log_deriv(z.detach()), torch.log(r.deriv(z.detach())), 4.0)


# ----------------------------------------------------------------------------------------------- attention


def ref_dist2(Y: Tensor, W: Tensor) -> tuple[Tensor, Tensor]:
    """dist2_ij = (y_i - y_j)^T W (y_i - y_j) by loops, with the magnitude (|y_i| + |y_j|)^T |W| (|y_i| + |y_j|)."""
    batch_shape, n = Y.shape[:-2], Y.shape[-2]
    d2, scale = torch.zeros(*batch_shape, n, n, dtype=DTYPE), torch.zeros(*batch_shape, n, n, dtype=DTYPE)
    for k in cases(*batch_shape):
        for i, j in itertools.product(range(n), repeat=2):
            diff, size = Y[k][i] - Y[k][j], Y[k][i].abs() + Y[k][j].abs()
            d2[k][i, j] = diff @ W[k] @ diff
            scale[k][i, j] = size @ W[k].abs() @ size
    return d2, scale


def test_sym_centre_and_w_norms() -> None:
    """sym(W) = (W + W^T)/2, centre(Y) = Y - 1 mean_i y_i, q_i = y_i^T W y_i (any W: the skew part drops out)."""
    g = gen(1)
    Y, W = randn(g, B, N, D), randn(g, B, D, D)
    assert_close(attention.sym(W), torch.stack([(w + w.T) / 2 for w in W]), 1.0)
    expected = torch.stack([torch.stack([y - Yk.sum(0) / N for y in Yk]) for Yk in Y])
    assert_close(attention.centre(Y), expected, float(Y.abs().max()) * N)
    q = torch.tensor([[float(Y[k][i] @ W[k] @ Y[k][i]) for i in range(N)] for k in range(B)], dtype=DTYPE)
    scale = torch.einsum("kid,kde,kie->ki", Y.abs(), W.abs(), Y.abs())
    assert_close(attention.w_norms(Y, W), q, scale)


def test_pairwise_sq_dists_match_the_definition() -> None:
    """dist2_ij = ||y_i - y_j||_W^2 for a non-symmetric, indefinite W, exactly symmetric with a zero diagonal."""
    g = gen(2)
    Y, W = randn(g, B, N, D), randn(g, B, D, D)
    d2, scale = ref_dist2(Y, W)
    for computed in (attention.pairwise_sq_dists(Y, W), attention.sq_dists(Y, attention.sym(W))):
        assert_close(computed, d2, scale)
        assert torch.equal(computed, computed.mT)
        assert torch.equal(computed.diagonal(dim1=-2, dim2=-1), torch.zeros(B, N, dtype=DTYPE))
    assert bool((d2 < 0).any())  # indefinite W: negative "distances" are kept, not clamped


def test_attention_validates_its_input() -> None:
    """Energy and step name a W that does not act on the tokens' d features."""
    g = gen(3)
    Y, W = randn(g, N, D), randn(g, D + 1, D + 1)
    for f in (attention.attention_energy, attention.energy_with_scale, lambda Y, W: attention.attention_step(Y, W, 0.5)):
        with pytest.raises(ValueError, match="W must be"):
            f(Y, W)


@pytest.mark.parametrize("r", [NEG_EXP, LOG1P], ids=lambda r: r.name)
def test_attention_energy_kernel_and_weights(r: Rho) -> None:
    """E = sum_ij rho(dist2_ij / 2), B_ij = rho'(dist2_ij / 2), D^{-1} B its row-normalised kernel."""
    g = gen(4)
    Y, W = randn(g, B, N, D), psd_plus_skew(g, B)
    d2, d2_scale = ref_dist2(Y, W)
    value, kernel = r.value(d2 / 2), r.deriv(d2 / 2)
    scale = N * N * (1 + d2_scale.amax((-2, -1)))
    assert_close(attention.attention_energy(Y, W, r), value.sum((-2, -1)), scale)
    assert_close(attention.energy_with_scale(Y, W, r)[0], value.sum((-2, -1)), scale)
    assert_close(attention.attention_kernel(Y, W, r), kernel, 1 + d2_scale)
    weights = torch.stack([torch.stack([Bk[i] / Bk[i].sum() for i in range(N)]) for Bk in kernel])
    assert_close(attention.attention_weights(Y, W, r), weights, N * (1 + d2_scale.amax((-2, -1), keepdim=True)))


def test_weights_of_without_log_derivative() -> None:
    """D^{-1} B for a rho without log rho' (min(z, 1): rho' = 1 below its kink z = 1, else 0): on a chain of
    points 0.8 apart, rho'(dist2 / 2) is 1 for neighbours (dist2 = 0.64) and 0 two apart (dist2 = 2.56, whose
    third would be below the kink), so the rows hold 2, 3, 3, 2 ones and dividing by anything but the row
    sums shows."""
    Y = torch.tensor([[[0.0, 0.0], [0.8, 0.0], [1.6, 0.0], [2.4, 0.0]]], dtype=DTYPE)
    W = torch.eye(2, dtype=DTYPE)[None]
    kernel = (ref_dist2(Y, W)[0] / 2 < 1).to(DTYPE)
    assert kernel.sum(-1).tolist() == [[2.0, 3.0, 3.0, 2.0]]
    expected = kernel / kernel.sum(-1, keepdim=True)
    assert_close(attention.weights_of(attention.pairwise_sq_dists(Y, W), MIN_ONE), expected, 1.0)
    assert_close(attention.attention_weights(Y, W, MIN_ONE), expected, 1.0)


def test_rounding_scales_match_their_formula() -> None:
    """rounding_scale = r (||yc_i|| + ||yc_j||)^2, r the largest row sum of the matrix given; the pairwise
    one uses |sym(W)|; the energy scale is sum_ij |rho| + |rho'| rounding_scale_ij."""
    g = gen(5)
    Y, A = randn(g, B, N, D) + 3.0, randn(g, B, D, D).abs()  # A not symmetric: row sums, not column sums
    Yc = Y - Y.mean(-2, keepdim=True)
    for k in range(B):
        r = max(float(A[k][i].sum()) for i in range(D))
        expected = torch.tensor([[r * (float(Yc[k][i].norm()) + float(Yc[k][j].norm())) ** 2 for j in range(N)]
                                 for i in range(N)], dtype=DTYPE)
        assert_close(attention.rounding_scale(Y, A)[k], expected, expected)
    W = randn(g, B, D, D)
    expected = attention.rounding_scale(Y, ((W + W.mT) / 2).abs())
    assert_close(attention.pairwise_rounding_scale(Y, W), expected, expected)
    W = psd_plus_skew(g, B)
    d2 = ref_dist2(Y, W)[0]
    rounding = attention.pairwise_rounding_scale(Y, W)
    for r in (NEG_EXP, LOG1P):
        expected = (r.value(d2 / 2).abs() + r.deriv(d2 / 2).abs() * rounding).sum((-2, -1))
        assert_close(attention.attention_energy_scale(Y, W, r), expected, expected)
        assert_close(attention.energy_with_scale(Y, W, r)[1], expected, expected)


def ref_step(Y: Tensor, W: Tensor, a: Tensor, r: Rho) -> Tensor:
    """(1 - a) y_i + a sum_j B_ij y_j / sum_j B_ij, case by case."""
    kernel = r.deriv(ref_dist2(Y, W)[0] / 2)
    out = torch.zeros_like(Y)
    for k in range(Y.shape[0]):
        for i in range(Y.shape[-2]):
            mean = sum(kernel[k][i, j] * Y[k][j] for j in range(Y.shape[-2])) / kernel[k][i].sum()
            out[k][i] = (1 - a[k]) * Y[k][i] + a[k] * mean
    return out


@pytest.mark.parametrize("r", [NEG_EXP, LOG1P], ids=lambda r: r.name)
@pytest.mark.parametrize("per", [False, True], ids=["float a", "per-case a"])
def test_attention_step_matches_its_definition(per: bool, r: Rho) -> None:
    """T_a(Y) = (1 - a) Y + a D^{-1} B Y, a one float or one per case."""
    g = gen(6)
    Y, W = randn(g, B, N, D), psd_plus_skew(g, B)
    a = torch.tensor([0.3, 1.0, 1.7], dtype=DTYPE) if per else torch.full((B,), 0.7, dtype=DTYPE)
    expected = ref_step(Y, W, a, r)
    computed = attention.attention_step(Y, W, a if per else 0.7, r)
    assert_close(computed, expected, 4 * N * float(Y.abs().max()) * (1 + float(ref_dist2(Y, W)[1].max())))


@pytest.mark.parametrize("r", [NEG_EXP, LOG1P], ids=lambda r: r.name)
def test_energy_gradient_is_the_autograd_gradient(r: Rho) -> None:
    """grad E_att = 2 (D - B) Y sym(W): compared with autograd through the energy, for a non-symmetric W."""
    g = gen(7)
    Y, W = randn(g, B, N, D).requires_grad_(), psd_plus_skew(g, B)
    (grad,) = torch.autograd.grad(attention.attention_energy(Y, W, r).sum(), Y)
    Y = Y.detach()
    scale = 4 * N * float(Y.abs().max()) * float(W.abs().sum((-2, -1)).max()) * (1 + float(ref_dist2(Y, W)[1].max()))
    assert_close(attention.energy_gradient(Y, W, r), grad, scale)


def test_kernel_gradient_of_a_non_symmetric_kernel() -> None:
    """kernel_gradient(Y, Ws, B) = 2 (diag(B 1) - B) Y Ws for any B (row sums, not column sums)."""
    g = gen(8)
    Y, Ws, K = randn(g, B, N, D), randn(g, B, D, D), randn(g, B, N, N)
    expected = torch.stack([2 * (torch.diag(K[k].sum(1)) - K[k]) @ Y[k] @ Ws[k] for k in range(B)])
    scale = 2 * torch.stack([(torch.diag(K[k].abs().sum(1)) + K[k].abs()) @ Y[k].abs() @ Ws[k].abs() for k in range(B)])
    assert_close(attention.kernel_gradient(Y, Ws, K), expected, scale)


def test_surrogate_and_its_decrease() -> None:
    """S(Y; Y0) = E(Y0) + sum_ij beta_ij(Y0) (dist2_ij(Y) - dist2_ij(Y0)) / 2 and the decrease S(Y;Y) - S(Y1;Y)."""
    g = gen(9)
    Y0, Y, W = randn(g, B, N, D), randn(g, B, N, D), psd_plus_skew(g, B)
    (d0, s0), (d, s) = ref_dist2(Y0, W), ref_dist2(Y, W)
    scale = N * N * (1 + s0.amax((-2, -1)) + s.amax((-2, -1)))
    for r in (NEG_EXP, LOG1P):
        expected = r.value(d0 / 2).sum((-2, -1)) + (r.deriv(d0 / 2) * (d - d0)).sum((-2, -1)) / 2
        assert_close(attention.surrogate(Y, Y0, W, r), expected, scale)
        assert_close(attention.surrogate_decrease(Y0, Y, W, r), (r.deriv(d0 / 2) * (d0 - d)).sum((-2, -1)) / 2, scale)


@pytest.mark.parametrize("r", [NEG_EXP, LOG1P], ids=lambda r: r.name)
@pytest.mark.parametrize("per", [False, True], ids=["float a", "per-case a"])
def test_mm_decrease_from_the_spectra(per: bool, r: Rho) -> None:
    """The spectral formula equals S(Y;Y) - S(T_a Y; Y) computed from the distances."""
    g = gen(10)
    Y, W = randn(g, B, N, D), psd_plus_skew(g, B)
    a = torch.tensor([0.4, 1.3, 2.2], dtype=DTYPE)
    Y1 = ref_step(Y, W, a if per else torch.full((B,), 1.3, dtype=DTYPE), r)
    kernel, (d, s), (d1, s1) = r.deriv(ref_dist2(Y, W)[0] / 2), ref_dist2(Y, W), ref_dist2(Y1, W)
    direct = (kernel * (d - d1)).sum((-2, -1)) / 2
    scale = 16 * N * N * (1 + s.amax((-2, -1)) + s1.amax((-2, -1)))
    assert_close(attention.mm_decrease_spectral(Y, W, a if per else 1.3, r), direct, scale)


def test_softmax_steps() -> None:
    """softmax(Y W Y^T) Y, the key-bias form softmax(Y W Y^T - 1 q^T / 2) Y, and the post-norm step."""
    g = gen(11)
    Y, W = randn(g, B, N, D) / 2, psd_plus_skew(g, B)
    scores = torch.stack([torch.tensor([[float(Y[k][i] @ W[k] @ Y[k][j]) for j in range(N)] for i in range(N)],
                                       dtype=DTYPE) for k in range(B)])
    q = scores.diagonal(dim1=-2, dim2=-1)
    scale = 8 * N * float(Y.abs().max()) * (1 + float(ref_dist2(Y, W)[1].max()))
    plain = softmax_rows(scores) @ Y
    assert_close(attention.softmax_step(Y, W), plain, scale)
    assert_close(attention.key_bias_softmax(Y, W), softmax_rows(scores - q[..., None, :] / 2) @ Y, scale)
    z_norms = torch.einsum("kid,kde,kie->ki", plain, W, plain)
    expected = plain * (q.mean(-1, keepdim=True) / z_norms).sqrt()[..., None]
    post = attention.postnorm_softmax_step(Y, W)
    assert_close(post, expected, scale)
    Y_eq = Y / q.sqrt()[..., None]  # equal W-norms 1: every output row gets W-norm 1
    assert_close(attention.w_norms(attention.postnorm_softmax_step(Y_eq, W), W), torch.ones(B, N, dtype=DTYPE), scale)


@pytest.mark.parametrize("r", [NEG_EXP, LOG1P], ids=lambda r: r.name)
@pytest.mark.parametrize("per", [False, True], ids=["float lam", "per-case lam"])
def test_regularized_energy_and_step(per: bool, r: Rho) -> None:
    """E_reg = E_att + (lam/2) sum_i y_i^T W y_i and the Jacobi step (D + (lam/2) I)^{-1} B Y."""
    g = gen(12)
    Y, W = randn(g, B, N, D), psd_plus_skew(g, B)
    lam = torch.tensor([0.5, 2.0, 3.5], dtype=DTYPE) if per else torch.full((B,), 2.0, dtype=DTYPE)
    d2, s = ref_dist2(Y, W)
    kernel = r.deriv(d2 / 2)
    q = torch.einsum("kid,kde,kie->ki", Y, W, Y)
    energy = r.value(d2 / 2).sum((-2, -1)) + lam / 2 * q.sum(-1)
    scale = N * N * (1 + s.amax((-2, -1))) * (1 + lam)
    assert_close(attention.regularized_energy(Y, W, lam if per else 2.0, r), energy, scale)
    step = torch.stack([(kernel[k] @ Y[k]) / (kernel[k].sum(1, keepdim=True) + lam[k] / 2) for k in range(B)])
    assert_close(attention.regularized_step(Y, W, lam if per else 2.0, r), step, 4 * N * (1 + float(s.max())) * float(Y.abs().max()))


# ----------------------------------------------------------------------------------------------- alternating


def pair_problem(seed: int) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """y, P, a, Q, c for a batch of B cases in d = D: P, Q symmetric positive definite."""
    g = gen(seed)
    return randn(g, B, D), spd(g, B), randn(g, B, D), spd(g, B), randn(g, B, D)


def ref_quad(y: Tensor, centre: Tensor, A: Tensor) -> Tensor:
    return torch.stack([(y[k] - centre[k]) @ A[k] @ (y[k] - centre[k]) / 2 for k in range(y.shape[0])])


def ref_grad_step(y: Tensor, A: Tensor, centre: Tensor, t: Tensor) -> Tensor:
    return torch.stack([y[k] - t[k] * A[k] @ (y[k] - centre[k]) for k in range(y.shape[0])])


def magnitude(*xs: Tensor) -> float:
    """1 + the product of the largest entries: the size of the terms of a product of these."""
    return 1 + math.prod(float(x.abs().max()) * x.shape[-1] for x in xs)


def test_quadratics_and_gradient_steps() -> None:
    """quad = (1/2)(y - c)^T A (y - c) (any A), f + h, and the steps y - t A (y - c), t a float or one per case."""
    y, P, a, Q, c = pair_problem(20)
    A = randn(gen(21), B, D, D)
    assert_close(alternating.quad(y, a, A), ref_quad(y, a, A), magnitude(y, A, y))
    assert_close(alternating.pair_energy(y, P, a, Q, c), ref_quad(y, a, P) + ref_quad(y, c, Q), magnitude(y, P, y))
    t = torch.tensor([0.1, 0.5, 0.9], dtype=DTYPE)
    assert_close(alternating.gradient_step(y, A, a, t), ref_grad_step(y, A, a, t), magnitude(y, A))
    assert_close(alternating.gradient_step(y, A, a, 0.3), ref_grad_step(y, A, a, torch.full((B,), 0.3, dtype=DTYPE)), magnitude(y, A))
    cycled = ref_grad_step(ref_grad_step(y, P, a, torch.full((B,), 0.3, dtype=DTYPE)), Q, c, torch.full((B,), 0.3, dtype=DTYPE))
    assert_close(alternating.cycle(y, P, a, Q, c, 0.3), cycled, magnitude(y, P, Q))


def test_joint_minimiser_fixed_point_and_bias() -> None:
    """y* zeroes grad(f + h); y_inf is the fixed point of the cycle (found here from the cycle's affine map);
    the bias is y_inf - y*. A backward-stable solve leaves a residual of eps |A| |x|; its solution is off by
    up to the condition number times that, relative."""
    _, P, a, Q, c = pair_problem(22)
    t = 0.4
    y_star = alternating.joint_minimiser(P, a, Q, c)
    residual = torch.stack([P[k] @ (y_star[k] - a[k]) + Q[k] @ (y_star[k] - c[k]) for k in range(B)])
    terms = magnitude(P, y_star) + magnitude(P, a) + magnitude(Q, c)
    assert_close(residual, torch.zeros_like(residual), terms)
    ts = torch.full((B,), t, dtype=DTYPE)

    def ref_cycle(y: Tensor) -> Tensor:
        return ref_grad_step(ref_grad_step(y, P, a, ts), Q, c, ts)

    u = ref_cycle(torch.zeros(B, D, dtype=DTYPE))
    T = torch.stack([ref_cycle(torch.eye(D, dtype=DTYPE)[i].expand(B, D)) - u for i in range(D)], -1)
    y_inf = torch.linalg.solve(torch.eye(D, dtype=DTYPE) - T, u)
    condition = float(torch.linalg.cond(torch.eye(D, dtype=DTYPE) - T).max() + torch.linalg.cond(P + Q).max())
    scale = condition * terms * magnitude(y_inf)
    assert_close(alternating.cycle_fixed_point(P, a, Q, c, t), y_inf, scale)
    assert_close(alternating.fixed_point_bias(P, a, Q, c, t), y_inf - y_star, scale)


@pytest.mark.parametrize("per", [False, True], ids=["float p, q, t", "per-case p, q, t"])
def test_region_ball_and_change(per: bool) -> None:
    """With P = pI, Q = qI: region_change = (f + h)(f-step(y)) - (f + h)(y); the ball passes through a, and
    the change is 0 on its sphere and positive at its centre."""
    g = gen(23)
    y, a, c = randn(g, B, D), randn(g, B, D), randn(g, B, D)
    p, q, t = (torch.tensor(v, dtype=DTYPE) for v in ([0.5, 1.0, 2.0], [1.5, 0.7, 3.0], [0.3, 0.6, 0.2]))
    if not per:
        p, q, t = (torch.full((B,), float(v[1]), dtype=DTYPE) for v in (p, q, t))
    eye = torch.eye(D, dtype=DTYPE)
    P, Q = p[:, None, None] * eye, q[:, None, None] * eye
    args = (p, q, t) if per else (float(p[0]), float(q[0]), float(t[0]))
    change = ref_quad(ref_grad_step(y, P, a, t), a, P) + ref_quad(ref_grad_step(y, P, a, t), c, Q)
    change = change - ref_quad(y, a, P) - ref_quad(y, c, Q)
    scale = magnitude(y, P, y) + magnitude(a, Q, c)
    assert_close(alternating.region_change(y, a, c, *args), change, scale)
    o, r = alternating.region_ball(a, c, *args)
    g_ratio = q / ((2 - t * p) * (p + q))
    assert_close(o, a + g_ratio[:, None] * (c - a), scale)
    assert_close(r, g_ratio * (c - a).norm(dim=-1), scale)
    assert_close(r, (a - o).norm(dim=-1), scale)
    assert bool((alternating.region_change(o, a, c, *args) > 0).all())


# ----------------------------------------------------------------------------------------------- curves


def test_energy_curve_values_total_and_lists() -> None:
    """values[name][k] = energy after k sublayers; total sums the energies; as_lists gives batch means."""
    Y = randn(gen(30), 2, N, D)  # 2 cases, 3 states: a transposed (states, cases) array shows
    curve = curves.energy_curve([lambda Z: 2 * Z, lambda Z: Z + 1], {"sq": lambda Z: (Z * Z).sum((-2, -1)),
                                                                      "sum": lambda Z: Z.sum((-2, -1))}, Y)
    states = [Y, 2 * Y, 2 * Y + 1]
    expected_sq = torch.stack([(S * S).sum((-2, -1)) for S in states])
    expected_sum = torch.stack([S.sum((-2, -1)) for S in states])
    assert set(curve.values) == {"sq", "sum"}
    terms = expected_sq + torch.stack([S.abs().sum((-2, -1)) for S in states])  # the size of what was summed
    assert_close(curve.values["sq"], expected_sq, terms)
    assert_close(curve.total, expected_sq + expected_sum, terms)
    lists = curve.as_lists()
    assert list(lists) == ["sq", "sum", "total"]
    for name, expected in (("sq", expected_sq), ("sum", expected_sum), ("total", expected_sq + expected_sum)):
        assert len(lists[name]) == 3
        assert_close(torch.tensor(lists[name], dtype=DTYPE), expected.mean(-1), terms.amax(-1))


def test_energy_curve_rejects_bad_arguments() -> None:
    """Each misuse names its argument: no layers, no energies, a non-callable, a layer changing the shape
    (messages matched whole: ^...$)."""
    Y = randn(gen(31), N, D)
    energies = {"e": lambda Z: Z.sum()}
    with pytest.raises(ValueError, match="^layers must hold at least one sublayer$"):
        curves.energy_curve([], energies, Y)
    with pytest.raises(ValueError, match="^energies must name at least one energy$"):
        curves.energy_curve([torch.neg], {}, Y)
    with pytest.raises(TypeError, match=r"^layers\[1\] must be callable, got int$"):
        curves.energy_curve([torch.neg, 3], energies, Y)
    with pytest.raises(ValueError, match=r"^layers\[1\] must map \(5, 4\) to the same shape, got \(5, 3\)$"):
        curves.energy_curve([torch.neg, lambda Z: Z[:, :3]], energies, Y)
    with pytest.raises(ValueError, match=r"^layers\[0\] must map \(5, 4\) to the same shape, got list$"):
        curves.energy_curve([lambda Z: [Z]], energies, Y)
    with pytest.raises(ValueError, match="^inputs must have at least 2 dimensions"):
        curves.energy_curve([torch.neg], energies, torch.ones(3, dtype=DTYPE))


# ----------------------------------------------------------------------------------------------- feedforward


def ff_problem(seed: int) -> tuple[Tensor, Tensor, Tensor]:
    g = gen(seed)
    return randn(g, B, N, D), randn(g, B, D, D), randn(g, B, D)


def test_ff_energy_scale_and_layers() -> None:
    """E_ff = (1/2) sum_i y_i^T (I - M) y_i - sum_i b^T y_i, its magnitude, Y M + 1 b^T, its relu, the t-step."""
    Y, M, b = ff_problem(40)
    energy = torch.stack([sum(Y[k][i] @ (Y[k][i] - M[k].T @ Y[k][i]) / 2 - b[k] @ Y[k][i] for i in range(N)) for k in range(B)])
    A = Y.abs()
    size = torch.stack([sum(A[k][i] @ (A[k][i] + M[k].abs().T @ A[k][i]) / 2 + b[k].abs() @ A[k][i] for i in range(N))
                        for k in range(B)])
    assert_close(feedforward.ff_energy(Y, M, b), energy, size)
    assert_close(feedforward.ff_energy_scale(Y, M, b), size, size)
    layer = torch.stack([torch.stack([Y[k][i] @ M[k] + b[k] for i in range(N)]) for k in range(B)])
    scale = magnitude(Y, M) + magnitude(b)
    assert_close(feedforward.linear_layer(Y, M, b), layer, scale)
    assert_close(feedforward.relu_layer(Y, M, b), layer.clamp(min=0), scale)
    t = torch.tensor([0.2, 0.5, 1.5], dtype=DTYPE)
    assert_close(feedforward.ff_step(Y, M, b, t), (1 - t[:, None, None]) * Y + t[:, None, None] * layer, 2 * scale)
    assert_close(feedforward.ff_step(Y, M, b, 0.5), Y / 2 + layer / 2, 2 * scale)


def test_ff_validates_its_input() -> None:
    """A b of the wrong length, an M of the wrong size: named errors."""
    Y, M, b = ff_problem(41)
    for f in (feedforward.ff_energy, feedforward.linear_layer):
        with pytest.raises(ValueError, match="b must have last dimension 4"):
            f(Y, M, b[..., :3])
        with pytest.raises(ValueError, match="M must be"):
            f(Y, M[..., :3, :3], b)


def test_ff_gradient_exact_change_and_jacobian() -> None:
    """grad E_ff (autograd, any M) = Y (I - sym M) - 1 b^T; for symmetric M the layer's exact change of E_ff
    is -(1/2) tr(G (I + M) G^T); the displacement's Jacobian (autograd) is I_n (x) (M^T - I)."""
    Y, M, b = ff_problem(42)
    Yg = Y.clone().requires_grad_()
    (grad,) = torch.autograd.grad(feedforward.ff_energy(Yg, M, b).sum(), Yg)
    scale = magnitude(Y, M) + magnitude(b)
    assert_close(feedforward.ff_gradient(Y, M, b), grad, scale)
    Ms = (M + M.mT) / 2
    layer = Y @ Ms + b[:, None, :]

    def energy(Z: Tensor) -> Tensor:
        return ((Z * Z).sum((-2, -1)) - (Z * (Z @ Ms)).sum((-2, -1))) / 2 - (Z * b[:, None, :]).sum((-2, -1))

    assert_close(feedforward.ff_exact_change(Y, Ms, b), energy(layer) - energy(Y), 16 * scale * scale)
    n = 3
    jac = torch.autograd.functional.jacobian(lambda Z: (Z @ M[0] + b[0] - Z).reshape(-1), Y[0, :n]).reshape(n * D, n * D)
    assert torch.equal(feedforward.displacement_jacobian(M[0], n), jac)


@pytest.mark.parametrize("per", [False, True], ids=["float t", "per-case t"])
def test_tied_mlp_is_a_gradient_step(per: bool) -> None:
    """E_mlp = (1/2) sum_ik relu(v_k^T y_i + c_k)^2 and the layer Y - t grad E_mlp (autograd)."""
    g = gen(43)
    Y, V, c = randn(g, B, N, D), randn(g, B, 6, D), randn(g, B, 6)
    energy = torch.stack([sum(torch.relu(V[k][j] @ Y[k][i] + c[k][j]) ** 2 / 2 for i in range(N) for j in range(6))
                          for k in range(B)])
    scale = magnitude(Y, V, Y, V) + magnitude(c, c)
    assert_close(feedforward.tied_mlp_energy(Y, V, c), energy, scale)
    Yg = Y.clone().requires_grad_()
    (grad,) = torch.autograd.grad(feedforward.tied_mlp_energy(Yg, V, c).sum(), Yg)
    t = torch.tensor([0.1, 0.4, 0.8], dtype=DTYPE) if per else torch.full((B,), 0.4, dtype=DTYPE)
    assert_close(feedforward.tied_mlp_layer(Y, V, c, t if per else 0.4), Y - t[:, None, None] * grad, scale)


# ----------------------------------------------------------------------------------------------- hopfield


def hop_problem(seed: int, m: int = 2) -> tuple[Tensor, Tensor]:
    """States R (B, m, D) and patterns Y (B, N, D)."""
    g = gen(seed)
    return randn(g, B, m, D), randn(g, B, N, D)


def ref_lse(beta: float, z: Tensor) -> Tensor:
    """(1 / beta) log sum_i exp(beta z_i), written out (moderate beta z only)."""
    return torch.log(torch.exp(beta * z).sum(-1)) / beta


BETAS = torch.tensor([0.5, 1.0, 2.5], dtype=DTYPE)


@pytest.mark.parametrize("per", [False, True], ids=["float beta", "per-case beta"])
def test_lse_and_mean_lse(per: bool) -> None:
    """lse(beta, z) and lse - (1 / beta) log N, with beta one float or one per case (a prefix of z's shape)."""
    z = randn(gen(50), B, 2, N)
    betas = BETAS if per else torch.full((B,), 1.5, dtype=DTYPE)
    expected = torch.stack([ref_lse(float(betas[k]), z[k]) for k in range(B)])
    beta = BETAS if per else 1.5
    scale = N * (1 + z.abs().amax((-2, -1), keepdim=True)[..., 0])
    assert_close(hopfield.lse(beta, z), expected, scale)
    assert_close(hopfield.mean_lse(beta, z), expected - math.log(N) / betas[:, None], scale)


def test_mean_lse_at_extreme_beta() -> None:
    """A spread beta (max z - min z) over 1000 (exp overflows unless the reference is the largest beta z_i), and
    beta = 1e-12, where (1 / beta) log mean exp(beta z) = mean z + beta var z / 2 + O(beta^2)."""
    z = torch.tensor([[-400.0, 900.0, 0.5], [800.0, -700.0, 0.1]], dtype=DTYPE)
    big = torch.logsumexp(z, -1) - math.log(3)
    assert_close(hopfield.mean_lse(1.0, z), big, 900.0)  # the size of the largest beta z_i
    assert_close(hopfield.mean_lse(torch.tensor([1.0, 1.0], dtype=DTYPE), z), big, 900.0)
    small = randn(gen(51), 2, N)
    beta = 1e-12
    expected = small.mean(-1) + beta * small.var(-1, unbiased=False) / 2
    assert_close(hopfield.mean_lse(beta, small), expected, N * small.abs().amax(-1))


@pytest.mark.parametrize("per", [False, True], ids=["float beta", "per-case beta"])
def test_hopfield_energy_and_update(per: bool) -> None:
    """E_hop(xi) = -lse(beta, Y xi) + xi^T xi / 2 + log N / beta + M^2 / 2; xi' = Y^T softmax(beta Y xi) = grad lse
    (autograd): the CCCP step."""
    R, Y = hop_problem(52)
    betas = BETAS if per else torch.full((B,), 1.5, dtype=DTYPE)
    beta = BETAS if per else 1.5
    m2 = torch.tensor([max(float(y @ y) for y in Y[k]) for k in range(B)], dtype=DTYPE)
    energy = torch.stack([torch.stack([-ref_lse(float(betas[k]), Y[k] @ xi) + xi @ xi / 2 + math.log(N) / betas[k] + m2[k] / 2
                                       for xi in R[k]]) for k in range(B)])
    scale = N * (1 + magnitude(R, Y)) + m2[:, None]
    assert_close(hopfield.hopfield_energy(R, Y, beta), energy, scale)
    Rg = R.clone().requires_grad_()
    lse = torch.stack([torch.stack([ref_lse(float(betas[k]), Y[k] @ xi) for xi in Rg[k]]) for k in range(B)])
    (grad,) = torch.autograd.grad(lse.sum(), Rg)
    assert_close(hopfield.hopfield_update(R, Y, beta), grad, N * magnitude(Y) * (1 + magnitude(R, Y)))
    assert_close(hopfield.pattern_radius(Y), m2.sqrt(), magnitude(Y))


def test_self_attention_as_hopfield() -> None:
    """softmax(beta Y Y^T) Y and sum_i E_hop(y_i; patterns = rows of Y)."""
    Y = randn(gen(53), B, N, D)
    m2 = torch.tensor([max(float(y @ y) for y in Y[k]) for k in range(B)], dtype=DTYPE)
    step = softmax_rows(0.7 * Y @ Y.mT) @ Y
    assert_close(hopfield.self_attention_step(Y, 0.7), step, N * magnitude(Y) * (1 + magnitude(Y, Y)))
    energy = torch.stack([sum(-ref_lse(0.7, Y[k] @ y) + y @ y / 2 + math.log(N) / 0.7 + m2[k] / 2 for y in Y[k]) for k in range(B)])
    assert_close(hopfield.self_attention_energy(Y, 0.7), energy, N * N * (1 + magnitude(Y, Y)))


@pytest.mark.parametrize("per", [False, True], ids=["float beta", "per-case beta"])
def test_hopfield_scales_match_their_formula(per: bool) -> None:
    """hopfield_energy_scale = z_max + N min(2 z_max, 1/|beta|) + |xi|^2/2 + M^2/2 and update_sensitivity =
    sum_k |xi'_k - update(xi')_k| (p^T |Y|)_k (1 + |beta| z_max), z_max = max_i |xi|^T |y_i|."""
    R, Y = hop_problem(54, m=2)
    R = R / 4  # z_max both sides of 1 / (2 beta)
    betas = BETAS if per else torch.full((B,), 2.5, dtype=DTYPE)
    beta = BETAS if per else 2.5
    m2 = torch.tensor([max(float(y @ y) for y in Y[k]) for k in range(B)], dtype=DTYPE)
    energy_scale, sensitivity = torch.zeros(B, 2, dtype=DTYPE), torch.zeros(B, 2, dtype=DTYPE)
    for k, s in cases(B, 2):
        xi, bk = R[k][s], float(betas[k])
        z_max = max(float(xi.abs() @ y.abs()) for y in Y[k])
        energy_scale[k, s] = z_max + N * min(2 * z_max, 1 / abs(bk)) + xi @ xi / 2 + m2[k] / 2
        p = softmax_rows(bk * Y[k] @ xi)
        xi1 = Y[k].T @ p
        gradient = xi1 - Y[k].T @ softmax_rows(bk * Y[k] @ xi1)
        sensitivity[k, s] = (gradient.abs() * (Y[k].abs().T @ p)).sum() * (1 + abs(bk) * z_max)
    assert bool((energy_scale > 0).all())
    assert_close(hopfield.hopfield_energy_scale(R, Y, beta), energy_scale, energy_scale)
    assert_close(hopfield.update_sensitivity(R, Y, beta), sensitivity, magnitude(Y) * (1 + magnitude(R, Y)) * N)


@pytest.mark.parametrize("per", [False, True], ids=["float beta", "per-case beta"])
def test_concave_hessian_is_the_autograd_hessian(per: bool) -> None:
    """Hessian of -lse(beta, Y xi) (autograd) = -beta Y^T (diag p - p p^T) Y."""
    g = gen(55)
    xi, Y = randn(g, B, D), randn(g, B, N, D)
    betas = BETAS if per else torch.full((B,), 1.5, dtype=DTYPE)
    hess = torch.stack([torch.autograd.functional.hessian(lambda x, k=k: -ref_lse(float(betas[k]), Y[k] @ x), xi[k])
                        for k in range(B)])
    scale = N * float(betas.max()) * magnitude(Y, Y)
    assert_close(hopfield.concave_hessian(xi, Y, BETAS if per else 1.5), hess, scale)


# ----------------------------------------------------------------------------------------------- icl

NI, DX, DY, BI = 5, 3, 4, 2  # context pairs, x and y features, batch: N + 1 != dx + dy


def icl_problem(seed: int) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """X, Y, xq, W, Gamma for a batch of BI cases."""
    g = gen(seed)
    G = randn(g, BI, DX, DX)
    return randn(g, BI, NI, DX), randn(g, BI, NI, DY), randn(g, BI, DX), randn(g, BI, DY, DX), G @ G.mT / DX


def test_icl_tokens_slots_energy_and_loss() -> None:
    """Z = [[X, Y], [xq, 0]], its slots, E_icl = (1/2N) sum ||r_i||^2, L(W) = (1/2N) sum ||W x_i - y_i||^2."""
    X, Y, xq, W, _ = icl_problem(60)
    Z = icl.icl_tokens(X, Y, xq)
    expected = torch.zeros(BI, NI + 1, DX + DY, dtype=DTYPE)
    expected[:, :NI, :DX], expected[:, :NI, DX:], expected[:, NI, :DX] = X, Y, xq
    assert torch.equal(Z, expected)
    assert torch.equal(icl.context_slots(Z, DX), Y)
    assert torch.equal(icl.query_slot(Z, DX), torch.zeros(BI, DY, dtype=DTYPE))
    energy = torch.tensor([sum(float(Y[k][i] @ Y[k][i]) for i in range(NI)) / (2 * NI) for k in range(BI)], dtype=DTYPE)
    assert_close(icl.icl_energy(Z, DX), energy, energy)
    loss = torch.stack([sum((W[k] @ X[k][i] - Y[k][i]) @ (W[k] @ X[k][i] - Y[k][i]) for i in range(NI)) / (2 * NI)
                        for k in range(BI)])
    assert_close(icl.icl_loss(W, X, Y), loss, magnitude(W, X, W, X) + magnitude(Y, Y))


@pytest.mark.parametrize("per", [False, True], ids=["float eta", "per-case eta"])
def test_gd_step_iterate_and_tokens(per: bool) -> None:
    """W' = W - eta grad L(W) Gamma^T (autograd), `steps` of it from 0, and [[X, Y - X W^T], [xq, -W xq]]."""
    X, Y, xq, W, Gamma = icl_problem(61)
    eta = torch.tensor([0.3, 0.8], dtype=DTYPE) if per else 0.6
    etas = eta if per else torch.full((BI,), 0.6, dtype=DTYPE)

    def ref_step(W: Tensor) -> Tensor:
        Wg = W.clone().requires_grad_()
        (grad,) = torch.autograd.grad(icl.icl_loss(Wg, X, Y).sum(), Wg)
        return W - etas[:, None, None] * grad @ Gamma.mT

    scale = magnitude(W, X, X, Gamma) + magnitude(Y, X, Gamma)
    assert_close(icl.gd_step(W, X, Y, Gamma, eta), ref_step(W), scale)
    Wk = torch.zeros_like(W)
    for steps in range(4):
        assert_close(icl.gd_iterate(X, Y, Gamma, eta, steps), Wk, 4 * scale * (1 + steps) ** 2)
        Wk = ref_step(Wk)
    tokens = torch.cat([torch.cat([X, Y - torch.einsum("kix,kyx->kiy", X, W)], -1),
                        torch.cat([xq, -torch.einsum("kyx,kx->ky", W, xq)], -1)[:, None, :]], -2)
    assert_close(icl.gd_tokens(W, X, Y, xq), tokens, magnitude(X, W) + magnitude(Y))


def ref_lsa(Z: Tensor, Wq: Tensor, Wk: Tensor, Wv: Tensor, Wo: Tensor, masked: bool) -> Tensor:
    """z_i + sum_{j in keys} ((z_i Wq) . (z_j Wk) / N) z_j Wv Wo, by loops."""
    n1 = Z.shape[-2]
    keys = range(n1 - 1) if masked else range(n1)
    out = Z.clone()
    for k in range(Z.shape[0]):
        for i in range(n1):
            out[k][i] = Z[k][i] + sum((Z[k][i] @ Wq[k]) @ (Z[k][j] @ Wk[k]) / (n1 - 1) * (Z[k][j] @ Wv[k] @ Wo[k]) for j in keys)
    return out


@pytest.mark.parametrize("masked", [True, False], ids=["masked", "unmasked"])
def test_linear_self_attention_and_its_loop(masked: bool) -> None:
    """The layer by loops over tokens, with and without the query as a key; `layers` of it in a row; masked
    unless told. The terms' size: the layer on absolute values (twice for two layers)."""
    g = gen(62)
    Z, (Wq, Wk, Wv, Wo) = randn(g, BI, NI + 1, DX + DY) / 2, (randn(g, BI, DX + DY, DX + DY) / 2 for _ in range(4))
    absolute = [M.abs() for M in (Wq, Wk, Wv, Wo)]
    terms = ref_lsa(Z.abs(), *absolute, masked)
    one = icl.linear_self_attention(Z, Wq, Wk, Wv, Wo, masked)
    assert_close(one, ref_lsa(Z, Wq, Wk, Wv, Wo, masked), terms)
    expected = ref_lsa(ref_lsa(Z, Wq, Wk, Wv, Wo, masked), Wq, Wk, Wv, Wo, masked)
    two = icl.looped_layer(Z, Wq, Wk, Wv, Wo, 2, masked)
    assert_close(two, expected, ref_lsa(terms, *absolute, masked))
    assert torch.equal(icl.looped_layer(Z, Wq, Wk, Wv, Wo, 0, masked), Z)
    if masked:
        assert torch.equal(icl.linear_self_attention(Z, Wq, Wk, Wv, Wo), one)
        assert torch.equal(icl.looped_layer(Z, Wq, Wk, Wv, Wo, 2), two)


@pytest.mark.parametrize("per", [False, True], ids=["float eta", "per-case eta"])
def test_gd_construction(per: bool) -> None:
    """Wq = Wv = I, Wk = [[Gamma, 0], [0, 0]]^T, Wo = [[0, 0], [0, -eta I]], and with them the masked layer on
    [[X, Y], [xq, 0]] gives the tokens of W_1 = gd_step(0) (von Oswald et al.)."""
    X, Y, xq, _, Gamma = icl_problem(63)
    eta = torch.tensor([0.3, 0.8], dtype=DTYPE) if per else 0.6
    etas = eta if per else torch.full((BI,), 0.6, dtype=DTYPE)
    Wq, Wk, Wv, Wo = icl.gd_weights(Gamma, eta, DY)
    eye = torch.eye(DX + DY, dtype=DTYPE).expand(BI, -1, -1)
    qk = torch.stack([torch.block_diag(Gamma[k], torch.zeros(DY, DY, dtype=DTYPE)) for k in range(BI)])
    vo = torch.stack([torch.block_diag(torch.zeros(DX, DX, dtype=DTYPE), -etas[k] * torch.eye(DY, dtype=DTYPE)) for k in range(BI)])
    assert torch.equal(Wq, eye) and torch.equal(Wv, eye)
    assert torch.equal(Wk, qk.mT) and torch.equal(Wo, vo)
    assert torch.equal(icl.query_key_product(Gamma, DY), qk)
    assert torch.equal(icl.value_output_product(Gamma, eta, DY), vo)
    W1 = torch.stack([etas[k] * Y[k].T @ X[k] @ Gamma[k].T / NI for k in range(BI)])
    tokens = torch.cat([torch.cat([X, Y - X @ W1.mT], -1), torch.cat([xq, -(W1 @ xq[..., None])[..., 0]], -1)[:, None]], -2)
    Z = torch.cat([torch.cat([X, Y], -1), torch.cat([xq, torch.zeros(BI, DY, dtype=DTYPE)], -1)[:, None]], -2)
    assert_close(icl.linear_self_attention(Z, Wq, Wk, Wv, Wo), tokens, magnitude(X, Gamma, X, Y) + magnitude(Y))


@pytest.mark.parametrize("per", [False, True], ids=["float eta", "per-case eta"])
def test_kernel_and_residual_map(per: bool) -> None:
    """K = X Gamma X^T / N entrywise, (I - eta K) R."""
    X, Y, _, _, Gamma = icl_problem(64)
    eta = torch.tensor([0.3, 0.8], dtype=DTYPE) if per else 0.6
    etas = eta if per else torch.full((BI,), 0.6, dtype=DTYPE)
    K = torch.tensor([[[float(X[k][i] @ Gamma[k] @ X[k][j]) / NI for j in range(NI)] for i in range(NI)] for k in range(BI)],
                     dtype=DTYPE)
    assert_close(icl.preconditioned_kernel(X, Gamma), K, magnitude(X, Gamma, X))
    expected = torch.stack([Y[k] - etas[k] * K[k] @ Y[k] for k in range(BI)])
    assert_close(icl.residual_map(Y, X, Gamma, eta), expected, magnitude(X, Gamma, X, Y) + magnitude(Y))


def test_convergence_factor_and_null_space_loss() -> None:
    """rho = max_{lam > floor} |1 - eta lam| (0 for none); L_inf = (1/2N) ||P_0 R||^2 over |lam| <= floor."""
    lam = torch.tensor([[-5.0, 0.1, 0.5, 2.0, 3.0], [0.1, 0.1, 0.1, 0.05, -0.1]], dtype=DTYPE)
    eta, floor = torch.tensor([0.5, 0.5], dtype=DTYPE), torch.tensor([0.1, 0.2], dtype=DTYPE)
    # case 0: lam = 0.1 sits on the floor (excluded); 0.5, 2, 3 give 0.75, 0, 0.5; case 1: none above the floor
    assert torch.equal(icl.convergence_factor(lam, eta, floor), torch.tensor([0.75, 0.0], dtype=DTYPE))
    assert_close(icl.convergence_factor(lam[:1], 0.9, 0.05), torch.tensor([1.7], dtype=DTYPE), 4.0)
    assert torch.equal(icl.convergence_factor(lam[1:], 1.0, 0.2), torch.tensor([0.0], dtype=DTYPE))
    Q = torch.linalg.qr(randn(gen(65), 2, NI, NI)).Q
    R = randn(gen(66), 2, NI, DY)
    expected = torch.zeros(2, dtype=DTYPE)
    for k in range(2):
        for m in range(NI):
            if abs(float(lam[k, m])) <= float(floor[k]):  # case 0: the 0.1 on the floor; case 1: all five
                expected[k] += float((Q[k][:, m] @ R[k]) @ (Q[k][:, m] @ R[k])) / (2 * NI)
    assert_close(icl.null_space_loss(R, lam, Q, floor), expected, magnitude(R, R))
    assert_close(icl.null_space_loss(R[:1], lam[:1], Q[:1], 0.1), expected[:1], magnitude(R, R))


@pytest.mark.parametrize("masked", [True, False], ids=["masked", "unmasked"])
def test_layer_rounding_matches_its_formula(masked: bool) -> None:
    """E' = E + |S| (Ek |Wv Wo|) / N + |Z| + (|Z| |Wq|)(|Zk| |Wk|)^T (|Zk| |Wv| |Wo|) / N, layer by layer, by loops."""
    X, Y, xq, _, Gamma = icl_problem(67)
    Wq, Wk, Wv, Wo = icl.gd_weights(Gamma, 0.4, DY)
    Wo = Wo + 0.01 * randn(gen(68), BI, DX + DY, DX + DY)  # no zero pattern to hide a wrong factor
    Z = icl.icl_tokens(X, Y, xq)
    n1, keys = NI + 1, range(NI) if masked else range(NI + 1)
    expected, E = torch.zeros(BI, n1, DX + DY, dtype=DTYPE), torch.zeros(BI, n1, DX + DY, dtype=DTYPE)
    for _ in range(3):
        for k in range(BI):
            VO = (Wv[k] @ Wo[k]).abs()
            absVO = Wv[k].abs() @ Wo[k].abs()
            for i in range(n1):
                carried = sum(abs(float((Z[k][i] @ Wq[k]) @ (Z[k][j] @ Wk[k]))) * (E[k][j] @ VO) for j in keys) / NI
                summed = Z[k][i].abs() + sum(float((Z[k][i].abs() @ Wq[k].abs()) @ (Z[k][j].abs() @ Wk[k].abs()))
                                             * (Z[k][j].abs() @ absVO) for j in keys) / NI
                expected[k][i] = E[k][i] + carried + summed
        E = expected.clone()
        Z = ref_lsa(Z, Wq, Wk, Wv, Wo, masked)
    computed = icl.layer_rounding(icl.icl_tokens(X, Y, xq), Wq, Wk, Wv, Wo, 3, masked)
    assert_close(computed, expected, expected)
    if masked:
        assert torch.equal(icl.layer_rounding(icl.icl_tokens(X, Y, xq), Wq, Wk, Wv, Wo, 3), computed)


@pytest.mark.parametrize("per", [False, True], ids=["float eta", "per-case eta"])
def test_iterate_rounding_matches_its_formula(per: bool) -> None:
    """E' = E + |eta| (|X| E^T)^T |X| |Gamma|^T / N + |W| + |eta| (|Y| + |X| |W|^T)^T |X| |Gamma|^T / N."""
    X, Y, _, _, Gamma = icl_problem(69)
    Gamma = Gamma + 0.1 * randn(gen(70), BI, DX, DX)  # not symmetric: |Gamma|^T, not |Gamma|
    eta = torch.tensor([-0.3, 0.8], dtype=DTYPE) if per else -0.6
    etas = (eta if per else torch.full((BI,), -0.6, dtype=DTYPE)).abs()
    W, E = torch.zeros(BI, DY, DX, dtype=DTYPE), torch.zeros(BI, DY, DX, dtype=DTYPE)
    for _ in range(3):
        new = torch.zeros_like(E)
        for k in range(BI):
            spread = X[k].abs() @ Gamma[k].abs().T / NI  # (N, dx)
            for y, x in cases(DY, DX):
                carried = sum(float(X[k][i].abs() @ E[k][y]) * spread[i, x] for i in range(NI))
                added = sum(float(Y[k][i, y].abs() + X[k][i].abs() @ W[k][y].abs()) * spread[i, x] for i in range(NI))
                new[k][y, x] = E[k][y, x] + etas[k] * carried + W[k][y, x].abs() + etas[k] * added
        E = new
        W = icl.gd_step(W, X, Y, Gamma, eta)
    computed = icl.iterate_rounding(X, Y, Gamma, eta, 3)
    assert_close(computed, E, E)
    assert torch.equal(icl.iterate_rounding(X, Y, Gamma, eta, 0), torch.zeros(BI, DY, DX, dtype=DTYPE))


def test_tensors_made_inside_follow_the_inputs_dtype_and_device() -> None:
    """Zeros and identities built inside take the inputs' dtype and device (meta tensors: no data, any mix
    with a CPU tensor is an error; float16: an identity in the default float32 would promote the result)."""
    meta = {"dtype": torch.float16, "device": "meta"}
    X, Y = torch.empty(BI, NI, DX, **meta), torch.empty(BI, NI, DY, **meta)
    xq, G = torch.empty(BI, DX, **meta), torch.empty(BI, DX, DX, **meta)
    outputs = [icl.icl_tokens(X, Y, xq), icl.gd_iterate(X, Y, G, 0.5, 1), *icl.gd_weights(G, 0.5, DY),
               icl.query_key_product(G, DY), icl.value_output_product(G, 0.5, DY), icl.iterate_rounding(X, Y, G, 0.5, 1),
               icl.value_output_product(G, torch.empty(BI, **meta), DY), feedforward.displacement_jacobian(torch.empty(D, D, **meta), 3),
               hopfield.hopfield_energy_scale(X, X, 0.5), hopfield.hopfield_energy_scale(X, X, torch.empty(BI, **meta)),
               norm.degenerate_rows(torch.empty(BI, NI, 1, **meta))]
    for out in outputs[:-1]:
        assert out.device.type == "meta" and out.dtype == torch.float16
    assert outputs[-1].device.type == "meta" and outputs[-1].dtype == torch.bool


# ----------------------------------------------------------------------------------------------- layers


def test_self_attention_single_and_multi_head() -> None:
    """sum_h softmax(Y Wq_h (Y Wk_h)^T) Y Wv_h Wo_h, one head as (d, k) matrices or h heads stacked."""
    g = gen(80)
    Y = randn(g, B, N, D) / 2
    Wq, Wk, Wv, Wo = randn(g, 2, D, 3), randn(g, 2, D, 3), randn(g, 2, D, 6), randn(g, 2, 6, D)
    heads = [softmax_rows((Y @ Wq[h]) @ (Y @ Wk[h]).mT) @ Y @ Wv[h] @ Wo[h] for h in range(2)]
    scale = N * magnitude(Y, Wv, Wo) * (1 + magnitude(Y, Wq, Y, Wk))
    assert_close(layers.self_attention(Y, Wq[0], Wk[0], Wv[0], Wo[0]), heads[0], scale)
    assert_close(layers.self_attention(Y, Wq, Wk, Wv, Wo), heads[0] + heads[1], scale)
    assert_close(layers.attention_block(Y, Wq, Wk, Wv, Wo), Y + heads[0] + heads[1], scale)
    assert_close(layers.attention_block(Y, Wq, Wk, Wv, Wo, torch.tanh), torch.tanh(Y + heads[0] + heads[1]), scale)


def test_norms_ffn_and_gelu_against_torch() -> None:
    """layer_norm (eps inside the root), the affine norm, act(Y W1 + b1) W2 + b2 (relu unless given), exact gelu."""
    g = gen(81)
    Y, gamma, beta = randn(g, B, N, D), randn(g, D), randn(g, D)
    for eps in (0.0, 0.5):
        centred = Y - Y.mean(-1, keepdim=True)
        expected = centred / torch.sqrt((centred * centred).sum(-1, keepdim=True) / D + eps)
        assert_close(layers.torch_layer_norm(Y, eps), expected, 16.0)
        if eps == 0.0:
            assert_close(layers.torch_layer_norm(Y), expected, 16.0)
        reference = torch.nn.functional.layer_norm(Y, (D,), gamma, beta, eps)
        assert_close(layers.affine_layer_norm(Y, gamma, beta, eps), reference, 16 * magnitude(gamma) + magnitude(beta))
    W1, b1, W2, b2 = randn(g, D, 6), randn(g, 6), randn(g, 6, D), randn(g, D)
    scale = magnitude(Y, W1, W2) + magnitude(b1, W2) + magnitude(b2)
    assert_close(layers.feed_forward(Y, W1, b1, W2, b2), torch.relu(Y @ W1 + b1) @ W2 + b2, scale)
    assert_close(layers.feed_forward(Y, W1, b1, W2, b2, torch.tanh), torch.tanh(Y @ W1 + b1) @ W2 + b2, scale)
    X = torch.linspace(-4.0, 4.0, 33, dtype=DTYPE)
    assert_close(layers.gelu(X), torch.nn.functional.gelu(X), 4.0)
    assert_close(layers.gelu(X), torch.tensor([x * (1 + math.erf(x / math.sqrt(2))) / 2 for x in X.tolist()], dtype=DTYPE), 4.0)


def test_biased_attention_and_transformer_block() -> None:
    """head_h = softmax(s (Y Wq_h + bq_h)(Y Wk_h + bk_h)^T)(Y Wv_h + bv_h) Wo_h, their sum plus bo, and the
    post-norm block norm(Z + ffn(Z)), Z = norm(Y + attention(Y))."""
    g = gen(82)
    Y = randn(g, B, N, D) / 2
    Wq, Wk, Wv, Wo = randn(g, 2, D, 3), randn(g, 2, D, 3), randn(g, 2, D, 3), randn(g, 2, 3, D)
    bq, bk, bv, bo = randn(g, 2, 3), randn(g, 2, 3), randn(g, 2, 3), randn(g, D)
    heads = torch.stack([softmax_rows(0.6 * (Y @ Wq[h] + bq[h]) @ (Y @ Wk[h] + bk[h]).mT) @ (Y @ Wv[h] + bv[h]) @ Wo[h]
                         for h in range(2)], -3)
    scale = N * (magnitude(Y, Wv, Wo) + magnitude(bv, Wo)) * (1 + magnitude(Y, Wq, Y, Wk) + magnitude(bq, bk))
    assert_close(layers.biased_attention_heads(Y, Wq, bq, Wk, bk, Wv, bv, Wo, 0.6), heads, scale)
    assert_close(layers.biased_self_attention(Y, Wq, bq, Wk, bk, Wv, bv, Wo, bo, 0.6), heads.sum(-3) + bo, scale)
    W1, b1, W2, b2 = randn(g, D, 6), randn(g, 6), randn(g, 6, D), randn(g, D)

    def ln(Z: Tensor) -> Tensor:
        return torch.nn.functional.layer_norm(Z, (D,))

    attn = sum(softmax_rows((Y @ Wq[h]) @ (Y @ Wk[h]).mT) @ Y @ Wv[h] @ Wo[h] for h in range(2))
    Z = ln(Y + attn)
    expected = ln(Z + torch.relu(Z @ W1 + b1) @ W2 + b2)
    block = layers.transformer_block(Y, (Wq, Wk, Wv, Wo), (W1, b1, W2, b2), ln)
    # each norm multiplies the rounding it is handed by sqrt(d) times its condition number (norm.condition)
    kappa = norm.condition(Y + attn).amax() * norm.condition(Z + torch.relu(Z @ W1 + b1) @ W2 + b2).amax()
    ffn_terms = magnitude(Z, W1, W2) + magnitude(b1, W2) + magnitude(b2)
    assert_close(block, expected, D * kappa * (scale + ffn_terms))


# ----------------------------------------------------------------------------------------------- norm


def test_norm_projections() -> None:
    """LN = sqrt(d) P y / ||P y||, RMS = sqrt(d) y / ||y||, the ball projection, the distance identity."""
    g = gen(90)
    Y = randn(g, B, N, D) + 1.0
    P = torch.stack([torch.stack([y - y.sum() / D for y in Yk]) for Yk in Y])
    assert_close(norm.centre_features(Y), P, D * magnitude(Y))
    assert_close(norm.layer_norm(Y), math.sqrt(D) * P / P.norm(dim=-1, keepdim=True), 16.0)
    assert_close(norm.rms_norm(Y), math.sqrt(D) * Y / Y.norm(dim=-1, keepdim=True), 16.0)
    for factor in (0.3, 3.0):  # inside and outside the ball {1^T x = 0, ||x||^2 <= d}
        Z = factor * P / P.norm(dim=-1, keepdim=True) * math.sqrt(D)
        expected = Z if factor < 1 else math.sqrt(D) * P / P.norm(dim=-1, keepdim=True)
        assert_close(norm.centred_ball_projection(Z + 0.7), expected, 16 * magnitude(Z))
    x = norm.layer_norm(randn(g, B, N, D))
    lhs, rhs = norm.centred_sphere_distance_identity(x, Y)
    assert_close(lhs, ((x - Y) ** 2).sum(-1), 4 * magnitude(x - Y) ** 2)
    assert_close(rhs, lhs, 4 * magnitude(x - Y) ** 2)


def test_norm_errors_and_degenerate_rows() -> None:
    """d = 1, a constant row, a zero row are named errors (messages matched from their start); a row is
    degenerate when ||P y|| <= 4 eps sqrt(d) max|y|, and every row is when d < 2."""
    with pytest.raises(ValueError, match="^Y must have d >= 2 features for layer norm"):
        norm.layer_norm(torch.ones(3, 1, dtype=DTYPE))
    with pytest.raises(ValueError, match=r"^Y has a constant row \(P y = 0\)"):
        norm.layer_norm(torch.tensor([[1.0, 2.0], [3.0, 3.0]], dtype=DTYPE))
    with pytest.raises(ValueError, match="^Y has a zero row: RMS norm is undefined there$"):
        norm.rms_norm(torch.tensor([[1.0, 2.0], [0.0, 0.0]], dtype=DTYPE))
    for f in (norm.layer_norm, norm.rms_norm):
        with pytest.raises(ValueError, match="^Y must have at least 1 dimensions"):
            f(torch.tensor(1.0, dtype=DTYPE))
        with pytest.raises(TypeError, match="^Y must be a torch.Tensor"):
            f([1.0, 2.0])
    y = torch.tensor([3.0, 5.0], dtype=DTYPE)  # one token (1-D) is fine: sqrt(2) y / ||y||, sqrt(2) P y / ||P y||
    assert_close(norm.rms_norm(y), math.sqrt(2) * y / math.sqrt(34), 4.0)
    assert_close(norm.layer_norm(y), torch.tensor([-1.0, 1.0], dtype=DTYPE), 4.0)
    for d in (0, 1):  # P y = 0 for every row (d = 1), or no features at all (d = 0: no max|y| to scale by)
        flags = norm.degenerate_rows(torch.ones(2, 3, d, dtype=DTYPE))
        assert flags.dtype == torch.bool and torch.equal(flags, torch.ones(2, 3, dtype=torch.bool))
    Y = torch.tensor([[[1.0, 2.0, 3.0, 4.0], [5.0, 5.0, 5.0, 5.0], [0.5, -1.0, 0.25, 1.0]]], dtype=DTYPE)
    assert torch.equal(norm.degenerate_rows(Y), torch.tensor([[False, True, False]]))
    assert torch.equal(norm.degenerate_rows(Y[..., :2]), torch.tensor([[False, True, False]]))  # d = 2 is enough
    # 3 rows of d = 4: floors 4 eps sqrt(4) max|y| = 16 eps, 16 eps, 32 eps exactly (max|y| = 2, 2, 4)
    rows = torch.tensor([[[2.0, 0.0, 0.0, 0.0], [0.0, -2.0, 0.0, 0.0], [4.0, 0.0, 0.0, 0.0]]], dtype=DTYPE)
    norms = torch.tensor([[16 * EPS, 17 * EPS, 31 * EPS]], dtype=DTYPE)
    assert torch.equal(norm._degenerate_rows(norms, rows), torch.tensor([[True, False, True]]))


def test_condition_number() -> None:
    """kappa = 1 + max_rows ||t||_inf / ||P y|| (||y|| uncentred), t = |y| or the terms given, per matrix
    (here over two leading dimensions); centred unless told."""
    g = gen(91)
    Y, T = randn(g, 2, B, N, D) + 0.5, randn(g, 2, B, N, D).abs() * 3
    P = Y - Y.mean(-1, keepdim=True)
    for centred, rows in ((True, P), (False, Y)):
        for terms, size in ((None, Y.abs()), (T, T)):
            expected = 1 + torch.tensor([[max(float(size[h][k][i].max() / rows[h][k][i].norm()) for i in range(N))
                                          for k in range(B)] for h in range(2)], dtype=DTYPE)
            assert_close(norm.condition(Y, centred, terms), expected, 16 * expected)
            if centred:
                assert_close(norm.condition(Y, terms=terms), expected, 16 * expected)


# ----------------------------------------------------------------------------------------------- paper


def test_paper_model() -> None:
    """The paper's energies and forwards from their formulas: sum_{i>j} -exp(-||(y_i - y_j)^T V||^2 / 2) +
    ||Y V||^2 / 2, softmax(Y V^T V Y^T) Y, (D + I)^{-1} B Y, (1/2) tr(Y U Y^T) + (1/2) ||Y - 1 b^T||^2,
    -Y sym(U) + 1 b^T (and its relu)."""
    g = gen(100)
    Y, V, U, b = randn(g, B, N, D) / 2, randn(g, B, D, D) / 2, randn(g, B, D, D), randn(g, B, D)
    energy = torch.zeros(B, dtype=DTYPE)
    kernel = torch.zeros(B, N, N, dtype=DTYPE)
    for k in range(B):
        for i, j in itertools.product(range(N), repeat=2):
            kernel[k][i, j] = torch.exp(-((Y[k][i] - Y[k][j]) @ V[k]).square().sum() / 2)
            if i > j:
                energy[k] -= kernel[k][i, j]
        energy[k] += (Y[k] @ V[k]).square().sum() / 2
    scale = N * N * magnitude(Y, V, Y, V)
    assert_close(paper.paper_attention_energy(Y, V), energy, scale)
    assert_close(paper.paper_attention_forward(Y, V), softmax_rows(Y @ V.mT @ V @ Y.mT) @ Y, scale)
    corrected = torch.stack([(kernel[k] @ Y[k]) / (kernel[k].sum(1, keepdim=True) + 1) for k in range(B)])
    assert_close(paper.corrected_attention_forward(Y, V), corrected, scale)
    ffn = torch.stack([sum(Y[k][i] @ U[k] @ Y[k][i] / 2 + (Y[k][i] - b[k]) @ (Y[k][i] - b[k]) / 2 for i in range(N))
                       for k in range(B)])
    scale = magnitude(Y, U, Y) + magnitude(Y - b[:, None], Y - b[:, None])
    assert_close(paper.paper_ffn_energy(Y, U, b), ffn, scale)
    forward = -Y @ ((U + U.mT) / 2) + b[:, None, :]
    assert_close(paper.paper_ffn_forward(Y, U, b), forward, scale)
    assert_close(paper.paper_ffn_forward(Y, U, b, relu=True), forward.clamp(min=0), scale)


def test_clipped_psd() -> None:
    """A A^T with eigenvalues clipped to [0, top]: same eigenvectors (it commutes with A A^T), clipped spectrum,
    and A A^T itself when its spectrum is already below top."""
    A = randn(gen(101), B, D, D)
    S = A @ A.mT
    for top in (0.95, 2.0):
        C = paper.clipped_psd(A, top)
        scale = 16 * D * magnitude(S)
        assert_close(C, C.mT, scale)
        assert_close(C @ S, S @ C, scale * magnitude(S))
        assert_close(torch.linalg.eigvalsh(C), torch.linalg.eigvalsh(S).clamp(0.0, top), scale)
    small = 0.1 * A / torch.linalg.matrix_norm(A, ord=2)[:, None, None]
    assert_close(paper.clipped_psd(small), small @ small.mT, 16.0)
    assert_close(paper.clipped_psd(A), paper.clipped_psd(A, 0.95), 16.0)


# ----------------------------------------------------------------------------------------------- batching


def test_two_leading_batch_dimensions() -> None:
    """On inputs with leading shape (2, 3) each function equals itself on the two (3,) slices (which the
    tests above check against the references): every reduction runs over the trailing dimensions it
    names, and per-case parameters of shape (2, 3) line up with their cases."""
    g = gen(110)
    Y, W = randn(g, 2, B, N, D) / 2, psd_plus_skew(g, 2, B)
    y, P, a, c, xi = randn(g, 2, B, D), spd(g, 2, B), randn(g, 2, B, D), randn(g, 2, B, D), randn(g, 2, B, D)
    p, q, t = (torch.rand(2, B, generator=g, dtype=DTYPE) + 0.2 for _ in range(3))
    X, Yi, xq, Wi = randn(g, 2, BI, NI, DX), randn(g, 2, BI, NI, DY), randn(g, 2, BI, DX), randn(g, 2, BI, DY, DX)
    Gamma, eta, floor = spd(g, 2, BI, d=DX), torch.rand(2, BI, generator=g, dtype=DTYPE), torch.full((2, BI), 0.3, dtype=DTYPE)
    lam = torch.randn(2, BI, NI, generator=g, dtype=DTYPE)
    Qo, R = torch.linalg.qr(randn(g, 2, BI, NI, NI)).Q, randn(g, 2, BI, NI, DY)
    checks: list[tuple[Callable[..., Tensor | tuple[Tensor, ...]], tuple[object, ...]]] = [
        (alternating.quad, (y, a, P)),
        (alternating.region_ball, (a, c, p, q, t)),
        (alternating.region_change, (y, a, c, p, q, t)),
        (attention.rounding_scale, (Y, W.abs())),
        (attention.postnorm_softmax_step, (Y, W)),
        (attention.regularized_energy, (Y, W, p)),
        (attention.mm_decrease_spectral, (Y, W, t)),
        (hopfield.pattern_radius, (Y,)),
        (hopfield.concave_hessian, (xi, Y, p)),
        (hopfield.self_attention_energy, (Y, p)),
        (icl.icl_tokens, (X, Yi, xq)),
        (icl.gd_tokens, (Wi, X, Yi, xq)),
        (icl.gd_weights, (Gamma, eta, DY)),
        (icl.query_key_product, (Gamma, DY)),
        (icl.value_output_product, (Gamma, eta, DY)),
        (icl.convergence_factor, (lam, eta, floor)),
        (icl.null_space_loss, (R, lam, Qo, floor)),
        (norm.degenerate_rows, (Y,)),
        (norm.condition, (Y,)),
    ]
    for f, args in checks:
        whole = f(*args)
        parts = [f(*(x[h] if isinstance(x, Tensor) else x for x in args)) for h in range(2)]
        for k, w in enumerate(whole if isinstance(whole, tuple) else (whole,)):
            part = torch.stack([pt[k] if isinstance(pt, tuple) else pt for pt in parts])
            if part.dtype == torch.bool:
                assert torch.equal(w, part), f.__name__
            else:
                assert_close(w, part, 16 * (1 + part.abs().amax()))
