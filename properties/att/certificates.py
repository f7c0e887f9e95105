"""ATT certificates: for one drawn case, a matrix inequality that settles the surrogate's descent.

ATT-SURROGATE-DESCENT, for this kernel and step: sym(W) >= 0 and a (1 - mu_min(N)) <= 2, N =
D^-1/2 B D^-1/2, make every coefficient a (1 - mu)^2 (2 - a (1 - mu)) of the exact decrease
nonnegative. Measured beside it: the best move of the step's own length (min S(Y; Y0) over the
ball ||Y - Y0||_F <= ||T_a Y0 - Y0||_F, a convex QCQP) and the share of its decrease the step
achieves, and the exact spectral decrease against the direct one. (The unconstrained minimum of
S is 0 at Y = 0, all tokens collapsed: a fraction of that would say nothing.)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from verify.math.attention import attention_kernel, attention_step, mm_decrease_spectral, surrogate_decrease, sym
from verify.math.rho import get as get_rho
from verify.model.case import Case
from verify.proof.certificate import EPS64, Certification, Certifier, eigenvalue_certificate, eigenvalue_error


def best_move(L: np.ndarray, W: np.ndarray, Y0: np.ndarray, radius: float) -> dict[str, float | str]:
    """min over ||Y - Y0||_F <= radius of tr(W Y^T L Y), the varying part of the surrogate S(Y; Y0):
    the best move of the step's own length (a convex QCQP when W, L >= 0, solved by Clarabel).

    With sym(W) = U diag(w) U^T, L = R^T R and Z = Y U (U keeps the Frobenius norm) it is
    sum_k w_k ||R z_k||^2 over a ball. KKT, computed here from the primal and the dual mu of the
    ball: 2 L Z diag(w) + mu (Z - Z0) / ||Z - Z0|| = 0, mu >= 0, mu (||Z - Z0|| - radius) = 0; the
    residual reported is the worst violation, the stationarity relative to the gradient's entries."""
    import cvxpy as cp

    from verify.proof.convex import duality_gap, solve

    w, U = np.linalg.eigh((W + W.T) / 2)
    mu, V = np.linalg.eigh((L + L.T) / 2)
    for name, values, A in (("L", mu, L), ("W", w, W)):
        if values[0] < -10 * len(A) * EPS64 * max(1.0, float(np.abs(A).max())):
            return {"status": f"not convex: lmin({name}) = {values[0]:.3g} < 0", "optimum": math.nan}
    # solved in units where Z0, the ball and the objective's coefficients are of order one (tokens
    # span 1e-3 to 1e3; unscaled, Clarabel's "optimal" can miss the optimum by orders of magnitude)
    length = max(float(np.abs(Y0).max()), radius, 1e-300)
    mu_top, w_top = max(float(mu[-1]), 1e-300), max(float(w[-1]), 1e-300)
    R = (V * np.sqrt(np.clip(mu, 0.0, None) / mu_top)).T
    Z0 = Y0 @ U / length
    Z = cp.Variable(Z0.shape)
    ball = cp.norm(Z - Z0, "fro") <= radius / length
    problem = cp.Problem(cp.Minimize(cp.sum_squares(cp.multiply(R @ Z, np.sqrt(np.clip(w, 0.0, None) / w_top)[None, :]))), [ball])
    status = solve(problem, cp.CLARABEL)  # default tolerances: tighter ones end "optimal_inaccurate" on degenerate cases
    if status != "optimal" or Z.value is None:
        return {"status": status, "optimum": math.nan}
    Zv, dual = np.asarray(Z.value), float(np.asarray(ball.dual_value).reshape(-1)[0])
    step = np.linalg.norm(Zv - Z0)
    gradient = 2 * ((R.T @ R) @ Zv) * (np.clip(w, 0.0, None) / w_top)[None, :]
    stationarity = gradient + (dual * (Zv - Z0) / step if step > 0 else 0.0)
    size = max(1.0, float(np.abs(gradient).max()))  # the residual relative to the gradient's entries
    residual = max(float(np.abs(stationarity).max()) / size, max(step - radius / length, 0.0), max(-dual, 0.0),
                   abs(dual * (step - radius / length)) / size)
    return {"status": status, "optimum": float(problem.value) * length**2 * mu_top * w_top, "gap": duality_gap(problem),
            "residual": residual}


def surrogate_descent(case: Case) -> Certification:
    """sym(W) >= 0 and a (1 - mu_min(N)) <= 2 for this case (two eigenvalue computations), with,
    measured beside it, the share of the best move of the same length that the step achieves."""
    Y, W, a, rho = case.tensor("Y"), case.tensor("W"), case.number("a"), get_rho(str(case["rho"]))
    B = attention_kernel(Y, W, rho)
    Dh = B.sum(-1).sqrt()
    N = (B / (Dh[:, None] * Dh[None, :])).numpy()
    mu_min = float(np.linalg.eigvalsh(N)[0])
    w_min = float(np.linalg.eigvalsh(sym(W).numpy())[0])
    value = min(w_min, 2.0 - a * (1.0 - mu_min))
    error = max(eigenvalue_error(N) * (1 + a), eigenvalue_error(sym(W).numpy()))

    L = (torch.diag(B.sum(-1)) - B).numpy()
    Y1 = attention_step(Y, W, a, rho)
    current = float(((Y.numpy() @ sym(W).numpy()) * (L @ Y.numpy())).sum())  # tr(W Y^T L Y)
    achieved = float(surrogate_decrease(Y, Y1, W, rho))
    spectral = float(mm_decrease_spectral(Y, W, a, rho))
    move = best_move(L, W.numpy(), Y.numpy(), float(torch.linalg.matrix_norm(Y1 - Y)))
    best = current - float(move["optimum"])
    # the step's own point lies in the ball, so the best move does at least as well: a solve that
    # does worse than the step (beyond its tolerance) is not an optimum, and gives no fraction
    beaten = achieved > best + 1e-6 * max(abs(current), 1e-300)
    # a decrease within the solver's precision of the objective, or a solve whose KKT conditions
    # fail, gives a ratio of rounding errors: no fraction either
    unresolved = not beaten and (best <= 1e-6 * abs(current) or not float(move.get("residual", math.inf)) <= 1e-3)
    measures = {
        "a": a, "mu_min": mu_min,
        "fraction": achieved / best if best > 0 and not beaten and not unresolved else math.nan,
        "solver_beaten_by_step": float(beaten), "unresolved": float(unresolved),
        "spectral_vs_direct": abs(spectral - achieved) / max(1.0, abs(achieved)),
        "best_move_optimal": 1.0 if move["status"] == "optimal" else 0.0,
        "best_move_gap": float(move.get("gap", math.nan)), "best_move_residual": float(move.get("residual", math.nan)),
    }
    return eigenvalue_certificate(
        "certified-instance", "this Y, W, rho and a", "sym(W) >= 0 and a (1 - mu_min(N)) <= 2, N = D^-1/2 B D^-1/2",
        "min(lmin(sym W), 2 - a (1 - mu_min(N)))", value, 0.0, error, measures,
    )


FRACTION_BINS = ((0.0, 0.5), (0.5, 1.0), (1.0, 1.5), (1.5, 2.0))


def surrogate_details(certs: list[Certification]) -> dict[str, Any]:
    """The step's share of the best move of the same length (a Clarabel QCQP per case), by step
    size a, with the solves' statuses, gaps and residuals, and the spectral decrease formula's
    agreement with the direct one."""
    finite = lambda key: [c.measures[key] for c in certs if math.isfinite(c.measures.get(key, math.nan))]  # noqa: E731
    pairs = [(c.measures["a"], c.measures["fraction"]) for c in certs if math.isfinite(c.measures.get("fraction", math.nan))]
    rows = []
    for low, high in FRACTION_BINS:
        values = sorted(f for a, f in pairs if low <= a < high or (high == 2.0 and a == 2.0))
        if values:
            rows.append({"a_from": low, "a_to": high, "cases": len(values),
                         "median": values[len(values) // 2], "min": values[0], "max": values[-1]})
    return {
        "best_move": {
            "problem": "min tr(W Y^T L Y) over ||Y - Y0||_F <= ||T_a Y0 - Y0||_F", "solver": "CLARABEL",
            "optimal": int(sum(c.measures["best_move_optimal"] for c in certs)), "solves": len(certs),
            "beaten_by_the_step": int(sum(c.measures.get("solver_beaten_by_step", 0.0) for c in certs)),
            "unresolved": int(sum(c.measures.get("unresolved", 0.0) for c in certs)),
            "max_gap": max(finite("best_move_gap"), default=None), "max_residual": max(finite("best_move_residual"), default=None),
            "fraction_by_step": rows,
        },
        "max_spectral_vs_direct": max(finite("spectral_vs_direct"), default=None),
    }


SURROGATE_DESCENT = Certifier(surrogate_descent, surrogate_details, requires=("cvxpy",))
