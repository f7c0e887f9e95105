"""Pictures: energy per depth with quantile bands (matplotlib, extra `plots`), a text sparkline without."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float]) -> str:
    """One character per value, low to high."""
    low, high = min(values), max(values)
    span = high - low
    if span <= 0:
        return BARS[0] * len(values)
    return "".join(BARS[min(int((v - low) / span * len(BARS)), len(BARS) - 1)] for v in values)


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def plot_bands(panels: Mapping[str, Mapping[str, Any]], path: Path, caption: str, ylabel: str) -> Path | None:
    """One column per panel: on top the median and the 25-75% and 5-95% bands of a quantity per
    sublayer (`quantiles`: p5, p25, p50, p75, p95 lists), with the layers where any trajectory rose
    marked; below, the share of trajectories rising across each layer (`rising_share`). None
    without matplotlib."""
    if not have_matplotlib():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(panels), figsize=(4.2 * len(panels), 5.6), squeeze=False, sharex=True,
                             gridspec_kw={"height_ratios": [3, 1.2]})
    for column, (title, panel) in enumerate(panels.items()):
        q = panel["quantiles"]
        x = list(range(len(q["p50"])))
        top, bottom = axes[0][column], axes[1][column]
        top.fill_between(x, q["p5"], q["p95"], alpha=0.2, color="tab:blue", label="5-95%")
        top.fill_between(x, q["p25"], q["p75"], alpha=0.4, color="tab:blue", label="25-75%")
        top.plot(x, q["p50"], color="tab:blue", linewidth=1.8, label="median")
        share = panel["rising_share"]
        ends = [2 * (k + 1) for k, s in enumerate(share) if s > 0]
        top.plot(ends, [q["p50"][e] for e in ends], "v", color="tab:red", markersize=5, label="a layer rose somewhere")
        top.set_yscale("symlog", linthresh=1e-3)
        top.set_title(title, fontsize=9)
        top.set_ylabel(ylabel, fontsize=8)
        top.legend(fontsize=7)
        bottom.bar([2 * (k + 1) - 1 for k in range(len(share))], share, width=1.6, color="tab:red")
        bottom.set_ylim(0, 1)
        bottom.set_ylabel("share rising", fontsize=8)
        bottom.set_xlabel("sublayers applied (attention, FFN alternating)", fontsize=8)
    fig.suptitle(caption, fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
