"""One description, two backends.

A case description is a function `build(src, **params) -> Case` written once against a
`Source` of randomness, every tensor with a leading batch dimension. Two sources implement it:

- `HypothesisSource`: every number is a Hypothesis draw and the batch is one case, so
  Hypothesis can target and shrink the case through the numbers it is built from;
- `TorchSource`: every number comes from one `torch.Generator`, `B` cases at once, on the
  generator's device (the sweep engine's volume).

`@description` turns a builder into a `Description` with `.strategy()` and `.sample(g, B)`,
the way `hypothesis.extra.array_api` derives strategies for any array namespace from one
description. Choices between named kinds go through `Source.mix` (one kind per case) and
`Source.choose` (one per batch: a name such as `rho`), which record the kinds they drew in
`Source.labels`, so a test can check that both backends reach the same kinds.
"""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any, TypeVar

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from torch import Tensor

from verify.model.case import Case

T = TypeVar("T")
M = TypeVar("M", Tensor, dict[str, Tensor])
F64 = torch.float64
TINY = 1e-12
# arrays with more entries than this are drawn by torch from a seed Hypothesis draws (it then shrinks
# the sizes, scales and kinds a case is built from, not each of thousands of entries)
DRAWN_ENTRIES = 256


class Source(ABC):
    """Where a description's numbers come from: `batch` cases at once on `device`, float64."""

    batch: int
    device: torch.device

    def __init__(self) -> None:
        self._drawn: list[tuple[str, list[str], Tensor | int]] = []

    @property
    def labels(self) -> frozenset[tuple[str, str]]:
        """(site, kind) for every kind some case of the batch was drawn from (read after drawing:
        the per-case picks stay on the device until asked for)."""
        out: set[tuple[str, str]] = set()
        for site, names, picks in self._drawn:
            indices = [picks] if isinstance(picks, int) else picks.unique().tolist()
            out.update((site, names[k]) for k in indices)
        return frozenset(out)

    @abstractmethod
    def uniform(self, low: float, high: float, shape: tuple[int, ...] = ()) -> Tensor:
        """(B, *shape) numbers in [low, high]."""

    @abstractmethod
    def log_uniform(self, low: float, high: float, shape: tuple[int, ...] = ()) -> Tensor:
        """(B, *shape) numbers 10**u, u uniform in [log10 low, log10 high]: spread over scales."""

    @abstractmethod
    def size(self, low: int, high: int) -> int:
        """An integer in [low, high] shared by the batch (a number of tokens, features, heads)."""

    @abstractmethod
    def _index(self, site: str, count: int) -> int:
        """One of `count` options, shared by the batch."""

    @abstractmethod
    def _per_case(self, count: int, weights: Sequence[float] | None) -> Tensor | int:
        """(B,) indices into `count` options, one per case (an int when the batch is one drawn case)."""

    def choose(self, site: str, options: Sequence[T]) -> T:
        """One of `options` for the whole batch (a name such as rho or the norm)."""
        k = self._index(site, len(options))
        self._drawn.append((site, [str(o) for o in options], k))
        return options[k]

    def mix(self, site: str, options: Mapping[str, Callable[[], M]], weights: Sequence[float] | None = None) -> M:
        """Per case, one of the named options: each a thunk returning a (B, ...) tensor, or a
        dict of them (several fields chosen together).

        `weights` set the frequencies (Hypothesis draws a whole number over 64 parts, so its own
        generation still varies them, and it shrinks towards the first kind). Both backends draw
        from the same kinds."""
        names = list(options)
        if weights is not None and len(weights) != len(names):
            raise ValueError(f"weights must give one weight per option of {site}, got {len(weights)} for {len(names)}")
        picks = self._per_case(len(names), weights)
        self._drawn.append((site, names, picks))
        if isinstance(picks, int):
            return options[names[picks]]()
        values = [options[name]() for name in names]
        rows = torch.arange(self.batch, device=self.device)
        if isinstance(values[0], dict):
            return {k: torch.stack([v[k] for v in values])[picks, rows] for k in values[0]}  # type: ignore[return-value]
        return torch.stack(values)[picks, rows]  # type: ignore[return-value]

    def flag(self, site: str, rate: float) -> Tensor:
        """(B,) bool, True in about `rate` of the cases (an edge case mixed in; Hypothesis shrinks to False)."""
        yes = torch.ones(self.batch, dtype=torch.bool, device=self.device)
        return self.mix(site, {"usual": lambda: ~yes, "edge": lambda: yes}, weights=(1 - rate, rate))

    def eye(self, d: int) -> Tensor:
        return torch.eye(d, dtype=F64, device=self.device)

    def full(self, value: float, shape: tuple[int, ...] = ()) -> Tensor:
        return torch.full((self.batch, *shape), float(value), dtype=F64, device=self.device)


class TorchSource(Source):
    """B cases at once from one torch.Generator, on the generator's device."""

    def __init__(self, generator: torch.Generator, batch: int) -> None:
        super().__init__()
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        self.generator = generator
        self.batch = batch
        self.device = generator.device

    def uniform(self, low: float, high: float, shape: tuple[int, ...] = ()) -> Tensor:
        u = torch.rand((self.batch, *shape), generator=self.generator, dtype=F64, device=self.device)
        return low + (high - low) * u

    def log_uniform(self, low: float, high: float, shape: tuple[int, ...] = ()) -> Tensor:
        return 10.0 ** self.uniform(math.log10(low), math.log10(high), shape)

    def size(self, low: int, high: int) -> int:
        return low + self._index("size", high - low + 1)

    def _index(self, site: str, count: int) -> int:
        # one host read per shared choice (a size or a name), a few per batch
        return int(torch.randint(count, (1,), generator=self.generator, device=self.device).item())

    def _per_case(self, count: int, weights: Sequence[float] | None) -> Tensor:
        u = torch.rand(self.batch, generator=self.generator, dtype=F64, device=self.device)
        if weights is None:
            return (u * count).long().clamp_max(count - 1)
        edges = torch.tensor(np.cumsum(weights[:-1]) / sum(weights), dtype=F64, device=self.device)
        return torch.bucketize(u, edges, right=True)


@cache
def reals(low: float, high: float) -> st.SearchStrategy[float]:
    """Finite float64 numbers in [low, high]; magnitudes below 1e-12 become 0 (numbers like
    1e-267 are valid floats but only test underflow in squares, not the claims)."""
    base = st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    if low <= 0.0 <= high:
        return base.map(lambda x: 0.0 if abs(x) < TINY else x)
    return base


class HypothesisSource(Source):
    """One case, every number a Hypothesis draw (shrinks towards zeros, small sizes, the first kind);
    an array of more than DRAWN_ENTRIES entries is drawn by torch from a seed Hypothesis draws."""

    batch = 1
    device = torch.device("cpu")

    def __init__(self, draw: st.DrawFn) -> None:
        super().__init__()
        self.draw = draw

    def uniform(self, low: float, high: float, shape: tuple[int, ...] = ()) -> Tensor:
        if not shape:
            return torch.tensor([self.draw(reals(low, high))], dtype=F64)  # host: Hypothesis draws on the CPU
        if math.prod(shape) > DRAWN_ENTRIES:  # a realistic size: torch draws the entries from a drawn seed
            seed = self.draw(st.integers(0, 2**31 - 1))
            g = torch.Generator().manual_seed(seed)  # host: Hypothesis draws on the CPU
            return low + (high - low) * torch.rand((1, *shape), generator=g, dtype=F64)  # host: Hypothesis draws on the CPU
        values = self.draw(arrays(np.float64, shape, elements=reals(low, high)))
        return torch.from_numpy(np.ascontiguousarray(values))[None]  # host: Hypothesis draws on the CPU

    def log_uniform(self, low: float, high: float, shape: tuple[int, ...] = ()) -> Tensor:
        return 10.0 ** self.uniform(math.log10(low), math.log10(high), shape)

    def size(self, low: int, high: int) -> int:
        return self.draw(st.integers(low, high))

    def _index(self, site: str, count: int) -> int:
        return self.draw(st.integers(0, count - 1))

    def _per_case(self, count: int, weights: Sequence[float] | None) -> int:
        if weights is None:
            return self.draw(st.integers(0, count - 1))
        parts = [max(1, round(64 * w / sum(weights))) for w in weights]
        k = self.draw(st.integers(0, sum(parts) - 1))
        return next(i for i, edge in enumerate(np.cumsum(parts)) if k < edge)


class Description:
    """A distribution of cases: `build(src, **params) -> Case` (batched), with two backends.

    `strategy()` is a Hypothesis strategy of single cases (float64, CPU); `sample(g, B)` a batch
    of B cases drawn with the torch generator `g`, on its device. Calling a description with
    parameters (`attention_cases(weight="indefinite")`) gives the same description with those
    parameters set; an unknown parameter is an error that names it.
    """

    def __init__(self, build: Callable[..., Case], params: Mapping[str, Any] | None = None) -> None:
        self.build = build
        self.params = dict(params or {})
        self._strategy: st.SearchStrategy[Case] | None = None
        accepted = inspect.signature(build).parameters
        unknown = [k for k in self.params if k not in accepted]
        if unknown:
            raise TypeError(f"{build.__name__} has no parameter {', '.join(unknown)}; "
                            f"it takes {', '.join(k for k in accepted if k != 'src')}")

    def with_params(self, **params: Any) -> Description:
        return Description(self.build, {**self.params, **params})

    __call__ = with_params

    def draw(self, src: Source) -> Case:
        """The case (batch) built from `src`."""
        return self.build(src, **self.params)

    def draw_with(self, src: Source, **params: Any) -> Case:
        """The case built from `src` with `params` laid over this description's (for composing
        descriptions: a layer case starts from an attention case)."""
        return self.with_params(**params).draw(src)

    def strategy(self) -> st.SearchStrategy[Case]:
        if self._strategy is None:
            self._strategy = st.composite(lambda draw: self.draw(HypothesisSource(draw)).unbatch(0))()
        return self._strategy

    def sample(self, generator: torch.Generator, batch: int) -> Case:
        return self.draw(TorchSource(generator, batch))

    def labelled_strategy(self) -> st.SearchStrategy[tuple[Case, frozenset[tuple[str, str]]]]:
        """Cases with the kinds each was drawn from (for tests of the two backends)."""

        def build(draw: st.DrawFn) -> tuple[Case, frozenset[tuple[str, str]]]:
            src = HypothesisSource(draw)
            return self.draw(src).unbatch(0), src.labels

        return st.composite(build)()

    def labelled_sample(self, generator: torch.Generator, batch: int) -> tuple[Case, frozenset[tuple[str, str]]]:
        src = TorchSource(generator, batch)
        return self.draw(src), src.labels

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.build.__name__}({args})"


def description(build: Callable[..., Case]) -> Description:
    """Decorator: a builder `build(src, **params) -> Case` as a `Description` (like `st.composite`)."""
    return Description(build)
