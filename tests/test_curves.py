"""energy_curve for any model, the paper-model curves over many draws, and their pictures."""

import pytest
import torch

import verify
from properties.paper.curves import bands, model_curve, rates_per_draw, summary
from verify.math.attention import attention_energy, attention_step
from verify.output.plots import plot_bands, sparkline

W = torch.eye(2, dtype=torch.float64)


def test_energy_curve_records_every_energy_after_every_sublayer():
    Y = torch.randn(4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    curve = verify.energy_curve(
        [lambda Z: attention_step(Z, W, 1.0)] * 3,
        {"attention": lambda Z: attention_energy(Z, W), "norm2": lambda Z: (Z * Z).sum()},
        Y,
    )
    att = curve.values["attention"]
    assert att.shape == (4,)
    assert float(att[0]) == pytest.approx(float(attention_energy(Y, W)))
    assert all(float(att[k + 1]) <= float(att[k]) + 1e-12 for k in range(3))
    lists = curve.as_lists()
    assert set(lists) == {"attention", "norm2", "total"} and len(lists["total"]) == 4


@pytest.mark.parametrize(
    ("layers", "energies", "inputs", "words"),
    [
        ([], {"e": lambda Z: Z.sum()}, torch.ones(2, 2), "layers must hold"),
        ([lambda Z: Z], {}, torch.ones(2, 2), "energies must name"),
        (["not callable"], {"e": lambda Z: Z.sum()}, torch.ones(2, 2), "layers[0] must be callable"),
        ([lambda Z: Z[:1]], {"e": lambda Z: Z.sum()}, torch.ones(2, 2), "layers[0] must map"),
        ([lambda Z: Z], {"e": lambda Z: Z.sum()}, torch.tensor([[float("nan")]]), "inputs contains NaN"),
    ],
)
def test_energy_curve_bad_input(layers, energies, inputs, words):
    with pytest.raises((ValueError, TypeError)) as info:
        verify.energy_curve(layers, energies, inputs)
    assert words in str(info.value)


def test_paper_model_rates_over_draws():
    """The reference model and the corrected step never raise their own energies (ATT-DESCENT, FF-DESCENT,
    PAPER-ATTN-FIXED); the paper's attention forward does, in some draw."""
    reference = rates_per_draw(model_curve("reference", 1, 1.0, draws=4, inputs=8))
    assert float(reference["attention_sublayer"].max()) == 0.0 and float(reference["ffn_sublayer"].max()) == 0.0
    corrected = rates_per_draw(model_curve("corrected", 1, 1.0, draws=4, inputs=8))
    assert float(corrected["attention_sublayer"].max()) == 0.0 and float(corrected["ffn_sublayer"].max()) == 0.0
    paper = rates_per_draw(model_curve("paper", 1, 2.0, draws=8, inputs=16))
    assert float(paper["attention_sublayer"].max()) > 0.0
    s = summary(torch.tensor([0.0, 0.1, 0.2, 0.3], dtype=torch.float64))
    assert s["p5"] <= s["median"] <= s["p95"] and s["median"] == pytest.approx(0.15)


def test_bands_are_ordered_and_start_at_zero():
    b = bands(model_curve("paper", 2, 1.0, draws=4, inputs=8))
    q = b["quantiles"]
    assert all(q["p5"][k] <= q["p25"][k] <= q["p50"][k] <= q["p75"][k] <= q["p95"][k] for k in range(len(q["p50"])))
    assert q["p50"][0] == 0.0 and len(b["rising_share"]) == 12


def test_sparkline_and_plot(tmp_path):
    assert sparkline([3.0, 2.0, 1.0, 1.0]) == "█▅▁▁"
    assert sparkline([1.0, 1.0]) == "▁▁"
    pytest.importorskip("matplotlib")
    panel = bands(model_curve("reference", 1, 1.0, draws=2, inputs=4))
    path = plot_bands({"model": panel}, tmp_path / "c.png", "caption", "energy")
    assert path is not None and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
