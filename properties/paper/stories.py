"""What happened at a PAPER counterexample, in numbers computed from the case (for the report)."""

from __future__ import annotations

import torch

from verify.math.paper import clipped_psd, paper_attention_energy, paper_attention_forward, paper_ffn_energy, paper_ffn_forward
from verify.model.case import Case


def _change(name: str, before: float, after: float) -> str:
    return f"{name} {'rose' if after > before else 'fell'} by {abs(after - before):.4g}"


def attention(case: Case) -> str:
    """How the attention forward changed the two parts of its energy, and whether V was symmetric."""
    Y, V = case.tensor("Y"), case.tensor("V")
    Y1 = paper_attention_forward(Y, V)
    reg = [float(((X @ V) ** 2).sum() / 2) for X in (Y, Y1)]
    total = [float(paper_attention_energy(X, V)) for X in (Y, Y1)]
    symmetric = bool(torch.allclose(V, V.mT))
    return (f"softmax(Y V^T V Y^T) Y: {_change('E_pa', total[0], total[1])}; of it the pair term "
            f"{_change('', total[0] - reg[0], total[1] - reg[1]).strip()} and ||Y V||^2 / 2 {_change('', reg[0], reg[1]).strip()}"
            f" (V {'symmetric' if symmetric else 'not symmetric'} here).")


def layer(case: Case) -> str:
    """Which sublayer raised which energy across one layer of the paper model."""
    Y, V, b = case.tensor("Y"), case.tensor("V"), case.tensor("b")
    U = clipped_psd(case.tensor("A"))
    Z = paper_attention_forward(Y, V)
    Y2 = paper_ffn_forward(Z, U, b)
    pa = [float(paper_attention_energy(X, V)) for X in (Y, Z, Y2)]
    pf = [float(paper_ffn_energy(X, U, b)) for X in (Y, Z, Y2)]
    return (f"The attention forward: {_change('E_pa', pa[0], pa[1])}, {_change('E_pf', pf[0], pf[1])}. "
            f"The FFN: {_change('E_pf', pf[1], pf[2])}, {_change('E_pa', pa[1], pa[2])}. "
            f"{_change('The total', pa[0] + pf[0], pa[2] + pf[2])}.")
