"""Run the built Lambda bundle with sample events on the demo database: `sam local invoke` without Docker.

What runs is what `sam build` put in ``.aws-sam/build``: the function's code (``ScoreFunction``) and its
dependency layer (``DependenciesLayer/python``) on ``PYTHONPATH``, in a child process whose working
directory is the function's folder, as in the Lambda runtime. The child uses a Python 3.12 (the
runtime's version) when one is found; the layer's compiled modules load only there and only on the
machine's own architecture. Otherwise the child runs the built code with this virtualenv's interpreter
and packages instead of the layer, and says so.

    python -m tools.invoke events/score_success_rest.json     # print each response
    python -m tools.invoke --check                             # every event of events/expected.json
    python -m tools.invoke --load-demo postgresql://postgres@127.0.0.1:5432/scorer_demo   # for `sam local`
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = PROJECT_ROOT / ".aws-sam" / "build"
FUNCTION_ID = "ScoreFunction"
LAYER_ID = "DependenciesLayer"
HANDLER = "handlers.score.handler"
# Sample events by file-name prefix: the built function that answers them and its handler.
FAMILIES = {
    "score_": (FUNCTION_ID, HANDLER),
    "embed_": ("EmbedFunction", "handlers.embed.handler"),
    "ceramic_cache_": ("CeramicCacheFunction", "handlers.ceramic_cache.handler"),
}


def family_of(event: Path) -> tuple[str, str]:
    """``(function id, handler)`` of a sample event, by its file name (score events by default)."""
    return next((f for prefix, f in FAMILIES.items() if event.name.startswith(prefix)), FAMILIES["score_"])


EXPECTED_FILE = PROJECT_ROOT / "events" / "expected.json"
LAMBDA_PYTHON = "3.12"
HOST_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}

# What the Lambda runtime and template.yaml put in the function's environment, minus the database
# settings, which the demo provides (DATABASE_URL instead of DB_SECRET_ARN).
LAMBDA_ENVIRONMENT = {
    "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_ID,
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
    "AWS_REGION": "us-west-2",
    "AWS_DEFAULT_REGION": "us-west-2",
    "POWERTOOLS_SERVICE_NAME": "passport-score",
    "POWERTOOLS_METRICS_NAMESPACE": "PassportScore",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "PYTHONDONTWRITEBYTECODE": "1",  # keep the built bundle free of this machine's .pyc files
}

# Runs in the child: import the handler once (a cold start), then call it once per event (warm).
_CHILD = r"""
import atexit, importlib, json, sys, time, traceback, uuid

# DIDKit finishes its calls on its own threads; a short pause at exit lets them end before
# finalisation (see tools.credentials.guard_didkit_exit).
atexit.register(time.sleep, 0.02)

class Context:
    function_name = "ScoreFunction"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-west-2:123456789012:function:ScoreFunction:live"
    memory_limit_in_mb = "1024"
    log_group_name = "/aws/lambda/ScoreFunction"
    log_stream_name = "local"

    def __init__(self, timeout_s):
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))

handler_path, out_path, *event_paths = sys.argv[1:]
module_name, function_name = handler_path.rsplit(".", 1)
started = time.perf_counter()
handler = getattr(importlib.import_module(module_name), function_name)
import_ms = (time.perf_counter() - started) * 1000
report = {"python": sys.version.split()[0], "import_ms": import_ms, "results": []}
for path in event_paths:
    with open(path) as f:
        event = json.load(f)
    started = time.perf_counter()
    try:
        response, error = handler(event, Context(30.0)), None
    except Exception:
        response, error = None, traceback.format_exc()
    elapsed = (time.perf_counter() - started) * 1000
    report["results"].append({"event": path, "response": response, "error": error, "ms": elapsed})
with open(out_path, "w") as f:
    json.dump(report, f)
"""


@dataclass(frozen=True)
class Runtime:
    """The interpreter and import path the child runs with, and how close that is to Lambda."""

    python: str
    pythonpath: tuple[Path, ...]
    note: str


@dataclass(frozen=True)
class Result:
    event: str
    response: dict[str, Any] | None
    error: str | None
    ms: float


def find_python312() -> str | None:
    """A working Python 3.12: $LAMBDA_PYTHON, python3.12 on PATH, then pyenv's and the system's."""
    candidates = [os.environ.get("LAMBDA_PYTHON"), shutil.which("python3.12")]
    candidates += sorted(
        glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")), reverse=True
    )
    candidates += ["/usr/local/bin/python3.12", "/usr/bin/python3.12"]
    for candidate in candidates:
        if candidate and _python_version(candidate) == LAMBDA_PYTHON:
            return candidate
    return None


def _python_version(python: str) -> str | None:
    """'3.12' style version of an interpreter, None if it does not run (e.g. a pyenv shim without it)."""
    try:
        done = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def choose_runtime(build_dir: Path, python: str | None = None, function_id: str = FUNCTION_ID) -> Runtime:
    """The built function plus its layer on a Python 3.12 of this architecture, or the closest fallback."""
    function_dir = build_dir / function_id
    layer_dir = build_dir / LAYER_ID / "python"
    if not (function_dir / "handlers").is_dir():
        raise SystemExit(f"no built function in {function_dir}: run `make build` first")
    layer_arch_file = layer_dir / ".lambda-arch"
    layer_arch = layer_arch_file.read_text().strip() if layer_arch_file.exists() else None
    host_arch = HOST_ARCH.get(platform.machine().lower())
    python312 = python or find_python312()
    if python312 and layer_dir.is_dir() and layer_arch == host_arch:
        return Runtime(
            python312, (function_dir, layer_dir), f"built function and layer on Python {LAMBDA_PYTHON}"
        )
    if not python312:
        why = "no Python 3.12 found (set LAMBDA_PYTHON)"
    elif not layer_dir.is_dir():
        why = f"no built layer in {layer_dir}"
    else:
        why = f"the layer is built for {layer_arch}, this machine is {platform.machine()}"
    return Runtime(
        sys.executable,
        (function_dir,),
        f"{why}: built function code with {sys.executable} (Python {platform.python_version()}) and "
        "its installed packages instead of the layer",
    )


def prepare_demo(*, quiet: bool) -> None:
    """The demo database (embedded PostgreSQL) with the demo data, and the demo's settings in os.environ.

    ``quiet`` turns the function's log and metrics lines off, as `tools.demo` does.
    """
    from tools import demo

    dsn = demo.prepare_database(reset=False)
    data = demo.load_demo_data(dsn)
    demo.configure_environment(dsn, data.issuer_did, quiet=quiet)


def load_demo(dsn: str) -> None:
    """Create the database of ``dsn`` if needed, with the Django tables and the demo data.

    For `sam local`, whose container cannot reach the embedded server: events/env.local.json points
    the function at database scorer_demo on the host's PostgreSQL.
    """
    import psycopg
    from psycopg import sql

    from tools import localdb
    from tools.seed import demo_dataset

    name = localdb.dbname_of(dsn)
    with psycopg.connect(localdb.with_dbname(dsn, "postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(dsn) as conn:
        has_tables = conn.execute("SELECT to_regclass('account_community') IS NOT NULL").fetchone()
    if not (has_tables and has_tables[0]):
        localdb.load_sql_file(dsn, localdb.SCHEMA_FILE)
    with psycopg.connect(dsn) as conn:
        data = demo_dataset(conn)
    print(f"demo data in {name}: key {data.api_key}, community {data.community_id}, address {data.address}")


def child_environment(runtime: Runtime) -> dict[str, str]:
    """This environment (the demo's settings included) without its Python settings, plus the runtime's."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}
    for name, value in LAMBDA_ENVIRONMENT.items():
        env.setdefault(name, value)
    env["LAMBDA_TASK_ROOT"] = str(runtime.pythonpath[0])
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in runtime.pythonpath)
    return env


def invoke(
    runtime: Runtime, events: list[Path], env: dict[str, str], handler: str = HANDLER
) -> tuple[dict[str, Any], list[Result]]:
    """Run every event through one child process (one container: the first call is the cold one)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        command = [runtime.python, "-B", "-c", _CHILD, handler, str(out), *(str(e.resolve()) for e in events)]
        done = subprocess.run(command, cwd=runtime.pythonpath[0], env=env, check=False)
        if not out.exists():
            raise SystemExit(f"the function process failed (exit status {done.returncode})")
        if done.returncode != 0:
            print(f"warning: the function process exited with status {done.returncode}", file=sys.stderr)
        report: dict[str, Any] = json.loads(out.read_text())
    results = [Result(r["event"], r["response"], r["error"], r["ms"]) for r in report["results"]]
    return report, results


def describe(result: Result) -> str:
    """The response as a reader wants it: status, headers, then the body (pretty when it is JSON)."""
    name = os.path.relpath(result.event, PROJECT_ROOT)
    if result.response is None:
        return f"== {name}: the handler raised ({result.ms:.1f} ms)\n{result.error}"
    response = result.response
    lines = [f"== {name}: {response.get('statusCode')} ({result.ms:.1f} ms)"]
    headers = response.get("headers") or response.get("multiValueHeaders") or {}
    lines += [f"{key}: {value}" for key, value in headers.items()]
    body = response.get("body")
    try:
        lines.append(json.dumps(json.loads(str(body)), indent=2))
    except ValueError:
        lines.append(repr(body))
    return "\n".join(lines)


def check(results: list[Result], expected: dict[str, int]) -> int:
    """One line per event, then 'N passed, N failed'; the number of failures."""
    failed = 0
    for result in results:
        name = Path(result.event).name
        status = None if result.response is None else result.response.get("statusCode")
        ok = status == expected[name]
        failed += not ok
        print(
            f"{'PASS' if ok else 'FAIL'} {name}: status {status}, expected {expected[name]}"
            f" ({result.ms:.1f} ms)"
        )
    print(f"{len(results) - failed} passed, {failed} failed")
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("events", nargs="*", type=Path, help="event files (default with --check: all)")
    parser.add_argument("--check", action="store_true", help="compare status codes with events/expected.json")
    parser.add_argument("--build-dir", type=Path, default=BUILD_DIR, help="output of `sam build`")
    parser.add_argument("--python", help="interpreter for the function (default: a Python 3.12)")
    parser.add_argument("--logs", action="store_true", help="keep the function's logs with --check")
    parser.add_argument("--load-demo", metavar="DSN", help="only load the demo data into this database")
    args = parser.parse_args(argv)
    if args.load_demo:
        load_demo(args.load_demo)
        return 0

    expected: dict[str, int] = json.loads(EXPECTED_FILE.read_text())
    events: list[Path] = args.events or (
        [EXPECTED_FILE.parent / name for name in expected] if args.check else parser.error("no event given")
    )
    prepare_demo(quiet=args.check and not args.logs)
    results: list[Result] = []
    # One child (one container) per function, in the order the events' families first appear.
    for function_id, handler in dict.fromkeys(family_of(e) for e in events):
        runtime = choose_runtime(args.build_dir, args.python, function_id)
        print(f"{function_id} runtime: {runtime.note}", file=sys.stderr)
        family_events = [e for e in events if family_of(e) == (function_id, handler)]
        report, family_results = invoke(runtime, family_events, child_environment(runtime), handler)
        print(
            f"cold start: {handler} imported in {report['import_ms']:.0f} ms on Python {report['python']}",
            file=sys.stderr,
        )
        results += family_results
    if args.check:
        unknown = [r.event for r in results if Path(r.event).name not in expected]
        if unknown:
            parser.error(f"no expected status in {EXPECTED_FILE.name} for {unknown}")
        return 1 if check(results, expected) else 0
    for result in results:
        print(describe(result))
    return 0 if all(r.response is not None for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
