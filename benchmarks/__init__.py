"""Benchmarks (``make bench``): figures, not pass/fail; results go to benchmarks/results/."""
