"""Running: the registry of families and claims (registry), the runner over claims x devices x
dtypes x ablations (runner), runs split into shards and merged (shards), the researcher-facing
checks (check) and the benchmarks (bench). Named `running`, not `run`, so that the subpackage
does not shadow `verify.run`, the function of the public contract."""
