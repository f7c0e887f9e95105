"""A `Case`: one drawn instance of a claim, named tensors and scalars.

Descriptions draw cases in float64; a check receives `case.to(dtype, device)`. A batch of
cases is a `Case` too: every tensor with a leading batch dimension, a scalar parameter a
`(B,)` tensor, names (`rho`, `norm`) shared by the batch. Cases round-trip through JSON in
full precision (Python floats print exactly), which is what `python -m verify replay` reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

Field = Tensor | float | int | str


class Case(Mapping[str, Field]):
    """An immutable mapping of field names to tensors, numbers and names."""

    __slots__ = ("_fields",)

    def __init__(self, **fields: Any) -> None:
        converted: dict[str, Field] = {}
        for name, value in fields.items():
            if isinstance(value, np.ndarray):
                value = torch.from_numpy(np.array(value, dtype=np.float64))  # host: a case as given
            elif isinstance(value, (np.floating, np.integer)):
                value = value.item()
            converted[name] = value
        self._fields = converted

    def __getitem__(self, name: str) -> Field:
        return self._fields[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def tensor(self, name: str) -> Tensor:
        value = self._fields[name]
        assert isinstance(value, Tensor), f"case field {name} is not a tensor"
        return value

    def number(self, name: str) -> float:
        value = self._fields[name]
        assert isinstance(value, (int, float)), f"case field {name} is not a number"
        return float(value)

    @property
    def size(self) -> int:
        """The batch size (leading dimension of the tensors) of a batch of cases."""
        like = next((v for v in self._fields.values() if isinstance(v, Tensor)), None)
        if like is None or like.ndim == 0:
            raise ValueError("a batch of cases needs at least one tensor field with a batch dimension")
        return like.shape[0]

    @property
    def device(self) -> torch.device:
        """Where the tensors are (the CPU for a case without tensors)."""
        like = next((v for v in self._fields.values() if isinstance(v, Tensor)), None)
        return like.device if like is not None else torch.device("cpu")

    def to(self, dtype: torch.dtype, device: torch.device | str = "cpu") -> Case:
        """The same case with every tensor in `dtype` on `device`."""
        return Case(**{
            k: v.to(dtype=dtype, device=device) if isinstance(v, Tensor) else v
            for k, v in self._fields.items()
        })

    def batch(self) -> Case:
        """This case as a batch of one, the form the batched checks take: tensors get a
        leading dimension of 1, floats become (1,) tensors of the case's dtype, names and
        integers stay."""
        like = next((v for v in self._fields.values() if isinstance(v, Tensor)), None)
        dtype = like.dtype if like is not None else torch.float64
        device = like.device if like is not None else "cpu"
        return Case(**{
            k: v[None] if isinstance(v, Tensor)
            else torch.tensor([v], dtype=dtype, device=device) if isinstance(v, float)
            else v
            for k, v in self._fields.items()
        })

    def take(self, index: slice | Tensor) -> Case:
        """The cases `index` of a batch, still a batch."""
        return Case(**{k: v[index] if isinstance(v, Tensor) else v for k, v in self._fields.items()})

    def unbatch(self, k: int) -> Case:
        """Case k of a batch (inverse of `batch`): a (B,) tensor becomes a float."""
        return Case(**{
            key: (float(v[k]) if v.ndim == 1 else v[k].clone()) if isinstance(v, Tensor) else v
            for key, v in self._fields.items()
        })

    def to_json(self) -> dict[str, Any]:
        """Full-precision JSON form: tensors as nested lists of float64."""
        return {
            k: {"tensor": v.detach().to("cpu", torch.float64).tolist()} if isinstance(v, Tensor) else v
            for k, v in self._fields.items()
        }

    @staticmethod
    def from_json(data: Mapping[str, Any] | str) -> Case:
        """Inverse of `to_json` (accepts the JSON text too)."""
        if isinstance(data, str):
            data = json.loads(data)
        if not isinstance(data, Mapping):
            raise ValueError("case must be a JSON object mapping field names to values")
        fields = {
            k: torch.tensor(v["tensor"], dtype=torch.float64) if isinstance(v, Mapping) else v  # host: a case as stored
            for k, v in data.items()
        }
        return Case(**fields)

    def __repr__(self) -> str:
        parts = []
        for k, v in self._fields.items():
            if isinstance(v, Tensor):
                parts.append(f"{k}={np.array2string(v.detach().cpu().numpy(), precision=4, separator=',')}")
            else:
                parts.append(f"{k}={v!r}")
        return "Case(" + ", ".join(parts).replace("\n", "") + ")"
