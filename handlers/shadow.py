"""Shadow mode: answer each mirrored request as a dry run and report where the primary's answer differs.

SQS consumer with partial batch failures: a record that cannot be replayed (bad JSON, missing keys, a crash)
is reported on its own and retried, then dead-lettered, while the rest of the batch completes. Each record goes
to the handler of its route family (`handlers.routes`), imported on first use. Nothing is written:
`handle_event(..., dry_run=True)` rolls the whole request back (cache writes included) and only reads the rate
limit.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers import routes
from scorer_core.shadow.record import parse_record
from scorer_core.shadow.report import mismatch_log
from scorer_core.shadow.run import ShadowOutcome, run_shadow

NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "PassportScore")

logger = Logger(service="score-shadow")
metrics = Metrics(namespace=NAMESPACE, service="score-shadow")
# An all-poison batch is reported record by record like any other, not turned into an invocation error.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    try:
        outcome = run_shadow(parse_record(record.body), routes.handle_event, lambda_context)
    except Exception as exc:
        metrics.add_metric(name="ShadowFailed", unit=MetricUnit.Count, value=1)
        # The exception text only: the record itself carries the API key.
        logger.error(
            "shadow record failed", extra={"message_id": record.message_id, "error": repr(exc)[:300]}
        )
        raise
    publish(outcome, record.message_id)


def publish(outcome: ShadowOutcome, message_id: str) -> None:
    comparison = outcome.comparison
    metrics.add_metric(name="ShadowLatency", unit=MetricUnit.Milliseconds, value=outcome.latency_ms)
    if comparison.score_delta is not None:
        metrics.add_metric(
            name="ShadowScoreDelta", unit=MetricUnit.NoUnit, value=float(comparison.score_delta)
        )
    if comparison.matches:
        metrics.add_metric(name="ShadowMatch", unit=MetricUnit.Count, value=1)
        return
    metrics.add_metric(name="ShadowMismatch", unit=MetricUnit.Count, value=1)
    for field in comparison.fields:
        with single_metric(
            name="ShadowMismatchField", unit=MetricUnit.Count, value=1, namespace=NAMESPACE
        ) as metric:
            metric.add_dimension(name="Field", value=field)
    logger.warning("shadow mismatch", extra={"message_id": message_id, **mismatch_log(outcome)})


@logger.inject_lambda_context(log_event=False)  # the SQS records carry the API key
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )
