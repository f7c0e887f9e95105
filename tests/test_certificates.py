"""Certificates: they certify what holds, refuse what does not, and catch broken solves."""

import math

import numpy as np
import pytest
import torch

from properties.att.certificates import best_move, surrogate_descent
from properties.ff.certificates import ff_descent, tied_mlp
from properties.ff.certificates import relu_prox as certify_relu_prox
from properties.ff.checks import check_relu_prox
from properties.norm.certificates import ball_relaxation as certify_ball_relaxation
from properties.norm.checks import check_ball_relaxation
from verify import run
from verify.math.attention import attention_kernel, attention_step
from verify.math.feedforward import ff_energy, ff_step
from verify.model.case import Case
from verify.proof import convex
from verify.proof.certificate import solver_certificate


def _t(x):
    return torch.tensor(x, dtype=torch.float64)


def test_ff_certificate_settles_both_ways():
    good = ff_descent(Case(M=_t([[0.5, 0.2], [0.2, -0.9]])))
    assert good.holds is True and good.level == "certified-all" and good.margin > 0
    bad = ff_descent(Case(M=_t([[-2.0]])))
    assert bad.holds is False and bad.margin == pytest.approx(-1.0)
    boundary = ff_descent(Case(M=_t([[-1.0]])))
    assert boundary.holds is None, "a margin of exactly 0 cannot be certified in floating point"


def test_tied_mlp_certificate():
    V = _t([[1.0, 2.0], [0.0, 1.0]])
    limit = 2 / float(torch.linalg.matrix_norm(V, 2)) ** 2
    assert tied_mlp(Case(V=V, t=0.9 * limit)).holds is True
    assert tied_mlp(Case(V=V, t=1.1 * limit)).holds is False


def test_attention_certificate_and_its_metamorphic_checks():
    g = torch.Generator().manual_seed(1)
    Y, A = torch.randn(6, 3, generator=g, dtype=torch.float64), torch.randn(3, 3, generator=g, dtype=torch.float64)
    cert = surrogate_descent(Case(Y=Y, W=A @ A.T, rho="neg_exp", a=1.0))
    assert cert.holds is True and cert.kind == "eigenvalue" and set(cert.produced) == {"quantity", "value", "bound"}
    assert cert.measures["best_move_optimal"] == 1.0
    assert cert.measures["best_move_residual"] < 1e-4  # interior-point accuracy (KKT, relative)
    assert cert.measures["spectral_vs_direct"] < 1e-12
    # the step's decrease is at most the best move's of the same length: the fraction is in (0, 1]
    assert 0 < cert.measures["fraction"] <= 1 + 1e-6
    too_long = surrogate_descent(Case(Y=Y * 0.05, W=A @ A.T, rho="neg_exp", a=3.5))
    assert too_long.holds is False


def test_a_decrease_below_the_solvers_precision_gives_no_fraction():
    """Tokens far apart: the kernel is nearly the identity, every decrease is at rounding level, and a
    ratio of two such numbers is not reported (it came out as 1.2 and 1e5 before)."""
    g = torch.Generator().manual_seed(1)
    Y, A = torch.randn(6, 3, generator=g, dtype=torch.float64), torch.randn(3, 3, generator=g, dtype=torch.float64)
    far = surrogate_descent(Case(Y=Y * 40, W=A @ A.T, rho="neg_exp", a=1.0))
    assert far.measures["unresolved"] == 1.0 and math.isnan(far.measures["fraction"])
    near = surrogate_descent(Case(Y=Y, W=A @ A.T, rho="neg_exp", a=1.0))
    assert near.measures["unresolved"] == 0.0 and 0 < near.measures["fraction"] <= 1 + 1e-6


def test_wrong_sign_in_the_qcqp_is_caught():
    """min tr(W Y^T (-L) Y) over a ball is not a convex problem: the solve must say so, not return an optimum;
    with the right sign the best move beats the step, and the step beats standing still."""
    g = torch.Generator().manual_seed(2)
    Y, A = torch.randn(5, 2, generator=g, dtype=torch.float64), torch.randn(2, 2, generator=g, dtype=torch.float64)
    W = A @ A.T
    B = attention_kernel(Y, W)
    L = (torch.diag(B.sum(-1)) - B).numpy()
    Y1 = attention_step(Y, W, 1.0)
    radius = float(torch.linalg.matrix_norm(Y1 - Y))
    move = best_move(L, W.numpy(), Y.numpy(), radius)
    current = float(((Y.numpy() @ W.numpy()) * (L @ Y.numpy())).sum())
    stepped = float(((Y1.numpy() @ W.numpy()) * (L @ Y1.numpy())).sum())
    assert move["status"] == "optimal" and move["optimum"] <= stepped + 1e-7 < current
    broken = best_move(-L, W.numpy(), Y.numpy(), radius)
    assert "not convex" in broken["status"] and math.isnan(broken["optimum"])


def test_projection_onto_the_wrong_set_is_caught(monkeypatch):
    """A 'projection' that forgets the centring constraint must fail the check and the certificate."""
    import cvxpy as cp

    def ball_only(y):
        x = cp.Variable(len(y))
        cp.Problem(cp.Minimize(cp.sum_squares(x - y) / 2), [cp.sum_squares(x) <= len(y)]).solve(solver=cp.CLARABEL)
        return np.asarray(x.value), convex.Certificate("CLARABEL", "optimal", 0.0, 0.0, 1e-12)

    case = Case(Y=_t([[3.0, 1.0, -2.0], [0.2, 0.1, 0.4]]), X=_t([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]), t=1.0)
    assert check_ball_relaxation(case).ok and certify_ball_relaxation(case).holds is True
    monkeypatch.setattr(convex, "centred_ball_projection", ball_only)
    broken = check_ball_relaxation(case)
    assert broken.undecided is None and not broken.ok
    assert certify_ball_relaxation(case).holds is False


def test_wrong_prox_is_caught(monkeypatch):
    """A prox solved with the gradient's sign flipped must not certify relu(Y M + 1 b^T)."""
    real = convex.nonneg_prox
    case = Case(Y=_t([[0.5, -1.0], [2.0, 0.3]]), M=_t([[0.2, 0.1], [0.1, -0.4]]), b=_t([0.3, -0.2]))
    assert check_relu_prox(case).ok and certify_relu_prox(case).holds is True
    monkeypatch.setattr(convex, "nonneg_prox", lambda G, Y: real(-G, Y))
    broken = check_relu_prox(case)
    assert broken.undecided is None and not broken.ok
    assert certify_relu_prox(case).holds is False


def test_solver_trouble_is_inconclusive_never_a_pass():
    cert = solver_certificate("certified-instance", "x", "y", 1.0, 0.0, "CLARABEL", "optimal_inaccurate", 0.0, 0.0)
    assert cert.holds is None


def _our_worst_change(L, t):
    """max over unit gradients of E_ff(Y - t G) - E_ff(Y), from verify.feedforward, with I - M = diag(0, .., L)."""
    M = torch.diag(_t([1.0, 1.0 - L / 2, 1.0 - L]))
    worst = -math.inf
    for u in torch.eye(3, dtype=torch.float64):
        y = _t([0.3, -0.2, 0.5])
        b = y @ (torch.eye(3, dtype=torch.float64) - M) - u  # grad E_ff(Y) = 1 u^T for Y = 1 y^T (n = 1)
        Y = y[None]
        change = ff_energy(ff_step(Y, M, b, t), M, b) - ff_energy(Y, M, b)
        worst = max(worst, float(change))
    return worst


@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.9, 1.5])
@pytest.mark.parametrize("L", [1.0, 2.5])
def test_pepit_agrees_with_the_ff_certificate(L, fraction):
    pytest.importorskip("PEPit")
    from verify.proof.pep import pepit_worst_step_change

    t = fraction * 2 / L
    ours = _our_worst_change(L, t)
    assert ours == pytest.approx(-t * (1 - t * L / 2), abs=1e-12)
    assert pepit_worst_step_change(L, t) == pytest.approx(ours, abs=1e-6)


def test_run_reports_certified_evidence():
    result = run(ids=["FF-DESCENT", "ATT-SURROGATE-DESCENT", "ATT-DESCENT"], max_examples=30, workers=1)
    claims = {c["id"]: c for c in result.to_json()["claims"]}
    assert claims["FF-DESCENT"]["evidence"] == "certified-all"
    cert = claims["ATT-SURROGATE-DESCENT"]["certificate"]
    assert claims["ATT-SURROGATE-DESCENT"]["evidence"] == "certified-instance"
    assert cert["kind"] == "eigenvalue" and cert["certified"] > 0 and cert["refuted"] == 0
    assert cert["best_move"]["solver"] == "CLARABEL" and cert["best_move"]["fraction_by_step"]
    assert claims["ATT-DESCENT"]["evidence"] == "sampled" and claims["ATT-DESCENT"]["certificate"] is None
    assert "- Certificate (certified-all, for every Y and b, for this M): lmin(I + M) >= 0. By eigenvalue computation" \
        in result.to_markdown()


SOLVER_FIELDS = {"solver", "statuses", "max_gap", "max_residual"}


def unearned_fields(certificate: dict) -> list[str]:
    """Fields a certificate of its kind did not compute: solver fields on an eigenvalue certificate,
    eigenvalue fields on a solver one, a solver name no solver run here has."""
    if certificate["kind"] == "eigenvalue":
        return sorted(SOLVER_FIELDS & set(certificate))
    wrong = sorted({"quantity", "min_value", "max_value"} & set(certificate))
    return wrong + ([] if certificate.get("solver") in ("OSQP", "CLARABEL") else ["solver"])


def test_no_certificate_field_that_no_computation_produced():
    result = run(ids=["FF-DESCENT", "FF-TIED-MLP", "ATT-SURROGATE-DESCENT", "FF-RELU-PROX", "NORM-BALL-RELAXATION"],
                 max_examples=15, sweep_cases=1000, workers=1, ablate=False)
    certificates = [c["certificate"] for c in result.to_json()["claims"] if c["certificate"]]
    assert len(certificates) == 5
    for cert in certificates:
        assert not unearned_fields(cert), cert
        if cert["kind"] == "solver":
            assert cert["max_gap"] is None or cert["max_gap"] >= 0  # None: the solver reported none (Clarabel)


def test_a_planted_broken_certificate_fails():
    """An eigenvalue certificate that carries solver fields (the old defaults) is caught, and a
    certificate of the wrong inequality (lmin(I - M) for lmin(I + M)) refutes itself on drawn weights."""
    planted = {"kind": "eigenvalue", "quantity": "lmin(I + M)", "solver": "numpy.linalg.eigh", "statuses": {"optimal": 3},
               "max_gap": 0.0, "max_residual": 0.0}
    assert unearned_fields(planted) == ["max_gap", "max_residual", "solver", "statuses"]
    import dataclasses

    from properties.ff.certificates import FF_DESCENT
    from verify.proof.certificate import Certifier, eigenvalue_certificate, eigenvalue_error
    from verify.proof.certify import certify
    from verify.running.registry import registry

    def wrong(case):
        M = case.tensor("M").numpy()
        A = np.eye(len(M)) - (M + M.T) / 2
        return eigenvalue_certificate("certified-all", "every Y", "lmin(I - M) >= 0", "lmin(I - M)",
                                      float(np.linalg.eigvalsh(A)[0]), 0.0, eigenvalue_error(A))

    claim = dataclasses.replace(registry()["FF-DESCENT"], certify=Certifier(wrong))
    summary = certify(claim, max_examples=60)
    assert summary.refuted > 0 and summary.evidence == "sampled"
    assert certify(dataclasses.replace(claim, certify=FF_DESCENT), max_examples=60).refuted == 0
