"""The spec's ablations: each listed counterexample breaks exactly the assumption it is filed
under and fails its claim, and the search finds a counterexample on its own (known examples
withheld). The spec's numbers themselves are checked in each family's folder."""

import pytest

from verify.engines.search import search
from verify.running.registry import registry

CLAIMS = registry()
ABLATIONS = [
    (claim.id, name)
    for claim in CLAIMS.values()
    for name in claim.known_counterexamples()
]
# Cases allowed to find each without its @example. A fixed seed does not fix the path: Hypothesis
# also draws constants it reads from the source of every local module loaded, so one test file
# alone and the whole suite search differently (1500 sufficed alone and fell short in the suite).
# The budgets carry a margin over seeds, measured (seeds 1-5, ATT-SOFTMAX-DESCENT's W symmetric
# over 0-11): the asymmetric-W ablation needs n >= 3 and took 207-1092 cases (median ~400, a long
# tail); the others at most 465 (ICL-DESCENT, sym(Gamma) PSD), most under 150. A search stops at
# its first failure, so a budget costs time only when it is needed.
DEFAULT_BUDGET = 1500
BUDGET = {("ATT-SOFTMAX-DESCENT", "W symmetric"): 4000}


@pytest.mark.parametrize(("claim_id", "assumption"), ABLATIONS)
def test_known_counterexamples_fail(claim_id, assumption):
    claim = CLAIMS[claim_id]
    scope = claim.scope(assumption)
    for case in claim.examples[assumption]:
        assert scope.fits_one(case), f"{case!r} does not break {assumption} alone: breaks {scope.broken(case)}"
        slack = claim.judge(case)
        assert slack.undecided is None and not slack.ok, f"{claim_id} holds on {case!r}: {slack}"


@pytest.mark.parametrize(("claim_id", "assumption"), ABLATIONS)
def test_search_finds_counterexample_unaided(claim_id, assumption):
    claim = CLAIMS[claim_id]
    budget = BUDGET.get((claim_id, assumption), DEFAULT_BUDGET)
    verdict = search(claim.scope(assumption), use_examples=False, max_examples=budget)
    assert verdict.status == "refuted", str(verdict)
    assert not claim.assumption(assumption).holds_for(verdict.counterexample)
    # the replay string re-runs the shrunk case
    assert verdict.replay.startswith(f"python -m verify replay {claim_id} ")
