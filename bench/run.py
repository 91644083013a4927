"""Benchmark of the score Lambda: ``python -m bench.run [--quick] [--keep]`` (``make bench``).

Creates a throwaway database (on the server ``tools.localdb`` picks, an embedded one where none runs),
loads the benchmark data, then measures in separate processes: warm latency and its split per case
(``bench.warm``), round trips and statements (``bench.roundtrips``), the embed routes (``bench.embed``), cold
starts (``bench.cold``), and
throughput of concurrent workers (``bench.throughput``). Prints one table and writes every number to
``bench/results/<UTC timestamp>.json``; ``--compare A.json B.json`` prints two runs side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
# The service's settings: unset in the workers unless the benchmark sets them (see handler_env).
HANDLER_VARIABLES = (
    "DATABASE_URL",
    "DB_SECRET_ARN",
    "TRUSTED_IAM_ISSUERS",
    "FF_MULTI_NULLIFIER",
    "FF_API_ANALYTICS",
    "HUMAN_POINTS_ENABLED",
    "HUMAN_POINTS_START_TIMESTAMP",
    "HUMAN_POINTS_MTA_ENABLED",
    "DEMO_API_SCORER_ID",
    "DEMO_API_KEY",
    "DEMO_API_KEY_ALIASES",
    "RATELIMIT_ENABLE",
    "REDIS_URL",
    "PASSPORT_API_RATE_LIMITING_FORM",
    "DB_POOL_MAX_SIZE",
    "DB_CONNECT_TIMEOUT",
)


@dataclass(frozen=True)
class Plan:
    """How much to measure."""

    iterations: int = 200
    warmup: int = 20
    background: int = 3000
    cold_runs: int = 10
    artifact_warm: int = 50  # warm invokes per artifact cold start
    workers: int = 4
    throughput_requests: int = 250  # per worker

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            iterations=30, warmup=3, background=500, cold_runs=3, artifact_warm=10, throughput_requests=25
        )


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    if args.compare:
        from bench.report import compare

        first, second = (json.loads(Path(path).read_text()) for path in args.compare)
        print(compare(first, second, Path(args.compare[0]).stem, Path(args.compare[1]).stem))
        return 0
    plan = Plan.quick() if args.quick else Plan()
    overrides = {
        name: value
        for name, value in (
            ("iterations", args.iterations),
            ("background", args.background),
            ("workers", args.workers),
        )
        if value is not None
    }
    plan = replace(plan, **overrides)
    if plan.iterations < 1 or plan.workers < 1:
        raise SystemExit("--iterations and --workers must be at least 1")
    results = run(plan, python=args.python, keep=args.keep, build_dir=args.build_dir)
    from bench.report import save, table

    path = save(results, RESULTS_DIR)
    print(table(results))
    print(f"\nresults: {path.relative_to(PROJECT_ROOT)}")
    return 0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests and rows (CI smoke run)")
    parser.add_argument(
        "--keep", action="store_true", help="keep the benchmark database (its DSN is printed)"
    )
    parser.add_argument("--iterations", type=int, help="timed requests per case and mode (default 200)")
    parser.add_argument("--background", type=int, help="background addresses (default 3000)")
    parser.add_argument("--workers", type=int, help="throughput worker processes (default 4)")
    parser.add_argument("--python", default=sys.executable, help="interpreter of the measured processes")
    parser.add_argument(
        "--build-dir",
        type=Path,
        default=PROJECT_ROOT / ".aws-sam" / "build",
        help="the built bundle whose cold start runs under the Lambda emulator (default .aws-sam/build)",
    )
    parser.add_argument(
        "--compare", nargs=2, metavar=("A.json", "B.json"), help="print two runs side by side"
    )
    return parser.parse_args(argv)


def _step(message: str) -> None:
    print(f"- {message}", file=sys.stderr, flush=True)


def run(plan: Plan, *, python: str, keep: bool, build_dir: Path) -> dict[str, Any]:
    """Set up the data, measure everything, and return the results (the JSON file's content)."""
    from bench import coldstart, dataset, report
    from bench.harness import WorkerConfig, score_event
    from tools import localdb

    started_at, started = datetime.now(UTC), time.perf_counter()
    dsn = localdb.create_database(f"scorer_bench_{secrets.token_hex(4)}")
    _step(f"database {localdb.dbname_of(dsn)} created")
    try:
        load_started = time.perf_counter()
        data = dataset.load(dsn, plan.background)
        load_s = time.perf_counter() - load_started
        _step(f"data loaded in {load_s:.1f} s")
        env = handler_env(dsn, data.issuer_did)
        with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
            config = Path(tmp) / "config.json"
            options = {"iterations": plan.iterations, "warmup": plan.warmup}
            WorkerConfig.write(config, env, dsn, data, options)
            _step(f"warm latency: {len(data.cases)} cases x 2 modes x {plan.iterations} requests")
            warm = _worker(python, "bench.warm", config, Path(tmp))
            _step("round trips and statements")
            trips = _worker(python, "bench.roundtrips", config, Path(tmp))
            _step(f"embed routes: 3 cases x {plan.iterations} requests")
            embed = _worker(python, "bench.embed", config, Path(tmp))
            _step(f"cold start: {plan.cold_runs} fresh processes")
            cold = coldstart.cold_starts(
                python, env, score_event(data.cases[0], data.api_key), plan.cold_runs
            )
            imports = coldstart.import_profile(python, env)
            _step(f"cold start of the built bundle under the Lambda emulator: {plan.cold_runs} environments")
            artifact = coldstart.artifact_cold_starts(
                env, score_event(data.cases[0], data.api_key), plan.cold_runs, plan.artifact_warm, build_dir
            )
            _step(f"throughput: {plan.workers} workers x {plan.throughput_requests} re-scores")
            throughput = _throughput(python, plan, env, dsn, data, Path(tmp))
        environment = _environment(dsn)
    finally:
        if keep:
            _step(f"kept database: {dsn}")
        else:
            localdb.drop_database(dsn)
    results = {
        "schema": 1,
        "started_at": started_at.isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - started, 1),
        "options": {**plan.__dict__, "python": python},
        "environment": environment,
        "dataset": {"background_addresses": plan.background, "rows": data.background, "load_s": load_s},
        "cases": _cases(warm, trips),
        "embed_cases": _embed_cases(embed),
        "cold_start": cold,
        "artifact_cold_start": artifact,
        "import_time": imports,
        "memory": {"peak_rss_mb": warm["peak_rss_mb"]},
        "verification_cache_emptied_before_first_scores": warm.get("verification_cache_emptied"),
        "throughput": throughput,
    }
    results["metrics"] = report.flat_metrics(results)
    return results


def handler_env(dsn: str, issuer_did: str) -> dict[str, str]:
    return {
        "DATABASE_URL": dsn,
        "TRUSTED_IAM_ISSUERS": json.dumps([issuer_did]),
        "FF_API_ANALYTICS": "on",
        "FF_MULTI_NULLIFIER": "off",
        "RATELIMIT_ENABLE": "off",
        "HUMAN_POINTS_ENABLED": "true",
        "HUMAN_POINTS_START_TIMESTAMP": "0",
        "HUMAN_POINTS_MTA_ENABLED": "false",
    }


def _worker_env(handler: dict[str, str]) -> dict[str, str]:
    inherited = {name: value for name, value in os.environ.items() if name not in HANDLER_VARIABLES}
    return {**inherited, **handler}


def _worker(python: str, module: str, config: Path, tmp: Path) -> dict[str, Any]:
    """Run one measuring process to the end and return what it wrote."""
    result = tmp / f"{module}.json"
    child = subprocess.run(
        [python, "-m", module, str(config), str(result)],
        cwd=PROJECT_ROOT,
        env=_worker_env(json.loads(config.read_text())["env"]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    if child.returncode != 0 or not result.exists():
        raise RuntimeError(f"{module} failed ({child.returncode}):\n{child.stderr[-4000:]}")
    loaded: dict[str, Any] = json.loads(result.read_text())
    return loaded


def _throughput(
    python: str, plan: Plan, env: dict[str, str], dsn: str, data: Any, tmp: Path
) -> dict[str, Any]:
    """Start the workers, let all of them warm up, then release them at once; requests/s over the span."""
    from bench.harness import WorkerConfig
    from bench.report import distribution

    addresses = data.throughput_addresses
    children = []
    for n in range(plan.workers):
        config, result = tmp / f"throughput-{n}.config.json", tmp / f"throughput-{n}.json"
        own = [addresses[i] for i in range(n, len(addresses), plan.workers)] or [
            addresses[n % len(addresses)]
        ]
        options = {"addresses": own, "requests": plan.throughput_requests, "warmup": 2}
        WorkerConfig.write(config, env, dsn, data, options)
        child = subprocess.Popen(
            [python, "-m", "bench.throughput", str(config), str(result)],
            cwd=PROJECT_ROOT,
            env=_worker_env(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=(tmp / f"throughput-{n}.err").open("w"),
            text=True,
        )
        children.append((child, result, tmp / f"throughput-{n}.err"))
    for child, _, _ in children:
        assert child.stdout is not None
        child.stdout.readline()  # "ready" (or nothing, when it failed: reported below)
    for child, _, _ in children:
        assert child.stdin is not None
        try:
            child.stdin.write("go\n")
            child.stdin.close()
        except BrokenPipeError:
            pass
    outcomes = []
    for child, result, errors in children:
        if child.wait() != 0 or not result.exists():
            raise RuntimeError(f"throughput worker failed:\n{errors.read_text()[-4000:]}")
        outcomes.append(json.loads(result.read_text()))
    requests = sum(len(outcome["latencies"]) for outcome in outcomes)
    span = max(outcome["ended"] for outcome in outcomes) - min(outcome["started"] for outcome in outcomes)
    return {
        "workers": plan.workers,
        "requests": requests,
        "seconds": span,
        "requests_per_s": requests / span,
        "failures": sum(outcome["failures"] for outcome in outcomes),
        "latency_ms": distribution([latency for outcome in outcomes for latency in outcome["latencies"]]),
    }


def _cases(warm: dict[str, Any], trips: dict[str, Any]) -> list[dict[str, Any]]:
    from bench.report import distribution, split

    counted = {(entry["case"], entry["mode"]): entry for entry in trips["cases"]}
    cases = []
    for entry in warm["cases"]:
        samples = entry["samples"]
        wire = counted.get((entry["case"], entry["mode"]), {})
        cases.append(
            {
                "case": entry["case"],
                "mode": entry["mode"],
                "response": entry["response"],
                "latency_ms": distribution([sample["total"] for sample in samples]),
                "split_ms": split(samples),
                "database": {
                    "round_trips": wire.get("round_trips"),
                    "raw_bursts": wire.get("raw_bursts"),
                    "core_statements": wire.get("core_statements"),
                    "wire_statements": wire.get("statements"),
                    "transactions": wire.get("transactions"),
                    "statements_by_kind": wire.get("by_kind"),
                    "client_bytes": wire.get("client_bytes"),
                    "server_bytes": wire.get("server_bytes"),
                    "round_trip_statements": wire.get("bursts"),
                },
                "peak_rss_mb_after": entry.get("peak_rss_mb_after"),
                "samples_ms": [round(sample["total"], 3) for sample in samples],
            }
        )
    return cases


def _embed_cases(embed: dict[str, Any]) -> list[dict[str, Any]]:
    from bench.report import distribution

    return [
        {
            "case": entry["case"],
            "latency_ms": distribution(entry["samples"]),
            "database": {
                "round_trips": entry["database"]["round_trips"],
                "core_statements": entry["database"]["core_statements"],
                "wire_statements": entry["database"]["statements"],
                "transactions": entry["database"]["transactions"],
                "statements_by_kind": entry["database"]["by_kind"],
                "round_trip_statements": entry["database"]["bursts"],
            },
            "samples_ms": [round(sample, 3) for sample in entry["samples"]],
        }
        for entry in embed["cases"]
    ]


def _environment(dsn: str) -> dict[str, Any]:
    import psycopg

    from tools import localdb

    with psycopg.connect(dsn) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    admin = localdb.admin_dsn()
    if os.environ.get("TEST_DATABASE_URL") == admin:
        server = "TEST_DATABASE_URL"
    elif admin == localdb.LOCAL_ADMIN_DSN:
        server = "local 127.0.0.1:5432"
    else:
        server = "embedded"
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "postgres_version": row[0] if row else None,
        "postgres_server": server,
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_changed_paths": (
            _git("status", "--porcelain", "--", "scorer_core", "handlers") or ""
        ).splitlines(),
    }


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip()


if __name__ == "__main__":
    raise SystemExit(main())
