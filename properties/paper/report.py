"""What the report says about the PAPER family: the energy curves and how often layers rose.

extras(seed)              computed at the end of a run (the running layer calls it): curves and rates
figures(data, folder)     the energy-curve picture, where matplotlib is installed
section(data, report)     markdown, from the JSON alone
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tabulate import tabulate

from properties.paper.curves import paper_model, raise_rates, reference_model
from verify.output.plots import plot_curves, sparkline

CURVES_PNG = "energy_curves.png"
RATE_NAMES = {
    "attention_sublayer": "attention sublayer raised its own energy",
    "ffn_sublayer": "FFN sublayer raised its own energy",
    "layer_total": "a layer raised the total energy",
    "trajectories_with_a_rising_layer": "trajectories with some rising layer",
    "final_below_start": "total after 12 layers below the start",
}


def extras(seed: int) -> dict[str, Any]:
    """Energy per depth of three 12-layer models on synthetic inputs (64 samples, n = 16, d = 8),
    and how often their layers raised an energy."""
    models = {
        "weight-shared model meeting the ATT and FF assumptions": reference_model(seed),
        "the paper's experiment model": paper_model(seed, corrected=False),
        "the paper's model, corrected attention (D + I)^-1 B Y": paper_model(seed, corrected=True),
    }
    return {"curves": {k: v.as_lists() for k, v in models.items()}, "rates": {k: raise_rates(v) for k, v in models.items()}}


def figures(data: dict[str, Any], folder: Path) -> dict[str, str]:
    picture = plot_curves(data["curves"], folder / CURVES_PNG)
    return {"energy curves": picture.name} if picture else {}


def section(data: dict[str, Any], report: dict[str, Any]) -> list[str]:
    claims = [c for c in report["claims"] if c["family"] == "PAPER"]
    out = _curves(data)
    if claims:
        out += ["## The paper's experiment model", "",
                "Its energies and forward pass, implemented from the formulas (never from its code). What fails, "
                "and the fix:", ""]
        for c in claims:
            out += [f"- **{c['id']}** ({c['verdict']}, expected {c['expected']}): {c['statement']}."
                    + (f" {c['explanation']}" if c["explanation"] else "")]
        out += [""]
    rates = data.get("rates") or {}
    if rates:
        names = list(rates)
        rows = [[RATE_NAMES.get(k, k), *[f"{rates[m][k]:.1%}" for m in names]] for k in rates[names[0]]]
        out += ["How often, over 64 inputs x 12 layers:", ""]
        out += [tabulate(rows, headers=["", *names], tablefmt="github"), ""]
    return out


def _curves(data: dict[str, Any]) -> list[str]:
    curves = data.get("curves") or {}
    if not curves:
        return []
    out = ["## Energy curves", "",
           "Energy per sublayer (attention and FFN alternating, 12 layers, weights shared across depth), batch mean "
           "over 64 synthetic inputs (n = 16, d = 8): the set-up of the paper's Figure 5. Each sublayer's descent "
           "on its own energy is asserted (LAYER-ENERGY-CURVE); the total is shown, not asserted.", ""]
    picture = (data.get("figures") or {}).get("energy curves")
    if picture:
        out += [f"![energy curves]({picture})", ""]
    else:
        out += ["(matplotlib is not installed: sparklines only; `pip install -e .[plots]` for the picture)", ""]
    rows = []
    for model, series in curves.items():
        for name, values in series.items():
            rows.append([model, name, sparkline(values), f"{values[0]:.4g}", f"{values[-1]:.4g}"])
    out += [tabulate(rows, headers=["model", "energy", "per sublayer", "start", "end"], tablefmt="github"), ""]
    return out
