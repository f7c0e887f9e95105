"""Certifying a claim over drawn cases: each case's certificate, and their summary.

A certificate that fails (its matrix inequality is violated) is a counterexample for its scope
and is shrunk like any other (the Hypothesis engine searches for one); margins inside the
error bound and solver trouble count as inconclusive.
"""

from __future__ import annotations

import torch

from verify.engines.profiles import BUDGETS, search_settings
from verify.engines.search import DEFAULT_SEED, falsify
from verify.model.case import Case
from verify.model.claim import Claim
from verify.model.tolerance import Slack
from verify.proof.certificate import CertificateSummary, Certification, Certifier, summarize


def certify(
    claim: Claim, *, profile: str = "quick", max_examples: int | None = None, seed: int = DEFAULT_SEED
) -> CertificateSummary | None:
    """Certificates for cases drawn with every assumption met (float64, CPU); None when the claim has none."""
    certifier: Certifier | None = claim.certify
    if certifier is None:
        return None
    certs: list[Certification] = []

    def judge(case: Case) -> Slack:
        cert = certifier.one(case.to(torch.float64))
        certs.append(cert)
        if cert.holds is None:
            why = cert.produced.get("status", "solver trouble") if cert.kind == "solver" else "margin within the error bound"
            return Slack.skip(f"certificate inconclusive ({why})")
        return Slack(0.0, cert.margin, cert.margin, cert.error_bound, max(1.0, abs(cert.margin)))

    budget = max_examples if max_examples is not None else BUDGETS[profile].certificates
    verdict = falsify(claim.scope().strategy(), judge, settings=search_settings(profile, budget), seed=seed)
    if not certs:
        return None
    details = certifier.details(certs) if certifier.details is not None else {}
    return summarize(certs, verdict.counterexample, verdict.seconds, details, note=verdict.note)  # type: ignore[arg-type]
