"""Results to JSON and markdown (tabulate); nothing else formats reports."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tabulate import tabulate

from verify.case import Case
from verify.verdict import Verdict

if TYPE_CHECKING:
    from verify.run import ClaimRun, RunResult


def _counterexample(v: Verdict) -> dict[str, Any] | None:
    c = v.counterexample
    if c is None:
        return None
    return c.to_json() if isinstance(c, Case) else {"Y": {"tensor": c.tolist()}}


def _worst(verdicts: list[Verdict]) -> Verdict:
    refuted = [v for v in verdicts if v.counterexample is not None]
    if refuted:
        return refuted[0]
    return min(verdicts, key=lambda v: v.worst_slack if v.worst_slack == v.worst_slack else float("inf"))


def claim_json(run: ClaimRun) -> dict[str, Any]:
    verdicts = list(run.verdicts.values())
    worst = _worst(verdicts) if verdicts else None
    c = run.claim
    return {
        "id": c.id,
        "family": c.family,
        "statement": c.statement,
        "source": c.source,
        "verdict": run.observed,
        "expected": c.expected,
        "conjecture": c.conjecture,
        "evidence": "sampled",
        "cases": sum(v.examples for v in verdicts),
        "worst_slack": worst.worst_slack if worst else None,
        "seconds": sum(v.seconds for v in verdicts),
        "counterexample": _counterexample(worst) if worst else None,
        "replay": worst.replay if worst else None,
        "certificate": None,
        "proof": c.proof or None,
        "runs": [
            {"device": dev, "dtype": dt, "verdict": v.status, "cases": v.examples,
             "worst_slack": v.worst_slack, "undecided": dict(v.undecided), "seconds": v.seconds}
            for (dev, dt), v in run.verdicts.items()
        ],
        "assumptions": [
            {
                "name": a.name,
                "needed": None if a.name not in run.ablations else run.ablations[a.name].status == "refuted",
                "cases": run.ablations[a.name].examples if a.name in run.ablations else 0,
                "counterexample": _counterexample(run.ablations[a.name]) if a.name in run.ablations else None,
                "replay": run.ablations[a.name].replay if a.name in run.ablations else None,
            }
            for a in c.assumptions
        ],
    }


def to_json(result: RunResult) -> dict[str, Any]:
    return {
        "meta": {
            "profile": result.profile,
            "seed": result.seed,
            "devices": list(result.devices),
            "dtypes": list(result.dtypes),
            "versions": result.versions(),
            "started": result.started,
            "seconds": result.seconds,
            "complete": result.complete,
            "skipped": result.skipped,
        },
        "claims": [claim_json(c) for c in result.claims],
    }


def summary_table(result: RunResult) -> str:
    rows = []
    for run in result.claims:
        j = claim_json(run)
        needed = [a["name"] for a in j["assumptions"] if a["needed"]]
        rows.append([
            j["id"], j["verdict"], j["expected"], "" if run.matches else "MISMATCH",
            j["cases"], f"{j['worst_slack']:.2e}" if j["worst_slack"] is not None else "-",
            "; ".join(needed) or "-",
        ])
    return tabulate(rows, headers=["claim", "observed", "expected", "", "cases", "worst slack", "needed (ablation)"])


def to_markdown(result: RunResult) -> str:
    meta = to_json(result)["meta"]
    lines = [
        "# verify report",
        "",
        f"profile `{meta['profile']}`, seed `{meta['seed']}`, devices {meta['devices']}, dtypes {meta['dtypes']}, "
        f"{meta['seconds']:.1f} s, complete: {meta['complete']}",
        "",
        "versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        "",
    ]
    if result.mismatches:
        lines += ["**Observed verdict differs from the spec for: "
                  + ", ".join(c.claim.id for c in result.mismatches) + "**", ""]
    for s in result.skipped:
        lines.append(f"- could not run: {s}")
    lines += ["", "```", summary_table(result), "```", ""]
    return "\n".join(lines)


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write(result: RunResult, out: Path) -> tuple[Path, Path]:
    """reports/latest.json and reports/latest.md, each written atomically."""
    json_path, md_path = out / "latest.json", out / "latest.md"
    write_atomic(json_path, json.dumps(to_json(result), indent=1, allow_nan=True))
    write_atomic(md_path, to_markdown(result))
    return json_path, md_path
