"""The sample events of events/ through their family's handler (by file-name prefix), in-process, on the demo data.

The same events run against the built bundle in CI (`python -m tools.invoke --check`); here they run
against the source tree, so a change that breaks a sample shows up with the rest of the test suite.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

import psycopg
import pytest

from scorer_core.settings import get_settings
from tools import demo
from tools.event_files import handler_for
from tools.lambda_context import LambdaContext
from tools.seed import DemoData, demo_dataset

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


def _handler(name: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The handler of the event's family, by its file-name prefix (``tools.event_files``)."""
    module, function = handler_for(name).rsplit(".", 1)
    handler: Callable[[dict[str, Any], Any], dict[str, Any]] = getattr(
        importlib.import_module(module), function
    )
    return handler


def _check_score(response: dict[str, Any], body: Any, demo_data: DemoData) -> None:
    if response["statusCode"] == 200:
        assert body["address"] == demo_data.address
        assert Decimal(body["score"]) == demo_data.expected_score
        assert set(body["stamps"]) == set(demo_data.providers)
    else:
        assert set(body) == {"error"}


def _check_embed(response: dict[str, Any], body: Any, demo_data: DemoData) -> None:
    if response["statusCode"] != 200:
        assert set(body) == {"detail"}
        return
    assert set(response) == {"statusCode", "headers", "body"}  # the embed success envelope, exactly
    assert response["headers"] == {"Content-Type": "application/json"}
    if "embed_rate_limit" in body:
        return
    assert body["success"] is True
    assert sorted(s["provider"] for s in body["stamps"]) == sorted(demo_data.providers)
    assert Decimal(body["score"]["score"]) == demo_data.expected_score


# File-name prefix -> what a response of that family must look like.
CHECKS: dict[str, Callable[[dict[str, Any], Any, DemoData], None]] = {
    "score_": _check_score,
    "embed_": _check_embed,
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_event_gets_expected_status(name: str, demo_data: DemoData) -> None:
    event = _load(name)
    response = _handler(name)(event, LambdaContext())
    assert response["statusCode"] == EXPECTED[name], response.get("body")
    headers = response.get("headers") or {k: ",".join(v) for k, v in response["multiValueHeaders"].items()}
    assert headers["Content-Type"] == "application/json"
    body = json.loads(response["body"])
    (check,) = [check for prefix, check in CHECKS.items() if name.startswith(prefix)]
    check(response, body, demo_data)
    if "elb" in event.get("requestContext", {}) and response["statusCode"] >= 400:
        assert response["statusDescription"]
    if "elb" in event.get("requestContext", {}) and name.startswith("score_"):
        assert response["statusDescription"].startswith(str(EXPECTED[name]))
