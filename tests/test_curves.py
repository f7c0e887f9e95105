"""energy_curve for any model, the reference curves, and their pictures."""

import pytest
import torch

import verify
from properties.paper.curves import paper_model, raise_rates, reference_model
from verify.math.attention import attention_energy, attention_step
from verify.output.plots import plot_curves, sparkline

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


def test_reference_and_paper_models():
    assert raise_rates(reference_model(1))["attention_sublayer"] == 0.0
    assert raise_rates(reference_model(1))["ffn_sublayer"] == 0.0
    paper, corrected = raise_rates(paper_model(1, corrected=False)), raise_rates(paper_model(1, corrected=True))
    assert paper["attention_sublayer"] > 0.0, "the paper's attention forward raises its energy somewhere"
    assert corrected["attention_sublayer"] == 0.0 and corrected["ffn_sublayer"] == 0.0


def test_sparkline_and_plot(tmp_path):
    assert sparkline([3.0, 2.0, 1.0, 1.0]) == "█▅▁▁"
    assert sparkline([1.0, 1.0]) == "▁▁"
    pytest.importorskip("matplotlib")
    path = plot_curves({"model": reference_model(1, batch=4, depth=3).as_lists()}, tmp_path / "c.png")
    assert path is not None and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
