"""HOPFIELD: the energy and update as the spec writes them (both computed), batched over states, the
spec's rarity of the beta mismatch, its refutation by the quick search on every seed, and the CCCP
certificate certifying what holds and refusing what does not."""

import math

import pytest
import torch

from properties.hopfield import certificates
from verify.math.hopfield import (
    concave_hessian,
    hopfield_energy,
    hopfield_update,
    self_attention_energy,
    self_attention_step,
)
from verify.model.case import Case
from verify.running.registry import registry
from verify.running.runner import search_scope

CLAIMS = registry()


def _t(rows):
    return torch.tensor(rows, dtype=torch.float64)


def _spec_energy(xi, Y, beta):
    """E_hop(xi) exactly as the spec writes it, term by term, for one state."""
    z = Y @ xi
    lse = torch.log(torch.exp(beta * z).sum()) / beta
    M = torch.linalg.vector_norm(Y, dim=-1).max()
    return float(-lse + xi @ xi / 2 + math.log(Y.shape[0]) / beta + M * M / 2)


def test_energy_and_update_match_the_spec_and_batch_over_states():
    g = torch.Generator().manual_seed(0)
    Y, R = torch.randn(4, 5, 3, generator=g, dtype=torch.float64), torch.randn(4, 6, 3, generator=g, dtype=torch.float64)
    beta = torch.tensor([0.05, 0.7, 2.0, 9.0], dtype=torch.float64)
    E, R1 = hopfield_energy(R, Y, beta), hopfield_update(R, Y, beta)
    for b in range(4):
        for i in range(6):
            assert float(E[b, i]) == pytest.approx(_spec_energy(R[b, i], Y[b], float(beta[b])), rel=1e-12, abs=1e-12)
            p = torch.softmax(float(beta[b]) * (Y[b] @ R[b, i]), 0)
            assert torch.allclose(R1[b, i], Y[b].T @ p, rtol=1e-14, atol=1e-14)


def test_spec_rarity_of_the_beta_mismatch():
    """N = 3, d = 2, patterns and state ~ 2 N(0, I), beta = 1, beta' = 3: the spec counts 20 rises in 5,000."""
    g = torch.Generator().manual_seed(0)
    Y, xi = 2 * torch.randn(5000, 3, 2, generator=g, dtype=torch.float64), 2 * torch.randn(5000, 1, 2, generator=g, dtype=torch.float64)
    rises = int((hopfield_energy(hopfield_update(xi, Y, 3.0), Y, 1.0) > hopfield_energy(xi, Y, 1.0)).sum())
    shared = int((hopfield_energy(hopfield_update(xi, Y, 1.0), Y, 1.0) > hopfield_energy(xi, Y, 1.0)).sum())
    assert 10 <= rises <= 35 and shared == 0, (rises, shared)


def test_smallest_counterexamples_reproduce():
    """Found by the sweep and shrunk: N = 2, d = 1 for both refuted claims."""
    Y, R = _t([[0.8], [-0.5]]), _t([[0.5]])
    before = float(hopfield_energy(R, Y, 1.0)[0])
    assert before == pytest.approx(0.31809184, abs=1e-8)
    assert float(hopfield_energy(hopfield_update(R, Y, 3.0), Y, 1.0)[0]) == pytest.approx(0.34420995, abs=1e-8)
    assert float(hopfield_energy(hopfield_update(R, Y, 1.0), Y, 1.0)[0]) < before
    Y = _t([[-2.0], [2.4]])
    assert float(self_attention_energy(Y, 0.7)) == pytest.approx(2.85652623, abs=1e-8)
    assert float(self_attention_energy(self_attention_step(Y, 0.7), 0.7)) == pytest.approx(2.86836806, abs=1e-8)
    assert not CLAIMS["HOPFIELD-SELF-ATTN-GLOBAL"].judge(Case(Y=Y, beta=0.7)).ok
    assert not CLAIMS["HOPFIELD-BETA-MISMATCH"].judge(Case(Y=_t([[0.8], [-0.5]]), R=R, beta=1.0, ratio=3.0)).ok


@pytest.mark.parametrize("seed", range(20))
def test_quick_search_refutes_the_rare_mismatch(seed):
    """The quick profile's search path (sweep, then Hypothesis) refutes HOPFIELD-BETA-MISMATCH on every seed."""
    verdict = search_scope(CLAIMS["HOPFIELD-BETA-MISMATCH"].scope(), seed=seed)
    assert verdict.status == "refuted", str(verdict)
    assert verdict.examples > 0 and float(verdict.counterexample["ratio"]) == 3.0


def test_cccp_certificate_settles_both_ways():
    Y, R = _t([[1.0, 0.0], [0.0, 1.0], [-1.0, -0.5], [0.3, -1.2]]), _t([[0.2, 0.1], [-0.5, 0.9]])
    good = certificates.cccp(Case(Y=Y, R=R, beta=1.0, ratio=1.0))
    assert good.holds is True and good.level == "certified-instance" and good.kind == "eigenvalue"
    assert good.measures["lmin(H_convex)"] == pytest.approx(1.0) and good.measures["lmax(H_concave)"] < 0
    assert good.measures["min decrease / (|xi' - xi|^2 / 2)"] >= 1 - 1e-9, "the CCCP decrease bound"
    assert not {"solver", "gap"} & set(good.produced) and good.measures["|xi' - grad lse|"] < 1e-14
    assert certificates.cccp(Case(Y=Y, R=R, beta=-1.0, ratio=1.0)).holds is False, "beta < 0: -lse is convex"
    assert certificates.cccp(Case(Y=Y, R=R, beta=1.0, ratio=3.0)).holds is False, "beta' != beta: no CCCP step"
    flat = certificates.cccp(Case(Y=_t([[1.0, 0.0], [0.0, 1.0]]), R=R, beta=1.0, ratio=1.0))
    assert flat.holds is None, "N - 1 < d: the concave part's Hessian has a zero eigenvalue"


def test_the_bound_counts_the_logits_at_the_update_too():
    """The nightly run once refuted true cases (112 of 490 draws): at xi = 0 the logits are 0, but at
    xi' = 10 they are 1000, and the Hessian's rounding there is 1000 times larger."""
    case = Case(Y=_t([[10.0], [10.0]]), R=_t([[0.0]]), beta=10.0, ratio=1.0)
    cert = certificates.cccp(case)
    assert cert.holds is not False, cert
    # near a one-hot softmax the Hessian is near 0 but its entries still carry beta |Y|^2 eps of rounding:
    # an eigenvalue of +1.2e-13 here is that rounding (the bound once counted eigvalsh's error only)
    one_hot = Case(Y=_t([[-2.1, 0.0, 0.6], [0.0, -2.4, 0.0], [2.5, 0.0, 1.5], [-2.0, 2.1, 1.7]]),
                   R=_t([[-3.0, 0.3, 1.6]]), beta=10.0, ratio=1.0)
    assert certificates.cccp(one_hot).holds is not False
    # the same bound still catches a wrong beta at that size
    assert certificates.cccp(Case(Y=_t([[10.0], [-9.0]]), R=_t([[0.05]]), beta=10.0, ratio=3.0)).holds is False


def test_a_planted_wrong_hessian_is_caught(monkeypatch):
    """A closed form without the p p^T term is not the Hessian autograd computes: the certificate refuses."""
    case = Case(Y=_t([[1.0, 0.0], [0.0, 1.0], [-1.0, -0.5]]), R=_t([[0.2, 0.1]]), beta=2.0, ratio=1.0)
    assert certificates.cccp(case).holds is True

    def without_covariance(xi, Y, beta):
        p = torch.softmax(beta * (Y @ xi), -1)
        return -beta * (Y.mT @ torch.diag_embed(p) @ Y)

    monkeypatch.setattr(certificates, "concave_hessian", without_covariance)
    assert certificates.cccp(case).holds is False
    assert not torch.allclose(without_covariance(case.tensor("R")[0], case.tensor("Y"), 2.0),
                              concave_hessian(case.tensor("R")[0], case.tensor("Y"), 2.0))


def test_ablations_are_found():
    """Dropping beta > 0 or the shared beta from CCCP-DESCENT gives counterexamples that keep the other one;
    ENERGY-BOUNDS holds for beta < 0 too (lse of either sign lies between min and max plus log N / |beta|)."""
    claim = CLAIMS["HOPFIELD-CCCP-DESCENT"]
    for name in ("beta > 0", "update and energy share beta"):
        verdict = search_scope(claim.scope(name))
        assert verdict.status == "refuted" and claim.scope(name).broken(verdict.counterexample) == [name], str(verdict)
    assert search_scope(CLAIMS["HOPFIELD-ENERGY-BOUNDS"].scope("beta > 0")).status == "holds"
