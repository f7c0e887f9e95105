"""FF certificates.

For every input at once (certified-all), a matrix inequality on the weights, its margin from
an eigenvalue computation:
    FF-DESCENT, FF-RELU-DESCENT   lmin(I + M) >= 0       (every Y and b; Y >= 0 for the ReLU)
    FF-TIED-MLP                   t <= 2 / ||V||_2^2      (every Y and c: E_mlp is ||V||_2^2-smooth)
For one drawn case (certified-instance), a solve: FF-RELU-PROX's linearised prox sub-problem by
OSQP, which must agree with relu(Y M + 1 b^T) within the accuracy its own KKT residual certifies.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from properties.ff.checks import layer_scale
from verify.math.feedforward import ff_gradient, relu_layer
from verify.model.case import Case
from verify.model.tolerance import tolerance
from verify.proof.certificate import EPS64, Certification, Certifier, eigenvalue_certificate, eigenvalue_error, solver_certificate


def _np(case: Case, key: str) -> np.ndarray:
    return case.tensor(key).detach().cpu().to(torch.float64).numpy()


def _descent(case: Case, scope: str) -> Certification:
    """E_ff(Y M + 1 b^T) - E_ff(Y) = -(1/2) tr(G (I + M) G^T) <= 0 for every Y, b iff I + M >= 0
    (and, with the ReLU, E_ff(Y+) <= E_ff(Y) - (1/2) tr(Dl (I + M) Dl^T) for every Y >= 0)."""
    M = _np(case, "M")
    A = np.eye(len(M)) + (M + M.T) / 2
    return eigenvalue_certificate("certified-all", scope, "lmin(I + M) >= 0", "lmin(I + M)", float(np.linalg.eigvalsh(A)[0]),
                                  0.0, eigenvalue_error(A))


def ff_descent(case: Case) -> Certification:
    return _descent(case, "every Y and b, for this M")


def ff_relu_descent(case: Case) -> Certification:
    return _descent(case, "every Y >= 0 and b, for this M")


def tied_mlp(case: Case) -> Certification:
    """E_mlp is ||V||_2^2-smooth (relu 1-Lipschitz and monotone), so a gradient step with
    t <= 2 / ||V||_2^2 descends it for every Y and c."""
    V = _np(case, "V")
    top = float(np.linalg.norm(V, 2)) ** 2
    return eigenvalue_certificate("certified-all", "every Y and c, for this V and t", "t <= 2 / ||V||_2^2",
                                  "2 / ||V||_2^2 - t", 2.0 / top - case.number("t"), 0.0, 10.0 * EPS64 * (2.0 / top) * V.shape[1])


def relu_prox(case: Case) -> Certification:
    """The OSQP solve of the linearised prox sub-problem agrees with relu(Y M + 1 b^T) within
    the accuracy its own KKT residual certifies."""
    from verify.proof import convex

    Y, M, b = case.tensor("Y"), case.tensor("M"), case.tensor("b")
    G = ff_gradient(Y, M, b)
    X, cert = convex.nonneg_prox(G.numpy(), Y.numpy())
    difference = float(np.abs(relu_layer(Y, M, b).numpy() - X).max()) if cert.optimal else math.nan
    rounding = tolerance(torch.float64, float(layer_scale(Y, M, b)) + float(G.abs().max()), Y.shape[-1])
    return solver_certificate(
        "certified-instance", "this Y, M, b", "relu(Y M + 1 b^T) = argmin_{X >= 0} <grad E_ff(Y), X - Y> + (1/2)||X - Y||^2",
        cert.accuracy + rounding - difference, 0.0, cert.solver, cert.status, cert.gap, cert.residual,
    )


FF_DESCENT = Certifier(ff_descent)
FF_RELU_DESCENT = Certifier(ff_relu_descent)
TIED_MLP = Certifier(tied_mlp)
RELU_PROX = Certifier(relu_prox, requires=("cvxpy", "osqp"))
