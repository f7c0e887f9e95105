"""The falsification benchmark (issue 12, item 7): relations of known truth, judged by the public API.

    table       ENTRIES: at least 40 step/energy and f/g pairs, half false, some failing rarely
    entry       Entry, the plain-torch judge (`violation`, `fails`) and `failure_rate` (brute force)
    domains     an entry's inputs: the default cases, or a narrower domain as verify.draw fields
    functions   the steps, energies and maps the table pairs up
    benchmark   run_benchmark (the public API at its defaults on every entry) and format_benchmark

`python -m verify.running.falsification` (or `nox -s falsification`) prints the table with the
verdicts, the seconds each took and a summary: numbers printed, never asserted.
"""

from verify.running.falsification.benchmark import format_benchmark, run_benchmark
from verify.running.falsification.entry import Entry, fails, failure_rate, violation
from verify.running.falsification.table import ENTRIES

__all__ = ["ENTRIES", "Entry", "failure_rate", "fails", "format_benchmark", "run_benchmark", "violation"]
