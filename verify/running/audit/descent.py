"""Descent on real inputs, per (sentence, layer, head), and the cost of the nearest compatible head.

X is the layer's input (the previous norm's output), head_h(X) the head's actual update
(`encoder.head_updates`), E_W(Y) = sum_ij -exp(-||y_i - y_j||_W^2 / 2) (verify.math.attention),
W+ = proj_PSD(sym(M_h)), c_h = tr(Wv_h Wo_h) / d, compatible_h as in `geometry`. Each variant
compares E(before) = E(X) with E(after):

    sym           after = X + head_h(X),                      W = sym(M_h)
    psd           after = X + head_h(X),                      W = W+
    compatible    after = X + compatible_h(X),                W = W+
    sym-step      after = (X + head_h(X)) / (1 + c_h),        W = sym(M_h)
    psd-step      after = (X + head_h(X)) / (1 + c_h),        W = W+
    compatible-step after = (X + compatible_h(X)) / (1 + c+_h) = T_a(X) with the plain softmax,
                                                              W = W+, a = c+ / (1 + c+)
    mm-control    after = D^-1 B X (the exact MM step T_1, key bias -q_j / 2 included), W = W+:
                  ATT-DESCENT says it never rises (a check of this pipeline on real tokens)

The "-step" forms divide by the (1 + c) that the post-norm removes (ATT-LAYER-EQUIV: X + c A X =
(1 + c) T_{c/(1+c)} X and LN(t z) = LN(z) for t > 0); c_h <= -1 leaves that form undefined
(counted as undecided). Each comparison is judged by `descent_slacks` with the energies' term
magnitude (`energy_with_scale`): "lowers" when E falls by more than the tolerance, "raises" when it
rises by more, "unchanged" within it.

Replacing head h by compatible_h (the other heads and everything else kept) changes the attention
sublayer's output Z and the layer's output X' by ||Z_new - Z|| / ||Z|| and ||X'_new - X'|| / ||X'||.
Equal norms: q_i = x_i^T sym(M_h) x_i; its spread std(q) / mean|q| and the size of the key bias
-q_j / 2 that the plain softmax lacks, std_j(q_j) / 2 / mean_i std_j(x_i^T sym(M_h) x_j).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from verify.math.attention import attention_weights, energy_with_scale, w_norms
from verify.model.tolerance import descent_slacks
from verify.running.audit.checkpoint import Encoder, LayerWeights
from verify.running.audit.encoder import attention_output, ffn_sublayer, head_updates
from verify.running.audit.geometry import LayerGeometry, compatible_updates

VARIANTS = ("sym", "psd", "compatible", "sym-step", "psd-step", "compatible-step", "mm-control")
OUTCOMES = ("lowers", "unchanged", "raises", "undecided")


@dataclass(frozen=True)
class LayerDescent:
    """One (sentence, layer), every head: outcome[v, h] indexes OUTCOMES for VARIANTS[v]; relative
    energy changes (E_after - E_before) / |E_before| per variant; the output changes; norm spreads."""

    outcome: Tensor
    relative_change: Tensor
    attention_change: Tensor
    layer_change: Tensor
    all_heads_layer_change: float
    norm_spread: Tensor
    key_bias_ratio: Tensor
    euclidean_norm_spread: float


def _energies(Y: Tensor, basis: Tensor, metric: Tensor) -> tuple[Tensor, Tensor]:
    """E_W(Y) and its term magnitude for W = basis metric basis^T, through the projected tokens Y basis."""
    return energy_with_scale(Y @ basis, metric)


def _outcomes(before: tuple[Tensor, Tensor], after: tuple[Tensor, Tensor], n_terms: int, defined: Tensor) -> Tensor:
    """Index into OUTCOMES per head."""
    slacks = descent_slacks(before[0], after[0], dtype=before[0].dtype, scale=torch.maximum(before[1], after[1]), n_terms=n_terms)
    raises = slacks.failing
    lowers = slacks.decided & (slacks.margin > slacks.tol)
    code = torch.where(raises, 2, torch.where(lowers, 0, 1))
    return torch.where(slacks.decided.to(code.device) & defined, code, 3)


def spread(values: Tensor) -> Tensor:
    """std / mean |.| over the last dimension (0 when all equal)."""
    return values.std(-1, correction=0) / values.abs().mean(-1)


def layer_descent(encoder: Encoder, layer: LayerWeights, geometry: LayerGeometry, X: Tensor, Z: Tensor, X_next: Tensor) -> LayerDescent:
    """Every variant for every head of one layer on one sentence (X its input, Z and X_next its sublayers' outputs)."""
    n, d = X.shape
    n_terms = max(n * n, d)
    updates = head_updates(encoder, layer, X)
    compatible = compatible_updates(geometry, X)
    step_scale = 1 + geometry.c
    defined = step_scale > 0
    safe_scale = torch.where(defined, step_scale, torch.ones_like(step_scale))[:, None, None]
    eye = torch.eye(geometry.psd_root.shape[-1], dtype=X.dtype, device=X.device)
    sym_basis, sym_metric, psd_basis = geometry.U, geometry.sym_metric, geometry.psd_root
    mm_step = attention_weights(X @ psd_basis, eye) @ X
    plans = {
        "sym": (sym_basis, sym_metric, X + updates, None),
        "psd": (psd_basis, eye, X + updates, None),
        "compatible": (psd_basis, eye, X + compatible, None),
        "sym-step": (sym_basis, sym_metric, (X + updates) / safe_scale, defined),
        "psd-step": (psd_basis, eye, (X + updates) / safe_scale, defined),
        "compatible-step": (psd_basis, eye, (X + compatible) / (1 + geometry.c_plus)[:, None, None], None),
        "mm-control": (psd_basis, eye, mm_step, None),
    }
    before = {"sym": _energies(X, sym_basis, sym_metric), "psd": _energies(X, psd_basis, eye)}
    every = torch.ones_like(defined)
    outcome, relative = [], []
    for name in VARIANTS:
        basis, metric, after, where = plans[name]
        start = before["sym" if basis is sym_basis else "psd"]
        end = _energies(after, basis, metric)
        outcome.append(_outcomes(start, end, n_terms, every if where is None else where))
        relative.append((end[0] - start[0]) / start[0].abs())
    heads_sum = updates.sum(0)
    replaced = attention_output(encoder, layer, X, heads_sum - updates + compatible)
    replaced_all = attention_output(encoder, layer, X, compatible.sum(0))
    change = lambda new, old: torch.linalg.vector_norm(new - old, dim=(-2, -1)) / torch.linalg.vector_norm(old)  # noqa: E731
    q = w_norms(X @ sym_basis, sym_metric)
    logits = (X @ sym_basis) @ sym_metric @ (X @ sym_basis).mT
    key_bias = q.std(-1, correction=0) / 2 / logits.std(-1, correction=0).mean(-1)
    return LayerDescent(
        outcome=torch.stack(outcome), relative_change=torch.stack(relative),
        attention_change=change(replaced, Z), layer_change=change(ffn_sublayer(encoder, layer, replaced), X_next),
        all_heads_layer_change=float(change(ffn_sublayer(encoder, layer, replaced_all), X_next)),
        norm_spread=spread(q), key_bias_ratio=key_bias, euclidean_norm_spread=float(spread((X * X).sum(-1))),
    )
