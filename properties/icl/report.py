"""What the report says about the ICL family: what each claim means, where it comes from, and what the
eigenvalue certificates computed (read from the report JSON alone)."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

READING = {
    "ICL-GD-STEP": "one linear self-attention layer, built from Wq, Wk, Wv, Wo by von Oswald et al.'s construction, "
    "writes one preconditioned GD step's predictions into the y-slots",
    "ICL-LOOPED-GD": "looping that layer k times runs k GD steps; from the second layer on this needs the mask "
    "(the query's slot would otherwise feed back as a value)",
    "ICL-DESCENT": "so a layer is a descent step on E_icl, the in-context loss read off the tokens, when "
    "Gamma is symmetric PSD and eta lmax(K) <= 2",
    "ICL-RATE": "and the loss above its floor L_inf shrinks at least by rho^2 per layer",
}
NOT_NEEDED = {
    ("ICL-RATE", "0 <= eta lmax(K) <= 2"): "the bound rho^{2k} (L(W_0) - L_inf) holds for every eta (it is exact on K's "
    "eigenvectors); the step bound only makes rho <= 1, so that it is a rate",
    ("ICL-GD-STEP", "the query is no key (mask)"): "for one layer the query's value -eta u is 0 (u starts at 0)",
}


def section(data: dict[str, Any], report: dict[str, Any]) -> list[str]:
    claims = [c for c in report["claims"] if c["family"] == "ICL"]
    if not claims:
        return []
    out = ["## ICL: linear self-attention as gradient descent in context", "",
           "Tokens Z = [[X, Y], [x_q, 0]] ((N + 1) x (dx + dy)); the layer is computed from its four weight matrices "
           "and the mask, the GD step W' = W + (eta / N) sum_i (y_i - W x_i) x_i^T Gamma^T separately, and their "
           "equality is checked. K = X Gamma X^T / N: the layer maps the residuals R to (I - eta K) R.", ""]
    out += [tabulate([[c["id"], f"{c['verdict']} ({c['expected']})", c["evidence"], READING.get(c["id"], ""), c["source"]]
                      for c in claims], headers=["claim", "verdict (expected)", "evidence", "what it means", "source"],
                     tablefmt="github"), ""]
    notes = [f"- {c['id']} without \"{a['name']}\": not needed in {a['cases']} cases, as expected: {NOT_NEEDED[c['id'], a['name']]}"
             for c in claims for a in c["assumptions"] if a["status"] == "not needed" and (c["id"], a["name"]) in NOT_NEEDED]
    out += notes + ([""] if notes else [])
    for c in claims:
        certificate = c.get("certificate") or {}
        if certificate.get("cases"):
            out += [f"{c['id']}'s certificates computed, over {certificate['cases']} drawn (X, Gamma, eta): eta lmax(K) up to "
                    f"{_number(certificate.get('max eta lmax(K)'))}, rho up to {_number(certificate.get('max rho'))}, "
                    f"lmin(Gamma) down to {_number(certificate.get('min lmin(Gamma)'))}, eigenvalue rounding bound up to "
                    f"{_number(certificate.get('max eigenvalue error(K)'))}.", ""]
    return out


def _number(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"
