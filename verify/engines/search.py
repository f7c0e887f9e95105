"""The Hypothesis engine: seeded search, targeting, shrinking, one verdict.

`falsify(strategy, judge)` draws cases, judges each with `judge(case) -> Slack`, steers the
search with `hypothesis.target` toward the largest violation, and on a failure lets
Hypothesis shrink it to the smallest failing case. `search(scope)` runs it on one scope of a
claim (its cases filtered by the scope's predicates, the spec's examples first); the
researcher-facing `check_*` API runs `falsify` on its own judges.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TypeVar

import torch
from hypothesis import example, given, target
from hypothesis import seed as hypothesis_seed
from hypothesis import settings as Settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky, HypothesisException

from verify.engines.profiles import search_settings
from verify.model.case import Case
from verify.model.claim import Scope
from verify.model.tolerance import Slack
from verify.model.verdict import Verdict

T = TypeVar("T")

DEFAULT_SEED = 20221127


class Violation(AssertionError):
    """Raised inside the search when a case breaks the relation."""

    def __init__(self, case: object, slack: Slack) -> None:
        super().__init__(f"relation fails by {-slack.margin:.3g} (tolerance {slack.tol:.3g})")
        self.case = case
        self.slack = slack


class _Tally:
    """What the search saw: cases judged, undecided reasons, the worst slack."""

    def __init__(self) -> None:
        self.judged = 0
        self.undecided: Counter[str] = Counter()
        self.worst: Slack | None = None

    def record(self, slack: Slack) -> None:
        if slack.undecided is not None:
            self.undecided[slack.undecided] += 1
            return
        self.judged += 1
        if self.worst is None or slack.relative < self.worst.relative:
            self.worst = slack


def falsify(
    strategy: st.SearchStrategy[T],
    judge: Callable[[T], Slack],
    *,
    settings: Settings,
    seed: int = DEFAULT_SEED,
    examples: Iterable[T] = (),
    replay: Callable[[T], str] | None = None,
) -> Verdict:
    """Search `strategy` for a case whose `judge` fails; shrink it if found."""
    tally = _Tally()

    def test_case(case: T) -> None:
        slack = judge(case)
        tally.record(slack)
        if slack.undecided is not None:
            return
        target(max(min(slack.violation, 1e300), -1e300), label="violation")
        if not slack.ok:
            raise Violation(case, slack)

    test = given(strategy)(test_case)
    for case in examples:
        test = example(case)(test)
    test = hypothesis_seed(seed)(settings(test))

    start = time.perf_counter()
    failure: Violation | None = None
    note = ""
    try:
        test()
    except Violation as err:
        failure = err
    except (Flaky, HypothesisException) as err:
        note = f"search stopped: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    except Exception as err:  # a check that raises is a bug to report, not a verdict
        note = f"check raised {type(err).__name__}: {err}"
    seconds = time.perf_counter() - start

    worst = failure.slack if failure is not None else tally.worst
    worst_slack = worst.relative if worst is not None else math.nan
    decided = tally.judged > 0 and not note
    return Verdict(
        holds=failure is None and decided,
        examples=tally.judged,
        worst_slack=worst_slack,
        counterexample=failure.case if failure is not None else None,  # type: ignore[arg-type]
        evidence="sampled",
        replay=replay(failure.case) if failure is not None and replay is not None else None,  # type: ignore[arg-type]
        worst=worst,
        undecided=tally.undecided,
        seconds=seconds,
        note=note,
        engines={"hypothesis": tally.judged},
        failures=int(failure is not None),
    )


def replay_command(claim_id: str, case: Case, dtype: torch.dtype, device: str | torch.device) -> str:
    """`python -m verify replay CLAIM 'CASE_JSON'` (with --dtype/--device when not the default)."""
    args = f"python -m verify replay {claim_id} '{json.dumps(case.to_json())}'"
    if dtype != torch.float64:
        args += f" --dtype {str(dtype).removeprefix('torch.')}"
    if str(device) != "cpu":
        args += f" --device {device}"
    return args


def search(
    scope: Scope,
    *,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
    profile: str = "quick",
    max_examples: int | None = None,
    seed: int = DEFAULT_SEED,
    use_examples: bool = True,
) -> Verdict:
    """Search one scope with Hypothesis. The spec's counterexamples for that scope run first
    unless `use_examples` is False (then the search has to find its own)."""
    claim = scope.claim

    def judge(case: Case) -> Slack:
        return claim.judge(case.to(dtype, device))

    return falsify(
        scope.strategy(),
        judge,
        settings=search_settings(profile, max_examples),
        seed=seed,
        examples=scope.examples if use_examples else (),
        replay=lambda case: replay_command(claim.id, case, dtype, device),
    )
