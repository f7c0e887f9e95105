"""Run the public checks on every entry of the table and print how they did: numbers, never asserted.

    run_benchmark(seconds, seed)   one row per entry: verdict, right or not, seconds, cases judged
    format_benchmark(rows)         the table (tabulate) and a summary line

A verdict is right when a true entry holds and a false one is refuted ("inconclusive" is never
right). The time to refute is the wall-clock time of the whole call, search and shrinking, on a
false entry it refuted. `seconds` is the search budget handed to the API (None: its default).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Sequence
from typing import Any

from tabulate import tabulate

from verify.running.check import check_descent, check_equivalence
from verify.running.falsification.domains import describe
from verify.running.falsification.entry import Entry
from verify.running.falsification.table import ENTRIES


def run_entry(entry: Entry, seconds: float | None = None, seed: int = 0) -> dict[str, Any]:
    """One entry through check_descent / check_equivalence at the API's defaults (but `seconds`, `seed`)."""
    check = check_descent if entry.kind == "descent" else check_equivalence
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            verdict = check(entry.first, entry.second, cases=entry.cases, seconds=seconds, seed=seed)
            status, cases, engines, note = verdict.status, verdict.examples, dict(verdict.engines), verdict.note
        except Exception as err:  # noqa: BLE001 -- an engine that raises on an entry gets it wrong, and says why
            status, cases, engines, note = f"error: {type(err).__name__}", 0, {}, str(err).splitlines()[0] if str(err) else ""
    elapsed = time.perf_counter() - start
    expected = "holds" if entry.truth else "refuted"
    return {
        "name": entry.name, "kind": entry.kind, "truth": entry.truth, "inputs": describe(entry.cases),
        "verdict": status, "right": status == expected, "seconds": elapsed, "cases": cases, "engines": engines,
        "rare": entry.rare, "warnings": len(caught), "note": note,
    }


def run_benchmark(seconds: float | None = None, seed: int = 0, entries: Sequence[Entry] = ENTRIES) -> list[dict[str, Any]]:
    """Every entry through the public API, in the table's order."""
    return [run_entry(entry, seconds, seed) for entry in entries]


def _refuted_times(rows: Sequence[dict[str, Any]]) -> list[float]:
    return [r["seconds"] for r in rows if not r["truth"] and r["right"]]


def summary(rows: Sequence[dict[str, Any]]) -> str:
    """right / total; among the false entries: how many refuted, median and worst seconds to refute,
    those missed; the rare ones' times."""
    right = sum(r["right"] for r in rows)
    true_rows = [r for r in rows if r["truth"]]
    false_rows = [r for r in rows if not r["truth"]]
    times = _refuted_times(rows)
    lines = [f"right: {right} / {len(rows)} (true entries held: {sum(r['right'] for r in true_rows)} / {len(true_rows)}, "
             f"false entries refuted: {len(times)} / {len(false_rows)})"]
    if times:
        lines.append(f"seconds to refute (the {len(times)} refuted): median {statistics.median(times):.2f}, "
                     f"worst {max(times):.2f}")
    missed = [r["name"] for r in false_rows if not r["right"]]
    wrong_true = [r["name"] for r in true_rows if not r["right"]]
    if missed:
        lines.append(f"false entries not refuted: {', '.join(missed)}")
    if wrong_true:
        lines.append(f"true entries not judged to hold: {', '.join(wrong_true)}")
    rare = [r for r in false_rows if r["rare"]]
    if rare:
        lines.append("rare failures: " + "; ".join(
            f"{r['name']} {r['seconds']:.2f} s" + ("" if r["right"] else f" ({r['verdict']})") for r in rare))
    lines.append(f"total {sum(r['seconds'] for r in rows):.1f} s")
    return "\n".join(lines)


def format_benchmark(rows: Sequence[dict[str, Any]]) -> str:
    """The table (name, truth, verdict, right?, seconds, cases, rare) and the summary."""
    table = tabulate(
        [[r["name"], r["truth"], r["verdict"], "yes" if r["right"] else "NO", f"{r['seconds']:.2f}", r["cases"], r["rare"] or ""]
         for r in rows],
        headers=["name", "truth", "verdict", "right?", "seconds", "cases", "rare"],
    )
    return f"{table}\n\n{summary(rows)}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m verify.running.falsification",
                                     description="The falsification benchmark: every entry through the public checks.")
    parser.add_argument("--seconds", type=float, default=None, help="search budget per check (default: the API's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME", help="run only these entries")
    args = parser.parse_args(argv)
    entries = ENTRIES if args.only is None else [e for e in ENTRIES if e.name in set(args.only)]
    if args.only is not None and len(entries) != len(set(args.only)):
        unknown = sorted(set(args.only) - {e.name for e in entries})
        parser.error(f"no entry named {', '.join(unknown)}")
    print(format_benchmark(run_benchmark(args.seconds, args.seed, entries)))
