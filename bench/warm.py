"""Warm latency per case, as one warm Lambda container sees it: ``python -m bench.warm CONFIG RESULT``.

For each case, after a warm-up: ``iterations`` re-scores (the passport is already scored), then
``iterations`` first scores (the address's passport, score, stamps, hash links, events and, for Human
Points, its points rows are deleted before each call, untimed). Ends with the process's peak RSS.
"""

from __future__ import annotations

import resource
from typing import Any

import psycopg

from bench import dataset
from bench.harness import Sample, TimedHandler, WorkerConfig, check_scored, run_worker, score_event

MODES = ("re-score", "first score")


def measure(config: WorkerConfig) -> dict[str, Any]:
    iterations, warmup = int(config.options["iterations"]), int(config.options["warmup"])
    handler = TimedHandler()
    results: list[dict[str, Any]] = []
    with psycopg.connect(config.dsn, autocommit=True) as reset_conn:
        for case in config.data.cases:
            event = score_event(case, config.data.api_key)
            for mode in MODES:

                def prepare(case: dataset.Case = case, mode: str = mode) -> None:
                    if mode == "first score":
                        dataset.reset(reset_conn, case)

                for _ in range(warmup):
                    prepare()
                    check_scored(case, handler.call(event))
                samples: list[Sample] = []
                for _ in range(iterations):
                    prepare()
                    samples.append(handler.call(event))
                    response = check_scored(case, samples[-1])  # every call, untimed
                results.append(
                    {
                        "case": case.name,
                        "mode": mode,
                        "response": response,
                        "samples": [_sample_json(sample) for sample in samples],
                    }
                )
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    return {"cases": results, "peak_rss_mb": peak_kb / 1024}


def _sample_json(sample: Sample) -> dict[str, float | None]:
    return {
        "total": sample.total,
        "verify": sample.verify,
        "database": sample.database,
        "commit": sample.commit,
        "analytics": sample.analytics,
        "other": sample.other,
    }


if __name__ == "__main__":
    run_worker(measure)
