"""Pictures of energy curves: a PNG with matplotlib (extra `plots`), a text sparkline without."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

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


def plot_curves(curves: Mapping[str, Mapping[str, Sequence[float]]], path: Path) -> Path | None:
    """One panel per model, one line per energy against the sublayer index; None without matplotlib."""
    if not have_matplotlib():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 3.6), squeeze=False)
    for ax, (title, series) in zip(axes[0], curves.items(), strict=True):
        for name, values in series.items():
            ax.plot(range(len(values)), values, label=name, linewidth=2 if name == "total" else 1)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("sublayers applied (attention, FFN alternating)")
        ax.set_ylabel("energy (batch mean)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
