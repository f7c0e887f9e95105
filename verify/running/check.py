"""The researcher-facing checks: bring a layer and an energy, ask what holds.

    check_descent(step, energy)        is energy(step(Y)) <= energy(Y) for every Y?
    check_equivalence(f, g)            is f(Y) == g(Y) for every Y?
    check_gradient_step(step, energy)  is step(Y) == Y - t grad energy(Y) for one t?

`step`, `f`, `g` map an `(n, d)` token matrix to one of the same shape; `energy` maps it
to a scalar. Inputs come from `inputs` (a Hypothesis strategy of token matrices) or the
default `token_inputs()`. Each returns a `Verdict` with a shrunk counterexample and a
replay snippet. Tolerances come from `verify.numerics`: the dtype's epsilon times the
magnitude of the terms, estimated here from the sides and, for energies, from their
sensitivity to rounding of the input, sum |grad E(Y)| |Y| (autograd).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from hypothesis import strategies as st
from torch import Tensor

from verify.draw import Source, description
from verify.draw.regimes import tokens
from verify.engines.profiles import search_settings
from verify.engines.search import DEFAULT_SEED, falsify
from verify.model import validate
from verify.model.case import Case
from verify.model.tolerance import Slack, descent_slack, identity_slack, sensitivity, tolerance
from verify.model.verdict import Verdict

Step = Callable[[Tensor], Tensor]
Energy = Callable[[Tensor], Tensor]

DEFAULT_EXAMPLES = 200


@description
def _token_cases(src: Source, n: tuple[int, int], d: tuple[int, int]) -> Case:
    n_, d_ = src.size(*n), src.size(*d)
    return Case(Y=tokens(src, "free+coincident+heterogeneous", n_, d_))


def token_inputs(n: tuple[int, int] = (1, 5), d: tuple[int, int] = (1, 4)) -> st.SearchStrategy[Tensor]:
    """Default inputs: (n, d) float64 token matrices, free, nearly coincident, or with
    heterogeneous row norms (the regimes where descent claims tend to break)."""
    return _token_cases(n=n, d=d).strategy().map(lambda case: case.tensor("Y"))


def _as_input(Y: object, dtype: torch.dtype, device: torch.device) -> Tensor:
    if isinstance(Y, np.ndarray):
        Y = torch.from_numpy(np.array(Y, dtype=np.float64))  # host: the user's array, moved just below
    Y = validate.tokens("inputs", Y)
    return Y.to(dtype=dtype, device=device)


def _output(name: str, value: object, like: Tensor) -> Tensor:
    """A function's output: a tensor of `like`'s shape, dtype and device, or a clear error."""
    out = validate.tensor(f"{name}(Y)", value, min_ndim=0)
    if out.shape != like.shape:
        raise ValueError(f"{name}(Y) must have the shape of Y {tuple(like.shape)}, got {tuple(out.shape)}")
    validate.same_kind(Y=like, **{f"{name}(Y)": out})
    return out


def _energy_value(energy: Energy, Y: Tensor) -> Tensor:
    value = energy(Y)
    if not isinstance(value, Tensor) or value.numel() != 1:
        raise ValueError(f"energy(Y) must return a scalar tensor, got {type(value).__name__} "
                         f"{tuple(value.shape) if isinstance(value, Tensor) else ''}")
    if value.dtype != Y.dtype or value.device != Y.device:
        raise TypeError(f"energy(Y) returned {value.dtype} on {value.device} for Y of {Y.dtype} on {Y.device}")
    return value.reshape(())


def _gradient(energy: Energy, Y: Tensor) -> Tensor | None:
    """grad energy(Y) by autograd, or None when energy is not differentiable."""
    Z = Y.detach().clone().requires_grad_(True)
    try:
        value = _energy_value(energy, Z)
        (grad,) = torch.autograd.grad(value, Z)
    except RuntimeError:
        return None
    return grad


def _settings(max_examples: int | None) -> object:
    if max_examples is not None and (not isinstance(max_examples, int) or max_examples < 1):
        raise ValueError(f"max_examples must be a positive integer, got {max_examples!r}")
    return search_settings("quick", max_examples or DEFAULT_EXAMPLES)


def _replay(function: str, Y: Tensor, dtype: torch.dtype, device: torch.device) -> str:
    rows = Y.detach().cpu().to(torch.float64).tolist()
    return (
        f"verify.{function}(..., inputs=hypothesis.strategies.just(torch.tensor({rows!r}, "
        f"dtype=torch.float64)), dtype={str(dtype).removeprefix('torch.')!r}, device={str(device)!r})"
    )


def _strategy(inputs: st.SearchStrategy | None) -> st.SearchStrategy:
    if inputs is None:
        return token_inputs()
    if not isinstance(inputs, st.SearchStrategy):
        raise TypeError(f"inputs must be a Hypothesis strategy of (n, d) token matrices, got {type(inputs).__name__}")
    return inputs


def _arguments(dtype: object, device: object, **functions: object) -> tuple[torch.dtype, torch.device]:
    """Each named function is callable, and dtype and device name real ones; else a clear error."""
    for name, f in functions.items():
        if not callable(f):
            raise TypeError(f"{name} must be callable, got {type(f).__name__}")
    return validate.dtype("dtype", dtype), validate.device("device", device)


def _search(
    function: str, check: Callable[[object], Slack], inputs: st.SearchStrategy | None,
    max_examples: int | None, seed: int, dtype: torch.dtype, device: torch.device,
) -> Verdict:
    """Run one per-input check under the search engine, with this API's replay snippet."""
    return falsify(
        _strategy(inputs), check, settings=_settings(max_examples), seed=seed,
        replay=lambda Y: _replay(function, _as_input(Y, torch.float64, torch.device("cpu")), dtype, device),
    )


def check_descent(
    step: Step,
    energy: Energy,
    inputs: st.SearchStrategy | None = None,
    *,
    max_examples: int | None = None,
    dtype: str | torch.dtype = "float64",
    device: str | torch.device = "cpu",
    seed: int = DEFAULT_SEED,
) -> Verdict:
    """Does `energy(step(Y)) <= energy(Y)` hold for every drawn Y?

    Tolerance: eps(dtype) times (|E(Y)| + |E(step Y)| + sum |grad E| |step Y|).
    """
    dt, dev = _arguments(dtype, device, step=step, energy=energy)

    def check(Y0: object) -> Slack:
        Y = _as_input(Y0, dt, dev)
        Y1 = _output("step", step(Y), Y)
        before, after = _energy_value(energy, Y), _energy_value(energy, Y1)
        scale = abs(float(before)) + abs(float(after)) + float(sensitivity(energy, Y) + sensitivity(energy, Y1))
        return descent_slack(before, after, dtype=dt, scale=scale, n_terms=Y.numel())

    return _search("check_descent", check, inputs, max_examples, seed, dt, dev)


def check_equivalence(
    f: Step,
    g: Step,
    inputs: st.SearchStrategy | None = None,
    *,
    max_examples: int | None = None,
    dtype: str | torch.dtype = "float64",
    device: str | torch.device = "cpu",
    seed: int = DEFAULT_SEED,
) -> Verdict:
    """Is `f(Y) == g(Y)` entrywise for every drawn Y?

    Tolerance: eps(dtype) times the largest entry of f(Y), g(Y) and Y.
    """
    dt, dev = _arguments(dtype, device, f=f, g=g)

    def check(Y0: object) -> Slack:
        Y = _as_input(Y0, dt, dev)
        a, b = _output("f", f(Y), Y), _output("g", g(Y), Y)
        return identity_slack(a, b, scale=float(Y.abs().max()), n_terms=Y.numel())

    return _search("check_equivalence", check, inputs, max_examples, seed, dt, dev)


@dataclass(frozen=True)
class GradientStepVerdict(Verdict):
    """A Verdict on `step(Y) == Y - t grad E(Y)`, plus what the step implies.

    implied_step:      t fitted by least squares, -<step(Y) - Y, G> / <G, G>, median over cases
    step_spread:       max - min of the fitted t over cases (0 for a true gradient step)
    identity_residual: worst ||step(Y) - Y + t G|| / ||t G|| over cases
    descent_range:     (0, 2 / L) with L the largest |eigenvalue| of the Hessian of E seen
                       over the cases (a sampled estimate, not a certificate); None if the
                       Hessian could not be computed
    in_descent_range:  whether the implied t lies in it
    """

    implied_step: float = math.nan
    step_spread: float = math.nan
    identity_residual: float = math.nan
    descent_range: tuple[float, float] | None = None
    in_descent_range: bool | None = None


def _hessian_norm(energy: Energy, Y: Tensor) -> float | None:
    flat = Y.detach().reshape(-1).clone()
    try:
        H = torch.autograd.functional.hessian(lambda v: _energy_value(energy, v.reshape(Y.shape)), flat)
    except RuntimeError:
        return None
    H = (H + H.mT) / 2
    return float(torch.linalg.eigvalsh(H).abs().max())


def check_gradient_step(
    step: Step,
    energy: Energy,
    inputs: st.SearchStrategy | None = None,
    *,
    step_size: float | None = None,
    max_examples: int | None = None,
    dtype: str | torch.dtype = "float64",
    device: str | torch.device = "cpu",
    seed: int = DEFAULT_SEED,
) -> GradientStepVerdict:
    """Is `step(Y) == Y - t grad energy(Y)` for a single step size t?

    Per case: G = grad E(Y) (autograd), t_Y fitted by least squares (or the given
    `step_size`), and the identity step(Y) - Y == -t_Y G judged with the dtype's tolerance.
    Across cases the fitted t must agree (within tolerance); a layer that is a gradient
    step with a different t at every input is not a gradient step.
    """
    dt, dev = _arguments(dtype, device, step=step, energy=energy)
    if step_size is not None:
        step_size = validate.scalar("step_size", step_size)
    fitted: list[tuple[float, float, Tensor]] = []
    residuals: list[float] = []
    curvature: list[float | None] = []

    def check(Y0: object) -> Slack:
        Y = _as_input(Y0, dt, dev)
        move = _output("step", step(Y), Y) - Y
        G = _gradient(energy, Y)
        if G is None:
            raise ValueError("energy must be differentiable by autograd for check_gradient_step")
        gg = float((G * G).sum())
        scale = float(Y.abs().max() + move.abs().max())
        if gg <= tolerance(dt, float(G.abs().max()) + 1e-300, G.numel()) ** 2:
            return identity_slack(move, torch.zeros_like(move), scale=scale, n_terms=Y.numel())
        t = step_size if step_size is not None else -float((move * G).sum()) / gg
        fitted.append((t, tolerance(dt, scale, Y.numel()) / math.sqrt(gg), Y.detach().cpu()))
        curvature.append(_hessian_norm(energy, Y))
        residuals.append(float(torch.linalg.vector_norm(move + t * G)) / max(abs(t) * math.sqrt(gg), 1e-300))
        return identity_slack(move, -t * G, scale=scale + abs(t) * float(G.abs().max()), n_terms=Y.numel())

    base = _search("check_gradient_step", check, inputs, max_examples, seed, dt, dev)
    fields = dict(base.__dict__)
    if not fitted or base.counterexample is not None:
        return GradientStepVerdict(**fields)

    steps = np.array([t for t, _, _ in fitted])
    implied = float(np.median(steps))
    spread = float(steps.max() - steps.min())
    allowed = max(tol for _, tol, _ in fitted) * 2
    if spread > allowed:
        far = int(np.argmax(np.abs(steps - implied)))
        fields.update(
            holds=False, counterexample=fitted[far][2],
            note=f"the fitted step varies across inputs: {steps.min():.6g} to {steps.max():.6g} "
            f"(spread {spread:.3g} > tolerance {allowed:.3g}); counterexample: the input farthest from the median",
        )
    known = [c for c in curvature if c is not None]
    descent_range = (0.0, 2.0 / max(known)) if known and len(known) == len(curvature) and max(known) > 0 else None
    if known and max(known) == 0:
        descent_range = (0.0, math.inf)
    return GradientStepVerdict(
        **fields,
        implied_step=implied,
        step_spread=spread,
        identity_residual=max(residuals),
        descent_range=descent_range,
        in_descent_range=None if descent_range is None else bool(descent_range[0] < implied < descent_range[1]),
    )
