"""Input checks: bad input gets an error that names the argument and what was wrong."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def tensor(name: str, x: object, *, min_ndim: int = 2) -> Tensor:
    """A finite floating tensor of rank >= `min_ndim`, or a TypeError/ValueError naming `name`."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {x.dtype}")
    if x.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        bad = "NaN" if bool(torch.isnan(x).any()) else "Inf"
        raise ValueError(f"{name} contains {bad}")
    return x


def tokens(name: str, Y: object) -> Tensor:
    """A token matrix `(..., n, d)` with n >= 1 and d >= 1."""
    Y = tensor(name, Y)
    if Y.shape[-1] < 1 or Y.shape[-2] < 1:
        raise ValueError(f"{name} must be (..., n, d) with n, d >= 1, got shape {tuple(Y.shape)}")
    return Y


def square(name: str, W: object, d: int) -> Tensor:
    """A `(..., d, d)` matrix."""
    W = tensor(name, W)
    if W.shape[-2:] != (d, d):
        raise ValueError(f"{name} must be ({d}, {d}) to act on {d}-dimensional tokens, got shape {tuple(W.shape)}")
    return W


def vector(name: str, b: object, d: int) -> Tensor:
    """A `(..., d)` vector."""
    b = tensor(name, b, min_ndim=1)
    if b.shape[-1] != d:
        raise ValueError(f"{name} must have last dimension {d}, got shape {tuple(b.shape)}")
    return b


def scalar(name: str, x: object, *, low: float = -math.inf, high: float = math.inf) -> float:
    """A finite real number in [low, high]."""
    if isinstance(x, Tensor):
        if x.numel() != 1:
            raise ValueError(f"{name} must be a scalar, got shape {tuple(x.shape)}")
        x = float(x)
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__}")
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite, got {x}")
    if not low <= x <= high:
        raise ValueError(f"{name} must lie in [{low}, {high}], got {x}")
    return x


def same_kind(**tensors: Tensor) -> None:
    """All tensors share one dtype and one device; else a TypeError naming both arguments."""
    items = list(tensors.items())
    first_name, first = items[0]
    for name, x in items[1:]:
        if x.dtype != first.dtype:
            raise TypeError(f"{name} has dtype {x.dtype} but {first_name} has {first.dtype}")
        if x.device != first.device:
            raise TypeError(f"{name} is on {x.device} but {first_name} is on {first.device}")


def dtype(name: str, value: object) -> torch.dtype:
    """`"float64"`, `"float32"` (or the torch dtypes) to a torch dtype."""
    if isinstance(value, torch.dtype) and value.is_floating_point:
        return value
    if isinstance(value, str) and isinstance(getattr(torch, value, None), torch.dtype):
        dt = getattr(torch, value)
        if dt.is_floating_point:
            return dt
    raise TypeError(f"{name} must be a floating dtype such as 'float64' or 'float32', got {value!r}")


def device(name: str, value: object) -> torch.device:
    """A torch device that exists here."""
    try:
        dev = torch.device(value)  # type: ignore[arg-type]
    except (RuntimeError, TypeError) as err:
        raise TypeError(f"{name} must name a torch device such as 'cpu' or 'cuda', got {value!r}") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name} is {value!r} but CUDA is not available on this machine")
    return dev


def tokens_with(Y: object, **matrices: object) -> None:
    """Y is a token matrix (..., n, d) and each named matrix acts on its d features, same dtype and device."""
    Y = tokens("Y", Y)
    d = Y.shape[-1]
    checked = {"Y": Y}
    for name, M in matrices.items():
        if name == "b":
            checked[name] = vector(name, M, d)
        else:
            checked[name] = square(name, M, d)
    same_kind(**checked)
