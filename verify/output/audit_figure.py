"""The audit's figure: energy per depth on real text, with quantile bands over sentences (matplotlib,
extra `plots` or `audit`; None without it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from verify.output.plots import have_matplotlib


def plot_depth(depth: dict[str, Any], path: Path, title: str) -> Path | None:
    """Left: the model's energy at every state, median with 25-75 % and 10-90 % bands. Right: per layer,
    the share of sentences whose layer-own energy falls across its attention and its FFN sublayer."""
    if not have_matplotlib():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    states, total = depth["states"], depth["total"]
    x = list(range(len(states)))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1.6, 1]})
    left.fill_between(x, total["q10"], total["q90"], alpha=0.18, color="C0", label="10-90 % of sentences")
    left.fill_between(x, total["q25"], total["q75"], alpha=0.35, color="C0", label="25-75 %")
    left.plot(x, total["q50"], color="C0", linewidth=2, marker="o", markersize=3, label="median")
    left.set_xticks(x, states, rotation=60, fontsize=7)
    left.set_ylabel("mean over heads of E_att(W+) / n^2")
    left.set_title(title, fontsize=9)
    left.legend(fontsize=7)
    own = depth["own_layer"]
    n = depth["sentences"]
    layers = [r["layer"] for r in own]
    width = 0.38
    right.bar([l - width / 2 for l in layers], [r["attention_lowers"] / n for r in own], width, label="attention sublayer")
    right.bar([l + width / 2 for l in layers], [r["ffn_lowers"] / n for r in own], width, label="FFN sublayer")
    right.axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
    right.set_xticks(layers, [f"L{l}" for l in layers])
    right.set_ylim(0, 1.05)
    right.set_ylabel("share of sentences: own energy falls")
    right.set_title("each layer's own heads' energy across its sublayers", fontsize=9)
    right.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
