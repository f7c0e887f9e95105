"""The inputs of a benchmark entry: the default cases, or a narrower domain written as verify.draw fields.

An entry's truth is a statement about every Y of its domain, so the domain must be one the
search respects. `verify.draw.tokens()` draws across scales and regimes but every matrix lies in
its domain (a climb may go anywhere); the two fields here keep the tokens' regimes and add a
domain, with the projection a gradient climb uses to stay inside it:

    BoundedTokens(b)  tokens() rescaled per case so that max |Y| <= b;  domain max |Y| <= b, projected by clamping
    NonnegTokens()    |tokens()|;                                         domain Y >= 0, projected by max(Y, 0)

`inputs(n, d, bound, nonneg)` gives the description (None for the default: the API then uses
`verify.draw.cases()`), and `sample` draws a batch of token matrices the way the sweep does.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from verify.draw import CaseDescription, Field, Source, cases, tokens

DEFAULT_N = (1, 6)  # verify.draw.cases()'s sizes
DEFAULT_D = (1, 4)


class BoundedTokens(Field):
    """Token matrices of every regime of verify.draw.tokens(), scaled down per case to max |Y| <= bound."""

    def __init__(self, bound: float) -> None:
        self.bound = bound
        self.tokens = tokens()

    def draw(self, src: Source, n: int, d: int, fields: Mapping[str, Tensor]) -> Tensor:
        Y = self.tokens.draw(src, n, d, fields)
        largest = Y.abs().flatten(1).amax(1).clamp_min(1e-300)[:, None, None]
        return Y * torch.clamp(self.bound / largest, max=1.0)

    def holds(self, value: Tensor, fields: Mapping[str, Tensor]) -> Tensor:
        return value.abs().flatten(1).amax(1) <= self.bound

    def project(self, value: Tensor, fields: Mapping[str, Tensor]) -> Tensor:
        return value.clamp(-self.bound, self.bound)


class NonnegTokens(Field):
    """|Y| for Y of every regime of verify.draw.tokens(): nonnegative token matrices."""

    def __init__(self) -> None:
        self.tokens = tokens()

    def draw(self, src: Source, n: int, d: int, fields: Mapping[str, Tensor]) -> Tensor:
        return self.tokens.draw(src, n, d, fields).abs()

    def holds(self, value: Tensor, fields: Mapping[str, Tensor]) -> Tensor:
        return (value >= 0).flatten(1).all(1)

    def project(self, value: Tensor, fields: Mapping[str, Tensor]) -> Tensor:
        return value.clamp_min(0.0)


def inputs(n: tuple[int, int] = DEFAULT_N, d: tuple[int, int] = DEFAULT_D, bound: float | None = None,
           nonneg: bool = False) -> CaseDescription:
    """cases(n, d, Y=...): tokens(), BoundedTokens(bound) or NonnegTokens()."""
    if bound is not None and nonneg:
        raise ValueError("give a bound or nonneg, not both")
    Y = BoundedTokens(bound) if bound is not None else NonnegTokens() if nonneg else tokens()
    return cases(n=n, d=d, Y=Y)


def description(given: CaseDescription | None) -> CaseDescription:
    """The description behind an entry's inputs (the default cases for None)."""
    return given if given is not None else cases()


def sample(given: CaseDescription | None, generator: torch.Generator, batch: int) -> Tensor:
    """(batch, n, d) token matrices of one size, drawn as the sweep draws them."""
    return description(given).sample(generator, batch).tensor("Y")


def describe(given: CaseDescription | None) -> str:
    """'default', or the domain in a few words ('d 2, |Y| <= 3')."""
    if given is None:
        return "default"
    parts = []
    for name, (lo, hi), default in (("n", given.n, DEFAULT_N), ("d", given.d, DEFAULT_D)):
        if (lo, hi) != default:
            parts.append(f"{name} {lo}" if lo == hi else f"{name} {lo}-{hi}")
    field = given.fields["Y"]
    if isinstance(field, BoundedTokens):
        parts.append(f"|Y| <= {field.bound:g}")
    if isinstance(field, NonnegTokens):
        parts.append("Y >= 0")
    return ", ".join(parts)
