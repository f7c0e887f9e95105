"""nox sessions: tests, properties, lint, nightly, report, bench, falsification, mutants.

Each session installs the package into its own virtualenv, torch pinned to the CPU build
these machines carry.
"""

import shutil

import nox

nox.options.sessions = ["tests", "lint"]
TORCH = "torch==2.13.0"


def _install(session: nox.Session, extra: str = "test") -> None:
    session.install(TORCH)
    session.install("-e", f".[{extra}]")


@nox.session
def tests(session: nox.Session) -> None:
    """The library's tests (the README's test command)."""
    _install(session)
    session.run("python", "-m", "pytest", "-q", *session.posargs)


@nox.session
def properties(session: nox.Session) -> None:
    """Every claim as a property, under the Hypothesis profile given (default dev): nox -s properties -- nightly."""
    _install(session)
    profile = session.posargs[0] if session.posargs else "dev"
    session.run("python", "-m", "pytest", "-q", "tests/test_claims.py", "tests/test_ablations.py", "properties",
                env={"HYPOTHESIS_PROFILE": profile})


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the library, the claims and the tests."""
    session.install("ruff")
    session.run("ruff", "check", "verify", "properties", "tests", "scripts", "conftest.py", "noxfile.py")


def _cuda_available(session: nox.Session) -> bool:
    out = session.run("python", "-c", "import torch; print(torch.cuda.is_available())", silent=True)
    return bool(out) and out.strip().endswith("True")


@nox.session
def nightly(session: nox.Session) -> None:
    """The nightly profile on every available device; writes reports/nightly/latest.md and latest.json."""
    _install(session)
    devices = ["--device", "cpu"] + (["--device", "cuda"] if _cuda_available(session) else [])
    session.run("python", "-m", "verify", "run", "--profile", "nightly", *devices, *session.posargs)


@nox.session
def report(session: nox.Session) -> None:
    """Re-render the markdown report from a JSON report (default the committed nightly one)."""
    _install(session)
    session.run("python", "-m", "verify", "report", *(session.posargs or ["reports/nightly/latest.json"]))


@nox.session
def bench(session: nox.Session) -> None:
    """Throughput of the sweep engine, per-example Hypothesis and the raw batched math, with ratios
    and the n-scaling up to n = 4096 (on CUDA too where present): nox -s bench -- --json."""
    _install(session)
    devices = ["--device", "cpu"] + (["--device", "cuda"] if _cuda_available(session) else [])
    session.run("python", "-m", "verify", "bench", *devices, *session.posargs)


@nox.session
def falsification(session: nox.Session) -> None:
    """The falsification benchmark: every entry of verify.running.falsification (relations of known truth)
    through check_descent / check_equivalence at their defaults; prints each verdict, right / total and the
    seconds to refute the false ones (numbers, never asserted): nox -s falsification -- --seed 1."""
    _install(session)
    session.run("python", "-m", "verify.running.falsification", *session.posargs)


@nox.session
def mutants(session: nox.Session) -> None:
    """Mutation testing of the math modules: mutmut mutates verify/math and judges each mutant by
    tests/test_math_properties.py (pyproject's [tool.mutmut]); one worker unless given, e.g.
    nox -s mutants -- --max-children 2. Prints the survivors and writes mutants/mutmut-cicd-stats.json;
    reports/mutants.md explains every survivor. Starts from an empty mutants/: mutmut picks the tests for
    each mutant from a coverage pass it caches there, and a stale one can report a killed mutant as a survivor."""
    _install(session)
    session.install("mutmut==3.8.1")
    shutil.rmtree("mutants", ignore_errors=True)
    session.run("mutmut", "run", *(session.posargs or ["--max-children", "1"]))
    session.run("mutmut", "results")
    session.run("mutmut", "export-cicd-stats")
