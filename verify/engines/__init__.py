"""Engines that search a scope for a counterexample: Hypothesis (search: structure, targeting,
shrinking), the batched sweep (sweep: volume, on any device) and the shrinker of sweep-found
cases (shrink); their budgets and Hypothesis profiles (profiles)."""
