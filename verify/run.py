"""Running the registry: every claim searched on each device and dtype, plus ablations.

Data flows one way: strategies -> case -> claim -> slack -> verdict -> RunResult; the
result only holds facts (report.py formats them).
"""

from __future__ import annotations

import fnmatch
import platform
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import torch

from verify import validate
from verify.claims import Claim, registry
from verify.search import DEFAULT_SEED, search_claim
from verify.verdict import Verdict


@dataclass(frozen=True)
class ClaimRun:
    """One claim's verdicts: per (device, dtype), and per violated assumption (float64)."""

    claim: Claim
    verdicts: dict[tuple[str, str], Verdict]
    ablations: dict[str, Verdict]

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
        }

    def to_json(self) -> dict[str, Any]:
        from verify.report import to_json

        return to_json(self)

    def to_markdown(self) -> str:
        from verify.report import to_markdown

        return to_markdown(self)


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


def run(
    ids: Iterable[str] | str | None = None,
    profile: str = "quick",
    devices: Sequence[str] = ("cpu",),
    dtypes: Sequence[str] = ("float64",),
    ablate: bool = True,
    *,
    seed: int = DEFAULT_SEED,
    max_examples: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> RunResult:
    """Search every selected claim on each device and dtype; with `ablate`, once more per
    assumption with that assumption broken (float64, first usable device)."""
    claims = select(ids)
    torch_dtypes = [validate.dtype("dtypes", d) for d in dtypes]
    result = RunResult(
        profile=profile, seed=seed, devices=tuple(devices), dtypes=tuple(dtypes),
        started=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    usable = []
    for device in devices:
        try:
            validate.device("devices", device)
            usable.append(device)
        except ValueError as err:
            result.skipped.append(f"device {device}: {err}")
    start = time.perf_counter()
    for claim in claims:
        if progress:
            progress(claim.id)
        verdicts = {
            (device, str(dt).removeprefix("torch.")): search_claim(
                claim, dtype=dt, device=device, profile=profile, seed=seed, max_examples=max_examples
            )
            for device in usable
            for dt in torch_dtypes
        }
        ablations = {}
        if ablate and usable:
            for assumption in claim.assumptions:
                ablations[assumption.name] = search_claim(
                    claim, violate=assumption.name, device=usable[0], profile=profile, seed=seed,
                    max_examples=max_examples,
                )
        result.claims.append(ClaimRun(claim, verdicts, ablations))
    result.seconds = time.perf_counter() - start
    result.complete = True
    return result
