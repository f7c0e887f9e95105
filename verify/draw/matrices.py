"""Weight matrices by kind, batched: (B, d, d) float64 from a `Source`.

    orthogonal(src, d)          Cayley transform (I - K)(I + K)^-1 of a skew K: K = 0 gives I,
                                so shrinking reaches diagonal matrices; one batched solve, no QR
    spectral(Q, w)              Q diag(w) Q^T, symmetrised
    with_spectrum(src, w)       Q diag(w) Q^T for a drawn Q, with the bottom eigenvector
    psd(src, d)                 W >= 0: scalar, generic, spread over 3 decades, or ill-conditioned
    ill_conditioned(src, d)     W > 0 with eigenvalues w1 ratio^u (u = 0 and u = 1 pinned): the
                                non-scalar W that breaks the plain softmax step on RMS rows
    indefinite(src, d)          symmetric with lmin < 0 (negative scalars included)
    asymmetric(src, d)          a PSD part plus a nonzero antisymmetric part (d >= 2)
    weights(src, kind, d)       any of the above by name, and 'symmetric' and 'any' mixes
"""

from __future__ import annotations

import torch
from torch import Tensor

from verify.draw.source import Source


def orthogonal(src: Source, d: int) -> Tensor:
    """(B, d, d) rotations: the Cayley transform (I + K)^-1 (I - K) = 2 (I + K)^-1 - I of a skew K
    with entries in [-2, 2] (I + K is invertible: its eigenvalues are 1 + i lambda, |.| >= 1)."""
    A = src.uniform(-2.0, 2.0, (d, d))
    eye = src.eye(d)
    return 2 * torch.linalg.inv(eye + (A - A.mT) / 2) - eye


def spectral(Q: Tensor, w: Tensor) -> Tensor:
    """Q diag(w) Q^T, symmetrised."""
    S = (Q * w[..., None, :]) @ Q.mT
    return (S + S.mT) / 2


def with_spectrum(src: Source, w: Tensor) -> tuple[Tensor, Tensor]:
    """(S, u): S = Q diag(w) Q^T for a drawn rotation Q, and u the eigenvector of the smallest w
    (known from the draw, no eigh: an adversary can aim along it)."""
    d = w.shape[-1]
    Q = orthogonal(src, d)
    bottom = Q.gather(2, w.argmin(-1)[:, None, None].expand(-1, d, 1))[..., 0]
    return spectral(Q, w), bottom


def scalar_spectrum(src: Source, d: int, low: float, high: float) -> Tensor:
    """(B, d): c 1 with c in [low, high] (a scalar matrix c I)."""
    return src.uniform(low, high).reshape(-1, 1).expand(-1, d)


def ill_conditioned_spectrum(src: Source, d: int) -> Tensor:
    """(B, d): w1 ratio^u, w1 in [0.3, 10], ratio in [2, 30], u_1 = 0, u_2 = 1 (d >= 2), the rest in [0, 1]."""
    low, ratio = src.log_uniform(0.3, 10.0).reshape(-1, 1), src.log_uniform(2.0, 30.0).reshape(-1, 1)
    fractions = src.uniform(0.0, 1.0, (d,)).clone()
    fractions[:, 0] = 0.0
    if d >= 2:
        fractions[:, 1] = 1.0
    return low * ratio**fractions


def psd_spectrum(src: Source, d: int) -> Tensor:
    """(B, d) eigenvalues >= 0: scalar, uniform in [0, 3], log-uniform over [1e-2, 10], or ill-conditioned."""
    return src.mix("psd spectrum", {
        "scalar": lambda: scalar_spectrum(src, d, 0.0, 3.0),
        "generic": lambda: src.uniform(0.0, 3.0, (d,)),
        "log-spread": lambda: src.log_uniform(1e-2, 10.0, (d,)),
        "ill-conditioned": lambda: ill_conditioned_spectrum(src, d),
    })


def indefinite_spectrum(src: Source, d: int) -> Tensor:
    """(B, d) with lmin < 0: a negative scalar in [-2, -0.05], or uniform in [-2, 2] with w1 <= -0.05."""

    def generic() -> Tensor:
        w = src.uniform(-2.0, 2.0, (d,)).clone()
        w[:, 0] = -w[:, 0].abs() - 0.05
        return w

    return src.mix("indefinite spectrum", {"negative-scalar": lambda: scalar_spectrum(src, d, -2.0, -0.05), "generic": generic})


def antisymmetric(src: Source, d: int) -> Tensor:
    """K = -K^T with |K_12| >= 0.1 (needs d >= 2)."""
    if d < 2:
        raise ValueError(f"an antisymmetric part needs d >= 2, got d = {d}")
    A = src.uniform(-1.0, 1.0, (d, d))
    K = (A - A.mT) / 2
    s = src.uniform(0.1, 1.5)
    K = K.clone()
    K[:, 0, 1] += s
    K[:, 1, 0] -= s
    return K


def psd(src: Source, d: int) -> Tensor:
    return spectral(orthogonal(src, d), psd_spectrum(src, d))


def ill_conditioned(src: Source, d: int) -> Tensor:
    return spectral(orthogonal(src, d), ill_conditioned_spectrum(src, d))


def indefinite(src: Source, d: int) -> Tensor:
    return spectral(orthogonal(src, d), indefinite_spectrum(src, d))


def asymmetric(src: Source, d: int) -> Tensor:
    return psd(src, d) + antisymmetric(src, d)


WEIGHT_KINDS = ("psd", "scalar", "ill-conditioned", "negative-scalar", "indefinite", "symmetric", "asymmetric", "any")


def weights(src: Source, kind: str, d: int) -> Tensor:
    """W of a named kind: psd, scalar (c I, c in [0, 3]), ill-conditioned, negative-scalar, indefinite,
    symmetric (psd or indefinite), asymmetric (d >= 2), any (psd, indefinite, or asymmetric when d >= 2)."""
    eye = src.eye(d)
    if kind == "psd":
        return psd(src, d)
    if kind == "scalar":
        return src.uniform(0.0, 3.0)[:, None, None] * eye
    if kind == "ill-conditioned":
        return ill_conditioned(src, d) if d >= 2 else src.uniform(0.0, 3.0)[:, None, None] * eye
    if kind == "negative-scalar":
        return src.uniform(-2.0, -0.05)[:, None, None] * eye
    if kind == "indefinite":
        return indefinite(src, d)
    if kind == "symmetric":
        return src.mix("symmetric weight", {"psd": lambda: psd(src, d), "indefinite": lambda: indefinite(src, d)})
    if kind == "asymmetric":
        return asymmetric(src, d)
    if kind == "any":
        options = {"psd": lambda: psd(src, d), "indefinite": lambda: indefinite(src, d)}
        if d >= 2:
            options["asymmetric"] = lambda: asymmetric(src, d)
        return src.mix("any weight", options)
    raise ValueError(f"weight kind must be one of {', '.join(WEIGHT_KINDS)}, got {kind!r}")
