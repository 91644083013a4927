"""The sample events of events/ through their family's handler, in-process, on the demo data.

The same events run against the built bundle under the Lambda emulator in CI (`make invoke-all`); here they
run against the source tree, so a change that breaks a sample shows up with the rest of the test suite.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

import psycopg
import pytest

from handlers.envelope import RESPONSE_HEADERS
from scorer_core.settings import get_settings
from tools import demo
from tools.lambda_context import LambdaContext
from tools.seed import DEMO_WEIGHTS, DemoData, demo_dataset

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"
EXPECTED: dict[str, int] = json.loads((EVENTS_DIR / "expected.json").read_text())
NOT_EVENTS = {"expected.json", "env.local.json"}


@pytest.fixture
def demo_data(clean_db: str) -> Iterator[DemoData]:
    """The demo data set and the demo's settings (tools.demo), restored afterwards."""
    with psycopg.connect(clean_db) as conn:
        data = demo_dataset(conn)
    with mock.patch.dict(os.environ):
        demo.configure_environment(clean_db, data.issuer_did, quiet=True)
        get_settings.cache_clear()
        yield data
    get_settings.cache_clear()


def _load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return event


def test_every_event_has_an_expected_status_and_a_line_in_the_readme() -> None:
    files = {p.name for p in EVENTS_DIR.glob("*.json")} - NOT_EVENTS
    assert files == set(EXPECTED)
    readme = (EVENTS_DIR / "README.md").read_text()
    assert [name for name in sorted(files) if f"`{name}` ({EXPECTED[name]})" not in readme] == []


# Each event goes to its family's handler, by file-name prefix.
HANDLERS = {
    "score_": "handlers.score",
    "embed_": "handlers.embed",
    "ceramic_cache_": "handlers.ceramic_cache",
}


def handler_module(name: str) -> str:
    return next(module for prefix, module in HANDLERS.items() if name.startswith(prefix))


def _handler(name: str) -> Any:
    import importlib

    return importlib.import_module(handler_module(name)).handler


def test_every_event_belongs_to_a_family() -> None:
    assert [name for name in EXPECTED if not any(name.startswith(p) for p in HANDLERS)] == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_event_gets_expected_status(name: str, demo_data: DemoData) -> None:
    event = _load(name)
    response = _handler(name)(event, LambdaContext())
    assert response["statusCode"] == EXPECTED[name], response.get("body")
    headers = response.get("headers") or {k: ",".join(v) for k, v in response["multiValueHeaders"].items()}
    assert headers["Content-Type"] == "application/json"
    body = json.loads(response["body"])
    if name.startswith("score_"):
        _check_score_event(name, event, response, body, demo_data)
    elif name.startswith("embed_"):
        _check_embed_event(event, response, body, demo_data)
    elif name.startswith("ceramic_cache_"):
        _check_ceramic_cache_event(event, response, body, demo_data)


def _check_score_event(
    name: str, event: dict[str, Any], response: dict[str, Any], body: Any, demo_data: DemoData
) -> None:
    if response["statusCode"] == 200:
        assert body["address"] == demo_data.address
        assert Decimal(body["score"]) == demo_data.expected_score
        assert set(body["stamps"]) == set(demo_data.providers)
    else:
        assert set(body) == {"error"}
    if "elb" in event.get("requestContext", {}):
        assert response["statusDescription"].startswith(str(EXPECTED[name]))


def _check_embed_event(
    event: dict[str, Any], response: dict[str, Any], body: Any, demo_data: DemoData
) -> None:
    if response["statusCode"] >= 400:
        assert set(body) == {"detail"}
        assert ("statusDescription" in response) == ("elb" in event.get("requestContext", {}))
        return
    assert set(response) == {"statusCode", "headers", "body"}  # the embed success envelope, exactly
    if "embed_rate_limit" in body:  # validate-api-key keeps the four headers of its 401 (deviation 12)
        assert response["headers"] == RESPONSE_HEADERS
        return
    assert response["headers"] == {"Content-Type": "application/json"}
    assert body["success"] is True
    assert sorted(s["provider"] for s in body["stamps"]) == sorted(demo_data.providers)
    assert Decimal(body["score"]["score"]) == demo_data.expected_score


def _check_ceramic_cache_event(
    event: dict[str, Any], response: dict[str, Any], body: Any, demo_data: DemoData
) -> None:
    from_alb = "elb" in event.get("requestContext", {})
    assert ("statusDescription" in response) == from_alb
    if response["statusCode"] >= 400:
        assert set(body) == {"error"}
        return
    if from_alb:
        assert response["statusDescription"] == "200 OK"
    if event.get("path", event.get("rawPath", "")).endswith("/weights"):
        assert set(body) == set(DEMO_WEIGHTS)
        return
    score = body.get("score") if "success" in body else body
    if isinstance(score, dict):
        assert score["address"] == demo_data.address and score["error"] is None
    if "stamps" in body and "success" in body:
        assert all(stamp["address"] == demo_data.address for stamp in body["stamps"])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_response_envelope_is_what_the_event_source_accepts(name: str, demo_data: DemoData) -> None:
    """API Gateway (REST and HTTP API) answers 502 to any key beyond its proxy response keys; only ALB
    targets get ``statusDescription`` (agreed deviation 9)."""
    from tools.envelope import REST_KEYS, envelope_problem, source_of

    event = _load(name)
    response = _handler(name)(event, LambdaContext())
    assert envelope_problem(event, response) is None
    if source_of(event) == "alb":
        # The reference's ALB envelope, except the embed success one: statusCode, headers, body only.
        embed_success = name.startswith("embed_") and response["statusCode"] < 400
        assert ("statusDescription" in response) != embed_success
    else:
        assert "statusDescription" not in response and "statusCategory" not in response
        assert set(response) <= REST_KEYS
