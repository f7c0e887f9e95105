"""Every counterexample a report shows meets every assumption it is shown under and fails as
stated: re-checked from the JSON alone (a fresh run's, and the committed nightly report's)."""

import json
from pathlib import Path

import pytest

from verify import run
from verify.model.case import Case
from verify.running.registry import registry

NIGHTLY = Path(__file__).resolve().parent.parent / "reports" / "nightly" / "latest.json"


def invalid_counterexamples(report: dict) -> list[str]:
    """Counterexamples that break an assumption they are shown under, or do not fail."""
    claims = registry()
    wrong = []
    for c in report["claims"]:
        claim = claims[c["id"]]
        shown = [(None, c["counterexample"])] if c["counterexample"] else []
        shown += [(a["name"], a["counterexample"]) for a in c["assumptions"] if a["counterexample"]]
        for dropped, data in shown:
            case = Case.from_json(data)
            scope = claim.scope(dropped)
            if not scope.fits_one(case):
                wrong.append(f"{scope.label}: the case breaks {scope.claim.scope().broken(case)}")
            elif claim.judge(case).ok:
                wrong.append(f"{scope.label}: the case does not fail")
    return wrong


def test_a_fresh_reports_counterexamples_are_valid():
    report = run(["ATT-DESCENT", "FF-DESCENT", "LAYER-FULL-SUM-DESCENT", "PAPER-LAYER-MONOTONE", "PAPER-FFN-DESCENT"],
                 max_examples=20, workers=1).to_json()
    shown = sum(bool(c["counterexample"]) + sum(bool(a["counterexample"]) for a in c["assumptions"]) for c in report["claims"])
    assert shown >= 8
    assert invalid_counterexamples(report) == []


@pytest.mark.skipif(not NIGHTLY.exists(), reason="no committed nightly report")
def test_the_committed_reports_counterexamples_are_valid():
    assert invalid_counterexamples(json.loads(NIGHTLY.read_text())) == []


def test_an_invalid_counterexample_is_caught():
    """The old LAYER-FULL-SUM-DESCENT counterexample: n = 1 and lmin(M) < -1 (FF-DESCENT failing outside
    its assumption, not the claim)."""
    old = {"Y": {"tensor": [[0.4]]}, "W": {"tensor": [[0.3]]}, "rho": "neg_exp", "a": 1.0,
           "M": {"tensor": [[-1.057]]}, "b": {"tensor": [0.0]}}
    report = {"claims": [{"id": "LAYER-FULL-SUM-DESCENT", "counterexample": old, "assumptions": []}]}
    (problem,) = invalid_counterexamples(report)
    assert "n >= 2" in problem and "lmin(M) >= -1" in problem
