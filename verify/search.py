"""Running a check under Hypothesis: seeded search, targeting, shrinking, one verdict.

`falsify(strategy, check)` draws cases, judges each with `check(case) -> Slack`, steers
the search with `hypothesis.target` toward the largest violation, and on a failure lets
Hypothesis shrink it to the smallest failing case. It is the one engine under both the
registry claims (`search_claim`) and the researcher-facing `check_*` API.
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

from verify.case import Case
from verify.certificates import CertificateSummary, Certification, summarize
from verify.claims import Claim
from verify.numerics import Slack
from verify.profiles import BUDGETS, search_settings
from verify.verdict import Verdict

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
    check: Callable[[T], Slack],
    *,
    settings: Settings,
    seed: int = DEFAULT_SEED,
    examples: Iterable[T] = (),
    replay: Callable[[T], str] | None = None,
) -> Verdict:
    """Search `strategy` for a case whose `check` fails; shrink it if found."""
    tally = _Tally()

    def judge(case: T) -> None:
        slack = check(case)
        tally.record(slack)
        if slack.undecided is not None:
            return
        target(max(min(slack.violation, 1e300), -1e300), label="violation")
        if not slack.ok:
            raise Violation(case, slack)

    test = given(strategy)(judge)
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
    )


def replay_command(claim_id: str, case: Case, dtype: torch.dtype, device: str) -> str:
    """`python -m verify replay CLAIM 'CASE_JSON'` (with --dtype/--device when not the default)."""
    args = f"python -m verify replay {claim_id} '{json.dumps(case.to_json())}'"
    if dtype != torch.float64:
        args += f" --dtype {str(dtype).removeprefix('torch.')}"
    if device != "cpu":
        args += f" --device {device}"
    return args


def search_claim(
    claim: Claim,
    *,
    violate: str | None = None,
    dtype: torch.dtype = torch.float64,
    device: str = "cpu",
    profile: str = "quick",
    max_examples: int | None = None,
    seed: int = DEFAULT_SEED,
    use_examples: bool = True,
) -> Verdict:
    """Search one claim, with all its assumptions met or with `violate` broken.

    The known examples for that setting (the spec's counterexamples) run first unless
    `use_examples` is False (then the search has to find its own).
    """

    def check(case: Case) -> Slack:
        return claim.check(case.to(dtype, device))

    known = claim.examples.get(violate, ()) if use_examples else ()
    return falsify(
        claim.strategy(violate),
        check,
        settings=search_settings(profile, max_examples),
        seed=seed,
        examples=known,
        replay=lambda case: replay_command(claim.id, case, dtype, device),
    )


def certify_claim(
    claim: Claim, *, profile: str = "quick", max_examples: int | None = None, seed: int = DEFAULT_SEED
) -> CertificateSummary | None:
    """Certificates for cases drawn with every assumption met (float64, CPU).

    A certificate that fails (its matrix inequality is violated) is a counterexample for
    its scope and is shrunk like any other; margins inside the error bound and solver
    trouble count as inconclusive.
    """
    if claim.certify is None:
        return None
    certify = claim.certify
    certs: list[Certification] = []

    def check(case: Case) -> Slack:
        cert = certify(case.to(torch.float64))
        certs.append(cert)
        if cert.holds is None:
            return Slack.skip(f"certificate inconclusive ({cert.status})")
        return Slack(0.0, cert.margin, cert.margin, cert.error_bound, max(1.0, abs(cert.margin)))

    budget = max_examples if max_examples is not None else BUDGETS[profile].certificates
    verdict = falsify(claim.strategy(), check, settings=search_settings(profile, budget), seed=seed)
    if not certs:
        return None
    return summarize(certs, verdict.counterexample, verdict.seconds)  # type: ignore[arg-type]
