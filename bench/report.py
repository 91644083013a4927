"""Turning measurements into numbers: percentiles, the printed table, the JSON file, and comparisons.

Every number a run prints is also in its JSON file, under ``metrics`` as flat ``name -> value`` pairs, so
``--compare`` can put any two runs side by side without knowing how they were produced.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SPLIT_PARTS = ("verify", "database", "commit", "analytics", "other")
TABLE_COLUMNS = (
    *("case", "mode", "n", "min", "p50", "p95", "p99"),
    *("verify", "db", "commit", "analytics", "other"),
    *("trips", "stmts", "wire", "tx"),
)


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), on already sorted values."""
    if not sorted_values:
        return math.nan
    position = (len(sorted_values) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def distribution(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "min": ordered[0] if ordered else math.nan,
        "p50": percentile(ordered, 0.50),
        "p95": percentile(ordered, 0.95),
        "p99": percentile(ordered, 0.99),
        "max": ordered[-1] if ordered else math.nan,
        "mean": statistics.fmean(ordered) if ordered else math.nan,
    }


def split(samples: Sequence[dict[str, float | None]]) -> dict[str, float | None]:
    """Mean ms per part; the parts add up to the mean total. None where the core reported nothing."""
    means: dict[str, float | None] = {}
    for part in SPLIT_PARTS:
        values = [sample[part] for sample in samples]
        known = [value for value in values if value is not None]
        means[part] = statistics.fmean(known) if known and len(known) == len(values) else None
    return means


def flat_metrics(results: dict[str, Any]) -> dict[str, float]:
    """``name -> value`` for everything worth comparing between runs."""
    metrics: dict[str, float] = {}
    for case in results["cases"]:
        prefix = f"{case['case']} / {case['mode']}"
        for key in ("min", "p50", "p95", "p99"):
            metrics[f"{prefix} / {key} ms"] = case["latency_ms"][key]
        for part, value in case["split_ms"].items():
            if value is not None:
                metrics[f"{prefix} / {part} ms"] = value
        for key in ("round_trips", "core_statements", "wire_statements", "transactions"):
            if case["database"].get(key) is not None:
                metrics[f"{prefix} / {key.replace('_', ' ')}"] = case["database"][key]
    for case in results.get("embed_cases", []):
        for key in ("min", "p50", "p95", "p99"):
            metrics[f"{case['case']} / {key} ms"] = case["latency_ms"][key]
        for key in ("round_trips", "core_statements", "wire_statements", "transactions"):
            metrics[f"{case['case']} / {key.replace('_', ' ')}"] = case["database"][key]
    cold = results["cold_start"]
    metrics["cold start / spawn to first response ms (median)"] = cold["spawn_to_response_ms"]["p50"]
    metrics["cold start / import handlers.score ms (median)"] = cold["import_ms"]["p50"]
    metrics["cold start / first call ms (median)"] = cold["first_call_ms"]["p50"]
    if results["import_time"].get("handlers_score_cumulative_ms") is not None:
        metrics["import / -X importtime handlers.score ms"] = results["import_time"][
            "handlers_score_cumulative_ms"
        ]
    metrics["memory / peak RSS of the warm loop MB"] = results["memory"]["peak_rss_mb"]
    artifact = results.get("artifact_cold_start") or {}
    if "init_ms" in artifact:
        metrics["artifact / init ms (median)"] = artifact["init_ms"]["p50"]
        metrics["artifact / first invoke ms (median)"] = artifact["first_invoke_ms"]["p50"]
        metrics["artifact / init + first invoke ms (median)"] = artifact["init_plus_first_invoke_ms"]["p50"]
        metrics["artifact / warm invoke ms, client (median)"] = artifact["warm_client_ms"]["p50"]
        metrics["artifact / warm invoke ms, emulator (median)"] = artifact["warm_runtime_ms"]["p50"]
        metrics["artifact / runtime peak RSS MB (median)"] = artifact["runtime_peak_rss_mb"]["p50"]
    throughput = results["throughput"]
    metrics[f"throughput / {throughput['workers']} workers requests per s"] = throughput["requests_per_s"]
    metrics["throughput / p50 ms under load"] = throughput["latency_ms"]["p50"]
    metrics["throughput / p95 ms under load"] = throughput["latency_ms"]["p95"]
    return metrics


def save(results: dict[str, Any], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"{stamp}.json"
    path.write_text(json.dumps(results, indent=1, default=str) + "\n")
    return path


def _ms(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.2f}"


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _rows_to_text(rows: list[list[str]], right_from: int) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(w) if i >= right_from else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def table(results: dict[str, Any]) -> str:
    """The per-case table, then the process-wide figures, as aligned text."""
    env = results["environment"]
    header = (
        f"score Lambda benchmark  {results['started_at']}  commit {env['git_commit'] or '?'}"
        f"{' (+local changes)' if env['git_changed_paths'] else ''}  Python {env['python']}"
        f"  PostgreSQL {env['postgres_version']} ({env['postgres_server']})  {env['cpus']} CPUs"
        f"  {results['options']['iterations']} requests per case"
    )
    rows = [list(TABLE_COLUMNS)]
    for case in results["cases"]:
        latency, parts, database = case["latency_ms"], case["split_ms"], case["database"]
        rows.append(
            [case["case"], case["mode"], str(latency["n"])]
            + [_ms(latency[key]) for key in ("min", "p50", "p95", "p99")]
            + [_ms(parts[part]) for part in SPLIT_PARTS]
            + [
                _count(database.get(key))
                for key in ("round_trips", "core_statements", "wire_statements", "transactions")
            ]
        )
    lines = [header, "", *_rows_to_text(rows, right_from=2)]
    emptied = results.get("verification_cache_emptied_before_first_scores")
    lines.append(
        "re-score: the passport is already scored; first score: its passport, score, stamps, hash links, events"
        " (and points) deleted before each call, untimed"
        + ("; the core's verified-proof cache emptied too." if emptied else ".")
    )
    lines.append(
        "times in ms; verify/db: the core's Outcome.timings; commit: pool checkout + commit; analytics: the"
        " separate analytics write; other: the rest (mean per request, parts add up to the mean)."
    )
    lines.append(
        "trips: client->server bursts through a counting proxy; stmts: the db module's statement counter;"
        " wire: statements on the wire incl. BEGIN/COMMIT/SAVEPOINT; tx: transactions (one request each)."
    )
    cold, imports = results["cold_start"], results["import_time"]
    throughput, memory, data = results["throughput"], results["memory"], results["dataset"]
    facts = [
        [
            "cold start, spawn to first response",
            f"{_ms(cold['spawn_to_response_ms']['p50'])} ms median of {cold['runs']}"
            f" (import {_ms(cold['import_ms']['p50'])} ms, first call {_ms(cold['first_call_ms']['p50'])} ms)",
        ],
        [
            "import handlers.score",
            f"{_ms(cold['import_ms']['p50'])} ms median of {cold['runs']} fresh processes;"
            f" -X importtime cumulative {_ms(imports.get('handlers_score_cumulative_ms'))} ms",
        ],
        ["peak RSS of the warm-loop process", f"{memory['peak_rss_mb']:.1f} MB"],
        *_artifact_facts(results),
        [
            f"throughput, {throughput['workers']} worker processes",
            f"{throughput['requests_per_s']:.1f} requests/s over {throughput['requests']} re-scores"
            f" (p50 {_ms(throughput['latency_ms']['p50'])} ms, p95 {_ms(throughput['latency_ms']['p95'])} ms,"
            f" {throughput['failures']} failed)",
        ],
        [
            "data set",
            f"{data['rows']['registry_passport']} background passports,"
            f" {data['rows']['ceramic_cache_ceramiccache']} ceramic-cache rows,"
            f" {data['rows']['registry_stamp']} stamps, loaded in {data['load_s']:.1f} s",
        ],
    ]
    lines += ["", *_rows_to_text(facts, right_from=2)]
    lines += _embed_table(results.get("embed_cases", []))
    traced = [case for case in results["cases"] if case["database"].get("round_trip_statements")][:2]
    if traced:
        lines += ["", "statements per round trip, one request:"]
        for case in traced:
            bursts = " | ".join(
                " ".join(kinds) or "(no statement)" for kinds in case["database"]["round_trip_statements"]
            )
            lines.append(f"{case['case']}, {case['mode']}: {bursts}")
    top = imports.get("top") or []
    if top:
        lines += ["", "most expensive imports (cumulative ms, -X importtime):"]
        lines += _rows_to_text(
            [[f"{entry['cumulative_ms']:.1f}", entry["module"]] for entry in top], right_from=2
        )
    return "\n".join(lines)


def _embed_table(cases: list[dict[str, Any]]) -> list[str]:
    """The embed routes (``bench.embed``): latency, then the counts of one request through the proxy."""
    if not cases:
        return []
    rows = [["embed case", "n", "min", "p50", "p95", "p99", "trips", "stmts", "wire", "tx"]]
    for case in cases:
        latency, database = case["latency_ms"], case["database"]
        rows.append(
            [case["case"], str(latency["n"])]
            + [_ms(latency[key]) for key in ("min", "p50", "p95", "p99")]
            + [
                _count(database.get(key))
                for key in ("round_trips", "core_statements", "wire_statements", "transactions")
            ]
        )
    lines = ["", *_rows_to_text(rows, right_from=1)]
    for case in cases:
        bursts = " | ".join(
            " ".join(kinds) or "(no statement)" for kinds in case["database"]["round_trip_statements"]
        )
        lines.append(f"{case['case']}: {bursts}")
    return lines


def _artifact_facts(results: dict[str, Any]) -> list[list[str]]:
    """The built bundle under the Lambda emulator, next to the development tree's figures."""
    artifact = results.get("artifact_cold_start") or {}
    if "init_ms" not in artifact:
        return [["built bundle under the Lambda emulator", f"not measured: {artifact.get('skipped', '-')}"]]
    cold = results["cold_start"]["spawn_to_response_ms"]["p50"]
    total = artifact["init_plus_first_invoke_ms"]["p50"]
    rescore = next((c["latency_ms"]["p50"] for c in results["cases"] if c["mode"] == "re-score"), math.nan)
    bytecode = "with" if artifact["bytecode"] else "without"
    return [
        [
            "built bundle, cold start (emulator)",
            f"init {_ms(artifact['init_ms']['p50'])} + first invoke {_ms(artifact['first_invoke_ms']['p50'])}"
            f" = {_ms(total)} ms median of {artifact['runs']} ({bytecode} bytecode); development tree"
            f" {_ms(cold)} ms, ratio {total / cold:.2f}",
        ],
        [
            "built bundle, warm invoke (emulator)",
            f"{_ms(artifact['warm_client_ms']['p50'])} ms p50 at the client,"
            f" {_ms(artifact['warm_runtime_ms']['p50'])} ms in the emulator;"
            f" in-process re-score p50 {_ms(rescore)} ms",
        ],
        [
            "built bundle, runtime peak RSS",
            f"{artifact['runtime_peak_rss_mb']['p50']:.1f} MB (VmHWM of the runtime process, median)",
        ],
    ]


def compare(first: dict[str, Any], second: dict[str, Any], first_name: str, second_name: str) -> str:
    """Every metric of two runs side by side, with the relative change."""
    a, b = first["metrics"], second["metrics"]
    names = list(a) + [name for name in b if name not in a]
    rows = [["metric", first_name, second_name, "change"]]
    for name in names:
        before, after = a.get(name), b.get(name)
        change = "-"
        if before is not None and after is not None and before != 0:
            change = f"{(after - before) / before * 100:+.1f}%"
        rows.append([name, _number(before), _number(after), change])
    return "\n".join(_rows_to_text(rows, right_from=1))


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"
