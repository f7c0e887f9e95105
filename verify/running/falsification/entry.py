"""One entry of the falsification benchmark, and how it is judged by plain torch (no search engine).

An `Entry` is a relation whose truth was settled before any engine saw it:

    descent      first = step, second = energy:  energy(step(Y)) <= energy(Y) for every Y of the inputs
    equivalence  first = f,    second = g:       f(Y) == g(Y) for every Y of the inputs

"every Y of the inputs" is every (n, d) matrix of the entry's domain, `cases`: a verify.draw
description (None for the default `verify.draw.cases()`, whose domain is every real matrix with
n <= 6, d <= 4; the search may go anywhere in it). `why` gives the proof of a true entry, or the
failure set of a false one; a false entry carries a `witness`, an input of the domain on which the
relation fails, and `rare`, for the few that uniform draws of the inputs seldom break (fewer than
1 in 500 draws), the brute-force estimate of how seldom (`failure_rate`).

The plain judge: a descent fails at Y when energy(step Y) - energy(Y) > RELATIVE (1 + |E(Y)| + |E(step Y)|);
an equivalence fails when max |f(Y) - g(Y)| > RELATIVE (1 + max |f(Y)|, |g(Y)|, |Y|). RELATIVE = 1e-9 is
far above float64 rounding of these small computations and far below every failure witnessed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

import verify.running.falsification.domains as domains
from verify.draw import CaseDescription
from verify.model.case import Case

Kind = Literal["descent", "equivalence"]
RELATIVE = 1e-9


@dataclass(frozen=True)
class Entry:
    """name:    short and unique
    kind:    "descent" (first = step, second = energy) or "equivalence" (first = f, second = g)
    truth:   whether the relation holds on every input of `cases`
    why:     one line: the proof (true) or the failure set and an explicit failing input (false)
    cases:   the inputs, a verify.draw description handed to the API (None: the default cases)
    witness: rows of a failing input (false entries), checked by plain torch in the tests
    rare:    for failures uniform sampling seldom meets, the brute-force estimate ("about 1 in 3000 draws")
    """

    name: str
    kind: Kind
    first: Callable[[Tensor], Tensor]
    second: Callable[[Tensor], Tensor]
    truth: bool
    why: str
    cases: CaseDescription | None = None
    witness: tuple[tuple[float, ...], ...] | None = None
    rare: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("descent", "equivalence"):
            raise ValueError(f"kind must be 'descent' or 'equivalence', got {self.kind!r}")
        if (self.witness is None) != self.truth:
            raise ValueError(f"{self.name}: a false entry needs a witness and a true one has none")
        if self.rare is not None and self.truth:
            raise ValueError(f"{self.name}: only a false entry has rare failures")

    def in_domain(self, Y: Tensor) -> bool:
        """Whether the (n, d) matrix Y is one of the entry's inputs."""
        return bool(domains.description(self.cases).holds(Case(Y=Y[None])).all())

    def witness_tensor(self) -> Tensor:
        """The witness as an (n, d) float64 tensor."""
        if self.witness is None:
            raise ValueError(f"{self.name} is true: it has no witness")
        return torch.tensor(self.witness, dtype=torch.float64, device="cpu")


def violation(entry: Entry, Y: Tensor) -> float:
    """How far the relation fails at Y, relative (<= 0 where it holds), computed directly:
    (E(step Y) - E(Y)) / (1 + |E(Y)| + |E(step Y)|) or max |f - g| / (1 + max |f|, |g|, |Y|)."""
    with torch.no_grad():
        if entry.kind == "descent":
            before, after = float(entry.second(Y)), float(entry.second(entry.first(Y)))
            return (after - before) / (1 + abs(before) + abs(after))
        a, b = entry.first(Y), entry.second(Y)
        size = max(float(a.abs().max()), float(b.abs().max()), float(Y.abs().max()))
        return float((a - b).abs().max()) / (1 + size)


def fails(entry: Entry, Y: Tensor) -> bool:
    """Whether the relation fails at Y by more than RELATIVE (rounding never gets there)."""
    return violation(entry, Y) > RELATIVE


def failure_rate(entry: Entry, draws: int, seed: int = 0, batch: int = 500) -> float:
    """The fraction of `draws` uniform draws of the entry's inputs (batches of one size) that fail:
    the brute-force estimate behind `rare`."""
    generator = torch.Generator("cpu").manual_seed(seed)
    failed = seen = 0
    while seen < draws:
        Ys = domains.sample(entry.cases, generator, min(batch, draws - seen))
        failed += sum(fails(entry, Y) for Y in Ys)
        seen += len(Ys)
    return failed / seen
