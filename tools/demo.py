"""Score the demo passport end to end on a local database: `python -m tools.demo` (`make demo`).

Starts (or joins) the project's embedded PostgreSQL, creates the `scorer_demo` database with our
copy of the Django tables, loads the demo data set (`tools.seed.demo_dataset`), then calls the
Lambda handler in-process with an API Gateway REST event, as API Gateway would, and prints the
response. The embedded server is used even where a system PostgreSQL runs, so the demo behaves
the same on every machine; it is left running, and the data kept, so a second run is quick.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib.util
import json
import os
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tools.seed import DemoData

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_EVENT = PROJECT_ROOT / "events" / "score_success_rest.json"
DEMO_DATABASE = "scorer_demo"
HANDLER_MODULE = "handlers.score"
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class LambdaContext:
    """The attributes of the Lambda runtime's context object that handlers read."""

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = "passport-score-demo"
        self.function_version = "$LATEST"
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:passport-score-demo"
        self.memory_limit_in_mb = "512"
        self.log_group_name = "/aws/lambda/passport-score-demo"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + 30

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--scorer-id", help="community to score (default: the demo binary scorer)")
    parser.add_argument("--address", help="address to score (default: the demo address)")
    parser.add_argument("--reset", action="store_true", help="drop and recreate the demo database first")
    parser.add_argument("--stop", action="store_true", help="stop the embedded PostgreSQL and exit")
    parser.add_argument("--logs", action="store_true", help="show the handler's JSON logs and metrics")
    parser.add_argument(
        "--via-proxy",
        action="store_true",
        help="go through PgBouncer in transaction pooling mode, as through RDS Proxy (needs pgbouncer)",
    )
    args = parser.parse_args(argv)
    if args.stop:
        stop_embedded_server()
        return 0

    started = time.perf_counter()
    dsn = prepare_database(reset=args.reset)
    demo = load_demo_data(dsn)
    with contextlib.ExitStack() as stack:
        if args.via_proxy:
            from tools import localdb, pgproxy

            proxy = stack.enter_context(pgproxy.PgBouncer(localdb.admin_dsn()))
            step(f"PgBouncer (transaction pooling) on 127.0.0.1:{proxy.port}")
            dsn = proxy.dsn_through(dsn)
        return score_demo(args, dsn, demo, started)


def score_demo(args: argparse.Namespace, dsn: str, demo: DemoData, started: float) -> int:
    configure_environment(dsn, demo.issuer_did, quiet=not args.logs)
    scorer_id = args.scorer_id or str(demo.community_id)
    address = args.address or demo.address
    step(
        f"demo key {demo.api_key}, community {demo.community_id} ({demo.external_scorer_id}),"
        f" address {demo.address}"
    )
    handler = import_handler()
    if handler is None:
        return 1
    response = call_handler(handler, build_event(scorer_id, address, demo.api_key))
    print_response(response)
    step(f"done in {time.perf_counter() - started:.2f} s")
    return 0


def step(message: str) -> None:
    print(f"- {message}", flush=True)


def embedded_admin_dsn() -> str:
    """The embedded server's admin DSN; the server outlives this process, for the next run."""
    os.environ["LOCALDB_FORCE_EMBEDDED"] = "1"
    from tools import localdb

    # Taking our handle first, with no stop-at-exit mode, is what keeps the server running:
    # pgserver hands tools.localdb this same handle.
    embedded_server(localdb.EMBEDDED_PGDATA, stop_at_exit=False)
    return localdb.admin_dsn()


def stop_embedded_server() -> None:
    from tools import localdb

    if not (localdb.EMBEDDED_PGDATA / "postmaster.pid").exists():
        step("embedded PostgreSQL is not running")
        return
    embedded_server(localdb.EMBEDDED_PGDATA, stop_at_exit=True).cleanup()
    step("embedded PostgreSQL stopped")


def embedded_server(pgdata: Path, *, stop_at_exit: bool) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        from pgserver.postgres_server import get_server

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        return get_server(pgdata, cleanup_mode="stop" if stop_at_exit else None)


def prepare_database(*, reset: bool) -> str:
    """Create `scorer_demo` with the schema, or reuse it when it already has the tables."""
    import psycopg

    from tools import localdb

    started = time.perf_counter()
    admin = embedded_admin_dsn()
    step(f"embedded PostgreSQL ready ({time.perf_counter() - started:.2f} s)")
    dsn = localdb.with_dbname(admin, DEMO_DATABASE)
    if reset:
        localdb.drop_database(dsn)
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DEMO_DATABASE,)).fetchone()
    if exists is None:
        localdb.create_database(DEMO_DATABASE)
        step(f"created database {DEMO_DATABASE} with the Django tables")
    else:
        with psycopg.connect(dsn) as conn:
            has_tables = conn.execute("SELECT to_regclass('account_community')").fetchone()
        if has_tables is None or has_tables[0] is None:
            localdb.load_sql_file(dsn, localdb.SCHEMA_FILE)
            step(f"loaded the Django tables into the existing database {DEMO_DATABASE}")
        else:
            step(f"reusing database {DEMO_DATABASE}")
    return dsn


def load_demo_data(dsn: str) -> DemoData:
    import psycopg

    from tools.seed import demo_dataset

    started = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        demo = demo_dataset(conn)
    step(f"demo data set in place ({time.perf_counter() - started:.2f} s)")
    return demo


def configure_environment(dsn: str, issuer_did: str, *, quiet: bool) -> None:
    """The service's settings for the demo; set before the handler is imported, which reads them."""
    from tools.seed import DEMO_CERAMIC_CACHE_SCORER_ID, DEMO_SECRET_KEY

    if quiet:  # the response is the point here; one JSON log line and one metrics line only distract
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.update(
        {
            "DATABASE_URL": dsn,
            "TRUSTED_IAM_ISSUERS": json.dumps([issuer_did]),
            "FF_API_ANALYTICS": "on",
            "HUMAN_POINTS_ENABLED": "true",
            "HUMAN_POINTS_START_TIMESTAMP": "0",
            "RATELIMIT_ENABLE": "false",
            "SECRET_KEY": DEMO_SECRET_KEY,
            "CERAMIC_CACHE_SCORER_ID": str(DEMO_CERAMIC_CACHE_SCORER_ID),
        }
    )


def build_event(scorer_id: str, address: str, api_key: str) -> dict[str, Any]:
    """An API Gateway REST (v1) event for the demo request, based on the sample event if there is one."""
    path = f"/v2/stamps/{scorer_id}/score/{address}"
    if SAMPLE_EVENT.exists():
        event: dict[str, Any] = json.loads(SAMPLE_EVENT.read_text())
    else:
        event = {
            "resource": "/v2/stamps/{scorer_id}/score/{address}",
            "httpMethod": "GET",
            "headers": {"accept": "application/json", "host": "localhost"},
            "multiValueHeaders": {"accept": ["application/json"], "host": ["localhost"]},
            "queryStringParameters": None,
            "multiValueQueryStringParameters": None,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": "/v2/stamps/{scorer_id}/score/{address}",
                "httpMethod": "GET",
                "stage": "demo",
                "identity": {"sourceIp": "127.0.0.1", "userAgent": "tools.demo"},
            },
            "body": None,
            "isBase64Encoded": False,
        }
    event = copy.deepcopy(event)
    event["path"] = path
    event["pathParameters"] = {"scorer_id": scorer_id, "address": address}
    event.setdefault("requestContext", {}).update({"path": path, "requestId": str(uuid.uuid4())})
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "x-api-key"}
    event["headers"] = {**headers, "x-api-key": api_key}
    if event.get("multiValueHeaders") is not None:
        multi = {k: v for k, v in event["multiValueHeaders"].items() if k.lower() != "x-api-key"}
        event["multiValueHeaders"] = {**multi, "x-api-key": [api_key]}
    return event


def import_handler() -> Handler | None:
    """The score handler, or None (with a message saying why) while it cannot be imported."""
    if importlib.util.find_spec(HANDLER_MODULE) is None:
        print(f"{HANDLER_MODULE} does not exist yet: data loaded, no request sent.")
        return None
    started = time.perf_counter()
    try:
        handler: Handler = importlib.import_module(HANDLER_MODULE).handler
    except ImportError as error:
        print(f"{HANDLER_MODULE} cannot be imported ({error}): data loaded, no request sent.")
        return None
    step(f"{HANDLER_MODULE} imported in {time.perf_counter() - started:.2f} s")
    return handler


def call_handler(handler: Handler, event: dict[str, Any]) -> dict[str, Any]:
    from tools.credentials import guard_didkit_exit

    guard_didkit_exit()  # the handler verifies credentials with DIDKit, and we exit right after
    started = time.perf_counter()
    response = handler(event, LambdaContext())
    step(f"GET {event['path']} answered in {time.perf_counter() - started:.3f} s")
    return response


def print_response(response: dict[str, Any]) -> None:
    body_text = response.get("body") or ""
    try:
        body = json.loads(body_text)
    except ValueError:
        body = None
    print(f"status {response.get('statusCode')}")
    print(json.dumps(body, indent=2) if body is not None else body_text)
    if isinstance(body, dict) and "score" in body:
        threshold, passing = body.get("threshold"), body.get("passing_score")
        print(f"score {body['score']} (threshold {threshold}), passing: {passing}")
    elif isinstance(body, dict):
        print(f"error: {body.get('error')}")


if __name__ == "__main__":
    raise SystemExit(main())
