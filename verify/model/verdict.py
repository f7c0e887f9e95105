"""The `Verdict`: what a search concluded, with its evidence and a way to replay it."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from torch import Tensor

from verify.model.case import Case
from verify.model.tolerance import Slack

Evidence = Literal["sampled", "certified-instance", "certified-all"]
Status = Literal["holds", "refuted", "inconclusive"]


@dataclass(frozen=True)
class Verdict:
    """holds:          no counterexample among `examples` judged cases (False when refuted
                       or when no case could be judged)
    examples:       cases judged (undecided ones are counted in `undecided`, not here)
    worst_slack:    the smallest margin / scale seen (negative: the relation failed)
    counterexample: the shrunk failing input (a Tensor for the check_* API, a Case for claims)
    evidence:       how the verdict was reached
    replay:         a command or snippet that reproduces it
    engines:        cases judged by each search engine ("hypothesis", "sweep")
    failures:       judged cases that failed (the sweep counts every failing case of the batch it
                    stopped at that fits the scope; Hypothesis stops at its first)
    frontier:       the judged cases nearest to failing (a batch, float64 on the CPU), where a
                    search engine keeps them for the gradient climb (not stored in records)
    """

    holds: bool
    examples: int
    worst_slack: float
    counterexample: Tensor | Case | None = None
    evidence: Evidence = "sampled"
    replay: str | None = None
    worst: Slack | None = None
    undecided: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    note: str = ""
    engines: dict[str, int] = field(default_factory=dict)
    failures: int = 0
    frontier: Case | None = field(default=None, compare=False, repr=False)
    informative: int | None = None
    rerun: Callable[[], Slack] | None = field(default=None, compare=False, repr=False)

    @property
    def status(self) -> Status:
        if self.counterexample is not None:
            return "refuted"
        return "holds" if self.holds else "inconclusive"

    def __str__(self) -> str:
        text = f"{self.status} ({self.evidence}, {self.examples} cases, worst slack {self.worst_slack + 0.0:.3g})"
        if self.undecided:
            text += f"; undecided: {dict(self.undecided)}"
        if self.counterexample is not None:
            text += f"\ncounterexample: {self.counterexample!r}"
            if self.worst is not None:
                w = self.worst
                text += f"\n  lhs = {w.lhs!r} {w.relation} rhs = {w.rhs!r} fails by {-w.margin:.3g} (tolerance {w.tol:.3g})"
        if self.replay:
            text += f"\nreplay: {self.replay}"
        if self.note:
            text += f"\n{self.note}"
        return text

    def to_record(self) -> dict[str, Any]:
        """Everything the verdict holds, as JSON (full precision), for shards to be merged later."""
        if self.counterexample is not None and not isinstance(self.counterexample, Case):
            raise TypeError("only a claim's verdict (its counterexample a Case) is stored as a record")
        return {
            "holds": self.holds, "examples": self.examples, "worst_slack": _finite(self.worst_slack),
            "counterexample": self.counterexample.to_json() if self.counterexample is not None else None,
            "evidence": self.evidence, "replay": self.replay,
            "worst": None if self.worst is None else {k: _finite(v) if isinstance(v, float) else v
                                                      for k, v in dataclasses.asdict(self.worst).items()},
            "undecided": dict(self.undecided), "seconds": self.seconds, "note": self.note, "engines": dict(self.engines),
            "failures": self.failures,
        }

    @staticmethod
    def from_record(record: dict[str, Any]) -> Verdict:
        """The inverse of `to_record`."""
        worst = record["worst"]
        return Verdict(
            holds=record["holds"], examples=record["examples"], worst_slack=_nan(record["worst_slack"]),
            counterexample=Case.from_json(record["counterexample"]) if record["counterexample"] is not None else None,
            evidence=record["evidence"], replay=record["replay"],
            worst=None if worst is None else Slack(**{k: _nan(v) if k not in ("relation", "undecided") else v
                                                      for k, v in worst.items()}),
            undecided=Counter(record["undecided"]), seconds=record["seconds"], note=record["note"],
            engines=dict(record["engines"]), failures=record["failures"],
        )


def _finite(x: float) -> float | None:
    """JSON has no NaN or infinity: an undefined number is null."""
    return x if math.isfinite(x) else None


def _nan(x: float | None) -> float:
    return math.nan if x is None else x


def combine(*verdicts: Verdict) -> Verdict:
    """One verdict from searches of the same claim by several engines (or shards): refuted by the
    first that found a counterexample (whose margin is then the worst slack), holds only if every
    one holds, cases and time added up."""
    refuted = next((v for v in verdicts if v.counterexample is not None), None)
    engines: Counter[str] = Counter()
    undecided: Counter[str] = Counter()
    for v in verdicts:
        engines.update(v.engines)
        undecided.update(v.undecided)
    judged = [v for v in verdicts if v.worst is not None or v.counterexample is not None]
    lead = refuted or (min(judged, key=lambda v: v.worst_slack) if judged else verdicts[0])
    return Verdict(
        holds=refuted is None and all(v.holds for v in verdicts),
        examples=sum(v.examples for v in verdicts),
        worst_slack=refuted.worst_slack if refuted is not None else
        min((v.worst_slack for v in verdicts if v.worst_slack == v.worst_slack), default=float("nan")),
        counterexample=lead.counterexample,
        evidence=lead.evidence,
        replay=lead.replay,
        worst=lead.worst,
        undecided=undecided,
        seconds=sum(v.seconds for v in verdicts),
        note="; ".join(v.note for v in verdicts if v.note),
        engines=dict(engines),
        failures=sum(v.failures for v in verdicts),
    )
