"""PAPER case descriptions: tokens and the paper model's weights V (M = V^T V), A (U = clip(A A^T)), b."""

from __future__ import annotations

from verify.draw import Source, description
from verify.draw.regimes import tokens as token_matrices
from verify.model.case import Case


@description
def paper_cases(
    src: Source, tokens: str = "free+heterogeneous", n: tuple[int, int] = (2, 6), d: tuple[int, int] = (1, 3)
) -> Case:
    """Case(Y, V, A, b): V, A with entries in [-1.5, 1.5], b in [-3, 3]."""
    n_, d_ = src.size(*n), src.size(*d)
    return Case(
        Y=token_matrices(src, tokens, n_, d_),
        V=src.uniform(-1.5, 1.5, (d_, d_)),
        A=src.uniform(-1.5, 1.5, (d_, d_)),
        b=src.uniform(-3.0, 3.0, (d_,)),
    )
