"""Warm latency per case, as one warm Lambda container sees it: ``python -m bench.warm CONFIG RESULT``.

For each case, after a warm-up: ``iterations`` re-scores (the passport is already scored), then
``iterations`` first scores: before each call, untimed, the address's passport, score, stamps, hash links,
events and (Human Points) points rows are deleted, and the core's cache of verified proofs is emptied, as a
warm process that never saw these credentials would have it. Ends with the process's peak RSS.
"""

from __future__ import annotations

import resource
from pathlib import Path
from typing import Any

import psycopg

from bench import dataset
from bench.harness import (
    Sample,
    TimedHandler,
    WorkerConfig,
    check_scored,
    forget_verified_proofs,
    run_worker,
    score_event,
)

MODES = ("re-score", "first score")


def measure(config: WorkerConfig) -> dict[str, Any]:
    iterations, warmup = int(config.options["iterations"]), int(config.options["warmup"])
    handler = TimedHandler()
    results: list[dict[str, Any]] = []
    cache_emptied = False
    with psycopg.connect(config.dsn, autocommit=True) as reset_conn:
        for case in config.data.cases:
            event = score_event(case, config.data.api_key)
            for mode in MODES:
                series = Series(
                    handler, event, case, first_score=mode == "first score", reset_conn=reset_conn
                )
                series.run(warmup)
                samples = series.run(iterations)
                cache_emptied |= series.cache_emptied
                results.append(
                    {
                        "case": case.name,
                        "mode": mode,
                        "response": series.response,
                        "samples": [_sample_json(sample) for sample in samples],
                        "peak_rss_mb_after": _peak_rss_mb(),
                    }
                )
    return {
        "cases": results,
        "peak_rss_mb": _peak_rss_mb(),
        "verification_cache_emptied": cache_emptied,
    }


class Series:
    """Repeated calls of one case in one mode; every response is checked (untimed)."""

    def __init__(
        self,
        handler: TimedHandler,
        event: dict[str, Any],
        case: dataset.Case,
        *,
        first_score: bool,
        reset_conn: psycopg.Connection[Any],
    ) -> None:
        self._handler, self._event, self._case = handler, event, case
        self._first_score, self._reset_conn = first_score, reset_conn
        self.response: dict[str, Any] = {}
        self.cache_emptied = False

    def run(self, count: int) -> list[Sample]:
        samples = []
        for _ in range(count):
            if self._first_score:
                dataset.reset(self._reset_conn, self._case)
                self.cache_emptied = forget_verified_proofs()
            samples.append(self._handler.call(self._event))
            self.response = check_scored(self._case, samples[-1])
        return samples


def _sample_json(sample: Sample) -> dict[str, float | None]:
    return {
        "total": sample.total,
        "verify": sample.verify,
        "database": sample.database,
        "commit": sample.commit,
        "analytics": sample.analytics,
        "other": sample.other,
    }


def _peak_rss_mb() -> float:
    """This process's peak resident set size.

    Linux's ``getrusage`` ``ru_maxrss`` would also count the peak of the parent that spawned us (the kernel
    carries the old address space's high-water mark over ``exec``), so ``VmHWM``, the peak of this process's
    own address space, is read where it exists.
    """
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux
    kilobytes = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(kilobytes) / 1024


if __name__ == "__main__":
    run_worker(measure)
