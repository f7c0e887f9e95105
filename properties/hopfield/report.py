"""What the report says about the HOPFIELD family: what each claim means, where it comes from, and after
how many cases the rare refutation was found (read from the report JSON alone)."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

READING = {
    "HOPFIELD-CCCP-DESCENT": "the update xi' = Y^T softmax(beta Y xi) (attention with the state as query, the "
    "patterns as keys and values) is a concave-convex procedure step: it never raises E_hop",
    "HOPFIELD-ENERGY-BOUNDS": "E_hop is bounded below by 0, and by 2 M^2 on the patterns' hull where the updates land",
    "HOPFIELD-BETA-MISMATCH": "with the update's beta three times the energy's, the step belongs to another energy "
    "and can raise this one (rarely)",
    "HOPFIELD-SELF-ATTN-GLOBAL": "self-attention, each token a state and a pattern at once, is no descent on the sum "
    "of the tokens' Hopfield energies: the patterns move with the step",
}


def section(data: dict[str, Any], report: dict[str, Any]) -> list[str]:
    claims = [c for c in report["claims"] if c["family"] == "HOPFIELD"]
    if not claims:
        return []
    out = ["## HOPFIELD: the modern Hopfield update as a CCCP step", "",
           "E_hop(xi) = -lse(beta, Y xi) + (1/2) xi^T xi + (1 / beta) log N + (1/2) M^2, the stored patterns the rows "
           "of Y, M = max_i ||y_i||; the update, batched over states R: softmax(beta R Y^T) Y.", ""]
    out += [tabulate([[c["id"], f"{c['verdict']} ({c['expected']})", c["evidence"], READING.get(c["id"], ""), c["source"]]
                      for c in claims], headers=["claim", "verdict (expected)", "evidence", "what it means", "source"],
                     tablefmt="github"), ""]
    for c in claims:
        if c["expected"] != "refuted":
            continue
        found = [f"{r['dtype']} on {r['device']}: after {r['cases']} cases ({_engines(r['engines'])}, {r['seconds']:.2f} s)"
                 for r in c["runs"] if r["verdict"] == "refuted"]
        if found:
            out += [f"- {c['id']} refuted " + "; ".join(found) + "."]
        else:
            out += [f"- {c['id']} was not refuted in {c['cases']} cases: the search missed it."]
    return out + [""]


def _engines(engines: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in engines.items()) or "no engine"
