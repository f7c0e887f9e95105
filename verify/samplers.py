"""Batched random cases for the sweep engine: the tensor counterpart of `verify.strategies`.

A sampler draws `B` cases at once with one `torch.Generator`, every tensor with a leading
batch dimension (`Y` is `(B, n, d)`, `W` is `(B, d, d)`, a step size is `(B,)`), float64 on
the device asked for. Within a batch the sizes `n`, `d` and the names (`rho`) are shared;
the sweep engine draws many batches, so they vary across the run. Each sampler mixes the
same kinds of inputs as its strategy (scalar, generic, spread and ill-conditioned spectra;
free, nearly coincident and equal-norm tokens; the bottom-eigenvector adversary of FF) and
meets the same assumptions by construction; tests check every drawn case against the
claims' assumption predicates.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from verify.case import Case
from verify.rho import RHOS
from verify.strategies import RHO_KINDS, step_limit

F64 = torch.float64


class UnknownKind(ValueError):
    """A sampler was asked for a kind of input it does not draw (the strategy may)."""


# --- numbers and plain matrices -------------------------------------------------------------


def uniform(g: torch.Generator, shape: tuple[int, ...], low: float, high: float) -> Tensor:
    """Entries uniform in [low, high]."""
    return low + (high - low) * torch.rand(shape, generator=g, dtype=F64, device=g.device)


def log_uniform(g: torch.Generator, shape: tuple[int, ...], low: float, high: float) -> Tensor:
    """10**u, u uniform in [log10 low, log10 high]."""
    return 10.0 ** uniform(g, shape, math.log10(low), math.log10(high))


def pick(g: torch.Generator, options: list[Tensor]) -> Tensor:
    """For each case of the batch, one of the options (all (B, ...)), uniformly."""
    B = options[0].shape[0]
    k = torch.randint(len(options), (B,), generator=g, device=g.device)
    stacked = torch.stack(options)
    return stacked[k, torch.arange(B, device=g.device)]


def orthogonal(g: torch.Generator, B: int, d: int) -> Tensor:
    """(B, d, d) orthogonal matrices, Haar distributed (sign-fixed QR of a Gaussian)."""
    Q, R = torch.linalg.qr(torch.randn((B, d, d), generator=g, dtype=F64, device=g.device))
    return Q * torch.where(torch.diagonal(R, dim1=-2, dim2=-1) < 0, -1.0, 1.0)[:, None, :]


def spectral(Q: Tensor, w: Tensor) -> Tensor:
    """Q diag(w) Q^T, symmetrised."""
    S = (Q * w[:, None, :]) @ Q.mT
    return (S + S.mT) / 2


# --- attention weights W ------------------------------------------------------------------


def psd_eigenvalues(g: torch.Generator, B: int, d: int) -> Tensor:
    """Per case one of: c 1 (a scalar W), uniform in [0, 3], log-uniform over [1e-2, 10], or the
    ill-conditioned spectrum w1 ratio^u (u_1 = 0, u_2 = 1), as `strategies.psd_weights`."""
    scalar = uniform(g, (B, 1), 0.0, 3.0).expand(B, d)
    fractions = uniform(g, (B, d), 0.0, 1.0)
    fractions[:, 0] = 0.0
    if d >= 2:
        fractions[:, 1] = 1.0
    ill = log_uniform(g, (B, 1), 0.3, 10.0) * log_uniform(g, (B, 1), 2.0, 30.0) ** fractions
    return pick(g, [scalar, uniform(g, (B, d), 0.0, 3.0), log_uniform(g, (B, d), 1e-2, 10.0), ill])


def indefinite_eigenvalues(g: torch.Generator, B: int, d: int) -> Tensor:
    """lmin < 0: a negative scalar in [-2, -0.05], or uniform in [-2, 2] with w1 <= -0.05."""
    scalar = uniform(g, (B, 1), -2.0, -0.05).expand(B, d)
    w = uniform(g, (B, d), -2.0, 2.0)
    w[:, 0] = -w[:, 0].abs() - 0.05
    return pick(g, [scalar, w])


def antisymmetric(g: torch.Generator, B: int, d: int) -> Tensor:
    """K = -K^T with |K_12| >= 0.1 (needs d >= 2)."""
    A = uniform(g, (B, d, d), -1.0, 1.0)
    K = (A - A.mT) / 2
    s = uniform(g, (B,), 0.1, 1.5)
    K[:, 0, 1] += s
    K[:, 1, 0] -= s
    return K


def weights(g: torch.Generator, kind: str, B: int, d: int) -> Tensor:
    """W of a named kind: psd, indefinite, symmetric (psd or indefinite), asymmetric (psd plus a
    nonzero antisymmetric part, d >= 2), any (all of them)."""
    Q = orthogonal(g, B, d)
    psd = spectral(Q, psd_eigenvalues(g, B, d))
    if kind == "psd":
        return psd
    indefinite = spectral(Q, indefinite_eigenvalues(g, B, d))
    if kind == "indefinite":
        return indefinite
    if kind == "asymmetric":
        return psd + antisymmetric(g, B, d)
    if kind == "symmetric":
        return pick(g, [psd, indefinite])
    if kind == "any":
        return pick(g, [psd, indefinite] + ([psd + antisymmetric(g, B, d)] if d >= 2 else []))
    raise UnknownKind(f"unknown weight kind {kind!r}")


# --- token matrices Y ----------------------------------------------------------------------


def unit_rows(Z: Tensor) -> Tensor:
    """Rows scaled to norm 1 (rows of norm <= 1e-8 become e_1)."""
    norms = torch.linalg.vector_norm(Z, dim=-1, keepdim=True)
    E = torch.zeros_like(Z)
    E[..., 0] = 1.0
    return torch.where(norms > 1e-8, Z / norms.clamp_min(1e-300), E)


def equal_w_norm_rows(Z: Tensor, W: Tensor, r: Tensor) -> Tensor:
    """Rows with equal q_i = y_i^T sym(W) y_i = s r^2 (as `strategies.equal_w_norm_rows`, batched):
    a row of the wrong sign gets its component on the extreme eigenvector u replaced."""
    S = (W + W.mT) / 2
    lam, U = torch.linalg.eigh(S)
    size = lam.abs().amax(-1)
    positive = lam[:, -1] > 1e-9 * size
    s = torch.where(positive, 1.0, -1.0).to(F64)
    j = torch.where(positive, lam.shape[-1] - 1, 0)
    rows = torch.arange(len(j), device=Z.device)
    u, lu = U[rows, :, j], lam[rows, j].abs().clamp_min(1e-300)
    q = ((Z @ S) * Z).sum(-1)
    wrong = s[:, None] * q < 1e-6 * (1 + (Z * Z).sum(-1)) * lu[:, None]
    along = (Z * u[:, None, :]).sum(-1, keepdim=True)
    Zp = Z - along * u[:, None, :]
    qp = ((Zp @ S) * Zp).sum(-1, keepdim=True)
    fixed = Zp + torch.sqrt((qp.abs() + r[:, None, None] ** 2) / lu[:, None, None]) * u[:, None, :]
    Z = torch.where(wrong[..., None], fixed, Z)
    q = ((Z @ S) * Z).sum(-1, keepdim=True)
    out = Z * r[:, None, None] / torch.sqrt(s[:, None, None] * q)
    return torch.where((size < 1e-12)[:, None, None], r[:, None, None] * unit_rows(Z), out)


def token_matrices(g: torch.Generator, kind: str, B: int, n: int, d: int, W: Tensor | None = None) -> Tensor:
    """Y of a named kind ('+' mixes kinds per case), as `strategies.token_matrices`: free (entries
    in [-3, 3]), coincident (free shrunk by [1e-3, 1]), nonneg, equal-norms (needs W), rms (rows
    of norm sqrt(d)), heterogeneous (row norms over [0.05, 5]), eigen-cluster (RMS rows near the
    extreme eigenvectors of W), unequal-norms (one of the last three)."""
    kinds = kind.split("+")
    if len(kinds) > 1:
        return pick(g, [token_matrices(g, k, B, n, d, W) for k in kinds])
    free = uniform(g, (B, n, d), -3.0, 3.0)
    if kind == "free":
        return free
    if kind == "coincident":
        return free * log_uniform(g, (B, 1, 1), 1e-3, 1.0)
    if kind == "nonneg":
        return free.abs()
    if kind == "negative":
        return -free.abs()
    if kind == "equal-norms":
        assert W is not None, "equal-norms tokens need W"
        return equal_w_norm_rows(free, W, uniform(g, (B,), 0.1, 3.0))
    if kind == "rms":
        return math.sqrt(d) * unit_rows(free)
    if kind == "heterogeneous":
        return unit_rows(free) * log_uniform(g, (B, n, 1), 0.05, 5.0)
    if kind == "eigen-cluster":
        assert W is not None, "eigen-cluster tokens need W"
        _, U = torch.linalg.eigh((W + W.mT) / 2)
        ends = torch.where(torch.rand((B, n), generator=g, device=g.device) < 0.5, 0, d - 1)
        picked = U.gather(2, ends[:, None, :].expand(B, d, n)).mT  # (B, n, d): row i is eigenvector ends[i]
        return math.sqrt(d) * unit_rows(picked + uniform(g, (B, n, d), -0.4, 0.4))
    if kind == "unequal-norms":
        return token_matrices(g, "heterogeneous+rms+eigen-cluster", B, n, d, W)
    if kind == "offset":
        return free + uniform(g, (B, n, 1), -100.0, 100.0)
    raise UnknownKind(f"unknown token kind {kind!r}")


def sizes(g: torch.Generator, n: tuple[int, int], d: tuple[int, int]) -> tuple[int, int]:
    """(n, d) for one batch, uniform in the inclusive ranges."""
    draw = lambda lo, hi: int(torch.randint(lo, hi + 1, (1,), generator=g, device=g.device))  # noqa: E731
    return draw(*n), draw(*d)


def rho_name(g: torch.Generator, kind: str) -> str:
    names = RHO_KINDS[kind]
    return names[int(torch.randint(len(names), (1,), generator=g, device=g.device))]


# --- whole cases --------------------------------------------------------------------------------


def attention_batch(
    g: torch.Generator, B: int, *, weight: str = "psd", tokens: str = "free", rho: str = "exp",
    step: str | None = "kernel", n: tuple[int, int] = (2, 5), d: tuple[int, int] = (1, 3),
) -> Case:
    """Case(Y, W, rho[, a]) as `strategies.attention_cases`; a in [0, limit] with the limit itself
    in one case of eight ('kernel') or in (limit, limit + 2] ('beyond')."""
    n_, d_ = sizes(g, n, (2, max(2, d[1])) if weight == "asymmetric" else d)
    W = weights(g, weight, B, d_)
    name = rho_name(g, rho)
    fields: dict[str, object] = {"Y": token_matrices(g, tokens, B, n_, d_, W), "W": W, "rho": name}
    if step == "kernel":
        limit = step_limit(RHOS[name])
        a = uniform(g, (B,), 0.0, limit)
        fields["a"] = torch.where(torch.rand((B,), generator=g, dtype=F64, device=g.device) < 0.125, limit, a)
    elif step == "beyond":  # (limit, limit + 2]
        limit = step_limit(RHOS[name])
        fields["a"] = limit + 2.0 - uniform(g, (B,), 0.0, 2.0 - 1e-9)
    elif step is not None:
        raise UnknownKind(f"unknown step kind {step!r}")
    return Case(**fields)


def majorize_batch(g: torch.Generator, B: int, *, weight: str = "any", rho: str = "concave") -> Case:
    """Case(Y0, Y, W, rho): a base point and a second one, near (scaled by [1e-3, 1]) or far."""
    base = attention_batch(g, B, weight=weight, tokens="free+coincident", rho=rho, step=None)
    Y0 = base.tensor("Y")
    near = torch.rand((B, 1, 1), generator=g, device=g.device) < 0.5
    delta = uniform(g, tuple(Y0.shape), -3.0, 3.0) * torch.where(near, log_uniform(g, (B, 1, 1), 1e-3, 1.0), 1.0)
    return Case(Y0=Y0, Y=Y0 + delta, W=base["W"], rho=base["rho"])


def regularized_batch(g: torch.Generator, B: int, *, weight: str = "psd", rho: str = "concave") -> Case:
    """Case(Y, W, rho, lam), lam in [0, 4]."""
    base = attention_batch(g, B, weight=weight, tokens="free+coincident", rho=rho, step=None)
    return Case(**base, lam=uniform(g, (B,), 0.0, 4.0))


def ff_matrices(g: torch.Generator, kind: str, B: int, d: int) -> Tensor:
    """M of a named kind (see `ff_spectral`)."""
    return ff_spectral(g, kind, B, d)[0]


def ff_spectral(g: torch.Generator, kind: str, B: int, d: int) -> tuple[Tensor, Tensor]:
    """(M, u): M of a named kind and the bottom eigenvector u of sym(M), known from the draw (no
    eigh): 'lmin>=-1' (spectrum in [-1, 3], -1 itself in one case of eight), 'symmetric'
    (spectrum in [-3, 3]), 'below-minus-one' (lmin = -1 - e, e log-uniform over [1e-6, 2]),
    'asymmetric' (spectrum in [-1, 3] plus an antisymmetric part, d >= 2; u is then an
    eigenvector of the spectral part only, used for nothing but the adversary's direction)."""
    Q = orthogonal(g, B, d)
    if kind == "asymmetric":
        w = uniform(g, (B, d), -1.0, 3.0)
        return spectral(Q, w) + antisymmetric(g, B, d), Q[:, :, 0]  # (the sym part's bottom vector is not tracked)
    if kind == "below-minus-one":
        w = uniform(g, (B, d), -3.0, 3.0)
        w[:, 0] = -1.0 - log_uniform(g, (B,), 1e-6, 2.0)
    elif kind == "expansive":
        w = uniform(g, (B, d), 1.2, 3.0)
    elif kind == "lmin>=-1":
        w = uniform(g, (B, d), -1.0, 3.0)
        w = torch.where(torch.rand((B, d), generator=g, dtype=F64, device=g.device) < 0.125, -1.0, w)
    elif kind == "symmetric":
        w = uniform(g, (B, d), -3.0, 3.0)
    else:
        raise UnknownKind(f"unknown M kind {kind!r}")
    bottom = Q.gather(2, w.argmin(-1)[:, None, None].expand(B, d, 1))[..., 0]
    return spectral(Q, w), bottom


def ff_batch(
    g: torch.Generator, B: int, *, M: str = "lmin>=-1", tokens: str = "free", n: tuple[int, int] = (1, 4), d: tuple[int, int] = (1, 3)
) -> Case:
    """Case(Y, M, b) as `strategies.ff_cases`, half of it the bottom-eigenvector adversary
    (Y = 1 y^T, y > 0, b = (I - M)^T y - s u: grad E_ff(Y) = -s 1 u^T along the bottom eigenvector u)."""
    n_, d_ = sizes(g, n, (2, max(2, d[1])) if M == "asymmetric" else d)
    Mat, bottom = ff_spectral(g, M, B, d_)
    Y = token_matrices(g, tokens, B, n_, d_)
    b = uniform(g, (B, d_), -3.0, 3.0)
    y = uniform(g, (B, d_), 0.0, 3.0) + uniform(g, (B, 1), 0.0, 1.0)
    eye = torch.eye(d_, dtype=F64, device=g.device)
    b_adv = ((eye - Mat).mT @ y[..., None])[..., 0] - bottom * log_uniform(g, (B, 1), 1e-2, 3.0)
    adversary = torch.rand((B,), generator=g, device=g.device) < 0.5
    return Case(
        Y=torch.where(adversary[:, None, None], y[:, None, :].expand(B, n_, d_), Y),
        M=Mat,
        b=torch.where(adversary[:, None], b_adv, b),
    )


def tied_mlp_batch(g: torch.Generator, B: int, *, step: str = "stable") -> Case:
    """Case(Y, V, c, t), t = f 2 / ||V||_2^2 with f in [0, 1] ('stable') or (1, 10] ('beyond')."""
    if step not in ("stable", "beyond"):
        raise UnknownKind(f"unknown step kind {step!r}")
    n_, d_ = sizes(g, (1, 4), (1, 3))
    k = int(torch.randint(1, 5, (1,), generator=g, device=g.device))
    V = uniform(g, (B, k, d_), -2.0, 2.0)
    V = torch.where(V.abs().amax((-2, -1), keepdim=True) > 1e-3, V, torch.ones_like(V))
    fraction = uniform(g, (B,), 0.0, 1.0) if step == "stable" else 10.0 - uniform(g, (B,), 0.0, 9.0 - 1e-9)
    t = fraction * 2.0 / torch.linalg.matrix_norm(V, 2) ** 2
    return Case(Y=uniform(g, (B, n_, d_), -3.0, 3.0), V=V, c=uniform(g, (B, k), -3.0, 3.0), t=t)


def paper_batch(
    g: torch.Generator, B: int, *, tokens: str = "free+heterogeneous", n: tuple[int, int] = (2, 6), d: tuple[int, int] = (1, 3)
) -> Case:
    """Case(Y, V, A, b) as `strategies.paper_cases`: V, A with entries in [-1.5, 1.5]."""
    n_, d_ = sizes(g, n, d)
    return Case(
        Y=token_matrices(g, tokens, B, n_, d_),
        V=uniform(g, (B, d_, d_), -1.5, 1.5),
        A=uniform(g, (B, d_, d_), -1.5, 1.5),
        b=uniform(g, (B, d_), -3.0, 3.0),
    )


def _nonzero(g: torch.Generator, shape: tuple[int, ...], bound: float, floor: float) -> Tensor:
    """Entries in [-bound, bound], a matrix whose largest entry is below `floor` redrawn as its sign pattern times floor."""
    E = uniform(g, shape, -bound, bound)
    small = E.abs().amax((-2, -1), keepdim=True) <= floor
    return torch.where(small, torch.where(E >= 0, 2 * floor, -2 * floor), E)


def attention_layer_batch(
    g: torch.Generator, B: int, *, weight: str = "symmetric", tokens: str = "equal-norms", value: str = "scalar", norm: str = "any"
) -> Case:
    """Case(Y, W, Wq, Wk, Wv, Wo, c, norm) as `strategies.attention_layer_cases`: Wq = R, Wk = W^T R^{-T},
    Wv = S, Wo = c S^{-1} ('scalar') or that plus a generic E, |E| >= 0.05 somewhere ('generic');
    R, S = I + 0.3 U[-1, 1]; the norm shared by the batch (LN needs d >= 2)."""
    base = attention_batch(g, B, weight=weight, tokens=tokens, rho="exp", step=None, n=(2, 4), d=(1, 2))
    W = base.tensor("W")
    d = W.shape[-1]
    eye = torch.eye(d, dtype=F64, device=g.device)
    R = eye + 0.3 * uniform(g, (B, d, d), -1.0, 1.0)
    S = eye + 0.3 * uniform(g, (B, d, d), -1.0, 1.0)
    c = uniform(g, (B,), 0.0, 3.0)
    Wo = c[:, None, None] * torch.linalg.inv(S)
    if value == "generic":
        Wo = Wo + _nonzero(g, (B, d, d), 1.0, 0.05)
    elif value != "scalar":
        raise UnknownKind(f"unknown value kind {value!r}")
    names = ("layer_norm", "rms_norm") if norm == "any" else (norm,)
    name = names[int(torch.randint(len(names), (1,), generator=g, device=g.device))]
    if name == "layer_norm" and d < 2:
        name = "rms_norm"
    return Case(Y=base["Y"], W=W, Wq=R, Wk=W.mT @ torch.linalg.inv(R).mT, Wv=S, Wo=Wo, c=c, norm=name)


def block_batch(
    g: torch.Generator, B: int, *, weight: str = "symmetric", tokens: str = "equal-norms", value: str = "scalar", ffn: str = "tied"
) -> Case:
    """A post-norm block as `strategies.block_cases`: h in [1, 3] heads (shared by the batch) with
    Wq_h Wk_h^T = W and Wv_h Wo_h = s_h c I (shares s_h sum to 1); an FFN with W1 = V^T, b1 = cb,
    W2 = -t V, t = f 2 / ||V||_2^2 ('tied') or W2 perturbed ('untied')."""
    layer = attention_layer_batch(g, B, weight=weight, tokens=tokens, value=value)
    d = layer.tensor("W").shape[-1]
    heads = int(torch.randint(1, 4, (1,), generator=g, device=g.device))
    shares = uniform(g, (B, heads), 0.1, 1.0)
    shares = shares / shares.sum(-1, keepdim=True)
    stack = lambda key: layer.tensor(key)[:, None].expand(B, heads, d, d).contiguous()  # noqa: E731
    k = int(torch.randint(1, 4, (1,), generator=g, device=g.device))
    V = _nonzero(g, (B, k, d), 2.0, 1e-3)
    t = uniform(g, (B,), 0.0, 1.0) * 2.0 / torch.linalg.matrix_norm(V, 2) ** 2
    W2 = -t[:, None, None] * V
    if ffn == "untied":
        W2 = W2 + _nonzero(g, (B, k, d), 1.0, 0.05)
    elif ffn != "tied":
        raise UnknownKind(f"unknown ffn kind {ffn!r}")
    return Case(
        Y=layer["Y"], W=layer["W"], c=layer["c"], norm=layer["norm"],
        Wq=stack("Wq"), Wk=stack("Wk"), Wv=stack("Wv"), Wo=stack("Wo") * shares[:, :, None, None],
        V=V, cb=uniform(g, (B, k), -3.0, 3.0), t=t, W2=W2,
    )


def norm_batch(g: torch.Generator, B: int, *, tokens: str = "free+offset", scale: str = "positive") -> Case:
    """Case(Y, X, t) as `strategies.norm_cases`: rows (never constant: such a case gets + (0, 1, ..., d - 1)),
    a competitor row each, t log-uniform over [1e-3, 1e3] ('positive') or its negative ('negative')."""
    if scale not in ("positive", "negative"):
        raise UnknownKind(f"unknown scale kind {scale!r}")
    n_, d_ = sizes(g, (1, 4), (2, 5))
    Y = token_matrices(g, tokens, B, n_, d_)
    spread = (Y - Y.mean(-1, keepdim=True)).abs().amax(-1)
    constant = (spread <= 1e-6 * (1 + Y.abs().amax(-1))).any(-1)
    Y = torch.where(constant[:, None, None], Y + torch.arange(d_, dtype=F64, device=g.device), Y)
    t = log_uniform(g, (B,), 1e-3, 1e3)
    return Case(Y=Y, X=uniform(g, (B, n_, d_), -3.0, 3.0), t=t if scale == "positive" else -t)


def pair_batch(g: torch.Generator, B: int, *, isotropic: str = "no", point: str = "mixed") -> Case:
    """Case(P, a, Q, c, t, y) as `strategies.pair_cases`: P, Q > 0 (spectra in [0.1, 3], or p I, q I),
    t = f 2 / max(lmax P, lmax Q) (lmax(P + Q) for Apollonius points), f in [0.01, 0.99], and y free,
    near the segment [a, c], near the boundary of the rising ball (isotropic), or close to c."""
    d = int(torch.randint(1, 4, (1,), generator=g, device=g.device))
    if isotropic == "yes":
        wp, wq = uniform(g, (B, 1), 0.1, 3.0).expand(B, d), uniform(g, (B, 1), 0.1, 3.0).expand(B, d)
        eye = torch.eye(d, dtype=F64, device=g.device)
        P, Q = wp[:, :1, None] * eye, wq[:, :1, None] * eye
    elif isotropic == "no":
        wp, wq = uniform(g, (B, d), 0.1, 3.0), uniform(g, (B, d), 0.1, 3.0)
        P, Q = spectral(orthogonal(g, B, d), wp), spectral(orthogonal(g, B, d), wq)
    else:
        raise UnknownKind(f"unknown isotropic kind {isotropic!r}")
    a, c = uniform(g, (B, d), -3.0, 3.0), uniform(g, (B, d), -3.0, 3.0)
    lmax_sum = torch.linalg.eigvalsh(P + Q)[:, -1]
    if point == "apollonius":
        near = torch.linalg.vector_norm(c - a, dim=-1, keepdim=True) < 1e-3
        c = torch.where(near, a + torch.eye(d, dtype=F64, device=g.device)[0], c)
        top = lmax_sum
    else:
        top = torch.maximum(wp.amax(-1), wq.amax(-1))
    t = uniform(g, (B,), 0.01, 0.99) * 2.0 / top
    u = unit_rows(uniform(g, (B, d), -1.0, 1.0))
    free = uniform(g, (B, d), -3.0, 3.0)
    segment = a + uniform(g, (B, 1), 0.0, 1.0) * (c - a) + uniform(g, (B, 1), 0.0, 0.3) * u
    if point == "mixed":
        y = pick(g, [free, segment])
    elif point == "free":
        y = free
    elif point == "segment":
        y = segment
    elif point == "boundary":
        p, q = wp[:, :1], wq[:, :1]
        share = q / ((2 - t[:, None] * p) * (p + q))
        o, r = a + share * (c - a), share * torch.linalg.vector_norm(c - a, dim=-1, keepdim=True)
        side = torch.where(torch.rand((B, 1), generator=g, device=g.device) < 0.5, -1.0, 1.0).to(F64)
        y = o + r * (1 + side * log_uniform(g, (B, 1), 1e-3, 0.5)) * u
    elif point == "apollonius":
        C = wq.amax(-1) / (wp.amin(-1) * (1 - t * lmax_sum / 2))
        reach = uniform(g, (B,), 0.01, 0.99) * torch.linalg.vector_norm(c - a, dim=-1) / (C + 1)
        y = c + reach[:, None] * u
    else:
        raise UnknownKind(f"unknown point kind {point!r}")
    return Case(P=P, a=a, Q=Q, c=c, t=t, y=y)


def full_layer_batch(g: torch.Generator, B: int, *, depth: int = 1) -> Case:
    """Case(Y, W, a, rho, M, b[, depth]) as `strategies.full_layer_cases`: an attention step meeting ATT's
    assumptions, then an FF step with lmin(M) >= -1 (spectrum in [-1, 3] or the expansive [1.2, 3])."""
    base = attention_batch(g, B, weight="psd", tokens="free+coincident", rho="exp", step="kernel")
    d = base.tensor("Y").shape[-1]
    M = pick(g, [ff_matrices(g, "lmin>=-1", B, d), ff_matrices(g, "expansive", B, d)])
    fields: dict[str, object] = {**base, "M": M, "b": uniform(g, (B, d), -3.0, 3.0)}
    if depth > 1:
        fields["depth"] = depth
    return Case(**fields)
