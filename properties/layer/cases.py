"""LAYER case descriptions: two quadratics with a step size and a point (alternating descent), a
full layer (attention then FF), and a post-norm Transformer block with tied weights."""

from __future__ import annotations

import torch

from verify.draw import Source, description, steps
from verify.draw.layers import nonzero, tied_attention
from verify.draw.matrices import antisymmetric, orthogonal, spectral, weights, with_spectrum
from verify.draw.regimes import tokens as token_matrices
from verify.draw.regimes import unit_rows
from verify.model.case import Case

POINT_KINDS = ("mixed", "free", "segment", "boundary", "apollonius")


@description
def pair_cases(src: Source, isotropic: str = "no", point: str = "mixed") -> Case:
    """Case(P, a, Q, c, t, y) for alternating descent on f = (1/2)|y - a|_P^2 and h = (1/2)|y - c|_Q^2.

    P, Q > 0 (spectra in [0.1, 3], or p I, q I when isotropic); t = f 2 / max(lmax P, lmax Q),
    f in [0.01, 0.99] (lmax(P + Q) for Apollonius points); y free, near the segment [a, c] where
    the half-steps disagree, just inside or outside the ball where the f-step raises f + h
    ('boundary', isotropic), or close enough to c that ||y - a|| / ||y - c|| > C_t ('apollonius')."""
    if point not in POINT_KINDS:
        raise ValueError(f"point must be one of {', '.join(POINT_KINDS)}, got {point!r}")
    if isotropic not in ("yes", "no"):
        raise ValueError(f"isotropic must be 'yes' or 'no', got {isotropic!r}")
    d = src.size(1, 3)
    eye = src.eye(d)
    if isotropic == "yes":
        wp, wq = src.uniform(0.1, 3.0).reshape(-1, 1).expand(-1, d), src.uniform(0.1, 3.0).reshape(-1, 1).expand(-1, d)
        P, Q = wp[:, :1, None] * eye, wq[:, :1, None] * eye
    else:
        wp, wq = src.uniform(0.1, 3.0, (d,)), src.uniform(0.1, 3.0, (d,))
        P, Q = spectral(orthogonal(src, d), wp), spectral(orthogonal(src, d), wq)
    a, c = src.uniform(-3.0, 3.0, (d,)), src.uniform(-3.0, 3.0, (d,))
    lmax_sum = torch.linalg.eigvalsh(P + Q)[:, -1]
    if point == "apollonius":  # the ratio condition needs c != a, and C_t needs t < 2 / lmax(P + Q)
        near = torch.linalg.vector_norm(c - a, dim=-1, keepdim=True) < 1e-3
        c = torch.where(near, a + eye[0], c)
        top = lmax_sum
    else:
        top = torch.maximum(wp.amax(-1), wq.amax(-1))
    t = src.uniform(0.01, 0.99) * 2.0 / top
    u = unit_rows(src.uniform(-1.0, 1.0, (d,)))

    def free() -> torch.Tensor:
        return src.uniform(-3.0, 3.0, (d,))

    def segment() -> torch.Tensor:
        return a + src.uniform(0.0, 1.0)[:, None] * (c - a) + src.uniform(0.0, 0.3)[:, None] * u

    if point == "mixed":
        y = src.mix("point", {"free": free, "segment": segment})
    elif point == "free":
        y = free()
    elif point == "segment":
        y = segment()
    elif point == "boundary":
        p, q = wp[:, :1], wq[:, :1]
        share = q / ((2 - t[:, None] * p) * (p + q))
        o, r = a + share * (c - a), share * torch.linalg.vector_norm(c - a, dim=-1, keepdim=True)
        side = src.mix("side", {"inside": lambda: src.full(-1.0), "outside": lambda: src.full(1.0)})
        y = o + r * (1 + side[:, None] * src.log_uniform(1e-3, 0.5)[:, None]) * u
    else:
        C = wq.amax(-1) / (wp.amin(-1) * (1 - t * lmax_sum / 2))
        reach = src.uniform(0.01, 0.99) * torch.linalg.vector_norm(c - a, dim=-1) / (C + 1)
        y = c + reach[:, None] * u
    return Case(P=P, a=a, Q=Q, c=c, t=t, y=y)


@description
def full_layer_cases(src: Source, depth: int = 1, weight: str = "psd", rho: str = "exp", step: str = "kernel",
                     M: str = "lmin>=-1") -> Case:
    """Case(Y, W, rho, a, M, b[, depth]): an attention step meeting ATT's assumptions (W >= 0,
    rho = -exp(-z), a in [0, 2]), then an FF step with M symmetric, lmin(M) >= -1 (spectrum in
    [-1, 3], or the expansive [1.2, 3]). Each assumption can be broken alone: weight='indefinite',
    rho='concave-not-exp', step='beyond', M='below' (symmetric, lmin(M) in [-3, -1.05]) or
    M='asymmetric' (that symmetric part plus a nonzero antisymmetric one, d >= 2)."""
    if M not in ("lmin>=-1", "below", "asymmetric"):
        raise ValueError(f"M must be 'lmin>=-1', 'below' or 'asymmetric', got {M!r}")
    n, d = src.size(2, 5), src.size(2 if M == "asymmetric" else 1, 3)
    W = weights(src, weight, d)
    rho_name = steps.rho(src, rho)
    Y = token_matrices(src, "free+coincident", n, d)
    a = steps.step_sizes(src, step, rho_name)

    def lmin_above() -> torch.Tensor:
        w = src.uniform(-1.0, 3.0, (d,))
        return torch.where(src.flag("lmin pinned at -1", 1 / 16)[:, None] & (w == w.amin(-1, keepdim=True)), -1.0, w)

    if M == "below":
        w = torch.cat([src.uniform(-3.0, -1.05, (1,)), src.uniform(-1.0, 3.0, (d - 1,))], -1)
    else:
        w = src.mix("M spectrum", {"lmin>=-1": lmin_above, "expansive": lambda: src.uniform(1.2, 3.0, (d,))})
    matrix, _ = with_spectrum(src, w)
    if M == "asymmetric":
        matrix = matrix + antisymmetric(src, d)
    fields: dict[str, object] = {"Y": Y, "W": W, "rho": rho_name, "a": a, "M": matrix, "b": src.uniform(-3.0, 3.0, (d,))}
    if depth > 1:
        fields["depth"] = depth
    return Case(**fields)


@description
def block_cases(
    src: Source, weight: str = "symmetric", tokens: str = "equal-norms", value: str = "scalar", ffn: str = "tied"
) -> Case:
    """A post-norm Transformer block: h in [1, 3] heads with Wq_h Wk_h^T = W and Wv_h Wo_h = s_h c I
    (shares s_h summing to 1), and an FFN with W1 = V^T, b1 = cb, W2 = -t V, b2 = 0,
    t = f 2 / ||V||_2^2 ('tied'), or W2 perturbed ('untied'); n <= 4, d <= 2."""
    if ffn not in ("tied", "untied"):
        raise ValueError(f"ffn must be 'tied' or 'untied', got {ffn!r}")
    low_d = 2 if weight == "asymmetric" else 1
    n, d = src.size(2, 4), src.size(low_d, 2)
    W = weights(src, weight, d)
    Y = token_matrices(src, tokens, n, d, W)
    head = tied_attention(src, W, value)
    norm = src.choose("norm", ("layer_norm", "rms_norm"))
    if norm == "layer_norm" and d < 2:
        norm = "rms_norm"
    heads = src.size(1, 3)
    shares = src.uniform(0.1, 1.0, (heads,))
    shares = shares / shares.sum(-1, keepdim=True)
    stack = lambda M: M[:, None].expand(-1, heads, d, d).contiguous()  # noqa: E731
    k = src.size(1, 3)
    V = nonzero(src, (k, d), 2.0, 1e-3)
    t = src.uniform(0.0, 1.0) * 2.0 / torch.linalg.matrix_norm(V, 2) ** 2
    W2 = -t[:, None, None] * V
    if ffn == "untied":
        W2 = W2 + nonzero(src, (k, d), 1.0, 0.05)
    return Case(
        Y=Y, W=W, c=head["c"], norm=norm,
        Wq=stack(head["Wq"]), Wk=stack(head["Wk"]), Wv=stack(head["Wv"]), Wo=stack(head["Wo"]) * shares[:, :, None, None],
        V=V, cb=src.uniform(-3.0, 3.0, (k,)), t=t, W2=W2,
    )
