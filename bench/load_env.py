"""One Lambda environment of the load benchmark: ``python -m bench.load_env CONFIG RESULT``.

A fresh interpreter with its own connection pool (the service's, from ``DATABASE_URL``), serving one
request at a time as a Lambda environment does. Options (from ``bench.load``):

- ``own``: its own address; ``shared``: an address whose first stamps carry nullifiers that the shared
  addresses of other environments carry too; every ``share_every``-th request scores ``shared``;
- ``requests``: how many requests after the start signal;
- ``warm``: score ``own`` ``warmup`` times before saying ``ready`` (a warm environment: pool open, proofs
  verified); when false, nothing touches the database before the start signal (a cold connect storm);
- ``reconnect``: close the pool after each request (untimed), so that every request opens a new
  connection, as a Django process with ``CONN_MAX_AGE = 0`` does.

Per request it records the latency, the time spent getting a connection in this process (pool creation and
checkout, connects included; a proxy's queue comes on top, inside the first round trip), the status, the
error text of a failure, and the LIFO attempts the core reports.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.dataset import Case
from bench.harness import TimedHandler, WorkerConfig, run_worker, score_event


class ConnectionClock:
    """Time spent in the service's pool creation and checkout, wrapped around ``scorer_core.db``."""

    def __init__(self) -> None:
        from scorer_core.db import pool

        self.ms = 0.0
        self._wrap(pool, "_get_pool")
        self._wrap(pool, "_checkout")

    def _wrap(self, module: Any, name: str) -> None:
        original: Callable[..., Any] = getattr(module, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.ms += (time.perf_counter() - started) * 1000

        setattr(module, name, timed)


def error_kind(status: int, body: str) -> str | None:
    """None for a scored answer; otherwise the status and the error text (``500 DB Error: ...``)."""
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if status == 200 and isinstance(doc, dict) and doc.get("error") is None and "score" in doc:
        return None
    error = doc.get("error") if isinstance(doc, dict) else body[:80]
    return f"{status} {error}"


def measure(config: WorkerConfig) -> dict[str, Any]:
    control = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # the handler's log lines and metrics
    options, data = config.options, config.data
    scorer = data.throughput_scorer_id
    own = Case(name="own", scorer_id=scorer, address=options["own"], stamps=10)
    shared = Case(name="shared", scorer_id=scorer, address=options["shared"], stamps=10)
    events = {case.name: score_event(case, data.api_key) for case in (own, shared)}
    handler = TimedHandler()
    from scorer_core import db
    from tools.credentials import guard_didkit_exit

    guard_didkit_exit()
    clock = ConnectionClock()
    warmup_errors: list[str] = []
    if options["warm"]:
        for _ in range(int(options["warmup"])):
            sample = handler.call(events["own"])
            kind = error_kind(sample.status, sample.body)
            if kind is not None:
                warmup_errors.append(kind)
    control.write("ready\n")
    control.flush()
    sys.stdin.readline()
    records = []
    share_every = int(options["share_every"])
    started = time.monotonic()
    for n in range(int(options["requests"])):
        name = "shared" if share_every and n % share_every == share_every - 1 else "own"
        clock.ms = 0.0
        at = time.monotonic()
        try:
            sample = handler.call(events[name])
            kind = error_kind(sample.status, sample.body)
            latency, lifo = sample.total, sample.lifo_attempts
        except Exception as exc:  # the handler answers every failure; this would be a bug worth counting
            kind, latency, lifo = f"raised {type(exc).__name__}", (time.monotonic() - at) * 1000, 0
        records.append(
            {
                "at": at,
                "ms": latency,
                "connect_ms": clock.ms,
                "error": kind,
                "lifo_attempts": lifo,
                "case": name,
            }
        )
        if options["reconnect"]:
            db.close_pool()
    return {
        "started": started,
        "ended": time.monotonic(),
        "records": records,
        "warmup_errors": warmup_errors,
    }


if __name__ == "__main__":
    run_worker(measure)
