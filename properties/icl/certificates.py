"""ICL certificates: for the drawn X, Gamma and eta, for every residual block at once (certified-all).

The layer maps the residual block R to (I - eta K) R, K = X Gamma X^T / N (ICL-GD-STEP, checked
separately). When Gamma = Gamma^T >= 0, K is symmetric and >= 0 for every X, so R decomposes on K's
eigenvectors and each component is multiplied by 1 - eta lam per layer:
    ICL-DESCENT   every |1 - eta lam| <= 1 when also 0 <= eta lmax(K) <= 2: E_icl never rises, whatever Y
    ICL-RATE      L(W_k) - L_inf <= rho^{2k} (L(W_0) - L_inf) for every Y, rho = max over lam > 0 of
                  |1 - eta lam|, and rho <= 1 when 0 <= eta lmax(K) <= 2
Both certify the same inequalities, lmin(Gamma) >= 0 and eta lmax(K) <= 2 (with eta >= 0), by numpy's
eigvalsh, each against its rounding bound (verify.proof.certificate.eigenvalue_error); a Gamma with a
zero eigenvalue, or a step on the boundary eta lmax(K) = 2, is inconclusive, never a pass.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from verify.draw.conditions import SYMMETRY_TOL
from verify.model.case import Case
from verify.proof.certificate import EPS64, Certification, Certifier, eigenvalue_certificate, eigenvalue_error, weakest

# computed by numpy.linalg.eigvalsh; the margin is that of the condition nearest to failing
QUANTITY = "the weakest of lmin(sym Gamma), eta, 2 - eta lmax(K) (and -|Gamma - Gamma^T|), by eigvalsh"
SCOPE = "every residual block Y, for this X, Gamma and eta"
CONDITIONS = "Gamma = Gamma^T, lmin(Gamma) >= 0, 0 <= eta, eta lmax(K) <= 2"


def _np(case: Case, key: str) -> np.ndarray:
    return case.tensor(key).detach().cpu().to(torch.float64).numpy()


def contraction(case: Case, statement: str) -> Certification:
    """The inequalities that make I - eta K a contraction for every Y, with what was computed: the
    eigenvalues of Gamma and of K, the rate rho and the bound rho^{2k}, the error bounds, the margin."""
    X, Gamma, eta, k = _np(case, "X"), _np(case, "Gamma"), case.number("eta"), int(case["k"])
    N = X.shape[0]
    size, skew = max(1.0, float(np.abs(Gamma).max())), float(np.abs(Gamma - Gamma.T).max())
    symmetric = (Gamma + Gamma.T) / 2
    K = X @ symmetric @ X.T / N
    K = (K + K.T) / 2
    try:
        gamma_eigs, kernel_eigs = np.linalg.eigvalsh(symmetric), np.linalg.eigvalsh(K)
    except np.linalg.LinAlgError:  # the eigenvalue routine did not converge: nothing settled (a NaN margin is inconclusive)
        return eigenvalue_certificate("certified-all", SCOPE, f"{CONDITIONS}: {statement}", QUANTITY, math.nan, 0.0, math.nan)
    gamma_error, kernel_error = eigenvalue_error(symmetric), eigenvalue_error(K)
    positive = kernel_eigs > kernel_error
    rho = float(np.abs(1 - eta * kernel_eigs[positive]).max()) if positive.any() else 0.0
    conditions = [
        (float(gamma_eigs[0]), gamma_error),
        (eta, 0.0),
        (2.0 - eta * float(kernel_eigs[-1]), abs(eta) * kernel_error + 2 * EPS64),
    ]
    if skew > SYMMETRY_TOL * size:  # K = X Gamma X^T / N is not symmetric: no eigen-decomposition argument
        conditions.append((-skew, SYMMETRY_TOL * size))
    margin, error = weakest(*conditions)
    measures = {
        "lmin(Gamma)": float(gamma_eigs[0]), "lmin(K)": float(kernel_eigs[0]), "lmax(K)": float(kernel_eigs[-1]),
        "smallest positive lam(K)": float(kernel_eigs[positive][0]) if positive.any() else math.nan,
        "eta lmax(K)": eta * float(kernel_eigs[-1]), "rho": rho, "rho^2k": rho ** (2 * k), "k": float(k),
        "eigenvalue error(K)": kernel_error, "eigenvalue error(Gamma)": gamma_error, "|Gamma - Gamma^T|": skew,
    }
    return eigenvalue_certificate("certified-all", SCOPE, f"{CONDITIONS}: {statement}", QUANTITY, margin, 0.0, error, measures)


def descent(case: Case) -> Certification:
    return contraction(case, "every |1 - eta lam(K)| <= 1, so E_icl(layer(Z)) <= E_icl(Z)")


def rate(case: Case) -> Certification:
    return contraction(case, "L(W_k) - L_inf <= rho^{2k} (L(W_0) - L_inf), rho <= 1")


def spectrum_details(certs: list[Certification]) -> dict[str, float | None]:
    """The range of the quantities the certificates computed, for the report."""
    out: dict[str, float | None] = {}
    for key, pick in (("eta lmax(K)", max), ("rho", max), ("lmin(Gamma)", min), ("eigenvalue error(K)", max)):
        values = [c.measures[key] for c in certs if key in c.measures and math.isfinite(c.measures[key])]
        out[f"{'max' if pick is max else 'min'} {key}"] = pick(values) if values else None
    return out


DESCENT = Certifier(descent, spectrum_details)
RATE = Certifier(rate, spectrum_details)
