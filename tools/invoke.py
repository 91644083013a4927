"""Run the built Lambda bundle with sample events on the demo database: `sam local invoke` without Docker.

What runs is what `sam build` put in ``.aws-sam/build``, under the Lambda Runtime Interface Emulator with
``awslambdaric`` on CPython 3.12, code and layer read-only, with the environment SAM would give
(``tools.lambda_rie``). Each event goes to the function whose handler module names its file
(``score_*.json`` -> the function with handler ``handlers.score.handler``); the events of one function go to
one execution environment, in order, so the first is its cold start. The demo's settings (database, trusted
issuer, in this process's environment) override the template's values, as `sam local` takes the shell's.

    python -m tools.invoke events/score_success_rest.json     # print each response
    python -m tools.invoke --check                             # every event of events/expected.json
    python -m tools.invoke --load-demo postgresql://postgres@127.0.0.1:5432/scorer_demo   # for `sam local`
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = PROJECT_ROOT / ".aws-sam" / "build"
EXPECTED_FILE = PROJECT_ROOT / "events" / "expected.json"
LAMBDA_PYTHON = "3.12"
# Ports 9000-9099: the emulator of the n-th function listens on BASE + 2n, its Runtime API on BASE + 2n + 1.
DEFAULT_PORT = int(os.environ.get("LAMBDA_RIE_PORT", "9000"))


@dataclass(frozen=True)
class Result:
    event: str
    function: str | None
    response: Any
    error: str | None
    ms: float
    skipped: str | None = None


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


def prepare_demo(*, quiet: bool) -> None:
    """The demo database (embedded PostgreSQL) with the demo data, and the demo's settings in os.environ.

    ``quiet`` turns the function's log lines down, as `tools.demo` does.
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


def function_for_event(event_file: str, handler_modules: dict[str, str]) -> str | None:
    """The function whose handler module's name starts the file name (``ceramic_cache_x.json`` ->
    ``handlers.ceramic_cache``), the longest match winning; ``handler_modules`` maps module to function."""
    name = Path(event_file).name
    matches = [(len(module), function) for module, function in handler_modules.items()
               if name.startswith(module.rsplit(".", 1)[-1] + "_")]  # fmt: skip
    return max(matches)[1] if matches else None


def run_events(events: list[Path], build_dir: Path, *, port: int, log_dir: Path | None) -> list[Result]:
    """Every event through the emulator, one execution environment per function; the init report of
    each environment is printed to stderr."""
    from tools import lambda_rie

    functions = lambda_rie.load_functions(build_dir)  # the demo's settings, in os.environ, as shell values
    by_module = {spec.module: name for name, spec in functions.items()}
    plan: dict[str, list[Path]] = {}
    results: list[Result] = []
    for event in events:
        function = function_for_event(event.name, by_module)
        if function is None and _in_source_template(event.name):
            stale = "its function is in template.yaml but not in the build: run `make build`"
            results.append(Result(str(event), None, None, stale, 0.0))
        elif function is None:
            results.append(Result(str(event), None, None, None, 0.0, skipped=_why_unrouted(event.name)))
        else:
            plan.setdefault(function, []).append(event)
    python = lambda_rie.find_python312()
    for index, (function, function_events) in enumerate(plan.items()):
        log = (log_dir / f"{function}.log") if log_dir else None
        if log:
            log.unlink(missing_ok=True)
        emulator = lambda_rie.Emulator(
            functions[function], port=port + 2 * index, python=python, log_path=log
        )
        with emulator:
            for event in function_events:
                try:
                    answer = emulator.invoke(json.loads(event.read_text()))
                except OSError as exc:
                    results.append(Result(str(event), function, None, f"invoke failed: {exc}", 0.0))
                    continue
                error = json.dumps(answer.payload) if answer.function_error else None
                results.append(Result(str(event), function, answer.payload, error, answer.ms))
            init = emulator.init_report()
            rss = emulator.runtime_peak_rss_mb()
            print(
                f"{function}: {emulator.read_only}, memory limit "
                f"{'enforced' if emulator.memory else 'not enforced (no memory cgroup)'}, init "
                f"{f'{init.duration_ms:.0f} ms ({init.status})' if init else 'not reported'}, runtime peak RSS "
                f"{f'{rss:.0f} MB' if rss else 'unknown'}",
                file=sys.stderr,
            )
    return results


def _in_source_template(event_name: str) -> bool:
    """Whether template.yaml has a handler for the event (so only the build lacks its function)."""
    template = (PROJECT_ROOT / "template.yaml").read_text()
    modules = {
        f"handlers.{path.stem}": f"handlers.{path.stem}" for path in (PROJECT_ROOT / "handlers").glob("*.py")
    }
    module = function_for_event(event_name, modules)
    return module is not None and f"Handler: {module}.handler" in template


def _why_unrouted(event_name: str) -> str:
    return (
        f"no function in template.yaml has a handler module named after {event_name} "
        "(handlers.<prefix>.handler): not run"
    )


def describe(result: Result) -> str:
    """The response as a reader wants it: status, headers, then the body (pretty when it is JSON)."""
    name = os.path.relpath(result.event, PROJECT_ROOT)
    if result.skipped:
        return f"== {name}: skipped, {result.skipped}"
    if result.error is not None:
        return f"== {name}: the function failed ({result.ms:.1f} ms)\n{result.error}"
    response = result.response
    lines = [f"== {name} ({result.function}): {response.get('statusCode')} ({result.ms:.1f} ms)"]
    headers = response.get("headers") or response.get("multiValueHeaders") or {}
    lines += [f"{key}: {value}" for key, value in headers.items()]
    body = response.get("body")
    try:
        lines.append(json.dumps(json.loads(str(body)), indent=2))
    except ValueError:
        lines.append(repr(body))
    return "\n".join(lines)


def check(results: list[Result], expected: dict[str, int]) -> int:
    """One line per event (status and envelope), then 'N passed, N failed'; the number of failures."""
    from tools.envelope import envelope_problem

    failed = skipped = 0
    for result in results:
        name = Path(result.event).name
        if result.skipped:
            skipped += 1
            print(f"SKIP {name}: {result.skipped}")
            continue
        status = result.response.get("statusCode") if isinstance(result.response, dict) else None
        problem = result.error or envelope_problem(
            json.loads(Path(result.event).read_text()), result.response
        )
        ok = status == expected[name] and problem is None
        failed += not ok
        print(
            f"{'PASS' if ok else 'FAIL'} {name} ({result.function}): status {status}, expected {expected[name]}"
            f"{f'; {problem}' if problem else ''} ({result.ms:.1f} ms)"
        )
    print(
        f"{len(results) - failed - skipped} passed, {failed} failed"
        + (f", {skipped} skipped" if skipped else "")
    )
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("events", nargs="*", type=Path, help="event files (default with --check: all)")
    parser.add_argument("--check", action="store_true", help="compare status codes with events/expected.json")
    parser.add_argument("--build-dir", type=Path, default=BUILD_DIR, help="output of `sam build`")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="first emulator port (default 9000)")
    parser.add_argument("--logs", action="store_true", help="log at the template's level with --check")
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=PROJECT_ROOT / ".local" / "lambda",
        help="emulator logs, one per function",
    )
    parser.add_argument("--load-demo", metavar="DSN", help="only load the demo data into this database")
    args = parser.parse_args(argv)
    if args.load_demo:
        load_demo(args.load_demo)
        return 0

    expected: dict[str, int] = json.loads(EXPECTED_FILE.read_text())
    events: list[Path] = args.events or (
        [EXPECTED_FILE.parent / name for name in expected] if args.check else parser.error("no event given")
    )
    if args.check:
        unknown = [str(e) for e in events if e.name not in expected]
        if unknown:
            parser.error(f"no expected status in {EXPECTED_FILE.name} for {unknown}")
    prepare_demo(quiet=args.check and not args.logs)
    args.log_dir.mkdir(parents=True, exist_ok=True)
    results = run_events([e.resolve() for e in events], args.build_dir, port=args.port, log_dir=args.log_dir)
    print(f"emulator logs: {os.path.relpath(args.log_dir, PROJECT_ROOT)}/<Function>.log", file=sys.stderr)
    if args.check:
        return 1 if check(results, expected) else 0
    for result in results:
        print(describe(result))
    return 0 if all(r.error is None and not r.skipped for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
