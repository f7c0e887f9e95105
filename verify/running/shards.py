"""A run split into shards, and the shards merged back into one run.

Shard K of N runs every task of the run (verify.running.runner.plan) on its share: the K-th of N
contiguous runs of each sweep's batches (every batch is seeded by the run's seed and its index
alone), and, on the one shard that owns the task (a stable hash of its key), its Hypothesis
search and its certificates. A shard writes a record of those outcomes, not a report.

`merge` settles each task from its outcomes in shard order exactly as an unsplit run does (the
sweep's shares up to the first that refuted, then Hypothesis), so N shards merged give the
verdicts, case counts and worst cases of one run with the same seed and total budget. The CI
service's job matrix runs the shards (.github/workflows/nightly.yml); nothing here schedules.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from verify.model import validate
from verify.model.verdict import Verdict
from verify.proof.certificate import CertificateSummary
from verify.running.registry import families, registry
from verify.running.runner import Outcome, Run, Task, assemble, execute, plan, select, settle

RECORD = "verify shard record"


def parse_shard(text: str) -> tuple[int, int]:
    """'K/N' with 0 <= K < N, or a ValueError naming the argument."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard must be K/N with whole numbers, e.g. 3/16, got {text!r}") from None
    if not 0 <= k < n:
        raise ValueError(f"--shard must be K/N with 0 <= K < N, got {text!r}")
    return k, n


def run_shard(
    shard: tuple[int, int],
    ids: Iterable[str] | str | None = None,
    profile: str = "quick",
    devices: Sequence[str] = ("cpu",),
    dtypes: Sequence[str] = ("float64",),
    ablate: bool = True,
    *,
    certify: bool = True,
    seed: int,
    max_examples: int | None = None,
    sweep_cases: int | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """This shard's outcomes for every task of the run, as a JSON record (claims whose check needs a
    module missing here are left out, as a run leaves them out)."""
    claims = [c for c in select(ids) if not c.missing]
    names = [str(validate.dtype("dtypes", d)).removeprefix("torch.") for d in dtypes]
    for device in devices:
        validate.device("devices", device)
    tasks = plan(claims, profile, devices, names, ablate, certify, seed, max_examples, sweep_cases)
    started, start = datetime.now(UTC).isoformat(timespec="seconds"), time.perf_counter()
    outcomes: dict[Task, Outcome] = {}
    execute([t for ts in tasks.values() for t in ts], shard, workers, lambda t, o: outcomes.__setitem__(t, o))
    present = {c.family for c in claims}
    extras = {f.name: f.extras(seed) for f in families() if f.name in present and f.extras is not None} if shard[0] == 0 else {}
    return {
        "record": RECORD,
        "meta": {"shard": list(shard), "ids": [c.id for c in claims], "profile": profile, "seed": seed,
                 "devices": list(devices), "dtypes": names, "ablate": ablate, "certify": certify,
                 "max_examples": max_examples, "sweep_cases": sweep_cases, "started": started,
                 "seconds": time.perf_counter() - start},
        "tasks": [_task_record(t, outcomes[t]) for ts in tasks.values() for t in ts],
        "families": extras,
    }


def _task_record(task: Task, outcome: Outcome) -> dict[str, Any]:
    return {
        "key": task.key,
        "sweep": outcome.sweep.to_record() if outcome.sweep is not None else None,
        "hypothesis": outcome.hypothesis.to_record() if outcome.hypothesis is not None else None,
        "certificate": outcome.certificate.to_record() if outcome.certificate is not None else None,
        "climb": outcome.climb.to_record() if outcome.climb is not None else None,
    }


def _outcome(record: dict[str, Any]) -> Outcome:
    return Outcome(
        sweep=Verdict.from_record(record["sweep"]) if record["sweep"] is not None else None,
        hypothesis=Verdict.from_record(record["hypothesis"]) if record["hypothesis"] is not None else None,
        certificate=CertificateSummary.from_record(record["certificate"]) if record["certificate"] is not None else None,
        climb=Verdict.from_record(record["climb"]) if record["climb"] is not None else None,
    )


SAME = ("ids", "profile", "seed", "devices", "dtypes", "ablate", "certify", "max_examples", "sweep_cases")


def merge(records: Sequence[dict[str, Any]]) -> Run:
    """One run from the records of shards 0..N-1 of the same run (any order); a ValueError names
    what is missing or inconsistent."""
    if not records:
        raise ValueError("merge needs at least one shard record")
    for r in records:
        if r.get("record") != RECORD:
            raise ValueError("each file must be a shard record written by `python -m verify run --shard K/N`")
    first = records[0]["meta"]
    count = first["shard"][1]
    for r in records:
        differing = [k for k in SAME if r["meta"][k] != first[k]]
        if differing or r["meta"]["shard"][1] != count:
            raise ValueError(f"shard {r['meta']['shard'][0]}/{r['meta']['shard'][1]} is not of the same run: "
                             f"{', '.join(differing) or 'shard count'} differ")
    by_index = {r["meta"]["shard"][0]: r for r in records}
    missing = sorted(set(range(count)) - set(by_index))
    if len(by_index) != len(records) or missing:
        raise ValueError(f"merge needs each of the {count} shards exactly once; missing {missing}"
                         + (", some given twice" if len(by_index) != len(records) else ""))
    ordered = [by_index[k] for k in range(count)]
    claims = [registry()[cid] for cid in first["ids"]]
    tasks = plan(claims, first["profile"], first["devices"], first["dtypes"], first["ablate"], first["certify"],
                 first["seed"], first["max_examples"], first["sweep_cases"])
    results: dict[Task, Any] = {}
    for k, task in enumerate(t for ts in tasks.values() for t in ts):
        shares = []
        for r in ordered:
            record = r["tasks"][k]
            if record["key"] != task.key:
                raise ValueError(f"shard {r['meta']['shard'][0]} holds {record['key']!r} where {task.key!r} belongs")
            shares.append(_outcome(record))
        results[task] = settle(shares)
    merged = Run(profile=first["profile"], seed=first["seed"], devices=tuple(first["devices"]), dtypes=tuple(first["dtypes"]),
                 started=min(r["meta"]["started"] for r in ordered),
                 seconds=sum(r["meta"]["seconds"] for r in ordered), complete=True, families=ordered[0]["families"])
    merged.claims = [assemble(c, tasks[c.id], results, first["ablate"]) for c in claims]
    if not first["ablate"]:
        merged.skipped.append("ablation: not requested (--no-ablate)")
    merged.skipped.append(f"merged from {count} shards (seconds: their sum)")
    return merged
