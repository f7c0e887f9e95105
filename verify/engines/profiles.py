"""Search profiles: how hard each run looks.

Hypothesis profiles for the test suite:
- `dev` (default on a laptop): few examples, database on, no deadline;
- `ci` (Hypothesis's own, loaded when the CI variable is set): derandomized, no database;
- `nightly`: many examples, database on.

`search_settings(profile)` gives the settings a claim search runs under; searches are
always seeded (`verify.search`), so a profile without a database is reproducible.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from hypothesis import HealthCheck, Verbosity, settings
from hypothesis.database import DirectoryBasedExampleDatabase

SLOW_OK = (HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large)

@dataclass(frozen=True)
class Budget:
    """Cases per search in a run: the float64 reference search, each other dtype or device,
    each ablation (one assumption dropped), and the certificate draws, for Hypothesis; the
    sweep engine's cases per search (each of the above) for claims with a batched check; and the
    gradient climb's steps and starting cases (the reference search only, unless `climb_all`)."""

    reference: int
    other: int
    ablation: int
    certificates: int
    sweep: int
    climb_steps: int = 30
    climb_frontier: int = 16
    climb_all: bool = False


BUDGETS = {
    "quick": Budget(reference=100, other=40, ablation=50, certificates=20, sweep=20_000),
    "dev": Budget(reference=100, other=40, ablation=50, certificates=20, sweep=20_000),
    "ci": Budget(reference=100, other=40, ablation=50, certificates=20, sweep=20_000),
    "nightly": Budget(reference=2000, other=2000, ablation=2000, certificates=200, sweep=1_000_000,
                      climb_steps=200, climb_frontier=64, climb_all=True),
}
DATABASE_DIR = os.path.join(".hypothesis", "verify")

settings.register_profile("dev", max_examples=BUDGETS["dev"].reference, deadline=None, suppress_health_check=SLOW_OK)
settings.register_profile(
    "nightly",
    max_examples=BUDGETS["nightly"].reference,
    deadline=None,
    suppress_health_check=SLOW_OK,
    database=DirectoryBasedExampleDatabase(DATABASE_DIR),
)


def load_test_profile() -> str:
    """Load HYPOTHESIS_PROFILE if set, else keep `ci` under CI, else `dev`; return its name."""
    name = os.environ.get("HYPOTHESIS_PROFILE")
    if name is None:
        name = "ci" if os.environ.get("CI") else "dev"
    settings.load_profile(name)
    return name


def search_settings(profile: str, max_examples: int | None = None) -> settings:
    """Quiet, deadline-free settings for one claim search under a named profile."""
    if profile not in BUDGETS:
        raise ValueError(f"profile must be one of {sorted(BUDGETS)}, got {profile!r}")
    database = DirectoryBasedExampleDatabase(DATABASE_DIR) if profile == "nightly" else None
    return settings(
        max_examples=max_examples if max_examples is not None else BUDGETS[profile].reference,
        deadline=None,
        database=database,
        derandomize=False,
        suppress_health_check=SLOW_OK,
        verbosity=Verbosity.quiet,
        report_multiple_bugs=False,
        print_blob=False,
    )
