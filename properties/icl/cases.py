"""ICL case descriptions: in-context data, a preconditioner Gamma, a step eta read off the data's kernel,
and the layer's four weight matrices factorised around von Oswald et al.'s construction.

The residual block is drawn, or aimed by an adversary that knows K = X Gamma X^T / N:
    worst residual   the top eigenvector of (I - eta K)^T (I - eta K): the residual the layer grows most
                     (or shrinks least), so a step beyond 2 / lmax(K), an indefinite or a strongly skew
                     Gamma shows at once, and a true claim meets its boundary (eta lmax(K) = 2)
    slowest mode     the eigenvector of sym(K) whose factor |1 - eta lam| is the rate rho: ICL-RATE's
                     equality case
"""

from __future__ import annotations

import torch
from torch import Tensor

from verify.draw import Source, description
from verify.draw.matrices import antisymmetric, weights
from verify.math.icl import preconditioned_kernel, query_key_product, value_output_product
from verify.model.case import Case

GAMMA_KINDS = ("psd", "indefinite", "asymmetric", "any")
STEP_KINDS = ("stable", "beyond", "any")
MASKS = ("context", "none")
KERNEL_FLOOR = 1e-3  # eta is scaled by max(spectral radius of sym(K), this): a zero kernel takes any step


def gamma_matrix(src: Source, kind: str, dx: int) -> Tensor:
    """Gamma of a named kind, (B, dx, dx):
        psd          symmetric >= 0 (verify.draw.matrices: scalar, generic, log-spread, ill-conditioned)
        indefinite   symmetric with lmin < 0
        asymmetric   psd + s K, K antisymmetric (|K_12| >= 0.1), s log-uniform over [0.3, 5] (dx >= 2)
        any          one of the three per case (asymmetric only when dx >= 2)"""
    if kind not in GAMMA_KINDS:
        raise ValueError(f"Gamma kind must be one of {', '.join(GAMMA_KINDS)}, got {kind!r}")
    if kind == "asymmetric":
        return weights(src, "psd", dx) + src.log_uniform(0.3, 5.0)[:, None, None] * antisymmetric(src, dx)
    if kind == "any":
        options = {"psd": lambda: gamma_matrix(src, "psd", dx), "indefinite": lambda: gamma_matrix(src, "indefinite", dx)}
        if dx >= 2:
            options["asymmetric"] = lambda: gamma_matrix(src, "asymmetric", dx)
        return src.mix("gamma kind", options)
    return weights(src, kind, dx)


def step_fraction(src: Source, kind: str) -> Tensor:
    """(B,) f = eta * (spectral radius of sym(K)) / 2: 'stable' in [0, 1] (1 itself mixed in),
    'beyond' in (1, 2], 'any' either."""
    if kind not in STEP_KINDS:
        raise ValueError(f"step kind must be one of {', '.join(STEP_KINDS)}, got {kind!r}")
    if kind == "stable":
        return src.mix("step", {"limit": lambda: src.full(1.0), "inside": lambda: src.uniform(0.0, 1.0)}, weights=(1, 7))
    if kind == "beyond":  # 2 - u over u in [0, 1 - 1e-9] keeps f = 1 out
        return 2.0 - src.uniform(0.0, 1.0 - 1e-9)
    return src.mix("step range", {"stable": lambda: step_fraction(src, "stable"), "beyond": lambda: step_fraction(src, "beyond")})


def context_inputs(src: Source, N: int, dx: int) -> Tensor:
    """X, (B, N, dx): free entries, or rank one (every x_i on one line: K has N - 1 zero eigenvalues,
    so the loss keeps a part L_inf no step removes), scaled by a log-uniform factor in [0.1, 10]."""
    X = src.mix("context inputs", {
        "free": lambda: src.uniform(-2.0, 2.0, (N, dx)),
        "rank-one": lambda: src.uniform(-2.0, 2.0, (N, 1)) * src.uniform(-1.0, 1.0, (1, dx)),
    })
    return X * src.log_uniform(0.1, 10.0)[:, None, None]


RESIDUALS = ("drawn", "worst residual", "slowest mode")


def residual_block(src: Source, K: Tensor, eta: Tensor, N: int, dy: int, kinds: tuple[str, ...] = RESIDUALS) -> Tensor:
    """Y (the residual block of W_0 = 0), (B, N, dy): of the named kinds, drawn, the worst residual, or the
    slowest mode."""
    unknown = [k for k in kinds if k not in RESIDUALS]
    if unknown or not kinds:
        raise ValueError(f"residual kinds must be some of {', '.join(RESIDUALS)}, got {kinds!r}")
    sym = (K + K.mT) / 2
    lam, V = torch.linalg.eigh(sym)
    step = torch.eye(N, dtype=K.dtype, device=K.device) - eta[:, None, None] * K

    def along(v: Tensor) -> Tensor:
        return v[..., :, None] * src.uniform(-2.0, 2.0, (1, dy))

    def worst() -> Tensor:
        return along(torch.linalg.eigh(step.mT @ step)[1][..., -1])

    def slowest() -> Tensor:
        factor = torch.where(lam > 1e-12 * lam.abs().amax(-1, keepdim=True), (1 - eta[:, None] * lam).abs(), -1.0)
        return along(V.gather(2, factor.argmax(-1)[:, None, None].expand(-1, N, 1))[..., 0])

    options = {
        "drawn": lambda: src.uniform(-2.0, 2.0, (N, dy)) * src.log_uniform(0.1, 10.0)[:, None, None],
        "worst residual": worst,
        "slowest mode": slowest,
    }
    return src.mix("icl residuals", {k: options[k] for k in kinds})


def _invertible(src: Source, D: int) -> Tensor:
    """I + (0.5 / D) U[-1, 1]: strictly diagonally dominant, so invertible and well conditioned."""
    return src.eye(D) + (0.5 / D) * src.uniform(-1.0, 1.0, (D, D))


def layer_weights(src: Source, Gamma: Tensor, eta: Tensor, dy: int) -> dict[str, Tensor]:
    """{Wq, Wk, Wv, Wo} with Wq Wk^T = [[Gamma, 0], [0, 0]] and Wv Wo = [[0, 0], [0, -eta I]], through
    drawn invertible factors: Wq = P, Wk = (P^-1 A)^T, Wv = S, Wo = S^-1 B."""
    D = Gamma.shape[-1] + dy
    P, S = _invertible(src, D), _invertible(src, D)
    return {"Wq": P, "Wk": torch.linalg.solve(P, query_key_product(Gamma, dy)).mT,
            "Wv": S, "Wo": torch.linalg.solve(S, value_output_product(Gamma, eta, dy))}


@description
def icl_cases(
    src: Source, gamma: str = "psd", step: str = "stable", mask: str = "context", k: tuple[int, int] = (1, 1),
    layer: bool = True, residuals: tuple[str, ...] = RESIDUALS, n: tuple[int, int] = (1, 5), dx: tuple[int, int] = (1, 3),
    dy: tuple[int, int] = (1, 2),
) -> Case:
    """Case(X, Y, Gamma, eta, k[, xq, Wq, Wk, Wv, Wo, mask]): sizes first (N context pairs, dx, dy, k
    layers or GD steps), then X, Gamma of a kind, eta = f 2 / max(spectral radius of sym(K), 1e-3),
    the residual block (of the kinds in `residuals`); with `layer`, the query and the layer's weights and mask."""
    if mask not in MASKS:
        raise ValueError(f"mask must be one of {', '.join(MASKS)}, got {mask!r}")
    low_dx = 2 if gamma == "asymmetric" else dx[0]
    N, dx_, dy_, k_ = src.size(*n), src.size(low_dx, max(low_dx, dx[1])), src.size(*dy), src.size(*k)
    X = context_inputs(src, N, dx_)
    Gamma = gamma_matrix(src, gamma, dx_)
    K = preconditioned_kernel(X, Gamma)
    radius = torch.linalg.eigvalsh((K + K.mT) / 2).abs().amax(-1)
    eta = step_fraction(src, step) * 2.0 / radius.clamp_min(KERNEL_FLOOR)
    fields: dict[str, object] = {"X": X, "Y": residual_block(src, K, eta, N, dy_, residuals), "Gamma": Gamma, "eta": eta, "k": k_}
    if layer:
        fields.update(xq=src.uniform(-2.0, 2.0, (dx_,)), **layer_weights(src, Gamma, eta, dy_), mask=mask)
    return Case(**fields)
