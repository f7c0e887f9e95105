"""The claim record, its assumptions, and the scope of one search.

A claim is declared once, in its family's folder under `properties/`, and read by pytest,
the runner, the engines, the reports and the command line alike:

    claim ATT-DESCENT
      statement:   E_att(T_a Y) <= E_att(Y)
      source:      Yang, Huang, Wipf 2022, section and equation
      assumptions: sym(W) PSD; rho nondecreasing; rho concave; 0 <= a <= 1 (or <= 2, PSD kernel)
      expected:    holds
      cases:       a description of its cases (verify.draw): a Hypothesis strategy and a sampler
      check:       batch of cases -> Slacks (verify.model.tolerance), both sides computed
      certificate: where the claim reduces to a matrix inequality or a convex sub-problem
      examples:    the spec's smallest counterexamples, by the assumption they break

A `Scope` is what one search is about: a claim with every assumption kept, or with one
dropped (an ablation). It says which cases belong (`fits`), draws them, and is the only
place that turns "drop this assumption" into parameters and predicates.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import torch
from torch import Tensor

from verify.model.case import Case
from verify.model.tolerance import Slack, Slacks, stack_slacks

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

Expected = Literal["holds", "refuted"]


class Description(Protocol):
    """A distribution of cases with two backends (verify.draw implements it)."""

    def with_params(self, **params: Any) -> Description: ...

    def strategy(self) -> SearchStrategy[Case]: ...

    def sample(self, generator: torch.Generator, batch: int) -> Case: ...


@dataclass(frozen=True)
class Assumption:
    """One named hypothesis of a claim.

    holds:      batch of cases -> (B,) bool, whether each case meets it (float64, any device)
    broken_by:  case-description parameters that draw cases breaking it while keeping the
                claim's other assumptions (the scope still filters every case by all predicates)
    untestable: why no case can break it alone (a domain condition whose violation is an
                input error, say); the ablation reports it as not tested, with that reason
    project:    batch -> batch, the nearest cases that meet it (where that is cheap: a PSD cone,
                a range), so that a gradient climb keeps the cases of a scope in it
    """

    name: str
    holds: Callable[[Case], Tensor]
    broken_by: Mapping[str, Any] = field(default_factory=dict)
    untestable: str = ""
    project: Callable[[Case], Case] | None = None

    def holds_for(self, case: Case) -> bool:
        """The predicate on one (unbatched) case."""
        return bool(self.holds(case.batch())[0])

    def __repr__(self) -> str:
        return f"Assumption({self.name!r})"


class Looped:
    """A one-case check (a solver per case, a per-case Jacobian) lifted to batches by a loop.

    Claims whose check is `Looped` are searched by Hypothesis only: the sweep engine is for
    checks that judge a whole batch in one tensor computation.
    """

    def __init__(self, one: Callable[[Case], Slack]) -> None:
        self.one = one
        self.__doc__ = one.__doc__

    def __call__(self, batch: Case) -> Slacks:
        return stack_slacks([self.one(batch.unbatch(k)) for k in range(batch.size)], device=batch.device)


@dataclass(frozen=True)
class Claim:
    """One claim of the spec.

    id:          as the spec spells it (reports and tools key on it)
    family:      the folder under properties/ that declares it
    statement:   the formula, in plain notation
    source:      the paper (and the spec section) it comes from
    paper:       what the paper states there and where (section, equation, figure), as far as it
                 was checked; or that the claim is the spec's own derivation
    assumptions: what it needs; `cases` with `params` draws cases that meet them all
    expected:    what the spec says: holds (under its assumptions) or refuted
    cases:       the description of its cases (verify.draw), `params` its parameters
    check:       batch -> Slacks, both sides computed (a `Looped` one-case check where the
                 math needs a solver or per-case autograd)
    certify:     a certificate maker (verify.proof), where the claim reduces to a matrix
                 inequality or a convex sub-problem
    examples:    known cases by the assumption they break (None: all met); the spec's small
                 counterexamples live here as regression examples
    proof:       a short note where the spec gives a proof sketch
    explanation: for the report, what fails and why (expected-refuted claims)
    requires:    modules the check imports where it runs (a solver: cvxpy); a run on a machine
                 without them says so and leaves the claim out
    story:       case -> a sentence on what happened at a counterexample, its numbers computed from
                 the case (which sublayer raised which term), for the report of a refuted claim
    """

    id: str
    family: str
    statement: str
    source: str
    assumptions: tuple[Assumption, ...]
    cases: Description
    check: Callable[[Case], Slacks]
    params: Mapping[str, Any] = field(default_factory=dict)
    expected: Expected = "holds"
    conjecture: bool = False
    certify: Any = None
    examples: Mapping[str | None, tuple[Case, ...]] = field(default_factory=dict)
    proof: str = ""
    explanation: str = ""
    requires: tuple[str, ...] = ()
    story: Callable[[Case], str] | None = None
    paper: str = ""

    @property
    def missing(self) -> list[str]:
        """The modules in `requires` that are not installed here."""
        return missing(self.requires)

    @property
    def batched(self) -> bool:
        """The check judges a batch in one tensor computation (so the sweep engine can run it)."""
        return not isinstance(self.check, Looped)

    def judge(self, case: Case) -> Slack:
        """The check on one case: the batched check on a batch of one."""
        return self.check(case.batch()).at(0)

    def assumption(self, name: str) -> Assumption:
        for a in self.assumptions:
            if a.name == name:
                return a
        raise ValueError(f"claim {self.id} has no assumption {name!r}; it has {[a.name for a in self.assumptions]}")

    def scope(self, dropped: str | None = None) -> Scope:
        """All assumptions kept, or `dropped` broken and the others kept."""
        return Scope(self, None if dropped is None else self.assumption(dropped))

    def known_counterexamples(self) -> dict[str, tuple[Case, ...]]:
        """The spec's counterexamples, by the assumption whose absence they show."""
        return {k: v for k, v in self.examples.items() if k is not None}


@dataclass(frozen=True)
class Scope:
    """What one search is about: a claim, the assumption dropped (if any), the ones kept.

    fits(batch):  (B,) bool, each case keeps every kept assumption and breaks the dropped one
    description:  the claim's case description with the dropped assumption's parameters laid over
    strategy():   Hypothesis strategy of cases that fit; sample(g, B): a batch as drawn (the
                  sweep filters it with `fits`)
    """

    claim: Claim
    dropped: Assumption | None = None

    def __post_init__(self) -> None:
        if self.dropped is not None and self.dropped.untestable:
            raise ValueError(f"assumption {self.dropped.name!r} of {self.claim.id} cannot be broken by a case: "
                             f"{self.dropped.untestable}")

    @property
    def kept(self) -> tuple[Assumption, ...]:
        return tuple(a for a in self.claim.assumptions if a is not self.dropped)

    @property
    def dropped_name(self) -> str | None:
        return None if self.dropped is None else self.dropped.name

    @property
    def label(self) -> str:
        return self.claim.id if self.dropped is None else f"{self.claim.id} without {self.dropped.name!r}"

    @property
    def params(self) -> dict[str, Any]:
        return {**self.claim.params, **(self.dropped.broken_by if self.dropped is not None else {})}

    @property
    def description(self) -> Description:
        return self.claim.cases.with_params(**self.params)

    @property
    def examples(self) -> tuple[Case, ...]:
        return self.claim.examples.get(self.dropped_name, ())

    def fits(self, batch: Case) -> Tensor:
        """(B,) bool: every kept assumption holds, and the dropped one does not."""
        ok = torch.ones(batch.size, dtype=torch.bool, device=batch.device)
        for a in self.kept:
            ok &= a.holds(batch).to(ok.device)
        if self.dropped is not None:
            ok &= ~self.dropped.holds(batch).to(ok.device)
        return ok

    def fits_one(self, case: Case) -> bool:
        return bool(self.fits(case.batch())[0])

    def broken(self, case: Case) -> list[str]:
        """The names of the claim's assumptions that this one case breaks."""
        batch = case.batch()
        return [a.name for a in self.claim.assumptions if not bool(a.holds(batch)[0])]

    def project(self, batch: Case) -> Case:
        """The kept assumptions' projections, in order (those without one are met or not: `fits` decides)."""
        for a in self.kept:
            if a.project is not None:
                batch = a.project(batch)
        return batch

    def strategy(self) -> SearchStrategy[Case]:
        return self.description.strategy().filter(self.fits_one)

    def sample(self, generator: torch.Generator, batch: int) -> Case:
        return self.description.sample(generator, batch)


def missing(modules: Sequence[str]) -> list[str]:
    """The modules that are not installed here (found, not imported)."""
    return [m for m in modules if importlib.util.find_spec(m) is None]


def scopes(claim: Claim, ablate: bool = True) -> Sequence[Scope]:
    """The claim's main scope, then one per assumption a case can break (expected-refuted
    claims have no ablations: they fail with every assumption met)."""
    out = [claim.scope()]
    if ablate and claim.expected == "holds":
        out += [Scope(claim, a) for a in claim.assumptions if not a.untestable]
    return out
