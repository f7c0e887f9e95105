"""The model: cases, claims and their assumptions, the scope of a search, slacks and
tolerances, verdicts, input validation. No math, no I/O; every other subpackage uses it."""
