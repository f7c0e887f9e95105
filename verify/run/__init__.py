"""Running: the registry of families and claims (registry), the runner over claims x devices x
dtypes x ablations (runner), the researcher-facing checks (check) and the benchmarks (bench)."""
