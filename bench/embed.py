"""The embed routes in one warm process: ``python -m bench.embed CONFIG RESULT``.

Three cases, each timed over ``iterations`` calls after a warm-up, then called once more through the
counting proxy of ``bench.proxy`` for its round trips and statements (the same counts as ``bench.roundtrips``):

- save 10 new stamps, first score: before each call (untimed) the address's cache rows and everything its
  score wrote are deleted, and the verified-proof cache is emptied, so every call inserts 10 rows and scores
  an address it never saw;
- get score, re-score: the address is already scored; the GET scores it again (as the reference does);
- validate-api-key with a key whose SHA-256 digest is stored (the fast path; no PBKDF2).
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import psycopg

from bench import dataset
from bench.harness import WorkerConfig, forget_verified_proofs, run_worker
from bench.proxy import CountingProxy
from tools.lambda_context import LambdaContext

SAVE_PROVIDERS = dataset.PROVIDERS[:10]
TARGET_GROUP = (
    "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/passport-embed/0123456789abcdef"
)


def alb_event(
    method: str, path: str, body: str = "", headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """An event as the internal load balancer sends it (how production calls these routes)."""
    return {
        "requestContext": {"elb": {"targetGroupArn": TARGET_GROUP}},
        "httpMethod": method,
        "path": path,
        "queryStringParameters": {},
        "headers": {"host": "scorer-internal", "content-type": "application/json", **(headers or {})},
        "body": body,
        "isBase64Encoded": False,
    }


def cases(
    config: WorkerConfig, reset_conn: psycopg.Connection[Any]
) -> list[tuple[str, dict[str, Any], Callable[[], None]]]:
    """(name, event, untimed preparation before each call)."""
    from tools.credentials import issue_stamp

    data = config.data
    community = data.throughput_scorer_id
    save_address = dataset.bench_address("embed save")
    stamps = [issue_stamp(save_address, p, expiration=dataset.EXPIRATION) for p in SAVE_PROVIDERS]
    save_case = dataset.Case("embed save", community, save_address, len(stamps))

    def fresh_address() -> None:
        reset_conn.execute("DELETE FROM ceramic_cache_ceramiccache WHERE address = %s", (save_address,))
        dataset.reset(reset_conn, save_case)
        forget_verified_proofs()

    rescored = next(case for case in data.cases if case.stamps == 10)
    return [
        (
            "embed save 10 new stamps, first score",
            alb_event(
                "POST",
                f"/internal/embed/stamps/{save_address}",
                json.dumps({"scorer_id": community, "stamps": stamps}),
            ),
            fresh_address,
        ),
        (
            "embed get score, re-score",
            alb_event("GET", f"/internal/embed/score/{rescored.scorer_id}/{rescored.address}"),
            lambda: None,
        ),
        (
            "embed validate-api-key, sha256 key",
            alb_event("GET", "/internal/embed/validate-api-key", headers={"x-api-key": data.api_key}),
            lambda: None,
        ),
    ]


def call(event: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    from handlers.embed import handler

    event = copy.deepcopy(event)
    started = time.perf_counter()
    response = handler(event, LambdaContext())
    elapsed = (time.perf_counter() - started) * 1000
    if response["statusCode"] != 200:
        raise RuntimeError(
            f"{event['path']}: expected 200, got {response['statusCode']} {response['body'][:300]}"
        )
    return elapsed, response


def measure(config: WorkerConfig) -> dict[str, Any]:
    iterations, warmup = int(config.options["iterations"]), int(config.options["warmup"])
    results: list[dict[str, Any]] = []
    with psycopg.connect(config.dsn, autocommit=True) as reset_conn:
        measured = cases(config, reset_conn)
        for name, event, prepare in measured:
            samples = []
            for n in range(warmup + iterations):
                prepare()
                elapsed, response = call(event)
                if n >= warmup:
                    samples.append(elapsed)
            results.append({"case": name, "samples": samples, "response_bytes": len(response["body"])})
        _count_round_trips(config, measured, results)
    return {"cases": results}


def _count_round_trips(
    config: WorkerConfig,
    measured: list[tuple[str, dict[str, Any], Callable[[], None]]],
    results: list[dict[str, Any]],
) -> None:
    """One more call per case, the pool now connected through the counting proxy."""
    from scorer_core import db
    from scorer_core.settings import get_settings

    proxy = CountingProxy(config.dsn)
    db.close_pool()
    os.environ["DATABASE_URL"] = proxy.dsn_through(config.dsn)
    get_settings.cache_clear()
    call(measured[-1][1])  # opens the pool through the proxy, uncounted
    for (_, event, prepare), result in zip(measured, results, strict=True):
        prepare()
        before, core_before = proxy.snapshot(), db.total_statement_count()
        call(event)
        wire = proxy.snapshot().since(before)
        result["database"] = {"core_statements": db.total_statement_count() - core_before, **asdict(wire)}
    proxy.close()


if __name__ == "__main__":
    run_worker(measure)
