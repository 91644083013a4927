"""The demo's request is a well-formed API Gateway REST event carrying exactly one API key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import demo


@pytest.mark.parametrize("sample", [False, True])
def test_demo_event_targets_the_demo_route_with_one_key(
    sample: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample_event = tmp_path / "score_success_rest.json"
    if sample:
        recorded = {
            "path": "/v2/stamps/1/score/0x0",
            "httpMethod": "GET",
            "headers": {"X-API-Key": "Other123.key", "accept": "*/*"},
            "multiValueHeaders": {"X-API-Key": ["Other123.key"], "accept": ["*/*"]},
            "requestContext": {"stage": "prod"},
            "isBase64Encoded": False,
        }
        sample_event.write_text(json.dumps(recorded))
    monkeypatch.setattr(demo, "SAMPLE_EVENT", sample_event)

    event = demo.build_event("901", "0xabc", "DemoKey1.secret")

    assert event["path"] == "/v2/stamps/901/score/0xabc"
    assert event["requestContext"]["path"] == event["path"]
    assert event["pathParameters"] == {"scorer_id": "901", "address": "0xabc"}
    assert [v for k, v in event["headers"].items() if k.lower() == "x-api-key"] == ["DemoKey1.secret"]
    assert [v for k, v in event["multiValueHeaders"].items() if k.lower() == "x-api-key"] == [
        ["DemoKey1.secret"]
    ]
    assert event["httpMethod"] == "GET"
    assert event["isBase64Encoded"] is False
