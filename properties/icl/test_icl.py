"""ICL: the spec's numbers reproduce, the layer equals the GD step (both computed), the certificates
certify what holds and refuse what does not, and the quick search finds every ablation of the spec."""

import pytest
import torch

from properties.icl import certificates, checks, examples
from properties.icl.assumptions import GAMMA_PSD, GAMMA_SYMMETRIC, MASK, STEP
from verify.math import icl
from verify.math.icl import (
    gd_iterate,
    gd_tokens,
    gd_weights,
    icl_energy,
    icl_loss,
    icl_tokens,
    linear_self_attention,
    looped_layer,
    preconditioned_kernel,
    query_slot,
    residual_map,
)
from verify.running.registry import registry
from verify.running.runner import search_scope

CLAIMS = registry()


def _t(rows):
    return torch.tensor(rows, dtype=torch.float64)


def _energies(case):
    """E_icl before and after one layer, and L(W_0), L(W_1) from the GD step: two computations of each."""
    X, Y, Gamma, eta = case.tensor("X"), case.tensor("Y"), case.tensor("Gamma"), case.number("eta")
    Z = icl_tokens(X, Y, case.tensor("xq"))
    weights = (case.tensor("Wq"), case.tensor("Wk"), case.tensor("Wv"), case.tensor("Wo"))
    layer = (float(icl_energy(Z, X.shape[-1])), float(icl_energy(linear_self_attention(Z, *weights), X.shape[-1])))
    gd = (float(icl_loss(gd_iterate(X, Y, Gamma, eta, 0), X, Y)), float(icl_loss(gd_iterate(X, Y, Gamma, eta, 1), X, Y)))
    return layer, gd


@pytest.mark.parametrize(("case", "before", "after"), [
    (examples.STEP_TOO_LONG, 0.5, 1.125),
    (examples.icl_case(**examples.INDEFINITE), 0.25, 0.275625),
    (examples.icl_case(**examples.SMALL_SKEW), 0.25, 0.24813125),
    (examples.icl_case(**examples.ASYMMETRIC), 1 / 6, 5 / 12),
])
def test_spec_energies_reproduce(case, before, after):
    """eta = 2.5: 0.5 -> 1.125; Gamma = diag(-1, 1): 0.25 -> 0.275625; the small skew still falls: 0.25 -> 0.2481."""
    layer, gd = _energies(case)
    assert layer == pytest.approx((before, after), abs=1e-15)
    assert gd == pytest.approx((before, after), abs=1e-15)


def test_spec_mask_numbers_reproduce():
    """N = 1, x = y = x_q = 1, eta = 0.5, Gamma = 1, two layers: query slot -0.75 with the mask, -0.5 without."""
    one = _t([[1.0]])
    Z, weights = icl_tokens(one, one, _t([1.0])), gd_weights(one, 0.5, 1)
    assert float(query_slot(looped_layer(Z, *weights, 2, masked=True), 1)[0]) == -0.75
    assert float(query_slot(looped_layer(Z, *weights, 2, masked=False), 1)[0]) == -0.5
    assert float(-(gd_iterate(one, one, one, 0.5, 2) @ _t([1.0]))[0]) == -0.75  # -W_2 x_q, from the GD side
    assert float(query_slot(looped_layer(Z, *weights, 1, masked=False), 1)[0]) == -0.5  # one layer: the mask does not matter


def test_known_counterexamples_break_only_their_assumption():
    descent, rate = CLAIMS["ICL-DESCENT"], CLAIMS["ICL-RATE"]
    assert descent.scope(STEP.name).broken(examples.STEP_TOO_LONG) == [STEP.name]
    assert descent.scope().broken(examples.icl_case(**examples.INDEFINITE)) == [GAMMA_PSD.name]
    assert descent.scope().broken(examples.icl_case(**examples.ASYMMETRIC)) == [GAMMA_SYMMETRIC.name]
    assert CLAIMS["ICL-LOOPED-GD"].scope().broken(examples.NO_MASK) == [MASK.name]
    # the rate bound fails on both Gamma counterexamples, the step one meets it with equality (rho = 1.5)
    assert not rate.judge(examples.icl_case(**examples.INDEFINITE, layer=False)).ok
    step = rate.judge(examples.icl_case([[1.0]], [[1.0]], [[1.0]], 2.5, layer=False))
    assert step.ok and step.lhs == step.rhs == 1.125


def test_layer_equals_gd_step_on_drawn_cases():
    """The layer (weights, mask) and the GD iterate, computed apart, agree on drawn cases of every Gamma kind."""
    scope = CLAIMS["ICL-LOOPED-GD"].scope()
    batch = scope.sample(torch.Generator().manual_seed(7), 512)
    slacks = checks.slacks_gd_tokens(batch)
    assert bool(slacks.decided.all()) and not bool(slacks.failing.any())
    X, Y, xq = batch.tensor("X"), batch.tensor("Y"), batch.tensor("xq")
    weights = [batch.tensor(k) for k in ("Wq", "Wk", "Wv", "Wo")]
    layered = looped_layer(icl_tokens(X, Y, xq), *weights, int(batch["k"]))
    predicted = gd_tokens(gd_iterate(X, Y, batch.tensor("Gamma"), batch.tensor("eta"), int(batch["k"])), X, Y, xq)
    assert torch.allclose(layered, predicted, rtol=1e-9, atol=1e-9 * float(predicted.abs().max()))


def test_a_wrong_gd_step_is_caught(monkeypatch):
    """A GD step with Gamma where Gamma^T belongs differs from the layer as soon as Gamma is asymmetric."""
    case = examples.icl_case(**examples.ASYMMETRIC, xq=[1.0, 2.0])
    assert CLAIMS["ICL-GD-STEP"].judge(case).ok
    real = icl.gd_step
    monkeypatch.setattr(icl, "gd_step", lambda W, X, Y, Gamma, eta: real(W, X, Y, Gamma.mT, eta))
    broken = CLAIMS["ICL-GD-STEP"].judge(case)
    assert broken.undecided is None and not broken.ok


def _worst_rise(case) -> float:
    """max over residual blocks Y of E_icl(layer) - E_icl: the top eigenvalue of (I - eta K)^T (I - eta K) - I,
    scaled by 1 / 2N, found by the layer itself on that eigenvector (for a certificate that claims every Y)."""
    X, Gamma, eta = case.tensor("X"), case.tensor("Gamma"), case.number("eta")
    N = X.shape[0]
    step = torch.eye(N, dtype=X.dtype) - eta * preconditioned_kernel(X, Gamma)
    v = torch.linalg.eigh(step.T @ step)[1][:, -1:]
    return float(((residual_map(v, X, Gamma, eta) ** 2).sum() - (v**2).sum()) / (2 * N))


def sound(certify, case) -> bool:
    """A certificate that certifies a case must be right for every Y: the worst residual does not rise."""
    return certify(case).holds is not True or _worst_rise(case) <= 1e-12


def test_descent_certificate_settles_both_ways():
    good = examples.icl_case([[1.0, 0.0], [0.5, 1.0], [0.0, 2.0]], [[1.0], [0.0], [2.0]], [[2.0, 0.5], [0.5, 1.0]], 0.3)
    assert certificates.descent(good).holds is True and certificates.descent(good).level == "certified-all"
    for bad in (examples.STEP_TOO_LONG, examples.icl_case(**examples.INDEFINITE), examples.icl_case(**examples.ASYMMETRIC)):
        assert certificates.descent(bad).holds is False, bad
    at_limit = examples.icl_case([[1.0]], [[1.0]], [[1.0]], 2.0)
    assert certificates.descent(at_limit).holds is None, "eta lmax(K) = 2 exactly cannot be certified in floating point"
    cert = certificates.rate(good)
    assert cert.kind == "eigenvalue" and set(cert.produced) == {"quantity", "value", "bound"}
    assert not {"solver", "status", "gap", "residual"} & set(cert.produced), "no solver ran: no solver fields"
    assert set(cert.measures) >= {"lmin(Gamma)", "lmax(K)", "rho", "rho^2k", "eigenvalue error(K)"}
    K = torch.linalg.eigvalsh(preconditioned_kernel(good.tensor("X"), good.tensor("Gamma")))
    assert cert.measures["eta lmax(K)"] == pytest.approx(0.3 * float(K[-1]), rel=1e-12)
    assert cert.measures["rho"] == pytest.approx(float((1 - 0.3 * K[K > 1e-12]).abs().max()), rel=1e-12)
    assert cert.margin > cert.error_bound > 0


def test_certificates_are_sound_on_drawn_cases():
    """Every case the descent certificate certifies survives its worst residual, over drawn cases of all kinds."""
    scope = CLAIMS["ICL-DESCENT"].scope()
    for gamma, step in (("psd", "stable"), ("psd", "beyond"), ("indefinite", "stable"), ("asymmetric", "stable")):
        batch = scope.description.with_params(gamma=gamma, step=step).sample(torch.Generator().manual_seed(3), 40)
        verdicts = [certificates.descent(batch.unbatch(k)).holds for k in range(batch.size)]
        assert all(sound(certificates.descent, batch.unbatch(k)) for k in range(batch.size))
        assert (True in verdicts) == (gamma == "psd" and step == "stable")


def test_a_planted_broken_certificate_is_caught(monkeypatch):
    """A certificate that forgets the step condition certifies eta = 2.5: the soundness check catches it."""
    assert sound(certificates.descent, examples.STEP_TOO_LONG)
    real = certificates.weakest
    monkeypatch.setattr(certificates, "weakest", lambda *conditions: real(*conditions[:-1]))
    assert certificates.descent(examples.STEP_TOO_LONG).holds is True
    assert not sound(certificates.descent, examples.STEP_TOO_LONG)


ABLATIONS = [("ICL-DESCENT", STEP.name), ("ICL-DESCENT", GAMMA_PSD.name), ("ICL-DESCENT", GAMMA_SYMMETRIC.name),
             ("ICL-RATE", GAMMA_PSD.name), ("ICL-RATE", GAMMA_SYMMETRIC.name), ("ICL-LOOPED-GD", MASK.name)]


@pytest.mark.parametrize(("claim_id", "assumption"), ABLATIONS)
def test_quick_search_finds_each_ablation(claim_id, assumption):
    """The quick profile's search (sweep, then Hypothesis) finds each of the spec's ablations; the shown
    counterexample keeps every other assumption."""
    scope = CLAIMS[claim_id].scope(assumption)
    verdict = search_scope(scope)
    assert verdict.status == "refuted", str(verdict)
    assert scope.broken(verdict.counterexample) == [assumption]


@pytest.mark.parametrize(("claim_id", "assumption"), [("ICL-RATE", STEP.name), ("ICL-GD-STEP", MASK.name)])
def test_assumptions_the_claim_does_not_need(claim_id, assumption):
    """The rate bound holds for any eta (rho > 1 then), one layer does not need the mask: no counterexample."""
    verdict = search_scope(CLAIMS[claim_id].scope(assumption))
    assert verdict.status == "holds" and verdict.examples >= 1000, str(verdict)
