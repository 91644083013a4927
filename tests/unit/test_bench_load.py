"""The load benchmark's bookkeeping: error kinds, one run's summary, the table and the targets."""

from __future__ import annotations

import json

import pytest

from bench.load import MODES, LoadPlan, summarize, table, targets
from bench.load_env import error_kind

SCORED = json.dumps({"score": "21.00000", "error": None})


def record(ms: float, error: str | None = None, lifo: int = 1, connect: float = 0.1) -> dict[str, object]:
    return {"at": 0.0, "ms": ms, "connect_ms": connect, "error": error, "lifo_attempts": lifo, "case": "own"}


def test_error_kinds() -> None:
    assert error_kind(200, SCORED) is None
    assert error_kind(200, json.dumps({"score": "0", "error": "'expirationDate'"})) == "200 'expirationDate'"
    assert (
        error_kind(500, json.dumps({"error": "DB Error: OperationalError"}))
        == "500 DB Error: OperationalError"
    )
    assert error_kind(502, "Bad Gateway") == "502 Bad Gateway"


def test_a_run_is_summarized_from_its_environments_and_the_proxy() -> None:
    plan = LoadPlan(requests=2)
    outcomes = [
        {"started": 10.0, "ended": 11.0, "records": [record(5.0), record(7.0, lifo=3)], "warmup_errors": []},
        {
            "started": 10.5,
            "ended": 12.0,
            "records": [record(6.0, connect=40.0), record(9.0, "500 DB Error: OperationalError")],
            "warmup_errors": ["500 DB Error: OperationalError"],
        },
        {"crashed": "Traceback ...", "records": [], "warmup_errors": []},
    ]
    run = summarize(
        plan,
        MODES["transaction"],
        3,
        True,
        outcomes,
        {"server_connections_open": 8.0, "server_connections_active": 5.0, "proxy_wait_max_ms": 30.0},
        {"total_xact_count": 100, "total_wait_time": 0},
        {"total_xact_count": 104, "total_wait_time": 8000},
        {101: {}, 102: {"prepared_statements": ["leftover"]}},
    )
    assert (run["requests"], run["expected"], run["unanswered"], run["ok"]) == (4, 6, 2, 3)
    assert run["errors"] == {"500 DB Error: OperationalError": 1}
    assert run["warmup_errors"] == {"500 DB Error: OperationalError": 1}
    assert len(run["crashed_environments"]) == 1
    assert run["seconds"] == pytest.approx(2.0) and run["ok_per_s"] == pytest.approx(1.5)
    assert run["lifo_retries"] == 2
    assert run["proxy_wait_mean_ms"] == pytest.approx(2.0)
    assert run["connect_ms"]["max"] == 40.0
    assert run["leftover_backends"] == {"102": {"prepared_statements": ["leftover"]}}
    assert run["inspected_backends"] == 2

    results = {"plan": plan.__dict__, "runs": [run]}
    text = table(results)
    assert "| transaction | 3 | warm | 4/6 | 1 |" in text
    assert "warm-up: 500 DB Error: OperationalError x1" in text and "1 environments crashed" in text
    assert "1 backends (of 2 inspected over 1 runs)" in targets(results)


def test_the_targets_compare_against_the_single_environment_and_direct_runs() -> None:
    plan = LoadPlan(requests=1)

    def run(
        mode: str, envs: int, p50: float, p99: float, per_s: float, start: str = "warm"
    ) -> dict[str, object]:
        return {
            "mode": mode,
            "envs": envs,
            "start": start,
            "errors": {},
            "unanswered": 0,
            "requests": envs,
            "expected": envs,
            "latency_ms": {"p50": p50, "p99": p99},
            "connect_ms": {"max": 12.0},
            "ok_per_s": per_s,
            "peaks": {"proxy_wait_max_ms": 900.0},
            "server_connections_cap": None if mode == "direct" else 8,
            "leftover_backends": {},
            "inspected_backends": 0 if mode == "direct" else 8,
        }

    results = {
        "plan": plan.__dict__,
        "runs": [
            run("transaction", 1, 10.0, 12.0, 90.0),
            run("transaction", 32, 60.0, 99.0, 150.0),
            run("direct", 32, 50.0, 90.0, 200.0),
            run("transaction", 64, 80.0, 300.0, 150.0, "cold burst"),
        ],
    }
    text = targets(results)
    assert "p99 99.0 ms vs 10 x single-environment p50 = 100.0 ms: met" in text
    assert "150.0 req/s vs direct 200.0 req/s: 75 % (missed" in text
    assert (
        "64/64 answered, 0 errors, longest wait for a connection 900 ms (connect timeout 5000 ms: met)"
        in text
    )
