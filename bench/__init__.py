"""Benchmark of the score Lambda: `python -m bench.run` (see the README, "Benchmarks")."""
