"""Named assumptions: a predicate on a case and the strategy parameters that break it.

A claim's strategy parameters describe cases that meet all of its assumptions; an
assumption's `violate` parameters, laid over them, describe cases that break it and
keep the others, so that an ablation can drop one assumption at a time. Predicates run
on the float64 case as drawn and are what the suite trusts: a violating strategy is
filtered by them, so every ablation case really does break its assumption.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from verify.case import Case
from verify.rho import get as get_rho
from verify.strategies import step_limit

SYMMETRY_TOL = 1e-12
SPECTRUM_TOL = 1e-10
NORMS_TOL = 1e-9


@dataclass(frozen=True)
class Assumption:
    """One named hypothesis of a claim: `holds(case)`, and how to draw cases that break it.

    `untestable` says why no case can break it (a domain condition whose violation is an
    input error, say); the ablation then reports it as not tested, with that reason.
    """

    name: str
    holds: Callable[[Case], bool]
    violate: Mapping[str, str] = field(default_factory=dict)
    untestable: str = ""

    def __repr__(self) -> str:
        return f"Assumption({self.name!r})"


def _np(case: Case, key: str) -> np.ndarray:
    return case.tensor(key).detach().cpu().to(torch.float64).numpy()


def is_symmetric(A: np.ndarray) -> bool:
    return bool(np.abs(A - A.T).max() <= SYMMETRY_TOL * max(1.0, np.abs(A).max()))


def lmin_sym(A: np.ndarray) -> float:
    return float(np.linalg.eigvalsh((A + A.T) / 2)[0])


def w_norms_equal(Y: np.ndarray, W: np.ndarray) -> bool:
    q = np.einsum("id,de,ie->i", Y, (W + W.T) / 2, Y)
    return bool(np.ptp(q) <= NORMS_TOL * max(1.0, np.abs(q).max()))


def _psd(case: Case, key: str) -> bool:
    A = _np(case, key)
    return lmin_sym(A) >= -SPECTRUM_TOL * max(1.0, np.abs(A).max())


def weight_psd(key: str = "W") -> Assumption:
    return Assumption(f"sym({key}) PSD", lambda c: _psd(c, key), {"weight": "indefinite"})


def weight_symmetric(key: str = "W") -> Assumption:
    return Assumption(f"{key} symmetric", lambda c: is_symmetric(_np(c, key)), {"weight": "asymmetric"})


def rho_concave_nondecreasing() -> Assumption:
    def holds(c: Case) -> bool:
        r = get_rho(str(c["rho"]))
        return r.concave and r.nondecreasing
    return Assumption("rho concave nondecreasing", holds, {"rho": "convex"})


def rho_concave() -> Assumption:
    return Assumption("rho concave", lambda c: get_rho(str(c["rho"])).concave, {"rho": "convex"})


def rho_neg_exp() -> Assumption:
    return Assumption("rho = -exp(-z)", lambda c: c["rho"] == "neg_exp", {"rho": "concave-not-exp"})


def mm_step_range() -> Assumption:
    """0 <= a <= 1, or 0 <= a <= 2 when the kernel B is PSD."""
    def holds(c: Case) -> bool:
        return 0.0 <= c.number("a") <= step_limit(get_rho(str(c["rho"])))
    return Assumption("0 <= a <= 1, or <= 2 when B >= 0", holds, {"step": "beyond"})


def equal_w_norms(tokens_key: str = "Y", weight_key: str = "W") -> Assumption:
    def holds(c: Case) -> bool:
        return w_norms_equal(_np(c, tokens_key), _np(c, weight_key))
    return Assumption("equal W-norms q_i", holds, {"tokens": "unequal-norms"})


def query_key_tie() -> Assumption:
    """Wq_h Wk_h^T = W for every head: W is what the unfolded step uses, so a case without the tie
    is about some other matrix (shrinking must keep it; no ablation can drop it)."""
    def holds(c: Case) -> bool:
        QK = _np(c, "Wq") @ np.swapaxes(_np(c, "Wk"), -1, -2)
        W = _np(c, "W")
        return bool(np.abs(QK - W).max() <= 1e-10 * max(1.0, np.abs(W).max()))
    return Assumption("Wq Wk^T = W", holds, untestable="W is defined as Wq Wk^T: without the tie the claim is about another matrix")


def value_scalar() -> Assumption:
    """Wv Wo = c I with c >= 0 (summed over heads when the weights are stacked per head)."""
    def holds(c: Case) -> bool:
        VO = _np(c, "Wv") @ _np(c, "Wo")
        VO = VO.sum(0) if VO.ndim == 3 else VO
        return bool(np.abs(VO - c.number("c") * np.eye(len(VO))).max() <= 1e-10 * max(1.0, c.number("c")))
    return Assumption("Wv Wo = cI, c >= 0", holds, {"value": "generic"})


def ff_symmetric() -> Assumption:
    return Assumption("M symmetric", lambda c: is_symmetric(_np(c, "M")), {"M": "asymmetric"})


def ff_asymmetric() -> Assumption:
    return Assumption("M asymmetric", lambda c: not is_symmetric(_np(c, "M")), {"M": "symmetric"})


def ff_lmin() -> Assumption:
    return Assumption("lmin(M) >= -1", lambda c: lmin_sym(_np(c, "M")) >= -1 - SPECTRUM_TOL, {"M": "below-minus-one"})


def tokens_nonneg() -> Assumption:
    return Assumption("Y >= 0", lambda c: bool((_np(c, "Y") >= 0).all()), {"tokens": "free"})


def mlp_step_range() -> Assumption:
    def holds(c: Case) -> bool:
        V = _np(c, "V")
        return 0.0 <= c.number("t") <= 2.0 / np.linalg.norm(V, 2) ** 2 * (1 + 1e-12)
    return Assumption("0 <= t <= 2 / ||V||_2^2", holds, {"step": "beyond"})


def scale_positive() -> Assumption:
    return Assumption("t > 0", lambda c: c.number("t") > 0, {"scale": "negative"})


def _rows(c: Case) -> np.ndarray:
    return _np(c, "Y")


def ln_domain() -> Assumption:
    """d >= 2 and P y != 0: outside it LN is an error (empty set, or every point equally near)."""
    def holds(c: Case) -> bool:
        Y = _rows(c)
        return Y.shape[-1] >= 2 and bool((np.ptp(Y, axis=-1) > 0).all())
    return Assumption("d >= 2, P y != 0", holds, untestable="outside it LN raises ValueError (d = 1: empty set; P y = 0: no unique point)")


def rms_domain() -> Assumption:
    def holds(c: Case) -> bool:
        return bool((np.abs(_rows(c)).max(axis=-1) > 0).all())
    return Assumption("y != 0", holds, untestable="RMS(0) raises ValueError: every point of the sphere is equally near")


def pair_positive() -> Assumption:
    def holds(c: Case) -> bool:
        return lmin_sym(_np(c, "P")) > 0 and lmin_sym(_np(c, "Q")) > 0
    return Assumption("P, Q > 0", holds, untestable="f and h are defined with P, Q > 0; the strategies draw no other")


def _lmax(M: np.ndarray) -> float:
    return float(np.linalg.eigvalsh((M + M.T) / 2)[-1])


def pair_step() -> Assumption:
    def holds(c: Case) -> bool:
        return 0 < c.number("t") < 2 / max(_lmax(_np(c, "P")), _lmax(_np(c, "Q")))
    return Assumption("0 < t < 2 / max(lmax P, lmax Q)", holds,
                      untestable="each half-step is a descent on its own term only in this range; outside it the claim is void")


def pair_step_sum() -> Assumption:
    def holds(c: Case) -> bool:
        return 0 < c.number("t") < 2 / _lmax(_np(c, "P") + _np(c, "Q"))
    return Assumption("t < 2 / lmax(P + Q)", holds, untestable="C_t is undefined (or negative) outside it")


def pair_apollonius() -> Assumption:
    def holds(c: Case) -> bool:
        P, Q, t = _np(c, "P"), _np(c, "Q"), c.number("t")
        denominator = lmin_sym(P) * (1 - t * _lmax(P + Q) / 2)
        if denominator <= 0:
            return False  # C_t undefined: the condition cannot be met
        C = _lmax(Q) / denominator
        y, a, cc = _np(c, "y"), _np(c, "a"), _np(c, "c")
        return bool(np.linalg.norm(y - a) > C * np.linalg.norm(y - cc))
    return Assumption("||y - a|| / ||y - c|| > C_t", holds, {"point": "mixed"})


def ffn_tied() -> Assumption:
    """W1 = V^T, b1 = c, W2 = -t V, b2 = 0: the FFN is a gradient step on E_mlp."""
    def holds(c: Case) -> bool:
        return bool(np.abs(_np(c, "W2") + c.number("t") * _np(c, "V")).max() <= 1e-12 * max(1.0, np.abs(_np(c, "V")).max()))
    return Assumption("W2 = -t W1^T (tied FFN)", holds, {"ffn": "untied"})
