"""Scripts that print numbers: the side-by-side benchmark, the load and fault suites (never timed tests)."""
