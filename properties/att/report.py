"""What the report says about the ATT family: how much of the best move of the same length the step achieves."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate


def _number(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def section(data: dict[str, Any], report: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for c in report["claims"]:
        move = ((c.get("certificate") or {}).get("best_move")) or {}
        rows = move.get("fraction_by_step")
        if c["family"] != "ATT" or not rows:
            continue
        out += [f"{c['id']}: the share of the best possible surrogate decrease that the attention step achieves, "
                "(S(Y0; Y0) - S(T_a Y0; Y0)) / (S(Y0; Y0) - min S), min S over the moves no longer than the step's own "
                f"({move['problem']}; {move['solver']}, {move['optimal']} of {move['solves']} solves optimal, largest KKT "
                f"residual {_number(move.get('max_residual'), '.1e')}, duality gap "
                f"{_number(move.get('max_gap'), '.1e') if move.get('max_gap') is not None else 'not reported by the solver'}"
                + (f"; {move['beaten_by_the_step']} solves did worse than the step itself, so are no optimum, and are "
                   "left out" if move.get("beaten_by_the_step") else "")
                + (f"; {move['unresolved']} cases left out where the best decrease is within 1e-6 of the surrogate's "
                   "size (the solver's precision) or the KKT residual exceeds 1e-3" if move.get("unresolved") else "")
                + "). "
                "The spectral decrease formula matches the direct one to "
                f"{_number(c['certificate'].get('max_spectral_vs_direct'), '.1e')}.", ""]
        out += [tabulate([[f"[{r['a_from']}, {r['a_to']})", r["cases"], f"{r['median']:.3f}", f"{r['min']:.3f}",
                           f"{r['max']:.3f}"] for r in rows],
                         headers=["step a", "cases", "median", "min", "max"], tablefmt="github"), ""]
    return out
