"""Running the registry: every claim searched on each device and dtype, plus its ablation.

For each claim: one search of its main scope (every assumption kept) per (device, dtype),
then one search per assumption a case can break, that one dropped and the others kept
(float64, first usable device). An assumption ends as *needed* (a counterexample appeared
when it was dropped), *not needed in N cases*, or *not tested* (no case breaks it alone, or
nothing could be judged), with the reason.

Every search sweeps first where the claim has a batched check (a shrunk counterexample ends
it), then lets Hypothesis search; the two verdicts combine. Searches are independent and
seeded, so they run in a process pool (one worker per core) and the result does not depend on
the order in which they finish. Data flows one way: description -> case -> claim (under a
scope) -> slack -> verdict -> Run; verify.output formats it.
"""

from __future__ import annotations

import fnmatch
import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import torch

from verify.engines.profiles import BUDGETS
from verify.engines.search import DEFAULT_SEED, search
from verify.engines.sweep import DEFAULT_BATCH, sweep
from verify.model import validate
from verify.model.claim import Claim, Scope, scopes
from verify.model.verdict import Verdict, combine
from verify.proof.certificate import CertificateSummary
from verify.proof.certify import certify as certify_claim
from verify.run.registry import families, registry

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
class Run:
    """Everything one run found, with its metadata; `complete` is False until it ends.

    families: per family present in the run, what its `extras` computed for the report."""

    profile: str
    seed: int
    devices: tuple[str, ...]
    dtypes: tuple[str, ...]
    started: str
    claims: list[ClaimRun] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    complete: bool = False
    families: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def mismatches(self) -> list[ClaimRun]:
        return [c for c in self.claims if not c.matches]


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


@dataclass(frozen=True)
class _Task:
    """One search, as it crosses to a worker process: the scope by claim id and dropped name."""

    claim_id: str
    dropped: str | None
    device: str
    dtype: str
    profile: str
    seed: int
    max_examples: int | None
    certify: bool = False
    sweep_cases: int = 0


def search_scope(
    scope: Scope, *, dtype: torch.dtype = torch.float64, device: str = "cpu", profile: str = "quick",
    seed: int = DEFAULT_SEED, max_examples: int | None = None, sweep_cases: int | None = None,
) -> Verdict:
    """One search of a scope: the sweep first where the claim has a batched check (it stops at a
    shrunk counterexample), then Hypothesis for structure and targeting; one combined verdict.
    Budgets default to the profile's."""
    cases = BUDGETS[profile].sweep if sweep_cases is None else sweep_cases
    verdicts = []
    if scope.claim.batched and cases > 0:
        # an ablation keeps only the drawn cases that break its assumption alone: smaller batches, so that a
        # counterexample in the first batch ends it sooner
        batch = ABLATION_BATCH if scope.dropped is not None else DEFAULT_BATCH
        swept = sweep(scope, cases, dtype=dtype, device=device, seed=seed, batch=batch)
        if swept.counterexample is not None:
            return swept
        verdicts.append(swept)
    verdicts.append(search(scope, dtype=dtype, device=device, profile=profile, seed=seed, max_examples=max_examples))
    return combine(*verdicts)


def _search(task: _Task) -> Verdict | CertificateSummary | None:
    """One task in a worker: a scope's search, or a claim's certificates."""
    torch.set_num_threads(1)
    scope = registry()[task.claim_id].scope(task.dropped)
    if task.certify:
        return certify_claim(scope.claim, profile=task.profile, seed=task.seed, max_examples=task.max_examples)
    return search_scope(scope, dtype=validate.dtype("dtype", task.dtype), device=task.device, profile=task.profile,
                        seed=task.seed, max_examples=task.max_examples, sweep_cases=task.sweep_cases)


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
    on_claim: Callable[[Run, ClaimRun], None] | None = None,
) -> Run:
    """Search every selected claim; `on_claim(run, claim_run)` is called as each one ends.

    certify: also draw cases for the claims that have certificates and record the evidence
    level they reach.

    max_examples, sweep_cases: override the profile's Hypothesis and sweep budgets per search.

    workers: processes for the searches (default: one per core; 1 runs in this process;
    CUDA runs always stay in this process).
    """
    claims = select(ids)
    names = [str(validate.dtype("dtypes", d)).removeprefix("torch.") for d in dtypes]
    result = Run(profile=profile, seed=seed, devices=tuple(devices), dtypes=tuple(names),
                 started=datetime.now(UTC).isoformat(timespec="seconds"))
    usable = []
    for device in devices:
        try:
            validate.device("devices", device)
            usable.append(device)
        except ValueError as err:
            result.skipped.append(f"device {device}: {err}")
    budget = BUDGETS.get(profile)
    if budget is None:
        raise ValueError(f"profile must be one of {sorted(BUDGETS)}, got {profile!r}")
    cases = lambda n: max_examples if max_examples is not None else n  # noqa: E731
    sweep_budget = sweep_cases if sweep_cases is not None else budget.sweep
    plan: dict[str, list[_Task]] = {}
    for claim in claims:
        tasks = [
            _Task(claim.id, None, dev, dt, profile, seed,
                  cases(budget.reference if (dev, dt) == (usable[0], names[0]) else budget.other), sweep_cases=sweep_budget)
            for dev in usable for dt in names
        ]
        if usable:
            tasks += [
                _Task(claim.id, s.dropped_name, usable[0], "float64", profile, seed, cases(budget.ablation), sweep_cases=sweep_budget)
                for s in scopes(claim, ablate)[1:]
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
        verdicts = {(t.device, t.dtype): done[t] for t in tasks if t.dropped is None and not t.certify}
        searched = {t.dropped: done[t] for t in tasks if t.dropped is not None}
        certificate = next((done[t] for t in tasks if t.certify), None)
        ablations = tuple(
            Ablation(a.name, searched[a.name]) if a.name in searched else Ablation(a.name, NOT_SEARCHED, _unsearched(claim, a.untestable))
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
            order = sorted((t for ts in plan.values() for t in ts), key=lambda t: t.dropped is None)
            futures: dict[Future[Any], _Task] = {pool.submit(_search, t): t for t in order}
            for future in as_completed(futures):
                task = futures[future]
                done[task] = future.result()
                if all(t in done for t in plan[task.claim_id]):
                    finish(by_id[task.claim_id])
    present = {c.family for c in claims}
    for family in families():
        if family.name in present and family.extras is not None:
            result.families[family.name] = family.extras(seed)
    result.seconds = time.perf_counter() - start
    result.complete = True
    return result


def _unsearched(claim: Claim, untestable: str) -> str:
    if claim.expected == "refuted":
        return "the claim is expected to fail with every assumption met; dropping one would show nothing"
    return untestable
