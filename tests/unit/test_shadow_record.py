"""Mirrored records: what is accepted, what is poison, and what may be logged about them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scorer_core.shadow.record import RecordError, parse_record, request_id, request_path, secrets_in

KEY = "PrtyMain.k3Yq9Zr2Lw7Vx4Tb8Nc1Md6Pf0Gh5Js2"


def record(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "event": {"path": "/v2/stamps/11/score/0xabc", "headers": {"x-api-key": KEY}},
        "response": {"statusCode": 200, "body": '{"score":"1.00000"}'},
        "served_at": "2026-11-22T02:04:09.091568+00:00",
    }
    return doc | overrides


def test_a_mirrored_record_parses() -> None:
    parsed = parse_record(json.dumps(record(id="scenario#0")))
    assert (parsed.status, parsed.body, parsed.served_at, parsed.label) == (
        200,
        '{"score":"1.00000"}',
        "2026-11-22T02:04:09.091568+00:00",
        "scenario#0",
    )
    assert parsed.event["headers"]["x-api-key"] == KEY


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps(record(event=None)), "record.event"),
        (json.dumps(record(response="200")), "record.response is"),
        (json.dumps(record(response={"body": ""})), "statusCode"),
        (json.dumps(record(response={"statusCode": "200", "body": ""})), "statusCode"),
        (json.dumps(record(response={"statusCode": True, "body": ""})), "statusCode"),
        (json.dumps(record(response={"statusCode": 200, "body": None})), "body"),
        (json.dumps(record(served_at="yesterday")), "served_at"),
        (json.dumps(record(served_at="2026-11-22T02:04:09")), "served_at"),
        (json.dumps({k: v for k, v in record().items() if k != "served_at"}), "served_at is missing"),
    ],
)
def test_poison_records_are_rejected_without_quoting_them(text: str, reason: str) -> None:
    with pytest.raises(RecordError, match=reason) as raised:
        parse_record(text)
    assert KEY not in str(raised.value)


def test_served_at_is_optional_for_captured_files() -> None:
    doc = {k: v for k, v in record().items() if k != "served_at"}
    assert parse_record(json.dumps(doc), require_served_at=False).served_at is None


def test_request_id_from_api_gateway_or_the_load_balancer_trace() -> None:
    assert request_id({"requestContext": {"requestId": "abc"}}) == "abc"
    alb = {"requestContext": {"elb": {}}, "headers": {"x-amzn-trace-id": "Root=1-67891233"}}
    assert request_id(alb) == "Root=1-67891233"
    assert request_id({}) is None


def test_request_path_of_rest_and_http_api_events() -> None:
    assert request_path({"path": "/v2/stamps/1/score/0xa"}) == "/v2/stamps/1/score/0xa"
    assert request_path({"version": "2.0", "rawPath": "/v2/stamps/2/score/0xb"}) == "/v2/stamps/2/score/0xb"


def test_secrets_are_found_in_any_header_casing() -> None:
    event = {
        "headers": {"X-Api-Key": KEY, "AUTHORIZATION": "Bearer abcdefghij", "cookie": "1", "accept": "*/*"},
        "multiValueHeaders": {"x-api-key": [KEY, "Other.key-value"], "Cookie": ["session=abcdefgh"]},
    }
    # The one-character cookie is left alone: masking it would garble every log line and protect nothing.
    assert secrets_in(event) == (KEY, "Bearer abcdefghij", "Other.key-value", "session=abcdefgh")
