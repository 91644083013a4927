"""What every benchmark worker process shares: its configuration, the events, and a timed handler call.

A worker is a fresh interpreter (``python -m bench.<worker> CONFIG RESULT``) so that its memory and its
connection pool are its own. The configuration (a JSON file written by ``bench.run``) holds the handler's
environment, the direct DSN (for resets, never through the handler's pool) and the data set description.

Where a request's time goes is read from the core without changing it: ``service.handle`` returns the
``Outcome`` whose ``timings`` carry credential verification and database time, and the two ``db`` entry
points are wrapped to time the transaction's checkout + commit and the separate analytics write.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.dataset import BenchData, Case
from tools.lambda_context import LambdaContext

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass(frozen=True)
class WorkerConfig:
    env: dict[str, str]
    dsn: str
    data: BenchData
    options: dict[str, Any]

    @classmethod
    def read(cls, path: str) -> WorkerConfig:
        raw = json.loads(Path(path).read_text())
        return cls(
            env=raw["env"], dsn=raw["dsn"], data=BenchData.from_json(raw["data"]), options=raw["options"]
        )

    @staticmethod
    def write(path: Path, env: dict[str, str], dsn: str, data: BenchData, options: dict[str, Any]) -> None:
        path.write_text(json.dumps({"env": env, "dsn": dsn, "data": data.to_json(), "options": options}))


def score_event(case: Case, api_key: str) -> dict[str, Any]:
    """An API Gateway REST (v1) event for ``case``, shaped like the recorded ones."""
    from tools.demo import build_event

    event = build_event(str(case.scorer_id), case.address, api_key)
    if case.human_points:
        event["queryStringParameters"] = {"include_human_points": "true"}
        event["multiValueQueryStringParameters"] = {"include_human_points": ["true"]}
    return event


@dataclass(frozen=True)
class Sample:
    """One handler call: wall time and where it went (ms); None where the core did not say."""

    total: float
    verify: float | None
    database: float | None
    commit: float | None
    analytics: float | None
    status: int
    body: str
    lifo_attempts: int = 0

    @property
    def other(self) -> float:
        return self.total - sum(
            part or 0.0 for part in (self.verify, self.database, self.commit, self.analytics)
        )


class TimedHandler:
    """The score handler, imported once, with the core's timings captured around each call."""

    def __init__(self) -> None:
        from handlers.score import handler
        from scorer_core import db
        from scorer_core.v2 import service

        self._handler: Handler = handler
        self._parts: dict[str, float] = {}
        self._wrap_handle(service)
        self._wrap_transactions(db)

    def call(self, event: dict[str, Any]) -> Sample:
        event = copy.deepcopy(event)
        context = LambdaContext()
        self._parts = {}
        started = time.perf_counter()
        response = self._handler(event, context)
        total = (time.perf_counter() - started) * 1000
        parts = self._parts
        return Sample(
            total=total,
            verify=parts.get("verify"),
            database=parts.get("database"),
            commit=parts.get("commit"),
            analytics=parts.get("analytics"),
            status=int(response["statusCode"]),
            body=str(response.get("body", "")),
            lifo_attempts=int(parts.get("lifo_attempts", 0)),
        )

    def _wrap_handle(self, service: Any) -> None:
        handle = service.handle

        def timed_handle(*args: Any, **kwargs: Any) -> Any:
            outcome = handle(*args, **kwargs)
            timings = getattr(outcome, "timings", None)
            if timings is not None:
                self._parts["verify"] = float(timings.verification_ms)
                self._parts["database"] = float(timings.database_ms)
            self._parts["lifo_attempts"] = float(getattr(outcome, "lifo_attempts", 0))
            return outcome

        service.handle = timed_handle

    def _wrap_transactions(self, db: Any) -> None:
        run_transaction, run_autocommit = db.run_transaction, db.run_autocommit

        def timed_transaction(work: Callable[[Any], Any], **kwargs: Any) -> Any:
            inside = 0.0

            def timed_work(conn: Any) -> Any:
                nonlocal inside
                started = time.perf_counter()
                try:
                    return work(conn)
                finally:
                    inside += time.perf_counter() - started

            started = time.perf_counter()
            try:
                return run_transaction(timed_work, **kwargs)
            finally:
                overhead = (time.perf_counter() - started - inside) * 1000
                self._parts["commit"] = self._parts.get("commit", 0.0) + overhead

        def timed_autocommit(work: Callable[[Any], Any]) -> Any:
            started = time.perf_counter()
            try:
                return run_autocommit(work)
            finally:
                elapsed = (time.perf_counter() - started) * 1000
                self._parts["analytics"] = self._parts.get("analytics", 0.0) + elapsed

        db.run_transaction = timed_transaction
        db.run_autocommit = timed_autocommit


def forget_verified_proofs() -> bool:
    """Empty the core's cache of verified proofs; always True (kept as a flag in the results).

    A first score in production verifies credentials the warm process has not seen: the benchmark's first
    scores must not find them cached from the previous iteration.
    """
    from scorer_core.pipeline import credentials

    credentials.forget_verified()
    return True


def check_scored(case: Case, sample: Sample) -> dict[str, Any]:
    """The facts of a successful score, or an error naming the case: a benchmark of failures is useless."""
    body = json.loads(sample.body) if sample.body.startswith("{") else {}
    if sample.status != 200 or body.get("error") is not None or "score" not in body:
        raise RuntimeError(f"{case.name}: expected a score, got {sample.status} {sample.body[:300]}")
    stamps = body.get("stamps") or {}
    return {
        "score": body["score"],
        "passing_score": body.get("passing_score"),
        "stamps": len(stamps),
        "deduplicated": sum(1 for stamp in stamps.values() if isinstance(stamp, dict) and stamp.get("dedup")),
    }


def run_worker(main: Callable[[WorkerConfig], dict[str, Any]]) -> None:
    """Entry point of a worker: ``python -m bench.<worker> CONFIG RESULT``.

    The handler's environment is set before anything of the service is imported (settings are read once).
    The process ends with ``os._exit`` once the result is written: DIDKit's threads can crash an interpreter
    that shuts down normally right after verifying, and nothing is left to clean up.
    """
    config = WorkerConfig.read(sys.argv[1])
    os.environ.update(config.env)
    try:
        result = main(config)
    except BaseException:
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    Path(sys.argv[2]).write_text(json.dumps(result))
    sys.stderr.flush()
    os._exit(0)
