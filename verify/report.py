"""Results to JSON and markdown (tabulate); nothing else formats reports.

`to_json(result)` is the machine contract (schema in DESIGN.md; fields are added, never
renamed). `render_markdown(report)` renders that JSON for a reviewer, so the markdown
can be re-made from a stored JSON (`python -m verify report FILE`).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tabulate import tabulate

from verify.case import Case
from verify.plots import sparkline
from verify.verdict import Verdict

if TYPE_CHECKING:
    from verify.certificates import CertificateSummary
    from verify.runner import ClaimRun, RunResult

NEEDED_JSON = {"needed": True, "not needed": False, "not tested": None}


def _number(x: float | None) -> float | None:
    """JSON has no NaN: an undefined number is null."""
    return None if x is None or not math.isfinite(x) else x


def _case_json(v: Verdict) -> dict[str, Any] | None:
    c = v.counterexample
    if c is None:
        return None
    return c.to_json() if isinstance(c, Case) else {"Y": {"tensor": c.tolist()}}


def _sides(v: Verdict) -> dict[str, Any] | None:
    w = v.worst
    if w is None or w.undecided is not None:
        return None
    return {"lhs": _number(w.lhs), "rhs": _number(w.rhs), "relation": w.relation,
            "margin": _number(w.margin), "tolerance": _number(w.tol)}


def _headline(run: ClaimRun) -> Verdict | None:
    """The verdict that speaks for the claim: a refuting one, else the tightest."""
    verdicts = list(run.verdicts.values())
    refuted = [v for v in verdicts if v.counterexample is not None]
    if refuted:
        return refuted[0]
    judged = [v for v in verdicts if math.isfinite(v.worst_slack)]
    return min(judged, key=lambda v: v.worst_slack) if judged else (verdicts[0] if verdicts else None)


FRACTION_BINS = ((0.0, 0.5), (0.5, 1.0), (1.0, 1.5), (1.5, 2.0))


def fraction_table(measures: dict[str, list[float]]) -> list[dict[str, Any]]:
    """The attention step's share of the best surrogate decrease, by step size a."""
    pairs = [(a, f) for a, f in zip(measures.get("a", []), measures.get("fraction", []), strict=True) if math.isfinite(f)]
    rows = []
    for low, high in FRACTION_BINS:
        values = sorted(f for a, f in pairs if low <= a < high or (high == 2.0 and a == 2.0))
        if values:
            rows.append({"a_from": low, "a_to": high, "cases": len(values),
                         "median": values[len(values) // 2], "min": values[0], "max": values[-1]})
    return rows


def certificate_json(c: CertificateSummary) -> dict[str, Any]:
    out: dict[str, Any] = {
        "level": c.level, "scope": c.scope, "statement": c.statement, "solver": c.solver,
        "status": ", ".join(f"{k} ({n})" for k, n in c.statuses.items()),
        "gap": _number(c.max_gap), "residual": _number(c.max_residual), "min_margin": _number(c.min_margin),
        "cases": c.cases, "certified": c.certified, "inconclusive": c.inconclusive, "refuted": c.refuted,
        "seconds": c.seconds,
        "counterexample": c.counterexample.to_json() if c.counterexample is not None else None,
    }
    if "fraction" in c.measures:
        out["fraction_of_best_decrease"] = fraction_table(c.measures)
    for key in ("qp_forms_disagree", "spectral_vs_direct"):
        if key in c.measures:
            out[f"max_{key}"] = _number(max(c.measures[key]))
    return out


def claim_json(run: ClaimRun) -> dict[str, Any]:
    c = run.claim
    head = _headline(run)
    return {
        "id": c.id,
        "family": c.family,
        "statement": c.statement,
        "source": c.source,
        "verdict": run.observed,
        "expected": c.expected,
        "matches": run.matches,
        "conjecture": c.conjecture,
        "proof": c.proof or None,
        "explanation": c.explanation or None,
        "evidence": run.evidence,
        "cases": sum(v.examples for v in run.verdicts.values()),
        "engines": _engines(run.verdicts.values()),
        "worst_slack": _number(head.worst_slack) if head else None,
        "seconds": sum(v.seconds for v in run.verdicts.values()),
        "counterexample": _case_json(head) if head else None,
        "sides": _sides(head) if head and head.counterexample is not None else None,
        "replay": head.replay if head else None,
        "certificate": certificate_json(run.certificate) if run.certificate else None,
        "runs": [
            {"device": dev, "dtype": dt, "verdict": v.status, "cases": v.examples, "engines": dict(v.engines),
             "worst_slack": _number(v.worst_slack), "undecided": dict(v.undecided), "seconds": v.seconds,
             "note": v.note or None}
            for (dev, dt), v in run.verdicts.items()
        ],
        "assumptions": [
            {
                "name": a.assumption,
                "needed": NEEDED_JSON[a.status],
                "status": a.status,
                "reason": a.reason,
                "cases": a.verdict.examples,
                "engines": dict(a.verdict.engines),
                "seconds": a.verdict.seconds,
                "counterexample": _case_json(a.verdict),
                "sides": _sides(a.verdict) if a.verdict.counterexample is not None else None,
                "replay": a.verdict.replay,
            }
            for a in run.ablations
        ],
    }


def _engines(verdicts: Iterable[Verdict]) -> dict[str, int]:
    """Cases judged per engine, over the runs of one claim."""
    total: Counter[str] = Counter()
    for v in verdicts:
        total.update(v.engines)
    return dict(total)


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
            "could_not_run": result.skipped,
        },
        "claims": [claim_json(c) for c in result.claims],
        "curves": result.curves,
        "rates": result.rates,
    }


# --- markdown ---------------------------------------------------------------------------------


def _slack(x: float | None) -> str:
    return "-" if x is None else f"{x:.2e}"


def summary_rows(report: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for c in report["claims"]:
        needed = [a["name"] for a in c["assumptions"] if a["status"] == "needed"]
        rows.append([
            c["id"], c["verdict"], c["expected"], "" if c["matches"] else "MISMATCH",
            c["cases"], _slack(c["worst_slack"]), "; ".join(needed) or "-",
        ])
    return rows


def summary_table(report: dict[str, Any]) -> str:
    """The compact table the CLI prints."""
    return tabulate(summary_rows(report), headers=["claim", "observed", "expected", "", "cases", "worst slack", "needed"])


def _nested_text(rows: Any) -> str:
    """[a b; c d] for a matrix, [[..] | [..]] for a stack of them, 6 significant digits."""
    if not isinstance(rows, list):
        return f"{rows:.6g}"
    if not rows or not isinstance(rows[0], list):
        return "[" + " ".join(f"{x:.6g}" for x in rows) + "]"
    if isinstance(rows[0][0], list):
        return "[" + " | ".join(_nested_text(r) for r in rows) + "]"
    return "[" + "; ".join(" ".join(f"{x:.6g}" for x in row) for row in rows) + "]"


def _matrix_text(value: Any) -> str:
    if isinstance(value, dict) and "tensor" in value:
        return _nested_text(value["tensor"])
    return repr(value)


def _case_block(case: dict[str, Any], sides: dict[str, Any] | None, replay: str | None) -> list[str]:
    lines = ["```"]
    lines += [f"{name} = {_matrix_text(value)}" for name, value in case.items()]
    if sides:
        lines.append(f"lhs = {sides['lhs']!r} {sides['relation']} rhs = {sides['rhs']!r}  "
                     f"(fails by {-sides['margin']:.3g}, tolerance {sides['tolerance']:.3g})")
    lines.append("```")
    if replay:
        lines += ["", f"replay: `{replay}`"]
    return lines


def render_markdown(report: dict[str, Any]) -> str:
    """The reviewer's report, top to bottom, from the JSON report."""
    meta, claims = report["meta"], report["claims"]
    mismatches = [c["id"] for c in claims if not c["matches"]]
    out = ["# verify: energy-descent claims of Transformer layers", ""]
    if not meta["complete"]:
        out += ["> **Incomplete run**: interrupted before every claim was searched; "
                "the claims below are those that finished.", ""]
    if mismatches:
        out += [f"> **Observed verdict differs from the spec for: {', '.join(mismatches)}**", ""]
    else:
        out += [f"All {len(claims)} claims reproduce the verdict the spec expects.", ""]

    out += ["## Run", ""]
    out += [tabulate([
        ["profile", meta["profile"]], ["seed", meta["seed"]], ["devices", ", ".join(meta["devices"])],
        ["dtypes", ", ".join(meta["dtypes"])], ["started", meta["started"]],
        ["duration", f"{meta['seconds']:.1f} s"], ["complete", meta["complete"]],
        *[[k, v] for k, v in meta["versions"].items()],
    ], headers=["", ""], tablefmt="github"), ""]
    out += ["## What could not run", ""]
    out += [f"- {s}" for s in meta["could_not_run"]] or ["- nothing: every requested device and dtype ran"]
    out += [""]

    out += ["## Claims", "",
            "Evidence `sampled`: property-based search found no counterexample in the cases counted "
            "(float64 and float32 together); worst slack is the smallest (margin / scale) seen, "
            "negative within tolerance where rounding alone moved it. Cases are counted per engine: "
            "Hypothesis (structure, targeting, shrinking) and the batched sweep (volume; `-` where the "
            "claim's check needs a solver or per-case autograd and has no batched form).", ""]
    out += [tabulate([
        [c["id"], c["statement"], c["verdict"], c["expected"] + ("" if c["matches"] else " (MISMATCH)"),
         c["evidence"] + (", conjecture" if c["conjecture"] else ""), c["cases"],
         c.get("engines", {}).get("hypothesis", 0), c.get("engines", {}).get("sweep", "-"), _slack(c["worst_slack"])]
        for c in claims
    ], headers=["claim", "statement", "observed", "expected", "evidence", "cases", "by Hypothesis", "by sweep", "worst slack"],
        tablefmt="github"), ""]

    names: list[str] = []
    for c in claims:
        names += [a["name"] for a in c["assumptions"] if a["name"] not in names]
    out += ["## Assumption matrix", "",
            "Each assumption was dropped alone (the others kept) and the claim searched again in float64: "
            "**needed** (a counterexample appeared), *not needed in N cases*, or *not tested* (with the reason); "
            "`·` where the claim does not make that assumption.", ""]
    legend = {name: f"A{i + 1}" for i, name in enumerate(names)}
    rows = []
    for c in claims:
        cells = {a["name"]: a for a in c["assumptions"]}
        row = [c["id"]]
        for name in names:
            a = cells.get(name)
            if a is None:
                row.append("·")
            elif a["status"] == "needed":
                row.append("**needed**")
            elif a["status"] == "not needed":
                row.append(f"not needed ({a['cases']})")
            else:
                row.append("not tested")
        rows.append(row)
    out += [tabulate(rows, headers=["claim", *[legend[n] for n in names]], tablefmt="github"), ""]
    out += [f"- {legend[n]}: {n}" for n in names] + [""]
    untested = [(c["id"], a) for c in claims for a in c["assumptions"] if a["status"] == "not tested"]
    if untested:
        out += ["Not tested:", ""] + [f"- {cid}, {a['name']}: {a['reason']}" for cid, a in untested] + [""]

    out += ["## Counterexamples", "",
            "The smallest case the search shrank to, in full precision in `latest.json`; each line of "
            "`replay` re-runs it and prints both sides.", ""]
    for c in claims:
        if c["counterexample"] is not None:
            out += [f"### {c['id']}: refuted with all assumptions met", ""]
            out += _case_block(c["counterexample"], c["sides"], c["replay"]) + [""]
        for a in c["assumptions"]:
            if a["counterexample"] is not None:
                out += [f"### {c['id']} without \"{a['name']}\"", "",
                        f"found in {a['cases']} cases, {a['seconds']:.1f} s", ""]
                out += _case_block(a["counterexample"], a["sides"], a["replay"]) + [""]

    certified = [c for c in claims if c.get("certificate")]
    if certified:
        out += ["## Certificates", "",
                "*certified-all*: a matrix inequality on the weights settles the claim for every input at once "
                "(for each drawn weight); *certified-instance*: a convex solve or matrix inequality settles the drawn "
                "case. A margin within the eigenvalue error bound, or solver trouble, is inconclusive, never a pass.", ""]
        out += [tabulate([
            [c["id"], c["certificate"]["level"], c["certificate"]["statement"], c["certificate"]["scope"],
             f"{c['certificate']['certified']}/{c['certificate']['cases']}", c["certificate"]["inconclusive"],
             c["certificate"]["refuted"], _slack(c["certificate"]["min_margin"]), c["certificate"]["solver"],
             c["certificate"]["status"], _slack(c["certificate"]["gap"]), _slack(c["certificate"]["residual"])]
            for c in certified
        ], headers=["claim", "level", "inequality", "for", "certified", "inconclusive", "refuted", "min margin",
                    "solver", "status", "max gap", "max residual"], tablefmt="github"), ""]
        for c in certified:
            rows = c["certificate"].get("fraction_of_best_decrease")
            if rows:
                out += [f"{c['id']}: the attention step's share of the best possible surrogate decrease, "
                        "(S(Y0) - S(T_a Y0)) / (S(Y0) - min S), with min S from the QP "
                        f"(the two cvxpy forms differ by at most {c['certificate'].get('max_qp_forms_disagree', 0):.1e}; "
                        "the spectral decrease formula matches the direct one to "
                        f"{c['certificate'].get('max_spectral_vs_direct', 0):.1e}):", ""]
                out += [tabulate([[f"[{r['a_from']}, {r['a_to']})", r["cases"], f"{r['median']:.3f}", f"{r['min']:.3f}",
                                   f"{r['max']:.3f}"] for r in rows],
                                 headers=["step a", "cases", "median", "min", "max"], tablefmt="github"), ""]

    out += _curves_section(report)
    out += _paper_section(claims, report.get("rates", {}))

    proofs = [c for c in claims if c["proof"]]
    if proofs:
        out += ["## Proof notes", ""] + [f"- {c['id']}: {c['proof']}" for c in proofs] + [""]
    return "\n".join(out)


CURVES_PNG = "energy_curves.png"
RATE_NAMES = {
    "attention_sublayer": "attention sublayer raised its own energy",
    "ffn_sublayer": "FFN sublayer raised its own energy",
    "layer_total": "a layer raised the total energy",
    "trajectories_with_a_rising_layer": "trajectories with some rising layer",
    "final_below_start": "total after 12 layers below the start",
}


def _curves_section(report: dict[str, Any]) -> list[str]:
    curves = report.get("curves") or {}
    if not curves:
        return []
    out = ["## Energy curves", "",
           "Energy per sublayer (attention and FFN alternating, 12 layers, weights shared across depth), batch mean "
           "over 64 synthetic inputs (n = 16, d = 8): the set-up of the paper's Figure 5. Each sublayer's descent "
           "on its own energy is asserted (LAYER-ENERGY-CURVE); the total is shown, not asserted.", ""]
    if report["meta"].get("plot"):
        out += [f"![energy curves]({report['meta']['plot']})", ""]
    else:
        out += ["(matplotlib is not installed: sparklines only; `pip install -e .[plots]` for the picture)", ""]
    rows = []
    for model, series in curves.items():
        for name, values in series.items():
            rows.append([model, name, sparkline(values), f"{values[0]:.4g}", f"{values[-1]:.4g}"])
    out += [tabulate(rows, headers=["model", "energy", "per sublayer", "start", "end"], tablefmt="github"), ""]
    return out


def _paper_section(claims: list[dict[str, Any]], rates: dict[str, dict[str, float]]) -> list[str]:
    paper = [c for c in claims if c["family"] == "PAPER"]
    if not paper:
        return []
    out = ["## The paper's experiment model", "",
           "Its energies and forward pass, implemented from the formulas (never from its code). What fails, "
           "and the fix:", ""]
    for c in paper:
        out += [f"- **{c['id']}** ({c['verdict']}, expected {c['expected']}): {c['statement']}."
                + (f" {c['explanation']}" if c["explanation"] else "")]
    out += [""]
    if rates:
        names = list(rates)
        rows = [[RATE_NAMES.get(k, k), *[f"{rates[m][k]:.1%}" for m in names]] for k in rates[names[0]]]
        out += ["How often, over 64 inputs x 12 layers:", ""]
        out += [tabulate(rows, headers=["", *names], tablefmt="github"), ""]
    return out


# --- files ---------------------------------------------------------------------------------------


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a report is for everyone to read
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write(report: dict[str, Any], out: Path, stem: str = "latest") -> tuple[Path, Path]:
    """`{stem}.json` and `{stem}.md` under `out`, each written atomically."""
    json_path, md_path = out / f"{stem}.json", out / f"{stem}.md"
    write_atomic(json_path, json.dumps(report, indent=1))
    write_atomic(md_path, render_markdown(report))
    return json_path, md_path
