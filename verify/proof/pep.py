"""A cross-check of the universal FF certificate with PEPit (optional extra `pepit`).

Performance estimation: over every L-smooth convex function f and every point x0 with
||grad f(x0)|| = 1, the worst case of f(x0 - t grad f(x0)) - f(x0), solved as an SDP.
For the FF gradient step on E_ff with Hessian I - M, spectrum in [0, L], the exact change
with a unit gradient on the eigenvector of eigenvalue h is -t + t^2 h / 2, so the worst
case over such M is -t (1 - t L / 2) for t <= 2 / L; the descent lemma is tight on
quadratics, so PEPit's worst case over all L-smooth convex functions must agree
(tests/test_certificates.py computes ours from verify.feedforward and compares).
"""

from __future__ import annotations


def pepit_worst_step_change(L: float, t: float) -> float:
    """PEPit's worst case of f(x1) - f(x0), x1 = x0 - t grad f(x0), ||grad f(x0)|| = 1."""
    from PEPit import PEP
    from PEPit.functions import SmoothConvexFunction

    problem = PEP()
    f = problem.declare_function(SmoothConvexFunction, L=L)
    x0 = problem.set_initial_point()
    g0, f0 = f.oracle(x0)
    x1 = x0 - t * g0
    problem.set_initial_condition(g0**2 == 1)
    problem.set_performance_metric(f(x1) - f0)
    return float(problem.solve(wrapper="cvxpy", solver="CLARABEL", verbose=0))

