"""One of the concurrent throughput workers: ``python -m bench.throughput CONFIG RESULT``.

Re-scores its own addresses (``options.addresses``, so workers never wait on each other's passport row
lock) ``options.requests`` times. It warms up, says ``ready`` on its stdout, and starts when a line
arrives on its stdin, so that all workers run at once; the handler's own log lines go to /dev/null.
Start and end are ``time.monotonic()`` readings, comparable across processes on one machine.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from bench.dataset import Case
from bench.harness import TimedHandler, WorkerConfig, check_scored, run_worker, score_event


def measure(config: WorkerConfig) -> dict[str, Any]:
    control = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    data = config.data
    cases = [
        Case(name=f"throughput {address}", scorer_id=data.throughput_scorer_id, address=address, stamps=10)
        for address in config.options["addresses"]
    ]
    events = [score_event(case, data.api_key) for case in cases]
    handler = TimedHandler()
    for case, event in zip(cases, events, strict=True):
        for _ in range(int(config.options["warmup"])):
            check_scored(case, handler.call(event))
    control.write("ready\n")
    control.flush()
    sys.stdin.readline()
    latencies: list[float] = []
    failures = 0
    started = time.monotonic()
    for n in range(int(config.options["requests"])):
        sample = handler.call(events[n % len(events)])
        latencies.append(sample.total)
        try:
            check_scored(cases[n % len(cases)], sample)
        except RuntimeError:
            failures += 1
    return {"started": started, "ended": time.monotonic(), "latencies": latencies, "failures": failures}


if __name__ == "__main__":
    run_worker(measure)
