"""The math: energies, surrogates and steps per family, written once, batched over leading
dimensions, device- and dtype-agnostic; the standard layers as users write them (Q/K/V/O
weights, heads, residual, norms) kept apart from the optimisation steps (`layers`), so that
their equivalence is checked, not assumed."""
