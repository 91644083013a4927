"""What the shadow tells operators: one log entry per mismatch, and the summary of a replay.

Both are built from the response bodies only, never the request's headers, and any string containing the
request's API key or credentials is masked, so a report can be pasted into a ticket.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from scorer_core.shadow.record import request_id, request_path, secrets_in
from scorer_core.shadow.run import ShadowOutcome

MAX_TEXT = 300  # characters of one value kept in a log line or report
SHOWN_DIFFERENCES = 5  # per example in the rendered report


def mismatch_log(outcome: ShadowOutcome, *, max_differences: int = 20) -> dict[str, Any]:
    """Fields of the structured log entry for one mismatching request."""
    record, comparison = outcome.record, outcome.comparison
    entry = {
        "request_id": request_id(record.event),
        "served_at": record.served_at,
        "path": request_path(record.event),
        "primary_status": record.status,
        "shadow_status": outcome.status,
        "fields": list(comparison.fields),
        "difference_count": len(comparison.differences),
        "differences": [d.as_dict() for d in comparison.differences[:max_differences]],
        "score_delta": None if comparison.score_delta is None else format(comparison.score_delta, "f"),
        "latency_ms": round(outcome.latency_ms, 1),
    }
    masked: dict[str, Any] = _masked(entry, secrets_in(record.event))
    return masked


@dataclass(frozen=True)
class ReplayResult:
    """One replayed record as the report keeps it: plain, masked data, so results from files can merge."""

    line: int
    label: str | None
    path: str | None
    primary_status: int
    shadow_status: int
    differences: list[dict[str, Any]]
    fields: list[str]
    score_delta: str | None
    latency_ms: float

    @property
    def matches(self) -> bool:
        return not self.differences

    @classmethod
    def from_outcome(cls, line: int, outcome: ShadowOutcome) -> ReplayResult:
        entry = mismatch_log(outcome, max_differences=len(outcome.comparison.differences))
        return cls(
            line=line,
            label=outcome.record.label,
            path=entry["path"],
            primary_status=outcome.record.status,
            shadow_status=outcome.status,
            differences=entry["differences"],
            fields=entry["fields"],
            score_delta=entry["score_delta"],
            latency_ms=outcome.latency_ms,
        )

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ReplayResult:
        return cls(**{name: doc[name] for name in cls.__dataclass_fields__})

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__} | {"match": self.matches}


@dataclass
class ReplayReport:
    """Collects replay results; `render` prints the table, `as_dict` keeps every difference for tooling."""

    source: str
    examples: int = 5
    results: list[ReplayResult] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def add(self, line: int, outcome: ShadowOutcome) -> None:
        self.results.append(ReplayResult.from_outcome(line, outcome))

    def add_error(self, line: int, label: str | None, error: BaseException) -> None:
        self.errors.append(
            {"line": line, "label": label, "error": f"{type(error).__name__}: {error}"[:MAX_TEXT]}
        )

    def merge(self, other: dict[str, Any]) -> None:
        """Add the results of another replay's `as_dict` (replays run per database, reported as one)."""
        self.results.extend(ReplayResult.from_dict(doc) for doc in other["results"])
        self.errors.extend(other["errors"])

    @property
    def mismatches(self) -> list[ReplayResult]:
        return [r for r in self.results if not r.matches]

    def by_field(self) -> Counter[str]:
        """Records per top-level field that differs (a record counts once per field)."""
        return Counter(name for result in self.mismatches for name in result.fields)

    def render(self) -> str:
        mismatches = self.mismatches
        lines = [
            f"shadow replay of {self.source}",
            f"  records     {len(self.results) + len(self.errors):>6}",
            f"  matches     {len(self.results) - len(mismatches):>6}",
            f"  mismatches  {len(mismatches):>6}",
            f"  errors      {len(self.errors):>6}",
        ]
        deltas = [Decimal(r.score_delta) for r in self.results if r.score_delta and Decimal(r.score_delta)]
        if deltas:
            largest = max(deltas, key=abs)
            lines.append(f"  score deltas {len(deltas):>5}   largest {largest} (primary − shadow)")
        latencies = sorted(r.latency_ms for r in self.results)
        if latencies:
            p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
            median = statistics.median(latencies)
            lines.append(f"  dry-run ms   median {median:.1f}   p95 {p95:.1f}   max {latencies[-1]:.1f}")
        counts = self.by_field()
        if counts:
            lines += ["", "mismatches by field", f"  {'field':<24}{'records':>8}"]
            lines += [f"  {name:<24}{count:>8}" for name, count in sorted(counts.items())]
        if mismatches:
            lines += ["", f"examples (first {min(self.examples, len(mismatches))} of {len(mismatches)})"]
            for result in mismatches[: self.examples]:
                lines.append(f"  {_title(result)}")
                lines += [
                    f"      {d['path']}: {_short(d['expected'])} -> {_short(d['actual'])}"
                    for d in result.differences[:SHOWN_DIFFERENCES]
                ]
                if len(result.differences) > SHOWN_DIFFERENCES:
                    lines.append(f"      ... {len(result.differences) - SHOWN_DIFFERENCES} more")
        if self.errors:
            lines += ["", "errors"]
            lines += [f"  line {e['line']} {e['label'] or ''} {e['error']}" for e in self.errors]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "records": len(self.results) + len(self.errors),
            "matches": len(self.results) - len(self.mismatches),
            "mismatches": len(self.mismatches),
            "by_field": dict(sorted(self.by_field().items())),
            "errors": self.errors,
            "results": [result.as_dict() for result in self.results],
        }


def _title(result: ReplayResult) -> str:
    label = f" {result.label}" if result.label else ""
    statuses = f"status {result.primary_status} -> {result.shadow_status}"
    return f"line {result.line}{label}  {result.path or ''}  {statuses}"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def _masked(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "***")
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "..."
    if isinstance(value, dict):
        return {k: _masked(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, secrets) for v in value]
    return value
