"""The steps, energies and maps the benchmark's table pairs up, on an (n, d) token matrix Y.

Each also takes a batch (..., n, d) and means the same thing case by case (rows are dimension -2,
features -1, energies sum over both), so that a search may call it on a whole batch.

Fixed weights are written out here (dyadic where an eigenvalue matters, so that the float
matrix has exactly the spectrum the proof uses) and cut to Y's width d where an entry runs
on several widths: `W[:d, :d]` of a symmetric W is symmetric, of a PSD W is PSD, and
`||V[:, :d]|| <= ||V||`. Every function casts its weights to Y's dtype and device.

    quadratic(Y; A)          = (1/2) tr(Y A Y^T)
    quadratic_step(Y; A, t)  = Y - t Y A                     (the gradient step on it, A symmetric)
    half_sq_norm(Y)          = (1/2) ||Y||_F^2
    radial_shrink(Y; R)      = y_i (1 - (1 - ||y_i||^2 / R^2) / 10), row by row
    centred_rms(Y)           = sqrt(d) P y / ||P y||, P y = y - mean(y) 1; 0 where P y = 0 (d = 1 included)
    query_bias_softmax(Y; W) = softmax(Y W Y^T - q 1^T / 2) Y,  q_i = y_i^T W y_i
    parallel_bump(Y; tau)    = Y + sum_{j != i} relu(cos^2(y_i, y_j) - tau) y_j
    cone_unit(Y; v, c)       = Y + relu(Y v - c ||y_i||) v^T   (a ReLU unit that fires only inside a cone around v)
    rank_one_gram(Y)         = Y Y^T Y;   frobenius_scaled(Y) = ||Y||_F^2 Y
    centre_mean(Y)           = Y - 1 mean_rows(Y);   centre_midrange(Y) = Y - 1 (max_rows(Y) + min_rows(Y)) / 2
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

F64 = torch.float64
CPU = "cpu"  # the fixed weights live here; every function casts them to Y's device


def matrix(rows: list[list[float]]) -> Tensor:
    """A fixed float64 weight on the CPU (cast to Y's dtype and device where used)."""
    return torch.tensor(rows, dtype=F64, device=CPU)


def like(M: Tensor, Y: Tensor) -> Tensor:
    """M in Y's dtype and on Y's device."""
    return M.to(dtype=Y.dtype, device=Y.device)


def square_block(M: Tensor, Y: Tensor) -> Tensor:
    """The leading d x d block of M for Y of width d, in Y's dtype."""
    d = Y.shape[-1]
    return like(M[:d, :d], Y)


def leading(v: Tensor, Y: Tensor) -> Tensor:
    """The first d entries of v (or columns of a matrix v) for Y of width d, in Y's dtype."""
    d = Y.shape[-1]
    return like(v[..., :d], Y)


def eye_like(Y: Tensor, scale: float = 1.0) -> Tensor:
    """scale * I_d for Y of width d."""
    return scale * torch.eye(Y.shape[-1], dtype=Y.dtype, device=Y.device)


# --- weights -------------------------------------------------------------------------------

A2 = matrix([[3.0, 1.0], [1.0, 3.0]])  # eigenvalues 2 (on (1, -1)) and 4 (on (1, 1)): L = 4, 2 / L = 0.5

Q4 = torch.eye(4, dtype=F64, device=CPU) - 0.5  # I - 1 1^T / 2: a symmetric orthogonal (Householder) matrix, dyadic entries


def spectral(eigenvalues: list[float]) -> Tensor:
    """Q4 diag(eigenvalues) Q4: a dense symmetric 4 x 4 matrix, computed exactly for dyadic eigenvalues."""
    return Q4 @ torch.diag(matrix([eigenvalues])[0]) @ Q4


M_LMIN_ONE = spectral([-1.0, -0.5, 0.5, 2.0])  # lmin = -1 exactly: I + M >= 0
U_BOTTOM = matrix([[0.3, 0.7, -0.5, 0.4]])[0] / math.sqrt(0.99)  # a unit vector >= 5.7 deg from every integer vector in [-3, 3]^4
LMIN_BELOW = -1.0 - 2.0**-7
M_LMIN_BELOW = 2.0 * torch.eye(4, dtype=F64, device=CPU) + (LMIN_BELOW - 2.0) * torch.outer(U_BOTTOM, U_BOTTOM)  # spectrum {lmin, 2, 2, 2}
B4 = matrix([[0.5, -0.25, 0.0, 1.0]])[0]

W_SYM = matrix([
    [0.30, 0.05, -0.10, 0.00],
    [0.05, 0.20, 0.05, -0.05],
    [-0.10, 0.05, 0.25, 0.10],
    [0.00, -0.05, 0.10, 0.15],
])
SKEW = matrix([
    [0.0, 0.1, 0.0, -0.05],
    [-0.1, 0.0, 0.05, 0.0],
    [0.0, -0.05, 0.0, 0.1],
    [0.05, 0.0, -0.1, 0.0],
])
W_ASYM = W_SYM + SKEW  # sym(W_ASYM) = W_SYM; the skew part is nonzero in every leading block of width >= 2
W_PSD_SINGULAR = torch.diag(matrix([[1.0, 0.5, 0.25, 0.0]])[0])
NEGATIVE_ANGLE = 1.6534  # rad: 4.7 deg from every direction (p, q) with integers |p|, |q| <= 6
E_NEGATIVE = matrix([[math.cos(NEGATIVE_ANGLE), math.sin(NEGATIVE_ANGLE)]])[0]
E_POSITIVE = matrix([[math.sin(NEGATIVE_ANGLE), -math.cos(NEGATIVE_ANGLE)]])[0]
W_NEARLY_PSD = torch.outer(E_POSITIVE, E_POSITIVE) - 1e-6 * torch.outer(E_NEGATIVE, E_NEGATIVE)  # eigenvalues 1, -1e-6
SHARP = 1e6  # W = SHARP * I: tokens interact only within about 1e-3 of each other
VERY_SHARP = 1e12  # ... within about 1e-6
SHARPEST = 1e13  # ... within about 4e-7

M_LIN = matrix([
    [0.6, 0.2, -0.3, 0.1],
    [0.21, -0.4, 0.5, 0.0],
    [-0.3, 0.5, 0.3, 0.2],
    [0.1, 0.0, 0.25, -0.5],
])  # symmetric but for M[0, 1] = 0.2 against M[1, 0] = 0.21 (and M[2, 3] = 0.2 against M[3, 2] = 0.25)
M_SYM = (M_LIN + M_LIN.mT) / 2
M_NONNEG = matrix([
    [0.5, 0.1, 0.0, 0.3],
    [0.2, 0.4, 0.1, 0.0],
    [0.0, 0.3, 0.6, 0.1],
    [0.1, 0.0, 0.2, 0.5],
])
B_NONNEG = matrix([[0.1, 0.0, 0.2, 0.05]])[0]

V_MLP = matrix([
    [1.0, -0.5, 0.25, 0.5],
    [0.5, 1.0, -0.5, 0.0],
    [-0.25, 0.5, 1.0, -1.0],
])
C_MLP = matrix([[0.2, -0.1, 0.3]])[0]
T_MLP = 1.0 / float(torch.linalg.matrix_norm(V_MLP, ord=2)) ** 2  # 1 / L, L = ||V||_2^2 bounds every V[:, :d]


# --- energies and steps --------------------------------------------------------------------


def quadratic(Y: Tensor, A: Tensor) -> Tensor:
    """(1/2) tr(Y A Y^T)."""
    return (Y * (Y @ like(A, Y))).sum((-2, -1)) / 2


def quadratic_step(Y: Tensor, A: Tensor, t: float) -> Tensor:
    """Y - t Y A: the gradient step of size t on (1/2) tr(Y A Y^T), A symmetric."""
    return Y - t * (Y @ like(A, Y))


def half_sq_norm(Y: Tensor) -> Tensor:
    """(1/2) ||Y||_F^2."""
    return (Y * Y).sum((-2, -1)) / 2


def radial_shrink(Y: Tensor, R: float) -> Tensor:
    """y_i (1 - (1 - ||y_i||^2 / R^2) / 10): shrinks rows of norm below R, stretches rows above it."""
    r2 = (Y * Y).sum(-1, keepdim=True)
    return Y * (1 - (1 - r2 / R**2) / 10)


# --- layer norm, softmax, rows ---------------------------------------------------------------


def centred_rms(Y: Tensor) -> Tensor:
    """sqrt(d) P y / ||P y|| per row (layer norm without epsilon or affine part), 0 where P y = 0.

    Scaling by 2 and negation are exact in floating point, so LN(2Y) and LN(-Y) are computed
    from exactly 2 and -1 times the same numbers as LN(Y)."""
    P = Y - Y.mean(-1, keepdim=True)
    norms = torch.linalg.vector_norm(P, dim=-1, keepdim=True)
    return torch.where(norms > 0, math.sqrt(Y.shape[-1]) * P / torch.where(norms > 0, norms, 1.0), 0.0)


def query_bias_softmax(Y: Tensor, W: Tensor) -> Tensor:
    """softmax(Y W Y^T - q 1^T / 2) Y, q_i = y_i^T W y_i: a bias per query (row), not per key."""
    logits = Y @ W @ Y.mT
    q = (Y @ W * Y).sum(-1)
    return torch.softmax(logits - q[..., :, None] / 2, dim=-1) @ Y


def parallel_bump(Y: Tensor, tau: float) -> Tensor:
    """Y + sum_{j != i} relu(cos^2(y_i, y_j) - tau) y_j; cos^2 = 0 where a row is 0."""
    G = Y @ Y.mT
    sq = G.diagonal(dim1=-2, dim2=-1)
    denominator = sq[..., :, None] * sq[..., None, :]
    cos2 = torch.where(denominator > 0, G * G / torch.where(denominator > 0, denominator, 1.0), 0.0)
    weight = torch.relu(cos2 - tau) * (1 - torch.eye(Y.shape[-2], dtype=Y.dtype, device=Y.device))
    return Y + weight @ Y


V_CONE = matrix([[-1.9, -0.3, -0.3]])[0] / math.sqrt(3.79)  # a unit vector 12.6 deg from every integer vector in [-3, 3]^3
COS_CONE = 0.9999  # the unit fires for rows within acos(0.9999) = 0.81 deg of V_CONE


def cone_unit(Y: Tensor, v: Tensor, c: float) -> Tensor:
    """Y + relu(Y v - c ||y_i||) v^T: rows within acos(c) of the unit vector v move along v, the rest stay."""
    v = like(v, Y)
    return Y + torch.relu(Y @ v - c * torch.linalg.vector_norm(Y, dim=-1))[..., None] * v


def rank_one_gram(Y: Tensor) -> Tensor:
    """Y Y^T Y."""
    return Y @ Y.mT @ Y


def frobenius_scaled(Y: Tensor) -> Tensor:
    """||Y||_F^2 Y."""
    return (Y * Y).sum((-2, -1), keepdim=True) * Y


def centre_mean(Y: Tensor) -> Tensor:
    """Y - 1 mean(Y): each column minus its mean over the tokens."""
    return Y - Y.mean(-2, keepdim=True)


def centre_midrange(Y: Tensor) -> Tensor:
    """Y - 1 (max(Y) + min(Y)) / 2: each column minus the midpoint of its range over the tokens."""
    return Y - (Y.amax(-2, keepdim=True) + Y.amin(-2, keepdim=True)) / 2
