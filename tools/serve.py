"""A local HTTP front for the score handler: `sam local start-api` without Docker (`make serve`).

Each request becomes an API Gateway REST (v1 payload) event, as the deployed REST API would send it,
and the handler's answer goes back as the HTTP response. The handler runs in this process, from the
source tree, on the demo database (embedded PostgreSQL, `tools.demo`); one request at a time, like
one Lambda execution environment. Paths outside the route get API Gateway's own 403 answer.

    python -m tools.serve [--port 3000]
    curl -H 'X-API-Key: <demo key>' http://127.0.0.1:3000/v2/stamps/<id>/score/<address>
"""

from __future__ import annotations

import argparse
import base64
import importlib
import re
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from tools.lambda_context import LambdaContext

RESOURCE = "/v2/stamps/{scorer_id}/score/{address}"
ROUTE = re.compile(r"^/v2/stamps/(?P<scorer_id>[^/]+)/score/(?P<address>[^/]+)$")
STAGE = "local"
# API Gateway's answer for a path or method without a route (no Lambda call).
NO_ROUTE_BODY = b'{"message":"Missing Authentication Token"}'

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def rest_event(
    method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes, client_ip: str, request_id: str
) -> dict[str, Any] | None:
    """The REST v1 event API Gateway sends for this request, or None when no route matches."""
    split = urllib.parse.urlsplit(raw_path)
    path = urllib.parse.unquote(split.path)
    match = ROUTE.match(path)
    if method != "GET" or match is None:
        return None
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        multi_headers.setdefault(name, []).append(value)
    query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
    user_agent = multi_headers.get("User-Agent", [""])[-1]
    try:
        text_body: str | None = body.decode() if body else None
        is_base64 = False
    except UnicodeDecodeError:
        text_body, is_base64 = base64.b64encode(body).decode(), True
    return {
        "resource": RESOURCE,
        "path": path,
        "httpMethod": method,
        # API Gateway keeps the client's header casing; the single-value map holds the last value.
        "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {name: values[-1] for name, values in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": match.groupdict(),
        "stageVariables": None,
        "requestContext": {
            "resourcePath": RESOURCE,
            "httpMethod": method,
            "path": f"/{STAGE}{path}",
            "stage": STAGE,
            "requestId": request_id,
            "requestTimeEpoch": int(time.time() * 1000),
            "protocol": "HTTP/1.1",
            "identity": {"sourceIp": client_ip, "userAgent": user_agent},
        },
        "body": text_body,
        "isBase64Encoded": is_base64,
    }


def response_parts(response: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body bytes of a Lambda proxy response."""
    headers = [(name, str(value)) for name, value in (response.get("headers") or {}).items()]
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers += [(name, str(value)) for value in values]
    body = response.get("body") or ""
    data = base64.b64decode(body) if response.get("isBase64Encoded") else str(body).encode()
    return int(response["statusCode"]), headers, data


def make_request_handler(handler: Handler) -> type[BaseHTTPRequestHandler]:
    class ScoreRequestHandler(BaseHTTPRequestHandler):
        server_version = "passport-score-local"

        def do_GET(self) -> None:
            self._dispatch()

        def do_POST(self) -> None:
            self._dispatch()

        def _dispatch(self) -> None:
            started = time.perf_counter()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request_id = str(uuid.uuid4())
            event = rest_event(
                self.command, self.path, list(self.headers.items()), body, self.client_address[0], request_id
            )
            if event is None:
                status, headers, data = 403, [("Content-Type", "application/json")], NO_ROUTE_BODY
            else:
                try:
                    status, headers, data = response_parts(handler(event, LambdaContext(request_id)))
                except Exception as exc:  # API Gateway's answer when the function fails
                    self.log_error("handler raised %r", exc)
                    status, headers = 502, [("Content-Type", "application/json")]
                    data = b'{"message": "Internal server error"}'
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Amzn-RequestId", request_id)
            self.end_headers()
            self.wfile.write(data)
            self.log_message('"%s %s" %d (%.1f ms)', self.command, self.path, status, _ms_since(started))

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            """Logged once per request by _dispatch, with the timing."""

    return ScoreRequestHandler


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def load_handler() -> Handler:
    """Prepare the demo database and settings, then import the handler (which reads them)."""
    from tools import demo
    from tools.credentials import guard_didkit_exit

    dsn = demo.prepare_database(reset=False)
    data = demo.load_demo_data(dsn)
    demo.configure_environment(dsn, data.issuer_did, quiet=False)
    guard_didkit_exit()
    handler: Handler = importlib.import_module("handlers.score").handler
    print(
        f"demo: key {data.api_key}, community {data.community_id} "
        f"(Human Points: {data.human_points_community_id}), address {data.address}",
        flush=True,
    )
    return handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args(argv)
    server = HTTPServer((args.host, args.port), make_request_handler(load_handler()))
    print(f"listening on http://{args.host}:{server.server_port} (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
