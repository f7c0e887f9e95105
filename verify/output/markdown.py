"""The reviewer's report in markdown (tabulate), rendered from the JSON report alone.

Top to bottom: the findings in plain sentences (every number in them from the run), the map
from the paper's statements to claim ids, the run's set-up and what could not run, every claim
at a glance, then one chapter per family: what the family says about itself (its `section`
hook), its assumption table (only its own assumptions), and one section per claim with its
whole story (statement, assumptions and what dropping each showed, evidence, counterexample
with both sides and its replay, the spec's witnesses, undecided cases and why).
"""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from verify.running.registry import Family, families

NEEDED_MARK = {"needed": "**needed**", "not tested": "not tested"}


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


def _sides_text(sides: dict[str, Any]) -> str:
    verb = "holds" if sides.get("holds") else f"fails by {-sides['margin']:.3g}"
    return (f"lhs = {sides['lhs']!r} {sides['relation']} rhs = {sides['rhs']!r}  "
            f"({verb}; tolerance {sides['tolerance']:.3g})")


def _case_block(case: dict[str, Any], sides: dict[str, Any] | None, replay: str | None) -> list[str]:
    lines = ["```"]
    lines += [f"{name} = {_matrix_text(value)}" for name, value in case.items()]
    if sides:
        lines.append(_sides_text(sides))
    lines.append("```")
    if replay:
        lines += [f"replay: `{replay}`", ""]
    return lines


def _share(failures: dict[str, int] | None) -> str:
    if not failures or not failures["judged"]:
        return ""
    k, m = failures["failing"], failures["judged"]
    return f"; {k} of the {m} cases judged failed ({k / m:.2%})"


def _families(report: dict[str, Any]) -> list[tuple[Any, list[dict[str, Any]]]]:
    """(family, its claims in the report) for each family with claims here, in report order; a
    family the registry does not know (a report from elsewhere, a test's own claims) gets a plain
    chapter under its name."""
    known = {f.name: f for f in families()}
    names = [f.name for f in families()] + [c["family"] for c in report["claims"] if c["family"] not in known]
    out = []
    for name in dict.fromkeys(names):
        claims = [c for c in report["claims"] if c["family"] == name]
        if claims:
            out.append((known.get(name) or Family(name, 1000, ()), claims))
    return out


# --- findings ------------------------------------------------------------------------------------


def _needed_text(c: dict[str, Any]) -> str:
    needed = [a["name"] for a in c["assumptions"] if a["status"] == "needed"]
    spare = [a for a in c["assumptions"] if a["status"] == "not needed"]
    text = ""
    if needed:
        text += f" It needs {', '.join(needed)} (each, dropped alone, gave a counterexample)."
    if spare:
        text += " Not needed in this run: " + ", ".join(f"{a['name']} ({a['cases']:,} cases)" for a in spare) + "."
    return text


def findings(report: dict[str, Any]) -> list[str]:
    out = ["## Findings", ""]
    for family, claims in _families(report):
        holds = [c for c in claims if c["verdict"] == "holds"]
        refuted = [c for c in claims if c["verdict"] == "refuted"]
        other = [c for c in claims if c["verdict"] not in ("holds", "refuted")]
        doc = (family.doc or family.name).strip().splitlines()[0]
        out += [f"**{doc}**", ""]
        for c in holds:
            evidence = c["evidence"]
            cert = c.get("certificate") or {}
            if evidence.startswith("certified"):
                evidence += f" for {cert['certified']} of {cert['cases']} drawn weights, the rest sampled"
            out.append(f"- Holds: **{c['id']}**, {c['statement']}: no counterexample in {c['cases']:,} cases "
                       f"({evidence}).{_needed_text(c)}")
        for c in refuted:
            out.append(f"- Fails: **{c['id']}**, {c['statement']}: a counterexample meeting every assumption it "
                       f"states{_share(c.get('failures'))}. " + (c.get("story") or "")
                       + (f" {c['explanation']}" if c.get("explanation") else ""))
        for c in other:
            out.append(f"- Undecided: **{c['id']}** ({c['verdict']}): " + "; ".join(
                r["note"] or ", ".join(f"{k} ({n})" for k, n in r["undecided"].items()) for r in c["runs"]))
        if family.findings is not None:
            out += family.findings(report.get("families", {}).get(family.name) or {}, report)
        out.append("")
    mismatches = [c["id"] for c in report["claims"] if not c["matches"]]
    total = len(report["claims"])
    out += [f"{total - len(mismatches)} of {total} claims reproduce the verdict the spec expects"
            + (f"; not: {', '.join(mismatches)}." if mismatches else "."), ""]
    return out


def paper_map(report: dict[str, Any]) -> list[str]:
    rows = [[c["paper"] or "-", c["id"], c["verdict"], c["evidence"]] for c in report["claims"]]
    return ["## The paper, mapped", "",
            "What each claim checks in Yang, Huang, Wipf, *Transformers from an Optimization Perspective* "
            "(NeurIPS 2022, arXiv:2205.13891), and what this run found. Figure numbers are those of the authors' "
            "README (FFTYYY/Transformers-From-Optimization); section and equation numbers are not given: the paper's "
            "text was not available to this run, and a number that was not checked is not printed.", "",
            tabulate(rows, headers=["the paper", "claim", "verdict", "evidence"], tablefmt="github"), ""]


# --- the run and the claims at a glance -------------------------------------------------------


def run_section(report: dict[str, Any]) -> list[str]:
    meta = report["meta"]
    out = ["## Run", ""]
    out += [tabulate([
        ["profile", meta["profile"]], ["seed", meta["seed"]], ["devices", ", ".join(meta["devices"])],
        ["dtypes", ", ".join(meta["dtypes"])], ["started", meta["started"]],
        ["duration", f"{meta['seconds']:.1f} s"], ["complete", meta["complete"]],
        *[[k, v] for k, v in meta["versions"].items()],
    ], headers=["", ""], tablefmt="github"), ""]
    out += ["## What could not run", ""]
    out += [f"- {s}" for s in meta["could_not_run"]] or ["- nothing: every requested claim, device and dtype ran"]
    return out + [""]


def glance(report: dict[str, Any]) -> list[str]:
    dtypes = report["meta"]["dtypes"]
    rows = []
    for c in report["claims"]:
        worst = {r["dtype"]: r["worst_slack"] for r in c["runs"]}
        undecided = sum(c.get("undecided", {}).values())
        rows.append([c["id"], c["verdict"], c["expected"] + ("" if c["matches"] else " (MISMATCH)"), c["evidence"],
                     f"{c['cases']:,}", *[_slack(worst.get(d)) for d in dtypes], undecided or "-"])
    return ["## Claims at a glance", "",
            "Evidence: *counterexample* (a shrunk case that meets every assumption and breaks the claim), *sampled* "
            "(no counterexample among the cases judged), *certified-all* / *certified-instance* (a certificate settles "
            "the drawn weights for every input / the drawn case; the certificates section gives how many). Worst slack: "
            "the smallest margin / scale per dtype (negative within its tolerance where rounding moved it; for a "
            "refuted claim, its counterexample's). Undecided: cases no judgement could be made on (overflow, "
            "precision), counted, never passed.", "",
            tabulate(rows, headers=["claim", "verdict", "expected", "evidence", "cases",
                                    *[f"worst slack {d}" for d in dtypes], "undecided"], tablefmt="github"), ""]


# --- one chapter per family --------------------------------------------------------------------


def assumption_table(claims: list[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for c in claims:
        names += [a["name"] for a in c["assumptions"] if a["name"] not in names]
    if not names:
        return []
    rows = []
    for c in claims:
        cells = {a["name"]: a for a in c["assumptions"]}
        row = [c["id"]]
        for name in names:
            a = cells.get(name)
            if a is None:
                row.append("·")
            elif a["status"] == "not needed":
                row.append(f"not needed ({a['cases']:,})")
            else:
                row.append(NEEDED_MARK[a["status"]])
        rows.append(row)
    return ["Each assumption dropped alone, the others kept, and the claim searched again (float64): **needed** "
            "(a counterexample appeared), *not needed in N cases*, *not tested* (why: in the claim's section); `·` "
            "where the claim does not make it.", "",
            tabulate(rows, headers=["claim", *names], tablefmt="github"), ""]


def certificate_lines(cert: dict[str, Any]) -> list[str]:
    counts = (f"{cert['certified']} of {cert['cases']} drawn cases certified, {cert['inconclusive']} inconclusive "
              f"(margin within the error bound, or solver trouble), {cert['refuted']} refuted; smallest margin "
              f"{_slack(cert['min_margin'])}, largest error bound {_slack(cert['max_error_bound'])}")
    if cert["kind"] == "eigenvalue":
        how = (f"eigenvalue computation: {cert['quantity']} >= {cert['bound']:.6g}, values from "
               f"{_slack(cert['min_value'])} to {_slack(cert['max_value'])}")
    else:
        statuses = ", ".join(f"{k} ({n})" for k, n in cert["statuses"].items())
        how = (f"{cert['solver']}: statuses {statuses}; largest duality gap {_slack(cert['max_gap'])}, "
               f"KKT residual {_slack(cert['max_residual'])}")
    note = f" The draws stopped early: {cert['note']}." if cert.get("note") else ""
    return [f"- Certificate ({cert['level']}, for {cert['scope']}): {cert['statement']}. By {how}. {counts}.{note}"]


def claim_section(c: dict[str, Any]) -> list[str]:
    out = [f"### {c['id']}", "", f"{c['statement']}", "",
           f"- Paper: {c['paper'] or '-'}. Source: {c['source']}.",
           f"- Verdict: **{c['verdict']}** (expected {c['expected']}{'' if c['matches'] else ', MISMATCH'}), evidence "
           f"{c['evidence']}{', conjecture' if c['conjecture'] else ''}; {c['cases']:,} cases judged "
           f"({', '.join(f'{k} {n:,}' for k, n in c['engines'].items())})."]
    for r in c["runs"]:
        undecided = "; undecided: " + ", ".join(f"{k} ({n})" for k, n in r["undecided"].items()) if r["undecided"] else ""
        out.append(f"  - {r['device']}/{r['dtype']}: {r['verdict']}, {r['cases']:,} cases, worst slack "
                   f"{_slack(r['worst_slack'])}{undecided}" + (f"; {r['note']}" if r["note"] else ""))
    if c.get("certificate"):
        out += certificate_lines(c["certificate"])
    if c["assumptions"]:
        out.append("- Assumptions:")
        for a in c["assumptions"]:
            out.append(f"  - {a['name']}: {a['status']} ({a['reason']}"
                       + (f"{_share(a.get('failures'))}" if a["status"] == "needed" else "") + ")")
    elif not c["assumptions"]:
        out.append("- Assumptions: none stated.")
    if c["proof"]:
        out.append(f"- Proof note: {c['proof']}")
    out.append("")
    if c["counterexample"] is not None:
        out += ["Counterexample, every stated assumption met" + _share(c.get("failures")) + ":", ""]
        out += _case_block(c["counterexample"], c["sides"], c["replay"])
        if c.get("story"):
            out += [c["story"], ""]
        if c.get("explanation"):
            out += [c["explanation"], ""]
    for a in c["assumptions"]:
        if a["counterexample"] is not None:
            out += [f"Without \"{a['name']}\": shrunk counterexample, found in {a['cases']:,} cases, {a['seconds']:.1f} s:", ""]
            out += _case_block(a["counterexample"], a["sides"], a["replay"])
    witnesses = c.get("witnesses") or []
    if witnesses:
        out += ["The spec's witnesses, judged in this run:", ""]
        for w in witnesses:
            under = f"without \"{w['filed_under']}\"" if w["filed_under"] else "every assumption met"
            breaks = f"; it breaks {', '.join(w['breaks'])}" if w["breaks"] else ""
            out += [f"- {under}{breaks}:", ""] + _case_block(w["case"], w["sides"], w["replay"])
    return out


def family_chapter(family: Any, claims: list[dict[str, Any]], report: dict[str, Any]) -> list[str]:
    doc = (family.doc or family.name).strip()
    out = [f"## {family.name}: {doc.splitlines()[0].split(': ', 1)[-1]}", ""]
    if family.section is not None:
        out += family.section(report.get("families", {}).get(family.name) or {}, report)
    out += assumption_table(claims)
    for c in claims:
        out += claim_section(c)
    return out


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
    out += findings(report)
    out += paper_map(report)
    out += run_section(report)
    out += glance(report)
    for family, mine in _families(report):
        out += family_chapter(family, mine, report)
    out += ["The JSON beside this file holds the same facts for machines; its fields are described in README.md "
            "(\"The report\").", ""]
    return "\n".join(out)
