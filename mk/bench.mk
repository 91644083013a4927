# Benchmark of the score Lambda (bench/): see "Benchmarks" in the README. Included by the Makefile.
# BENCH_ARGS passes options through, e.g. `make bench BENCH_ARGS="--keep --iterations 500"`.

BENCH_PYTHON ?= .venv/bin/python
BENCH_ARGS ?=

.PHONY: bench bench-quick

bench: install ## Benchmark the handler (latency, round trips, cold start, memory, throughput); a few minutes
	$(BENCH_PYTHON) -m bench.run $(BENCH_ARGS)

bench-quick: install ## The benchmark with few requests and rows: a smoke run of it
	$(BENCH_PYTHON) -m bench.run --quick $(BENCH_ARGS)

.PHONY: bench-ceramic-cache
bench-ceramic-cache: install ## Benchmark the ceramic-cache routes in-process (latency, round trips, statements)
	$(BENCH_PYTHON) -m bench.ceramic_cache $(BENCH_ARGS)
