"""Energy per depth: `energy_curve` for any model.

    energy_curve(layers, energies, inputs)
        layers:   the sublayers in the order they are applied, each Tensor -> Tensor
        energies: {name: energy}, each Tensor -> scalar (or batched (...,) ) Tensor
        inputs:   the input token matrix (n, d) or a batch (..., n, d)
    -> EnergyCurve with values[name][k] = energy after k sublayers (k = 0 is the input).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from verify.model import validate


@dataclass(frozen=True)
class EnergyCurve:
    """values[name]: (len(layers) + 1, *batch) energies along the forward pass."""

    values: dict[str, Tensor]

    @property
    def total(self) -> Tensor:
        return torch.stack(list(self.values.values())).sum(0)

    def as_lists(self) -> dict[str, list[float]]:
        """Batch means per depth, with the total, for reports and plots."""
        out = {name: v.reshape(v.shape[0], -1).mean(-1).tolist() for name, v in self.values.items()}
        out["total"] = self.total.reshape(self.total.shape[0], -1).mean(-1).tolist()
        return out


def energy_curve(
    layers: Sequence[Callable[[Tensor], Tensor]], energies: Mapping[str, Callable[[Tensor], Tensor]], inputs: Tensor
) -> EnergyCurve:
    """Every energy after every sublayer, starting from the input."""
    if not layers:
        raise ValueError("layers must hold at least one sublayer")
    if not energies:
        raise ValueError("energies must name at least one energy")
    for i, layer in enumerate(layers):
        if not callable(layer):
            raise TypeError(f"layers[{i}] must be callable, got {type(layer).__name__}")
    Y = validate.tokens("inputs", inputs)
    states = [Y]
    for i, layer in enumerate(layers):
        Y = layer(Y)
        if not isinstance(Y, Tensor) or Y.shape != states[0].shape:
            raise ValueError(f"layers[{i}] must map {tuple(states[0].shape)} to the same shape, got "
                             f"{tuple(Y.shape) if isinstance(Y, Tensor) else type(Y).__name__}")
        states.append(Y)
    return EnergyCurve({name: torch.stack([energy(S) for S in states]) for name, energy in energies.items()})
