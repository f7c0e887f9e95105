"""Output: a run as JSON (record), as the reviewer's markdown (markdown, rendered from the JSON),
written atomically (files), energy-curve pictures (plots), and `verify.run`'s result (result).
Nothing else formats reports."""
