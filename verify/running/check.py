"""The researcher-facing checks: bring a layer and an energy, ask what holds.

    check_descent(step, energy)        is energy(step(Y)) <= energy(Y) for every case?
    check_equivalence(f, g)            is f(Y) == g(Y) for every case?
    check_gradient_step(step, energy)  is step(Y) == Y - t grad energy(Y) for one t?

`step`, `f`, `g` map an `(n, d)` token matrix `Y` to one of the same shape, `energy` maps it to a
scalar; weights drawn with the inputs come as keyword arguments (`step(Y, W=..., a=...)`) from
`cases=verify.draw.cases(Y=..., W=..., a=...)`. Without `cases`, `inputs` may be a Hypothesis
strategy of token matrices (opaque to the sweep), and without either the default is
`verify.draw.cases()`: token matrices across scales and regimes, small sizes.

A search, within a time budget (about 2 s by default):
1. the sweep: thousands of drawn cases per call, the functions vectorised (called on a batch
   when they are batched over leading dimensions, else through torch.func.vmap, else a loop;
   the verdict says which);
2. the gradient climb from the cases nearest to failing, projected onto the cases' domain;
3. Hypothesis, `target`ing the violation, for structure and shrinking;
then the failing case is shrunk. Tolerances come from verify.model.tolerance: the dtype's
epsilon times the magnitude of the terms, for energies their sensitivity to rounding of the
input, sum |grad E(Y)| |Y| (autograd).

An exception raised by the user's function on a case is the user's error: it is raised
(`UserCodeError`, chained, naming the case), unless its type is in `domain_errors` (then the case
is undecided and counted) or a real counterexample was found on another case (then the verdict is
refuted and its note names the error).
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st
from torch import Tensor

from verify.draw import Description
from verify.draw.fields import CaseDescription
from verify.draw.fields import cases as default_cases
from verify.engines.climb import climb
from verify.engines.profiles import search_settings
from verify.engines.search import DEFAULT_SEED, falsify
from verify.engines.shrink import simplest
from verify.engines.sweep import batch_seed
from verify.model import validate
from verify.model.case import Case
from verify.model.tolerance import Slack, Slacks, descent_slacks, identity_slacks, stack_slacks, tolerance
from verify.model.verdict import Verdict, combine

Step = Callable[..., Tensor]
Energy = Callable[..., Tensor]

DEFAULT_SECONDS = 2.0
SWEEP_SHARE, CLIMB_SHARE = 0.55, 0.15  # of the budget; Hypothesis takes the rest
BATCH = 1024  # cases per sweep batch (fewer for large cases)
FRONTIER, CLIMB_STEPS = 32, 100  # cases the climb starts from, and its most steps
HYPOTHESIS_OVERHEAD = 1.5e-3  # seconds Hypothesis spends per case beyond the call (drawing, targeting)
SHRINK_SECONDS = 5.0
MAX_HYPOTHESIS = 1000  # Hypothesis's cases in a fixed-size search (max_examples)
NOISE_PROBES, NOISE_FACTOR = 4, 2.0  # re-evaluations of a failing case at perturbed inputs; the margin over their spread
MIN_INFORMATIVE = 20  # fewer informative cases than this and the verdict warns


class UserCodeError(Exception):
    """The user's step, energy or layer raised on a case, or returned what the check cannot use (a
    wrong shape): the case is in the message, the error chained."""


class _Contract(ValueError):
    """A user's function returned a value of the wrong kind (raised by the check, not the function)."""


def token_inputs(n: tuple[int, int] = (1, 5), d: tuple[int, int] = (1, 4)) -> st.SearchStrategy[Tensor]:
    """Default inputs as a Hypothesis strategy of (n, d) float64 token matrices (verify.draw.tokens()
    across scales and regimes)."""
    return default_cases(n=n, d=d).strategy().map(lambda case: case.tensor("Y"))


# --- the user's relation, one case or a batch -------------------------------------------------------

MODES = ("vmap", "batched", "loop")
ENGINE_NAMES = {"sweep": "sweep", "climb": "gradient climb", "hypothesis": "Hypothesis search"}
MODE_TEXT = {
    "vmap": "vectorised by torch.func.vmap",
    "batched": "called on whole batches (batched over the leading dimension)",
    "loop": "called case by case (neither batched nor vmap-able)",
}


def _keywords(fn: Callable[..., Any]) -> Callable[[dict[str, Tensor]], dict[str, Tensor]]:
    """The weights `fn` takes: all of them for a `**kwargs` signature (or one that cannot be read),
    else those it names, so that an energy need not accept the step's step size."""
    try:
        parameters = list(inspect.signature(fn).parameters.values())[1:]
    except (TypeError, ValueError):
        return lambda weights: weights
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return lambda weights: weights
    names = {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return lambda weights: {k: v for k, v in weights.items() if k in names}


@dataclass
class Relation:
    """A researcher's relation over cases, judged a batch at a time.

    kind:   "descent" (energy(step(Y)) <= energy(Y)) or "equivalence" (f(Y) == g(Y))
    first, second: (step, energy) or (f, g), each called as fn(Y, **weights)
    mode:   how the functions meet a batch (MODES), found on the first batch: vmap, then a direct
            call on the batch (checked against case-by-case calls on two cases), then a loop
    errors: exceptions the user's functions raised, with their cases (raised after the search)
    informative, judged: cases that said something (descent: the energy moved; equivalence: an
            output not all zero) and decided cases, over the search
    """

    kind: str
    first: Callable[..., Tensor]
    second: Callable[..., Tensor]
    dtype: torch.dtype
    device: torch.device
    domain_errors: tuple[type[BaseException], ...] = ()
    errors: list[tuple[BaseException, Case]] = field(default_factory=list)
    mode: str = ""
    informative: int = 0
    judged: int = 0
    differentiable: bool = True

    def __post_init__(self) -> None:
        self._kw = (_keywords(self.first), _keywords(self.second))

    # the functions over a batch, in a mode

    def _apply(self, which: int, Y: Tensor, weights: dict[str, Tensor], mode: str) -> Tensor:
        fn = (self.first, self.second)[which]
        kw = self._kw[which](weights)
        if mode == "vmap":
            return torch.func.vmap(lambda y, w: fn(y, **w))(Y, kw)
        if mode == "batched":
            return fn(Y, **kw)
        return torch.stack([torch.as_tensor(fn(Y[k], **{name: v[k] for name, v in kw.items()}), device=Y.device)
                            for k in range(Y.shape[0])])

    def _outputs(self, fields: dict[str, Tensor], mode: str) -> tuple[Tensor, Tensor, Tensor]:
        """descent: (E(Y), E(step Y), step Y); equivalence: (f(Y), g(Y), Y); shapes checked."""
        with warnings.catch_warnings():  # the inputs need grad for our tolerances, not the user's float()
            warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad=True to a scalar")
            return self._unwarned_outputs(fields, mode)

    def _unwarned_outputs(self, fields: dict[str, Tensor], mode: str) -> tuple[Tensor, Tensor, Tensor]:
        Y = fields["Y"]
        weights = {k: v for k, v in fields.items() if k != "Y"}
        if self.kind == "descent":
            Y1 = self._apply(0, Y, weights, mode)
            _same_shape("step", Y1, Y)
            before, after = self._apply(1, Y, weights, mode), self._apply(1, Y1, weights, mode)
            for value in (before, after):
                if not isinstance(value, Tensor) or value.shape != Y.shape[:1]:
                    got = tuple(value.shape[1:]) if isinstance(value, Tensor) else type(value).__name__
                    raise _Contract(f"energy(Y) must return a scalar tensor, got shape {got}")
            return before, after, Y1
        a, b = self._apply(0, Y, weights, mode), self._apply(1, Y, weights, mode)
        _same_shape("f", a, Y)
        _same_shape("g", b, Y)
        return a, b, Y

    def _slacks(self, batch: Case, mode: str) -> tuple[Slacks, Tensor]:
        """The relation's slacks on a batch and which cases were informative. Tolerances: descent by
        the energies and their sensitivity to rounding of the inputs, sum |grad E(Y)| |Y| (autograd;
        finite differences when the energy is not differentiable); equivalence by the largest entry
        of Y and of both sides."""
        fields = {k: v for k, v in batch.items() if isinstance(v, Tensor)}
        Y = fields["Y"]
        n_terms = Y[0].numel()
        if self.kind == "equivalence":
            a, b, _ = self._outputs(fields, mode)
            a, b = a.detach(), b.detach()
            size = torch.maximum(Y.abs().flatten(1).amax(1), torch.maximum(a.abs().flatten(1).amax(1), b.abs().flatten(1).amax(1)))
            slacks = identity_slacks(a, b, scale=size, n_terms=n_terms)
            informative = slacks.decided & ((a != 0).flatten(1).any(1) | (b != 0).flatten(1).any(1))
            return self._beyond_noise(slacks, batch, mode, (a, b)), informative
        X = Y.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            before, after, Y1 = self._outputs({**fields, "Y": X}, mode)
            moved = self._sensitivity(before, X, fields, mode) + self._sensitivity(after, Y1, fields, mode)
        before, after = before.detach(), after.detach()
        scale = before.abs() + after.abs() + moved
        slacks = descent_slacks(before, after, dtype=self.dtype, scale=scale, n_terms=n_terms)
        return self._beyond_noise(slacks, batch, mode, (before, after)), slacks.decided & (after != before)

    def _beyond_noise(self, slacks: Slacks, batch: Case, mode: str, sides: tuple[Tensor, Tensor]) -> Slacks:
        """A failing case stands only if it fails by more than the functions' own rounding noise.

        The tolerance sees the inputs, the outputs and (for an energy) its gradient, not the terms a
        function computes inside (distances from a Gram matrix of tokens 1e3 apart carry 1e6 eps). So
        each failing case is evaluated again NOISE_PROBES times with every float field perturbed by
        a relative 2 eps (random signs, as rounding would); how far the two sides move is the noise
        actually there, and a failure within NOISE_FACTOR times it is left undecided."""
        failing = slacks.failing
        if not bool(failing.any()):
            return slacks
        index = torch.nonzero(failing)[:, 0]
        fields = {k: v[index] for k, v in batch.items() if isinstance(v, Tensor)}
        first, second = (side.detach()[index] for side in sides)
        eps = torch.finfo(self.dtype).eps
        g = torch.Generator(first.device).manual_seed(0)
        noise = torch.zeros(len(index), dtype=torch.float64, device=first.device)
        with torch.no_grad():
            for _ in range(NOISE_PROBES):
                shaken = {k: v * (1 + 2 * eps * (torch.randint(0, 2, v.shape, generator=g, device=v.device) * 2 - 1).to(v.dtype))
                          if v.is_floating_point() else v for k, v in fields.items()}
                try:
                    moved_first, moved_second, _ = self._outputs(shaken, mode)
                except Exception:  # noqa: BLE001 -- a probe that raises measures nothing
                    continue
                for old, new in ((first, moved_first), (second, moved_second)):
                    noise = torch.maximum(noise, (new.double() - old.double()).abs().reshape(len(index), -1).amax(1))
        within = torch.zeros_like(failing)
        within[index] = (-slacks.margin[index]).double() <= NOISE_FACTOR * 2 * noise  # two sides, each moving by noise
        return slacks.skip_where(within, "within the functions' own rounding noise (measured by perturbing the inputs at eps)")

    def _sensitivity(self, value: Tensor, Z: Tensor, fields: dict[str, Tensor], mode: str) -> Tensor:
        """(B,) sum |dE/dZ| |Z|: how far rounding of Z's entries moves the energy."""
        if value.requires_grad:
            try:
                (grad,) = torch.autograd.grad(value.sum(), Z, retain_graph=True, allow_unused=True)
            except RuntimeError:
                grad = None
            if grad is not None:
                return (grad.abs() * Z.detach().abs()).flatten(1).sum(1).detach()
        # not differentiable (a torch.no_grad energy, numpy inside): probe the energy along two
        # random sign patterns, relative steps h, scaled up by sqrt(entries) for the unknown signs
        self.differentiable = False
        Z = Z.detach()
        weights = {k: v for k, v in fields.items() if k != "Y"}
        h = math.sqrt(torch.finfo(self.dtype).eps)
        g = torch.Generator(Z.device).manual_seed(0)
        probes = []
        with torch.no_grad():
            for _ in range(2):
                signs = torch.randint(0, 2, Z.shape, generator=g, device=Z.device).to(Z.dtype) * 2 - 1
                probes.append((self._apply(1, Z * (1 + h * signs), weights, mode) - value.detach()).abs() / h)
        return torch.stack(probes).amax(0) * math.sqrt(Z[0].numel())

    def violation(self, batch: Case) -> Tensor:
        """(B,) how near each case is to failing, differentiable in the fields (for the climb).

        descent:      (E(S Y) - E(Y)) / (||grad E(Y)|| ||S Y - Y||): the energy's change against its
                      first-order size, so a step that barely moves is not "nearly failing" (it sits
                      at -1 for a gradient step, and the climb heads for the real edge, where the
                      change turns positive)
        equivalence:  max |f(Y) - g(Y)| / max |Y|
        """
        fields = {k: v for k, v in batch.items() if isinstance(v, Tensor)}
        Y = fields["Y"]
        if not Y.requires_grad:
            Y = Y.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            a, b, out = self._outputs({**fields, "Y": Y}, self.mode or "loop")
            if self.kind == "equivalence":
                return (a - b).abs().flatten(1).amax(1) / (Y.detach().abs().flatten(1).amax(1) + 1e-300)
            (grad,) = torch.autograd.grad(a.sum(), Y, create_graph=True)
        first_order = grad.flatten(1).norm(dim=1) * (out - Y).flatten(1).norm(dim=1)
        return (b - a) / (first_order + 1e-12 * (a.detach().abs() + b.detach().abs()) + 1e-300)

    # judging

    def judge_batch(self, batch: Case) -> Slacks:
        """The slacks of a batch in the relation's mode (found on the first batch); a batch whose
        call raises is judged case by case, where each error meets its case."""
        if not self.mode:
            self.mode = self._find_mode(batch)
        if self.mode != "loop":
            try:
                slacks, informative = self._slacks(batch, self.mode)
                self._count(slacks, informative)
                return slacks
            except Exception:  # noqa: BLE001 -- one case of the batch raised: find it, case by case
                pass
        return stack_slacks([self.judge_one(batch.unbatch(k)) for k in range(batch.size)], device=batch.device)

    def _find_mode(self, batch: Case) -> str:
        """vmap, else a direct call on the batch, each checked against case-by-case calls on two cases
        (a function written for one matrix can run on a batch and mean something else); else a loop."""
        probe = batch.take(slice(0, min(2, batch.size)))
        try:
            reference, _ = self._slacks(probe, "loop")
        except Exception:  # noqa: BLE001 -- the user's code fails on these cases: the loop finds which
            return "loop"
        for mode in ("vmap", "batched"):
            try:
                slacks, _ = self._slacks(probe, mode)
            except Exception:  # noqa: BLE001 -- this mode does not suit the functions
                continue
            if _agree(slacks, reference):
                return mode
        return "loop"

    def judge_one(self, case: Case) -> Slack:
        """One case (no batch dimension), the functions called on it alone."""
        batch = case.to(self.dtype, self.device).batch()
        try:
            slacks, informative = self._slacks(batch, "loop")
        except self.domain_errors as err:
            return Slack.skip(f"domain error: {type(err).__name__}: {err}")
        except Exception as err:  # noqa: BLE001 -- the user's error: kept with its case, raised after the search
            self.errors.append((err, case))
            return Slack.skip(f"raised {type(err).__name__}")
        self._count(slacks, informative)
        return slacks.at(0)

    def _count(self, slacks: Slacks, informative: Tensor) -> None:
        self.judged += int(slacks.decided.sum())
        self.informative += int(informative.sum())


def _same_shape(name: str, value: object, Y: Tensor) -> None:
    if not isinstance(value, Tensor) or value.shape != Y.shape:
        got = tuple(value.shape[1:]) if isinstance(value, Tensor) else type(value).__name__
        raise _Contract(f"{name}(Y) must have the shape of Y {tuple(Y.shape[1:])}, got {got}")


def _agree(slacks: Slacks, reference: Slacks) -> bool:
    """Both sides of every case within the cases' tolerances (rounding differs between a batched and
    a one-case call; a different function does not)."""
    close = lambda x, y: ((x - y).abs() <= 4 * reference.tol + 1e-300) | (x.isnan() & y.isnan())  # noqa: E731
    return bool((close(slacks.lhs, reference.lhs) & close(slacks.rhs, reference.rhs)).all())


# --- the search -------------------------------------------------------------------------------------


def _describe(case: Case) -> str:
    return ", ".join(f"{k} {tuple(v.shape)}" if isinstance(v, Tensor) and v.ndim else f"{k}={float(v)!r}"
                     if isinstance(v, Tensor) else f"{k}={v!r}" for k, v in case.items())


def _batch_size(description: Description) -> int:
    """Cases per sweep batch: BATCH, fewer for large cases (about 2^21 token entries a batch)."""
    if isinstance(description, CaseDescription):
        return max(1, min(BATCH, 2**21 // (description.n[1] * description.d[1])))
    return BATCH


def _search(relation: Relation, description: Description | None, strategy: st.SearchStrategy | None,
            seconds: float, max_examples: int | None, seed: int, domain: Callable[[Tensor], Any] | None) -> Verdict:
    """Sweep, climb, Hypothesis, within `seconds`; then shrink. The verdict's note says how each
    engine ran; a user error raises (`_finish`)."""
    start = time.perf_counter()
    verdicts: list[Verdict] = []
    notes: list[str] = []
    if max_examples is not None:  # a fixed-size search: the same cases on every machine
        seconds = math.inf
    if description is not None:
        swept = _sweep(relation, description, seconds * SWEEP_SHARE, seed, max_examples)
        verdicts.append(swept)
        notes.append(f"sweep: {swept.examples} cases, the functions {MODE_TEXT.get(relation.mode, relation.mode)}")
    if not _refuted(verdicts) and description is not None:
        domain = _description_domain(description)
        frontier = _frontier(relation, description, seed) if domain is not None and relation.differentiable else None
        climbed = _climb(relation, frontier, domain, seconds * CLIMB_SHARE, notes)
        verdicts.extend([climbed] if climbed is not None else [])
    if not _refuted(verdicts):
        left = max(seconds - (time.perf_counter() - start), 0.1)
        nearest = _Nearest(FRONTIER) if strategy is not None and domain is not None else None
        searched = _hypothesis(relation, description, strategy, left,
                               None if max_examples is None else min(max_examples, MAX_HYPOTHESIS), seed, nearest)
        verdicts.append(searched)
        notes.append(f"hypothesis: {searched.examples} cases")
        if not _refuted(verdicts) and nearest is not None:
            left = max(seconds - (time.perf_counter() - start), seconds * CLIMB_SHARE)
            verdicts.extend(nearest.climb(relation, _user_domain(domain), left, notes))
    verdict = combine(*verdicts)
    if verdict.counterexample is not None:
        finder = next(v for v in verdicts if v.counterexample is not None)
        notes.append(f"counterexample found by the {ENGINE_NAMES[next(iter(finder.engines))]}, then shrunk")
        verdict = _shrunk(relation, verdict, description)
    return _finish(relation, verdict, notes)


def _refuted(verdicts: list[Verdict]) -> bool:
    return any(v.counterexample is not None for v in verdicts)


def _as_case(x: object) -> Case:
    """A drawn value as a case: a Case as it is, a token matrix (tensor or array) as Case(Y=...)."""
    if isinstance(x, Case):
        return x
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.array(x, dtype=np.float64))  # host: the user's array
    return Case(Y=validate.tokens("inputs", x))


def _sweep(relation: Relation, description: Description, seconds: float, seed: int, cases: int | None = None) -> Verdict:
    """Batches of drawn cases until the time is spent (or `cases` drawn) or a case fails."""
    start = time.perf_counter()
    judged, index, drawn = 0, 0, 0
    undecided: Counter[str] = Counter()
    worst: Slack | None = None
    failure: tuple[Case, Slack] | None = None
    size = _batch_size(description)
    while failure is None and (index == 0 or time.perf_counter() - start < seconds) and drawn < (cases or math.inf):
        g = torch.Generator(relation.device).manual_seed(batch_seed(seed, index))
        count = int(min(size if relation.mode in ("vmap", "batched") else 64, (cases or math.inf) - drawn))
        batch = description.sample(g, count).to(relation.dtype, relation.device)
        drawn += count
        index += 1
        slacks = relation.judge_batch(batch)
        judged += int(slacks.decided.sum())
        undecided.update(slacks.undecided_counts())
        if bool(slacks.failing.any()):
            k = int(torch.where(slacks.failing, slacks.violation, torch.full_like(slacks.violation, -math.inf)).argmax())
            failure = (batch.unbatch(k).to(torch.float64, "cpu"), slacks.at(k))
            break
        if bool(slacks.decided.any()):
            least = int(torch.where(slacks.decided, slacks.relative, math.inf).argmin())
            if worst is None or float(slacks.relative[least]) < worst.relative:
                worst = slacks.at(least)
    verdict = Verdict(holds=failure is None and judged > 0, examples=judged,
                      worst_slack=(failure[1] if failure else worst).relative if (failure or worst) else math.nan,
                      counterexample=failure[0] if failure else None, worst=failure[1] if failure else worst,
                      undecided=undecided, seconds=time.perf_counter() - start, engines={"sweep": judged},
                      failures=1 if failure else 0)
    return verdict


@dataclass(frozen=True)
class _Domain:
    """Where climbed cases may go: `project` maps a batch back (None: nowhere), `holds` says which lie in it."""

    project: Callable[[Case], Case] | None
    holds: Callable[[Case], Tensor]
    movable: list[str]


def _description_domain(description: Description) -> _Domain | None:
    """A field description knows its domain; an opaque one (a `@description` builder) does not, and is not climbed."""
    if not isinstance(description, CaseDescription):
        return None
    return _Domain(description.project, description.holds, description.movable())


def _user_domain(domain: Callable[[Tensor], Any]) -> _Domain:
    """The user's `domain` for an opaque strategy: a projection (returns a tensor) or a predicate
    (returns a bool); a climb under a predicate moves freely and reports only cases that satisfy it."""

    def mapped(batch: Case) -> list[Any]:
        return [domain(batch.tensor("Y")[k]) for k in range(batch.size)]

    def project(batch: Case) -> Case:
        out = mapped(batch)
        if all(isinstance(o, Tensor) and o.shape == batch.tensor("Y").shape[1:] for o in out):
            return Case(**{**batch, "Y": torch.stack(out)})
        return batch

    def holds(batch: Case) -> Tensor:
        out = mapped(batch)
        if all(isinstance(o, Tensor) and o.ndim > 0 for o in out):  # a projection: its fixed points lie in the domain
            Y = batch.tensor("Y")
            return torch.stack([torch.equal(o, Y[k]) or bool(torch.allclose(o, Y[k], rtol=1e-12, atol=0.0))
                                for k, o in enumerate(out)]).to(batch.device)
        return torch.tensor([bool(o) for o in out], device=batch.device)

    return _Domain(project, holds, ["Y"])


def _frontier(relation: Relation, description: Description, seed: int) -> Case | None:
    """The FRONTIER cases nearest to failing (by `Relation.violation`) of a pool drawn for the climb,
    seeded apart from the sweep's batches; None when the functions cannot be differentiated."""
    g = torch.Generator(relation.device).manual_seed(batch_seed(seed, -1))
    pool = description.sample(g, min(_batch_size(description), 256 if relation.mode == "loop" else BATCH))
    try:
        near = relation.violation(pool.to(relation.dtype, relation.device)).detach()
    except Exception:  # noqa: BLE001 -- not differentiable (an .item(), numpy inside): no climb
        return None
    finite = torch.isfinite(near)
    if not bool(finite.any()):
        return None
    top = torch.topk(torch.where(finite, near, -math.inf), min(FRONTIER, int(finite.sum()))).indices
    return pool.take(top.to(pool.device))


def _climb(relation: Relation, frontier: Case | None, domain: _Domain | None, seconds: float,
           notes: list[str]) -> Verdict | None:
    """The gradient climb from the cases nearest to failing, each step projected onto the domain;
    only climbed cases in the domain are judged."""
    if domain is None:
        notes.append("climb: skipped (the cases' description does not know its domain)")
        return None
    if not relation.differentiable or frontier is None:
        notes.append("climb: skipped (the functions are not differentiable by autograd)")
        return None
    start = time.perf_counter()
    movable = [k for k in domain.movable if k in frontier]
    steps = 0

    def violation(batch: Case) -> Tensor:
        nonlocal steps
        steps += 1
        return relation.violation(batch.to(relation.dtype, relation.device))

    try:
        with torch.enable_grad():
            climbed = climb(frontier.to(torch.float64, relation.device), violation, movable,
                            project=domain.project, steps=CLIMB_STEPS, seconds=seconds)
    except Exception as err:  # noqa: BLE001 -- not differentiable here (an .item(), numpy): no climb
        notes.append(f"climb: skipped ({type(err).__name__} under autograd)")
        return None
    climbed = climbed.take(domain.holds(climbed))
    if not climbed.size:
        notes.append("climb: no climbed case stayed in the domain")
        return None
    slacks = relation.judge_batch(climbed.to(relation.dtype, relation.device))
    judged = int(slacks.decided.sum())
    notes.append(f"climb: {frontier.size} cases, {steps} steps")
    if not judged:
        return None
    failing = bool(slacks.failing.any())
    score = slacks.violation if failing else torch.where(slacks.decided, -slacks.relative, -math.inf)
    k = int(score.argmax())
    return Verdict(holds=not failing, examples=judged, worst_slack=slacks.at(k).relative,
                   counterexample=climbed.unbatch(k).to(torch.float64, "cpu") if failing else None, worst=slacks.at(k),
                   undecided=Counter(slacks.undecided_counts()), seconds=time.perf_counter() - start,
                   engines={"climb": judged}, failures=int(slacks.failing.sum()))


class _Nearest:
    """The Hypothesis cases nearest to failing (for a climb under the user's declared domain)."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.cases: list[tuple[float, Case]] = []

    def record(self, case: Case, slack: Slack) -> None:
        if slack.undecided is None and math.isfinite(slack.violation):
            self.cases.append((slack.violation, case))
            self.cases = sorted(self.cases, key=lambda c: -c[0])[: self.keep]

    def climb(self, relation: Relation, domain: _Domain, seconds: float, notes: list[str]) -> list[Verdict]:
        """Climb the nearest cases, grouped by shape (a batch needs one shape)."""
        groups: dict[tuple[int, ...], list[Case]] = {}
        for _, case in self.cases:
            groups.setdefault(tuple(case.tensor("Y").shape), []).append(case)
        verdicts = []
        for cases in groups.values():
            batch = Case(Y=torch.stack([c.tensor("Y").to(torch.float64) for c in cases]))
            climbed = _climb(relation, batch, domain, seconds / max(len(groups), 1), notes)
            if climbed is not None:
                verdicts.append(climbed)
                if climbed.counterexample is not None:
                    break
        return verdicts


def _hypothesis(relation: Relation, description: Description | None, strategy: st.SearchStrategy | None,
                seconds: float, max_examples: int | None, seed: int, nearest: _Nearest | None) -> Verdict:
    """Hypothesis, targeting the violation, for about `seconds` (its cases estimated from the time one
    takes) or `max_examples` cases."""
    source = strategy if strategy is not None else description.strategy()  # type: ignore[union-attr]

    def judge(x: object) -> Slack:
        case = _as_case(x)
        slack = relation.judge_one(case)
        if nearest is not None:
            nearest.record(case, slack)
        return slack

    if max_examples is not None:
        return falsify(source, judge, settings=search_settings("quick", max_examples), seed=seed)
    # a timed search in two runs: a first, small one measures what a Hypothesis case really costs
    # here (drawing, targeting, the call), the second gets the cases the time left affords
    start = time.perf_counter()
    per_case = _seconds_per_call(relation, description, source) + HYPOTHESIS_OVERHEAD
    first = falsify(source, judge, settings=search_settings("quick", int(min(max(seconds / per_case / 4, 10), 100))),
                    seed=seed)
    spent = time.perf_counter() - start
    left = seconds - spent
    judged = first.examples + sum(first.undecided.values())
    if first.counterexample is not None or left <= 0 or not judged:
        return first
    more = int(min(left / (first.seconds / judged), 5000))
    if more < 1:
        return first
    second = falsify(source, judge, settings=search_settings("quick", more), seed=seed + 1)
    return combine(first, second) if second.examples or second.counterexample is not None else first


def _seconds_per_call(relation: Relation, description: Description | None, source: st.SearchStrategy) -> float:
    """How long judging one case takes (one drawn case, judged twice; the user's errors are not kept:
    the search meets them again)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            case = (description.sample(torch.Generator().manual_seed(0), 1).unbatch(0)  # host: one case to time a call
                    if description is not None else _as_case(source.example()))
    except Exception:  # noqa: BLE001 -- .example() is refused inside a running Hypothesis test: assume a slow call
        return 0.01
    errors = len(relation.errors)
    counted = relation.judged, relation.informative
    start = time.perf_counter()
    for _ in range(2):
        relation.judge_one(case)
    del relation.errors[errors:]
    relation.judged, relation.informative = counted
    return (time.perf_counter() - start) / 2


def _shrunk(relation: Relation, verdict: Verdict, description: Description | None) -> Verdict:
    """The simplest failing case reachable from the counterexample; with a field description, only
    cases it could have drawn (every field in its domain, n and d in range, fixed fields unchanged)."""
    case = _as_case(verdict.counterexample)
    assert verdict.worst is not None
    fits = description.holds if isinstance(description, CaseDescription) else None

    def fails(candidate: Case) -> Slack | None:
        if fits is not None and not bool(fits(candidate.batch()).all()):
            return None
        errors = len(relation.errors)
        slack = relation.judge_one(candidate)
        del relation.errors[errors:]  # a shrinking move that makes the user's code raise is just not taken
        return slack if slack.undecided is None and not slack.ok else None

    small, slack = simplest(case, verdict.worst, fails, seconds=SHRINK_SECONDS)
    return Verdict(**{**verdict.__dict__, "counterexample": small, "worst": slack, "worst_slack": slack.relative})


def _finish(relation: Relation, verdict: Verdict, notes: list[str]) -> Verdict:
    """Raise the user's error unless a real counterexample stands; warn when no case was informative."""
    if relation.errors and verdict.counterexample is None:
        err, case = relation.errors[0]
        raise UserCodeError(f"{_what_went_wrong(relation, err, case)} ({str(relation.dtype).removeprefix('torch.')}, "
                            f"{relation.device})") from err
    if relation.errors:
        err, case = relation.errors[0]
        notes.append(f"also: {_what_went_wrong(relation, err, case)}")
    if not relation.differentiable:
        notes.append("the energy is not differentiable by autograd: its rounding sensitivity was estimated by finite differences")
    informative = verdict.examples if verdict.counterexample is not None else min(relation.informative, verdict.examples)
    if verdict.counterexample is None and informative < MIN_INFORMATIVE:
        what = "the energy never moved" if relation.kind == "descent" else "both sides were zero"
        notes.append(f"warning: {informative} informative cases of {verdict.examples} judged ({what} on the rest): "
                     "this verdict says little")
    counterexample: Any = verdict.counterexample
    if isinstance(counterexample, Case) and set(counterexample) == {"Y"}:
        counterexample = counterexample.tensor("Y")
    return Verdict(**{**verdict.__dict__, "counterexample": counterexample, "informative": informative,
                      "note": "; ".join(n for n in [verdict.note, *notes] if n)})


def _what_went_wrong(relation: Relation, err: BaseException, case: Case) -> str:
    if isinstance(err, _Contract):
        return f"{err}, on the case {_describe(case)}"
    return f"the {_function_name(relation)} raised {type(err).__name__} on the case {_describe(case)}: {err}"


def _function_name(relation: Relation) -> str:
    return "step or energy" if relation.kind == "descent" else "f or g"


# --- the public checks -------------------------------------------------------------------------------


def _arguments(dtype: object, device: object, **functions: object) -> tuple[torch.dtype, torch.device]:
    """Each named function is callable, and dtype and device name real ones; else a clear error."""
    for name, f in functions.items():
        if not callable(f):
            raise TypeError(f"{name} must be callable, got {type(f).__name__}")
    return validate.dtype("dtype", dtype), validate.device("device", device)


def _inputs(inputs: object, cases: object) -> tuple[Description | None, st.SearchStrategy | None]:
    if inputs is not None and cases is not None:
        raise ValueError("give inputs (a Hypothesis strategy of token matrices) or cases (a verify.draw description), not both")
    if cases is not None:
        if not isinstance(cases, Description):
            raise TypeError(f"cases must be a verify.draw description (verify.draw.cases(...)), got {type(cases).__name__}")
        return cases, None
    if inputs is not None:
        if not isinstance(inputs, st.SearchStrategy):
            raise TypeError(f"inputs must be a Hypothesis strategy of (n, d) token matrices, got {type(inputs).__name__}")
        return None, inputs
    return default_cases(), None


def _budget(seconds: float | None, max_examples: int | None) -> float:
    if max_examples is not None and (not isinstance(max_examples, int) or isinstance(max_examples, bool) or max_examples < 1):
        raise ValueError(f"max_examples must be a positive integer, got {max_examples!r}")
    if seconds is None:
        return DEFAULT_SECONDS
    return validate.scalar("seconds", seconds, low=0.05)


def _replay(kind: str, functions: tuple[Callable[..., Any], Callable[..., Any]], verdict: Verdict,
            dtype: torch.dtype, device: torch.device) -> str | None:
    """One line that re-runs the counterexample: the functions by module and name where they can be
    imported, else `verify.replay(verdict)` (the verdict holds them)."""
    case = verdict.counterexample
    if case is None:
        return None
    values = {"Y": case} if isinstance(case, Tensor) else dict(case)
    literal = ", ".join(f"{k}={json.dumps(v.detach().cpu().double().tolist()) if isinstance(v, Tensor) else repr(v)}"
                        for k, v in values.items())
    names = [_importable(f) for f in functions]
    call = f"cases=verify.draw.given({literal}), dtype={str(dtype).removeprefix('torch.')!r}, device={str(device)!r}"
    if all(names):
        modules = sorted({n.rsplit(".", 1)[0] for n in names if n})
        return f"import {', '.join(['verify', *modules])}; print(verify.check_{kind}({names[0]}, {names[1]}, {call}))"
    return f"verify.replay(verdict)  # or verify.check_{kind}(<your functions>, {call})"


def _importable(fn: Callable[..., Any]) -> str | None:
    module, name = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or module == "__main__" or "<" in name or "." in name:
        return None
    try:
        return f"{module}.{name}" if getattr(importlib.import_module(module), name, None) is fn else None
    except ImportError:
        return None


def _run(kind: str, first: Callable[..., Any], second: Callable[..., Any], inputs: object, cases: object,
         max_examples: int | None, seconds: float | None, dtype: object, device: object, seed: int,
         domain_errors: tuple[type[BaseException], ...], domain: Callable[[Tensor], bool] | None) -> Verdict:
    names = ("step", "energy") if kind == "descent" else ("f", "g")
    dt, dev = _arguments(dtype, device, **dict(zip(names, (first, second), strict=True)))
    description, strategy = _inputs(inputs, cases)
    budget = _budget(seconds, max_examples)
    relation = Relation(kind, first, second, dt, dev, tuple(domain_errors))
    verdict = _search(relation, description, strategy, budget, max_examples, seed, domain)
    replay = _replay(kind, (first, second), verdict, dt, dev)
    counterexample = verdict.counterexample
    rerun = (lambda: relation.judge_one(_as_case(counterexample))) if counterexample is not None else None
    return Verdict(**{**verdict.__dict__, "replay": replay, "rerun": rerun})


def check_descent(
    step: Step,
    energy: Energy,
    inputs: st.SearchStrategy | None = None,
    *,
    cases: Description | None = None,
    max_examples: int | None = None,
    seconds: float | None = None,
    dtype: str | torch.dtype = "float64",
    device: str | torch.device = "cpu",
    seed: int = DEFAULT_SEED,
    domain_errors: tuple[type[BaseException], ...] = (),
    domain: Callable[[Tensor], bool] | None = None,
) -> Verdict:
    """Does `energy(step(Y)) <= energy(Y)` hold for every drawn case?

    Tolerance: eps(dtype) times (|E(Y)| + |E(step Y)| + sum |grad E| |Y| + sum |grad E| |step Y|).
    seconds: the search's time budget (default about 2 s); max_examples: Hypothesis's cases.
    """
    return _run("descent", step, energy, inputs, cases, max_examples, seconds, dtype, device, seed, domain_errors, domain)


def check_equivalence(
    f: Step,
    g: Step,
    inputs: st.SearchStrategy | None = None,
    *,
    cases: Description | None = None,
    max_examples: int | None = None,
    seconds: float | None = None,
    dtype: str | torch.dtype = "float64",
    device: str | torch.device = "cpu",
    seed: int = DEFAULT_SEED,
    domain_errors: tuple[type[BaseException], ...] = (),
    domain: Callable[[Tensor], bool] | None = None,
) -> Verdict:
    """Is `f(Y) == g(Y)` entrywise for every drawn case?

    Tolerance: eps(dtype) times the largest entry of Y, f(Y) and g(Y).
    """
    return _run("equivalence", f, g, inputs, cases, max_examples, seconds, dtype, device, seed, domain_errors, domain)


def replay(verdict: Verdict) -> Slack:
    """Re-run a verdict's counterexample with the functions that produced it; the slack (both sides)."""
    if verdict.counterexample is None or verdict.rerun is None:
        raise ValueError("verdict has no counterexample to replay (it was not refuted, or it is a claim's: use its replay command)")
    return verdict.rerun()


# --- the gradient-step check -------------------------------------------------------------------------


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

    def __str__(self) -> str:
        if self.status != "holds" or not math.isfinite(self.implied_step):
            return super().__str__()
        where = ("inside" if self.in_descent_range else "OUTSIDE") if self.in_descent_range is not None else "no range for"
        span = f"(0, {self.descent_range[1]:.6g})" if self.descent_range else "(Hessian unavailable)"
        head = (f"a gradient step with t = {self.implied_step:.6g} (spread {self.step_spread:.3g}, identity residual "
                f"{self.identity_residual:.3g}), {where} the sampled descent range {span}")
        if self.in_descent_range is False:
            head += ": a gradient step, not a descent step (it can raise the energy)"
        text = f"{head}; {self.examples} cases ({self.evidence})"
        return text + (f"\n{self.note}" if self.note else "")


def _gradient(energy: Energy, Y: Tensor) -> Tensor | None:
    """grad energy(Y) by autograd, or None when energy is not differentiable."""
    Z = Y.detach().clone().requires_grad_(True)
    try:
        value = energy(Z)
        (grad,) = torch.autograd.grad(value.reshape(()), Z)
    except RuntimeError:
        return None
    return grad


def _hessian_norm(energy: Energy, Y: Tensor) -> float | None:
    flat = Y.detach().reshape(-1).clone()
    try:
        H = torch.autograd.functional.hessian(lambda v: energy(v.reshape(Y.shape)).reshape(()), flat)
    except RuntimeError:
        return None
    H = (H + H.mT) / 2
    return float(torch.linalg.eigvalsh(H).abs().max())


def check_gradient_step(
    step: Step,
    energy: Energy,
    inputs: st.SearchStrategy | None = None,
    *,
    cases: Description | None = None,
    step_size: float | None = None,
    max_examples: int | None = None,
    seconds: float | None = None,
    dtype: str | torch.dtype = "float64",
    device: str | torch.device = "cpu",
    seed: int = DEFAULT_SEED,
) -> GradientStepVerdict:
    """Is `step(Y) == Y - t grad energy(Y)` for a single step size t?

    Per case: G = grad E(Y) (autograd), t_Y fitted by least squares (or the given `step_size`), and
    the identity step(Y) - Y == -t_Y G judged with the dtype's tolerance. Across cases the fitted t
    must agree (within tolerance); a layer that is a gradient step with a different t at every input
    is not a gradient step. Searched by Hypothesis within the time budget (a Hessian per case).
    """
    dt, dev = _arguments(dtype, device, step=step, energy=energy)
    if step_size is not None:
        step_size = validate.scalar("step_size", step_size)
    description, strategy = _inputs(inputs, cases)
    budget = _budget(seconds, max_examples)
    fitted: list[tuple[float, float, Tensor]] = []
    residuals: list[float] = []
    curvature: list[float | None] = []
    errors: list[tuple[BaseException, Tensor]] = []

    def check(drawn: object) -> Slack:
        Y = _as_case(drawn).tensor("Y").to(device=dev, dtype=dt)
        try:
            move = step(Y) - Y
            G = _gradient(energy, Y)
        except Exception as err:  # noqa: BLE001 -- the user's error, raised after the search
            errors.append((err, Y))
            return Slack.skip(f"raised {type(err).__name__}")
        if G is None:
            raise ValueError("energy must be differentiable by autograd for check_gradient_step")
        from verify.model.tolerance import identity_slack

        gg = float((G * G).sum())
        scale = float(Y.abs().max() + move.abs().max())
        if gg <= tolerance(dt, float(G.abs().max()) + 1e-300, G.numel()) ** 2:
            return identity_slack(move, torch.zeros_like(move), scale=scale, n_terms=Y.numel())
        t = step_size if step_size is not None else -float((move * G).sum()) / gg
        fitted.append((t, tolerance(dt, scale, Y.numel()) / math.sqrt(gg), Y.detach().cpu()))
        curvature.append(_hessian_norm(energy, Y))
        residuals.append(float(torch.linalg.vector_norm(move + t * G)) / max(abs(t) * math.sqrt(gg), 1e-300))
        return identity_slack(move, -t * G, scale=scale + abs(t) * float(G.abs().max()), n_terms=Y.numel())

    source = strategy if strategy is not None else description.strategy()  # type: ignore[union-attr]
    if max_examples is None:  # a timed search: how long one case takes
        sample = (description.sample(torch.Generator().manual_seed(0), 1).unbatch(0)  # host: one case to time a call
                  if description is not None else None)
        start = time.perf_counter()
        if sample is not None:
            for _ in range(3):
                check(sample)
            fitted.clear(), residuals.clear(), curvature.clear(), errors.clear()
        per_case = ((time.perf_counter() - start) / 3 if sample is not None else 0.01) + HYPOTHESIS_OVERHEAD
        max_examples = int(min(max(budget / per_case, 30), 2000))
    examples = max_examples
    base = falsify(source, check, settings=search_settings("quick", examples), seed=seed)
    if errors and base.counterexample is None:
        err, Y = errors[0]
        raise UserCodeError(f"the step or energy raised {type(err).__name__} on the case Y {tuple(Y.shape)}: {err}") from err
    fields = dict(base.__dict__)
    if isinstance(fields["counterexample"], Case):
        fields["counterexample"] = fields["counterexample"].tensor("Y")
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
