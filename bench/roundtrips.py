"""Database round trips and statements of one request per case: ``python -m bench.roundtrips CONFIG RESULT``.

The handler's pool connects through ``bench.proxy``, which counts client bursts (round trips) and the
statements on the wire, transaction control included. The core's own count (``db.total_statement_count``,
the statements its cursors send) is read alongside. One request opens the pool first, so connection
set-up is not counted; resets go straight to the server, not through the proxy.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

import psycopg

from bench import dataset
from bench.harness import TimedHandler, WorkerConfig, check_scored, run_worker, score_event
from bench.proxy import CountingProxy


def measure(config: WorkerConfig) -> dict[str, Any]:
    proxy = CountingProxy(config.dsn)
    os.environ["DATABASE_URL"] = proxy.dsn_through(config.dsn)
    from scorer_core import db
    from scorer_core.settings import get_settings

    get_settings.cache_clear()
    core_count = getattr(db, "total_statement_count", None)
    handler = TimedHandler()
    data = config.data
    results: list[dict[str, Any]] = []
    with psycopg.connect(config.dsn, autocommit=True) as reset_conn:
        check_scored(data.cases[0], handler.call(score_event(data.cases[0], data.api_key)))  # opens the pool
        for case in data.cases:
            event = score_event(case, data.api_key)
            for mode in ("first score", "re-score"):
                if mode == "first score":
                    dataset.reset(reset_conn, case)
                before, core_before = proxy.snapshot(), core_count() if core_count else None
                check_scored(case, handler.call(event))
                wire = proxy.snapshot().since(before)
                core = core_count() - core_before if core_count and core_before is not None else None
                results.append({"case": case.name, "mode": mode, "core_statements": core, **asdict(wire)})
    proxy.close()
    return {"cases": results}


if __name__ == "__main__":
    run_worker(measure)
