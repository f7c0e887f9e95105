"""The `Claim` record and the registry.

A claim is declared once, in `properties/`, and read by pytest, the runner, the CLI and
the reports alike. Its `check` returns a `Slack` (how far the relation holds and the
tolerance it was judged by), never a bare bool and never formatted output.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from hypothesis import strategies as st

from verify.assumptions import Assumption
from verify.case import Case
from verify.numerics import Slack, Slacks

if TYPE_CHECKING:
    from verify.certificates import Certification

Expected = Literal["holds", "refuted"]

FAMILIES = ("att", "ff", "norm", "layer", "paper")



@dataclass(frozen=True)
class Sweep:
    """A claim's batched form, for the sweep engine (verify.sweep).

    sample: (generator, B, **claim.params) -> a batch of B cases meeting every assumption
            (verify.samplers; the same parameters as the claim's strategy)
    slacks: batch -> Slacks, one per case; the claim's one-case `check` is this on a batch of one
    """

    sample: Callable[..., Case]
    slacks: Callable[[Case], Slacks]


def swept(slacks: Callable[[Case], Slacks], sample: Callable[..., Case]) -> dict[str, Any]:
    """Claim fields `check` and `sweep` built from one batched check."""
    return {"check": one_case(slacks), "sweep": Sweep(sample, slacks)}


def one_case(slacks: Callable[[Case], Slacks]) -> Callable[[Case], Slack]:
    """The one-case check of a batched check: the same code, on a batch of one."""

    def check(case: Case) -> Slack:
        return slacks(case.batch()).at(0)

    check.__doc__ = slacks.__doc__
    return check


@dataclass(frozen=True)
class Claim:
    """One claim of the spec.

    id:          as the spec spells it (reports and tools key on it)
    statement:   the formula, in plain notation
    source:      where it comes from
    assumptions: what it needs; `cases(**params)` draws cases that meet them all
    check:       case -> Slack, both sides computed
    expected:    what the spec says: holds (under its assumptions) or refuted
    examples:    known cases by the assumption they violate (None: all met); the spec's
                 small counterexamples live here as regression examples
    proof:       a short note where the spec gives a proof sketch
    explanation: for the report, what fails and why (expected-refuted claims)
    certify:     case -> Certification, where the claim reduces to a matrix inequality or a
                 convex sub-problem (verify.certificates)
    sweep:       the batched sampler and check, where the check is pure tensor math (no
                 solver, no per-case autograd); `check` is then `one_case(sweep.slacks)`
    """

    id: str
    family: str
    statement: str
    source: str
    assumptions: tuple[Assumption, ...]
    cases: Callable[..., st.SearchStrategy[Case]]
    check: Callable[[Case], Slack]
    params: Mapping[str, Any] = field(default_factory=dict)
    expected: Expected = "holds"
    conjecture: bool = False
    examples: Mapping[str | None, tuple[Case, ...]] = field(default_factory=dict)
    proof: str = ""
    explanation: str = ""
    certify: Callable[[Case], Certification] | None = None
    sweep: Sweep | None = None

    def assumption(self, name: str) -> Assumption:
        for a in self.assumptions:
            if a.name == name:
                return a
        raise ValueError(f"claim {self.id} has no assumption {name!r}; it has {[a.name for a in self.assumptions]}")

    def strategy(self, violate: str | None = None) -> st.SearchStrategy[Case]:
        """Cases meeting every assumption, or breaking `violate` and meeting the rest."""
        params = dict(self.params)
        kept = [a for a in self.assumptions if a.name != violate]
        broken = None if violate is None else self.assumption(violate)
        if broken is not None:
            if broken.untestable:
                raise ValueError(f"assumption {broken.name!r} of {self.id} cannot be violated by a case: {broken.untestable}")
            params.update(broken.violate)

        def wanted(case: Case) -> bool:
            if broken is not None and broken.holds(case):
                return False
            return all(a.holds(case) for a in kept)

        return self.cases(**params).filter(wanted)

    def known_counterexamples(self) -> dict[str, tuple[Case, ...]]:
        """The spec's counterexamples, by the assumption whose absence they show."""
        return {k: v for k, v in self.examples.items() if k is not None}


def registry() -> dict[str, Claim]:
    """{claim id: Claim} for every claim in `properties/`, in the spec's order."""
    claims: dict[str, Claim] = {}
    for family in FAMILIES:
        module = importlib.import_module(f"properties.{family}")
        for claim in module.CLAIMS:
            if claim.id in claims:
                raise ValueError(f"claim id {claim.id} is declared twice")
            claims[claim.id] = claim
    return claims
