"""What the report says about the ATT family: how much of the best surrogate decrease the step achieves."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate


def section(data: dict[str, Any], report: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for c in report["claims"]:
        certificate = c.get("certificate") or {}
        rows = certificate.get("fraction_of_best_decrease")
        if c["family"] != "ATT" or not rows:
            continue
        out += [f"{c['id']}: the attention step's share of the best possible surrogate decrease, "
                "(S(Y0) - S(T_a Y0)) / (S(Y0) - min S), with min S from the QP "
                f"(the two cvxpy forms differ by at most {certificate.get('max_qp_forms_disagree') or 0:.1e}; "
                "the spectral decrease formula matches the direct one to "
                f"{certificate.get('max_spectral_vs_direct') or 0:.1e}):", ""]
        out += [tabulate([[f"[{r['a_from']}, {r['a_to']})", r["cases"], f"{r['median']:.3f}", f"{r['min']:.3f}",
                           f"{r['max']:.3f}"] for r in rows],
                         headers=["step a", "cases", "median", "min", "max"], tablefmt="github"), ""]
    return out
