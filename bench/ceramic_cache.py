"""Benchmark of the ceramic-cache routes, in-process: ``python -m bench.ceramic_cache [--iterations N]``.

Cases: bulk POST of 1, 10 and 60 stamps (round trips must not grow with the number), the score GET of an
address whose stored score has not expired (the read-only path), the stamp list of an address that has a
score, and a score POST (a re-score). Warm latency comes from the Lambda entry point called in this process
on a direct connection; round trips and statements from one more call of each case through
``bench.proxy``'s counting proxy. The bulk POSTs re-post the same signed stamps, whose proofs the process
has verified once: they measure the cache writes and the score, not DIDKit.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from bench.dataset import EXPIRATION, PROVIDERS
from bench.proxy import CountingProxy
from bench.report import distribution
from tools import credentials, localdb, seed
from tools.lambda_context import LambdaContext

SECRET = "bench-ceramic-cache-jwt-key"
ARN = (
    "arn:aws:elasticloadbalancing:us-west-2:000000000000:targetgroup/passport-ceramic-cache/0123456789abcde1"
)


def _address(tag: str) -> str:
    return "0x" + secrets.token_hex(20) if tag == "" else "0x" + tag.encode().hex().ljust(40, "0")[:40]


def _event(
    method: str, path: str, *, token: str | None, body: Any = None, query: dict[str, str] | None = None
) -> dict[str, Any]:
    headers = {"accept": "application/json", "host": "bench.invalid"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return {
        "requestContext": {"elb": {"targetGroupArn": ARN}},
        "httpMethod": method,
        "path": path,
        "queryStringParameters": query or {},
        "headers": headers,
        "body": "" if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def load(dsn: str) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """The data and the environment: one community with a weight per provider, three addresses."""
    issuer = credentials.issuer_key()
    writer, fresh, listed = _address("bench-writer"), _address("bench-fresh"), _address("bench-listed")
    weights = {provider: 1.0 for provider in PROVIDERS}
    with psycopg.connect(dsn, autocommit=True) as conn:
        account = seed.insert_account(conn)
        scorer = seed.insert_scorer(conn, weights=weights, threshold="20.00000")
        community = seed.insert_community(conn, account, scorer, name="bench ceramic cache")
        for address in (fresh, listed):
            for provider in PROVIDERS[:10]:
                seed.insert_ceramic_stamp(
                    conn, address, credentials.issue_stamp(address, provider, expiration=EXPIRATION)
                )
            passport = conn.execute(
                "INSERT INTO registry_passport (address, community_id) VALUES (%s, %s) RETURNING id",
                (address, community),
            ).fetchone()
            assert passport is not None
            conn.execute(
                "INSERT INTO registry_score (passport_id, score, last_score_timestamp, status, evidence, stamp_scores,"
                " stamps, expiration_date) VALUES (%s, 1, now(), 'DONE', %s, '{}', %s, %s)",
                (
                    passport[0],
                    Jsonb(
                        {
                            "type": "ThresholdScoreCheck",
                            "success": False,
                            "rawScore": "10",
                            "threshold": "20.00000",
                        }
                    ),
                    Jsonb(
                        {
                            p: {"score": "1.00000", "dedup": False, "expiration_date": EXPIRATION}
                            for p in PROVIDERS[:10]
                        }
                    ),
                    datetime.now(UTC) + timedelta(days=365),
                ),
            )
    items = [
        {"provider": p, "stamp": credentials.issue_stamp(writer, p, expiration=EXPIRATION)}
        for p in PROVIDERS[:60]
    ]
    env = {
        "DATABASE_URL": dsn,
        "SECRET_KEY": SECRET,
        "CERAMIC_CACHE_SCORER_ID": str(community),
        "TRUSTED_IAM_ISSUERS": json.dumps([issuer.did]),
        "HUMAN_POINTS_ENABLED": "false",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    token = {a: credentials.access_token(a, SECRET) for a in (writer, fresh, listed)}
    cases = {
        "bulk POST of 1": _event("POST", "/ceramic-cache/stamps/bulk", token=token[writer], body=items[:1]),
        "bulk POST of 10": _event("POST", "/ceramic-cache/stamps/bulk", token=token[writer], body=items[:10]),
        "bulk POST of 60": _event("POST", "/ceramic-cache/stamps/bulk", token=token[writer], body=items[:60]),
        "score GET, fresh stored score": _event("GET", f"/ceramic-cache/score/{fresh}", token=token[fresh]),
        "stamp list (score stored)": _event(
            "GET", "/ceramic-cache/stamp", token=None, query={"address": listed}
        ),
        "score POST (re-score of 10)": _event(
            "POST", f"/ceramic-cache/score/{listed}", token=token[listed], body={}
        ),
    }
    return env, cases


def _configure(env: dict[str, str], database_url: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The environment first (the handler's logger reads it when imported), then a fresh pool on it."""
    os.environ.update(env)
    os.environ["DATABASE_URL"] = database_url
    from handlers.ceramic_cache import handler
    from scorer_core import db
    from scorer_core.settings import get_settings

    db.close_pool()
    get_settings.cache_clear()
    return handler


def measure(
    env: dict[str, str], cases: dict[str, dict[str, Any]], iterations: int, warmup: int
) -> list[dict[str, Any]]:
    from scorer_core import db

    handler = _configure(env, env["DATABASE_URL"])
    results: list[dict[str, Any]] = []
    for name, event in cases.items():
        samples = []
        for n in range(warmup + iterations):
            started = time.perf_counter()
            response = handler(json.loads(json.dumps(event)), LambdaContext())
            elapsed = (time.perf_counter() - started) * 1000
            if response["statusCode"] >= 300:
                raise RuntimeError(f"{name}: {response['statusCode']} {response['body'][:300]}")
            if n >= warmup:
                samples.append(elapsed)
        results.append({"case": name, "latency_ms": distribution(samples)})
    proxy = CountingProxy(env["DATABASE_URL"])
    handler = _configure(env, proxy.dsn_through(env["DATABASE_URL"]))
    for result in results:
        event = cases[result["case"]]
        handler(json.loads(json.dumps(event)), LambdaContext())  # opens the pool through the proxy
        before = proxy.snapshot()
        handler(json.loads(json.dumps(event)), LambdaContext())
        wire = proxy.snapshot().since(before)
        result.update(
            round_trips=wire.round_trips, statements=wire.statements, core_statements=db.statement_count()
        )
    db.close_pool()
    proxy.close()
    return results


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        f"{'case':32} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'trips':>6} {'stmts':>6}",
    ]
    for r in results:
        lat = r["latency_ms"]
        lines.append(
            f"{r['case']:32} {lat['p50']:8.2f} {lat['p95']:8.2f} {lat['p99']:8.2f} {r['round_trips']:6d} {r['statements']:6d}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--iterations", type=int, default=200, help="timed requests per case")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--json", type=Path, help="write the results there too")
    args = parser.parse_args(argv)
    dsn = localdb.create_database(f"scorer_bench_cc_{secrets.token_hex(4)}")
    try:
        env, cases = load(dsn)
        results = measure(env, cases, args.iterations, args.warmup)
    finally:
        localdb.drop_database(dsn)
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps({"cases": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
