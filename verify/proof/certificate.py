"""Certificates: from "no counterexample found" to "certified".

Two levels above a sampled pass (spec, Evidence levels):
- certified for all inputs: the claim reduces to a matrix inequality on the weights, settled
  by an eigenvalue computation for every input at once, with its margin (FF-DESCENT is
  lmin(I + M) >= 0 for every Y and b);
- certified instance: for one drawn case a convex sub-problem is solved (verify.proof.convex),
  with the solver's status, gap and residual, or a matrix inequality settles that case.

A certificate records what produced it (`kind`) and only the fields that computation produced:
an eigenvalue certificate its quantity, value, bound and rounding bound; a solver certificate
its solver, status, duality gap and KKT residual.

A family declares its certificates in its folder (`properties/<family>/certificates.py`) as a
`Certifier`; this module holds the record and its summary over the drawn cases.

An eigenvalue computed in floating point is within c eps ||A|| of the true one (symmetric
eigensolvers are backward stable), so a margin certifies only beyond that error bound; a
margin inside it is inconclusive.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from verify.model.case import Case
from verify.model.verdict import Evidence

EPS64 = float(np.finfo(np.float64).eps)


Kind = Literal["eigenvalue", "solver"]


@dataclass(frozen=True)
class Certification:
    """One certificate: what it settles (`scope`), at which level, how surely, and what produced it.

    kind:        "eigenvalue" (an eigenvalue or singular value computed in floating point: it
                 produced `quantity`, `value` and `bound`, the inequality value >= bound) or
                 "solver" (a convex solve: it produced `solver`, `status`, `gap`, `residual`)
    produced:    those fields, exactly as computed; nothing a computation did not produce
    margin:      how far the inequality holds (same units as the statement)
    error_bound: how far rounding (or the solver's certified accuracy) may move the margin
    holds:       True (certified), False (the inequality fails: refuted for that scope), or None
                 (inconclusive: the margin within the error bound, or solver trouble)
    """

    level: Evidence
    scope: str
    statement: str
    kind: Kind
    margin: float
    error_bound: float
    produced: dict[str, Any] = field(default_factory=dict)
    measures: dict[str, float] = field(default_factory=dict)

    @property
    def holds(self) -> bool | None:
        if (self.kind == "solver" and self.produced.get("status") != "optimal") or not math.isfinite(self.margin):
            return None
        if self.margin > self.error_bound or (self.error_bound == 0.0 and self.margin >= 0.0):
            return True
        if self.margin < -self.error_bound:
            return False
        return None


def eigenvalue_certificate(level: Evidence, scope: str, statement: str, quantity: str, value: float, bound: float,
                           error_bound: float, measures: dict[str, float] | None = None) -> Certification:
    """`quantity` = value >= bound, settled by an eigenvalue computation with the given rounding bound."""
    return Certification(level, scope, statement, "eigenvalue", value - bound, error_bound,
                         {"quantity": quantity, "value": value, "bound": bound}, measures or {})


def solver_certificate(level: Evidence, scope: str, statement: str, margin: float, error_bound: float, solver: str,
                       status: str, gap: float, residual: float, measures: dict[str, float] | None = None) -> Certification:
    """A convex solve's verdict on the statement, with the status, duality gap and KKT residual it returned."""
    return Certification(level, scope, statement, "solver", margin, error_bound,
                         {"solver": solver, "status": status, "gap": gap, "residual": residual}, measures or {})


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
    """How a claim is certified: `one(case) -> Certification` for a drawn case,
    `details(certifications) -> {field: value}`, extra summary fields for the report, and the
    modules it needs (a solver), so that a run without them says so instead of failing."""

    one: Callable[[Case], Certification]
    details: Callable[[list[Certification]], dict[str, Any]] | None = None
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class CertificateSummary:
    """Certificates over the cases drawn for one claim, for the report.

    produced: per field that the kind produces, over the cases: for "eigenvalue" the quantity,
    the bound and the smallest and largest value; for "solver" the solver, the count of each
    status, the largest gap and residual. Only fields a computation produced."""

    level: Evidence
    scope: str
    statement: str
    kind: Kind
    cases: int
    certified: int
    inconclusive: int
    refuted: int
    min_margin: float
    max_error_bound: float
    produced: dict[str, Any]
    measures: dict[str, list[float]]
    counterexample: Case | None = None
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    @property
    def evidence(self) -> Evidence:
        """The level the claim may claim: only with certificates and none refuted."""
        return self.level if self.certified > 0 and self.refuted == 0 else "sampled"

    def to_record(self) -> dict[str, Any]:
        """As JSON (a non-finite number as the string 'nan', 'inf' or '-inf'), for shards merged later."""
        record = _jsonable({f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "counterexample"})
        record["counterexample"] = self.counterexample.to_json() if self.counterexample is not None else None
        return record

    @staticmethod
    def from_record(record: dict[str, Any]) -> CertificateSummary:
        fields = _numbers({k: v for k, v in record.items() if k != "counterexample"})
        counterexample = record["counterexample"]
        return CertificateSummary(**fields, counterexample=Case.from_json(counterexample) if counterexample is not None else None)


def _jsonable(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


def _numbers(x: Any) -> Any:
    if isinstance(x, str) and x in ("nan", "inf", "-inf"):
        return float(x)
    if isinstance(x, dict):
        return {k: _numbers(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_numbers(v) for v in x]
    return x


def summarize(certs: list[Certification], counterexample: Case | None = None, seconds: float = 0.0,
              details: dict[str, Any] | None = None, note: str = "") -> CertificateSummary:
    """The certificates of one claim's draws; `note` says why the draws stopped early, if they did."""
    first = certs[0]
    judged = [c for c in certs if c.holds is not None]
    measures: dict[str, list[float]] = {}
    for c in certs:
        for k, v in c.measures.items():
            measures.setdefault(k, []).append(v)
    finite = lambda xs: [x for x in xs if isinstance(x, float) and math.isfinite(x)] or [math.nan]  # noqa: E731
    if first.kind == "eigenvalue":
        values = finite([c.produced["value"] for c in certs])
        produced: dict[str, Any] = {"quantity": first.produced["quantity"], "bound": first.produced["bound"],
                                    "min_value": min(values), "max_value": max(values)}
    else:
        statuses: dict[str, int] = {}
        for c in certs:
            statuses[c.produced["status"]] = statuses.get(c.produced["status"], 0) + 1
        produced = {"solver": first.produced["solver"], "statuses": statuses,
                    "max_gap": max(finite([c.produced["gap"] for c in certs])),
                    "max_residual": max(finite([c.produced["residual"] for c in certs]))}
    return CertificateSummary(
        level=first.level, scope=first.scope, statement=first.statement, kind=first.kind, cases=len(certs),
        certified=sum(c.holds is True for c in certs), inconclusive=sum(c.holds is None for c in certs),
        refuted=sum(c.holds is False for c in certs),
        min_margin=min(finite([c.margin for c in judged])) if judged else math.nan,
        max_error_bound=max(finite([c.error_bound for c in certs])), produced=produced, measures=measures,
        counterexample=counterexample, seconds=seconds, details=details or {}, note=note,
    )
