"""The reviewer's report in markdown (tabulate), rendered from the JSON report alone.

The generic parts (run, claims, assumption matrix, counterexamples, certificates) are
written here; what a family says about itself comes from its own `section` (verify.running.registry).
"""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from verify.running.registry import families


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

    present = {c["family"] for c in claims}
    for family in families():
        data = report.get("families", {}).get(family.name)
        if family.section is not None and (family.name in present or data):
            out += family.section(data or {}, report)

    proofs = [c for c in claims if c["proof"]]
    if proofs:
        out += ["## Proof notes", ""] + [f"- {c['id']}: {c['proof']}" for c in proofs] + [""]
    return "\n".join(out)
