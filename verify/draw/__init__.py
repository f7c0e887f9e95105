"""Case descriptions: each distribution written once, with two backends.

`@description` turns a builder `build(src, **params) -> Case` into a `Description` with a
Hypothesis strategy (`.strategy()`: structure, targeting, shrinking) and a batched torch
sampler (`.sample(generator, B)`: the sweep's volume, on any device). The building blocks a
builder composes are the ones a researcher would reach for:

    verify.draw.tokens      token matrices in their regimes (free, coincident, equal norms, ...)
    verify.draw.matrices    orthogonal, spectral, psd, indefinite, symmetric, asymmetric weights
    verify.draw.steps       rho kinds and step sizes
    verify.draw.layers      weights of standard layers tied to the steps they unfold
    verify.draw.conditions  the predicates (PSD, symmetric, equal norms, ...) a case can meet or break
"""

from verify.draw.source import Description, HypothesisSource, Source, TorchSource, description

__all__ = ["Description", "HypothesisSource", "Source", "TorchSource", "description"]
