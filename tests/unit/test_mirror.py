"""The mirror decorator: the primary's answer is untouched, on time, whatever happens to the queue."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

import mirror.decorator as decorator
from mirror import mirror_to_sqs
from scorer_core.shadow.record import parse_record

KEY = "PrtyMain.k3Yq9Zr2Lw7Vx4Tb8Nc1Md6Pf0Gh5Js2"
RESPONSE = {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"score":"1.00000"}'}


def event() -> dict[str, Any]:
    return {
        "path": "/v2/stamps/11/score/0xdce349908681cfbb9676fed17466e472d3c8c9f8",
        "httpMethod": "GET",
        "headers": {"x-api-key": KEY, "Authorization": "Bearer secret-token", "Cookie": "session=abcdefgh"},
        "multiValueHeaders": {"x-api-key": [KEY], "authorization": ["Bearer secret-token"]},
        "requestContext": {"requestId": "req-1"},
        "isBase64Encoded": False,
    }


def masking_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Like the reference: rewrites the key header in place before answering."""
    event["headers"]["x-api-key"] = KEY.split(".")[0] + ".***"
    return dict(RESPONSE)


@pytest.fixture(autouse=True)
def fresh_stats(monkeypatch: pytest.MonkeyPatch) -> decorator.MirrorStats:
    counters = decorator.MirrorStats()
    monkeypatch.setattr(decorator, "stats", counters)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return counters


@pytest.fixture
def queue_url() -> Iterator[str]:
    with mock_aws():
        yield boto3.client("sqs").create_queue(QueueName="score-shadow")["QueueUrl"]


def received(url: str) -> list[str]:
    messages = boto3.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return [m["Body"] for m in messages.get("Messages", [])]


def test_the_request_as_received_and_the_answer_reach_the_queue(
    queue_url: str, fresh_stats: decorator.MirrorStats
) -> None:
    handler = mirror_to_sqs(queue_url=queue_url, timeout_s=2.0, warm=False)(masking_handler)
    original = event()
    assert handler(original, None) == RESPONSE

    (body,) = received(queue_url)
    record = parse_record(body)
    assert record.status == 200 and record.body == RESPONSE["body"]
    # The key and the JWT as sent (the shadow authenticates like the primary); cookies dropped.
    assert record.event["headers"] == {"x-api-key": KEY, "Authorization": "Bearer secret-token"}
    assert record.event["multiValueHeaders"] == {"x-api-key": [KEY], "authorization": ["Bearer secret-token"]}
    assert original["headers"]["x-api-key"] == "PrtyMain.***"  # the handler's own view is untouched
    assert record.served_at is not None
    assert (fresh_stats.sent, fresh_stats.failed, fresh_stats.timed_out) == (1, 0, 0)


def test_a_base64_answer_is_mirrored_as_text(queue_url: str) -> None:
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": "eyJzY29yZSI6IjEifQ==", "isBase64Encoded": True}

    mirror_to_sqs(queue_url=queue_url, timeout_s=2.0, warm=False)(handler)(event(), None)
    assert parse_record(received(queue_url)[0]).body == '{"score":"1"}'


def test_no_queue_url_leaves_the_handler_unwrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHADOW_QUEUE_URL", raising=False)
    assert mirror_to_sqs()(masking_handler) is masking_handler
    monkeypatch.setenv("SHADOW_QUEUE_URL", "https://sqs.eu-west-1.amazonaws.com/1/q")
    assert mirror_to_sqs(warm=False)(masking_handler) is not masking_handler


def test_the_handlers_own_exception_passes_through_and_nothing_is_sent(
    queue_url: str, fresh_stats: decorator.MirrorStats
) -> None:
    def failing(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise LookupError("boom")

    with pytest.raises(LookupError, match="boom"):
        mirror_to_sqs(queue_url=queue_url, warm=False)(failing)(event(), None)
    assert received(queue_url) == []
    assert fresh_stats == decorator.MirrorStats()


def test_an_unmirrorable_answer_is_skipped_not_raised(
    queue_url: str, fresh_stats: decorator.MirrorStats
) -> None:
    def odd(event: dict[str, Any], context: Any) -> Any:
        return "not a response"

    assert mirror_to_sqs(queue_url=queue_url, warm=False)(odd)(event(), None) == "not a response"
    assert fresh_stats.skipped == 1 and received(queue_url) == []


def test_a_refused_connection_is_counted_and_the_answer_returned(
    monkeypatch: pytest.MonkeyPatch, fresh_stats: decorator.MirrorStats
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", f"http://127.0.0.1:{port}")
    handler = mirror_to_sqs(queue_url=f"http://127.0.0.1:{port}/1/q", timeout_s=2.0, warm=False)(
        masking_handler
    )

    assert handler(event(), None) == RESPONSE
    assert (fresh_stats.sent, fresh_stats.failed, fresh_stats.timed_out) == (0, 1, 0)


def test_a_queue_that_never_answers_costs_at_most_the_time_bound(
    monkeypatch: pytest.MonkeyPatch, fresh_stats: decorator.MirrorStats
) -> None:
    with socket.socket() as silent:  # accepts connections (kernel backlog), never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", url)
        timeout_s = 0.2
        handler = mirror_to_sqs(queue_url=f"{url}/1/q", timeout_s=timeout_s, warm=False)(masking_handler)
        handler(event(), None)  # builds the client; not what is measured

        started = time.perf_counter()
        response = handler(event(), None)
        elapsed = time.perf_counter() - started

    assert response == RESPONSE
    assert fresh_stats.sent == 0
    assert fresh_stats.timed_out + fresh_stats.failed >= 2
    # The bound plus scheduling slack; a send that waited for the socket would take its full read timeout.
    assert elapsed < timeout_s + 0.15, f"mirroring held the primary for {elapsed:.3f} s"


def test_the_message_is_json_without_dropped_headers() -> None:
    message = json.loads(decorator._message(decorator._snapshot(event()), RESPONSE))
    assert set(message) == {"event", "response", "served_at"}
    assert "session=" not in json.dumps(message)
