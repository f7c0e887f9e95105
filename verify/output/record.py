"""A run as JSON: the machine contract (reports/latest.json).

Fields are added, never renamed (the schema is in README.md, "The report"). The markdown
report is rendered from this JSON alone (verify.output.markdown), so it can be re-made from a
stored file.
"""

from __future__ import annotations

import json
import math
import os
import platform
from collections import Counter
from collections.abc import Iterable
from importlib import metadata
from typing import Any

from verify.model.case import Case
from verify.model.tolerance import Slack
from verify.model.verdict import Verdict
from verify.proof.certificate import CertificateSummary
from verify.running.runner import ClaimRun, Run

NEEDED_JSON = {"needed": True, "not needed": False, "not tested": None}


def _number(x: float | None) -> float | None:
    """JSON has no NaN: an undefined number is null."""
    return None if x is None or not math.isfinite(x) else x


def _case_json(v: Verdict) -> dict[str, Any] | None:
    c = v.counterexample
    if c is None:
        return None
    return c.to_json() if isinstance(c, Case) else {"Y": {"tensor": c.tolist()}}


def _slack_sides(w: Slack | None) -> dict[str, Any] | None:
    if w is None or w.undecided is not None:
        return None
    return {"lhs": _number(w.lhs), "rhs": _number(w.rhs), "relation": w.relation,
            "margin": _number(w.margin), "tolerance": _number(w.tol), "holds": w.ok}


def _sides(v: Verdict) -> dict[str, Any] | None:
    return _slack_sides(v.worst)


def certificate_json(c: CertificateSummary) -> dict[str, Any]:
    """Only fields a computation produced: the counts, the margins, and what the kind produced."""
    out: dict[str, Any] = {
        "kind": c.kind, "level": c.level, "scope": c.scope, "statement": c.statement,
        "cases": c.cases, "certified": c.certified, "inconclusive": c.inconclusive, "refuted": c.refuted,
        "min_margin": _number(c.min_margin), "max_error_bound": _number(c.max_error_bound),
        **{k: _number(v) if isinstance(v, float) else v for k, v in c.produced.items()},
        "seconds": c.seconds,
        "counterexample": c.counterexample.to_json() if c.counterexample is not None else None,
        "note": c.note or None,
    }
    out.update({k: _number(v) if isinstance(v, float) else v for k, v in c.details.items()})
    return out


def _replay(claim_id: str, case: Case) -> str:
    return f"python -m verify replay {claim_id} '{json.dumps(case.to_json())}'"


def _failures(v: Verdict) -> dict[str, int] | None:
    return {"failing": v.failures, "judged": v.examples} if v.counterexample is not None else None


def claim_json(run: ClaimRun) -> dict[str, Any]:
    c = run.claim
    head = run.headline
    undecided: Counter[str] = Counter()
    for v in run.verdicts.values():
        undecided.update(v.undecided)
    return {
        "id": c.id,
        "family": c.family,
        "statement": c.statement,
        "source": c.source,
        "paper": c.paper or None,
        "verdict": run.observed,
        "expected": c.expected,
        "matches": run.matches,
        "conjecture": c.conjecture,
        "proof": c.proof or None,
        "explanation": c.explanation or None,
        "evidence": run.evidence,
        "cases": sum(v.examples for v in run.verdicts.values()),
        "engines": _engines(run.verdicts.values()),
        "undecided": dict(undecided),
        "worst_slack": _number(head.worst_slack) if head else None,
        "seconds": sum(v.seconds for v in run.verdicts.values()),
        "counterexample": _case_json(head) if head else None,
        "sides": _sides(head) if head and head.counterexample is not None else None,
        "replay": head.replay if head else None,
        "failures": _failures(head) if head else None,
        "story": run.story,
        "certificate": certificate_json(run.certificate) if run.certificate else None,
        "runs": [
            {"device": dev, "dtype": dt, "verdict": v.status, "cases": v.examples, "engines": dict(v.engines),
             "worst_slack": _number(v.worst_slack), "undecided": dict(v.undecided), "seconds": v.seconds,
             "note": v.note or None}
            for (dev, dt), v in run.verdicts.items()
        ],
        "witnesses": [
            {"filed_under": w.filed_under, "case": w.case.to_json(), "breaks": list(w.breaks),
             "sides": _slack_sides(w.slack), "replay": _replay(c.id, w.case)}
            for w in run.witnesses
        ],
        "assumptions": [
            {
                "name": a.assumption,
                "needed": NEEDED_JSON[a.status],
                "status": a.status,
                "reason": a.reason,
                "cases": a.verdict.examples,
                "engines": dict(a.verdict.engines),
                "seconds": a.verdict.seconds,
                "counterexample": _case_json(a.verdict),
                "sides": _sides(a.verdict) if a.verdict.counterexample is not None else None,
                "replay": a.verdict.replay,
                "failures": _failures(a.verdict),
                "undecided": dict(a.verdict.undecided),
            }
            for a in run.ablations
        ],
    }


def _engines(verdicts: Iterable[Verdict]) -> dict[str, int]:
    """Cases judged per engine, over the runs of one claim."""
    total: Counter[str] = Counter()
    for v in verdicts:
        total.update(v.engines)
    return dict(total)


def versions() -> dict[str, str]:
    """The versions a report was made with (read from the installed metadata: nothing is imported)."""
    out = {"python": platform.python_version()}
    for name in ("torch", "numpy", "hypothesis", "cvxpy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    out["machine"] = f"{platform.machine()}, {os.cpu_count()} cores"
    return out


def to_json(result: Run) -> dict[str, Any]:
    return {
        "meta": {
            "profile": result.profile,
            "seed": result.seed,
            "devices": list(result.devices),
            "dtypes": list(result.dtypes),
            "versions": versions(),
            "started": result.started,
            "seconds": result.seconds,
            "complete": result.complete,
            "could_not_run": result.skipped,
        },
        "claims": [claim_json(c) for c in result.claims],
        "families": result.families,
    }


# --- markdown ---------------------------------------------------------------------------------


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """A copy of a JSON report without what depends on the clock or the machine (start time, seconds,
    versions, what could not run there): two runs of the same seed and budget, or shards merged and
    one run, give equal copies."""
    report = json.loads(json.dumps(report))
    for key in ("started", "seconds", "versions", "could_not_run"):
        report["meta"].pop(key, None)
    for claim in report["claims"]:
        claim.pop("seconds", None)
        if claim.get("certificate"):
            claim["certificate"].pop("seconds", None)
        for part in (*claim.get("runs", ()), *claim.get("assumptions", ())):
            part.pop("seconds", None)
    return report
