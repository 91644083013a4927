"""A local HTTP front for the built functions: `sam local start-api` without Docker (`make serve`).

Each request becomes an API Gateway REST (v1 payload) event, as the deployed REST API would send it, for
the function whose template route (``Events`` of type ``Api``) matches; the built function answers under
the Lambda Runtime Interface Emulator (``tools.lambda_rie``: code and layer read-only, CPython 3.12, SAM's
environment), on the demo database. The answer goes back as API Gateway would send it: a response with a
key the proxy integration does not accept, or a function error, becomes API Gateway's 502; a path or
method without a route gets its 403. One request at a time per function, like one execution environment.

    python -m tools.serve [--port 3000]
    curl -H 'X-API-Key: <demo key>' http://127.0.0.1:3000/v2/stamps/<id>/score/<address>
"""

from __future__ import annotations

import argparse
import base64
import re
import signal
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from tools.envelope import envelope_problem

STAGE = "local"
# API Gateway's answer for a path or method without a route (no Lambda call).
NO_ROUTE_BODY = b'{"message":"Missing Authentication Token"}'
# API Gateway's answer when the function fails or its response is malformed.
BAD_GATEWAY_BODY = b'{"message": "Internal server error"}'

# Calls the function behind a route with an event: (response payload, whether the function failed).
Backend = Callable[[str, dict[str, Any]], tuple[Any, bool]]


@dataclass(frozen=True)
class Route:
    """One template route: method, resource path (``/v2/stamps/{scorer_id}/...``) and its function."""

    method: str
    resource: str
    function: str

    @property
    def pattern(self) -> re.Pattern[str]:
        regex = re.sub(
            r"\\\{([A-Za-z0-9_]+)(\\\+)?\\\}",
            lambda m: f"(?P<{m.group(1)}>{'.+' if m.group(2) else '[^/]+'})",
            re.escape(self.resource),
        )
        return re.compile(f"^{regex}$")

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method not in {method, "ANY"}:
            return None
        found = self.pattern.match(path)
        return found.groupdict() if found else None


SCORE_ROUTE = Route("GET", "/v2/stamps/{scorer_id}/score/{address}", "ScoreFunction")


def find_route(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in routes:
        params = route.match(method, path)
        if params is not None:
            return route, params
    return None


def rest_event(
    method: str,
    raw_path: str,
    headers: list[tuple[str, str]],
    body: bytes,
    client_ip: str,
    request_id: str,
    routes: list[Route] | None = None,
) -> dict[str, Any] | None:
    """The REST v1 event API Gateway sends for this request, or None when no route matches."""
    split = urllib.parse.urlsplit(raw_path)
    path = urllib.parse.unquote(split.path)
    found = find_route(routes if routes is not None else [SCORE_ROUTE], method, path)
    if found is None:
        return None
    route, path_parameters = found
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
        "resource": route.resource,
        "path": path,
        "httpMethod": method,
        # API Gateway keeps the client's header casing; the single-value map holds the last value.
        "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {name: values[-1] for name, values in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.resource,
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


def gateway_answer(
    event: dict[str, Any], payload: Any, function_failed: bool
) -> tuple[int, list[tuple[str, str]], bytes, str | None]:
    """What API Gateway sends back for the function's answer: the response, or 502 and the reason."""
    if function_failed:
        return (
            502,
            [("Content-Type", "application/json")],
            BAD_GATEWAY_BODY,
            f"function error: {payload!r}"[:500],
        )
    problem = envelope_problem(event, payload)
    if problem is not None:
        return 502, [("Content-Type", "application/json")], BAD_GATEWAY_BODY, problem
    status, headers, data = response_parts(payload)
    return status, headers, data, None


def make_request_handler(routes: list[Route], backend: Backend) -> type[BaseHTTPRequestHandler]:
    locks: dict[str, threading.Lock] = {route.function: threading.Lock() for route in routes}

    class ApiRequestHandler(BaseHTTPRequestHandler):
        server_version = "passport-score-local"

        def do_GET(self) -> None:
            self._dispatch()

        def do_POST(self) -> None:
            self._dispatch()

        def do_PUT(self) -> None:
            self._dispatch()

        def do_DELETE(self) -> None:
            self._dispatch()

        def _dispatch(self) -> None:
            started = time.perf_counter()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request_id = str(uuid.uuid4())
            path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
            found = find_route(routes, self.command, path)
            event = None
            if found is not None:
                event = rest_event(
                    self.command, self.path, list(self.headers.items()), body, self.client_address[0],
                    request_id, [found[0]],
                )  # fmt: skip
            if found is None or event is None:
                status, headers, data = 403, [("Content-Type", "application/json")], NO_ROUTE_BODY
            else:
                function = found[0].function
                try:
                    with locks[function]:
                        payload, failed = backend(function, event)
                except Exception as exc:
                    payload, failed = repr(exc), True
                status, headers, data, problem = gateway_answer(event, payload, failed)
                if problem:
                    self.log_error("%s: %s", function, problem)
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

    return ApiRequestHandler


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def main(argv: list[str] | None = None) -> int:
    from tools import demo, invoke, lambda_rie

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--emulator-port", type=int, default=invoke.DEFAULT_PORT, help="first emulator port")
    parser.add_argument("--build-dir", default=str(invoke.BUILD_DIR), help="output of `sam build`")
    args = parser.parse_args(argv)

    dsn = demo.prepare_database(reset=False)
    data = demo.load_demo_data(dsn)
    demo.configure_environment(dsn, data.issuer_did, quiet=False)
    build_dir = Path(args.build_dir)
    functions = lambda_rie.load_functions(build_dir)  # the demo's settings, in os.environ, as shell values
    routes = [Route(method, path, name) for name, spec in functions.items() for method, path in spec.routes]
    if not routes:
        raise SystemExit(f"no function of {build_dir} has an API route")
    python = lambda_rie.find_python312()
    # A plain kill stops the emulators too (they run in sessions of their own).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    emulators: dict[str, lambda_rie.Emulator] = {}
    log_dir = invoke.PROJECT_ROOT / ".local" / "lambda"
    log_dir.mkdir(parents=True, exist_ok=True)
    try:
        for index, name in enumerate(sorted({route.function for route in routes})):
            emulator = lambda_rie.Emulator(
                functions[name], port=args.emulator_port + 2 * index, python=python,
                log_path=log_dir / f"{name}.log",
            )  # fmt: skip
            emulator.start()
            emulators[name] = emulator

        def backend(function: str, event: dict[str, Any]) -> tuple[Any, bool]:
            answer = emulators[function].invoke(event)
            return answer.payload, answer.function_error

        server = HTTPServer((args.host, args.port), make_request_handler(routes, backend))
        for route in routes:
            print(f"{route.method} {route.resource} -> {route.function}", flush=True)
        print(
            f"demo: key {data.api_key}, community {data.community_id} "
            f"(Human Points: {data.human_points_community_id}), address {data.address}",
            flush=True,
        )
        print(f"listening on http://{args.host}:{server.server_port} (Ctrl-C stops); "
              f"function logs in .local/lambda/<Function>.log", flush=True)  # fmt: skip
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    finally:
        for emulator in emulators.values():
            emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
