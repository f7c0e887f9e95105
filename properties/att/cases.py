"""ATT case descriptions: tokens, weights, rho and step sizes for the attention claims."""

from __future__ import annotations

from verify.draw import Source, description, steps
from verify.draw.layers import tied_attention
from verify.draw.matrices import weights
from verify.draw.regimes import tokens as token_matrices
from verify.model.case import Case


@description
def attention_cases(
    src: Source, weight: str = "psd", tokens: str = "free", rho: str = "exp", step: str | None = "kernel",
    n: tuple[int, int] = (2, 5), d: tuple[int, int] = (1, 3),
) -> Case:
    """Case(Y, W, rho[, a]): sizes first (small, so shrinking reaches n = 2, d = 1), then W of a
    kind, a rho of a class, tokens of a regime ('free+coincident' mixes), a step size."""
    low_d = 2 if weight == "asymmetric" else d[0]
    n_, d_ = src.size(*n), src.size(low_d, max(low_d, d[1]))
    W = weights(src, weight, d_)
    name = steps.rho(src, rho)
    fields: dict[str, object] = {"Y": token_matrices(src, tokens, n_, d_, W), "W": W, "rho": name}
    if step is not None:
        fields["a"] = steps.step_sizes(src, step, name)
    return Case(**fields)


@description
def majorize_cases(src: Source, weight: str = "any", rho: str = "concave") -> Case:
    """Case(Y0, Y, W, rho): a base point and a second one, near (the difference scaled by [1e-3, 1]) or far."""
    base = attention_cases.draw_with(src, weight=weight, tokens="free+coincident", rho=rho, step=None)
    Y0 = base.tensor("Y")
    delta = src.uniform(-3.0, 3.0, tuple(Y0.shape[1:]))
    near = src.mix("distance", {"near": lambda: src.log_uniform(1e-3, 1.0), "far": lambda: src.full(1.0)})
    return Case(Y0=Y0, Y=Y0 + delta * near[:, None, None], W=base["W"], rho=base["rho"])


@description
def regularized_cases(src: Source, weight: str = "psd", rho: str = "concave") -> Case:
    """Case(Y, W, rho, lam), lam in [0, 4]."""
    base = attention_cases.draw_with(src, weight=weight, tokens="free+coincident", rho=rho, step=None)
    return Case(**base, lam=src.uniform(0.0, 4.0))


@description
def attention_layer_cases(
    src: Source, weight: str = "symmetric", tokens: str = "equal-norms", value: str = "scalar", norm: str = "any"
) -> Case:
    """Case(Y, W, Wq, Wk, Wv, Wo, c, norm): a standard layer with Wq Wk^T = W and Wv Wo = c I
    ('scalar') or a generic Wo ('generic'); n <= 4, d <= 2 (equivalence fails, or not, already
    there, and every extra weight entry costs the shrinker a pass over five matrices)."""
    base = attention_cases.draw_with(src, weight=weight, tokens=tokens, rho="exp", step=None, n=(2, 4), d=(1, 2))
    W = base.tensor("W")
    norm_name = src.choose("norm", ("layer_norm", "rms_norm")) if norm == "any" else norm
    if norm_name == "layer_norm" and W.shape[-1] < 2:
        norm_name = "rms_norm"
    return Case(Y=base["Y"], W=W, **tied_attention(src, W, value), norm=norm_name)
