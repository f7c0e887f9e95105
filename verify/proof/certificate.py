"""Certificates: from "no counterexample found" to "certified".

Two levels above a sampled pass (spec, Evidence levels):
- certified for all inputs: the claim reduces to a matrix inequality on the weights, settled
  by an eigenvalue computation for every input at once, with its margin (FF-DESCENT is
  lmin(I + M) >= 0 for every Y and b);
- certified instance: for one drawn case a convex sub-problem is solved (verify.proof.convex)
  or a matrix inequality settles that case, with the solver's status, gap and residual.

A family declares its certificates in its folder (`properties/<family>/certificates.py`) as a
`Certifier`; this module holds the record and its summary over the drawn cases.

An eigenvalue computed in floating point is within c eps ||A|| of the true one (symmetric
eigensolvers are backward stable), so a margin certifies only beyond that error bound; a
margin inside it is inconclusive.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from verify.model.case import Case
from verify.model.verdict import Evidence

EPS64 = float(np.finfo(np.float64).eps)
SETTLED = ("optimal", "converged")


@dataclass(frozen=True)
class Certification:
    """One certificate: what it settles (`scope`), at which level, and how surely.

    holds:  True (certified), False (the inequality fails: refuted for that scope), or
            None (inconclusive: margin within the error bound, or solver trouble)
    margin: how far the matrix inequality holds (same units as the statement)
    status: "optimal" (a solver's optimum) or "converged" (an eigenvalue routine that converged)
            settle it; any other status is trouble
    """

    level: Evidence
    scope: str
    statement: str
    margin: float
    error_bound: float
    solver: str = "numpy.linalg.eigh"
    status: str = "optimal"
    gap: float = 0.0
    residual: float = 0.0
    measures: dict[str, float] = field(default_factory=dict)

    @property
    def holds(self) -> bool | None:
        if self.status not in SETTLED or not math.isfinite(self.margin):
            return None
        if self.margin > self.error_bound or (self.error_bound == 0.0 and self.margin >= 0.0):
            return True
        if self.margin < -self.error_bound:
            return False
        return None


def eigenvalue_error(A: np.ndarray) -> float:
    """A bound on the rounding error of a computed eigenvalue of the symmetric A: 10 d eps ||A||_2."""
    return 10.0 * A.shape[0] * EPS64 * max(1.0, float(np.linalg.norm(A, 2)))


def weakest(*conditions: tuple[float, float]) -> tuple[float, float]:
    """Of several inequalities that must all hold, each as (margin, error bound), the one closest to
    failing relative to its error bound: it certifies the conjunction exactly when it certifies itself
    (all margins beyond their bounds), refutes it when it fails, and is inconclusive otherwise."""

    def reach(c: tuple[float, float]) -> float:
        margin, error = c
        if math.isnan(margin):
            return -math.inf
        return margin / error if error > 0 else (math.inf if margin >= 0 else -math.inf)

    return min(conditions, key=reach)


@dataclass(frozen=True)
class Certifier:
    """How a claim is certified: `one(case) -> Certification` for a drawn case, and
    `details(certifications) -> {field: value}`, extra summary fields for the report."""

    one: Callable[[Case], Certification]
    details: Callable[[list[Certification]], dict[str, Any]] | None = None


@dataclass(frozen=True)
class CertificateSummary:
    """Certificates over the cases drawn for one claim, for the report."""

    level: Evidence
    scope: str
    statement: str
    cases: int
    certified: int
    inconclusive: int
    refuted: int
    min_margin: float
    solver: str
    statuses: dict[str, int]
    max_gap: float
    max_residual: float
    measures: dict[str, list[float]]
    counterexample: Case | None = None
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def evidence(self) -> Evidence:
        """The level the claim may claim: only with certificates and none refuted."""
        return self.level if self.certified > 0 and self.refuted == 0 else "sampled"


def summarize(certs: list[Certification], counterexample: Case | None = None, seconds: float = 0.0,
              details: dict[str, Any] | None = None) -> CertificateSummary:
    statuses: dict[str, int] = {}
    for c in certs:
        statuses[c.status] = statuses.get(c.status, 0) + 1
    judged = [c for c in certs if c.holds is not None]
    measures: dict[str, list[float]] = {}
    for c in certs:
        for k, v in c.measures.items():
            measures.setdefault(k, []).append(v)
    first = certs[0]
    finite = lambda xs: [x for x in xs if math.isfinite(x)] or [math.nan]  # noqa: E731
    return CertificateSummary(
        level=first.level, scope=first.scope, statement=first.statement, cases=len(certs),
        certified=sum(c.holds is True for c in certs), inconclusive=sum(c.holds is None for c in certs),
        refuted=sum(c.holds is False for c in certs),
        min_margin=min(finite([c.margin for c in judged])) if judged else math.nan,
        solver=first.solver, statuses=statuses, max_gap=max(finite([c.gap for c in certs])),
        max_residual=max(finite([c.residual for c in certs])), measures=measures,
        counterexample=counterexample, seconds=seconds, details=details or {},
    )
