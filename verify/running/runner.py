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

import dataclasses
import fnmatch
import math
import os
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import torch

from verify.engines.climb import climb_scope
from verify.engines.profiles import BUDGETS
from verify.engines.search import DEFAULT_SEED, search
from verify.engines.sweep import shard_batches, sweep
from verify.model import validate
from verify.model.case import Case
from verify.model.claim import Claim, Scope, missing, scopes
from verify.model.tolerance import Slack
from verify.model.verdict import Verdict, combine
from verify.proof.certificate import CertificateSummary
from verify.proof.certify import certify as certify_claim
from verify.running.registry import families, registry

Needed = Literal["needed", "not needed", "not tested"]


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
class Witness:
    """One of the spec's known cases, judged in this run: the assumption it was filed under (None:
    a counterexample with every assumption met), the assumptions it breaks, both sides."""

    filed_under: str | None
    case: Case
    breaks: tuple[str, ...]
    slack: Slack


@dataclass(frozen=True)
class ClaimRun:
    """One claim's verdicts: per (device, dtype), and per dropped assumption; the spec's witnesses
    judged in this run; and, for a refuted claim, what happened at its counterexample (its story)."""

    claim: Claim
    verdicts: dict[tuple[str, str], Verdict]
    ablations: tuple[Ablation, ...]
    certificate: CertificateSummary | None = None
    witnesses: tuple[Witness, ...] = ()
    story: str | None = None

    @property
    def evidence(self) -> str:
        """counterexample for a refuted claim; certified-* only when certificates back a pass (and
        none was refuted); else sampled."""
        if self.observed == "refuted":
            return "counterexample"
        if self.certificate is not None and self.observed == "holds":
            return self.certificate.evidence
        return "sampled"

    @property
    def headline(self) -> Verdict | None:
        """The verdict that speaks for the claim: a refuting one, else the tightest."""
        verdicts = list(self.verdicts.values())
        refuted = [v for v in verdicts if v.counterexample is not None]
        if refuted:
            return refuted[0]
        judged = [v for v in verdicts if math.isfinite(v.worst_slack)]
        return min(judged, key=lambda v: v.worst_slack) if judged else (verdicts[0] if verdicts else None)

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
    """Claims whose id matches any of the glob patterns, in any case (all when None)."""
    claims = registry()
    if ids is None:
        return list(claims.values())
    patterns = [p.upper() for p in ([ids] if isinstance(ids, str) else list(ids))]
    chosen = [c for c in claims.values() if any(fnmatch.fnmatchcase(c.id, p) for p in patterns)]
    if not chosen:
        raise ValueError(f"ids {patterns} match no claim; known: {', '.join(claims)}")
    return chosen


NOT_SEARCHED = Verdict(holds=False, examples=0, worst_slack=float("nan"))


def sweep_batch(device: str, ablation: bool) -> int:
    """Cases per sweep batch: on the CPU 4096 (1024 for an ablation, whose first batch usually
    refutes), on a GPU 64 times more (small batches leave it launch-bound). A fixed function of
    the device, so that shards and single runs draw the same batches."""
    base = 1024 if ablation else 4096
    return base * 64 if torch.device(device).type == "cuda" else base


@dataclass(frozen=True)
class Task:
    """One search of a run, as it crosses to a worker process or to another shard: the scope by
    claim id and dropped assumption's name, where it runs, and its budgets."""

    claim_id: str
    dropped: str | None
    device: str
    dtype: str
    profile: str
    seed: int
    max_examples: int | None
    certify: bool = False
    sweep_cases: int = 0
    climb_steps: int = 0
    climb_frontier: int = 0

    @property
    def key(self) -> str:
        kind = "certificate" if self.certify else f"{self.device}/{self.dtype}"
        return f"{self.claim_id} | {self.dropped or '-'} | {kind}"

    def owner(self, shards: int) -> int:
        """The shard that runs this task's Hypothesis search and certificates (a stable hash of its key)."""
        return zlib.crc32(self.key.encode()) % shards


@dataclass(frozen=True)
class Outcome:
    """What one task produced on one shard: its share of the sweep (None: no batch fell to this
    shard, or the claim has no batched check), its gradient climb and its Hypothesis search (on
    the owner shard, when the shard's sweep found nothing), its certificates (owner shard)."""

    sweep: Verdict | None = None
    hypothesis: Verdict | None = None
    certificate: CertificateSummary | None = None
    climb: Verdict | None = None


def perform(task: Task, shard: tuple[int, int] = (0, 1)) -> Outcome:
    """Run one task's share on shard K of N."""
    torch.set_num_threads(1)
    claim = registry()[task.claim_id]
    owner = task.owner(shard[1]) == shard[0]
    if task.certify:
        return Outcome(certificate=certify_claim(claim, profile=task.profile, seed=task.seed,
                                                 max_examples=task.max_examples) if owner else None)
    scope = claim.scope(task.dropped)
    dtype = validate.dtype("dtype", task.dtype)
    swept = None
    if claim.batched and task.sweep_cases > 0:
        batch = sweep_batch(task.device, scope.dropped is not None)
        if shard_batches(task.sweep_cases, batch, shard):
            swept = sweep(scope, task.sweep_cases, dtype=dtype, device=task.device, seed=task.seed, batch=batch, shard=shard)
    if not owner or (swept is not None and swept.counterexample is not None):
        return Outcome(swept)
    climbed = None
    if claim.batched and task.climb_steps > 0:
        climbed = climb_scope(scope, dtype=dtype, device=task.device, seed=task.seed, frontier=task.climb_frontier,
                              steps=task.climb_steps)
        if climbed is not None and climbed.counterexample is not None:
            return Outcome(swept, climb=climbed)
    searched = search(scope, dtype=dtype, device=task.device, profile=task.profile, seed=task.seed,
                      max_examples=task.max_examples)
    return Outcome(swept, searched, climb=climbed)


def settle(outcomes: Sequence[Outcome]) -> Verdict | CertificateSummary | None:
    """One task's result from its outcomes on every shard, in shard order: the sweep's shares up
    to and including the first that refuted (the batches an unsplit sweep would have judged before
    it stopped), then, if none refuted, the climb and the Hypothesis search (the owner shard's).
    The same as one unsplit run."""
    certificates = [o.certificate for o in outcomes if o.certificate is not None]
    if certificates:
        return certificates[0]
    shares: list[Verdict] = []
    for o in outcomes:
        if o.sweep is not None:
            shares.append(o.sweep)
            if o.sweep.counterexample is not None:
                return combine(*shares)
    searched = [o.climb for o in outcomes if o.climb is not None] + [o.hypothesis for o in outcomes if o.hypothesis is not None]
    parts = ([combine(*shares)] if shares else []) + searched
    return combine(*parts) if parts else None


def search_scope(
    scope: Scope, *, dtype: torch.dtype = torch.float64, device: str = "cpu", profile: str = "quick",
    seed: int = DEFAULT_SEED, max_examples: int | None = None, sweep_cases: int | None = None,
) -> Verdict:
    """One search of a scope, as a run's reference search does it: the sweep first where the claim
    has a batched check (it stops at a shrunk counterexample), the gradient climb from the cases
    nearest to failing, then Hypothesis for structure and targeting; one combined verdict. Budgets
    default to the profile's."""
    budget = BUDGETS[profile]
    task = Task(scope.claim.id, scope.dropped_name, str(device), str(dtype).removeprefix("torch."), profile, seed,
                max_examples, sweep_cases=budget.sweep if sweep_cases is None else sweep_cases,
                climb_steps=budget.climb_steps, climb_frontier=budget.climb_frontier)
    verdict = settle([perform(task)])
    assert isinstance(verdict, Verdict)
    return verdict


def plan(
    claims: Sequence[Claim], profile: str, devices: Sequence[str], dtypes: Sequence[str], ablate: bool, certify: bool,
    seed: int, max_examples: int | None, sweep_cases: int | None,
) -> dict[str, list[Task]]:
    """Every task of a run, by claim: the main scope per (device, dtype), each ablation (float64,
    first device), the certificates (float64, CPU)."""
    budget = BUDGETS.get(profile)
    if budget is None:
        raise ValueError(f"profile must be one of {sorted(BUDGETS)}, got {profile!r}")
    cases = lambda n: max_examples if max_examples is not None else n  # noqa: E731
    sweep_budget = sweep_cases if sweep_cases is not None else budget.sweep
    tasks: dict[str, list[Task]] = {}
    for claim in claims:
        climb = {"climb_steps": budget.climb_steps, "climb_frontier": budget.climb_frontier}
        mine = [
            Task(claim.id, None, dev, dt, profile, seed,
                 cases(budget.reference if (dev, dt) == (devices[0], dtypes[0]) else budget.other), sweep_cases=sweep_budget,
                 **(climb if budget.climb_all or (dev, dt) == (devices[0], dtypes[0]) else {}))
            for dev in devices for dt in dtypes
        ]
        if devices:
            mine += [Task(claim.id, s.dropped_name, devices[0], "float64", profile, seed, cases(budget.ablation),
                          sweep_cases=sweep_budget, **(climb if budget.climb_all else {}))
                     for s in scopes(claim, ablate)[1:]]
        if certify and claim.certify is not None and not missing(claim.certify.requires):
            mine.append(Task(claim.id, None, "cpu", "float64", profile, seed, cases(budget.certificates), certify=True))
        tasks[claim.id] = mine
    return tasks


def assemble(claim: Claim, tasks: Sequence[Task], results: dict[Task, Any], ablate: bool) -> ClaimRun:
    """A claim's verdicts, ablations and certificates from its settled tasks."""
    verdicts = {(t.device, t.dtype): results[t] for t in tasks if t.dropped is None and not t.certify}
    searched = {t.dropped: results[t] for t in tasks if t.dropped is not None}
    certificate = next((results[t] for t in tasks if t.certify), None)
    ablations = tuple(
        Ablation(a.name, searched[a.name]) if a.name in searched else Ablation(a.name, NOT_SEARCHED, _unsearched(claim, a.untestable))
        for a in claim.assumptions
        if ablate and verdicts
    )
    witnesses = tuple(Witness(name, case, tuple(claim.scope().broken(case)), claim.judge(case))
                      for name, cases in claim.examples.items() for case in cases)
    claim_run = ClaimRun(claim, verdicts, ablations, certificate, witnesses)
    head = claim_run.headline
    if claim.story is not None and head is not None and isinstance(head.counterexample, Case):
        claim_run = dataclasses.replace(claim_run, story=claim.story(head.counterexample))
    return claim_run


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
    for claim in claims:
        if claim.missing:
            result.skipped.append(f"{claim.id}: its check needs {', '.join(claim.missing)}, not installed here")
        elif certify and claim.certify is not None and missing(claim.certify.requires):
            result.skipped.append(f"{claim.id} certificates: they need {', '.join(missing(claim.certify.requires))}, "
                                  "not installed here")
    claims = [c for c in claims if not c.missing]
    tasks = plan(claims, profile, usable, names, ablate, certify, seed, max_examples, sweep_cases)
    if not ablate:
        result.skipped.append("ablation: not requested (--no-ablate)")

    start = time.perf_counter()
    results: dict[Task, Any] = {}
    by_id = {c.id: c for c in claims}

    def done(task: Task, outcome: Outcome) -> None:
        results[task] = settle([outcome])
        if all(t in results for t in tasks[task.claim_id]):
            claim = by_id[task.claim_id]
            claim_run = assemble(claim, tasks[claim.id], results, ablate)
            result.claims.append(claim_run)
            result.claims.sort(key=lambda c: claims.index(c.claim))
            result.seconds = time.perf_counter() - start
            if on_claim:
                on_claim(result, claim_run)

    execute([t for ts in tasks.values() for t in ts], (0, 1), workers, done)
    present = {c.family for c in claims}
    for family in families():
        if family.name in present and family.extras is not None:
            result.families[family.name] = family.extras(seed)
    result.seconds = time.perf_counter() - start
    result.complete = True
    return result


def execute(tasks: Sequence[Task], shard: tuple[int, int], workers: int | None,
            done: Callable[[Task, Outcome], None]) -> None:
    """Perform every task's share on this shard, `done(task, outcome)` as each ends: in this
    process (one worker, or a CUDA device), else in a pool of one worker per core, ablations
    first (they shrink counterexamples, the longest tasks, so none is left alone at the end)."""
    workers = 1 if any(torch.device(t.device).type == "cuda" for t in tasks) else workers or os.cpu_count() or 1
    if workers == 1:
        for task in tasks:
            done(task, perform(task, shard))
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        order = sorted(tasks, key=lambda t: t.dropped is None)
        futures: dict[Future[Outcome], Task] = {pool.submit(perform, t, shard): t for t in order}
        for future in as_completed(futures):
            done(futures[future], future.result())


def _unsearched(claim: Claim, untestable: str) -> str:
    if claim.expected == "refuted":
        return "the claim is expected to fail with every assumption met; dropping one would show nothing"
    return untestable
