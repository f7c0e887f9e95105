"""HOPFIELD case descriptions: stored patterns, states, beta, and the update's beta as a multiple of it.

Scales follow the spec's checks (N <= 7, d <= 5, scales 0.1 to 10, beta 0.01 to 30). The energy's
interesting regime is beta M^2 of order 1 (below it the update averages every pattern, above it snaps
to the nearest), which these ranges cover; `n` and `d` narrow the sizes for a claim that fails rarely
(HOPFIELD-BETA-MISMATCH rises most often in few dimensions).
"""

from __future__ import annotations

from torch import Tensor

from verify.draw import Source, description
from verify.model.case import Case

BETA_SIGNS = ("positive", "negative")
RATIOS = ("shared", "triple", "mismatched")


def stored_patterns(src: Source, N: int, d: int, scale: Tensor) -> Tensor:
    """Y, (B, N, d): free entries in [-1, 1], near-duplicates (one centre plus noise of relative size
    1e-3: the update averages them, a metastable state), or one pattern 10 times longer than the rest;
    all times `scale`."""
    def free() -> Tensor:
        return src.uniform(-1.0, 1.0, (N, d))

    def near_duplicates() -> Tensor:
        return src.uniform(-1.0, 1.0, (1, d)) + 1e-3 * src.uniform(-1.0, 1.0, (N, d))

    def one_long() -> Tensor:
        Y = src.uniform(-0.1, 0.1, (N, d)).clone()
        Y[:, 0] = src.uniform(-1.0, 1.0, (d,))
        return Y

    Y = src.mix("pattern set", {"free": free, "near-duplicates": near_duplicates, "one long": one_long})
    return Y * scale[:, None, None]


def states(src: Source, Y: Tensor, m: int, scale: Tensor) -> Tensor:
    """R, (B, m, d): free (|entries| up to 3 times the patterns' scale), near a stored pattern (relative
    noise 1e-2), or on the patterns' hull (softmax of logits up to 30 in size)."""
    N, d = Y.shape[-2:]

    def free() -> Tensor:
        return src.uniform(-1.0, 1.0, (m, d)) * (scale * src.log_uniform(0.3, 3.0))[:, None, None]

    def near_pattern() -> Tensor:
        weights = (src.uniform(-1.0, 1.0, (m, N)) * 50.0).softmax(-1)  # mostly one pattern each
        return weights @ Y + 1e-2 * src.uniform(-1.0, 1.0, (m, d)) * scale[:, None, None]

    def on_hull() -> Tensor:
        return hull_weights(src, m, N) @ Y

    return src.mix("state", {"free": free, "near a pattern": near_pattern, "on the hull": on_hull})


def hull_weights(src: Source, m: int, N: int) -> Tensor:
    """(B, m, N) rows in the simplex: softmax of logits in [-1, 1] times a log-uniform factor in [0.1, 30]."""
    return (src.uniform(-1.0, 1.0, (m, N)) * src.log_uniform(0.1, 30.0)[:, None, None]).softmax(-1)


def inverse_temperature(src: Source, sign: str) -> Tensor:
    """(B,) beta, log-uniform over [0.01, 30], with the sign named."""
    if sign not in BETA_SIGNS:
        raise ValueError(f"beta sign must be one of {', '.join(BETA_SIGNS)}, got {sign!r}")
    beta = src.log_uniform(0.01, 30.0)
    return beta if sign == "positive" else -beta


def update_ratio(src: Source, kind: str) -> Tensor:
    """(B,) beta' / beta for the update: 1 ('shared'), 3 ('triple'), or 10^(+-u), u in [0.2, 1] ('mismatched')."""
    if kind not in RATIOS:
        raise ValueError(f"ratio kind must be one of {', '.join(RATIOS)}, got {kind!r}")
    if kind == "shared":
        return src.full(1.0)
    if kind == "triple":
        return src.full(3.0)
    exponent = src.uniform(0.2, 1.0)
    return 10.0 ** src.mix("ratio side", {"above": lambda: exponent, "below": lambda: -exponent})


@description
def hopfield_cases(
    src: Source, beta: str = "positive", ratio: str = "shared", hull: bool = False,
    n: tuple[int, int] = (1, 7), d: tuple[int, int] = (1, 5), m: tuple[int, int] = (1, 3),
) -> Case:
    """Case(Y, R, beta, ratio[, hull]): N patterns and m states in d dimensions, beta, the update's
    beta' = ratio * beta; with `hull`, weights (m, N) of points on the patterns' convex hull."""
    N, d_, m_ = src.size(*n), src.size(*d), src.size(*m)
    scale = src.log_uniform(0.1, 10.0)
    Y = stored_patterns(src, N, d_, scale)
    fields: dict[str, object] = {"Y": Y, "R": states(src, Y, m_, scale), "beta": inverse_temperature(src, beta),
                                 "ratio": update_ratio(src, ratio)}
    if hull:
        fields["hull"] = hull_weights(src, m_, N)
    return Case(**fields)


@description
def self_attention_cases(src: Source, n: tuple[int, int] = (2, 5), d: tuple[int, int] = (1, 3)) -> Case:
    """Case(Y, beta): n tokens in d dimensions (free, near-duplicates or one long, scale 0.1 to 10), beta."""
    n_, d_ = src.size(*n), src.size(*d)
    return Case(Y=stored_patterns(src, n_, d_, src.log_uniform(0.1, 10.0)), beta=inverse_temperature(src, "positive"))
