"""Convex sub-problems solved with cvxpy, each with a certificate.

Every solve returns the solution and a `Certificate`: solver, status, objective, duality
gap, and a KKT residual computed here from the primal and dual values (not taken on the
solver's word). For these strongly convex projections (modulus 1) the distance to the
true solution is bounded by the KKT residual, so comparisons use a tolerance derived from
it (`Certificate.accuracy`). A status other than `optimal` makes a check undecided.

Solvers follow the spec: OSQP (eps 1e-10, polishing) for bound-constrained QPs,
Clarabel for the second-order-cone projection and the quadratic programs.

cvxpy is heavy and absent on some machines (a GPU box with a CUDA torch and nothing else):
import this module only where a solve happens, inside the check or certificate that needs it.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import osqp
from scipy import sparse

EPS64 = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class Certificate:
    """What backs a solve: solver, status, objective, the duality gap the solver reported (NaN
    where it reports none), and the KKT residual computed here."""

    solver: str
    status: str
    objective: float
    gap: float
    residual: float

    @property
    def optimal(self) -> bool:
        return self.status == "optimal"

    @property
    def accuracy(self) -> float:
        """A bound on the distance to the exact solution (modulus-1 objectives).

        Linear in the residual where complementarity is strict; at a degenerate point (a
        constraint active with a zero multiplier, e.g. ||P y|| = sqrt(d) exactly) interior
        point methods only reach the square root, so the bound carries that term too.
        """
        slack = max(self.residual, 0.0) + (max(self.gap, 0.0) if math.isfinite(self.gap) else 0.0)
        return 10.0 * (slack + math.sqrt(slack))


def duality_gap(problem: cp.Problem) -> float:
    """The duality gap the solver reported, or NaN where it reports none (Clarabel through cvxpy
    does not): never a default that no solver produced."""
    stats = problem.solver_stats.extra_stats
    info = getattr(stats, "info", None)
    if info is not None and hasattr(info, "duality_gap"):
        return abs(float(info.duality_gap))
    return math.nan


@contextlib.contextmanager
def c_stdout_silenced() -> Iterator[None]:
    """Send file descriptor 1 to /dev/null for the duration (C code ignores sys.stdout)."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def nonneg_prox(G: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, Certificate]:
    """argmin_{X >= 0} <G, X - Y> + (1/2) ||X - Y||^2 (with G = -Z, Y = 0: the orthant projection of Z).

    Posed for OSQP directly (P = I, q = vec(G - Y), bounds X >= 0): cvxpy's canonicalisation
    costs 30x the solve for these small problems. KKT, with the multiplier taken from
    stationarity, Lam = X - Y + G: Lam >= 0, X >= 0, Lam * X = 0; the residual is the worst
    violation of those, so it does not rest on the solver's word.
    """
    n = Y.size
    identity = sparse.eye(n, format="csc")
    model = osqp.OSQP()
    model.setup(P=identity, q=(G - Y).reshape(-1), A=identity, l=np.zeros(n), u=np.full(n, np.inf),
                eps_abs=1e-10, eps_rel=1e-10, polishing=True, max_iter=100_000, verbose=False)
    with c_stdout_silenced():  # OSQP 1.x prints "Polishing not needed" from C even with verbose=False
        result = model.solve(raise_error=False)  # a failed solve is a status, read below
    status = "optimal" if result.info.status == "solved" else str(result.info.status)
    if result.x is None or status != "optimal":
        return np.full(Y.shape, np.nan), Certificate("OSQP", status, math.nan, math.nan, math.inf)
    Xv = np.asarray(result.x).reshape(Y.shape)
    Lam = Xv - Y + G
    residual = max(float(np.maximum(-Xv, 0).max()), float(np.maximum(-Lam, 0).max()), float(np.abs(Lam * Xv).max()))
    objective = float((G * (Xv - Y)).sum() + ((Xv - Y) ** 2).sum() / 2)
    gap = abs(float(getattr(result.info, "duality_gap", math.nan)))  # OSQP 1.x reports it; NaN if a version does not
    return Xv, Certificate("OSQP", status, objective, gap, residual)


def centred_ball_projection(y: np.ndarray) -> tuple[np.ndarray, Certificate]:
    """argmin_x (1/2) ||x - y||^2 s.t. 1^T x = 0, ||x||^2 <= d, for one token y.

    KKT: x - y + nu 1 + 2 mu x = 0, mu >= 0, 1^T x = 0, ||x||^2 <= d, mu (||x||^2 - d) = 0.
    """
    d = y.shape[-1]
    x = cp.Variable(d)
    equality = cp.sum(x) == 0
    ball = cp.sum_squares(x) <= d
    problem = cp.Problem(cp.Minimize(cp.sum_squares(x - y) / 2), [equality, ball])
    problem.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    if x.value is None:
        return np.full(d, np.nan), Certificate("CLARABEL", str(problem.status), math.nan, math.nan, math.inf)
    xv = np.asarray(x.value)
    nu = float(np.asarray(equality.dual_value).reshape(-1)[0])
    mu = float(np.asarray(ball.dual_value).reshape(-1)[0])
    residual = max(
        float(np.abs(xv - y + nu + 2 * mu * xv).max()),
        abs(float(xv.sum())),
        max(float(xv @ xv) - d, 0.0),
        max(-mu, 0.0),
        abs(mu * (float(xv @ xv) - d)),
    )
    return xv, Certificate("CLARABEL", str(problem.status), float(problem.value), duality_gap(problem), residual)


def solve(problem: cp.Problem, solver: str, **options: float) -> str:
    """Solve; a problem cvxpy cannot certify as convex, or a solver error, is a status, not a crash."""
    try:
        problem.solve(solver=solver, **options)
    except cp.error.DCPError:
        return "not convex (DCP)"
    except cp.error.SolverError as err:
        return f"solver error: {err}"
    return str(problem.status)


def quadratic_pair_minimum(P: np.ndarray, a: np.ndarray, Q: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, Certificate]:
    """argmin_y (1/2)(y - a)^T P (y - a) + (1/2)(y - c)^T Q (y - c), P, Q > 0 (Clarabel).

    KKT: P (y - a) + Q (y - c) = 0; the objective is strongly convex with modulus lmin(P + Q).
    """
    y = cp.Variable(len(a))
    objective = cp.quad_form(y - a, cp.psd_wrap(P)) / 2 + cp.quad_form(y - c, cp.psd_wrap(Q)) / 2
    problem = cp.Problem(cp.Minimize(objective))
    status = solve(problem, cp.CLARABEL)
    if status != cp.OPTIMAL or y.value is None:
        return np.full(len(a), np.nan), Certificate("CLARABEL", status, math.nan, math.nan, math.inf)
    yv = np.asarray(y.value)
    modulus = float(np.linalg.eigvalsh(P + Q)[0])
    residual = float(np.abs(P @ (yv - a) + Q @ (yv - c)).max()) / max(modulus, 1e-300)
    return yv, Certificate("CLARABEL", status, float(problem.value), math.nan, residual)
