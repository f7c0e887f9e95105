"""Hypothesis strategies: small composable builders for tokens, weights, steps and cases.

Sizes are drawn first, from small ranges, and everything else is built from them, so
that shrinking reaches n = 2..3, d = 1..2. Matrices are float64 numpy arrays; a case is
converted to the dtype and device under test only when it is checked.

Random draws are weak adversaries for several failing regimes, so each family mixes in
the targeted generators the spec asks for:
- nearly coincident tokens (steps with a > 2 on W >= 0),
- heterogeneous token norms and RMS rows clustered on the extreme eigenvectors of an
  ill-conditioned non-scalar W (the plain softmax step),
- gradients on the bottom eigenvector of M (FF with lmin(M) just below -1).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from verify.case import Case
from verify.rho import RHOS, Rho

# --- numbers and plain matrices -------------------------------------------------------


TINY = 1e-12


def _flush(x: float) -> float:
    return 0.0 if abs(x) < TINY else x


@cache
def reals(low: float, high: float, **kw: bool) -> st.SearchStrategy[float]:
    """Finite float64 numbers in [low, high]; magnitudes below 1e-12 become 0.

    Numbers like 1e-267 are valid floats but only test underflow in squares, not the claims.
    """
    base = st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False, **kw)
    if low <= 0.0 <= high and not kw:
        return base.map(_flush)
    return base


@cache
def log_uniform(low: float, high: float) -> st.SearchStrategy[float]:
    """10**u for u uniform in [log10 low, log10 high]: spreads draws over scales."""
    return reals(math.log10(low), math.log10(high)).map(lambda u: 10.0**u)


@cache
def matrices(rows: int, cols: int, bound: float = 3.0) -> st.SearchStrategy[np.ndarray]:
    """A (rows, cols) float64 array with entries in [-bound, bound]; shrinks to zeros."""
    return arrays(np.float64, (rows, cols), elements=reals(-bound, bound))


def orthogonal(A: np.ndarray) -> np.ndarray:
    """The Q of A = QR with sign-fixed columns: A = 0 gives I, so shrinking gives diagonals."""
    Q, R = np.linalg.qr(A)
    signs = np.where(np.diag(R) < 0, -1.0, 1.0)
    return Q * signs


@st.composite
def spectral(draw: st.DrawFn, d: int, eigenvalues: st.SearchStrategy[float]) -> np.ndarray:
    """Q diag(w) Q^T with w drawn from `eigenvalues` and Q orthogonal."""
    w = np.array(draw(st.lists(eigenvalues, min_size=d, max_size=d)))
    Q = orthogonal(draw(matrices(d, d, 1.0)))
    S = (Q * w) @ Q.T
    return (S + S.T) / 2


@cache
def scalar_matrix(d: int, low: float, high: float) -> st.SearchStrategy[np.ndarray]:
    """c I with c in [low, high]."""
    return reals(low, high).map(lambda c: c * np.eye(d))


@st.composite
def with_antisymmetric(draw: st.DrawFn, symmetric_part: st.SearchStrategy[np.ndarray], d: int) -> np.ndarray:
    """S + K with K = -K^T != 0 (needs d >= 2): an asymmetric matrix with a given sym part."""
    S = draw(symmetric_part)
    A = draw(matrices(d, d, 1.0))
    s = draw(reals(0.1, 1.5))
    K = (A - A.T) / 2
    K[0, 1] += s
    K[1, 0] -= s
    return S + K


# --- attention weights W --------------------------------------------------------------


@st.composite
def ill_conditioned_psd(draw: st.DrawFn, d: int) -> np.ndarray:
    """W > 0 with eigenvalues w1 * ratio^u_k, w1 in [0.3, 10], ratio in [2, 30], u_k in [0, 1]
    (one end of the spectrum pinned at each extreme): the non-scalar W that breaks the plain
    softmax step on RMS rows."""
    low, ratio = draw(log_uniform(0.3, 10.0)), draw(log_uniform(2.0, 30.0))
    fractions = [0.0, 1.0, *draw(st.lists(reals(0.0, 1.0), min_size=max(d - 2, 0), max_size=max(d - 2, 0)))][:d]
    w = low * ratio ** np.array(fractions)
    Q = orthogonal(draw(matrices(d, d, 1.0)))
    S = (Q * w) @ Q.T
    return (S + S.T) / 2


@cache
def psd_weights(d: int) -> st.SearchStrategy[np.ndarray]:
    """W >= 0: scalar, generic, spread over 3 decades, or ill-conditioned with large eigenvalues."""
    return st.one_of(
        scalar_matrix(d, 0.0, 3.0),
        spectral(d, reals(0.0, 3.0)),
        spectral(d, log_uniform(1e-2, 10.0)),
        ill_conditioned_psd(d),
    )


@st.composite
def indefinite_weights(draw: st.DrawFn, d: int) -> np.ndarray:
    """Symmetric W with lmin(W) < 0 (negative scalars included)."""
    kind = draw(st.sampled_from(["scalar", "spectral"]))
    if kind == "scalar":
        return draw(scalar_matrix(d, -2.0, -0.05))
    w = draw(st.lists(reals(-2.0, 2.0), min_size=d, max_size=d))
    w[0] = -abs(w[0]) - 0.05
    Q = orthogonal(draw(matrices(d, d, 1.0)))
    S = (Q * np.array(w)) @ Q.T
    return (S + S.T) / 2


@cache
def weights(kind: str, d: int) -> st.SearchStrategy[np.ndarray]:
    """W of a named kind: psd, scalar, ill-conditioned, negative-scalar, indefinite, symmetric, asymmetric, any."""
    if kind == "psd":
        return psd_weights(d)
    if kind == "scalar":
        return scalar_matrix(d, 0.0, 3.0)
    if kind == "ill-conditioned":
        return ill_conditioned_psd(d) if d >= 2 else scalar_matrix(d, 0.0, 3.0)
    if kind == "negative-scalar":
        return scalar_matrix(d, -2.0, -0.05)
    if kind == "indefinite":
        return indefinite_weights(d)
    if kind == "symmetric":
        return st.one_of(psd_weights(d), indefinite_weights(d))
    if kind == "asymmetric":
        return with_antisymmetric(psd_weights(d), d)
    if kind == "any":
        asymmetric = [with_antisymmetric(psd_weights(d), d)] if d >= 2 else []
        return st.one_of(psd_weights(d), indefinite_weights(d), *asymmetric)
    raise ValueError(f"unknown weight kind {kind!r}")


# --- token matrices Y ------------------------------------------------------------------


def _unit_rows(Z: np.ndarray) -> np.ndarray:
    """Rows scaled to norm 1 (zero rows become e_1)."""
    norms = np.linalg.norm(Z, axis=1, keepdims=True)
    E = np.zeros_like(Z)
    E[:, 0] = 1.0
    return np.where(norms > 1e-8, Z / np.maximum(norms, 1e-300), E)


def equal_w_norm_rows(Z: np.ndarray, W: np.ndarray, r: float) -> np.ndarray:
    """Rows with equal q_i = y_i^T sym(W) y_i = s r^2, s the sign W allows (any symmetric W).

    A row of the wrong sign gets its component on the extreme eigenvector u (eigenvalue
    of sign s) replaced: z -> z_perp + k u with k chosen to make s q > 0; then it is scaled.
    """
    S = (W + W.T) / 2
    lam, U = np.linalg.eigh(S)
    size = np.max(np.abs(lam))
    if size < 1e-12:
        return r * _unit_rows(Z)
    # the sign with a clearly nonzero eigenvalue: a +1e-17 top eigenvalue of a negative W is rounding
    s, j = (1.0, int(np.argmax(lam))) if lam[-1] > 1e-9 * size else (-1.0, int(np.argmin(lam)))
    u, lu = U[:, j], abs(lam[j])
    rows = []
    for z in Z:
        q = z @ S @ z
        if s * q < 1e-6 * (1 + z @ z) * lu:
            z_perp = z - (z @ u) * u
            q_perp = z_perp @ S @ z_perp
            z = z_perp + math.sqrt((abs(q_perp) + r * r) / lu) * u
            q = z @ S @ z
        rows.append(z * r / math.sqrt(s * q))
    return np.array(rows)


@st.composite
def token_matrices(draw: st.DrawFn, kind: str, n: int, d: int, W: np.ndarray | None = None) -> np.ndarray:
    """Y of a named kind.

    free:          entries in [-3, 3]
    coincident:    free tokens shrunk by a factor in [1e-3, 1] (nearly coincident tokens)
    nonneg:        entries in [0, 3]
    negative:      entries in [-3, 0]
    equal-norms:   equal q_i = y_i^T sym(W) y_i (needs W)
    rms:           rows of norm sqrt(d)
    heterogeneous: rows with norms spread over two decades
    eigen-cluster: RMS rows near the extreme eigenvectors of W (needs W)
    unequal-norms: heterogeneous, rms or eigen-cluster rows
    offset:        free tokens plus a large common offset per row (ill-conditioned for LN)
    """
    if kind == "free":
        return draw(matrices(n, d))
    if kind == "coincident":
        return draw(matrices(n, d)) * draw(log_uniform(1e-3, 1.0))
    if kind == "nonneg":
        return np.abs(draw(matrices(n, d)))
    if kind == "negative":
        return -np.abs(draw(matrices(n, d)))
    if kind == "equal-norms":
        assert W is not None, "equal-norms tokens need W"
        return equal_w_norm_rows(draw(matrices(n, d)), W, draw(reals(0.1, 3.0)))
    if kind == "rms":
        return math.sqrt(d) * _unit_rows(draw(matrices(n, d)))
    if kind == "heterogeneous":
        scales = np.array(draw(st.lists(log_uniform(0.05, 5.0), min_size=n, max_size=n)))
        return _unit_rows(draw(matrices(n, d))) * scales[:, None]
    if kind == "eigen-cluster":
        assert W is not None, "eigen-cluster tokens need W"
        _, U = np.linalg.eigh((W + W.T) / 2)
        picks = draw(st.lists(st.sampled_from([0, d - 1]), min_size=n, max_size=n))
        noise = draw(matrices(n, d, 0.4))
        return math.sqrt(d) * _unit_rows(U[:, picks].T + noise)
    if kind == "unequal-norms":
        sub = draw(st.sampled_from(["heterogeneous", "rms", "eigen-cluster"]))
        return draw(token_matrices(sub, n, d, W))
    if kind == "offset":
        offsets = np.array(draw(st.lists(reals(-100.0, 100.0), min_size=n, max_size=n)))
        return draw(matrices(n, d)) + offsets[:, None]
    raise ValueError(f"unknown token kind {kind!r}")


# --- rho and step sizes -------------------------------------------------------------------

RHO_KINDS: dict[str, tuple[str, ...]] = {
    "exp": ("neg_exp",),
    "concave": ("neg_exp", "log1p", "log_sigmoid", "min_one", "linear"),
    "concave-not-exp": ("log1p", "log_sigmoid", "min_one", "linear"),
    "psd-kernel": ("neg_exp", "log1p", "linear"),
    "convex": ("exp", "square"),
}


@cache
def rhos(kind: str) -> st.SearchStrategy[Rho]:
    """A rho of a named class (see RHO_KINDS)."""
    return st.sampled_from([RHOS[name] for name in RHO_KINDS[kind]])


def step_limit(rho: Rho) -> float:
    """The largest MM step with guaranteed descent: 2 for a PSD kernel, else 1."""
    return 2.0 if rho.psd_kernel else 1.0


@cache
def step_sizes(kind: str, rho: Rho) -> st.SearchStrategy[float]:
    """a in [0, limit] ('kernel'), [0, 1] ('unit'), or (limit, limit + 2] ('beyond')."""
    limit = step_limit(rho)
    if kind == "kernel":
        return st.one_of(st.just(limit), reals(0.0, limit))
    if kind == "unit":
        return reals(0.0, 1.0)
    if kind == "beyond":
        return reals(limit, limit + 2.0, exclude_min=True)
    raise ValueError(f"unknown step kind {kind!r}")


# --- whole cases -----------------------------------------------------------------------------


@st.composite
def sizes(draw: st.DrawFn, n: tuple[int, int], d: tuple[int, int]) -> tuple[int, int]:
    """(n, d) drawn first, from small ranges."""
    return draw(st.integers(*n)), draw(st.integers(*d))


@st.composite
def attention_cases(
    draw: st.DrawFn,
    weight: str = "psd",
    tokens: str = "free",
    rho: str = "exp",
    step: str | None = "kernel",
    n: tuple[int, int] = (2, 5),
    d: tuple[int, int] = (1, 3),
) -> Case:
    """Case(Y, W, rho[, a]) for the ATT claims; `tokens` may be 'free+coincident' to mix."""
    min_d = 2 if weight == "asymmetric" else d[0]
    n_, d_ = draw(sizes(n, (min_d, max(min_d, d[1]))))
    W = draw(weights(weight, d_))
    r = draw(rhos(rho))
    kind = draw(st.sampled_from(tokens.split("+")))
    Y = draw(token_matrices(kind, n_, d_, W))
    fields: dict[str, object] = {"Y": Y, "W": W, "rho": r.name}
    if step is not None:
        fields["a"] = draw(step_sizes(step, r))
    return Case(**fields)


@st.composite
def majorize_cases(draw: st.DrawFn, weight: str = "any", rho: str = "concave") -> Case:
    """Case(Y0, Y, W, rho): a base point and a second point, near or far."""
    base = draw(attention_cases(weight=weight, tokens="free+coincident", rho=rho, step=None, d=(1, 3)))
    Y0 = base.tensor("Y").numpy()
    near = draw(st.booleans())
    delta = draw(matrices(*Y0.shape)) * (draw(log_uniform(1e-3, 1.0)) if near else 1.0)
    return Case(Y0=Y0, Y=Y0 + delta, W=base["W"], rho=base["rho"])


@st.composite
def regularized_cases(draw: st.DrawFn, weight: str = "psd", rho: str = "concave") -> Case:
    """Case(Y, W, rho, lam) for the regularized step."""
    base = draw(attention_cases(weight=weight, tokens="free+coincident", rho=rho, step=None))
    return Case(**base, lam=draw(reals(0.0, 4.0)))


@st.composite
def attention_layer_cases(
    draw: st.DrawFn, weight: str = "symmetric", tokens: str = "equal-norms", value: str = "scalar", norm: str = "any"
) -> Case:
    """Case(Y, Wq, Wk, Wv, Wo, W, c, norm): a standard layer with Wq Wk^T = W and Wv Wo = c I.

    Wq = R with R well conditioned, Wk = W^T R^{-T}; Wv = S, Wo = c S^{-1} ('scalar') or a
    generic Wo ('generic').
    """
    # n <= 4, d <= 2: equivalence fails (or not) already there, and every extra weight entry
    # costs the shrinker a pass over a case of five matrices
    base = draw(attention_cases(weight=weight, tokens=tokens, rho="exp", step=None, n=(2, 4), d=(1, 2)))
    W = base.tensor("W").numpy()
    d = W.shape[0]
    R = np.eye(d) + 0.3 * draw(matrices(d, d, 1.0))
    S = np.eye(d) + 0.3 * draw(matrices(d, d, 1.0))
    c = draw(reals(0.0, 3.0))
    if value == "scalar":
        Wo = c * np.linalg.inv(S)
    elif value == "generic":
        Wo = c * np.linalg.inv(S) + draw(matrices(d, d, 1.0).filter(lambda E: np.abs(E).max() > 0.05))
    else:
        raise ValueError(f"unknown value kind {value!r}")
    norm_name = draw(st.sampled_from(["layer_norm", "rms_norm"])) if norm == "any" else norm
    if norm_name == "layer_norm" and d < 2:
        norm_name = "rms_norm"
    return Case(Y=base["Y"], W=W, Wq=R, Wk=W.T @ np.linalg.inv(R).T, Wv=S, Wo=Wo, c=c, norm=norm_name)


# --- feed-forward cases ------------------------------------------------------------------------


@cache
def ff_matrices(kind: str, d: int) -> st.SearchStrategy[np.ndarray]:
    """M of a named kind: lmin>=-1, below-minus-one (just below and far below), expansive (spectrum in
    [1.2, 3]: the FF step spreads tokens apart), symmetric, asymmetric."""
    if kind == "lmin>=-1":
        return spectral(d, st.one_of(st.just(-1.0), reals(-1.0, 3.0)))
    if kind == "below-minus-one":
        below = st.one_of(log_uniform(1e-6, 2.0).map(lambda e: -1.0 - e))

        @st.composite
        def build(draw: st.DrawFn) -> np.ndarray:
            w = draw(st.lists(reals(-3.0, 3.0), min_size=d, max_size=d))
            w[0] = draw(below)
            Q = orthogonal(draw(matrices(d, d, 1.0)))
            S = (Q * np.array(w)) @ Q.T
            return (S + S.T) / 2

        return build()
    if kind == "symmetric":
        return spectral(d, reals(-3.0, 3.0))
    if kind == "expansive":
        return spectral(d, reals(1.2, 3.0))
    if kind == "asymmetric":
        return with_antisymmetric(spectral(d, reals(-1.0, 3.0)), d)
    raise ValueError(f"unknown M kind {kind!r}")


@st.composite
def ff_cases(
    draw: st.DrawFn, M: str = "lmin>=-1", tokens: str = "free", n: tuple[int, int] = (1, 4), d: tuple[int, int] = (1, 3)
) -> Case:
    """Case(Y, M, b) for the FF claims, mixing in the bottom-eigenvector adversary.

    The adversary puts the gradient on the bottom eigenvector u of sym(M): Y = 1 y^T with
    y > 0 and b = (I - M) y - u, so grad E_ff(Y) = 1 u^T (for symmetric M).
    """
    min_d = 2 if M == "asymmetric" else d[0]
    n_, d_ = draw(sizes(n, (min_d, max(min_d, d[1]))))
    Mat = draw(ff_matrices(M, d_))
    if draw(st.booleans()):
        y = np.abs(draw(matrices(1, d_)))[0] + draw(reals(0.0, 1.0))
        lam, U = np.linalg.eigh((Mat + Mat.T) / 2)
        b = (np.eye(d_) - Mat).T @ y - U[:, 0] * draw(log_uniform(1e-2, 3.0))
        return Case(Y=np.tile(y, (n_, 1)), M=Mat, b=b)
    Y = draw(token_matrices(tokens, n_, d_))
    b = draw(matrices(1, d_))[0]
    return Case(Y=Y, M=Mat, b=b)


@st.composite
def no_energy_cases(draw: st.DrawFn, M: str = "asymmetric") -> Case:
    """Case(M, b, Y, p, q, r): a layer, a centre point, a plane (p, q) and a radius."""
    base = draw(ff_cases(M=M))
    Y = base.tensor("Y").numpy()
    size = Y.size
    p = draw(matrices(1, size, 1.0))[0]
    q = draw(matrices(1, size, 1.0))[0]
    return Case(**base, p=p, q=q, r=draw(reals(0.1, 3.0)))


@st.composite
def tied_mlp_cases(draw: st.DrawFn, step: str = "stable") -> Case:
    """Case(Y, V, c, t) with t = f 2 / ||V||_2^2, f in [0, 1] ('stable') or (1, 10] ('beyond')."""
    n_, d_ = draw(sizes((1, 4), (1, 3)))
    k = draw(st.integers(1, 4))
    V = draw(matrices(k, d_, 2.0).filter(lambda V: np.abs(V).max() > 1e-3))
    c = draw(matrices(1, k))[0]
    Y = draw(matrices(n_, d_))
    fraction = draw(reals(0.0, 1.0) if step == "stable" else reals(1.0, 10.0, exclude_min=True))
    t = fraction * 2.0 / np.linalg.norm(V, 2) ** 2
    return Case(Y=Y, V=V, c=c, t=t)


# --- norm cases -------------------------------------------------------------------------------------


@st.composite
def norm_cases(draw: st.DrawFn, tokens: str = "free+offset", scale: str = "positive") -> Case:
    """Case(Y, X, t): token rows, a competitor point per row, a scale factor t."""
    n_, d_ = draw(sizes((1, 4), (2, 5)))
    kind = draw(st.sampled_from(tokens.split("+")))
    Y = draw(token_matrices(kind, n_, d_))
    spread = np.abs(Y - Y.mean(1, keepdims=True)).max(1)
    if np.any(spread <= 1e-6 * (1 + np.abs(Y).max(1))):
        Y = Y + np.arange(d_)[None, :]  # never a constant row: P y = 0 is an error, not a case
    X = draw(matrices(n_, d_))
    t = draw(log_uniform(1e-3, 1e3))
    return Case(Y=Y, X=X, t=t if scale == "positive" else -t)


# --- heterogeneous layers (spec LAYER) ----------------------------------------------------------


@st.composite
def pair_cases(draw: st.DrawFn, isotropic: str = "no", point: str = "mixed") -> Case:
    """Case(P, a, Q, c, t, y) for alternating descent on two quadratics.

    P, Q > 0 (isotropic: p I, q I); t = f 2 / max(lmax P, lmax Q), f in (0, 1); y free, or
    near the segment [a, c] where the half-steps disagree, or (point='boundary', isotropic)
    just inside or outside the ball where the f-step raises f + h, or (point='apollonius')
    close enough to c that ||y - a|| / ||y - c|| > C_t.
    """
    d = draw(st.integers(1, 3))
    if isotropic == "yes":
        p, q = draw(reals(0.1, 3.0)), draw(reals(0.1, 3.0))
        P, Q = p * np.eye(d), q * np.eye(d)
    else:
        P, Q = draw(spectral(d, reals(0.1, 3.0))), draw(spectral(d, reals(0.1, 3.0)))
    a, c = draw(matrices(1, d))[0], draw(matrices(1, d))[0]
    if point == "apollonius" and np.linalg.norm(c - a) < 1e-3:
        c = a + np.eye(d)[0]  # the ratio condition needs c != a
    top = max(np.linalg.eigvalsh(P)[-1], np.linalg.eigvalsh(Q)[-1])
    if point == "apollonius":  # C_t needs t < 2 / lmax(P + Q)
        top = np.linalg.eigvalsh(P + Q)[-1]
    t = draw(reals(0.01, 0.99)) * 2.0 / top
    u = _unit_rows(draw(matrices(1, d, 1.0)))[0]
    kind = draw(st.sampled_from(["free", "segment"])) if point == "mixed" else point
    if kind == "free":
        y = draw(matrices(1, d))[0]
    elif kind == "segment":
        y = a + draw(reals(0.0, 1.0)) * (c - a) + draw(reals(0.0, 0.3)) * u
    elif kind == "boundary":
        g = Q[0, 0] / ((2 - t * P[0, 0]) * (P[0, 0] + Q[0, 0]))
        o, r = a + g * (c - a), g * np.linalg.norm(c - a)
        y = o + r * (1 + draw(st.sampled_from([-1.0, 1.0])) * draw(log_uniform(1e-3, 0.5))) * u
    elif kind == "apollonius":
        lmax = lambda A: np.linalg.eigvalsh(A)[-1]  # noqa: E731
        C = lmax(Q) / (np.linalg.eigvalsh(P)[0] * (1 - t * lmax(P + Q) / 2))
        y = c + draw(reals(0.01, 0.99)) * np.linalg.norm(c - a) / (C + 1) * u
    else:
        raise ValueError(f"unknown point kind {kind!r}")
    return Case(P=P, a=a, Q=Q, c=c, t=t, y=y)


@st.composite
def full_layer_cases(draw: st.DrawFn, depth: int = 1) -> Case:
    """Case(Y, W, a, rho, M, b[, depth]): an attention step then an FF step, each meeting its own
    assumptions (W >= 0, a in [0, 2] with rho = -exp(-z); M symmetric with lmin(M) >= -1)."""
    base = draw(attention_cases(weight="psd", tokens="free+coincident", rho="exp", step="kernel"))
    d = base.tensor("Y").shape[1]
    M = draw(st.one_of(ff_matrices("lmin>=-1", d), ff_matrices("expansive", d)))
    fields = dict(base, M=M, b=draw(matrices(1, d))[0])
    if depth > 1:
        fields["depth"] = depth
    return Case(**fields)


# --- the paper's experiment model (spec PAPER-CODE) -------------------------------------------------


@st.composite
def paper_cases(draw: st.DrawFn, tokens: str = "free+heterogeneous", n: tuple[int, int] = (2, 6), d: tuple[int, int] = (1, 3)) -> Case:
    """Case(Y, V, A, b): tokens, the attention factor V (M = V^T V) and the FFN factor A (U = clip(A A^T))."""
    n_, d_ = draw(sizes(n, d))
    return Case(
        Y=draw(token_matrices(draw(st.sampled_from(tokens.split("+"))), n_, d_)),
        V=draw(matrices(d_, d_, 1.5)),
        A=draw(matrices(d_, d_, 1.5)),
        b=draw(matrices(1, d_))[0],
    )


@st.composite
def block_cases(
    draw: st.DrawFn, weight: str = "symmetric", tokens: str = "equal-norms", value: str = "scalar", ffn: str = "tied"
) -> Case:
    """A post-norm Transformer block with h heads sharing Wq_h Wk_h^T = W and Wv_h Wo_h = c_h I, and
    an FFN tied as W1 = V^T, b1 = c, W2 = -t V, b2 = 0 ('tied') or with W2 perturbed ('untied')."""
    layer = draw(attention_layer_cases(weight=weight, tokens=tokens, value=value))
    d = layer.tensor("W").shape[0]
    heads = draw(st.integers(1, 3))
    shares = np.array(draw(st.lists(reals(0.1, 1.0), min_size=heads, max_size=heads)))
    shares = shares / shares.sum()
    stack = lambda key, scale: np.stack([layer.tensor(key).numpy() * s for s in scale])  # noqa: E731
    k = draw(st.integers(1, 3))
    V = draw(matrices(k, d, 2.0).filter(lambda V: np.abs(V).max() > 1e-3))
    t = draw(reals(0.0, 1.0)) * 2.0 / np.linalg.norm(V, 2) ** 2
    W2 = -t * V
    if ffn == "untied":
        W2 = W2 + draw(matrices(k, d, 1.0).filter(lambda E: np.abs(E).max() > 0.05))
    return Case(
        Y=layer["Y"], W=layer["W"], c=layer["c"], norm=layer["norm"],
        Wq=stack("Wq", np.ones(heads)), Wk=stack("Wk", np.ones(heads)), Wv=stack("Wv", np.ones(heads)),
        Wo=stack("Wo", shares), V=V, cb=draw(matrices(1, k))[0], t=t, W2=W2,
    )
