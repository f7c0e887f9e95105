"""What the report says about the PAPER family: the paper model over many weight draws and input
scales (rates with their spread), the energy-curve figure, and the set-up the authors' figure used.

extras(seed)              computed at the end of a run (the running layer calls it)
findings(data, report)    sentences for the report's findings, numbers from `data`
figures(data, folder)     the energy-curve picture, where matplotlib is installed
section(data, report)     the family's chapter head, from the JSON alone
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tabulate import tabulate

from properties.paper.curves import DEPTH, DRAWS, INPUTS, MODELS, RATE_NAMES, SCALES, D, N, bands, model_curve, rates_per_draw, summary
from verify.output.plots import plot_bands

CURVES_PNG = "energy_curves.png"
TITLES = {
    "reference": "weight-shared model meeting the ATT and FF assumptions",
    "paper": "the paper's model (its attention forward)",
    "symmetric V": "the paper's model with V symmetric",
    "corrected": "the paper's model, attention (D + I)^-1 B Y",
}
AUTHORS = (
    "The authors' figures (README: Figures 5 and 6, energy_curve/main.py at f0c75d0): one layer applied 12 times "
    "(weights shared), untrained, float32; 200 random IMDB test reviews, whole, embedded with fastNLP's "
    "StaticEmbedding('en') (the code calls it word2vec; in fastNLP's table 'en' is GloVe 840B, d = 300); the total "
    "energy after each full layer, minus its minimum, as a mean line and box plots over the reviews. Their "
    "'relu' models are built without relu=True, so no figure has a ReLU, and paint() loads IMDB for the SST-2 "
    "figures too. train.py, which trains the model with the ReLU, was added in 2023.")


def extras(seed: int) -> dict[str, Any]:
    """Rates over DRAWS weight draws at each input scale, and the bands of the total energy (scale 1)."""
    rates: dict[str, dict[str, dict[str, dict[str, float]]]] = {m: {} for m in MODELS}
    curves: dict[str, Any] = {}
    for model in MODELS:
        for scale in SCALES:
            curve = model_curve(model, seed, scale)
            rates[model][str(scale)] = {k: summary(v) for k, v in rates_per_draw(curve).items()}
            if scale == 1.0:
                curves[model] = bands(curve)
    return {"setup": {"seed": seed, "draws": DRAWS, "inputs": INPUTS, "n": N, "d": D, "depth": DEPTH, "scales": list(SCALES)},
            "rates": rates, "curves": curves}


def _range(r: dict[str, float]) -> str:
    return f"{r['median']:.1%} (5-95% over draws: {r['p5']:.1%}-{r['p95']:.1%})"


def findings(data: dict[str, Any], report: dict[str, Any]) -> list[str]:
    rates, setup = data.get("rates"), data.get("setup")
    if not rates:
        return []
    at = {s: rates["paper"][str(s)]["attention_sublayer"] for s in setup["scales"]}
    return [f"- Over {setup['draws']} weight draws ({setup['inputs']} inputs each, n = {setup['n']}, d = {setup['d']}, "
            f"{setup['depth']} layers), the paper's attention forward raised its own energy in a median "
            + "; ".join(f"{_range(r)} of layer steps at input scale {s}" for s, r in at.items())
            + f". With V symmetric (scale 1): {_range(rates['symmetric V']['1.0']['attention_sublayer'])}. "
            f"The corrected step: {_range(rates['corrected']['1.0']['attention_sublayer'])}. "
            "Inputs with some layer raising the total (scale 1): paper "
            f"{_range(rates['paper']['1.0']['trajectories_with_a_rising_layer'])}, "
            f"reference {_range(rates['reference']['1.0']['trajectories_with_a_rising_layer'])}."]


def figures(data: dict[str, Any], folder: Path) -> dict[str, str]:
    setup = data["setup"]
    caption = (f"Total energy relative to the start, (E_k - E_0) / |E_0|, per sublayer: median and quantile bands over "
               f"{setup['draws']} weight draws x {setup['inputs']} inputs (n = {setup['n']}, d = {setup['d']}, standard normal "
               f"inputs, scale 1, seed {setup['seed']}); below, the share of inputs whose total rose across each layer.")
    picture = plot_bands({TITLES[m]: c for m, c in data["curves"].items()}, folder / CURVES_PNG, caption,
                         "(E_k - E_0) / |E_0| (symlog)")
    return {"energy curves": picture.name} if picture else {}


def section(data: dict[str, Any], report: dict[str, Any]) -> list[str]:
    out = ["The paper model is rebuilt from its formulas (never from its code). " + AUTHORS, ""]
    setup, rates = data.get("setup"), data.get("rates")
    if not setup:
        return out
    out += [f"This run's set-up: synthetic standard normal inputs (n = {setup['n']}, d = {setup['d']}) scaled by "
            f"{', '.join(str(s) for s in setup['scales'])}; {setup['draws']} weight draws x {setup['inputs']} inputs per "
            f"model and scale; {setup['depth']} weight-shared layers; float64; seed {setup['seed']}. Rates over the draws "
            "(median, and the 5-95% range between draws):", ""]
    for scale in setup["scales"]:
        rows = [[RATE_NAMES[k], *[_range(rates[m][str(scale)][k]) for m in MODELS]] for k in RATE_NAMES]
        out += [f"Input scale {scale}:", "", tabulate(rows, headers=["", *[TITLES[m] for m in MODELS]], tablefmt="github"), ""]
    picture = (data.get("figures") or {}).get("energy curves")
    if picture:
        out += [f"![energy curves]({picture})", "",
                f"*Figure: the total energy relative to the start per sublayer, median and 25-75% / 5-95% bands over "
                f"{setup['draws']} draws x {setup['inputs']} inputs (scale 1, seed {setup['seed']}); triangles mark layers "
                "where some input's total rose; below, the share of inputs rising across each layer.*", ""]
    else:
        rows = [[TITLES[m], f"{c['quantiles']['p50'][-1]:+.3g}", f"{max(c['rising_share']):.1%}"] for m, c in data["curves"].items()]
        out += ["(matplotlib is not installed: `pip install -e .[plots]` for the figure.) Median relative change of the "
                "total after 12 layers, and the largest share of inputs rising across one layer:", "",
                tabulate(rows, headers=["model", "median (E_12 - E_0) / |E_0|", "most rising at one layer"], tablefmt="github"), ""]
    return out

