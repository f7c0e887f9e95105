"""NORM case descriptions: token rows (never constant), a competitor row each, a scale factor."""

from __future__ import annotations

import torch

from verify.draw import Source, description
from verify.draw.regimes import tokens as token_matrices
from verify.model.case import Case


@description
def norm_cases(src: Source, tokens: str = "free+offset", scale: str = "positive") -> Case:
    """Case(Y, X, t): rows (a row constant up to 1e-6 gets + (0, 1, ..., d - 1): P y = 0 is an
    error, not a case), a competitor row each, t log-uniform over [1e-3, 1e3] ('positive') or its
    negative ('negative')."""
    if scale not in ("positive", "negative"):
        raise ValueError(f"scale must be 'positive' or 'negative', got {scale!r}")
    n_, d_ = src.size(1, 4), src.size(2, 5)
    Y = token_matrices(src, tokens, n_, d_)
    spread = (Y - Y.mean(-1, keepdim=True)).abs().amax(-1)
    constant = (spread <= 1e-6 * (1 + Y.abs().amax(-1))).any(-1)
    Y = torch.where(constant[:, None, None], Y + torch.arange(d_, dtype=Y.dtype, device=Y.device), Y)
    t = src.log_uniform(1e-3, 1e3)
    return Case(Y=Y, X=src.uniform(-3.0, 3.0, (n_, d_)), t=t if scale == "positive" else -t)
