"""The falsification benchmark's table: relations whose truth is settled by proof or by an explicit failing input.

Half true, half false. The false ones include tiny perturbations of true ones (a factor 1 + 1e-7,
a transposed weight, a sign flip, a step 1% too long), failures confined to narrow regions (two
tokens within 4e-7 or 8e-6 of each other, rows of large norm, nearly parallel rows, a cone around
one direction, one eigenvector's direction), and equivalences that only differ for n >= 3 or d >= 2.
`rare` records how seldom uniform draws of the inputs fail where that is under 1 in 500
(`failure_rate` with 200 000 draws, seed 0); `why` mentions it for the other narrow ones.

Domains: a true entry's float functions must agree with its proof to within the API's documented
tolerance (eps times the size of Y, of the outputs, of the energies and their sensitivity to the
input), or the benchmark would measure rounding, not search. verify.math.attention computes
distances in Gram form on centred tokens, which rounds like eps |y_i - mean|^2 (with tokens 1e3
apart, a close pair's distance carries an error 1e6 eps), and softmax outputs round like eps |logits|
|y|; so the true attention and softmax entries are stated on |Y| <= 1 or 1/2, or on two tokens.

Notation: E is the energy, G its gradient at Y, c_k the coordinates of a row in an eigenbasis
{u_k} of a symmetric matrix with eigenvalues lam_k, D^{-1} B the attention weights of
verify.math.attention, LN(y) = sqrt(d) P y / ||P y|| (0 where P y = 0).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor

import verify.running.falsification.functions as fn
from verify.math.attention import attention_energy, attention_step, attention_weights, key_bias_softmax, softmax_step
from verify.math.feedforward import ff_energy, ff_gradient, ff_step, linear_layer, relu_layer, tied_mlp_energy, tied_mlp_layer
from verify.math.rho import LOG1P, Rho
from verify.running.falsification.domains import inputs
from verify.running.falsification.entry import Entry

WIDTH_2 = inputs(d=(2, 2))
WIDTH_3 = inputs(d=(3, 3))
WIDTH_4 = inputs(d=(4, 4))
WIDTH_4_NONNEG = inputs(d=(4, 4), nonneg=True)
BOX_3 = inputs(bound=3.0)
BOX_1 = inputs(bound=1.0)  # attention's Gram-form distances round like eps |y - mean|^2: kept within the API's tolerance
BOX_HALF = inputs(bound=0.5)  # ... and softmax outputs round like eps |logits| |y|: kept within eps |Y|
ONE_TOKEN = inputs(n=(1, 1))
UP_TO_TWO_TOKENS = inputs(n=(1, 2))  # for attention: no far token makes the centred Gram form cancel


# --- steps and energies bound to their weights (Y -> tensor) ----------------------------------

Map = Callable[[Tensor], Tensor]


def _quad_energy(Y: Tensor) -> Tensor:
    return fn.quadratic(Y, fn.A2)


def _attention(W: Tensor | float, a: float, rho: Rho | None = None) -> tuple[Map, Map]:
    """(step, energy) of attention with weight W (a matrix cut to Y's width, or a multiple of I)."""

    def weight(Y: Tensor) -> Tensor:
        return fn.eye_like(Y, W) if isinstance(W, float) else fn.square_block(W, Y)

    extra = {} if rho is None else {"rho": rho}
    return (lambda Y: attention_step(Y, weight(Y), a, **extra)), (lambda Y: attention_energy(Y, weight(Y), **extra))


def _ff(M: Tensor, b: Tensor) -> tuple[Map, Map]:
    """(linear layer, E_ff) with M, b on width 4."""
    return (lambda Y: linear_layer(Y, fn.like(M, Y), fn.like(b, Y))), (lambda Y: ff_energy(Y, fn.like(M, Y), fn.like(b, Y)))


def _mlp_energy(Y: Tensor) -> Tensor:
    return tied_mlp_energy(Y, fn.leading(fn.V_MLP, Y), fn.like(fn.C_MLP, Y))


def _mlp_step(Y: Tensor, t: float) -> Tensor:
    return tied_mlp_layer(Y, fn.leading(fn.V_MLP, Y), fn.like(fn.C_MLP, Y), t)


def _linear(M: Tensor, Y: Tensor) -> Tensor:
    return linear_layer(Y, fn.square_block(M, Y), fn.leading(fn.B4, Y))


ATT_PSD_1 = _attention(1.0, 1.0)
ATT_PSD_2 = _attention(fn.W_PSD_SINGULAR, 2.0)
ATT_LOG1P = _attention(1.0, 1.5, LOG1P)
ATT_LONG = _attention(1.0, 2.5)
ATT_INDEFINITE = _attention(-1.0, 1.0)
ATT_NEARLY_PSD = _attention(fn.W_NEARLY_PSD, 1.0)
ATT_SHARP_2 = _attention(fn.SHARP, 2.0)
ATT_SHARP_3 = _attention(fn.SHARPEST, 3.0)
FF_LMIN_ONE = _ff(fn.M_LMIN_ONE, fn.B4)
FF_LMIN_BELOW = _ff(fn.M_LMIN_BELOW, 0 * fn.B4)

DESCENT = (
    Entry(
        "quad-gd-inside", "descent", partial(fn.quadratic_step, A=fn.A2, t=0.4), _quad_energy, True,
        "E = tr(Y A Y^T)/2, A = [[3,1],[1,3]] (lam 2, 4): per row E(y - tAy) - E(y) = -t sum lam^2 (1 - t lam/2) c^2 <= 0 as t lam <= 1.6",
        WIDTH_2,
    ),
    Entry(
        "quad-gd-at-two-over-L", "descent", partial(fn.quadratic_step, A=fn.A2, t=0.5), _quad_energy, True,
        "t = 2/L = 0.5 exactly: the change -t sum lam^2 (1 - t lam/2) c^2 is 0 along (1, 1) (lam 4) and < 0 along (1, -1)",
        WIDTH_2,
    ),
    Entry(
        "quad-gd-outside", "descent", partial(fn.quadratic_step, A=fn.A2, t=0.6), _quad_energy, False,
        "t = 0.6 > 2/L: fails iff sum_rows 3.2 c_4^2 > 1.6 c_2^2 (rows near (1, 1)); Y = [[1, 1]]: E 4 -> 7.84",
        WIDTH_2, witness=((1.0, 1.0),),
    ),
    Entry(
        "quad-gd-step-1pct-long", "descent", partial(fn.quadratic_step, A=fn.A2, t=0.505), _quad_energy, False,
        "t = 1.01 * 2/L: fails iff sum_rows 0.16 c_4^2 > 1.98 c_2^2 (rows within ~16 deg of (1, 1)); Y = [[1, 1]]: E 4 -> 4.1616",
        WIDTH_2, witness=((1.0, 1.0),),
    ),
    Entry(
        "scale-down-1e-7", "descent", lambda Y: (1 - 1e-7) * Y, fn.half_sq_norm, True,
        "E((1 - 1e-7) Y) = (1 - 1e-7)^2 E(Y) <= E(Y) as E >= 0",
    ),
    Entry(
        "scale-up-1e-7", "descent", lambda Y: (1 + 1e-7) * Y, fn.half_sq_norm, False,
        "E((1 + 1e-7) Y) = (1 + 2e-7 + 1e-14) E(Y) > E(Y) for every Y != 0; Y = [[1]]: E 0.5 -> 0.5000001",
        witness=((1.0,),),
    ),
    Entry(
        "ff-layer-lmin-minus-one", "descent", *FF_LMIN_ONE, True,
        "M = Q diag(-1, -1/2, 1/2, 2) Q (Q = I - 11^T/2): E_ff(YM + 1b^T) - E_ff(Y) = -tr(G (I + M) G^T)/2 <= 0 as I + M >= 0",
        WIDTH_4,
    ),
    Entry(
        "ff-layer-lmin-below-minus-one", "descent", *FF_LMIN_BELOW, False,
        "M = 2I + (lmin - 2) u u^T, lmin = -1 - 2^-7, u = (.3, .7, -.5, .4)/sqrt(.99), b = 0: the change -tr(G (I + M) G^T)/2, "
        "G = Y (I - M), is > 0 iff sum_rows 3 |c_perp|^2 < 2^-7 2.0078^2 c_u^2 (the rows within ~5.9 deg of +-u); Y = [u]: +0.0158",
        WIDTH_4, witness=(tuple(fn.U_BOTTOM.tolist()),), rare="about 1 in 3,300 draws",
    ),
    Entry(
        "relu-layer-prox-descent", "descent", lambda Y: relu_layer(Y, fn.like(fn.M_LMIN_ONE, Y), fn.like(fn.B4, Y)),
        FF_LMIN_ONE[1], True,
        "Y >= 0: relu(YM + 1b^T) is a proximal gradient step (t = 1) on E_ff + indicator(Y >= 0), whose gradient is "
        "L-Lipschitz with L = lmax(I - M) = 2 <= 2/t, so F(Y+) <= F(Y) - (1/t - L/2) ||Y+ - Y||^2",
        WIDTH_4_NONNEG,
    ),
    Entry(
        "attention-psd-step-1", "descent", *ATT_PSD_1, True,
        "MM: rho = -exp(-z) concave gives E_att <= S(.; Y); W = I makes B a Gaussian kernel (PSD), so 1 - mu in [0, 1] and "
        "S(T_a Y; Y) - S(Y; Y) = -sum_k w_k sum_m a (1-mu_m)^2 (2 - a (1-mu_m)) c_km^2 <= 0 for a = 1",
        BOX_1,
    ),
    Entry(
        "attention-psd-step-2", "descent", *ATT_PSD_2, True,
        "as attention-psd-step-1 with W = diag(1, 1/2, 1/4, 0) (PSD, singular: B still a Gaussian kernel of W^{1/2} y) and "
        "a = 2: 2 - a (1 - mu) = 2 mu >= 0",
        BOX_1,
    ),
    Entry(
        "attention-log1p-step", "descent", *ATT_LOG1P, True,
        "rho = log(1 + z): concave, and its kernel 1 / (1 + ||y_i - y_j||^2 / 2) is PSD (inverse multiquadric), so the MM "
        "bound holds for a = 1.5 <= 2, W = I",
        BOX_1,
    ),
    Entry(
        "attention-step-too-long", "descent", *ATT_LONG, False,
        "a = 2.5 > 2, W = I: two tokens (n = 2) at distance r move to |1 - 2a e/(1+e)| r (e = exp(-r^2/2)), farther apart iff "
        "e > 1/(a-1), i.e. r < 0.9; Y = [[0], [0.5]]",
        witness=((0.0,), (0.5,)),
    ),
    Entry(
        "attention-indefinite", "descent", *ATT_INDEFINITE, False,
        "W = -I: E_att = -sum exp(||y_i - y_j||^2 / 2) rises as the step pulls tokens together; Y = [[0], [1]]: "
        "E -2 - 2e^0.5 -> higher",
        witness=((0.0,), (1.0,)),
    ),
    Entry(
        "attention-nearly-psd", "descent", *ATT_NEARLY_PSD, False,
        "W = p p^T - 1e-6 e e^T (e at 1.6534 rad, p its normal), a = 1, n = 2: a difference within 0.057 deg of e has "
        "dist2 < 0, and the step shrinks |dist2|, raising E; Y = [[0, 0], e]: E up by ~1e-6",
        WIDTH_2, witness=((0.0, 0.0), tuple(fn.E_NEGATIVE.tolist())), rare="about 1 in 1,900 draws",
    ),
    Entry(
        "attention-sharp-step-2", "descent", *ATT_SHARP_2, True,
        "W = 1e6 I (PSD, Gaussian kernel) and a = 2: the MM bound of attention-psd-step-1",
        UP_TO_TWO_TOKENS,
    ),
    Entry(
        "attention-sharp-step-3", "descent", *ATT_SHARP_3, False,
        "W = 1e13 I, a = 3: a pair at distance r separates (E rises) iff e = exp(-1e13 r^2 / 2) > 1/(a-1) = 1/2, i.e. "
        "r < 3.7e-7 (pairs farther apart do not interact); Y = [[0], [2e-7]]",
        witness=((0.0,), (2e-7,)), rare="about 1 in 540 draws",
    ),
    Entry(
        "tied-mlp-gradient-step", "descent", partial(_mlp_step, t=fn.T_MLP), _mlp_energy, True,
        "E_mlp = sum relu(Y V^T + 1c^T)^2 / 2 has a ||V||^2-Lipschitz gradient relu(YV^T + 1c^T) V; descent lemma with "
        "t = 1/||V||^2: E(Y - tG) <= E(Y) - t (1 - tL/2) ||G||^2",
    ),
    Entry(
        "tied-mlp-sign-flip", "descent", partial(_mlp_step, t=-fn.T_MLP), _mlp_energy, False,
        "Y + t G: E_mlp is convex, so E(Y + tG) >= E(Y) + t ||G||^2 > E(Y) whenever a unit is active; Y = [[1]] "
        "(pre-activations 1.2, 0.4, 0.05)",
        witness=((1.0,),),
    ),
    Entry(
        "radial-shrink-inside", "descent", partial(fn.radial_shrink, R=6.5), fn.half_sq_norm, True,
        "y -> y (9/10 + ||y||^2 / (10 R^2)), R = 6.5: the factor is in [0.9, 1) for ||y|| <= 6 (|entries| <= 3, d <= 4), "
        "so every row shrinks",
        BOX_3,
    ),
    Entry(
        "radial-shrink-large-norm", "descent", partial(fn.radial_shrink, R=5.9), fn.half_sq_norm, False,
        "R = 5.9: rows with ||y|| > 5.9 (only d = 4, at a corner of [-3, 3]^4) grow; fails iff their growth beats the "
        "other rows' shrinking (1 in 90 draws: the sign regime, scaled into the box, sits at its corners); "
        "Y = [[3, 3, 3, 3]]: factor 1.0034",
        BOX_3, witness=((3.0, 3.0, 3.0, 3.0),),
    ),
)


# --- equivalences ------------------------------------------------------------------------------


def _kb(W: Tensor) -> Map:
    """Y -> softmax(Y W Y^T - 1 q^T / 2) Y with W cut to Y's width."""
    return lambda Y: key_bias_softmax(Y, fn.square_block(W, Y))


def _mm_weights(Y: Tensor) -> Tensor:
    return attention_weights(Y, fn.square_block(fn.W_SYM, Y)) @ Y


def _centred(layer: Map, Y: Tensor) -> Tensor:
    """layer(Y - 1 m^T) + 1 m^T, m the mean token: the layer run on centred tokens, the mean put back."""
    m = Y.mean(-2, keepdim=True)
    return layer(Y - m) + m


def _softmax(Y: Tensor) -> Tensor:
    return softmax_step(Y, fn.square_block(fn.W_SYM, Y))


def _query_bias(Y: Tensor) -> Tensor:
    return fn.query_bias_softmax(Y, fn.square_block(fn.W_SYM, Y))


def _attention_identity(Y: Tensor) -> Tensor:
    return attention_step(Y, fn.eye_like(Y), 1.0)


def _ff_step(Y: Tensor) -> Tensor:
    return ff_step(Y, fn.square_block(fn.M_SYM, Y), fn.leading(fn.B4, Y), 0.5)


def _ff_gradient(Y: Tensor) -> Tensor:
    return ff_gradient(Y, fn.square_block(fn.M_SYM, Y), fn.leading(fn.B4, Y))


def _nonneg_layer(Y: Tensor) -> Tensor:
    return linear_layer(Y, fn.square_block(fn.M_NONNEG, Y), fn.leading(fn.B_NONNEG, Y))


EQUIVALENCE = (
    Entry(
        "keybias-softmax-symmetric-W", "equivalence", _mm_weights, _kb(fn.W_SYM), True,
        "W symmetric: B_ij = exp(-q_i/2) exp(y_i^T W y_j - q_j/2) and the row factor exp(-q_i/2) cancels in D^{-1} B",
        BOX_HALF,
    ),
    Entry(
        "keybias-softmax-asymmetric-W", "equivalence", _mm_weights, _kb(fn.W_ASYM), False,
        "D^{-1} B sees sym(W) only, the softmax sees W's skew part y_i^T K y_j (not constant per row); equal for d = 1 "
        "(no skew part) and n = 1; Y = [[1, 0], [0, 1]]",
        witness=((1.0, 0.0), (0.0, 1.0)),
    ),
    Entry(
        "softmax-query-bias-drops", "equivalence", _query_bias, _softmax, True,
        "a bias -q_i/2 constant along row i of the logits cancels in the row softmax",
        BOX_HALF,
    ),
    Entry(
        "softmax-key-bias-drops", "equivalence", _kb(fn.W_SYM), _softmax, False,
        "the key bias -q_j/2 varies along a row unless all q_j are equal; Y = [[0], [1]] (W = 0.3): logits [0, -0.15] "
        "against [0, 0]",
        witness=((0.0,), (1.0,)),
    ),
    Entry(
        "keybias-softmax-centring", "equivalence", partial(_centred, _kb(fn.W_SYM)), _kb(fn.W_SYM), True,
        "W symmetric: the key-bias weights are D^{-1} B, a function of the differences y_i - y_j, and sum to 1, so "
        "T(Y - 1m^T) + 1m^T = T(Y) for any m, here the mean token",
        BOX_HALF,
    ),
    Entry(
        "softmax-centring", "equivalence", partial(_centred, _softmax), _softmax, False,
        "shifting every token by -m adds -m^T W y_j to the logits of key j (not constant per row) unless W m = 0; "
        "Y = [[0], [1]], W = 0.3: query 0's weights (0.54, 0.46) against (0.5, 0.5)",
        witness=((0.0,), (1.0,)),
    ),
    Entry(
        "attention-permutation-equivariant", "equivalence", lambda Y: _attention_identity(Y.flip(-2)),
        lambda Y: _attention_identity(Y).flip(-2), True,
        "T(Y) row i depends on y_i and the set {y_j} only (weights from distances): T(Pi Y) = Pi T(Y) for the reversal Pi",
        BOX_HALF,
    ),
    Entry(
        "layer-norm-scale-by-two", "equivalence", lambda Y: fn.centred_rms(2 * Y), fn.centred_rms, True,
        "LN(c y) = sqrt(d) c P y / (c ||P y||) = LN(y) for c > 0 (and 0 where P y = 0)",
    ),
    Entry(
        "layer-norm-odd", "equivalence", lambda Y: fn.centred_rms(-Y), lambda Y: -fn.centred_rms(Y), True,
        "P(-y) = -P y and ||-P y|| = ||P y||, so LN(-y) = -LN(y)",
    ),
    Entry(
        "layer-norm-sign-flip", "equivalence", lambda Y: fn.centred_rms(-Y), fn.centred_rms, False,
        "LN(-y) = -LN(y) differs from LN(y) wherever P y != 0, i.e. some row is not constant (needs d >= 2); "
        "Y = [[1, 0]]: (-1, 1) against (1, -1)",
        witness=((1.0, 0.0),),
    ),
    Entry(
        "ff-step-is-gradient-step", "equivalence", _ff_step, lambda Y: Y - 0.5 * _ff_gradient(Y), True,
        "M symmetric: (1 - t) Y + t (Y M + 1b^T) = Y - t (Y (I - M) - 1b^T) = Y - t grad E_ff(Y), t = 1/2",
    ),
    Entry(
        "ff-step-sign-flip", "equivalence", _ff_step, lambda Y: Y + 0.5 * _ff_gradient(Y), False,
        "Y + t G against Y - t G: differ wherever G = Y (I - M) - 1b^T != 0; Y = [[1]]: G = -0.1",
        witness=((1.0,),),
    ),
    Entry(
        "linear-layer-transposed-twice", "equivalence", lambda Y: (fn.square_block(fn.M_LIN, Y).mT @ Y.mT).mT + fn.leading(fn.B4, Y),
        partial(_linear, fn.M_LIN), True,
        "(M^T Y^T)^T = Y M: the same sums of products",
    ),
    Entry(
        "linear-layer-transposed-weight", "equivalence", partial(_linear, fn.M_LIN.mT), partial(_linear, fn.M_LIN), False,
        "M^T - M is 0.01 at (1, 0) and 0.05 at (3, 2) (and minus that at the transposed places), so Y M^T != Y M for d >= 2 "
        "unless every row vanishes on the first two features (and, d = 4, the last two); Y = [[1, 0]]: Y (M^T - M) = (0, 0.01)",
        witness=((1.0, 0.0),),
    ),
    Entry(
        "linear-layer-factor-1e-7", "equivalence", partial(_linear, fn.M_LIN), lambda Y: (1 + 1e-7) * _linear(fn.M_LIN, Y),
        False,
        "differs by 1e-7 |Y M + 1b^T| wherever the layer's output is nonzero; Y = [[1]]: 1.1 against 1.10000011",
        witness=((1.0,),),
    ),
    Entry(
        "relu-of-nonneg-layer", "equivalence", lambda Y: torch.relu(_nonneg_layer(Y)), _nonneg_layer, True,
        "Y >= 0, M >= 0 and b >= 0 entrywise give Y M + 1b^T >= 0, where relu is the identity",
        WIDTH_4_NONNEG,
    ),
    Entry(
        "relu-commutes-with-layer", "equivalence", lambda Y: torch.relu(_nonneg_layer(Y)),
        lambda Y: _nonneg_layer(torch.relu(Y)), False,
        "relu(Y M + 1b^T) against relu(Y) M + 1b^T: differ once a negative entry meets a positive weight; "
        "Y = [[-1]]: relu(-0.4) = 0 against 0.1",
        witness=((-1.0,),),
    ),
    Entry(
        "rank-one-gram-one-token", "equivalence", fn.rank_one_gram, fn.frobenius_scaled, True,
        "n = 1: Y Y^T = ||y||^2 is a 1 x 1 matrix, so Y Y^T Y = ||Y||_F^2 Y",
        ONE_TOKEN,
    ),
    Entry(
        "rank-one-gram", "equivalence", fn.rank_one_gram, fn.frobenius_scaled, False,
        "Y Y^T Y = ||Y||_F^2 Y iff Y has rank <= 1 (Y = s u v^T: both are s^3 u v^T): fails only for n, d >= 2, rows not parallel; "
        "Y = [[1, 0], [0, 1]]: Y against 2 Y",
        witness=((1.0, 0.0), (0.0, 1.0)),
    ),
    Entry(
        "mean-is-midrange-two-tokens", "equivalence", fn.centre_mean, fn.centre_midrange, True,
        "n <= 2: the mean of one or two numbers is the midpoint of their range (computed as the same sum / 2)",
        UP_TO_TWO_TOKENS,
    ),
    Entry(
        "mean-is-midrange", "equivalence", fn.centre_mean, fn.centre_midrange, False,
        "for n >= 3 the mean differs from the midrange unless the middle values balance; Y = [[0], [0], [1]]: 1/3 against 1/2",
        witness=((0.0,), (0.0,), (1.0,)),
    ),
    Entry(
        "nearly-parallel-rows", "equivalence", lambda Y: Y, partial(fn.parallel_bump, tau=1 - 1e-4), False,
        "the bump relu(cos^2(y_i, y_j) - (1 - 1e-4)) y_j is nonzero only for two rows within 0.01 rad of (anti)parallel "
        "(1 in 4 draws: coincident, low-rank, sign and integer rows often are); Y = [[1, 2, 3], [2, 4, 6]]",
        WIDTH_3, witness=((1.0, 2.0, 3.0), (2.0, 4.0, 6.0)),
    ),
    Entry(
        "relu-cone-unit", "equivalence", lambda Y: Y, partial(fn.cone_unit, v=fn.V_CONE, c=fn.COS_CONE), False,
        "the unit relu(y^T v - 0.9999 ||y||) is nonzero only for rows within 0.81 deg of v = (-1.9, -0.3, -0.3)/sqrt(3.79) "
        "(flat outside: no gradient leads there); Y = [v]: moves by 1e-4 v",
        WIDTH_3, witness=(tuple(fn.V_CONE.tolist()),), rare="about 1 in 11,000 draws",
    ),
    Entry(
        "sharp-attention-is-identity", "equivalence", lambda Y: attention_step(Y, fn.eye_like(Y, fn.VERY_SHARP), 1.0),
        lambda Y: Y, False,
        "W = 1e12 I: y_i moves by sum_j w_ij (y_j - y_i), w_ij ~ exp(-5e11 ||y_i - y_j||^2): visible only for two distinct "
        "tokens within ~8e-6 (1 in 54 draws); Y = [[0], [1e-6]]: y_0 -> 3.8e-7",
        witness=((0.0,), (1e-6,)),
    ),
)

ENTRIES: tuple[Entry, ...] = DESCENT + EQUIVALENCE
