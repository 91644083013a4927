"""Load benchmark of many Lambda environments behind a proxy: ``python -m bench.load [--quick]`` (``make bench-load``).

In AWS every warm Lambda environment keeps its own small pool, and all of them share the few server
connections of RDS Proxy. Here N worker processes (``bench.load_env``), each one environment serving one
request at a time, score their own addresses (and, every fourth request, an address that shares nullifiers
with the shared addresses of three other environments) against one database, through PgBouncer capped at M
server connections. Each N runs with fresh, warmed-up environments released at once; the burst starts N
cold environments at once (their first request opens their pool: a connect storm). Modes:

- ``transaction``: PgBouncer in transaction pooling (RDS Proxy's multiplexing), the service's pool;
- ``session``: PgBouncer in session pooling (a pinned session per client connection), the service's pool;
- ``per-request``: transaction pooling, and a new connection for every request (Django's ``CONN_MAX_AGE =
  0``, the reference's pattern);
- ``direct``: no proxy, every environment connected to PostgreSQL itself (the baseline of the throughput
  target; up to ``--direct-max-envs`` environments, since the server is shared).

Reported per run: answered requests, errors by kind, requests/s, latency percentiles, the time an
environment spent getting a connection (pool creation and checkout, connects included), the proxy's queue
(mean from ``SHOW STATS``, max sampled from ``SHOW POOLS`` every 50 ms), LIFO retries, server connections open
and active (sampled), and the session state left on the proxy's server connections afterwards (what would pin
an RDS Proxy session). Prints a table and the targets, writes ``bench/results/load-<UTC time>.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
SAMPLE_EVERY_S = 0.05
RUN_TIMEOUT_S = 900.0
SHARED_STAMPS = 3  # stamps of a shared address whose nullifiers its group shares


@dataclass(frozen=True)
class Mode:
    name: str
    proxy: str | None  # PgBouncer pool mode, or None for direct connections
    reconnect: bool
    label: str


MODES = {
    mode.name: mode
    for mode in (
        Mode("transaction", "transaction", False, "PgBouncer transaction pooling, the service's pool"),
        Mode("session", "session", False, "PgBouncer session pooling, the service's pool"),
        Mode(
            "per-request", "transaction", True, "PgBouncer transaction pooling, a new connection per request"
        ),
        Mode("direct", None, False, "no proxy: each environment connected to PostgreSQL"),
    )
}


@dataclass(frozen=True)
class LoadPlan:
    envs: tuple[int, ...] = (1, 8, 32, 64)
    burst: int = 64
    requests: int = 40  # per environment
    warmup: int = 1
    server_connections: int = 8
    borrow_timeout_s: int = 5  # PgBouncer query_wait_timeout: RDS Proxy's ConnectionBorrowTimeout
    connect_timeout_s: int = 5  # the service's DB_CONNECT_TIMEOUT
    share_every: int = 4
    group_size: int = 4
    background: int = 1000
    direct_max_envs: int = 32
    modes: tuple[str, ...] = ("transaction", "session", "per-request", "direct")

    @classmethod
    def quick(cls) -> LoadPlan:
        return cls(envs=(1, 4), burst=8, requests=6, background=100, server_connections=2, borrow_timeout_s=2)


@dataclass
class Sampler:
    """Samples the proxy's pool (or the server's backends) every 50 ms while a run goes on."""

    dsn: str
    dbname: str
    proxy: Any = None
    peaks: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _peak(self, name: str, value: float) -> None:
        self.peaks[name] = max(self.peaks.get(name, 0.0), value)

    def _run(self) -> None:
        import psycopg
        from psycopg.rows import dict_row

        direct = psycopg.connect(self.dsn, autocommit=True, prepare_threshold=None)
        console = None
        if self.proxy is not None:
            console = psycopg.connect(
                self.proxy.admin_dsn(),
                autocommit=True,
                cursor_factory=psycopg.ClientCursor,
                row_factory=dict_row,
            )
        try:
            while not self._stop.wait(SAMPLE_EVERY_S):
                row = direct.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                    (self.dbname,),
                ).fetchone()
                self._peak("server_backends", float(row[0]) if row else 0.0)
                if console is None:
                    continue
                for pool in console.execute(b"SHOW POOLS").fetchall():
                    if pool["database"] != self.dbname:
                        continue
                    open_ = sum(pool[k] for k in ("sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login"))
                    self._peak("server_connections_open", open_)
                    self._peak("server_connections_active", pool["sv_active"])
                    self._peak("clients_waiting", pool["cl_waiting"])
                    self._peak("proxy_wait_max_ms", pool["maxwait"] * 1000 + pool["maxwait_us"] / 1000)
        finally:
            direct.close()
            if console is not None:
                console.close()


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    plan = LoadPlan.quick() if args.quick else LoadPlan()
    overrides: dict[str, Any] = {}
    if args.envs:
        overrides["envs"] = tuple(int(n) for n in args.envs.split(","))
    if args.modes:
        unknown = set(args.modes.split(",")) - set(MODES)
        if unknown:
            raise SystemExit(f"unknown modes: {', '.join(sorted(unknown))} (known: {', '.join(MODES)})")
        overrides["modes"] = tuple(args.modes.split(","))
    for name in ("burst", "requests", "server_connections", "background", "direct_max_envs"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    plan = replace(plan, **overrides)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"load-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    results = run(plan, python=args.python, keep=args.keep, progress=path.with_suffix(".partial.json"))
    path.write_text(json.dumps(results, indent=1, default=str) + "\n")
    path.with_suffix(".partial.json").unlink(missing_ok=True)
    print(table(results))
    print()
    print(targets(results))
    print(f"\nresults: {path.relative_to(PROJECT_ROOT)}")
    failed = [r for r in results["runs"] if r["unanswered"] or r["leftover_backends"]]
    return 1 if failed else 0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few environments and requests (CI smoke run)")
    parser.add_argument(
        "--envs", help="comma-separated environment counts of the warm runs (default 1,8,32,64)"
    )
    parser.add_argument("--burst", type=int, help="cold environments started at once (default 64; 0 = none)")
    parser.add_argument("--requests", type=int, help="requests per environment (default 40)")
    parser.add_argument(
        "--server-connections", type=int, help="the proxy's server connections, M (default 8)"
    )
    parser.add_argument("--modes", help=f"comma-separated modes (default {','.join(MODES)})")
    parser.add_argument("--background", type=int, help="background addresses (default 1000)")
    parser.add_argument("--direct-max-envs", type=int, help="largest N run in direct mode (default 32)")
    parser.add_argument("--python", default=sys.executable, help="interpreter of the environments")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    return parser.parse_args(argv)


def _step(message: str) -> None:
    print(f"- {message}", file=sys.stderr, flush=True)


def run(plan: LoadPlan, *, python: str, keep: bool, progress: Path | None = None) -> dict[str, Any]:
    """Every run of the plan; after each one, the runs so far are written to ``progress`` when given."""
    from bench import dataset
    from tools import localdb

    started_at, started = datetime.now(UTC), time.perf_counter()
    load_before = os.getloadavg()
    dsn = localdb.create_database(f"scorer_load_{secrets.token_hex(4)}")
    _step(f"database {localdb.dbname_of(dsn)} created")
    runs = []
    try:
        data = dataset.load(dsn, plan.background)
        environments = max([*plan.envs, plan.burst])
        own, shared = load_addresses(dsn, data.throughput_scorer_id, environments, plan.group_size)
        _step(f"data loaded: {environments} own and {environments} shared addresses")
        with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
            for name in plan.modes:
                mode = MODES[name]
                for envs, warm in [
                    *((n, True) for n in plan.envs),
                    *([(plan.burst, False)] if plan.burst else []),
                ]:
                    if mode.proxy is None and envs > plan.direct_max_envs:
                        continue
                    _step(
                        f"{name}: {envs} {'warm' if warm else 'cold (burst)'} environments x {plan.requests}"
                    )
                    reset_shared(dsn, data.throughput_scorer_id, shared[:envs])
                    runs.append(run_one(plan, mode, envs, warm, python, dsn, data, own, shared, Path(tmp)))
                    if progress is not None:
                        progress.write_text(json.dumps({"plan": asdict(plan), "runs": runs}, default=str))
    finally:
        if keep:
            _step(f"kept database: {dsn}")
        else:
            localdb.drop_database(dsn)
    return {
        "schema": 1,
        "started_at": started_at.isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - started, 1),
        "plan": asdict(plan),
        "python": python,
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "runs": runs,
    }


def load_addresses(dsn: str, community_id: int, count: int, group_size: int) -> tuple[list[str], list[str]]:
    """``count`` own addresses (10 stamps) and ``count`` shared ones (10 stamps, the first three sharing
    their nullifiers within groups of ``group_size``), all in the benchmark's main community."""
    import psycopg

    from bench.dataset import EXPIRATION, PROVIDERS, bench_address
    from tools import seed
    from tools.credentials import issue_stamp

    own = [bench_address(f"load own {n}") for n in range(count)]
    shared = [bench_address(f"load shared {n}") for n in range(count)]
    with psycopg.connect(dsn) as conn:
        for n in range(count):
            for provider in PROVIDERS[:10]:
                seed.insert_ceramic_stamp(conn, own[n], issue_stamp(own[n], provider, expiration=EXPIRATION))
            for index, provider in enumerate(PROVIDERS[:10]):
                nullifiers = (
                    [f"v0.0.0:load-group-{n // group_size}-{provider}"] if index < SHARED_STAMPS else None
                )
                vc = issue_stamp(shared[n], provider, expiration=EXPIRATION, nullifiers=nullifiers)
                seed.insert_ceramic_stamp(conn, shared[n], vc)
    return own, shared


def reset_shared(dsn: str, community_id: int, addresses: list[str]) -> None:
    """Forget the shared addresses' scores and links, so that each run's first scores race for them."""
    import psycopg

    from bench.dataset import Case, reset

    with psycopg.connect(dsn) as conn:
        for address in addresses:
            reset(conn, Case(name="shared", scorer_id=community_id, address=address, stamps=10))


def run_one(
    plan: LoadPlan,
    mode: Mode,
    envs: int,
    warm: bool,
    python: str,
    dsn: str,
    data: Any,
    own: list[str],
    shared: list[str],
    tmp: Path,
) -> dict[str, Any]:
    from tools import localdb, pgproxy

    proxy = None
    if mode.proxy is not None:
        settings = pgproxy.ProxySettings(
            pool_mode="session" if mode.proxy == "session" else "transaction",
            pool_size=plan.server_connections,
            borrow_timeout_s=plan.borrow_timeout_s,
        )
        proxy = pgproxy.PgBouncer(localdb.admin_dsn(), settings)
        proxy.start()
    try:
        service_dsn = proxy.dsn_through(dsn) if proxy is not None else dsn
        children = _spawn(plan, mode, envs, warm, python, service_dsn, dsn, data, own, shared, tmp)
        dbname = localdb.dbname_of(dsn)
        stats_before = proxy.stats(dbname) if proxy is not None else {}
        with Sampler(dsn, dbname, proxy) as sampler:
            outcomes = _release_and_collect(children)
        stats_after = proxy.stats(dbname) if proxy is not None else {}
        leftovers = pgproxy.server_leftovers(proxy, dsn, "passport-score-lambda") if proxy is not None else {}
    finally:
        if proxy is not None:
            proxy.stop()
    return summarize(plan, mode, envs, warm, outcomes, sampler.peaks, stats_before, stats_after, leftovers)


def _spawn(
    plan: LoadPlan,
    mode: Mode,
    envs: int,
    warm: bool,
    python: str,
    service_dsn: str,
    dsn: str,
    data: Any,
    own: list[str],
    shared: list[str],
    tmp: Path,
) -> list[tuple[subprocess.Popen[str], Path, Path]]:
    from bench.harness import WorkerConfig
    from bench.run import _worker_env, handler_env

    env = {**handler_env(service_dsn, data.issuer_did), "DB_CONNECT_TIMEOUT": str(plan.connect_timeout_s)}
    children = []
    for n in range(envs):
        stem = f"{mode.name}-{envs}-{'warm' if warm else 'cold'}-{n}"
        config, result, errors = tmp / f"{stem}.config.json", tmp / f"{stem}.json", tmp / f"{stem}.err"
        options = {
            "own": own[n],
            "shared": shared[n],
            "requests": plan.requests,
            "warm": warm,
            "warmup": plan.warmup,
            "reconnect": mode.reconnect,
            "share_every": plan.share_every,
        }
        WorkerConfig.write(config, env, dsn, data, options)
        child = subprocess.Popen(
            [python, "-m", "bench.load_env", str(config), str(result)],
            cwd=PROJECT_ROOT,
            env=_worker_env(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors.open("w"),
            text=True,
        )
        children.append((child, result, errors))
    for child, _, _ in children:
        assert child.stdout is not None
        child.stdout.readline()  # "ready", or nothing when it failed (reported when collected)
    return children


def _release_and_collect(children: list[tuple[subprocess.Popen[str], Path, Path]]) -> list[dict[str, Any]]:
    for child, _, _ in children:
        assert child.stdin is not None
        try:
            child.stdin.write("go\n")
            child.stdin.flush()
        except BrokenPipeError:
            pass
    outcomes = []
    for child, result, errors in children:
        try:
            code = child.wait(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            code = child.wait()
        if code != 0 or not result.exists():
            outcomes.append({"crashed": errors.read_text()[-2000:], "records": [], "warmup_errors": []})
        else:
            outcomes.append(json.loads(result.read_text()))
    return outcomes


def summarize(
    plan: LoadPlan,
    mode: Mode,
    envs: int,
    warm: bool,
    outcomes: list[dict[str, Any]],
    peaks: dict[str, float],
    stats_before: dict[str, Any],
    stats_after: dict[str, Any],
    leftovers: dict[int, dict[str, list[str]]],
) -> dict[str, Any]:
    from bench.report import distribution

    records = [record for outcome in outcomes for record in outcome["records"]]
    errors = Counter(record["error"] for record in records if record["error"] is not None)
    warmup_errors = Counter(kind for outcome in outcomes for kind in outcome["warmup_errors"])
    crashed = [outcome["crashed"] for outcome in outcomes if "crashed" in outcome]
    answered = [outcome for outcome in outcomes if outcome["records"]]
    span = (
        max(outcome["ended"] for outcome in answered) - min(outcome["started"] for outcome in answered)
        if answered
        else math.nan
    )
    ok = len(records) - sum(errors.values())
    xacts = _delta(stats_before, stats_after, "total_xact_count")
    wait_us = _delta(stats_before, stats_after, "total_wait_time")
    xact_us = _delta(stats_before, stats_after, "total_xact_time")
    return {
        "mode": mode.name,
        "mode_label": mode.label,
        "envs": envs,
        "start": "warm" if warm else "cold burst",
        "server_connections_cap": plan.server_connections if mode.proxy else None,
        "requests": len(records),
        "expected": envs * plan.requests,
        "unanswered": envs * plan.requests - len(records),
        "ok": ok,
        "errors": dict(errors),
        "warmup_errors": dict(warmup_errors),
        "crashed_environments": crashed,
        "seconds": span,
        "ok_per_s": ok / span if span and not math.isnan(span) else math.nan,
        "latency_ms": distribution([record["ms"] for record in records]),
        "connect_ms": distribution([record["connect_ms"] for record in records]),
        "lifo_retries": sum(max(0, int(record["lifo_attempts"]) - 1) for record in records),
        "proxy_transactions": xacts,
        "proxy_wait_mean_ms": (wait_us / xacts / 1000) if xacts and wait_us is not None else None,
        # How long a transaction held its server connection: what M server connections must carry.
        "proxy_transaction_mean_ms": (xact_us / xacts / 1000) if xacts and xact_us is not None else None,
        "peaks": peaks,
        "leftover_backends": {str(pid): found for pid, found in leftovers.items() if found},
        "inspected_backends": len(leftovers),
    }


def _delta(before: dict[str, Any], after: dict[str, Any], key: str) -> float | None:
    if key not in after:
        return None
    return float(after[key]) - float(before.get(key, 0))


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def table(results: dict[str, Any]) -> str:
    """The runs as a Markdown table (times in ms), then the error kinds of each run that had any."""
    header = (
        "| mode | envs | start | answered | errors | ok req/s | p50 | p95 | p99 | max | conn wait p99 / max "
        "| proxy wait mean / max | server held per tx | LIFO retries | server conns open / active | leftovers |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    notes = []
    for r in results["runs"]:
        latency, connect, peaks = r["latency_ms"], r["connect_ms"], r["peaks"]
        error_count = sum(r["errors"].values())
        proxy_wait = (
            f"{_fmt(r['proxy_wait_mean_ms'])} / {_fmt(peaks.get('proxy_wait_max_ms'), 0)}"
            if r["server_connections_cap"]
            else "-"
        )
        servers = (
            f"{_fmt(peaks.get('server_connections_open'), 0)} / {_fmt(peaks.get('server_connections_active'), 0)}"
            if r["server_connections_cap"]
            else f"{_fmt(peaks.get('server_backends'), 0)} / -"
        )
        leftovers = str(len(r["leftover_backends"])) if r["server_connections_cap"] else "-"
        lines.append(
            f"| {r['mode']} | {r['envs']} | {r['start']} | {r['requests']}/{r['expected']} | {error_count} "
            f"| {_fmt(r['ok_per_s'])} | {_fmt(latency['p50'])} | {_fmt(latency['p95'])} | {_fmt(latency['p99'])} "
            f"| {_fmt(latency['max'], 0)} | {_fmt(connect['p99'])} / {_fmt(connect['max'], 0)} | {proxy_wait} "
            f"| {_fmt(r.get('proxy_transaction_mean_ms'))} | {r['lifo_retries']} | {servers} | {leftovers} |"
        )
        kinds = {**r["errors"], **{f"warm-up: {k}": v for k, v in r["warmup_errors"].items()}}
        if kinds or r["crashed_environments"]:
            listed = ", ".join(f"{kind} x{count}" for kind, count in sorted(kinds.items()))
            crashed = (
                f"; {len(r['crashed_environments'])} environments crashed"
                if r["crashed_environments"]
                else ""
            )
            notes.append(f"- {r['mode']} {r['envs']} {r['start']}: {listed}{crashed}")
    return "\n".join(lines + (["", *notes] if notes else []))


def _find(results: dict[str, Any], mode: str, envs: int, start: str = "warm") -> dict[str, Any] | None:
    for r in results["runs"]:
        if (r["mode"], r["envs"], r["start"]) == (mode, envs, start):
            found: dict[str, Any] = r
            return found
    return None


def targets(results: dict[str, Any]) -> str:
    """The issue's targets, met or missed, with the numbers."""
    plan = results["plan"]
    lines = ["Targets:"]
    single, many, direct = (
        _find(results, "transaction", 1),
        _find(results, "transaction", 32),
        _find(results, "direct", 32),
    )
    if single and many:
        bound = 10 * single["latency_ms"]["p50"]
        errors = sum(many["errors"].values()) + many["unanswered"]
        lines.append(
            f"- transaction, 32 envs on {plan['server_connections']} server connections: {errors} errors (target 0)"
        )
        lines.append(
            f"- p99 {_fmt(many['latency_ms']['p99'])} ms vs 10 x single-environment p50 = {_fmt(bound)} ms: "
            + ("met" if many["latency_ms"]["p99"] <= bound else "missed")
        )
        if direct:
            ratio = many["ok_per_s"] / direct["ok_per_s"] if direct["ok_per_s"] else math.nan
            lines.append(
                f"- throughput {_fmt(many['ok_per_s'])} req/s vs direct {_fmt(direct['ok_per_s'])} req/s: "
                f"{_fmt(ratio * 100, 0)} % ({'met' if ratio >= 0.8 else 'missed'}, target >= 80 %)"
            )
    burst = _find(results, "transaction", plan["burst"], "cold burst")
    if burst:
        waited = max(burst["connect_ms"]["max"], burst["peaks"].get("proxy_wait_max_ms", 0.0))
        limit = plan["connect_timeout_s"] * 1000
        lines.append(
            f"- burst of {plan['burst']} cold environments: {burst['requests']}/{burst['expected']} answered, "
            f"{sum(burst['errors'].values())} errors, longest wait for a connection {_fmt(waited, 0)} ms "
            f"(connect timeout {limit} ms: {'met' if waited <= limit and not burst['unanswered'] else 'missed'})"
        )
    inspected = [r for r in results["runs"] if r["server_connections_cap"]]
    pinned = sum(len(r["leftover_backends"]) for r in inspected)
    lines.append(
        f"- session state left on the proxy's server connections after the runs: {pinned} backends "
        f"(of {sum(r['inspected_backends'] for r in inspected)} inspected over {len(inspected)} runs)"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
