"""What happened at a LAYER counterexample, in numbers computed from the case (for the report)."""

from __future__ import annotations

from verify.math.alternating import gradient_step, pair_energy
from verify.math.attention import attention_energy, attention_step
from verify.math.feedforward import ff_energy, linear_layer
from verify.model.case import Case


def _change(name: str, before: float, after: float) -> str:
    return f"{name} {'rose' if after > before else 'fell'} by {abs(after - before):.4g}"


def full_sum(case: Case) -> str:
    """Which sublayer raised which energy across FF(ATT(Y))."""
    Y, W, M, b = (case.tensor(k) for k in ("Y", "W", "M", "b"))
    a = case.number("a")
    Z = attention_step(Y, W, a)
    Y2 = linear_layer(Z, M, b)
    att = [float(attention_energy(X, W)) for X in (Y, Z, Y2)]
    ff = [float(ff_energy(X, M, b)) for X in (Y, Z, Y2)]
    cross = {"the attention step's change of E_ff": ff[1] - ff[0], "the FF step's change of E_att": att[2] - att[1]}
    culprit = max(cross, key=lambda k: cross[k])
    return (f"The attention step: {_change('E_att', att[0], att[1])}, {_change('E_ff', ff[0], ff[1])}. "
            f"The FF step: {_change('E_ff', ff[1], ff[2])}, {_change('E_att', att[1], att[2])}. "
            f"{_change('E_att + E_ff', att[0] + ff[0], att[2] + ff[2])}; the largest rise is {culprit} "
            f"({cross[culprit]:+.4g}): each step lowers its own energy and is blind to the other's.")


def sum_not_monotone(case: Case) -> str:
    """Which half-step of the cycle raised f + h."""
    P, a, Q, c, y = (case.tensor(k) for k in ("P", "a", "Q", "c", "y"))
    t = case.number("t")
    y1 = gradient_step(y, P, a, t)
    y2 = gradient_step(y1, Q, c, t)
    total = [float(pair_energy(x, P, a, Q, c)) for x in (y, y1, y2)]
    return (f"The f-step: {_change('f + h', total[0], total[1])}; the h-step: {_change('f + h', total[1], total[2])} "
            "(each half-step lowers its own term).")
