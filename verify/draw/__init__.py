"""Case descriptions: each distribution written once, with two backends.

`@description` turns a builder `build(src, **params) -> Case` into a `Description` with a
Hypothesis strategy (`.strategy()`: structure, targeting, shrinking) and a batched torch
sampler (`.sample(generator, B)`: the sweep's volume, on any device).

For a researcher's own layer, `cases(n=..., d=..., Y=tokens(), W=psd(), a=uniform(0, 2))` builds
a description from fields that know their domain (verify.draw.fields):

    tokens()            token matrices across scales and regimes (free, coincident, one outlier,
                        equal norms, low rank, sign patterns, small integers)
    equal_norm_tokens() tokens with equal W-norms (for a weight field W drawn before)
    psd(), symmetric(), indefinite(), asymmetric(), spectrum(lo, hi), rotation(), matrix(...)
    uniform(lo, hi), log_uniform(lo, hi), fixed(value), given(Y=..., W=...)

The claims' own builders use the modules underneath: verify.draw.regimes (the claims' token
regimes: free, coincident, equal-norms, rms, eigen-cluster, ...), matrices, steps, layers, and
verify.draw.conditions (the predicates a case can meet or break).
"""

from verify.draw.fields import (
    CaseDescription,
    Field,
    asymmetric,
    cases,
    equal_norm_tokens,
    fixed,
    given,
    indefinite,
    log_uniform,
    matrix,
    psd,
    rotation,
    spectrum,
    symmetric,
    tokens,
    uniform,
)
from verify.draw.source import Description, HypothesisSource, Source, TorchSource, description

__all__ = [
    "CaseDescription", "Description", "Field", "HypothesisSource", "Source", "TorchSource", "asymmetric", "cases",
    "description", "equal_norm_tokens", "fixed", "given", "indefinite", "log_uniform", "matrix", "psd", "rotation",
    "spectrum", "symmetric", "tokens", "uniform",
]
