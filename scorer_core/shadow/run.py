"""Answer one mirrored request as a dry run and compare with what the primary answered.

Shared by the SQS consumer and the local replay so both judge the same way. The scoring entry point is
passed in (it lives with the handlers), which keeps this module free of Lambda wiring and easy to fake.
"""

from __future__ import annotations

import base64
import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from scorer_core.shadow.compare import Comparison, compare_responses
from scorer_core.shadow.record import MirroredRecord


class DryRunScorer(Protocol):
    """`handlers.score.handle_event`: the full request, rolled back at the end when `dry_run` is true."""

    def __call__(self, event: dict[str, Any], context: Any, *, dry_run: bool = ...) -> dict[str, Any]: ...


class ShadowResponseError(TypeError):
    """The shadow returned something that is not a Lambda HTTP response."""


@dataclass(frozen=True)
class ShadowOutcome:
    record: MirroredRecord
    status: int
    body: str
    comparison: Comparison
    latency_ms: float


def run_shadow(
    record: MirroredRecord,
    score: DryRunScorer,
    context: Any,
    clock: Callable[[], float] = time.perf_counter,
) -> ShadowOutcome:
    """Run the request with `dry_run=True` and compare; exceptions from the scorer propagate to the caller."""
    # The scorer may rewrite the event (the reference masks the API key header in place); keep ours intact.
    event = copy.deepcopy(record.event)
    started = clock()
    response = score(event, context, dry_run=True)
    latency_ms = (clock() - started) * 1000.0
    status, body = response_parts(response)
    comparison = compare_responses(record.status, record.body, status, body)
    return ShadowOutcome(record, status, body, comparison, latency_ms)


def response_parts(response: Any) -> tuple[int, str]:
    """Status code and body text of a Lambda HTTP response, decoding a base64 body."""
    if not isinstance(response, dict):
        raise ShadowResponseError(f"response is a {type(response).__name__}, not a dict")
    status, body = response.get("statusCode"), response.get("body", "")
    if not isinstance(status, int) or isinstance(status, bool):
        raise ShadowResponseError("response.statusCode is not an integer")
    if body is None:
        body = ""
    if not isinstance(body, str):
        raise ShadowResponseError("response.body is not a string")
    if response.get("isBase64Encoded") is True:
        body = base64.b64decode(body).decode("utf-8", errors="replace")
    return status, body
