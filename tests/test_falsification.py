"""The falsification benchmark's table is what it says: each entry's truth agrees with its own
witness, computed here with plain torch (no search engine), and the table has the mix the
benchmark needs. The engine's verdicts are the benchmark's to measure, never asserted here."""

from __future__ import annotations

import re

import pytest
import torch

from verify.running.falsification import ENTRIES, Entry, failure_rate, format_benchmark
from verify.running.falsification.domains import description

FALSE = [e for e in ENTRIES if not e.truth]
TRUE = [e for e in ENTRIES if e.truth]
SLACK = 1e-9  # relative: far above float64 rounding here, far below every witnessed failure


def relation_gap(entry: Entry, Y: torch.Tensor) -> float:
    """E(step Y) - E(Y), or max |f(Y) - g(Y)|, relative to the size of what was compared (plus 1)."""
    with torch.no_grad():
        if entry.kind == "descent":
            before = entry.second(Y)
            after = entry.second(entry.first(Y))
            return float(after - before) / (1 + float(before.abs()) + float(after.abs()))
        f, g = entry.first(Y), entry.second(Y)
        size = max(float(f.abs().max()), float(g.abs().max()), float(Y.abs().max()))
        return float((f - g).abs().max()) / (1 + size)


def random_inputs(entry: Entry, count: int = 200, batch: int = 10) -> list[torch.Tensor]:
    """`count` uniform draws of the entry's inputs, in batches of one size each."""
    cases = description(entry.cases)
    generator = torch.Generator().manual_seed(1234)
    out: list[torch.Tensor] = []
    while len(out) < count:
        out.extend(cases.sample(generator, batch).tensor("Y"))
    return out[:count]


def edge_inputs(entry: Entry) -> list[torch.Tensor]:
    """Zeros, repeated and constant rows, sign patterns, at the smallest and largest sizes, where in the domain."""
    cases = description(entry.cases)
    found = []
    for n in sorted({cases.n[0], cases.n[1]}):
        for d in sorted({cases.d[0], cases.d[1]}):
            ramp = torch.arange(n * d, dtype=torch.float64).reshape(n, d) / (n * d)
            for Y in (torch.zeros(n, d), torch.ones(n, d), 3 * torch.ones(n, d), ramp, -ramp, ramp.flip(0), 1e-3 * ramp,
                      torch.where(ramp > 0.5, 1.0, -1.0)):
                Y = Y.to(torch.float64)
                if entry.in_domain(Y):
                    found.append(Y)
    return found


def test_the_table_has_the_mix_the_benchmark_needs():
    assert len(ENTRIES) >= 40
    assert len(FALSE) >= 18 and len(TRUE) >= 18
    assert len({e.name for e in ENTRIES}) == len(ENTRIES), "entry names must be unique"
    assert {e.kind for e in ENTRIES} == {"descent", "equivalence"}
    rare = [e for e in FALSE if e.rare]
    assert len(rare) >= 3
    for e in rare:
        assert re.fullmatch(r"about 1 in [\d,]+ draws", e.rare), f"{e.name}: rare should read 'about 1 in N draws'"
    for e in ENTRIES:
        assert e.why and "\n" not in e.why


@pytest.mark.parametrize("entry", FALSE, ids=lambda e: e.name)
def test_a_false_entry_fails_on_its_witness(entry):
    """The recorded input is one of the entry's inputs and breaks the relation, computed directly."""
    Y = entry.witness_tensor()
    assert entry.in_domain(Y), f"{entry.name}: the witness lies outside the entry's inputs"
    assert relation_gap(entry, Y) > SLACK, f"{entry.name}: the witness does not fail"


@pytest.mark.parametrize("entry", TRUE, ids=lambda e: e.name)
def test_a_true_entry_never_fails_on_a_brute_force_sample(entry):
    """200 uniform draws of the entry's inputs and a few edge cases: the relation never fails beyond rounding."""
    for Y in random_inputs(entry) + edge_inputs(entry):
        gap = relation_gap(entry, Y)
        assert gap <= SLACK, f"{entry.name} fails by {gap:.3g} at {Y.tolist()}"


def test_failure_rate_counts_the_failing_draws():
    """failure_rate (the brute force behind `rare`) is 1 for a relation that always fails and 0 for one that never does."""
    always = next(e for e in FALSE if e.name == "ff-step-sign-flip")
    never = next(e for e in TRUE if e.name == "layer-norm-odd")
    assert failure_rate(always, 60, batch=30) == 1.0
    assert failure_rate(never, 60, batch=30) == 0.0


def test_the_printout_has_the_table_and_the_summary():
    """format_benchmark on made-up rows (no engine runs here)."""
    rows = [
        {"name": "a", "truth": True, "verdict": "holds", "right": True, "seconds": 2.0, "cases": 100, "rare": None},
        {"name": "b", "truth": False, "verdict": "refuted", "right": True, "seconds": 0.2, "cases": 3, "rare": "about 1 in 10 draws"},
        {"name": "c", "truth": False, "verdict": "refuted", "right": True, "seconds": 0.4, "cases": 5, "rare": None},
        {"name": "d", "truth": False, "verdict": "holds", "right": False, "seconds": 2.5, "cases": 900, "rare": "about 1 in 5 draws"},
    ]
    text = format_benchmark(rows)
    for header in ("name", "truth", "verdict", "right?", "seconds", "cases", "rare"):
        assert header in text
    assert "right: 3 / 4" in text
    assert "median 0.30, worst 0.40" in text
    assert "false entries not refuted: d" in text
    assert "b 0.20 s" in text and "d 2.50 s (holds)" in text
