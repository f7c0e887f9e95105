"""ATT certificates: for one drawn case, a matrix inequality that settles the surrogate's descent.

ATT-SURROGATE-DESCENT, for this kernel and step: sym(W) >= 0 and a (1 - mu_min(N)) <= 2, N =
D^-1/2 B D^-1/2, make every coefficient a (1 - mu)^2 (2 - a (1 - mu)) of the exact decrease
nonnegative. Also measured: the QP min_Y S(Y; Y0) (cvxpy, two equivalent forms), the fraction
of that best decrease the step achieves, and the exact spectral decrease against the direct one.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from verify.math.attention import attention_kernel, attention_step, mm_decrease_spectral, surrogate_decrease, sym
from verify.math.rho import get as get_rho
from verify.model.case import Case
from verify.proof.certificate import EPS64, Certification, Certifier, eigenvalue_error


def surrogate_minimum(L: np.ndarray, W: np.ndarray) -> tuple[float, float, Any]:
    """min_Y tr(W Y^T L Y): the varying part of the MM surrogate S(Y; Y0), L = D - B at Y0.

    With W = U diag(w) U^T and Z = Y U it is sum_k w_k z_k^T L z_k; posed two equivalent
    ways (a sum of squares through L = R^T R, and d quadratic forms in L) that must agree.
    The objective is >= 0 when L, W >= 0, so 0 is a dual bound and the gap is the optimum
    itself; the KKT residual is max |L Z diag(w)| (the gradient, halved). Returns
    (optimum, optimum of the second form, certificate).
    """
    import cvxpy as cp

    from verify.proof.convex import Certificate, solve

    n, d = L.shape[0], W.shape[0]
    w, _ = np.linalg.eigh((W + W.T) / 2)
    mu, V = np.linalg.eigh((L + L.T) / 2)
    for name, values, A in (("L", mu, L), ("W", w, W)):
        if values[0] < -10 * len(A) * EPS64 * max(1.0, float(np.abs(A).max())):
            return math.nan, math.nan, Certificate(
                "CLARABEL", f"not convex: lmin({name}) = {values[0]:.3g} < 0", math.nan, math.nan, math.inf)
    R = (V * np.sqrt(np.clip(mu, 0.0, None))).T
    Z = cp.Variable((n, d))
    squares = cp.Problem(cp.Minimize(cp.sum_squares(cp.multiply(R @ Z, np.sqrt(np.clip(w, 0.0, None))[None, :]))))
    status = solve(squares, cp.CLARABEL)
    if status != cp.OPTIMAL or Z.value is None:
        return math.nan, math.nan, Certificate("CLARABEL", status, math.nan, math.nan, math.inf)
    Zv = np.asarray(Z.value)
    Z2 = cp.Variable((n, d))
    forms = cp.Problem(cp.Minimize(sum(w[k] * cp.quad_form(Z2[:, k], cp.psd_wrap(L)) for k in range(d))))
    second = solve(forms, cp.CLARABEL)
    optimum = float(squares.value)
    residual = float(np.abs((L @ Zv) * w[None, :]).max())
    certificate = Certificate("CLARABEL", status, optimum, max(optimum, 0.0), residual)
    return optimum, float(forms.value) if second == cp.OPTIMAL else math.nan, certificate


def surrogate_descent(case: Case) -> Certification:
    """sym(W) >= 0 and a (1 - mu_min(N)) <= 2 for this case, with the QP's measures."""
    Y, W, a, rho = case.tensor("Y"), case.tensor("W"), case.number("a"), get_rho(str(case["rho"]))
    B = attention_kernel(Y, W, rho)
    Dh = B.sum(-1).sqrt()
    N = (B / (Dh[:, None] * Dh[None, :])).numpy()
    mu_min = float(np.linalg.eigvalsh(N)[0])
    w_min = float(np.linalg.eigvalsh(sym(W).numpy())[0])
    margin = min(w_min, 2.0 - a * (1.0 - mu_min))
    error = max(eigenvalue_error(N) * (1 + a), eigenvalue_error(sym(W).numpy()))

    L = (torch.diag(B.sum(-1)) - B).numpy()
    optimum, second, qp = surrogate_minimum(L, W.numpy())
    current = float(((Y.numpy() @ sym(W).numpy()) * (L @ Y.numpy())).sum())  # tr(W Y^T L Y)
    achieved = float(surrogate_decrease(Y, attention_step(Y, W, a, rho), W, rho))
    spectral = float(mm_decrease_spectral(Y, W, a, rho))
    best = current - optimum
    measures = {
        "a": a,
        "fraction": achieved / best if best > 0 else math.nan,
        "qp_forms_disagree": abs(optimum - second) / max(1.0, abs(current)),
        "spectral_vs_direct": abs(spectral - achieved) / max(1.0, abs(achieved)),
        "mu_min": mu_min,
    }
    return Certification(
        "certified-instance", "this Y, W, rho and a", "sym(W) >= 0 and a (1 - mu_min(N)) <= 2", margin, error,
        solver=qp.solver, status=qp.status, gap=qp.gap, residual=qp.residual, measures=measures,
    )


FRACTION_BINS = ((0.0, 0.5), (0.5, 1.0), (1.0, 1.5), (1.5, 2.0))


def surrogate_details(certs: list[Certification]) -> dict[str, Any]:
    """The step's share of the best surrogate decrease by step size a, and the metamorphic gaps."""
    pairs = [(c.measures["a"], c.measures["fraction"]) for c in certs if math.isfinite(c.measures.get("fraction", math.nan))]
    rows = []
    for low, high in FRACTION_BINS:
        values = sorted(f for a, f in pairs if low <= a < high or (high == 2.0 and a == 2.0))
        if values:
            rows.append({"a_from": low, "a_to": high, "cases": len(values),
                         "median": values[len(values) // 2], "min": values[0], "max": values[-1]})
    details: dict[str, Any] = {"fraction_of_best_decrease": rows}
    for key in ("qp_forms_disagree", "spectral_vs_direct"):
        values = [c.measures[key] for c in certs if key in c.measures and math.isfinite(c.measures[key])]
        details[f"max_{key}"] = max(values) if values else None
    return details


SURROGATE_DESCENT = Certifier(surrogate_descent, surrogate_details, requires=("cvxpy",))
