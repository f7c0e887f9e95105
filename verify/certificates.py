"""Certificates: from "no counterexample found" to "certified".

Two levels above a sampled pass (spec, Evidence levels):
- certified for all inputs: the claim reduces to a matrix inequality on the weights,
  settled by an eigenvalue computation for every input at once, with its margin:
      FF-DESCENT, FF-RELU-DESCENT    lmin(I + M) >= 0        (all Y, b; Y >= 0 for the ReLU)
      FF-TIED-MLP                    t <= 2 / ||V||_2^2       (all Y, c)
- certified instance: for one drawn case a convex sub-problem is solved (verify.convex)
  or a matrix inequality settles that case, with the solver's status, gap and residual:
      ATT-SURROGATE-DESCENT          sym(W) >= 0 and a (1 - mu_min) <= 2 for N = D^-1/2 B D^-1/2,
                                     plus the QP min_Y S(Y; Y0) and the fraction of the best
                                     decrease the step achieves.

An eigenvalue computed in floating point is within c eps ||A|| of the true one (symmetric
eigensolvers are backward stable), so a margin certifies only beyond that error bound; a
margin inside it is inconclusive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from verify import convex
from verify.attention import attention_kernel, attention_step, mm_decrease_spectral, surrogate_decrease, sym
from verify.case import Case
from verify.rho import get as get_rho
from verify.verdict import Evidence

EPS64 = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class Certification:
    """One certificate: what it settles (`scope`), at which level, and how surely.

    holds:  True (certified), False (the inequality fails: refuted for that scope), or
            None (inconclusive: margin within the error bound, or solver trouble)
    margin: how far the matrix inequality holds (same units as the statement)
    """

    level: Evidence
    scope: str
    statement: str
    margin: float
    error_bound: float
    solver: str = "numpy.linalg.eigh"
    status: str = "optimal"
    gap: float = 0.0
    residual: float = 0.0
    measures: dict[str, float] = field(default_factory=dict)

    @property
    def holds(self) -> bool | None:
        if self.status != "optimal" or not math.isfinite(self.margin):
            return None
        if self.margin > self.error_bound or (self.error_bound == 0.0 and self.margin >= 0.0):
            return True
        if self.margin < -self.error_bound:
            return False
        return None


def _np(case: Case, key: str) -> np.ndarray:
    return case.tensor(key).detach().cpu().to(torch.float64).numpy()


def _eig_error(A: np.ndarray) -> float:
    return 10.0 * A.shape[0] * EPS64 * max(1.0, float(np.linalg.norm(A, 2)))


def ff_descent(case: Case, relu: bool = False) -> Certification:
    """E_ff(Y M + 1 b^T) - E_ff(Y) = -(1/2) tr(G (I + M) G^T) <= 0 for every Y, b iff I + M >= 0
    (and, with the ReLU, E_ff(Y+) <= E_ff(Y) - (1/2) tr(Dl (I + M) Dl^T) for every Y >= 0)."""
    M = _np(case, "M")
    A = np.eye(len(M)) + (M + M.T) / 2
    scope = "every Y >= 0 and b, for this M" if relu else "every Y and b, for this M"
    return Certification("certified-all", scope, "lmin(I + M) >= 0", float(np.linalg.eigvalsh(A)[0]), _eig_error(A))


def ff_relu_descent(case: Case) -> Certification:
    return ff_descent(case, relu=True)


def tied_mlp(case: Case) -> Certification:
    """E_mlp is ||V||_2^2-smooth (relu 1-Lipschitz and monotone), so a gradient step with
    t <= 2 / ||V||_2^2 descends it for every Y and c."""
    V = _np(case, "V")
    top = float(np.linalg.norm(V, 2)) ** 2
    margin = 2.0 / top - case.number("t")
    return Certification("certified-all", "every Y and c, for this V and t", "t <= 2 / ||V||_2^2", margin,
                         10.0 * EPS64 * (2.0 / top) * V.shape[1])


def attention_surrogate(case: Case) -> Certification:
    """For this kernel and step: sym(W) >= 0 and a (1 - mu_min) <= 2 make every coefficient
    a (1 - mu)^2 (2 - a (1 - mu)) of the exact decrease nonnegative. Also measured: the QP
    min_Y S(Y; Y0) (cvxpy, two equivalent forms), the fraction of that best decrease the step
    achieves, and the exact spectral decrease against the direct one (metamorphic)."""
    Y, W, a, rho = case.tensor("Y"), case.tensor("W"), case.number("a"), get_rho(str(case["rho"]))
    B = attention_kernel(Y, W, rho)
    Dh = B.sum(-1).sqrt()
    N = (B / (Dh[:, None] * Dh[None, :])).numpy()
    mu_min = float(np.linalg.eigvalsh(N)[0])
    w_min = float(np.linalg.eigvalsh(sym(W).numpy())[0])
    step_margin = 2.0 - a * (1.0 - mu_min)
    margin = min(w_min, step_margin)
    error = max(_eig_error(N) * (1 + a), _eig_error(sym(W).numpy()))

    L = (torch.diag(B.sum(-1)) - B).numpy()
    optimum, second, qp = convex.surrogate_minimum(L, W.numpy())
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


@dataclass(frozen=True)
class CertificateSummary:
    """Certificates over the cases drawn for one claim, for the report."""

    level: Evidence
    scope: str
    statement: str
    cases: int
    certified: int
    inconclusive: int
    refuted: int
    min_margin: float
    solver: str
    statuses: dict[str, int]
    max_gap: float
    max_residual: float
    measures: dict[str, list[float]]
    counterexample: Case | None = None
    seconds: float = 0.0

    @property
    def evidence(self) -> Evidence:
        """The level the claim may claim: only with certificates and none refuted."""
        return self.level if self.certified > 0 and self.refuted == 0 else "sampled"


def summarize(certs: list[Certification], counterexample: Case | None = None, seconds: float = 0.0) -> CertificateSummary:
    statuses: dict[str, int] = {}
    for c in certs:
        statuses[c.status] = statuses.get(c.status, 0) + 1
    judged = [c for c in certs if c.holds is not None]
    measures: dict[str, list[float]] = {}
    for c in certs:
        for k, v in c.measures.items():
            measures.setdefault(k, []).append(v)
    first = certs[0]
    finite = lambda xs: [x for x in xs if math.isfinite(x)] or [math.nan]  # noqa: E731
    return CertificateSummary(
        level=first.level, scope=first.scope, statement=first.statement, cases=len(certs),
        certified=sum(c.holds is True for c in certs), inconclusive=sum(c.holds is None for c in certs),
        refuted=sum(c.holds is False for c in certs),
        min_margin=min(finite([c.margin for c in judged])) if judged else math.nan,
        solver=first.solver, statuses=statuses, max_gap=max(finite([c.gap for c in certs])),
        max_residual=max(finite([c.residual for c in certs])), measures=measures,
        counterexample=counterexample, seconds=seconds,
    )
