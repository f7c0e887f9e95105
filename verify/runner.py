"""Running the registry: every claim searched on each device and dtype, plus its ablation.

For each claim: one search with all assumptions met per (device, dtype), then one search
per assumption with that assumption broken and the others kept (float64, first usable
device). An assumption ends as *needed* (a counterexample appeared when it was dropped),
*not needed in N cases*, or *not tested* (no case breaks it alone, or nothing could be
judged), with the reason.

Searches are independent and seeded, so they run in a process pool (one worker per core)
and the result does not depend on the order in which they finish. Data flows one way:
strategies -> case -> claim -> slack -> verdict -> RunResult; report.py formats it.
"""

from __future__ import annotations

import fnmatch
import os
import platform
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import torch

from verify import validate
from verify.assumptions import Assumption
from verify.certificates import CertificateSummary
from verify.claims import Claim, registry
from verify.curves import paper_model, raise_rates, reference_model
from verify.profiles import BUDGETS
from verify.samplers import UnknownKind
from verify.search import DEFAULT_SEED, certify_claim, search_claim
from verify.sweep import DEFAULT_BATCH, sweep_claim
from verify.verdict import Verdict, combine

Needed = Literal["needed", "not needed", "not tested"]
ABLATION_BATCH = 1024


@dataclass(frozen=True)
class Ablation:
    """What dropping one assumption showed (no verdict when it cannot be dropped alone)."""

    assumption: str
    verdict: Verdict
    untestable: str = ""

    @property
    def status(self) -> Needed:
        if self.untestable:
            return "not tested"
        if self.verdict.status == "refuted":
            return "needed"
        if self.verdict.status == "holds":
            return "not needed"
        return "not tested"

    @property
    def reason(self) -> str:
        if self.untestable:
            return self.untestable
        if self.status == "needed":
            return f"counterexample after {self.verdict.examples} cases"
        if self.status == "not needed":
            return f"no counterexample in {self.verdict.examples} cases"
        if self.verdict.note:
            return self.verdict.note
        if self.verdict.undecided:
            return "no case could be judged: " + ", ".join(f"{k} ({n})" for k, n in self.verdict.undecided.items())
        return "no drawn case breaks this assumption while keeping the others"


@dataclass(frozen=True)
class ClaimRun:
    """One claim's verdicts: per (device, dtype), and per dropped assumption."""

    claim: Claim
    verdicts: dict[tuple[str, str], Verdict]
    ablations: tuple[Ablation, ...]
    certificate: CertificateSummary | None = None

    @property
    def evidence(self) -> str:
        """certified-* only when the certificates back a sampled pass."""
        if self.certificate is not None and self.observed == "holds":
            return self.certificate.evidence
        return "sampled"

    @property
    def observed(self) -> str:
        statuses = [v.status for v in self.verdicts.values()]
        if "refuted" in statuses:
            return "refuted"
        if statuses and all(s == "holds" for s in statuses):
            return "holds"
        return "inconclusive"

    @property
    def matches(self) -> bool:
        return self.observed == self.claim.expected


@dataclass
class RunResult:
    """Everything one run found, with its metadata; `complete` is False until it ends."""

    profile: str
    seed: int
    devices: tuple[str, ...]
    dtypes: tuple[str, ...]
    started: str
    claims: list[ClaimRun] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    complete: bool = False
    curves: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    rates: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def mismatches(self) -> list[ClaimRun]:
        return [c for c in self.claims if not c.matches]

    def versions(self) -> dict[str, str]:
        import cvxpy
        import hypothesis
        import numpy

        return {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": numpy.__version__,
            "hypothesis": hypothesis.__version__,
            "cvxpy": cvxpy.__version__,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        }

    def to_json(self) -> dict[str, Any]:
        from verify.report import to_json

        return to_json(self)

    def to_markdown(self) -> str:
        from verify.report import render_markdown, to_json

        return render_markdown(to_json(self))


def select(ids: Iterable[str] | str | None) -> list[Claim]:
    """Claims whose id matches any of the glob patterns (all when None)."""
    claims = registry()
    if ids is None:
        return list(claims.values())
    patterns = [ids] if isinstance(ids, str) else list(ids)
    chosen = [c for c in claims.values() if any(fnmatch.fnmatchcase(c.id, p) for p in patterns)]
    if not chosen:
        raise ValueError(f"ids {patterns} match no claim; known: {', '.join(claims)}")
    return chosen


NOT_SEARCHED = Verdict(holds=False, examples=0, worst_slack=float("nan"))


def _unsearched(claim: Claim, assumption: Assumption) -> str:
    if claim.expected == "refuted":
        return "the claim is expected to fail with every assumption met; dropping one would show nothing"
    return assumption.untestable


@dataclass(frozen=True)
class _Task:
    claim_id: str
    violate: str | None
    device: str
    dtype: str
    profile: str
    seed: int
    max_examples: int | None
    certify: bool = False
    sweep_cases: int = 0


def _search(task: _Task) -> Verdict | CertificateSummary | None:
    """One search: the sweep first where the claim has a batched check (it stops at a shrunk
    counterexample), then Hypothesis for structure and targeting; one combined verdict."""
    torch.set_num_threads(1)
    claim = registry()[task.claim_id]
    if task.certify:
        return certify_claim(claim, profile=task.profile, seed=task.seed, max_examples=task.max_examples)
    dtype = validate.dtype("dtype", task.dtype)
    verdicts = []
    if claim.sweep is not None and task.sweep_cases > 0:
        try:
            # an ablation checks every drawn case against the predicates (CPU, per case), which costs more
            # than the batched check: smaller batches, so that a counterexample in the first ends it sooner
            batch = ABLATION_BATCH if task.violate is not None else DEFAULT_BATCH
            swept = sweep_claim(claim, task.sweep_cases, dtype=dtype, device=task.device, seed=task.seed,
                                violate=task.violate, batch=batch)
        except UnknownKind:
            swept = None  # the sampler cannot break this assumption; Hypothesis's strategy can
        if swept is not None and swept.counterexample is not None:
            return swept
        verdicts += [swept] if swept is not None else []
    verdicts.append(search_claim(
        claim, violate=task.violate, dtype=dtype,
        device=task.device, profile=task.profile, seed=task.seed, max_examples=task.max_examples,
    ))
    return combine(*verdicts)


def run(
    ids: Iterable[str] | str | None = None,
    profile: str = "quick",
    devices: Sequence[str] = ("cpu",),
    dtypes: Sequence[str] = ("float64",),
    ablate: bool = True,
    *,
    certify: bool = True,
    seed: int = DEFAULT_SEED,
    max_examples: int | None = None,
    sweep_cases: int | None = None,
    workers: int | None = None,
    on_claim: Callable[[RunResult, ClaimRun], None] | None = None,
) -> RunResult:
    """Search every selected claim; `on_claim(result, claim_run)` is called as each one ends.

    certify: also draw cases for the claims that have certificates (verify.certificates)
    and record the evidence level they reach.

    max_examples, sweep_cases: override the profile's Hypothesis and sweep budgets per search.

    workers: processes for the searches (default: one per core; 1 runs in this process;
    CUDA runs always stay in this process).
    """
    claims = select(ids)
    names = [str(validate.dtype("dtypes", d)).removeprefix("torch.") for d in dtypes]
    result = RunResult(
        profile=profile, seed=seed, devices=tuple(devices), dtypes=tuple(names),
        started=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    usable = []
    for device in devices:
        try:
            validate.device("devices", device)
            usable.append(device)
        except ValueError as err:
            result.skipped.append(f"device {device}: {err}")
    budget = BUDGETS[profile] if profile in BUDGETS else None
    if budget is None:
        raise ValueError(f"profile must be one of {sorted(BUDGETS)}, got {profile!r}")
    cases = lambda n: max_examples if max_examples is not None else n  # noqa: E731
    sweep = sweep_cases if sweep_cases is not None else budget.sweep
    plan: dict[str, list[_Task]] = {}
    for claim in claims:
        tasks = [
            _Task(claim.id, None, dev, dt, profile, seed,
                  cases(budget.reference if (dev, dt) == (usable[0], names[0]) else budget.other), sweep_cases=sweep)
            for dev in usable for dt in names
        ]
        if ablate and usable and claim.expected == "holds":
            tasks += [
                _Task(claim.id, a.name, usable[0], "float64", profile, seed, cases(budget.ablation), sweep_cases=sweep)
                for a in claim.assumptions
                if not a.untestable
            ]
        if certify and claim.certify is not None:
            tasks.append(_Task(claim.id, None, "cpu", "float64", profile, seed, cases(budget.certificates), certify=True))
        plan[claim.id] = tasks
    if not ablate:
        result.skipped.append("ablation: not requested (--no-ablate)")

    start = time.perf_counter()
    workers = workers or os.cpu_count() or 1
    if "cuda" in usable:
        workers = 1
    done: dict[_Task, Any] = {}

    def finish(claim: Claim) -> None:
        tasks = plan[claim.id]
        verdicts = {(t.device, t.dtype): done[t] for t in tasks if t.violate is None and not t.certify}
        searched = {t.violate: done[t] for t in tasks if t.violate is not None}
        certificate = next((done[t] for t in tasks if t.certify), None)
        ablations = tuple(
            Ablation(a.name, searched[a.name]) if a.name in searched else Ablation(a.name, NOT_SEARCHED, _unsearched(claim, a))
            for a in claim.assumptions
            if ablate and usable
        )
        claim_run = ClaimRun(claim, verdicts, ablations, certificate)  # type: ignore[arg-type]
        result.claims.append(claim_run)
        result.claims.sort(key=lambda c: claims.index(c.claim))
        result.seconds = time.perf_counter() - start
        if on_claim:
            on_claim(result, claim_run)

    if workers == 1:
        for claim in claims:
            for task in plan[claim.id]:
                done[task] = _search(task)
            finish(claim)
    else:
        by_id = {c.id: c for c in claims}
        with ProcessPoolExecutor(max_workers=workers) as pool:
            # ablations first: they shrink counterexamples, the longest tasks, so none is left alone at the end
            order = sorted((t for ts in plan.values() for t in ts), key=lambda t: t.violate is None)
            futures: dict[Future[Any], _Task] = {pool.submit(_search, t): t for t in order}
            for future in as_completed(futures):
                task = futures[future]
                done[task] = future.result()
                if all(t in done for t in plan[task.claim_id]):
                    finish(by_id[task.claim_id])
    if any(c.family in ("LAYER", "PAPER") for c in claims):
        result.curves, result.rates = reference_curves(seed)
    result.seconds = time.perf_counter() - start
    result.complete = True
    return result


def reference_curves(seed: int) -> tuple[dict[str, dict[str, list[float]]], dict[str, dict[str, float]]]:
    """Energy per depth of three 12-layer models on synthetic inputs (64 samples, n = 16, d = 8),
    and how often their layers raised an energy."""
    models = {
        "weight-shared model meeting the ATT and FF assumptions": reference_model(seed),
        "the paper's experiment model": paper_model(seed, corrected=False),
        "the paper's model, corrected attention (D + I)^-1 B Y": paper_model(seed, corrected=True),
    }
    return {k: v.as_lists() for k, v in models.items()}, {k: raise_rates(v) for k, v in models.items()}
