# RDS Proxy stand-in (PgBouncer, tools/pgproxy.py): the test suite through it, and the load benchmark of many
# Lambda environments (bench/load.py). Included by the Makefile. Needs pgbouncer (Debian: apt-get install
# pgbouncer; .ci/run installs it).
# LOAD_ARGS passes options through, e.g. `make bench-load LOAD_ARGS="--requests 100 --envs 1,8"`.

LOAD_ARGS ?=
# The fault tests join the proxied run once they exist.
PROXY_TEST_PATHS := tests/integration $(wildcard tests/faults)

.PHONY: test-proxy bench-load bench-load-quick

test-proxy: install ## The integration (and fault) tests with the service going through PgBouncer (transaction pooling)
	TEST_VIA_PROXY=1 $(PYTEST) $(PROXY_TEST_PATHS)

bench-load: install ## Load benchmark: N Lambda environments on 8 proxied server connections, three pool modes; minutes
	$(BENCH_PYTHON) -m bench.load $(LOAD_ARGS)

bench-load-quick: install ## The load benchmark with few environments and requests: a smoke run
	$(BENCH_PYTHON) -m bench.load --quick $(LOAD_ARGS)
