"""The falsification benchmark (issue 12, item 7): relations of known truth, judged by the public API.

    table       ENTRIES: at least 40 step/energy and f/g pairs, half false, some failing rarely
    entry       Entry, the plain-torch judge (`violation`, `fails`) and `failure_rate` (brute force)
    domains     an entry's inputs: the default cases, or a narrower domain as verify.draw fields
    functions   the steps, energies and maps the table pairs up
"""

from verify.running.falsification.entry import Entry, fails, failure_rate, violation
from verify.running.falsification.table import ENTRIES

__all__ = ["ENTRIES", "Entry", "failure_rate", "fails", "violation"]
