"""PAPER checks, batched: the paper model's sublayers against its own energies."""

from __future__ import annotations

import torch

from verify.math.attention import attention_energy_scale
from verify.math.paper import (
    clipped_psd,
    corrected_attention_forward,
    paper_attention_energy,
    paper_attention_forward,
    paper_ffn_energy,
    paper_ffn_forward,
)
from verify.model.case import Case
from verify.model.tolerance import Slacks, descent_slacks, worst_slacks


def _attention_scale(Y: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    return attention_energy_scale(Y, V @ V.mT) + ((Y.abs() @ V.abs()) ** 2).sum((-2, -1))


def _n_terms(Y: torch.Tensor) -> int:
    return Y.shape[-2] ** 2 * Y.shape[-1]


def _attention_descent(case: Case, forward) -> Slacks:
    Y, V = case.tensor("Y"), case.tensor("V")
    Y1 = forward(Y, V)
    return descent_slacks(paper_attention_energy(Y, V), paper_attention_energy(Y1, V), dtype=Y.dtype,
                          scale=_attention_scale(Y, V) + _attention_scale(Y1, V), n_terms=_n_terms(Y))


def slacks_attention(case: Case) -> Slacks:
    """E_pa(softmax(Y M Y^T) Y) <= E_pa(Y), M = V^T V."""
    return _attention_descent(case, paper_attention_forward)


def slacks_attention_fixed(case: Case) -> Slacks:
    """E_pa((D + I)^{-1} B Y) <= E_pa(Y)."""
    return _attention_descent(case, corrected_attention_forward)


def _ffn_scale(Y: torch.Tensor, U: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return ((Y.abs() @ U.abs()) * Y.abs()).sum((-2, -1)) + ((Y.abs() + b.abs()[..., None, :]) ** 2).sum((-2, -1))


def slacks_ffn(case: Case) -> Slacks:
    """E_pf(-Y sym(U) + 1 b^T) <= E_pf(Y), with and without the ReLU, U = clip(A A^T).

    The ReLU variant is a projected (proximal) step: it descends from feasible points Y >= 0,
    which every layer after the first sees (relu outputs, then convex combinations of them)."""
    Y, b = case.tensor("Y"), case.tensor("b")
    U = clipped_psd(case.tensor("A"))
    slacks = []
    for relu in (False, True):
        Y1 = paper_ffn_forward(Y, U, b, relu=relu)
        slacks.append(descent_slacks(paper_ffn_energy(Y, U, b), paper_ffn_energy(Y1, U, b), dtype=Y.dtype,
                                     scale=_ffn_scale(Y, U, b) + _ffn_scale(Y1, U, b), n_terms=Y.shape[-2] * Y.shape[-1] ** 2))
    return worst_slacks(*slacks)


def slacks_layer_monotone(case: Case) -> Slacks:
    """The total E_pa + E_pf does not rise across one layer (attention forward, then FFN forward)."""
    Y, V, b = case.tensor("Y"), case.tensor("V"), case.tensor("b")
    U = clipped_psd(case.tensor("A"))
    total = lambda Z: paper_attention_energy(Z, V) + paper_ffn_energy(Z, U, b)  # noqa: E731
    Y2 = paper_ffn_forward(paper_attention_forward(Y, V), U, b)
    scale = _attention_scale(Y, V) + _attention_scale(Y2, V) + _ffn_scale(Y, U, b) + _ffn_scale(Y2, U, b)
    return descent_slacks(total(Y), total(Y2), dtype=Y.dtype, scale=scale, n_terms=_n_terms(Y))
