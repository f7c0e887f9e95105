"""FF checks: batched where the math allows (a leading batch dimension); the ReLU prox (a solver
per case) and the no-energy check (a Jacobian per case) judge one case at a time."""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import numpy as np
import torch

from verify.math.batch import per_case
from verify.math.feedforward import (
    displacement_jacobian,
    ff_energy,
    ff_energy_scale,
    ff_gradient,
    linear_layer,
    relu_layer,
    tied_mlp_energy,
    tied_mlp_layer,
)
from verify.model.case import Case
from verify.model.tolerance import (
    Slack,
    Slacks,
    descent_slacks,
    identity_slack,
    identity_slacks,
    inequality_slacks,
    tolerance,
    worst,
    worst_slacks,
)

if TYPE_CHECKING:
    from verify.proof.convex import Certificate

def layer_scale(Y: torch.Tensor, M: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Magnitude of the terms of Y M + 1 b^T, per case of the batch."""
    return (Y.abs() @ M.abs()).amax((-2, -1)) + b.abs().amax(-1) + Y.abs().amax((-2, -1))


def _autograd(energy, Y: torch.Tensor) -> torch.Tensor:
    """grad of a batched energy (the cases are independent, so the gradient of the sum is each one's)."""
    Y = Y.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(energy(Y).sum(), Y)
    return grad


def _entries(Y: torch.Tensor) -> int:
    """Entries of one case's token matrix."""
    return Y.shape[-2] * Y.shape[-1]


def slacks_grad_equiv(case: Case) -> Slacks:
    """Y M + 1 b^T == Y - grad E_ff(Y), the gradient by autograd."""
    Y, M, b = case.tensor("Y"), case.tensor("M"), case.tensor("b")
    grad = _autograd(lambda Z: ff_energy(Z, M, b), Y)
    return identity_slacks(linear_layer(Y, M, b), Y - grad, scale=layer_scale(Y, M, b), n_terms=Y.shape[-1] ** 2)


def slacks_descent(case: Case) -> Slacks:
    """E_ff(Y M + 1 b^T) <= E_ff(Y)."""
    Y, M, b = case.tensor("Y"), case.tensor("M"), case.tensor("b")
    Y1 = linear_layer(Y, M, b)
    scale = ff_energy_scale(Y, M, b) + ff_energy_scale(Y1, M, b)
    return descent_slacks(ff_energy(Y, M, b), ff_energy(Y1, M, b), dtype=Y.dtype, scale=scale, n_terms=_entries(Y))


def _plane(p: torch.Tensor, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """An orthonormal pair spanning (p, q); the plane of the first two axes when they are degenerate."""
    if float(torch.linalg.vector_norm(p)) > 1e-3:
        p = p / torch.linalg.vector_norm(p)
        q = q - (q @ p) * p
        if float(torch.linalg.vector_norm(q)) > 1e-3:
            return p, q / torch.linalg.vector_norm(q)
    eye = torch.eye(p.shape[0], dtype=p.dtype, device=p.device)
    return eye[0], eye[1]


def check_no_energy(case: Case) -> Slack:
    """The displacement F(Y) = Y M + 1 b^T - Y is no gradient field.

    Computed pairs: the autograd Jacobian J == I_n (x) (M^T - I); ||J - J^T||_F == sqrt(n) ||M - M^T||_F; the
    circulation around a circle (quadrature, exact for this trigonometric polynomial) ==
    pi r^2 (q^T J p - p^T J q); and in the plane of the top singular pair of J - J^T that
    circulation is nonzero (above its rounding floor).
    """
    Y, M, b, r = case.tensor("Y"), case.tensor("M"), case.tensor("b"), case.number("r")
    n, d = Y.shape[-2:]

    def field(v: torch.Tensor) -> torch.Tensor:
        Z = v.reshape(n, d)
        return (linear_layer(Z, M, b) - Z).reshape(-1)

    J = torch.autograd.functional.jacobian(field, Y.reshape(-1))
    asym = torch.linalg.matrix_norm(J - J.mT)
    formula = math.sqrt(n) * torch.linalg.matrix_norm(M - M.mT)
    scale = float(J.abs().max()) * J.shape[0]
    kron = identity_slack(J, displacement_jacobian(M, n), scale=float(J.abs().max()), n_terms=d)
    jac = worst(kron, identity_slack(asym.reshape(1), formula.reshape(1), scale=scale, n_terms=J.numel()))

    def circulation(p: torch.Tensor, q: torch.Tensor, points: int = 8) -> torch.Tensor:
        theta = torch.arange(points, dtype=Y.dtype, device=Y.device) * (2 * math.pi / points)
        cos, sin = theta.cos()[:, None], theta.sin()[:, None]
        centre = Y.reshape(-1)
        on_circle = centre + r * (cos * p + sin * q)
        tangent = r * (-sin * p + cos * q)
        values = torch.stack([field(v) for v in on_circle])
        return (values * tangent).sum() * (2 * math.pi / points)

    if Y.numel() < 2:
        return Slack.skip("no plane in a one-dimensional input space")
    p, q = _plane(case.tensor("p"), case.tensor("q"))
    floor_scale = r * r * float(J.abs().sum()) + r * float(field(Y.reshape(-1)).abs().sum())
    circ = identity_slack(
        circulation(p, q).reshape(1), (math.pi * r * r * (q @ J @ p - p @ J @ q)).reshape(1),
        scale=floor_scale, n_terms=8 * J.shape[0],
    )
    U, sigma, Vh = torch.linalg.svd(J - J.mT)
    top = abs(float(circulation(Vh[0], U[:, 0])))
    floor = tolerance(Y.dtype, floor_scale, 8 * J.shape[0])
    nonzero = Slack(floor, top, top - floor, 0.0, max(floor_scale, 1e-300), relation="<")
    return worst(jac, circ, nonzero)


def _with_solver_tolerance(slack: Slack, certificate: Certificate) -> Slack:
    if not certificate.optimal:
        return Slack.skip(f"solver {certificate.solver}: {certificate.status}")
    return dataclasses.replace(slack, tol=max(slack.tol, certificate.accuracy))


def check_relu_prox(case: Case) -> Slack:
    """relu(Z) == argmin_{X >= 0} (1/2)||X - Z||^2 and
    relu(Y M + 1 b^T) == argmin_{X >= 0} <grad E_ff(Y), X - Y> + (1/2)||X - Y||^2 (cvxpy)."""
    from verify.proof import convex

    Y, M, b = case.tensor("Y"), case.tensor("M"), case.tensor("b")
    Z = linear_layer(Y, M, b)
    to_np = lambda T: T.detach().cpu().to(torch.float64).numpy()  # noqa: E731
    X0, cert0 = convex.nonneg_prox(-to_np(Z), np.zeros(tuple(Z.shape)))
    X1, cert1 = convex.nonneg_prox(to_np(ff_gradient(Y, M, b)), to_np(Y))
    scale = float(layer_scale(Y, M, b))
    as_tensor = lambda X: torch.as_tensor(X, dtype=Y.dtype, device=Y.device)  # noqa: E731
    projection = _with_solver_tolerance(identity_slack(torch.relu(Z), as_tensor(X0), scale=scale), cert0)
    prox = _with_solver_tolerance(identity_slack(relu_layer(Y, M, b), as_tensor(X1), scale=scale), cert1)
    return worst(projection, prox)


def slacks_relu_descent(case: Case) -> Slacks:
    """E_ff(Y+) <= E_ff(Y) - (1/2) tr(Dl (I + M) Dl^T) and E_ff(Y+) <= E_ff(Y), Y+ = relu(Y M + 1 b^T)."""
    Y, M, b = case.tensor("Y"), case.tensor("M"), case.tensor("b")
    Y1 = relu_layer(Y, M, b)
    Dl = Y1 - Y
    guaranteed = (Dl * (Dl + Dl @ M)).sum((-2, -1)) / 2
    before, after = ff_energy(Y, M, b), ff_energy(Y1, M, b)
    scale = ff_energy_scale(Y, M, b) + ff_energy_scale(Y1, M, b) + (Dl.abs() * (Dl.abs() @ M.abs())).sum((-2, -1))
    return worst_slacks(
        descent_slacks(before, after, dtype=Y.dtype, scale=scale, n_terms=_entries(Y)),
        inequality_slacks(after, before - guaranteed, dtype=Y.dtype, scale=scale, n_terms=_entries(Y)),
    )


def slacks_tied_mlp(case: Case) -> Slacks:
    """Y - t relu(Y V^T + 1 c^T) V == Y - t grad E_mlp(Y) (autograd), and E_mlp descends."""
    Y, V, c, t = case.tensor("Y"), case.tensor("V"), case.tensor("c"), case.tensor("t")
    Y1 = tied_mlp_layer(Y, V, c, t)
    grad = _autograd(lambda Z: tied_mlp_energy(Z, V, c), Y)
    pre = Y.abs() @ V.abs().mT + c.abs()[..., None, :]
    step_scale = Y.abs().amax((-2, -1)) + t * (pre.amax((-2, -1)) * V.abs().sum(-2).amax(-1))
    equal = identity_slacks(Y1, Y - per_case(t) * grad, scale=step_scale, n_terms=V.shape[-2] * V.shape[-1])
    scale = (pre**2).sum((-2, -1)) + ((Y1.abs() @ V.abs().mT + c.abs()[..., None, :]) ** 2).sum((-2, -1))
    descent = descent_slacks(
        tied_mlp_energy(Y, V, c), tied_mlp_energy(Y1, V, c), dtype=Y.dtype, scale=scale, n_terms=pre.shape[-2] * pre.shape[-1]
    )
    return worst_slacks(equal, descent)
