"""Proof: certificates above a sampled pass (verify.proof.certificate), certifying a claim over
drawn cases (certify), the cvxpy sub-problems (convex: import it only where a solve happens,
cvxpy is heavy and absent on some machines) and the PEPit cross-check (pep)."""
